// Which messages a run is asked to handle: --since, --before, --max-size.
// The engine decides with this; a source may narrow its listing on the
// server first (IMAP UID SEARCH), but only ever to a superset of what
// admits() lets through, so the answer does not depend on the server.
#pragma once

#include "sync/model.h"

#include <cstdint>
#include <optional>
#include <string>

namespace mf {

struct MessageFilter {
    // Seconds since the epoch, UTC. A message is admitted when
    // since <= date < before. A message whose date is unknown (0) is
    // admitted: leaving out mail we cannot date would lose it silently.
    std::optional<std::int64_t> since;
    std::optional<std::int64_t> before;
    // Octets as the source counts them; larger messages are left out.
    std::optional<std::uint64_t> max_size;

    bool empty() const { return !since && !before && !max_size; }
    // Without a filter, no reason is ever built: plans ask for every message.
    bool admits(const RemoteMessage& m) const { return empty() || why_left_out(m).empty(); }
    // "" when admitted, else the reason for the report ("larger than 10 MB").
    std::string why_left_out(const RemoteMessage& m) const;
};

// How many messages a narrowed listing (Snapshot::narrowed) did not show:
// the source left them out for the filter. 0 for any other listing.
std::size_t left_unlisted(const Snapshot& snap);

} // namespace mf
