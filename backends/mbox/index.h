// The index beside each mbox, <file>.mbox.mfindex (store.h has the archive's
// layout): what of the mbox is mailferry's, from which a lost state database
// is rebuilt. Its lines are made and replayed here; pure, but for read_index.
//
// Index format: text, append-only, one record per line ending in '\n'. Fields
// are separated by one space; ids are spelled by mail::escape_id (so they
// hold no space). Lines are applied in order:
//
//   M <offset> <length> <validity> <id> <crlf-size> <flags>
//       a message stored at byte <offset> of the mbox, <length> bytes from
//       its From_ line through the separator blank line, under the source's
//       <validity> with source id <id>; <crlf-size> is the server's size
//   F <validity> <id> <flags>
//       a later flag change of that message
//   V <old-validity> <old-id> <new-validity> <new-id>
//       a rename after a UIDVALIDITY change (FolderStore::revalidate)
//   B <offset>
//       written once, first, when mailferry starts appending to an mbox that
//       it did not create: the <offset> bytes before are the user's own
//       messages, never rolled back and never held
//
//   <flags> is "-" for none, else the system flags as letters in this order
//   (Maildir's letters): D draft, F flagged, R answered, S seen, T deleted;
//   then ",<keyword>" for each keyword, escaped by escape_id. E.g. "FS",
//   "S,$Forwarded,work", ",todo" (a keyword only).
//
// A last line without '\n' was torn by a crash: it is ignored and cut away on
// the next load. Unknown or malformed complete lines are ignored.
#pragma once

#include "sync/flags.h"
#include "sync/result.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace mf::mbox {

struct IndexRecord {
    std::uint32_t validity = 0;
    std::string id; // unescaped
    std::uint64_t offset = 0, length = 0;
    std::uint64_t size = 0; // the server's size (CRLF octets)
    Flags flags;

    std::uint64_t end() const { return offset + length; }
};

std::string flags_text(const Flags& flags);
// nullopt when malformed; unknown system letters are ignored.
std::optional<Flags> parse_flags_text(std::string_view text);

// Complete lines, '\n' included.
std::string message_line(const IndexRecord& record);
std::string flags_line(std::uint32_t validity, const std::string& id, const Flags& flags);
std::string rename_line(std::uint32_t old_validity, const std::string& old_id,
                        std::uint32_t new_validity, const std::string& new_id);
std::string base_line(std::uint64_t offset);

// Replays an index, line by line, into the records it describes now.
class IndexReplay {
  public:
    // One complete line, without its '\n'.
    void apply(std::string_view line);

    std::uint64_t base() const { return m_base; }
    // The validities of the last V line, if any.
    std::optional<std::pair<std::uint32_t, std::uint32_t>> last_rename() const {
        return m_last_rename;
    }
    // Every live record, of all validities, in mbox order.
    std::vector<IndexRecord> records() const;
    // The same, moved out: the replay is left empty, and a large index is
    // never held twice (map and vector) at once.
    std::vector<IndexRecord> take_records();

  private:
    static std::string key(std::uint32_t validity, const std::string& id);

    std::unordered_map<std::string, IndexRecord> m_records;
    std::uint64_t m_base = 0;
    std::optional<std::pair<std::uint32_t, std::uint32_t>> m_last_rename;
};

// An index file read and replayed. A missing file reads as empty.
struct IndexFile {
    IndexReplay replay;
    bool exists = false;
    std::uint64_t complete_bytes = 0; // up to and including the last '\n'
    bool torn = false;                // bytes follow the last '\n'
};
Result<IndexFile> read_index(const std::string& path);

} // namespace mf::mbox
