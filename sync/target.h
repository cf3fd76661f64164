// The receiving side of a migration, restore or mirror: an IMAP account we
// append to. Like a Source, it knows its protocol; the engine does not.
//
// Contract: append() returns only after the server confirmed the message
// (tagged OK); a message whose confirmation never arrived may or may not be
// on the target, which is why the engine matches unmapped messages by
// content before copying (see plan_push).
#pragma once

#include "sync/model.h"
#include "sync/result.h"
#include "sync/source.h"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mf {

struct TargetMessage {
    std::uint32_t uid = 0;
    Flags flags;
    std::uint64_t size = 0;
    std::int64_t internal_date = 0;
    std::string message_id; // filled in only where keys were asked for
};

struct TargetFolder {
    bool exists = false;
    std::uint32_t validity = 0;
    std::vector<TargetMessage> messages;
};

// Called for each message the target confirmed: source message, new UID
// (0 when the server does not say, i.e. no UIDPLUS).
using AppendedFn = std::function<Status(const RemoteMessage&, std::uint32_t uid)>;
// Called for each message the target refused (Scope::message: its answer
// was NO or BAD, or the message is larger than the target takes, or the
// server refused it as it closed the connection). `alone`
// is false when the refusal was for a batch the message was part of
// (MULTIAPPEND is all or nothing): the message itself may be fine.
using RefusedFn = std::function<void(const RemoteMessage&, const Failure&, bool alone)>;

// Called for each message whose bytes the target changed on the way, at the
// user's request (a final CRLF added: --append-final-crlf), with what was done.
using ChangedFn = std::function<void(const RemoteMessage&, const std::string& change)>;

// Called for a message confirmed with UID 0, once the target has found
// its UID after all (without UIDPLUS: UID SEARCH HEADER Message-ID), so that
// a rerun need not recognise it by content. Unset: not looked for.
using LocatedFn = std::function<Status(const RemoteMessage&, std::uint32_t uid)>;

struct AppendCallbacks {
    AppendedFn appended;
    // Unset: a refusal fails the folder (Scope::folder), as before a
    // caller handled refusals.
    RefusedFn refused;
    ChangedFn changed; // unset: not told
    LocatedFn located; // unset: not looked for
};

// How a target folder can hold a message that is already on the target in
// another folder (Target::sharing).
enum class Sharing : std::uint8_t {
    copy,   // only as a copy of its own: every server but Gmail, and Gmail's Trash and Spam
    label,  // by marking the one copy (Gmail's labels): Target::also_in
    always, // already: the folder shows every message (Gmail's All Mail)
};

// Where a message went on the target: the target folder (FolderInfo::path),
// that folder's validity then, and the message's UID there.
struct Uploaded {
    std::vector<std::string> folder;
    std::uint32_t validity = 0;
    std::uint32_t uid = 0;
};

class Target {
  public:
    virtual ~Target() = default;
    virtual Result<std::vector<FolderInfo>> list_folders() = 0;
    virtual Status create_folder(const FolderInfo& folder) = 0;
    virtual Status delete_folder(const FolderInfo& folder) = 0;
    // Opens the folder for writing and lists it (UIDs, flags, sizes, dates).
    virtual Result<TargetFolder> open(const FolderInfo& folder) = 0;
    // Message-IDs of messages in the open folder, for matching by content.
    virtual Status fill_keys(TargetFolder& folder, const std::vector<std::uint32_t>& uids) = 0;
    // A sink that appends each finished message to the open folder with its
    // flags and date, and calls `appended` once the target confirmed it, or
    // `refused` when it did not; a refusal never fails the sink, so the
    // source's stream goes on. Appends may be pipelined: confirmations and
    // refusals can come later, up to flush(). A throttling answer (the
    // server asks to wait) is no refusal: the sink then fails with
    // Scope::session and the failure's retry_after, so that the engine
    // backs off and resumes on a new session.
    virtual MessageSink& appender(AppendCallbacks callbacks) = 0;
    // From now on one message a command (no batches), for messages of a
    // refused batch tried again; false goes back to batches.
    virtual void append_singly(bool singly) { (void)singly; }
    // Waits for every outstanding append's confirmation: all of them are
    // read, whatever fails, unless the session itself is gone.
    virtual Status flush() = 0;
    virtual Status set_flags(std::uint32_t uid, const Flags& flags) = 0;
    // Removes exactly these messages (UID EXPUNGE). Fails, changing nothing,
    // where the server cannot expunge selectively.
    virtual Status remove(const std::vector<std::uint32_t>& uids) = 0;
    // How the target names a folder: its separator, namespace prefix, and
    // what happens to a separator inside a component. For --dry-run output.
    virtual std::string target_name(const FolderInfo& folder) const = 0;
    // True where one message can be in several folders at once (Gmail's
    // labels), so that each message should be uploaded once.
    virtual bool shares_messages() const { return false; }
    virtual Result<Sharing> sharing(const FolderInfo& folder) {
        (void)folder;
        return Sharing::copy;
    }
    // Makes each of `messages`, uploaded earlier into other folders, also
    // appear in `folder` (of Sharing::label) without a second copy. Returns
    // the indexes of those it could not find (their folder's validity
    // changed): those the engine uploads. Leaves no folder open for
    // appending: open() again first. A target without it fails.
    virtual Result<std::vector<std::size_t>> also_in(const FolderInfo& folder,
                                                     const std::vector<Uploaded>& messages) {
        (void)folder;
        (void)messages;
        return fail(ErrorKind::protocol, Scope::folder,
                    "the target cannot show one message in several folders");
    }
};

// Where a migration remembers which source message became which target
// message, so a rerun copies only what is missing.
struct PushMapping {
    std::uint32_t source_validity = 0;
    std::uint32_t target_validity = 0;
    std::vector<std::pair<std::string, std::uint32_t>> entries; // source id -> target UID
};

using RefusedRuns = std::map<std::string, std::size_t>;

class PushState {
  public:
    virtual ~PushState() = default;
    virtual Result<PushMapping> load(const std::string& folder) = 0;
    // Replaces the validities (and drops entries when either changed).
    virtual Status reset(const std::string& folder, std::uint32_t source_validity,
                         std::uint32_t target_validity) = 0;
    virtual Status record(const std::string& folder, const std::string& source_id,
                          std::uint32_t uid) = 0;
    virtual Status forget(const std::string& folder, const std::string& source_id) = 0;
    // Set while appends to `folder` may be unconfirmed; still set at the
    // start of a run, it says the last run did not finish copying.
    virtual Status set_copying(const std::string& folder, bool copying) = 0;
    virtual Result<bool> copying(const std::string& folder) = 0;
    // The messages of `folder` the target refused at the end of the last
    // run, and in how many runs in a row (source id -> runs); replaced by
    // set_refused at the end of each run that got through the folder.
    virtual Result<RefusedRuns> refused(const std::string& folder) = 0;
    virtual Status set_refused(const std::string& folder, const RefusedRuns& refused) = 0;
    // Where the message of `identity` (the engine's key for one message
    // across folders) was uploaded, so that a message met again in another
    // folder is not uploaded again; nullopt: not yet.
    virtual Status record_upload(const std::string& identity, const Uploaded& where) {
        (void)identity;
        (void)where;
        return {};
    }
    virtual Result<std::optional<Uploaded>> upload_of(const std::string& identity) {
        (void)identity;
        return std::nullopt;
    }
};

} // namespace mf
