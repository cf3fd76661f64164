#include "backends/oauth2/replies.h"

#include <nlohmann/json.hpp>

#include <cctype>

namespace mf::oauth2 {

namespace {

using json = nlohmann::json;

Failure malformed(std::string what) {
    return Failure{ErrorKind::protocol, Scope::account,
                   "the OAuth2 server's answer " + std::move(what)};
}

Result<json> parse_object(std::string_view body) {
    json j = json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return std::unexpected(malformed("is not a JSON object"));
    return j;
}

std::string text(const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A number of seconds, as a number or (Microsoft's v1 endpoints) a string.
long seconds(const json& j, const char* key, long otherwise) {
    auto it = j.find(key);
    if (it == j.end()) return otherwise;
    if (it->is_number_integer() && it->get<long>() >= 0) return it->get<long>();
    if (it->is_string()) {
        const std::string s = it->get<std::string>();
        if (!s.empty() && s.size() < 10 && s.find_first_not_of("0123456789") == std::string::npos)
            return std::stol(s);
    }
    return otherwise;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string percent_decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out += ' ';
        } else if (s[i] == '%' && i + 2 < s.size() && hex_digit(s[i + 1]) >= 0 &&
                   hex_digit(s[i + 2]) >= 0) {
            out += static_cast<char>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

} // namespace

Result<TokenReply> parse_token_reply(std::string_view body) {
    auto j = parse_object(body);
    if (!j) return std::unexpected(j.error());
    TokenReply r;
    r.error = text(*j, "error");
    r.error_description = text(*j, "error_description");
    if (!r.error.empty()) return r;
    r.access_token = text(*j, "access_token");
    r.refresh_token = text(*j, "refresh_token");
    r.expires_in = seconds(*j, "expires_in", 0);
    if (r.access_token.empty())
        return std::unexpected(malformed("has neither an access_token nor an error"));
    std::string type = text(*j, "token_type");
    for (auto& c : type)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    // RFC 6749 7.1: a client must not use a token of a type it does not know.
    if (!type.empty() && type != "bearer")
        return std::unexpected(malformed("has a token of type '" + type + "', not Bearer"));
    return r;
}

Result<DeviceGrant> parse_device_grant(std::string_view body) {
    auto j = parse_object(body);
    if (!j) return std::unexpected(j.error());
    if (auto error = text(*j, "error"); !error.empty()) {
        std::string said = text(*j, "error_description");
        return fail(ErrorKind::auth, Scope::account,
                    "the device authorization was refused: " + error +
                        (said.empty() ? "" : " (" + said + ")"));
    }
    DeviceGrant g;
    g.device_code = text(*j, "device_code");
    g.user_code = text(*j, "user_code");
    // "verification_url": Google's name for it before RFC 8628 was final.
    g.verification_uri = text(*j, "verification_uri");
    if (g.verification_uri.empty()) g.verification_uri = text(*j, "verification_url");
    g.verification_uri_complete = text(*j, "verification_uri_complete");
    g.expires_in = seconds(*j, "expires_in", 0);
    g.interval = seconds(*j, "interval", 5);
    if (g.interval < 1) g.interval = 5;
    if (g.device_code.empty() || g.user_code.empty() || g.verification_uri.empty())
        return std::unexpected(malformed("lacks device_code, user_code or verification_uri"));
    return g;
}

std::string percent_encode(std::string_view text) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

std::string form_encode(const Form& form) {
    std::string out;
    for (const auto& [name, value] : form)
        out += (out.empty() ? "" : "&") + percent_encode(name) + "=" + percent_encode(value);
    return out;
}

Form parse_query(std::string_view query) {
    Form out;
    while (!query.empty()) {
        auto amp = query.find('&');
        std::string_view part = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        if (part.empty()) continue;
        auto eq = part.find('=');
        out.emplace_back(percent_decode(part.substr(0, eq)),
                         eq == std::string_view::npos ? std::string()
                                                      : percent_decode(part.substr(eq + 1)));
    }
    return out;
}

std::string form_value(const Form& form, std::string_view name) {
    for (const auto& [k, v] : form)
        if (k == name) return v;
    return {};
}

} // namespace mf::oauth2
