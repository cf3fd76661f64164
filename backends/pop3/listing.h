// A POP3 mailbox as LIST and UIDL gave it: (id, message number, size) in
// listing order, the ids in one arena. About 40 bytes a message where a map
// of strings took ~130: a 50 000-message mailbox is listed on every run,
// since UIDL has no "since".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mf::pop3 {

class Listing {
  public:
    struct Entry {
        std::uint32_t offset = 0, length = 0; // the id, in the arena
        std::uint32_t number = 0;             // the message number in this session
        std::uint64_t size = 0;               // as LIST gave it
    };

    void clear();
    // Room for `count` messages, so that growing never holds the old and
    // the new copy at once (at 50 000 messages, a megabyte at the peak).
    void reserve(std::size_t count);
    // In listing order; ids are at most k_max_uidl bytes (bounded_uidl).
    void add(std::string_view id, std::uint32_t number, std::uint64_t size);
    // Ends the listing: an id listed again is a duplicate (the first copy
    // counts). Returns how many duplicates there are.
    std::size_t seal();

    std::size_t size() const { return m_entries.size(); }
    std::string_view id(std::size_t i) const { return std::string_view(m_arena).substr(m_entries[i].offset, m_entries[i].length); }
    const Entry& entry(std::size_t i) const { return m_entries[i]; }
    bool duplicate(std::size_t i) const { return m_duplicate[i]; }
    // The first entry with this id at or after `first_kept`; null if none.
    const Entry* find(std::string_view id) const;
    // find() forgets entries before `first` (a run fetches only later ones).
    void keep_from(std::size_t first) { m_first_kept = first; }

  private:
    std::string m_arena;
    std::vector<Entry> m_entries;
    std::vector<std::uint32_t> m_by_id; // entry positions, by id then position
    std::vector<bool> m_duplicate;
    std::size_t m_first_kept = 0;
};

} // namespace mf::pop3
