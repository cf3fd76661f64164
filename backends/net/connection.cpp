#include "backends/net/connection_impl.h"

#include "backends/net/login.h"

#include <poll.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <limits>
#include <memory>
#include <utility>

namespace mf::net {

namespace {

Failure classify(CURLcode code, const Connection::Impl& impl) {
    if (auto first = first_contact_failure(code, impl)) return *first;
    const Endpoint& e = impl.endpoint;
    std::string detail = impl.error[0] ? impl.error : curl_easy_strerror(code);
    std::string where = e.host + " port " + std::to_string(e.port);
    auto f = [](ErrorKind k, std::string w) { return Failure{k, Scope::session, std::move(w)}; };
    switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
        return f(ErrorKind::connect, "cannot resolve host name " + e.host);
    case CURLE_COULDNT_CONNECT:
        return f(ErrorKind::connect, "cannot connect to " + where + ": " + detail +
                                         " (is the server running, and is this the right port?)");
    case CURLE_OPERATION_TIMEDOUT:
        return f(ErrorKind::connect, "timed out connecting to " + where);
    case CURLE_PEER_FAILED_VERIFICATION:
        return f(ErrorKind::tls,
                 "the certificate of " + e.host + " is not trusted: " + detail +
                     " (use --cacert FILE to trust it, or --insecure to skip the check)");
    case CURLE_SSL_CACERT_BADFILE:
        return f(ErrorKind::tls, "cannot read the CA certificate file " + e.cacert + ": " + detail);
    case CURLE_SSL_CONNECT_ERROR:
        return f(ErrorKind::tls,
                 "TLS handshake with " + where + " failed: " + detail +
                     (e.tls == TlsMode::implicit
                          ? " (does this port speak TLS? imap:// and pop3:// use STARTTLS)"
                          : ""));
    case CURLE_USE_SSL_FAILED:
        return f(ErrorKind::tls,
                 e.host + " does not offer " +
                     std::string(e.protocol == Protocol::imap ? "STARTTLS" : "STLS") + " on port " +
                     std::to_string(e.port) + "; use " +
                     (e.protocol == Protocol::imap ? "imaps://" : "pop3s://") +
                     " if it speaks TLS on another port, or --allow-plaintext to send "
                     "the password unencrypted");
    case CURLE_LOGIN_DENIED:
        return f(ErrorKind::auth,
                 "login as " + e.user + " on " + e.host + " was refused: " + detail);
    case CURLE_AUTH_ERROR:
        return f(ErrorKind::auth, "no login method offered by " + e.host +
                                      " works with the given credentials: " + detail);
    case CURLE_WEIRD_SERVER_REPLY:
        return f(ErrorKind::protocol, "unexpected reply from " + where + ": " + detail);
    default:
        return f(ErrorKind::connect, "connection to " + where + " failed: " + detail);
    }
}

curl_socket_t socket_of(CURL* curl) {
    curl_socket_t s = CURL_SOCKET_BAD;
    curl_easy_getinfo(curl, CURLINFO_ACTIVESOCKET, &s);
    return s;
}

// libcurl's "Failure when receiving data from the peer" does not say why;
// the system's reason (a reset connection, a broken pipe) does.
std::string system_reason(CURLcode code, int err) {
    if ((code != CURLE_RECV_ERROR && code != CURLE_SEND_ERROR) || err == 0) return {};
    return std::string(" (") + std::strerror(err) + ")";
}

// Waits for the socket until `deadline`; false on timeout. The deadline is
// fixed by the caller when it starts waiting for progress, so wake-ups that
// bring no data (a TLS record with nothing for us, a spurious POLLIN) do
// not restart the clock: a server cannot stay "alive" without sending.
bool wait_for(CURL* curl, short events, std::chrono::steady_clock::time_point deadline) {
    pollfd p{socket_of(curl), events, 0};
    int r;
    do {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        // A --timeout beyond ~24 days would overflow int milliseconds, and a
        // negative poll timeout means "wait forever".
        const int ms =
            static_cast<int>(std::min<long long>(left.count(), std::numeric_limits<int>::max()));
        r = poll(&p, 1, ms);
    } while (r < 0 && errno == EINTR);
    return r > 0;
}

std::chrono::steady_clock::time_point deadline_after(int seconds) {
    return std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
}

// Servers send TLS records of a few KB. OpenSSL reads each record with two
// recv() calls, its 5-byte header and then its body: two system calls for
// every few KB of a backup (counted: tests/bench/README.md). With read-ahead
// it fills its record buffer from the socket in one call and decrypts from
// there; curl_easy_recv still hands out a record at a time.
// Only once libcurl has logged in: its own waits (greeting, CAPABILITY,
// LOGIN) ask SSL_pending(), which does not count records read ahead but not
// yet decrypted, and would wait on the socket for data already read.
// From then on every read is ours, and read_some() waits on the socket only
// when OpenSSL has asked for more (CURLE_AGAIN): nothing read is left waiting.
// AUTO_RETRY (OpenSSL's default, made sure of) has SSL_read go on past a
// record that carries no data, such as a session ticket, rather than report
// "want read" with data still in its buffer.
void read_ahead(Connection::Impl& impl) {
    if (!impl.ssl) return; // plain text, or another TLS library: as before
    SSL_set_mode(impl.ssl, SSL_MODE_AUTO_RETRY);
    SSL_set_read_ahead(impl.ssl, 1);
}

} // namespace

