// Account URLs: imap://, imaps://, pop3://, pop3s:// or plain user@host[:port]
// (which means imaps://). The user part may itself contain '@' (an e-mail
// address as login); the last '@' separates it from the host.
#pragma once

#include "backends/net/endpoint.h"
#include "sync/result.h"

#include <string_view>

namespace mf::cli {

Result<net::Endpoint> parse_account_url(std::string_view url);

// True if `text` looks like a URL rather than a local path.
bool looks_like_url(std::string_view text);

} // namespace mf::cli
