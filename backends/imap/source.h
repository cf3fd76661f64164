// An IMAP account as a backup source. Read-only by construction: folders are
// opened with EXAMINE and bodies fetched with BODY.PEEK[], so no flag changes
// on the server (RFC 3501 6.3.2, 6.4.5).
#pragma once

#include "backends/imap/listing.h"
#include "backends/imap/namespace.h"
#include "backends/imap/session.h"
#include "sync/source.h"

#include <functional>
#include <map>
#include <memory>
#include <optional>

namespace mf::imap {

struct ListedFolder {
    FolderInfo info;
    std::string raw_name;   // as the server spells it (modified UTF-7, or UTF-8 under UTF8=ACCEPT)
    char separator = 0;     // 0: flat (NIL)
    bool name_valid = true; // false: not valid modified UTF-7 (UTF-8 under UTF8=ACCEPT), shown raw
};

// What NAMESPACE (RFC 2342) answered when it was sent along with LIST.
struct NamespaceAnswer {
    bool answered = false; // OK; false where not offered or refused
    std::optional<PersonalNamespace> personal;
};

// LIST "" "*", decoded and split on the server's separator. With
// `with_counts` and LIST-STATUS (RFC 5819), each folder's message count
// comes in the same answer: no extra round trip; with CONDSTORE too, so does
// its change token (FolderInfo::change_token). With `ns`, NAMESPACE goes out
// right behind the LIST, answered in the same round trip.
Result<std::vector<ListedFolder>> list_all(Session& session, bool with_counts = false,
                                           NamespaceAnswer* ns = nullptr);

// The server's personal namespace (NAMESPACE, RFC 2342); nullopt where the
// server has no NAMESPACE or names no personal namespace.
Result<std::optional<PersonalNamespace>> read_personal_namespace(Session& session);
// Sets each folder's FolderInfo::prefix_depth from the personal namespace.
void mark_personal_prefix(const Session& session, std::vector<ListedFolder>& folders,
                          const std::optional<PersonalNamespace>& ns);

// What one "* STATUS name (...)" response says, each item where it was given.
struct StatusData {
    std::string name; // as the server spells it
    std::optional<std::uint32_t> messages, uidnext, uidvalidity;
    std::optional<std::uint64_t> highestmodseq;
};
// nullopt if `r` is not a STATUS response with a readable name and list.
std::optional<StatusData> parse_status(const Response& r);

// The change token of a folder with CONDSTORE: the same whether EXAMINE or
// STATUS gave the four values. "" without a usable HIGHESTMODSEQ (absent, or
// 0, which STATUS gives for a folder without persistent mod-sequences).
std::string condstore_token(std::uint32_t validity, std::optional<std::uint32_t> uidnext,
                            std::optional<std::uint64_t> modseq, std::uint32_t exists);
// A folder's token from its STATUS: "" unless all four values came.
std::string status_token(const StatusData& d);
// The change token of a folder without CONDSTORE: UIDVALIDITY and UIDNEXT,
// which say where the new mail starts but nothing of flag changes, so two
// equal ones never mean "unchanged" (see ImapSource::list_known_and_new).
std::string uidnext_token(std::uint32_t validity, std::uint32_t uidnext);

class ImapSource : public Source {
  public:
    explicit ImapSource(std::unique_ptr<Session> session);
    Result<std::vector<FolderInfo>> list_folders() override;
    std::shared_ptr<const ListingMemo> listing_memo() const override;
    Result<bool> adopt_listing(const std::shared_ptr<const ListingMemo>& memo) override;
    using Source::open;
    Result<Snapshot> open(const FolderInfo& folder, const OpenRequest& request) override;
    Status next_part(Snapshot& snap) override;
    Status fetch(std::span<const std::string> ids, MessageSink& sink) override;
    Result<std::vector<MessageKey>> keys(const std::vector<std::string>& ids) override;
    Result<std::vector<std::pair<std::string, std::string>>>
    headers(const std::vector<std::string>& ids) override;
    Status remove(const std::vector<std::string>& ids) override;
    Status close() override { return {}; }
    std::vector<std::string> marked_read_by_fetch() const override;
    Status undo_marked_read(const std::vector<std::string>& ids) override;
    std::optional<std::uint64_t> daily_download_allowance() const override;
    std::size_t max_connections() const override;
    Session& session() { return *m_session; }

