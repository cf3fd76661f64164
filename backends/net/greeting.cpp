#include "backends/net/greeting.h"

namespace mf::net {

std::string foreign_greeting(Protocol expected, std::string_view first_line) {
    // RFC 1939 section 3: a POP3 server greets with "+OK" (or refuses with
    // "-ERR"); RFC 9051 section 7.1: IMAP's greeting is untagged ("* OK",
    // "* PREAUTH", "* BYE"). Neither can begin the other's greeting.
    if (expected == Protocol::imap) {
        if (first_line.starts_with("+OK")) return "POP3 (+OK)";
        if (first_line.starts_with("-ERR")) return "POP3 (-ERR)";
        return {};
    }
    if (!first_line.starts_with("* ")) return {};
    return "IMAP (" + std::string(first_line.substr(0, first_line.find(' ', 2))) + ")";
}

bool silent_port_expects_tls(Protocol protocol, TlsMode tls, std::uint16_t port) {
    if (tls == TlsMode::implicit) return false;
    return port == default_port(protocol, TlsMode::implicit);
}

std::string no_greeting_hint(const Endpoint& endpoint, int seconds) {
    const bool imap = endpoint.protocol == Protocol::imap;
    std::string hint = "port " + std::to_string(endpoint.port) + " sent no greeting in " +
                       std::to_string(seconds) + " s";
    if (endpoint.tls == TlsMode::implicit) return hint;
    return hint + "; it may expect TLS: use " + (imap ? "imaps://" : "pop3s://");
}

} // namespace mf::net
