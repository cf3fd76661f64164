#pragma once

#include "backends/net/account_check.h"

namespace mf::pop3 {

// Logs in and reports STAT, CAPA, and whether UIDL and TOP work. Ends with
// no QUIT, so nothing on the server can change.
Result<net::AccountCheck> check_pop3(const net::Endpoint& endpoint, net::TraceSink trace);

} // namespace mf::pop3
