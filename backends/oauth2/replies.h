// The authorization server's answers, parsed: pure functions, no I/O, so
// that every shape a server may send is a unit test (tests/unit/
// test_oauth2_replies.cpp). A Failure's text never quotes the body, which
// may hold a token.
#pragma once

#include "sync/result.h"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mf::oauth2 {

// A token endpoint's answer (RFC 6749 5.1 and 5.2). Either `error` is set
// or `access_token` is.
struct TokenReply {
    std::string access_token;
    std::string refresh_token; // "" = the server kept the old one (no rotation)
    long expires_in = 0;       // seconds; 0 = not said
    std::string error;         // "invalid_grant", "authorization_pending", ...
    std::string error_description;
};

// The device authorization endpoint's answer (RFC 8628 3.2).
struct DeviceGrant {
    std::string device_code; // secret: never shown
    std::string user_code;
    std::string verification_uri;
    std::string verification_uri_complete; // "" = not given
    long expires_in = 0;
    long interval = 5; // RFC 8628 3.2: 5 seconds when absent
};

Result<TokenReply> parse_token_reply(std::string_view body);
Result<DeviceGrant> parse_device_grant(std::string_view body);

using Form = std::vector<std::pair<std::string, std::string>>;
// application/x-www-form-urlencoded (RFC 6749 appendix B).
std::string form_encode(const Form& form);
std::string percent_encode(std::string_view text);
// A URL's query ("a=1&b=x%20y") as pairs, percent-decoded, '+' as space.
Form parse_query(std::string_view query);
// The value of `name` in `form`, or "".
std::string form_value(const Form& form, std::string_view name);

} // namespace mf::oauth2
