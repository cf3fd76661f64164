#include "backends/net/connection_impl.h"

#include "backends/net/greeting.h"
#include "backends/net/login.h"

#include <cctype>
#include <string_view>
#include <utility>

namespace mf::net {

namespace {

// libcurl reports "SSL connection using TLSv1.3 / TLS_AES_256_GCM_SHA384" as
// an informational line; reading it works whatever TLS library libcurl uses.
void note_tls(TlsInfo& tls, std::string_view text) {
    constexpr std::string_view marker = "SSL connection using ";
    auto at = text.find(marker);
    if (at == std::string_view::npos) return;
    std::string_view rest = text.substr(at + marker.size());
    auto slash = rest.find(" / ");
    tls.active = true;
    tls.version = std::string(rest.substr(0, slash));
    if (slash != std::string_view::npos) {
        std::string_view cipher = rest.substr(slash + 3);
        while (!cipher.empty() && (cipher.back() == '\n' || cipher.back() == '\r'))
            cipher.remove_suffix(1);
        tls.cipher = std::string(cipher);
    }
}

// Calls `each` with every line of `data`, without its CR LF.
template <typename Each> void for_each_line(std::string_view data, Each each) {
    while (!data.empty()) {
        auto nl = data.find('\n');
        std::string_view line = data.substr(0, nl);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        each(line);
        if (nl == std::string_view::npos) break;
        data.remove_prefix(nl + 1);
    }
}

void trace_lines(Connection::Impl& impl, TraceKind kind, std::string_view data) {
    for_each_line(data, [&](std::string_view line) {
        if (kind == TraceKind::sent) {
            std::string shown = redact_line(line, impl.in_sasl);
            std::string u(line.substr(0, 40));
            for (auto& c : u)
                c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            if (u.find("AUTHENTICATE ") != std::string::npos || u.starts_with("AUTH "))
                impl.in_sasl = true;
            if (impl.trace) impl.trace(kind, shown);
        } else {
            if (kind == TraceKind::received && !line.starts_with("+")) impl.in_sasl = false;
            if (impl.trace) impl.trace(kind, line);
        }
    });
}

// The connection's OpenSSL object, if libcurl uses OpenSSL and TLS is up.
// libcurl gives it only while it works on the connection (inside
// curl_easy_perform), so it is taken from the callback that sees the
// server's replies; the last reply, to the login, names the one kept.
SSL* openssl_of(CURL* curl) {
    curl_tlssessioninfo* info = nullptr;
    if (curl_easy_getinfo(curl, CURLINFO_TLS_SSL_PTR, &info) != CURLE_OK || !info ||
        info->backend != CURLSSLBACKEND_OPENSSL)
        return nullptr;
    return static_cast<SSL*>(info->internals);
}

// A server's answer to a login is a few lines; one that sends more is not
// kept past this (the protocol then asks for what it needs).
constexpr std::size_t k_login_reply_max = 16 * 1024;

void keep_login_reply(Connection::Impl& impl, std::string_view data) {
    if (!impl.logging_in) return;
    impl.login_reply_bytes += data.size();
    if (impl.login_reply_bytes > k_login_reply_max) {
        impl.login_reply.clear();
        return;
    }
    for_each_line(data, [&](std::string_view line) { impl.login_reply.emplace_back(line); });
}

void note_offered(Connection::Impl& impl, std::string_view data) {
    if (!impl.logging_in) return;
    for_each_line(data, [&](std::string_view line) {
        if (auto o = offered_mechanisms(impl.endpoint.protocol, line.substr(0, 4096)); o.is_list)
            impl.offered = std::move(o.mechanisms);
    });
}

// The first line from the server is its greeting; one of the other
// protocol ends the connection phase at the next on_progress.
void note_greeting(Connection::Impl& impl, std::string_view data) {
    if (impl.greeted) return;
    impl.greeted = true;
    for_each_line(data.substr(0, 512), [&](std::string_view line) {
        if (impl.foreign.empty()) impl.foreign = foreign_greeting(impl.endpoint.protocol, line);
    });
}

// Seconds since the TCP connection was made, 0 before.
double seconds_connected(const Connection::Impl& impl) {
    curl_off_t connect_us = 0;
    if (curl_easy_getinfo(impl.curl, CURLINFO_CONNECT_TIME_T, &connect_us) != CURLE_OK ||
        connect_us <= 0)
        return 0;
    const auto since = std::chrono::steady_clock::now() - impl.started;
    return std::chrono::duration<double>(since).count() - static_cast<double>(connect_us) / 1e6;
}

} // namespace

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto& impl = *static_cast<Connection::Impl*>(user);
    if (!impl.foreign.empty()) return 1;
    const Endpoint& e = impl.endpoint;
    if (!impl.greeted && silent_port_expects_tls(e.protocol, e.tls, e.port) &&
        seconds_connected(impl) >= k_greeting_seconds) {
        impl.silent_tls_port = true;
        return 1;
    }
    return 0;
}

std::optional<Failure> first_contact_failure(CURLcode code, const Connection::Impl& impl) {
    const Endpoint& e = impl.endpoint;
    const bool imap = e.protocol == Protocol::imap;
    auto f = [&](std::string what) {
        return Failure{ErrorKind::connect, Scope::session, e.host + " " + std::move(what)};
    };
    const std::string port = "port " + std::to_string(e.port);
    if (!impl.foreign.empty())
        return f(port + " speaks " + impl.foreign + ", not " + (imap ? "IMAP" : "POP3") +
                 "; is this the right port?");
    if (impl.silent_tls_port) return f(no_greeting_hint(e, k_greeting_seconds));
    if (code == CURLE_OPERATION_TIMEDOUT && !impl.greeted && seconds_connected(impl) > 0)
        return Failure{ErrorKind::connect, Scope::session,
                       "timed out connecting to " + e.host + ": " +
                           no_greeting_hint(e, e.timeout_seconds) + " (see --timeout)"};
    // OpenSSL's words for a first record that is no TLS record: the server
    // sent its plain-text greeting in answer to the ClientHello.
    if (code == CURLE_SSL_CONNECT_ERROR && e.tls == TlsMode::implicit &&
        std::string_view(impl.error).find("wrong version number") != std::string_view::npos)
        return Failure{ErrorKind::tls, Scope::session,
                       e.host + " " + port + " answered in plain text, not TLS; use " +
                           (imap ? "imap:// (STARTTLS)" : "pop3:// (STLS)")};
    return std::nullopt;
}

int on_debug(CURL* curl, curl_infotype type, char* data, size_t size, void* user) {
    auto& impl = *static_cast<Connection::Impl*>(user);
    std::string_view text(data, size);
    switch (type) {
    case CURLINFO_TEXT:
        note_tls(impl.tls, text);
        if (impl.trace) trace_lines(impl, TraceKind::info, text);
        break;
    case CURLINFO_HEADER_OUT:
        impl.login_reply.clear();
        impl.login_reply_bytes = 0;
        for_each_line(text, [&](std::string_view line) {
            if (begins_login(impl.endpoint.protocol, line)) impl.login_sent = true;
        });
        trace_lines(impl, TraceKind::sent, text);
        break;
    case CURLINFO_HEADER_IN:
        if (SSL* ssl = openssl_of(curl)) impl.ssl = ssl; // the latest: the one logged in
        note_greeting(impl, text);
        keep_login_reply(impl, text);
        note_offered(impl, text);
        trace_lines(impl, TraceKind::received, text);
        break;
    default:
        break; // payloads: none during the connection phase
    }
    return 0;
}

} // namespace mf::net
