#pragma once

#include "backends/imap/session.h"
#include "backends/net/account_check.h"

namespace mf::imap {

// Logs in, lists capabilities and folders, and asks STATUS of each folder.
// Read-only: STATUS does not select a folder or change flags.
Result<net::AccountCheck> check_imap(const net::Endpoint& endpoint, TraceOptions trace);

} // namespace mf::imap
