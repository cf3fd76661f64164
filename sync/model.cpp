#include "sync/model.h"

#include <string_view>

#include <algorithm>

namespace mf {
std::string FolderInfo::display() const {
    std::string out;
    for (std::size_t i = 0; i < path.size(); ++i) {
        if (i > 0) out += '/';
        out += path[i];
    }
    return out;
}

namespace {
bool is_inbox(const std::string& name) {
    // INBOX is case-insensitive (RFC 3501 5.1); ASCII only.
    constexpr std::string_view inbox = "INBOX";
    return std::equal(name.begin(), name.end(), inbox.begin(), inbox.end(),
                      [](char a, char b) { return (a >= 'a' && a <= 'z' ? a - 32 : a) == b; });
}
} // namespace

std::size_t prefix_depth(const std::vector<std::string>& path,
                         const std::vector<std::string>& prefix) {
    if (prefix.empty() || path.size() <= prefix.size()) return 0;
    if (!std::equal(prefix.begin(), prefix.end(), path.begin())) return 0;
    if (is_inbox(path[prefix.size()])) return 0;
    return prefix.size();
}
} // namespace mf
