#include "cli/folder_map.h"

#include <algorithm>
#include <cctype>
#include <fnmatch.h>
#include <string_view>

namespace mf::cli {

namespace {

std::vector<std::string> split_on(const std::string& name, char separator) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        auto at = name.find(separator, start);
        out.push_back(name.substr(start, at - start));
        if (at == std::string::npos) return out;
        start = at + 1;
    }
}

std::vector<std::string> split(const std::string& name) {
    return split_on(name, '/');
}

bool same_ignoring_case(std::string_view a, std::string_view b) {
    return std::ranges::equal(
        a, b, [](unsigned char x, unsigned char y) { return std::tolower(x) == std::tolower(y); });
}

// A special use by a top-level folder's name, as imapsync's --automap
// guesses, for servers without SPECIAL-USE and for archives (which do not
// record it).
std::string_view use_by_name(const std::vector<std::string>& path) {
    static constexpr std::pair<std::string_view, std::string_view> k_names[] = {
        {"Sent", "\\Sent"},
        {"Sent Items", "\\Sent"},
        {"Sent Messages", "\\Sent"},
        {"Drafts", "\\Drafts"},
        {"Trash", "\\Trash"},
        {"Deleted Items", "\\Trash"},
        {"Deleted Messages", "\\Trash"},
        {"Junk", "\\Junk"},
        {"Spam", "\\Junk"},
        {"Junk E-mail", "\\Junk"},
        {"Archive", "\\Archive"}};
    if (path.size() != 1) return {};
    for (const auto& [name, use] : k_names)
        if (same_ignoring_case(path[0], name)) return use;
    return {};
}

// What --special-folders merge merges a folder into: "INBOX", a special
// use (RFC 6154) of those an account has once, or "" for the user's own.
std::string_view special_kind(const FolderInfo& folder) {
    static constexpr std::string_view k_merged[] = {"\\Sent", "\\Drafts", "\\Trash", "\\Junk",
                                                    "\\Archive"};
    if (folder.path == std::vector<std::string>{"INBOX"}) return "INBOX";
    if (folder.special_use.empty()) return use_by_name(folder.path);
    for (const auto& use : split_on(folder.special_use, ' '))
        for (auto merged : k_merged)
            if (same_ignoring_case(use, merged)) return merged;
    return {};
}

} // namespace

Result<std::vector<std::string>> parse_special_uses(const std::string& list) {
    static constexpr std::string_view k_uses[] = {"All",       "Archive", "Drafts", "Flagged",
                                                  "Important", "Junk",    "Sent",   "Trash"};
    std::vector<std::string> out;
    if (list.empty()) return out;
    for (const auto& word : split_on(list, ',')) {
        auto it = std::ranges::find_if(
            k_uses, [&](std::string_view use) { return same_ignoring_case(use, word); });
        if (it == std::end(k_uses))
            return fail(ErrorKind::usage, Scope::account,
                        "--skip-special-use takes all, archive, drafts, flagged, important, junk, "
                        "sent or trash, comma-separated; got '" +
                            word + "'");
        out.push_back("\\" + std::string(*it));
    }
    return out;
}

// Sources spell the attributes as RFC 6154 does (backends/imap/folder_list.cpp).
std::string special_use_among(const FolderInfo& folder, const std::vector<std::string>& uses) {
    for (auto& use : split_on(folder.special_use, ' '))
        if (std::ranges::find(uses, use) != uses.end()) return use;
    return {};
}

bool matches_any(const std::vector<std::string>& globs, const std::string& name) {
    for (const auto& g : globs)
        if (::fnmatch(g.c_str(), name.c_str(), 0) == 0) return true;
    return false;
}

std::vector<FolderInfo> select_folders(const std::vector<FolderInfo>& all,
                                       const std::vector<std::string>& include,
                                       const std::vector<std::string>& exclude) {
    std::vector<FolderInfo> out;
    for (const auto& f : all) {
        std::string name = f.display();
        if (!f.selectable) continue;
        if (!include.empty() && !matches_any(include, name)) continue;
        if (matches_any(exclude, name)) continue;
        out.push_back(f);
    }
    return out;
}

