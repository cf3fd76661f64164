// One mbox folder of an archive: the FolderStore behind MboxStore. The file
// layout is described in store.h, the index format in index.h.
//
// While a folder is open for writing (from the first begin(), or a repair in
// load(), until it is destroyed) it holds an fcntl write lock on the mbox and
// the dotlock <file>.lock, which mutt and other mail readers honour.
//
// Its parts: folder.cpp (locks and files), folder_load.cpp (load, repair and
// reconciling the database with the index), folder_deliver.cpp (writing a
// message), folder_read.cpp (finding and reading a held message),
// folder_commit.cpp (flag changes, commit, revalidate).
#pragma once

#include "backends/archive/state_db.h"
#include "backends/common/fs.h"
#include "backends/common/headers.h"
#include "backends/mbox/dotlock.h"
#include "backends/mbox/index.h"
#include "backends/mbox/mboxrd.h"
#include "sync/store.h"

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace mf::mbox {

class MboxFolder : public FolderStore {
  public:
    // `mbox_path` is ARCHIVE/<folder>.mbox; nothing is created until begin().
    // `read_only`: a dry run; load() repairs nothing (no truncation).
    MboxFolder(std::string mbox_path, archive::StateDb& db, archive::FolderRecord record,
               std::uint32_t source_validity, bool read_only = false);
    ~MboxFolder() override;
    MboxFolder(const MboxFolder&) = delete;
    MboxFolder& operator=(const MboxFolder&) = delete;

    Result<FolderState> load() override;
    Result<std::vector<HeldMessage>> held_among(const std::vector<RemoteMessage>& listed) override;
    Status revalidate(std::uint32_t validity,
                      const std::vector<std::pair<std::string, std::string>>& renames) override;
    Status set_flags(const std::string& id, const Flags& flags) override;
    Status set_source_state(const std::string& id, SourceState state) override;
    Status set_labels(const std::string& id, const std::string& identity,
                      const std::vector<std::string>& labels) override;
    Status set_change_token(const std::string& token) override;
    Status commit() override;
    Status read(const std::string& id, MessageSink& sink) override;

    Status begin(std::uint64_t size_hint) override;
    Status write(std::string_view chunk) override;
    Status finish(const RemoteMessage& message) override;
    void abandon() override;

  private:
    // Bytes of a message buffered before they go to the mbox; also the
    // block a message is read back in.
    static constexpr std::size_t k_write_buffer = 64 * 1024;

    bool m_read_only = false;
    struct Held { // a message the index records under the current validity
        std::uint64_t offset = 0, length = 0, size = 0;
        Flags flags;
    };
    struct Pending { // finished, not yet durable
        IndexRecord record;
        archive::StoredMessage row;
    };
    struct Writing {               // the message in progress
        std::uint64_t start = 0;   // its offset in the mbox
        std::uint64_t flushed = 0; // bytes of it already written to the file
        std::string buffer;
        std::optional<Encoder> encoder; // writes into `buffer`: so never copied
        mail::HeaderScanner headers;    // finds the Message-ID as bytes pass
        Writing() = default;
        Writing(const Writing&) = delete;
        Writing& operator=(const Writing&) = delete;
    };

    // load() in parts.
    Status repair(const IndexFile& index, const std::vector<IndexRecord>& kept, bool dropped,
                  std::uint64_t mbox_size, std::uint64_t good_end);
    Result<FolderState> reconcile(const std::vector<IndexRecord>& records, bool finish_rename);
    archive::StoredMessage adopted_row(fs::Fd& reader, const IndexRecord& record) const;
    Result<std::optional<Held>> find_held(const std::string& id) const;
    Result<bool> holds(const std::string& id) const;
    // m_held names every held message: load() filled it, nothing was
    // committed since, and held_among() did not stand in for load().
    bool held_is_complete() const { return !m_committed_new && !m_brief; }

    // Locks and files.
    Status lock_mbox(bool create);
    Status open_index();
    void close_files();
    Status append_index(const std::string& lines);
    Status truncate_mbox(std::uint64_t size);

    Status flush_buffer();

    std::string m_path, m_index_path;
    std::optional<std::string> m_change_token; // recorded with the next commit
    archive::StateDb& m_db;
    archive::FolderRecord m_record;
    std::uint32_t m_source_validity;
    std::uint32_t m_validity; // the validity new messages are recorded under
    bool m_loaded = false;
    bool m_brief = false; // held_among() instead of load(): m_held is empty
    // Source id -> message, for what load() found. Messages committed later
    // are not added (a full backup of 100 000 messages would keep them all
    // in memory); find_held() reads the index for those.
    std::unordered_map<std::string, Held> m_held;
    bool m_committed_new = false; // messages were committed since load()
    std::vector<Pending> m_pending;
    std::vector<std::pair<std::string, Flags>> m_flag_changes;
    std::vector<std::pair<std::string, SourceState>> m_state_changes;
    struct LabelChange {
        std::string id, identity;
        std::vector<std::string> labels;
    };
    std::vector<LabelChange> m_label_changes;

    fs::Fd m_fd;             // the mbox, locked, while open for writing
    fs::Fd m_index_fd;       // the index, O_APPEND
    Dotlock m_dotlock;       // <file>.lock
    std::uint64_t m_end = 0; // where the next message goes
    std::optional<Writing> m_writing;
};

} // namespace mf::mbox
