// Listing a large folder in parts: ESEARCH names every UID, then UID FETCH
// lists them a part at a time. The listing of each next part is sent behind
// the body FETCH of the one before (ImapSource::fetch_listing_ahead, in
// source.cpp).
#include "backends/imap/source.h"

#include "backends/imap/listing.h"
#include "backends/imap/uid_set.h"
#include "sync/memory.h"

#include <algorithm>

namespace mf::imap {

namespace {

// Folders up to this size are listed at once: their listing is small, and
// every part costs a round trip between fetches, dear on a slow link.
constexpr std::size_t k_min_parted = 4096;

} // namespace

// Parts only for a large folder (each costs a round trip between fetches),
// and only with ESEARCH.
bool ImapSource::in_parts(std::size_t part_size, std::uint32_t exists) const {
    return part_size > 0 && exists > std::max(part_size, k_min_parted) && m_session->has("ESEARCH");
}

// UID SEARCH with ESEARCH (RFC 4731) names every UID of the folder in a few
// bytes ("1:20000"); then UID FETCH lists them a part at a time. UIDs, not
// sequence numbers, name the parts: an expunge between parts shifts no part.
Status ImapSource::list_in_parts(const FolderInfo& folder, const Examined& now,
                                 std::size_t part_size, Snapshot& snap) {
    m_parts = Parts{};
    m_parts.folder = folder;
    m_parts.size = part_size;
    m_parts.exists = now.exists;
    std::optional<std::string> set;
    auto searched = m_session->run_ok("UID SEARCH RETURN (ALL) ALL", "listing " + folder.display(),
                                      [&](const Response& r) -> Status {
                                          if (r.items.empty() || !is_atom(r.items[0], "ESEARCH"))
                                              return {};
                                          for (std::size_t i = 1; i + 1 < r.items.size(); ++i)
                                              if (is_atom(r.items[i], "ALL"))
                                                  set = as_string(r.items[i + 1]);
                                          return {};
                                      });
    if (!searched) return std::unexpected(searched.error());
    // Never more UIDs than the folder announced (with some slack).
    if (set) m_parts.uids = uid_ranges(*set, std::size_t{now.exists} + 1000);
    for (const auto& [lo, hi] : m_parts.uids)
        m_parts.total += std::size_t{hi} - lo + 1;
    if (m_parts.total != now.exists || m_parts.uids.empty()) {
        // No answer, an unreadable one, or one that disagrees with EXISTS (an
        // expunge meanwhile, or a broken server): list the folder whole,
        // never trust a part-listing to have named every message. A listing
        // sent behind EXAMINE is older than that disagreement: listed afresh.
        m_parts = Parts{};
        m_prelisted.reset();
        return list(folder, snap, now.exists);
    }
    snap.total = now.exists;
    snap.listing = ListingKind::parts;
    return list_next_part(snap);
}

std::vector<std::uint32_t> ImapSource::take_next_part(bool& more) {
    Parts& p = m_parts;
    std::vector<std::uint32_t> part;
    part.reserve(std::min(p.size, p.total - p.listed));
    if (p.listed == 0) p.next_uid = p.uids[0].first;
    while (part.size() < p.size && p.range < p.uids.size()) {
        if (p.next_uid > p.uids[p.range].second) {
            if (++p.range < p.uids.size()) p.next_uid = p.uids[p.range].first;
            continue;
        }
        part.push_back(static_cast<std::uint32_t>(p.next_uid++));
    }
    p.listed += part.size();
    more = p.listed < p.total;
    if (!more) release(p.uids);
    return part;
}

Status ImapSource::list_next_part(Snapshot& snap) {
    snap.messages.clear();
    auto part = take_next_part(snap.more);
    snap.messages.reserve(part.size());
    for (const auto& set : uid_sets(std::move(part), k_max_uid_set_chars))
        if (auto s = list_range(m_parts.folder, set, "", snap, m_parts.exists); !s) return s;
    sort_by_uid(snap.messages);
    return {};
}

} // namespace mf::imap
