// Turning a URL or a path into a connected Source or Target. The only place
// in cli/ that knows which backend class serves which scheme.
#pragma once

#include "backends/net/endpoint.h"
#include "sync/source.h"
#include "sync/target.h"

#include <memory>

namespace mf::cli {

Result<std::unique_ptr<Source>> connect_source(const net::Endpoint& endpoint, bool debug);
// Readies a source on another connection to an account that `memo` (from
// the first connection's listing) describes: it takes the memo where it
// can, or lists the account itself (a source opens only folders it knows
// the server's names of).
Status list_like(Source& source, const std::shared_ptr<const ListingMemo>& memo);
// `final_crlf`: --append-final-crlf (see imap::TargetOptions).
Result<std::unique_ptr<Target>> connect_target(const net::Endpoint& endpoint, bool debug,
                                               bool final_crlf = false);

} // namespace mf::cli