namespace {

std::unique_ptr<Connection::Impl> make_impl(const Endpoint& endpoint, const TraceSink& trace) {
    auto impl = std::make_unique<Connection::Impl>();
    impl->curl = curl_easy_init();
    if (!impl->curl) return nullptr;
    impl->endpoint = endpoint;
    impl->trace = trace;
    const auto window = std::chrono::seconds(endpoint.timeout_seconds);
    impl->reading = ProgressGuard(window);
    impl->sending = ProgressGuard(window);
    return impl;
}

// One connection and login, with these CURLOPT_LOGIN_OPTIONS.
CURLcode log_in(Connection::Impl& impl, const char* login_options) {
    set_options(impl, login_options);
    impl.logging_in = true;
    impl.started = std::chrono::steady_clock::now();
    CURLcode code = curl_easy_perform(impl.curl);
    impl.logging_in = false;
    // The password is no longer needed once libcurl has logged in.
    curl_easy_setopt(impl.curl, CURLOPT_PASSWORD, "");
    curl_easy_setopt(impl.curl, CURLOPT_XOAUTH2_BEARER, "");
    impl.wipe();
    return code;
}

std::string joined(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names)
        out += (out.empty() ? "" : " ") + n;
    return out;
}

// libcurl refused to log in without sending a login: the server offers
// none of the mechanisms chosen (login.h).
Failure not_offered(const Connection::Impl& impl, const LoginChoice& choice) {
    const Endpoint& e = impl.endpoint;
    std::string offers = impl.offered.empty() ? "it announces no SASL mechanism"
                                              : "it offers " + joined(impl.offered);
    std::string what = e.host + " does not offer " + choice.wanted + " (" + offers + ")";
    if (!e.auth_mechanism.empty())
        what += "; choose one it offers with --auth";
    else if (e.oauth2_token)
        what += ", so the OAuth2 token cannot be used";
    return Failure{ErrorKind::auth, Scope::session,
                   "login as " + e.user + " on " + e.host + " failed: " + what};
}

} // namespace

Result<std::unique_ptr<Connection>> Connection::open(const Endpoint& endpoint, TraceSink trace) {
    global_init();
    const LoginChoice choice = choose_login(endpoint);
    std::string token; // asked for once: each call may be a refresh or a command run
    if (endpoint.oauth2_token) {
        auto t = endpoint.oauth2_token();
        if (!t) return std::unexpected(t.error());
        token = std::move(*t);
    }
    auto impl = make_impl(endpoint, trace);
    if (!impl) return fail(ErrorKind::local_io, Scope::account, "cannot initialise libcurl");
    impl->token = token;
    CURLcode code = log_in(*impl, choice.options.c_str());
    // Nothing of the login went out: the server offers none of the chosen
    // mechanisms. Only then is a second connection worth it (login.h).
    if (code == CURLE_LOGIN_DENIED && !impl->login_sent) {
        if (choice.on_no_match == OnNoMatch::fail)
            return std::unexpected(not_offered(*impl, choice));
        if (trace)
            trace(TraceKind::info, endpoint.host +
                                       " offers neither PLAIN nor LOGIN; connecting again, "
                                       "letting libcurl choose among what it offers");
        impl = make_impl(endpoint, trace);
        if (!impl) return fail(ErrorKind::local_io, Scope::account, "cannot initialise libcurl");
        code = log_in(*impl, nullptr);
    }
    // An OAuth2 token refused at login may have run out before the time the
    // token endpoint gave it (a server's clock ahead of ours, a token
    // revoked): once, a fresh one, if there is another to have.
    if (code == CURLE_LOGIN_DENIED && impl->login_sent && endpoint.oauth2_token_expired) {
        endpoint.oauth2_token_expired();
        auto fresh = endpoint.oauth2_token();
        if (!fresh) return std::unexpected(fresh.error());
        if (*fresh != token) {
            impl = make_impl(endpoint, trace);
            if (!impl)
                return fail(ErrorKind::local_io, Scope::account, "cannot initialise libcurl");
            impl->token = std::move(*fresh);
            code = log_in(*impl, choice.options.c_str());
        }
    }
    if (code != CURLE_OK) return std::unexpected(classify(code, *impl));
    long verify = 1;
    curl_easy_getinfo(impl->curl, CURLINFO_SSL_VERIFYRESULT, &verify);
    impl->tls.verified = impl->tls.active && !endpoint.insecure && verify == 0;
    impl->in_sasl = false;
    read_ahead(*impl);
    return std::unique_ptr<Connection>(new Connection(std::move(impl)));
}

