#include "sync/export.h"

namespace mf {

namespace {

// Listed and fetched this many at a time: bounds what one folder's
// listing holds in memory and how long one fetch command grows.
constexpr std::size_t k_part_size = 1000;
constexpr std::size_t k_fetch_chunk = 100;

// Fetches the admitted messages of one part of the listing.
Status export_part(Source& source, const Snapshot& snap, const MessageFilter& filter,
                   ExportSink& sink, ExportCounts& counts) {
    std::vector<std::string> ids;
    for (const auto& m : snap.messages) {
        if (filter.admits(m))
            ids.push_back(m.id);
        else
            ++counts.left_out;
    }
    counts.listed += snap.messages.size();
    std::size_t failed_before = counts.failed.size();
    auto s = fetch_isolating(source, ids, sink.messages(), k_fetch_chunk, counts.failed);
    if (!s) return s;
    counts.exported += ids.size() - (counts.failed.size() - failed_before);
    return {};
}

} // namespace

Result<ExportCounts> export_folder(Source& source, const FolderInfo& folder,
                                   const MessageFilter& filter, ExportSink& sink) {
    auto snap = source.open(folder, OpenRequest{.known_token = {}, .part_size = k_part_size});
    if (!snap) return std::unexpected(snap.error());
    if (auto s = sink.begin_folder(folder); !s) return std::unexpected(s.error());
    ExportCounts counts;
    for (;;) {
        if (auto s = export_part(source, *snap, filter, sink, counts); !s)
            return std::unexpected(s.error());
        if (!snap->more) break;
        if (auto s = source.next_part(*snap); !s) return std::unexpected(s.error());
    }
    if (auto s = sink.end_folder(); !s) return std::unexpected(s.error());
    return counts;
}

} // namespace mf