  private:
    struct Examined {
        std::uint32_t validity = 0, exists = 0;
        std::optional<std::uint32_t> uidnext;
        std::optional<std::uint64_t> modseq; // HIGHESTMODSEQ (CONDSTORE)
    };
    // What a recorded change token says of the folder then. A token of a
    // folder without CONDSTORE (uidnext_token) has modseq and exists 0.
    struct Known {
        std::uint32_t validity = 0, uidnext = 0, exists = 0;
        std::uint64_t modseq = 0;
    };
    // Whether EXAMINE gave what a CONDSTORE token needs (HIGHESTMODSEQ, not 0).
    static bool has_modseq(const Examined& e) { return e.uidnext && e.modseq && *e.modseq != 0; }
    static std::string token_of(const Examined& e) {
        if (has_modseq(e)) return condstore_token(e.validity, e.uidnext, e.modseq, e.exists);
        return e.uidnext ? uidnext_token(e.validity, *e.uidnext) : std::string();
    }
    static std::optional<Known> parse_token(const std::string& token);
    // Gmail (X-GM-EXT-1, never told by its host name): listings and body
    // fetches also ask for X-GM-MSGID and X-GM-LABELS.
    ListingItems listing_items() const {
        return m_session->has("X-GM-EXT-1") ? ListingItems::gmail : ListingItems::standard;
    }
    // listing_command() with this server's items.
    std::string listing_for(const std::string& set, const std::string& modifier = {}) const {
        return listing_command(set, modifier, listing_items());
    }
    class ExamineAnswer; // what the answer to EXAMINE says of the folder
    Result<Examined> examine(const FolderInfo& folder);
    // SELECT, read-write: only for undo_marked_read().
    Result<Examined> select(const FolderInfo& folder);
    // `command` made of the folder's name as an argument, and its answer read.
    Result<Examined> open_as(const FolderInfo& folder,
                             const std::function<std::string(const std::string&)>& command);
    // Whether a folder of `exists` messages is listed in parts (see open).
    bool in_parts(std::size_t part_size, std::uint32_t exists) const;
    // EXAMINE with a listing sent right behind it, in the same round trip;
    // its answer waits in m_prelisted for list_range() (see predicted_listing).
    Result<Examined> examine_and_list(const FolderInfo& folder, const std::string& listing);
    // The listing open() will ask for once EXAMINE has answered, when the
    // folder list's STATUS lets it be told beforehand; "" when it does not.
    std::string predicted_listing(const FolderInfo& folder, const OpenRequest& request) const;
    Result<Snapshot> list_opened(const FolderInfo& folder, const OpenRequest& request,
                                 const Examined& e);
    Status list(const FolderInfo& folder, Snapshot& snap, std::uint32_t exists);
    // Only what UID SEARCH finds for `filter` (Snapshot::narrowed).
    Status list_filtered(const FolderInfo& folder, const MessageFilter& filter, Snapshot& snap,
                         std::uint32_t exists);
    Status list_changes(const FolderInfo& folder, const Known& known, const Examined& now,
                        Snapshot& snap);
    // Without CONDSTORE: the known UIDs with their flags only, the new ones
    // whole; false (nothing listed) when the count shows that this is not
    // the whole folder.
    Result<bool> list_known_and_new(const FolderInfo& folder, const Known& known,
                                    const Examined& now, Snapshot& snap);
    // Appends what UID FETCH <uids> says of each message to snap.messages.
    // `exists_after`: the count as EXISTS and EXPUNGE during the listing left it.
    Status list_range(const FolderInfo& folder, const std::string& uids,
                      const std::string& modifier, Snapshot& snap, std::uint32_t exists,
                      std::uint32_t* exists_after = nullptr);
    // The same for any listing command (UID FETCH with UID among its items).
    Status list_by(const FolderInfo& folder, const std::string& command, Snapshot& snap,
                   std::uint32_t exists, std::uint32_t* exists_after);
    // Checks a whole listing against the folder's counts, paging down by UID
    // where it fell short (see listing.cpp).
    Status complete(const FolderInfo& folder, Snapshot& snap, std::uint32_t exists);
    std::unexpected<Failure> short_listing(const FolderInfo& folder, std::size_t listed,
                                           const std::string& count) const;