Result<FolderMap> FolderMap::parse(const std::vector<std::string>& specs) {
    FolderMap map;
    for (const auto& spec : specs) {
        auto eq = spec.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
            return fail(ErrorKind::usage, Scope::account,
                        "--map takes SRC=DST, e.g. INBOX=Archive/Old-POP; got '" + spec + "'");
        map.m_rules.emplace_back(split(spec.substr(0, eq)), split(spec.substr(eq + 1)));
    }
    return map;
}

// The first rule whose SRC is `path` or a parent of it; `matched` is SRC's length.
const std::vector<std::string>* FolderMap::rule_for(const std::vector<std::string>& path,
                                                    std::size_t& matched) const {
    for (const auto& [from, to] : m_rules) {
        if (path.size() < from.size() || !std::equal(from.begin(), from.end(), path.begin()))
            continue;
        matched = from.size();
        return &to;
    }
    return nullptr;
}

FolderInfo FolderMap::apply(const FolderInfo& folder) const {
    std::size_t matched = 0;
    const auto* to = rule_for(folder.path, matched);
    if (!to) return folder;
    FolderInfo out = folder;
    out.path = *to;
    out.path.insert(out.path.end(), folder.path.begin() + static_cast<std::ptrdiff_t>(matched),
                    folder.path.end());
    out.prefix_depth = 0;
    return out;
}

FolderInfo FolderMap::target_of(const FolderInfo& folder) const {
    std::size_t matched = 0;
    FolderInfo bare = folder;
    if (folder.prefix_depth > 0 && folder.prefix_depth < folder.path.size() &&
        !rule_for(folder.path, matched)) {
        bare.path.erase(bare.path.begin(),
                        bare.path.begin() + static_cast<std::ptrdiff_t>(folder.prefix_depth));
        bare.prefix_depth = 0;
    }
    // A --map rule names the folder on the target exactly: no prefix.
    if (rule_for(bare.path, matched)) return apply(bare);
    return place(bare);
}

Status FolderMap::put_under(const std::string& prefix, SpecialFolders special) {
    m_special = special;
    m_prefix.clear();
    if (prefix.empty()) return {};
    m_prefix = split(prefix);
    if (std::any_of(m_prefix.begin(), m_prefix.end(), [](const auto& c) { return c.empty(); }))
        return fail(ErrorKind::usage, Scope::account,
                    "--target-prefix takes a folder name such as Alice or Old/Alice; got '" +
                        prefix + "'");
    return {};
}

void FolderMap::use_target_folders(const std::vector<FolderInfo>& target) {
    for (const auto& f : target)
        if (auto use = special_kind(f); !use.empty() && f.selectable)
            m_target_special.try_emplace(std::string(use), f.path);
}

bool FolderMap::owns(const std::vector<std::string>& target_path) const {
    return target_path.size() > m_prefix.size() &&
           std::equal(m_prefix.begin(), m_prefix.end(), target_path.begin());
}

// Below the prefix, unless merged into the target's own INBOX or special
// folder (or, where the target has none of that use, the source's name).
FolderInfo FolderMap::place(const FolderInfo& bare) const {
    if (m_prefix.empty()) return bare;
    FolderInfo out = bare;
    out.prefix_depth = 0;
    if (m_special == SpecialFolders::merge)
        if (auto use = special_kind(bare); !use.empty()) {
            if (auto it = m_target_special.find(std::string(use)); it != m_target_special.end())
                out.path = it->second;
            return out;
        }
    out.path.insert(out.path.begin(), m_prefix.begin(), m_prefix.end());
    return out;
}

std::vector<std::string> personal_prefix(const std::vector<FolderInfo>& folders) {
    for (const auto& f : folders)
        if (f.prefix_depth > 0 && f.prefix_depth < f.path.size())
            return {f.path.begin(), f.path.begin() + static_cast<std::ptrdiff_t>(f.prefix_depth)};
    return {};
}

void mark_personal_prefix(std::vector<FolderInfo>& folders,
                          const std::vector<std::string>& prefix) {
    for (auto& f : folders)
        f.prefix_depth = prefix_depth(f.path, prefix);
}

} // namespace mf::cli
