#include "sync/progress.h"

namespace mf {

void start_folder(Progress& progress, const std::string& folder, const Snapshot& snap, std::size_t messages,
                  std::uint64_t bytes) {
    if (!snap.more || snap.messages.empty()) {
        progress.folder_started(folder, messages, bytes, false);
        return;
    }
    const std::size_t part = snap.messages.size();
    progress.note(folder + ": listed and copied in parts of " + std::to_string(part) + " messages");
    auto whole = static_cast<double>(bytes) * static_cast<double>(snap.total) / static_cast<double>(part);
    progress.folder_started(folder, snap.total, static_cast<std::uint64_t>(whole), true);
}

} // namespace mf
