#include "backends/pop3/listing.h"

#include "sync/sorted_index.h"

#include <algorithm>
#include <tuple>

namespace mf::pop3 {

void Listing::clear() { *this = Listing(); } // gives the memory back too

void Listing::reserve(std::size_t count) { m_entries.reserve(count); }

void Listing::add(std::string_view id, std::uint32_t number, std::uint64_t size) {
    // Servers give ids of one length, as a rule: the first one sizes the
    // arena (at most 64 MB up front; past that it grows as strings do).
    if (m_arena.empty() && m_entries.capacity() > 0)
        m_arena.reserve(std::min<std::size_t>(m_entries.capacity() * (id.size() + 1), std::size_t{64} << 20));
    m_entries.push_back(Entry{static_cast<std::uint32_t>(m_arena.size()), static_cast<std::uint32_t>(id.size()),
                              number, size});
    m_arena.append(id);
}

std::size_t Listing::seal() {
    // Equal ids sort by position, so the first copy leads its run.
    m_by_id = sorted_index(m_entries.size(), [&](std::uint32_t i) { return std::tuple(id(i), i); });
    m_duplicate.assign(m_entries.size(), false);
    std::size_t duplicates = 0;
    for (std::size_t k = 1; k < m_by_id.size(); ++k)
        if (id(m_by_id[k]) == id(m_by_id[k - 1])) {
            m_duplicate[m_by_id[k]] = true;
            ++duplicates;
        }
    return duplicates;
}

const Listing::Entry* Listing::find(std::string_view wanted) const {
    auto key = [&](std::uint32_t i) { return id(i); };
    for (auto it = lower_bound_in(m_by_id, wanted, key); it != m_by_id.end() && id(*it) == wanted; ++it)
        if (*it >= m_first_kept && !m_duplicate[*it]) return &m_entries[*it];
    return nullptr;
}

} // namespace mf::pop3
