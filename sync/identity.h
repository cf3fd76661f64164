// One message identity for the engine (issue 20): a message is the same as
// another if their Message-IDs and sizes are equal; a message without a
// Message-ID is the same as another without one if their sizes and the
// FNV-1a digests of their header blocks (the bytes up to and with the empty
// line) are equal. Headers are asked of the source, and read from the
// archive, only for those left over after Message-IDs, of a size that both
// sides have. Two identical messages stay two: each is taken once.
#pragma once

#include "sync/source.h"
#include "sync/store.h"

#include <string>
#include <utility>
#include <vector>

namespace mf {

using Renames = std::vector<std::pair<std::string, std::string>>; // held id -> listed id

Result<Renames> match_identities(Source& source, FolderStore& store,
                                 const std::vector<HeldMessage>& held,
                                 const std::vector<MessageKey>& listed);

// The FNV-1a digest of the header block of `message` (CRLF line ends).
std::uint64_t header_digest(std::string_view message);

} // namespace mf
