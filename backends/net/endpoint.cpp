#include "backends/net/endpoint.h"

#include <cctype>

namespace mf::net {

std::string Endpoint::scheme() const {
    std::string s = protocol == Protocol::imap ? "imap" : "pop3";
    if (tls == TlsMode::implicit) s += 's';
    return s;
}

std::string Endpoint::display() const {
    std::string out = scheme() + "://";
    if (!user.empty()) out += user + '@';
    out += host.find(':') != std::string::npos ? '[' + host + ']' : host;
    return out + ':' + std::to_string(port);
}

std::string Endpoint::identity() const {
    std::string h = host;
    for (auto& c : h)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return std::string(protocol == Protocol::imap ? "imap" : "pop3") + "://" + user + '@' + h;
}

std::uint16_t default_port(Protocol protocol, TlsMode tls) {
    const bool implicit = tls == TlsMode::implicit;
    if (protocol == Protocol::imap) return implicit ? 993 : 143;
    return implicit ? 995 : 110;
}

} // namespace mf::net
