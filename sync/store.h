// The local side of a backup: an archive (Maildir tree or mbox files).
//
// Contract: a message handed to a FolderStore through the MessageSink calls
// is not held until commit() returns success; a crash before that leaves at
// worst a file the next open() adopts or removes, never a partial message.
#pragma once

#include "sync/model.h"
#include "sync/result.h"
#include "sync/source.h"

#include <memory>
#include <utility>
#include <vector>

namespace mf {

// Whether a step changes the archive, or only says what it would do (a dry
// run): FolderStore::link_held, and the engine's steps that call such.
enum class Apply : std::uint8_t { change, look };

class FolderStore : public MessageSink {
  public:
    // What the archive holds of this folder, after adopting anything a
    // crashed run left durable on disk but unrecorded.
    virtual Result<FolderState> load() = 0;
    // Like load(), but HeldMessage::message_id may be left empty: for callers
    // that never match messages by content, and would rather not hold every
    // Message-ID of a large folder in memory.
    virtual Result<FolderState> load_brief() { return load(); }
    // What the archive holds of these listed messages only (message_id may
    // be empty), in place of load() when the source listed only what changed
    // (Snapshot::delta). Called only while memo() gives the folder's token,
    // i.e. the archive is as the last complete run left it. The default
    // loads the whole folder; stores that can look messages up one by one
    // keep a large folder out of memory.
    virtual Result<std::vector<HeldMessage>> held_among(const std::vector<RemoteMessage>& listed);
    // The source's validity changed: from now on the folder is known under
    // `validity`, and held messages are renamed old id -> new id. Messages
    // held under the old validity and not renamed stay in the archive under
    // their old ids (it is a backup) but are no longer matched to the source.
    virtual Status revalidate(std::uint32_t validity,
                              const std::vector<std::pair<std::string, std::string>>& renames) = 0;
    virtual Status set_flags(const std::string& id, const Flags& flags) = 0;
    // Records what the source did with a held message (recorded at commit).
    virtual Status set_source_state(const std::string& id, SourceState state) = 0;
    // Removes held messages from the archive (mirror into an archive only),
    // recorded with the next commit. Stores that never edit what they hold
    // (mbox) refuse.
    virtual Status remove(const std::vector<std::string>& ids) {
        (void)ids;
        return fail(ErrorKind::usage, Scope::folder,
                    "this archive format cannot remove messages (mirror needs Maildir)");
    }
    // Records the source's change token, with the next commit. Called only
    // once everything up to that token is held.
    virtual Status set_change_token(const std::string& token) {
        (void)token;
        return {};
    }
    // Messages moved on the source from another folder (sync/relink.h). Of
    // `listed` (messages this folder does not hold), the ids of those whose
    // size and date a message held in another folder of the archive shares:
    // the only ones worth asking the source for a Message-ID. Stores that
    // cannot link give none.
    virtual Result<std::vector<std::string>>
    held_elsewhere_like(const std::vector<RemoteMessage>& listed) {
        (void)listed;
        return std::vector<std::string>{};
    }
    // Holds `message` as a link to the copy another folder of the archive
    // holds with its size, date and `message_id`, recorded at commit like a
    // delivered message. False when there is no such copy or the file system
    // cannot link it: the caller fetches the message instead. With
    // Apply::look nothing changes; the answer says whether it would link.
    virtual Result<bool> link_held(const RemoteMessage& message, const std::string& message_id,
                                   Apply mode) {
        (void)message;
        (void)message_id;
        (void)mode;
        return false;
    }
    // The same for a message the source names the same in every folder
    // (RemoteMessage::identity, not empty): the copy another folder holds
    // under that identity. No question to the source is needed.
    virtual Result<bool> link_same(const RemoteMessage& message, Apply mode) {
        (void)message;
        (void)mode;
        return false;
    }
    // Records a held message's identity and labels as the source shows them
    // now (Snapshot::has_labels), with the next commit. Never written into
    // the message: the archive stays byte-exact.
    virtual Status set_labels(const std::string& id, const std::string& identity,
                              const std::vector<std::string>& labels) {
        (void)id;
        (void)identity;
        (void)labels;
        return {};
    }
    // Makes every finished message and flag change durable, then records it.
    virtual Status commit() = 0;
    // Streams a held message back with CRLF line ends, as the source sent it
    // (for verify --deep). Stores that cannot yet say so.
    virtual Status read(const std::string& id, MessageSink& sink) {
        (void)id;
        (void)sink;
        return fail(ErrorKind::usage, Scope::account,
                    "this archive format cannot be read back yet");
    }
};

// What a store remembers of a folder's last complete run.
struct FolderMemo {
    std::string change_token; // "" if none
    std::size_t held = 0;
    std::vector<MessageFailure> failures; // messages that failed in earlier runs
};

class Store {
  public:
    virtual ~Store() = default;
    // The change token recorded by the last complete run of `folder`.
    virtual Result<FolderMemo> memo(const FolderInfo& folder) {
        (void)folder;
        return FolderMemo{};
    }
    virtual Result<std::unique_ptr<FolderStore>> open_folder(const FolderInfo& folder,
                                                             std::uint32_t validity) = 0;
    // Counts one more run for each message of `failed` (keeping its words)
    // and forgets the failures of `cleared`; memo() reads them back.
    virtual Status record_failures(const FolderInfo& folder,
                                   const std::vector<MessageProblem>& failed,
                                   const std::vector<std::string>& cleared) {
        (void)folder;
        (void)failed;
        (void)cleared;
        return {};
    }
};

} // namespace mf
