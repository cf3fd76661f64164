#include "sync/source.h"

#include <algorithm>

namespace mf {

Status MessageSink::put(const RemoteMessage& message, std::uint64_t size, const Producer& produce) {
    if (auto s = begin(size); !s) return s;
    if (auto s = produce([this](std::string_view bytes) { return write(bytes); }); !s) {
        abandon();
        return s;
    }
    return finish(message);
}

Status fetch_in_chunks(Source& source, const std::vector<std::string>& ids, MessageSink& sink, std::size_t chunk) {
    for (std::size_t at = 0; at < ids.size(); at += chunk) {
        auto end = std::min(ids.size(), at + chunk);
        if (auto s = source.fetch(std::span(ids).subspan(at, end - at), sink); !s) return s;
    }
    return {};
}

} // namespace mf
