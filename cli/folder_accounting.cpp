#include "cli/folder_accounting.h"

#include "backends/archive/folder_path.h"
#include "cli/folder_map.h"
#include "cli/output.h"

#include <iostream>
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

std::vector<FolderReport> take_special_uses(std::vector<FolderInfo>& selected,
                                            const std::vector<std::string>& uses) {
    std::vector<FolderReport> out;
    std::erase_if(selected, [&](const FolderInfo& f) {
        std::string use = special_use_among(f, uses);
        if (use.empty()) return false;
        out.push_back(left(f.display(), "left out by --skip-special-use (" + use + ")"));
        return true;
    });
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
        std::string name = folder_name(h);
        if ((!include.empty() && !matches_any(include, name)) || matches_any(exclude, name))
            continue;
        out.push_back(left(name, "gone from the server; its " + std::to_string(h.messages) +
                                     (h.messages == 1 ? " message is" : " messages are") +
                                     " kept in the archive"));
    }
    return out;
}

std::string folder_name(const archive::StateDb::FolderSummary& folder) {
    std::string out;
    for (std::size_t i = 0; i < folder.name.size(); ++i)
        out += (i ? "/" : "") + folder.name[i];
    return out;
}

void warn_of_lost_names(archive::StateDb& db) {
    auto folders = db.summaries();
    if (!folders) return; // the run reads the same database and says what is wrong
    for (const auto& f : *folders)
        if (f.name_lost && f.messages > 0)
            std::cerr << "warning: " << printable(folder_name(f))
                      << ": the archive was made before mailferry kept long folder names and "
                         "holds no full name for this folder; it is read under its shortened "
                         "name\n";
}

} // namespace mf::cli
