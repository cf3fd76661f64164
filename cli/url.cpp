#include "cli/url.h"

#include <charconv>
#include <optional>

namespace mf::cli {

namespace {

Failure usage(std::string what) {
    return Failure{ErrorKind::usage, Scope::account, std::move(what)};
}

int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// %40 -> '@' etc., so a login like "me@example.com" can be written me%40example.com.
std::optional<std::string> percent_decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out += s[i];
            continue;
        }
        if (i + 2 >= s.size() + 0 || hex(s[i + 1]) < 0 || hex(s[i + 2]) < 0) return std::nullopt;
        out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
        i += 2;
    }
    return out;
}

struct Scheme {
    std::string_view name;
    net::Protocol protocol;
    net::TlsMode tls;
};
constexpr Scheme k_schemes[] = {
    {"imaps://", net::Protocol::imap, net::TlsMode::implicit},
    {"imap://", net::Protocol::imap, net::TlsMode::starttls},
    {"pop3s://", net::Protocol::pop3, net::TlsMode::implicit},
    {"pop3://", net::Protocol::pop3, net::TlsMode::starttls},
};

Status parse_host_port(std::string_view hp, net::Endpoint& e) {
    std::string_view host = hp, port;
    if (hp.starts_with('[')) { // [::1]:993
        auto close = hp.find(']');
        if (close == std::string_view::npos) return std::unexpected(usage("unclosed '[' in host"));
        host = hp.substr(1, close - 1);
        std::string_view rest = hp.substr(close + 1);
        if (!rest.empty() && !rest.starts_with(':'))
            return std::unexpected(usage("unexpected text after ']' in host"));
        port = rest.empty() ? rest : rest.substr(1);
    } else if (auto colon = hp.rfind(':'); colon != std::string_view::npos) {
        host = hp.substr(0, colon);
        port = hp.substr(colon + 1);
    }
    if (host.empty()) return std::unexpected(usage("no host name"));
    e.host = std::string(host);
    e.port = net::default_port(e.protocol, e.tls);
    if (!port.empty()) {
        unsigned v = 0;
        auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
        if (ec != std::errc() || p != port.data() + port.size() || v == 0 || v > 65535)
            return std::unexpected(usage("bad port '" + std::string(port) + "'"));
        e.port = static_cast<std::uint16_t>(v);
    }
    return {};
}

} // namespace

bool looks_like_url(std::string_view text) {
    for (const auto& s : k_schemes)
        if (text.starts_with(s.name)) return true;
    return text.find("://") != std::string_view::npos;
}

Result<net::Endpoint> parse_account_url(std::string_view url) {
    net::Endpoint e;
    e.protocol = net::Protocol::imap;
    e.tls = net::TlsMode::implicit;
    std::string_view rest = url;
    bool matched = false;
    for (const auto& s : k_schemes) {
        if (rest.starts_with(s.name)) {
            e.protocol = s.protocol;
            e.tls = s.tls;
            rest.remove_prefix(s.name.size());
            matched = true;
            break;
        }
    }
    if (!matched && rest.find("://") != std::string_view::npos)
        return std::unexpected(usage("unsupported URL scheme in '" + std::string(url) +
                                     "' (use imap://, imaps://, pop3:// or pop3s://)"));
    while (rest.ends_with('/'))
        rest.remove_suffix(1);
    if (rest.find('/') != std::string_view::npos)
        return std::unexpected(usage("a path in the URL is not supported: " + std::string(url)));
    auto at = rest.rfind('@');
    if (at == std::string_view::npos)
        return std::unexpected(
            usage("no user name in '" + std::string(url) + "' (write user@host)"));
    std::string_view userinfo = rest.substr(0, at);
    // A password in a URL ends up in shell history and `ps`: refuse it.
    if (userinfo.find(':') != std::string_view::npos)
        return std::unexpected(
            usage("a password in the URL is not accepted (it would show in `ps` and "
                  "shell history); use --password-env, --password-file or "
                  "--password-command"));
    auto user = percent_decode(userinfo);
    if (!user || user->empty())
        return std::unexpected(usage("bad user name in '" + std::string(url) + "'"));
    e.user = *user;
    if (auto s = parse_host_port(rest.substr(at + 1), e); !s) return std::unexpected(s.error());
    return e;
}

} // namespace mf::cli
