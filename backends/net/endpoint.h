// Where and how to connect: plain data the command line fills in. No libcurl
// type appears here, so callers never see the transport library.
#pragma once

#include "sync/result.h"

#include <cstdint>
#include <functional>
#include <string>

namespace mf::net {

enum class Protocol { imap, pop3 };

enum class TlsMode {
    implicit, // imaps:// pop3s://: TLS from the first byte
    starttls, // imap:// pop3://: STARTTLS/STLS required (the default)
    // STARTTLS when the server offers it, plaintext when it does not: only
    // when the user asked for it by name (--allow-plaintext).
    starttls_optional,
};

// A secret kept out of argv, logs and reports. Obtained lazily, so that a
// token command is run again for every new connection.
using SecretProvider = std::function<std::string()>;
// An OAuth2 access token, asked for once per connection: a token command
// run again, or a refresh. Its failure (a revoked login) is the connection's.
using TokenProvider = std::function<Result<std::string>()>;
// Told when a server said that a token it was given has expired before its
// time (Exchange Online's AccessTokenExpired): the next connection must not
// be given the same one, however long it had left by our clock.
using TokenExpired = std::function<void()>;

struct Endpoint {
    Protocol protocol = Protocol::imap;
    TlsMode tls = TlsMode::starttls;
    std::string host;
    std::uint16_t port = 0;
    std::string user;
    SecretProvider password;           // empty function: no password
    TokenProvider oauth2_token;        // set: log in with XOAUTH2/OAUTHBEARER
    TokenExpired oauth2_token_expired; // may be empty (a token command: never reused)
    std::string cacert;                // extra CA bundle file, "" = system store
    bool insecure = false;             // skip certificate and host name checks
    int timeout_seconds = 60;          // connect, each stall, and the minimum rate (progress.h)
    // The SASL mechanism --auth forces ("PLAIN", "XOAUTH2", ...), upper
    // case; "" = chosen by login.h from the credential and what is offered.
    std::string auth_mechanism;
    // COMPRESS=DEFLATE (RFC 4978) where the server offers it; --no-compress.
    bool compress = true;

    std::string scheme() const;  // "imaps", "pop3", ...
    std::string display() const; // "imaps://user@host:993", no secret
    // Which mailbox this is, whatever the TLS mode or port spelling:
    // "imap://user@host" with the host in lower case. Archives record it.
    std::string identity() const;
};

std::uint16_t default_port(Protocol protocol, TlsMode tls);

} // namespace mf::net
