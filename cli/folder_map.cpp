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

std::vector<FolderInfo> select_folders(const std::vector<FolderInfo>& all, const std::vector<std::string>& include,
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
            return fail(ErrorKind::usage, Scope::account, "--map takes SRC=DST, e.g. INBOX=Archive/Old-POP; got '" + spec + "'");
        map.m_rules.emplace_back(split(spec.substr(0, eq)), split(spec.substr(eq + 1)));
    }
    return map;
}

FolderInfo FolderMap::apply(const FolderInfo& folder) const {
    for (const auto& [from, to] : m_rules) {
        if (folder.path.size() < from.size() || !std::equal(from.begin(), from.end(), folder.path.begin())) continue;
        FolderInfo out = folder;
        out.path = to;
        out.path.insert(out.path.end(), folder.path.begin() + static_cast<std::ptrdiff_t>(from.size()), folder.path.end());
        return out;
    }
    return folder;
}

} // namespace mf::cli
