#include "cli/label_order.h"

#include <algorithm>
#include <string_view>

namespace mf::cli {

namespace {

// Gmail's folder names in English: the only guess left where the special
// use was not recorded, as use_by_name (folder_map.cpp) guesses for
// --special-folders merge.
std::string_view use_by_gmail_name(const std::vector<std::string>& path) {
    static constexpr std::pair<std::string_view, std::string_view> k_names[] = {
        {"Sent Mail", "\\Sent"},  {"Drafts", "\\Drafts"}, {"Important", "\\Important"},
        {"Starred", "\\Flagged"}, {"All Mail", "\\All"},  {"Trash", "\\Trash"},
        {"Spam", "\\Junk"}};
    if (path.size() != 2 || (path[0] != "[Gmail]" && path[0] != "[Google Mail]")) return {};
    for (const auto& [name, use] : k_names)
        if (path[1] == name) return use;
    return {};
}

int rank(const FolderInfo& folder) {
    if (folder.path == std::vector<std::string>{"INBOX"}) return 0;
    std::string_view uses = folder.special_use;
    if (uses.empty()) uses = use_by_gmail_name(folder.path);
    static constexpr std::pair<std::string_view, int> k_ranks[] = {
        {"\\Sent", 1}, {"\\Drafts", 2}, {"\\Important", 4}, {"\\Flagged", 5}, {"\\All", 6}};
    for (const auto& [use, r] : k_ranks)
        if (has_special_use(uses, use)) return r;
    return 3;
}

} // namespace

void order_by_label_precedence(std::vector<FolderInfo>& folders) {
    std::stable_sort(folders.begin(), folders.end(),
                     [](const FolderInfo& a, const FolderInfo& b) { return rank(a) < rank(b); });
}

} // namespace mf::cli
