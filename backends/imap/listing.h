// What the files of ImapSource share about listing a folder: the UID FETCH
// that lists messages, and the collector of its answers. Internal to
// ImapSource (source.cpp, examine.cpp, listing.cpp, change_token.cpp,
// parts.cpp); other callers use source.h.
#pragma once

#include "backends/imap/fetch.h"
#include "backends/imap/response.h"
#include "sync/source.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mf::imap {

// What a listing asks of each message besides UID FLAGS RFC822.SIZE
// INTERNALDATE: on Gmail (X-GM-EXT-1) also X-GM-MSGID X-GM-LABELS, the
// message's identity across folders and its labels.
enum class ListingItems : std::uint8_t { standard, gmail };

// The items a body FETCH or a flags-only listing adds on Gmail ("" elsewhere).
std::string gmail_items(ListingItems items);

// A listing command for `set` (a UID set).
std::string listing_command(const std::string& set, const std::string& modifier = {},
                            ListingItems items = ListingItems::standard);

// Limits a listing to the messages whose mod-sequence is above `modseq`:
// new or re-flagged since (RFC 7162, the CHANGEDSINCE FETCH modifier).
std::string changed_since(std::uint64_t modseq);

// The UID SEARCH criteria for `filter` (not empty), wide enough to find
// every message it admits: SINCE and BEFORE compare the INTERNALDATE's date
// in the server's time zone (RFC 3501 6.4.4), so each is widened by a day
// and MessageFilter decides exactly; LARGER is strict, so NOT LARGER n is
// "size <= n".
std::string search_criteria(const MessageFilter& filter);

// A server may repeat a FETCH for one UID (flag updates): keep the last.
void sort_by_uid(std::vector<RemoteMessage>& messages);

// What a FETCH answer gives of a message's identity and labels (Gmail's
// X-GM-MSGID and X-GM-LABELS) into `m`.
void take_gmail_items(const FetchData& data, RemoteMessage& m);

// Gathers what the untagged answers to UID FETCH (UID FLAGS RFC822.SIZE
// INTERNALDATE) say of each message. With `only`, a FETCH for a UID not in
// it is left alone (another command's answer, or a flag change).
class Listing {
  public:
    Listing(std::vector<RemoteMessage>& out, std::uint32_t exists, std::string host,
            const std::vector<std::uint32_t>* only = nullptr);

    Status take(const Response& r);
    // The folder's message count as the last EXISTS and EXPUNGE left it.
    std::uint32_t exists() const { return m_exists; }
    Status check(const FolderInfo& folder) const;

  private:
    std::optional<std::size_t> position(std::uint32_t uid) const;

    std::vector<RemoteMessage>& m_out;
    std::size_t m_start;
    std::uint32_t m_exists;
    std::string m_host;
    const std::vector<std::uint32_t>* m_only;
    std::vector<bool> m_sized,
        m_sizeless; // with `only`: by position, lines with / without RFC822.SIZE
    std::size_t m_unreadable = 0;
};

} // namespace mf::imap
