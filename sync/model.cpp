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
bool has_special_use(std::string_view uses, std::string_view use) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    while (!uses.empty()) {
        const auto word = uses.substr(0, uses.find(' '));
        if (std::equal(word.begin(), word.end(), use.begin(), use.end(),
                       [&](char a, char b) { return lower(a) == lower(b); }))
            return true;
        uses.remove_prefix(std::min(uses.size(), word.size() + 1));
    }
    return false;
}

} // namespace mf
