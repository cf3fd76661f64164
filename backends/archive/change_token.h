// How a folder's change token is recorded: "<source token>\t<archive stamp>".
// The source's summary of the folder (IMAP CONDSTORE) says nothing changed
// there; the stamp (file times and sizes, per format) says nothing changed
// in the archive since the run that recorded it. The token counts only
// while both hold. Shared by every archive format.
#pragma once

#include "sync/store.h"

#include <cstddef>
#include <optional>
#include <string>
#include <utility>

namespace mf::archive {

// What to record at a commit: the token with the stamp, or "" (stale).
std::string stamped_token(const std::optional<std::string>& token, const std::string& stamp);

// The memo to give the engine, from what StateDb::memo() recorded and the
// archive's stamp now: the token only if the stamp still matches.
FolderMemo memo_if_unchanged(const std::pair<std::string, std::size_t>& recorded,
                             const std::string& stamp_now);

} // namespace mf::archive