namespace {

using Clock = std::chrono::steady_clock;

Failure too_slow(const Connection::Impl& impl, const ProgressGuard& guard, std::string_view doing) {
    const Endpoint& e = impl.endpoint;
    return Failure{ErrorKind::connect, Scope::session,
                   "timed out " + std::string(doing) + " " + e.host + ": " +
                       std::to_string(guard.bytes()) + " bytes in " +
                       std::to_string(e.timeout_seconds) + " s, below the minimum of " +
                       std::to_string(k_min_bytes_per_second) + " bytes a second (see --timeout)"};
}

} // namespace

Connection::Connection(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
Connection::~Connection() = default;

Status Connection::send_all(std::string_view data) {
    Impl& impl = *m_impl;
    const int timeout = impl.endpoint.timeout_seconds;
    // A new command: the server's answer to it is judged from now on.
    impl.reading.restart();
    auto idle_deadline = deadline_after(timeout);
    Clock::duration waited{};
    while (!data.empty()) {
        size_t sent = 0;
        errno = 0;
        const auto start = Clock::now();
        CURLcode code = curl_easy_send(impl.curl, data.data(), data.size(), &sent);
        const int err = errno;
        if (code == CURLE_AGAIN) {
            if (!wait_for(impl.curl, POLLOUT, idle_deadline))
                return fail(ErrorKind::connect, Scope::session,
                            "timed out sending to " + impl.endpoint.host + " (no progress for " +
                                std::to_string(timeout) + " s)");
            waited += Clock::now() - start;
            continue;
        }
        if (code != CURLE_OK)
            return fail(ErrorKind::connect, Scope::session,
                        "sending to " + impl.endpoint.host +
                            " failed: " + curl_easy_strerror(code) + system_reason(code, err));
        data.remove_prefix(sent);
        if (sent == 0) continue;
        // The peer reads, but perhaps a byte at a time.
        if (!impl.sending.record(std::exchange(waited, Clock::duration::zero()), sent))
            return std::unexpected(too_slow(impl, impl.sending, "sending to"));
        idle_deadline = deadline_after(timeout); // progress
    }
    return {};
}

Result<std::size_t> Connection::read_some(char* buf, std::size_t len) {
    Impl& impl = *m_impl;
    const int timeout = impl.endpoint.timeout_seconds;
    const auto start = Clock::now();
    const auto idle_deadline = start + std::chrono::seconds(timeout);
    for (;;) {
        size_t got = 0;
        errno = 0;
        CURLcode code = curl_easy_recv(impl.curl, buf, len, &got);
        const int err = errno;
        if (code == CURLE_OK && got > 0) {
            // A trickle keeps the stall rule quiet; the rate rule catches it.
            if (!impl.reading.record(Clock::now() - start, got))
                return std::unexpected(too_slow(impl, impl.reading, "reading from"));
            return got;
        }
        if (code == CURLE_OK)
            return fail(ErrorKind::connect, Scope::session,
                        impl.endpoint.host + " closed the connection");
        if (code != CURLE_AGAIN)
            return fail(ErrorKind::connect, Scope::session,
                        "reading from " + impl.endpoint.host +
                            " failed: " + curl_easy_strerror(code) + system_reason(code, err));
        if (!wait_for(impl.curl, POLLIN, idle_deadline))
            return fail(ErrorKind::connect, Scope::session,
                        impl.endpoint.host + " sent nothing for " + std::to_string(timeout) +
                            " s (timeout; see --timeout)");
    }
}

const TlsInfo& Connection::tls() const {
    return m_impl->tls;
}
const Endpoint& Connection::endpoint() const {
    return m_impl->endpoint;
}
const std::vector<std::string>& Connection::login_reply() const {
    return m_impl->login_reply;
}

} // namespace mf::net