    Status list_in_parts(const FolderInfo& folder, const Examined& now, std::size_t part_size,
                         Snapshot& snap);
    Status list_next_part(Snapshot& snap);
    // The UIDs of the next part (sorted), moving on past them; `more`: parts after it.
    std::vector<std::uint32_t> take_next_part(bool& more);
    bool parts_left() const { return m_parts.listed < m_parts.total; }
    class BodyHandler; // streams BODY[] literals into a MessageSink
    // One body FETCH, with the next part's listing sent behind it.
    Status fetch_listing_ahead(const std::string& command, const UntaggedHandler& on_body,
                               const UntaggedHandler& on_other, BodyHandler& body);

    // The folder open() opened last, and its UIDVALIDITY.
    FolderInfo m_open;
    std::uint32_t m_open_validity = 0;
    // Of the listing handed out last (open, next_part): the UIDs it showed
    // without \Seen, sorted. A body FETCH that comes back with \Seen for one
    // of them was marked read by the server (iCloud, issue 18): the archive
    // keeps it unread, and its UID goes to m_marked_read.
    void remember_unseen(const std::vector<RemoteMessage>& listed);
    // Takes back from `flags` (a body FETCH's, for `uid`) the \Seen the fetch caused.
    void keep_listed_unseen(std::uint32_t uid, Flags& flags);
    std::vector<std::uint32_t> m_unseen;
    std::vector<std::uint32_t> m_marked_read;

    std::unique_ptr<Session> m_session;
    std::map<std::vector<std::string>, std::string> m_raw_names;
    // A listing in parts: the folder's UIDs as sorted ranges, and where the
    // next part starts (the range, and the UID in it).
    struct Parts {
        FolderInfo folder;
        std::vector<std::pair<std::uint32_t, std::uint32_t>> uids;
        std::size_t size = 0;
        std::uint32_t exists = 0;
        std::size_t range = 0;
        std::uint64_t next_uid = 0;
        std::size_t total = 0, listed = 0;
    };
    Parts m_parts;
    // The next part's listing, asked for behind the current part's body
    // FETCH (see fetch_listing_ahead) and handed out by next_part().
    struct Ahead {
        bool asked = false;
        bool more = false; // parts after this one
        std::vector<std::uint32_t> uids;
        std::vector<RemoteMessage> messages;
        std::optional<Failure> failure; // given by next_part()
    };
    Ahead m_ahead;
    // A listing sent behind EXAMINE and its answer, taken by the list_range()
    // that asks for the same command; dropped by any other.
    struct Prelisted {
        std::string command;
        std::vector<RemoteMessage> messages;
        Status status;
        std::uint32_t exists = 0; // as the listing's EXISTS and EXPUNGE left it
    };
    std::optional<Prelisted> m_prelisted;
};

// A mailbox name as a command argument: quoted, or a literal (see
// Session::send) where a quoted string cannot carry it (8-bit bytes, CR,
// LF); a failure for NUL, which neither can.
Result<std::string> mailbox_argument(std::string_view raw_name);

// ENABLE UTF8=ACCEPT where offered; list_all() then reads names as UTF-8.
Result<bool> enable_utf8(Session& session);

} // namespace mf::imap
