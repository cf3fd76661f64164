#include "backends/pop3/listing.h"

#include "sync/sorted_index.h"

#include <algorithm>
#include <tuple>

namespace mf::pop3 {

void Listing::clear() {
    *this = Listing();
}

void Listing::add_listed(std::uint32_t number, std::uint64_t size) {
    m_entries.push_back(Entry{size, 0, number});
}

std::size_t Listing::end_listed() {
    // Servers list in order; a repeated number counts once, its last size.
    std::stable_sort(m_entries.begin(), m_entries.end(),
                     [](const Entry& a, const Entry& b) { return a.number < b.number; });
    auto last = std::unique(m_entries.rbegin(), m_entries.rend(),
                            [](const Entry& a, const Entry& b) { return a.number == b.number; });
    m_entries.erase(m_entries.begin(), last.base());
    m_length.assign(m_entries.size(), 0);
    return m_entries.size();
}

bool Listing::set_id(std::uint32_t number, std::string_view id) {
    auto at = std::lower_bound(m_entries.begin(), m_entries.end(), number,
                               [](const Entry& e, std::uint32_t n) { return e.number < n; });
    if (at == m_entries.end() || at->number != number || id.empty() || id.size() > 0xffff)
        return false;
    const auto i = static_cast<std::size_t>(at - m_entries.begin());
    if (m_length[i] > 0) return false;
    // Servers give ids of one length, as a rule: the first one sizes the
    // arena (at most 64 MB up front; past that it grows as strings do).
    if (m_arena.empty())
        m_arena.reserve(std::min<std::size_t>(m_entries.size() * id.size(), std::size_t{64} << 20));
    at->offset = static_cast<std::uint32_t>(m_arena.size());
    m_length[i] = static_cast<std::uint16_t>(id.size());
    m_arena.append(id);
    return true;
}

void Listing::clear_ids() {
    std::string().swap(m_arena);
    m_length.assign(m_entries.size(), 0);
    m_by_id.clear();
    m_skipped.clear();
    m_first_kept = 0;
}

std::size_t Listing::seal() {
    // Equal ids sort by position, so the first copy leads its run; entries
    // without an id ("") sort first and are dropped from the index.
    m_by_id = sorted_index(m_entries.size(), [&](std::uint32_t i) { return std::tuple(id(i), i); });
    std::erase_if(m_by_id, [&](std::uint32_t i) { return !has_id(i); });
    m_skipped.assign(m_entries.size(), false);
    for (std::size_t i = 0; i < m_entries.size(); ++i)
        m_skipped[i] = !has_id(i);
    std::size_t duplicates = 0;
    for (std::size_t k = 1; k < m_by_id.size(); ++k)
        if (id(m_by_id[k]) == id(m_by_id[k - 1])) {
            m_skipped[m_by_id[k]] = true;
            ++duplicates;
        }
    return duplicates;
}

const Listing::Entry* Listing::find(std::string_view wanted) const {
    auto key = [&](std::uint32_t i) { return id(i); };
    for (auto it = lower_bound_in(m_by_id, wanted, key); it != m_by_id.end() && id(*it) == wanted;
         ++it)
        if (*it >= m_first_kept && !m_skipped[*it]) return &m_entries[*it];
    return nullptr;
}

} // namespace mf::pop3
