#include "sync/filter.h"

#include <algorithm>

namespace mf {

std::string MessageFilter::why_left_out(const RemoteMessage& m) const {
    if (max_size && m.size > *max_size) return "larger than --max-size";
    if (m.internal_date == 0) return "";
    if (since && m.internal_date < *since) return "older than --since";
    if (before && m.internal_date >= *before) return "not before --before";
    return "";
}

std::size_t left_unlisted(const Snapshot& snap) {
    if (!snap.narrowed) return 0;
    return snap.total - std::min(snap.total, snap.messages.size());
}

} // namespace mf
