// PKCE (RFC 7636) and the pieces of the authorization-code flow that need
// no socket: the URL the user opens, and what the browser brings back to
// the loopback redirect.
#pragma once

#include "backends/oauth2/replies.h"
#include "backends/oauth2/settings.h"

#include <string>
#include <string_view>

namespace mf::oauth2 {

// `bytes` random bytes as unpadded base64url (RFC 4648 5): 32 give the 43
// characters of a code_verifier (RFC 7636 4.1), 16 a state.
Result<std::string> random_token(std::size_t bytes);
// BASE64URL(SHA256(verifier)): the S256 code_challenge (RFC 7636 4.2).
std::string s256_challenge(std::string_view verifier);
std::string base64url(std::string_view bytes);

struct AuthRequest {
    std::string redirect_uri; // http://127.0.0.1:PORT/
    std::string state;
    std::string challenge;
    std::string login_hint; // the account, so the provider preselects it
};
std::string authorization_url(const Settings& settings, const AuthRequest& request);

// The browser's request to the redirect: "GET /?code=...&state=... HTTP/1.1".
struct Redirect {
    bool is_redirect = false; // false: another path (a favicon), not ours
    std::string code;
    std::string state;
    std::string error; // "access_denied", ...
    std::string error_description;
};
Redirect parse_redirect(std::string_view request_line);

} // namespace mf::oauth2
