// The order of precedence of --labels primary: a message the source holds
// in several folders goes into the first of them in this order.
#pragma once

#include "sync/model.h"

#include <vector>

namespace mf::cli {

// INBOX, Sent, Drafts, the user's own folders, Important, Starred, All Mail
// (Trash and Spam, which are no labels, among the user's own). By the
// special use the source lists (RFC 6154); an archive, which does not record
// it, by Gmail's English names ("[Gmail]/Sent Mail", "[Google Mail]/...").
// Stable: folders of one rank keep their order.
void order_by_label_precedence(std::vector<FolderInfo>& folders);

} // namespace mf::cli
