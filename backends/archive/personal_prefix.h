// The source's personal namespace prefix (IMAP NAMESPACE: Courier's
// "INBOX."), kept in the archive's meta. Archive folders keep the server's
// full names (INBOX/Sent from Courier), so archives made before this was
// recorded read the same; a restore takes the recorded prefix off, as a
// migrate from the server would (NAMESPACES in the man page).
#pragma once

#include "backends/archive/state_db.h"

#include <string>
#include <vector>

namespace mf::archive {

// Records `prefix` (path components); an empty one records nothing, since
// an account whose listing shows no folder below its prefix says nothing.
Status record_personal_prefix(StateDb& db, const std::vector<std::string>& prefix);

// What the last backup recorded; {} for none (and for archives made before
// it was recorded, until their next backup).
Result<std::vector<std::string>> recorded_personal_prefix(StateDb& db);

} // namespace mf::archive
