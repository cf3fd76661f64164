// The source side of a sync: something that lists folders and streams
// messages (an IMAP account, a POP3 mailbox, a local archive).
//
// Contract: a Source never changes anything on the server unless a method
// says so by name. Methods that fail with Scope::session leave the source
// unusable; Scope::folder failures leave it usable for other folders.
#pragma once

#include "sync/filter.h"
#include "sync/model.h"
#include "sync/result.h"

#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace mf {

// Receives messages one at a time as they stream in. A message's metadata is
// given at the end because some servers send the UID after the body.
class MessageSink {
  public:
    virtual ~MessageSink() = default;
    virtual Status begin(std::uint64_t size_hint) = 0;
    // Raw bytes as the server sent them (CRLF line ends), in order.
    virtual Status write(std::string_view chunk) = 0;
    // The message is complete; `message` names it. The sink may not yet have
    // made it durable: see FolderStore::commit.
    virtual Status finish(const RemoteMessage& message) = 0;
    // The message in progress is incomplete; drop what was written of it.
    virtual void abandon() = 0;

    // Produces a message's bytes on demand: calls `send` with exactly the
    // octets promised, in order, as they go on the wire (CRLF line ends).
    using Send = std::function<Status(std::string_view)>;
    using Producer = std::function<Status(const Send& send)>;
    // A whole message whose exact size the source knows before its first
    // byte (a file it has measured). A sink that must state the size before
    // the bytes (IMAP APPEND) can then stream it rather than hold it; by
    // default it goes through begin, write and finish.
    virtual Status put(const RemoteMessage& message, std::uint64_t size, const Producer& produce);
};

// Headers asked for when messages must be matched by content (after a
// UIDVALIDITY change, or against a target filled by another tool).
struct MessageKey {
    std::string id;
    std::string message_id;
    std::uint64_t size = 0;
    std::int64_t date = 0; // where the snapshot had none (POP3): from the headers
};

// What the engine asks of Source::open.
struct OpenRequest {
    // The change token the last complete run of the folder recorded; "" when
    // there is none or the whole folder is wanted. Given, the source may
    // answer ListingKind::unchanged when the folder's token still equals it, or
    // ListingKind::delta when the token shows that messages were only added or
    // re-flagged since.
    std::string known_token;
    // > 0 when the archive holds nothing of the folder: a whole listing may
    // come in parts of about this many messages (ListingKind::parts). The engine
    // stores each part before asking for the next, so a first backup of a
    // large folder never lists it all at once.
    std::size_t part_size = 0;
    // Non-empty: the source may list only the messages this filter may
    // admit (Snapshot::narrowed), e.g. by searching on the server. The
    // engine still decides with MessageFilter::admits.
    MessageFilter filter = {};
};

// What a source learnt from listing the account, kept for another source
// of the same account (another connection); opaque to the engine.
struct ListingMemo {
    virtual ~ListingMemo() = default;
};

class Source {
  public:
    virtual ~Source() = default;
    virtual Result<std::vector<FolderInfo>> list_folders() = 0;
    // A memo of the last list_folders(), or nullptr where a source has none.
    virtual std::shared_ptr<const ListingMemo> listing_memo() const { return nullptr; }
    // Takes another source's memo in place of its own list_folders(), so
    // that a second connection to the account need not list it again.
    // False: it cannot (no memo, or not its kind); list_folders() then.
    virtual Result<bool> adopt_listing(const std::shared_ptr<const ListingMemo>& memo) {
        (void)memo;
        return false;
    }
    // Opens `folder` read-only and lists its messages as `request` allows
    // (see OpenRequest; a source may always answer ListingKind::whole). Later
    // calls to fetch and keys refer to the folder opened last.
    virtual Result<Snapshot> open(const FolderInfo& folder, const OpenRequest& request) = 0;
    // The whole listing, in one piece.
    Result<Snapshot> open(const FolderInfo& folder) { return open(folder, OpenRequest{}); }
    // Replaces snap.messages with the next part of a ListingKind::parts listing
    // that had Snapshot::more, and updates `more`. Fetches may come in between.
    virtual Status next_part(Snapshot& snap) {
        snap.messages.clear();
        snap.more = false;
        return {};
    }
    // Streams the messages named by `ids` (in any order) into `sink`. Stops
    // at the first failure; messages already finished stay finished.
    virtual Status fetch(std::span<const std::string> ids, MessageSink& sink) = 0;
    virtual Result<std::vector<MessageKey>> keys(const std::vector<std::string>& ids) = 0;
    // The header block of each of `ids` (up to and with its empty line, CRLF
    // line ends), for telling messages without a Message-ID apart
    // (sync/identity.h). A source that cannot gives none.
    virtual Result<std::vector<std::pair<std::string, std::string>>>
    headers(const std::vector<std::string>& ids) {
        (void)ids;
        return std::vector<std::pair<std::string, std::string>>{};
    }
    // Deletes messages of the open folder on the source: the only method
    // that changes the source. Called only for messages the store has made
    // durable. Sources that cannot delete return a Failure.
    virtual Status remove(const std::vector<std::string>& ids) = 0;
    // Ends the session so that removals take effect (POP3 commits DELE only
    // at QUIT; RFC 1939 6). Without it, removals may be rolled back.
    virtual Status close() = 0;
    // Messages of the open folder that the source marked read as a side
    // effect of fetch(): listed unread, then read once fetched (iCloud sets
    // \Seen even on a read-only open and a peek). Their read mark was not
    // passed to the sink. Empty where the source cannot tell, or did not.
    virtual std::vector<std::string> marked_read_by_fetch() const { return {}; }
    // Marks `ids` (of marked_read_by_fetch) unread on the source again: the
    // only method besides remove() that changes the source, called only when
    // the user asked for it.
    virtual Status undo_marked_read(const std::vector<std::string>& ids);
    // Something the user should know about how the source was read (e.g. a
    // POP3 server without UIDL); "" if nothing.
    virtual std::string caveat() const { return {}; }
    // The bytes of messages a backup should download from this account in
    // 24 hours, for a provider that limits downloads per day (Gmail); none
    // where no limit is known. Kept across runs by the command.
    virtual std::optional<std::uint64_t> daily_download_allowance() const { return std::nullopt; }
    // How many connections the account takes at once, all its clients
    // together, where the server is known to have such a limit (0: none
    // known). The engine opens no more than that (run_folders).
    virtual std::size_t max_connections() const { return 0; }
};

// Gathers the parts of a listing still to come (Snapshot::more) into one
// snapshot, for planning that needs the whole folder at once.
Status gather_parts(Source& source, Snapshot& snap);

// Fetches `ids` in calls of at most `chunk` ids each, so a source never
// builds one enormous command. A message-scope failure is narrowed down to
// the messages that cause it: the set that failed, less what arrived, is split
// in halves and fetched again until each failing message stands alone. Each
// is added to `failed` with the source's words, and the others are fetched:
// one message the source will not give costs about two commands a halving
// and never stops the rest. At most 256 splits a call; past that, and for
// any other scope, the failure is returned.
Status fetch_isolating(Source& source, const std::vector<std::string>& ids, MessageSink& sink,
                       std::size_t chunk, std::vector<MessageProblem>& failed);

} // namespace mf
