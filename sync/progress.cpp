#include "sync/progress.h"

namespace mf {

void start_folder(Progress& progress, const std::string& folder, const Snapshot& snap,
                  std::size_t messages, std::uint64_t bytes) {
    if (!snap.more || snap.messages.empty()) {
        progress.folder_started(folder, messages, bytes, false);
        return;
    }
    const std::size_t part = snap.messages.size();
    progress.note(folder + ": listed and copied in parts of " + std::to_string(part) + " messages");
    auto whole =
        static_cast<double>(bytes) * static_cast<double>(snap.total) / static_cast<double>(part);
    progress.folder_started(folder, snap.total, static_cast<std::uint64_t>(whole), true);
}

std::string folder_label(const FolderReport& report) {
    if (report.target_folder.empty()) return report.folder;
    return report.folder + " \u2192 " + report.target_folder;
}

std::string describe_failed(const std::vector<MessageProblem>& failed, std::string_view verb) {
    std::string text = std::to_string(failed.size()) +
                       (failed.size() == 1 ? " message" : " messages") + " could not be " +
                       std::string(verb) + ": ";
    for (std::size_t i = 0; i < failed.size() && i < 5; ++i)
        text += (i ? "; " : "") + std::string("id ") + failed[i].id + ": " + failed[i].what;
    if (failed.size() > 5) text += "; ...";
    return text;
}

} // namespace mf
