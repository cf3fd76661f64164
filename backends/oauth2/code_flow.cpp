#include "backends/oauth2/code_flow.h"

#include "backends/common/fs.h"
#include "backends/oauth2/pkce.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace mf::oauth2 {

namespace {

using Clock = std::chrono::steady_clock;

Failure auth(std::string what) {
    return Failure{ErrorKind::auth, Scope::account, std::move(what)};
}

// A listening socket on 127.0.0.1 (not "localhost", which may resolve to
// ::1 where the browser does not look: RFC 8252 8.3) and a port the kernel
// chooses.
Result<fs::Fd> listen_loopback(int& port) {
    fs::Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd)
        return fail(ErrorKind::local_io, Scope::account,
                    std::string("cannot open a socket: ") + std::strerror(errno));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd.get(), 8) != 0 ||
        ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
        return fail(ErrorKind::local_io, Scope::account,
                    std::string("cannot listen on 127.0.0.1: ") + std::strerror(errno));
    port = ntohs(a.sin_port);
    return fd;
}

// The request's first line, read until the end of its headers, 8 KiB or
// 10 seconds: a local program that connects and trickles must not hold the
// login up.
std::string read_request_line(int fd) {
    std::string data;
    char buf[2048];
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (data.size() < 8192 && data.find("\r\n\r\n") == std::string::npos) {
        auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        pollfd p{fd, POLLIN, 0};
        if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) break;
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        data.append(buf, static_cast<std::size_t>(n));
    }
    return data.substr(0, data.find("\r\n"));
}

void answer(int fd, int status, const std::string& text) {
    std::string html = "<!DOCTYPE html><html><body><p>" + text + "</p></body></html>";
    std::string head = "HTTP/1.1 " + std::to_string(status) +
                       (status == 200 ? " OK" : " Not Found") +
                       "\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: " +
                       std::to_string(html.size()) + "\r\nConnection: close\r\n\r\n";
    // send(), not write(): a browser that has gone already must not be a SIGPIPE.
    const std::string all = head + html;
    std::size_t done = 0;
    while (done < all.size()) {
        ssize_t n = ::send(fd, all.data() + done, all.size() - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        done += static_cast<std::size_t>(n);
    }
}

// Waits for the browser to come back to the redirect with our state.
Result<Redirect> wait_for_redirect(int listener, const std::string& state,
                                   std::chrono::seconds wait) {
    const auto deadline = Clock::now() + wait;
    while (Clock::now() < deadline) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        pollfd p{listener, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count()) + 1) <= 0) continue;
        fs::Fd conn(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
        if (!conn) continue;
        Redirect r = parse_redirect(read_request_line(conn.get()));
        if (!r.is_redirect) {
            answer(conn.get(), 404, "Not here.");
            continue;
        }
        // RFC 6749 10.12: a redirect without our state is someone else's
        // (a forged request), not the answer; keep waiting for ours.
        if (r.state != state) {
            answer(conn.get(), 404, "This sign-in is not the one mailferry is waiting for.");
            continue;
        }
        answer(conn.get(), 200,
               r.error.empty() ? "mailferry is signed in. You can close this window."
                               : "The sign-in was not completed. You can close this window.");
        return r;
    }
    return std::unexpected(auth("nobody completed the sign-in within " +
                                std::to_string(wait.count()) + " seconds; run the login again"));
}

Result<TokenReply> exchange(const Settings& s, const HttpPost& post, const std::string& code,
                            const std::string& verifier, const std::string& redirect_uri) {
    Form form{{"grant_type", "authorization_code"},
              {"code", code},
              {"redirect_uri", redirect_uri},
              {"client_id", s.client_id},
              {"code_verifier", verifier}};
    if (!s.client_secret.empty()) form.emplace_back("client_secret", s.client_secret);
    auto reply = post(s.token_url, form_encode(form));
    if (!reply) return std::unexpected(reply.error());
    auto token = parse_token_reply(reply->body);
    if (token && !token->error.empty())
        return std::unexpected(
            auth("the " + s.provider + " token endpoint refused the code: " + token->error +
                 (token->error_description.empty() ? "" : " (" + token->error_description + ")")));
    return token;
}

} // namespace

Result<TokenReply> run_code_flow(const Settings& s, const HttpPost& post,
                                 const CodeFlowHooks& hooks) {
    int port = 0;
    auto listener = listen_loopback(port);
    if (!listener) return std::unexpected(listener.error());
    auto verifier = random_token(32);
    auto state = random_token(16);
    if (!verifier || !state) return std::unexpected(!verifier ? verifier.error() : state.error());
    AuthRequest request{"http://127.0.0.1:" + std::to_string(port) + "/", *state,
                        s256_challenge(*verifier), hooks.login_hint};
    hooks.show(authorization_url(s, request));
    auto redirect = wait_for_redirect(listener->get(), *state, hooks.wait);
    if (!redirect) return std::unexpected(redirect.error());
    if (!redirect->error.empty())
        return std::unexpected(auth(redirect->error == "access_denied"
                                        ? "the sign-in was declined"
                                        : "the sign-in failed: " + redirect->error +
                                              (redirect->error_description.empty()
                                                   ? ""
                                                   : " (" + redirect->error_description + ")")));
    if (redirect->code.empty())
        return std::unexpected(auth("the browser came back without a code"));
    return exchange(s, post, redirect->code, *verifier, request.redirect_uri);
}

} // namespace mf::oauth2
