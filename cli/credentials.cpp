#include "cli/credentials.h"

#include "cli/oauth2.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include <utility>

namespace mf::cli {

namespace {

Failure usage(std::string what) {
    return Failure{ErrorKind::usage, Scope::account, std::move(what)};
}
Failure auth_setup(std::string what) {
    return Failure{ErrorKind::auth, Scope::account, std::move(what)};
}

std::string first_line(std::string text) {
    auto nl = text.find_first_of("\r\n");
    if (nl != std::string::npos) text.resize(nl);
    return text;
}

// The terminal's settings while the prompt has echo off, for the signal
// handler: Ctrl-C at the prompt must not leave the shell without echo.
termios g_saved_terminal;

void restore_terminal_and_die(int sig) {
    ::tcsetattr(0, TCSANOW, &g_saved_terminal);
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}

// One line from standard input, read a byte at a time so that no stdio
// buffer keeps a copy of the password. nullopt at end of input.
std::optional<std::string> read_line_from_stdin() {
    std::string line;
    char c;
    for (;;) {
        ssize_t n = ::read(0, &c, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return line.empty() ? std::nullopt : std::optional(line);
        if (c == '\n') return line;
        line += c;
    }
}

// "Password for alice@host: " on the terminal, echo off. Only standard input
// and standard error are used, never /dev/tty: a job child of `run` has
// /dev/null as its standard input (job_children.cpp) and so never gets here,
// even when the run itself was started from a terminal.
Result<std::string> prompt_password(const net::Endpoint& endpoint) {
    if (::tcgetattr(0, &g_saved_terminal) != 0)
        return std::unexpected(
            usage(std::string("cannot read the terminal's settings: ") + std::strerror(errno)));
    termios quiet = g_saved_terminal;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    auto old_int = std::signal(SIGINT, restore_terminal_and_die);
    auto old_term = std::signal(SIGTERM, restore_terminal_and_die);
    auto old_hup = std::signal(SIGHUP, restore_terminal_and_die);
    // Echo goes off before the prompt shows, so nothing typed after it is
    // echoed or flushed; what was typed ahead of the prompt is dropped.
    ::tcsetattr(0, TCSAFLUSH, &quiet);
    std::fprintf(stderr, "Password for %s@%s: ", endpoint.user.c_str(), endpoint.host.c_str());
    std::fflush(stderr);
    auto line = read_line_from_stdin();
    ::tcsetattr(0, TCSANOW, &g_saved_terminal);
    std::signal(SIGINT, old_int);
    std::signal(SIGTERM, old_term);
    std::signal(SIGHUP, old_hup);
    std::fputc('\n', stderr); // the Enter that was not echoed
    if (line && !line->empty() && line->back() == '\r') line->pop_back();
    if (!line || line->empty()) return std::unexpected(usage("no password typed"));
    return std::move(*line);
}

// Asked for on a terminal only: cron, pipes and job children never wait
// for a password that nobody will type.
bool can_prompt() {
    return ::isatty(0) == 1 && ::isatty(2) == 1;
}

} // namespace

Result<std::string> run_secret_command(const std::string& command, const std::string& what) {
    FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe)
        return std::unexpected(
            auth_setup("cannot run the " + what + " command: " + std::strerror(errno)));
    std::string out;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0 && out.size() < 65536)
        out.append(buf, n);
    int status = ::pclose(pipe);
    std::string secret = first_line(std::move(out));
    if (status != 0) {
        std::string how = WIFEXITED(status)
                              ? "exited with status " + std::to_string(WEXITSTATUS(status))
                              : "was killed by a signal";
        return std::unexpected(auth_setup("the " + what + " command " + how +
                                          " (its error output, if any, is shown above)"));
    }
    if (secret.empty())
        return std::unexpected(auth_setup("the " + what + " command printed nothing"));
    return secret;
}

Result<std::string> read_secret_file(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0)
        return std::unexpected(
            usage("cannot read password file " + path + ": " + std::strerror(errno)));
    if ((st.st_mode & 077) != 0)
        return std::unexpected(usage("password file " + path +
                                     " is readable by group or others; run: chmod 600 " + path));
    std::ifstream in(path, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) return std::unexpected(usage("cannot read password file " + path));
    std::string secret = first_line(std::move(text));
    if (secret.empty()) return std::unexpected(usage("password file " + path + " is empty"));
    return secret;
}

Status attach_credentials(const CredentialOptions& o, net::Endpoint& endpoint) {
    int given = !o.password_env.empty() + !o.password_file.empty() + !o.password_command.empty() +
                !o.oauth2_token_command.empty() + !o.oauth2.empty();
    if (given > 1)
        return std::unexpected(usage("give only one of --password-env, --password-file, "
                                     "--password-command, --oauth2-token-command and --oauth2"));
    if (given == 0 && can_prompt()) {
        auto typed = prompt_password(endpoint);
        if (!typed) return std::unexpected(typed.error());
        endpoint.password = [secret = std::move(*typed)]() { return secret; };
        return {};
    }
    if (given == 0)
        return std::unexpected(usage("no password given for " + endpoint.display() +
                                     "; use --password-env NAME, --password-file PATH, "
                                     "--password-command CMD or --oauth2 PROVIDER"));
    if (!o.oauth2.empty()) return attach_oauth2(o, endpoint);
    if (!o.oauth2_token_command.empty()) {
        auto first = run_secret_command(o.oauth2_token_command, "OAuth2 token");
        if (!first) return std::unexpected(first.error());
        // The first token is used by the first connection; later ones run the command again.
        auto cached = std::make_shared<std::string>(std::move(*first));
        std::string cmd = o.oauth2_token_command;
        endpoint.oauth2_token = [cached, cmd]() -> Result<std::string> {
            if (!cached->empty()) return std::exchange(*cached, std::string());
            return run_secret_command(cmd, "OAuth2 token");
        };
        return {};
    }
    std::string secret;
    if (!o.password_env.empty()) {
        const char* v = std::getenv(o.password_env.c_str());
        if (!v || !*v)
            return std::unexpected(
                usage("environment variable " + o.password_env + " is not set or empty"));
        secret = v;
    } else if (!o.password_file.empty()) {
        auto s = read_secret_file(o.password_file);
        if (!s) return std::unexpected(s.error());
        secret = std::move(*s);
    } else {
        auto s = run_secret_command(o.password_command, "password");
        if (!s) return std::unexpected(s.error());
        secret = std::move(*s);
    }
    endpoint.password = [secret]() { return secret; };
    return {};
}

} // namespace mf::cli
