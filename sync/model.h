// What the engine knows about folders and messages. Plain data, no protocol.
#pragma once

#include "sync/flags.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mf {

// A folder as the source names it. `path` holds the hierarchy components,
// already decoded to UTF-8 and split on the server's own separator; the
// components are not yet safe as file names (backends map them).
struct FolderInfo {
    std::vector<std::string> path;
    bool selectable = true;
    // How many messages the source's folder list said the folder holds,
    // where it said. Only a hint, for doing big folders first; the folder's
    // own snapshot is what counts.
    std::optional<std::uint32_t> messages = std::nullopt;
    // The folder's change token (Snapshot::change_token) as the folder list
    // gave it, "" where it gave none. Equal to the token of the last
    // complete run, it says the folder is unchanged without opening it.
    std::string change_token = {};
    // The folder's special use as the source names it ("\Sent", "\Trash":
    // RFC 6154 for IMAP), "" for none; more than one separated by spaces.
    std::string special_use = {};
    // How many leading components of `path` are the source's personal
    // namespace prefix (IMAP NAMESPACE: Courier's "INBOX.Sent" is
    // {"INBOX", "Sent"} with 1). Opaque to the engine: a push to another
    // server drops them, and the target puts its own prefix on. 0 for INBOX,
    // for folders outside the personal namespace and for sources without one.
    std::size_t prefix_depth = 0;

    std::string display() const; // components joined with '/', for people
};

// Whether `uses` (FolderInfo::special_use: attributes separated by spaces)
// holds `use` ("\\Trash"), in any case, as IMAP atoms are.
bool has_special_use(std::string_view uses, std::string_view use);

// How many leading components of `path` are `prefix`: prefix.size() when
// the path lies below it, else 0 (FolderInfo::prefix_depth). INBOX itself,
// a folder outside the prefix, the prefix's own node, and a folder whose
// name without the prefix would be INBOX (it would meet the real one) keep
// their whole path.
std::size_t prefix_depth(const std::vector<std::string>& path,
                         const std::vector<std::string>& prefix);

// One message on the source. `id` is stable across sessions while the
// folder's validity is unchanged: an IMAP UID in decimal, a POP3 UIDL.
struct RemoteMessage {
    std::string id;
    std::uint64_t size = 0;         // octets as the server counts them (CRLF)
    std::int64_t internal_date = 0; // seconds since the epoch, 0 if unknown
    Flags flags;
    // The same message wherever the source shows it, across folders, where
    // the source has such an id (Gmail's X-GM-MSGID, as "gm:<id>"); "" for
    // none. Opaque to the engine: only compared.
    std::string identity = {};
    // The source's labels of the message (Gmail's X-GM-LABELS), where
    // Snapshot::has_labels; kept in the archive's state, never in the message.
    std::vector<std::string> labels = {};
};

// What a Snapshot's `messages` are of the folder.
enum class ListingKind : std::uint8_t {
    whole, // every message of the folder
    // One part of a whole listing, in id order; Snapshot::more says whether
    // another follows (Source::next_part). `total` counts the whole folder.
    parts,
    // Only what changed since the known token (OpenRequest::known_token):
    // messages that arrived since, and older ones whose flags changed.
    // Nothing was removed, so every other message is as the last complete
    // run left it. `total` counts the whole folder.
    delta,
    unchanged, // the token equals the known one: nothing changed, nothing listed
};

// A message that could not be handled, and the source's or target's words.
struct MessageProblem {
    std::string id;
    std::string what;
};

// A message that failed in earlier runs: how many runs in a row, and the
// last failure's words.
struct MessageFailure {
    std::string id;
    std::size_t runs = 0;
    std::string what;
};

struct Snapshot {
    std::uint32_t validity = 0; // IMAP UIDVALIDITY; a constant for POP3
    std::vector<RemoteMessage> messages;
    bool has_flags = true; // false for POP3: flags are not known there
    // The source gives each message's labels (RemoteMessage::labels): a
    // message listed without any has none.
    bool has_labels = false;
    // A summary of the folder's state that changes whenever anything in it
    // does (IMAP with CONDSTORE: UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ,
    // EXISTS); "" when the source cannot offer one.
    std::string change_token;
    ListingKind listing = ListingKind::whole;
    bool more = false;     // ListingKind::parts only: another part follows
    std::size_t total = 0; // parts, delta, unchanged and narrowed: the folder's count on the source
    // `messages` holds only those the request's filter may admit (a superset
    // of what MessageFilter::admits lets through, decided by the server):
    // a message not listed may still be on the source, so none is gone.
    bool narrowed = false;
};

// What an archive holds of one folder.
// Whether the source still had a held message when last looked at. Lets a
// run tell "removed by someone else since last time" from old news, and
// from what mailferry deleted itself.
enum class SourceState : std::uint8_t {
    present = 0,       // on the source at the last run
    gone = 1,          // found missing (and reported) at an earlier run
    deleted_by_us = 2, // mailferry deleted it from the source
};

struct HeldMessage {
    std::string id;
    Flags flags;
    std::uint64_t size = 0;
    std::string message_id; // the Message-ID header, "" if none
    std::int64_t date = 0;  // INTERNALDATE or the header date, 0 if unknown
    SourceState source_state = SourceState::present;
    std::string identity = {};            // RemoteMessage::identity, as recorded
    std::vector<std::string> labels = {}; // RemoteMessage::labels, as recorded
};

struct FolderState {
    bool known = false; // false: never backed up before
    std::uint32_t validity = 0;
    std::vector<HeldMessage> held;
};

} // namespace mf
