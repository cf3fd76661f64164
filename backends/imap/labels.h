// Gmail's labels as the receiving side of a push: which label puts a
// message in a folder, by the folder's special use (never its name, which
// Gmail translates), and the STORE that adds it.
#pragma once

#include "sync/target.h"

#include <string>
#include <string_view>

namespace mf::imap {

struct FolderLabel {
    Sharing sharing = Sharing::copy;
    std::string label; // as sent in X-GM-LABELS: "\\Sent", or a quoted name
};

// The label of a Gmail folder: INBOX, a special use from LIST (`uses`, RFC
// 6154 attributes separated by spaces), or else a user label named as the
// folder is on the wire (`wire`, modified UTF-7).
FolderLabel gmail_label(bool inbox, std::string_view uses, std::string_view wire);

} // namespace mf::imap
