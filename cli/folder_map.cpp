#include "cli/folder_map.h"

#include <fnmatch.h>

namespace mf::cli {

namespace {

std::vector<std::string> split(const std::string& name) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        auto at = name.find('/', start);
        out.push_back(name.substr(start, at - start));
        if (at == std::string::npos) return out;
        start = at + 1;
    }
}

} // namespace

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
    if (folder.prefix_depth == 0 || folder.prefix_depth >= folder.path.size() ||
        rule_for(folder.path, matched))
        return apply(folder);
    FolderInfo bare = folder;
    bare.path.erase(bare.path.begin(),
                    bare.path.begin() + static_cast<std::ptrdiff_t>(folder.prefix_depth));
    bare.prefix_depth = 0;
    return apply(bare);
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
