// Which login mechanism libcurl may use: chosen here, not left to libcurl.
//
// Left alone, libcurl takes the "strongest" SASL mechanism the server
// announces and it supports (GSSAPI, SCRAM, DIGEST-MD5, CRAM-MD5, NTLM,
// OAUTHBEARER, XOAUTH2, PLAIN, LOGIN, in that order). Exchange on-premises
// announces AUTH=NTLM and AUTH=GSSAPI beside AUTH=PLAIN; libcurl picks one of
// the first two, which need a Windows domain or a Kerberos ticket, and the
// login fails although PLAIN over TLS would have worked. So the choice is:
//
//   --auth MECH given      exactly MECH;
//   an OAuth2 token        OAUTHBEARER or XOAUTH2 (libcurl prefers the first
//                          when both are offered);
//   a password             PLAIN, else SASL LOGIN. The connection is TLS, or
//                          the user said --allow-plaintext and so accepted the
//                          password going out in clear.
//
// This is CURLOPT_LOGIN_OPTIONS ("AUTH=PLAIN;AUTH=LOGIN"). libcurl 7.88 then
// fails with CURLE_LOGIN_DENIED, having sent nothing, when the server offers
// none of them (checked: only CAPABILITY goes out). Only in that case, and
// only for a password without --auth, is the login tried once more on a new
// connection with libcurl's own choice (a server that offers no PLAIN or
// LOGIN: CRAM-MD5, or the IMAP LOGIN command where no SASL is announced).
// The password therefore goes to the server at most once per connection: a
// refused login is never repeated with another mechanism, which could count
// twice against an account lockout. (libcurl 7.88 has no "AUTH=+LOGIN", the
// option that forces IMAP's LOGIN command; it came in 8.2.)
#pragma once

#include "backends/net/endpoint.h"

#include <string>
#include <string_view>
#include <vector>

namespace mf::net {

// The SASL mechanisms libcurl 7.88 implements for IMAP and POP3, as --auth
// accepts them.
const std::vector<std::string>& known_mechanisms();

// `name` in upper case if it is one of known_mechanisms(), else "".
std::string known_mechanism(std::string_view name);

enum class OnNoMatch {
    libcurls_choice, // connect again and let libcurl choose among what is offered
    fail,            // say which mechanisms the server offers
};

struct LoginChoice {
    std::string options; // CURLOPT_LOGIN_OPTIONS, e.g. "AUTH=PLAIN;AUTH=LOGIN"
    std::string wanted;  // for messages: "PLAIN or LOGIN"
    OnNoMatch on_no_match = OnNoMatch::fail;
};

LoginChoice choose_login(const Endpoint& endpoint);

// The SASL mechanisms a server line announces: IMAP "AUTH=X" atoms of a
// CAPABILITY list, POP3 a CAPA "SASL X Y" line. `is_list` tells whether the
// line was such a list at all (then it replaces what was known before).
struct Offered {
    bool is_list = false;
    std::vector<std::string> mechanisms;
};
Offered offered_mechanisms(Protocol protocol, std::string_view line);

// Whether a line the client sent begins a login (IMAP AUTHENTICATE or LOGIN,
// POP3 AUTH, USER, PASS or APOP): from then on a credential may be out.
bool begins_login(Protocol protocol, std::string_view line);

} // namespace mf::net
