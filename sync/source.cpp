#include "sync/source.h"

#include <algorithm>

namespace mf {

Status fetch_in_chunks(Source& source, const std::vector<std::string>& ids, MessageSink& sink, std::size_t chunk) {
    for (std::size_t at = 0; at < ids.size(); at += chunk) {
        auto end = std::min(ids.size(), at + chunk);
        std::vector<std::string> part(ids.begin() + static_cast<std::ptrdiff_t>(at),
                                      ids.begin() + static_cast<std::ptrdiff_t>(end));
        if (auto s = source.fetch(part, sink); !s) return s;
    }
    return {};
}

} // namespace mf
