#include "cli/job_children.h"

#include "cli/exit_codes.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace mf::cli {

namespace {

constexpr std::size_t k_max_stdout = 64u << 20;  // a report; far more than any real one
constexpr std::size_t k_max_stderr = 256u << 10; // the end of it, which says what went wrong

// Reads what is there; closes the pipe at its end.
void drain(fs::Fd& fd, std::string& text, std::size_t limit, bool keep_tail) {
    char buf[65536];
    while (fd) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        if (n <= 0) return fd.reset();
        text.append(buf, static_cast<std::size_t>(n));
        if (text.size() > limit) {
            if (keep_tail)
                text.erase(0, text.size() - limit);
            else
                text.resize(limit);
        }
    }
}

} // namespace

double unix_now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

Result<Child> spawn(const Job& job, const std::string& dir) {
    std::vector<std::string> args = job_arguments(job);
    std::vector<char*> argv{const_cast<char*>("mailferry")};
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0)
        return std::unexpected(fs::io_error("cannot create", "a pipe", errno));
    if (::pipe2(err, O_CLOEXEC) != 0) {
        int e = errno;
        ::close(out[0]), ::close(out[1]);
        return std::unexpected(fs::io_error("cannot create", "a pipe", e));
    }
    Child child;
    child.job = &job;
    child.out = fs::Fd(out[0]);
    child.err = fs::Fd(err[0]);
    fs::Fd out_w(out[1]), err_w(err[1]);
    pid_t parent = ::getpid();
    child.started = unix_now();
    child.pid = ::fork();
    if (child.pid < 0)
        return std::unexpected(
            fs::io_error("cannot start a process for job " + job.name, "", errno));
    if (child.pid == 0) {
        // If the run is killed (systemd stop, a timeout), its jobs go with it.
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent) ::_exit(exit_partial);
        int null = ::open("/dev/null", O_RDONLY);
        if (null >= 0) ::dup2(null, 0);
        ::dup2(out_w.get(), 1);
        ::dup2(err_w.get(), 2);
        if (::chdir(dir.c_str()) != 0) {
            std::fprintf(stderr, "mailferry: cannot enter %s: %s\n", dir.c_str(),
                         std::strerror(errno));
            ::_exit(exit_local_io);
        }
        ::execv("/proc/self/exe", argv.data());
        std::fprintf(stderr, "mailferry: cannot run /proc/self/exe: %s\n", std::strerror(errno));
        ::_exit(exit_local_io);
    }
    ::fcntl(child.out.get(), F_SETFL, O_NONBLOCK);
    ::fcntl(child.err.get(), F_SETFL, O_NONBLOCK);
    return child;
}

void wait_for_output(std::vector<Child>& running) {
    std::vector<pollfd> fds;
    for (auto& c : running)
        for (fs::Fd* fd : {&c.out, &c.err})
            if (*fd) fds.push_back({fd->get(), POLLIN, 0});
    // The timeout also catches a child that exited while something it started
    // (a password command left running) still holds its pipes open.
    ::poll(fds.data(), fds.size(), 200);
    for (auto& c : running) {
        drain(c.out, c.out_text, k_max_stdout, false);
        drain(c.err, c.err_text, k_max_stderr, true);
    }
}

std::optional<Finished> reap(Child& c) {
    int status = 0;
    pid_t r = ::waitpid(c.pid, &status, c.out || c.err ? WNOHANG : 0);
    if (r == 0 || (r < 0 && errno == EINTR)) return std::nullopt;
    drain(c.out, c.out_text, k_max_stdout, false);
    drain(c.err, c.err_text, k_max_stderr, true);
    Finished f{c.job,
               exit_partial,
               0,
               c.started,
               unix_now(),
               std::move(c.out_text),
               std::move(c.err_text)};
    if (r > 0 && WIFEXITED(status)) f.exit_code = WEXITSTATUS(status);
    if (r > 0 && WIFSIGNALED(status)) f.signal = WTERMSIG(status), f.exit_code = 128 + f.signal;
    return f;
}

} // namespace mf::cli
