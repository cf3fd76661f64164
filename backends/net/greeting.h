// The first contact with a port: what its first line, or its silence, says
// about the protocol behind it. Pure, so that it is tested without a socket;
// connect_watch.cpp applies it while libcurl waits for the greeting.
#pragma once

#include "backends/net/endpoint.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace mf::net {

// "POP3 (+OK)" when an IMAP client meets a POP3 greeting, "IMAP (* OK)" the
// other way round; "" when the line may be the greeting that was expected.
// libcurl would otherwise wait the whole --timeout for a greeting it knows.
std::string foreign_greeting(Protocol expected, std::string_view first_line);

// How long a plain connection waits for a greeting before it is taken for a
// TLS port, on a port registered for implicit TLS (see silent_port_expects_tls).
constexpr int k_greeting_seconds = 2;

// True when `port` is the IANA port of implicit TLS for `protocol` (993 IMAPS,
// 995 POP3S; RFC 8314 section 7). A plain client there meets a server that
// waits for a TLS ClientHello and says nothing: after k_greeting_seconds of
// silence the connection is given up rather than waiting the --timeout.
// Other ports keep waiting: a real server may be slow to greet (a reverse
// DNS lookup before the banner), and only the final timeout names TLS.
bool silent_port_expects_tls(Protocol protocol, TlsMode tls, std::uint16_t port);

// "port 993 sent no greeting in 2 s; it may expect TLS: use imaps://".
std::string no_greeting_hint(const Endpoint& endpoint, int seconds);

} // namespace mf::net
