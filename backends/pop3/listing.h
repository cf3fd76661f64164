// A POP3 mailbox as LIST and UIDL gave it: (message number, size, id) in
// message-number order, the ids in one arena: a fraction of what a map of
// strings took, which matters since a large mailbox is listed on every run
// (UIDL has no "since").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mf::pop3 {

class Listing {
  public:
    struct Entry {
        std::uint64_t size = 0;   // as LIST gave it
        std::uint32_t offset = 0; // the id, in the arena (its length: id())
        std::uint32_t number = 0; // the message number in this session
    };

    void clear(); // gives the memory back too
    // LIST, line by line; a number listed again keeps its last size.
    void add_listed(std::uint32_t number, std::uint64_t size);
    // After LIST: sorts by number. Returns how many messages there are.
    std::size_t end_listed();
    // UIDL (or a fingerprint) for a listed number; false if LIST did not
    // have the number or it has an id already. Ids are 1 to 65 535 bytes
    // (bounded_uidl keeps them at k_max_uidl).
    bool set_id(std::uint32_t number, std::string_view id);
    // Forgets every id, keeping what LIST said (UIDL failed: fingerprints next).
    void clear_ids();
    // Ends the listing: an id listed again is a duplicate (the first copy
    // counts). Returns how many duplicates there are.
    std::size_t seal();

    std::size_t size() const { return m_entries.size(); }
    const Entry& entry(std::size_t i) const { return m_entries[i]; }
    bool has_id(std::size_t i) const { return m_length[i] > 0; }
    std::string_view id(std::size_t i) const {
        return std::string_view(m_arena).substr(m_entries[i].offset, m_length[i]);
    }
    // Not a message of the snapshot: no id (UIDL left it out), or a duplicate.
    bool skipped(std::size_t i) const { return m_skipped[i]; }
    // The first entry with this id at or after `first_kept`; null if none.
    const Entry* find(std::string_view id) const;
    // find() forgets entries before `first` (a run fetches only later ones).
    void keep_from(std::size_t first) { m_first_kept = first; }

  private:
    std::string m_arena;
    std::vector<Entry> m_entries;        // by number, once LIST has ended
    std::vector<std::uint16_t> m_length; // of each entry's id; 0: none
    std::vector<std::uint32_t> m_by_id;  // entries with ids, by id then position
    std::vector<bool> m_skipped;
    std::size_t m_first_kept = 0;
};

} // namespace mf::pop3
