#include "cli/folder_accounting.h"

#include "backends/archive/folder_path.h"
#include "cli/folder_map.h"

#include <unordered_set>

namespace mf::cli {

namespace {

FolderReport left(const std::string& name, std::string why) {
    FolderReport r;
    r.folder = name;
    r.sessions = 0;
    r.left_out = std::move(why);
    return r;
}

} // namespace

std::vector<FolderReport> left_out(const std::vector<FolderInfo>& all,
                                   const std::vector<std::string>& include,
                                   const std::vector<std::string>& exclude) {
    std::vector<FolderReport> out;
    for (const auto& f : all) {
        std::string name = f.display();
        if (!f.selectable)
            out.push_back(left(name, "not a mailbox: holds folders only"));
        else if (!include.empty() && !matches_any(include, name))
            out.push_back(left(name, "not matched by --folder"));
        else if (matches_any(exclude, name))
            out.push_back(left(name, "excluded by --exclude"));
    }
    return out;
}

std::vector<FolderReport> gone_from_server(const std::vector<archive::StateDb::FolderSummary>& held,
                                           const std::vector<FolderInfo>& all,
                                           const std::vector<std::string>& include,
                                           const std::vector<std::string>& exclude) {
    std::unordered_set<std::string> listed;
    for (const auto& f : all)
        listed.insert(archive::relative_folder_path(f.path));
    std::vector<FolderReport> out;
    for (const auto& h : held) {
        if (h.messages == 0 || listed.contains(h.path)) continue;
        std::string name = folder_name(h.path);
        if ((!include.empty() && !matches_any(include, name)) || matches_any(exclude, name))
            continue;
        out.push_back(left(name, "gone from the server; its " + std::to_string(h.messages) +
                                     (h.messages == 1 ? " message is" : " messages are") +
                                     " kept in the archive"));
    }
    return out;
}

std::string folder_name(const std::string& rel) {
    std::string out;
    std::size_t start = 0;
    for (;;) {
        auto at = rel.find('/', start);
        std::string part = rel.substr(start, at - start);
        if (!out.empty()) out += '/';
        out += archive::unescape_component(part).value_or(part);
        if (at == std::string::npos) return out;
        start = at + 1;
    }
}

} // namespace mf::cli
