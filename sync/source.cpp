#include "sync/source.h"

#include <algorithm>
#include <iterator>

namespace mf {

Status MessageSink::put(const RemoteMessage& message, std::uint64_t size, const Producer& produce) {
    if (auto s = begin(size); !s) return s;
    if (auto s = produce([this](std::string_view bytes) { return write(bytes); }); !s) {
        abandon();
        return s;
    }
    return finish(message);
}

Status gather_parts(Source& source, Snapshot& snap) {
    std::vector<RemoteMessage> all = std::move(snap.messages);
    while (snap.more) {
        if (auto s = source.next_part(snap); !s) return s;
        std::move(snap.messages.begin(), snap.messages.end(), std::back_inserter(all));
    }
    snap.messages = std::move(all);
    snap.listing = ListingKind::whole;
    return {};
}

Status fetch_in_chunks(Source& source, const std::vector<std::string>& ids, MessageSink& sink, std::size_t chunk) {
    for (std::size_t at = 0; at < ids.size(); at += chunk) {
        auto end = std::min(ids.size(), at + chunk);
        if (auto s = source.fetch(std::span(ids).subspan(at, end - at), sink); !s) return s;
    }
    return {};
}

} // namespace mf
