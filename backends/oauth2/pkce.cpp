#include "backends/oauth2/pkce.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

namespace mf::oauth2 {

std::string base64url(std::string_view bytes) {
    static const char* alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    std::size_t i = 0;
    auto at = [&](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
    for (; i + 2 < bytes.size(); i += 3) {
        unsigned v = at(i) << 16 | at(i + 1) << 8 | at(i + 2);
        for (int shift : {18, 12, 6, 0})
            out += alphabet[(v >> shift) & 63];
    }
    if (bytes.size() - i == 1) {
        unsigned v = at(i) << 16;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
    } else if (bytes.size() - i == 2) {
        unsigned v = at(i) << 16 | at(i + 1) << 8;
        for (int shift : {18, 12, 6})
            out += alphabet[(v >> shift) & 63];
    }
    return out;
}

Result<std::string> random_token(std::size_t bytes) {
    std::string raw(bytes, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1)
        return fail(ErrorKind::local_io, Scope::account,
                    "cannot get random bytes for the OAuth2 login");
    return base64url(raw);
}

std::string s256_challenge(std::string_view verifier) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(verifier.data()), verifier.size(), digest);
    return base64url(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

std::string authorization_url(const Settings& s, const AuthRequest& r) {
    Form form{{"client_id", s.client_id},
              {"response_type", "code"},
              {"redirect_uri", r.redirect_uri},
              {"scope", s.scope},
              {"state", r.state},
              {"code_challenge", r.challenge},
              {"code_challenge_method", "S256"}};
    // Google returns a refresh token only with access_type=offline, and again
    // on a second login only with prompt=consent ("Refreshing an access
    // token (offline access)", OAuth 2.0 for Web Server Applications).
    if (s.provider == "google") {
        form.emplace_back("access_type", "offline");
        form.emplace_back("prompt", "consent");
    }
    if (!r.login_hint.empty()) form.emplace_back("login_hint", r.login_hint);
    return s.auth_url + (s.auth_url.find('?') == std::string::npos ? "?" : "&") + form_encode(form);
}

Redirect parse_redirect(std::string_view line) {
    Redirect r;
    if (!line.starts_with("GET ")) return r;
    line.remove_prefix(4);
    line = line.substr(0, line.find(' '));
    auto q = line.find('?');
    std::string_view path = line.substr(0, q);
    if (path != "/") return r;
    r.is_redirect = true;
    if (q == std::string_view::npos) return r;
    Form query = parse_query(line.substr(q + 1));
    r.code = form_value(query, "code");
    r.state = form_value(query, "state");
    r.error = form_value(query, "error");
    r.error_description = form_value(query, "error_description");
    return r;
}

} // namespace mf::oauth2
