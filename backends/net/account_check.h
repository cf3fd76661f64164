// What `mailferry check` reports about an account, as plain data gathered by
// the protocol backends (check_imap, check_pop3) and rendered by the CLI.
#pragma once

#include "backends/net/connection.h"

#include <optional>
#include <string>
#include <vector>

namespace mf::net {

struct FolderStatus {
    std::string name; // UTF-8, components joined with the separator
    bool selectable = true;
    bool name_valid = true;  // false: the server's name is not valid modified UTF-7
    std::string special_use; // "\Sent", "\Trash"... (RFC 6154), "" for none
    std::optional<std::uint32_t> messages, unseen;
    std::string error; // STATUS refused
};

struct AccountCheck {
    Endpoint endpoint; // where we connected (no secret inside is read)
    TlsInfo tls;
    std::vector<std::string> capabilities;
    // IMAP
    std::string separator; // "" when the server has a flat namespace
    std::vector<FolderStatus> folders;
    // POP3
    std::optional<std::uint64_t> pop3_messages, pop3_bytes;
    bool uidl = false;
    bool top = false;
};

} // namespace mf::net
