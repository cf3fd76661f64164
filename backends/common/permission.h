// What a person needs to fix a refused access: which file or directory
// refuses it, who owns that and with what mode, and who is asking. A bare
// "Permission denied" on ARCHIVE/.mailferry sends them looking at the wrong
// thing (issue 21: an archive made by root, run by another user).
#pragma once

#include <string>

namespace mf::fs {

// "/x is owned by root (uid 0), mode 0700; running as uid 1000 (bob)" for
// the first directory on the way to `path` that the user cannot enter, else
// `path` itself (or its directory, if `path` does not exist).
std::string describe_denial(const std::string& path);

} // namespace mf::fs
