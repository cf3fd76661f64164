// One Maildir folder of an archive: the FolderStore behind MaildirStore.
//
// Its parts: folder.cpp (directories, keywords, the name helpers below),
// folder_scan.cpp (listing cur/ and new/, finding and reading a held
// message's file), folder_load.cpp (load, and adopting files the database
// lacks), folder_deliver.cpp (writing a message), folder_commit.cpp (flag
// changes, removals, commit, revalidate), folder_link.cpp (a message moved
// from another folder, linked to the file held there).
#pragma once

#include "backends/archive/state_db.h"
#include "backends/common/crlf.h"
#include "backends/common/fs.h"
#include "backends/common/headers.h"
#include "backends/maildir/names.h"
#include "sync/store.h"

#include <unistd.h>

#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace mf::maildir {

class MaildirFolder : public FolderStore {
  public:
    // The folder ROOT/REL of the archive at ROOT. `read_only`: a dry run;
    // load() leaves crash leftovers in tmp/ alone.
    MaildirFolder(std::string root, const std::string& rel, archive::StateDb& db,
                  archive::FolderRecord record, std::uint32_t source_validity,
                  bool read_only = false);
    ~MaildirFolder() override;

    Result<FolderState> load() override;
    Result<FolderState> load_brief() override;
    Result<std::vector<HeldMessage>> held_among(const std::vector<RemoteMessage>& listed) override;
    Status revalidate(std::uint32_t validity,
                      const std::vector<std::pair<std::string, std::string>>& renames) override;
    Status set_flags(const std::string& id, const Flags& flags) override;
    Status set_source_state(const std::string& id, SourceState state) override;
    Status set_labels(const std::string& id, const std::string& identity,
                      const std::vector<std::string>& labels) override;
    Status set_change_token(const std::string& token) override;
    Status remove(const std::vector<std::string>& ids) override;
    Status commit() override;
    Status read(const std::string& id, MessageSink& sink) override;
    Result<std::vector<std::string>>
    held_elsewhere_like(const std::vector<RemoteMessage>& listed) override;
    Result<bool> link_held(const RemoteMessage& message, const std::string& message_id,
                           Apply mode) override;
    Result<bool> link_same(const RemoteMessage& message, Apply mode) override;

    Status begin(std::uint64_t size_hint) override;
    Status write(std::string_view chunk) override;
    Status finish(const RemoteMessage& message) override;
    void abandon() override;

  private:
    // A message file, as "cur/<name>" or "new/<name>": one string per file,
    // since a folder may hold 100 000 of them.
    struct OnDisk {
        std::string rel;
        OnDisk() = default;
        OnDisk(std::string_view subdir, std::string_view name)
            : rel(std::string(subdir) + '/' + std::string(name)) {}
        std::string_view subdir() const { return std::string_view(rel).substr(0, rel.find('/')); }
        std::string_view name() const { return std::string_view(rel).substr(rel.find('/') + 1); }
    };
    // What scan() found in cur/ and new/, with an index sorted by base name
    // (the part of a name that flag changes keep): one string and a few
    // bytes a file, far less than a map from id to file.
    struct Scan {
        std::vector<OnDisk> files;
        std::vector<std::uint32_t> order;      // indexes into files, by base name
        std::vector<bool> removed;             // by mirror, in this run
        std::vector<std::uint8_t> base_length; // names are at most 255 bytes
        // "cur/" and "new/" are both 4 bytes long.
        std::string_view base(std::size_t i) const {
            return std::string_view(files[i].rel).substr(4, base_length[i]);
        }
        void index();
        std::optional<std::size_t> find(std::string_view base) const;
    };
    struct Pending {          // finished, not yet durable
        std::string tmp_name; // its name in tmp/; "" if unnamed, or adopted
        std::string final_name;
        archive::StoredMessage row;
        std::string subdir = "cur";
        fs::UnnamedFile unnamed; // the file, when written without a name
        // An unrecorded file adopted in place of a copy: already in cur/.
        bool adopted() const { return tmp_name.empty() && !unnamed; }
    };

    Status ensure_dirs();
    Status flush_buffer();
    Result<FolderState> load_rows(bool with_message_ids);
    Result<std::vector<archive::StoredMessage>> adopt_unrecorded(const std::vector<bool>& matched,
                                                                 FolderState& state);
    Status scan(); // fills m_scan
    Status clean_tmp();
    Status save_keywords();
    // Where a held message's file is; `scan_index` tells whether (and where)
    // it is in m_scan, so a rename can be noted there.
    Result<std::optional<OnDisk>> locate(const std::string& id,
                                         std::optional<std::size_t>* scan_index = nullptr);
    std::optional<OnDisk> find_base(std::string_view base) const;
    // The file with that base name in the Maildir `dir` (cur/ or new/).
    static std::optional<OnDisk> find_base_in(const std::string& dir, std::string_view base);
    // The file of a copy held in another folder, as a path; "" if none is found.
    std::string held_copy_path(const archive::StateDb::HeldCopy& copy);
    // Links `message` to the first of `copies` whose file can be linked.
    Result<bool> link_to_copy(const RemoteMessage& message,
                              const std::vector<archive::StateDb::HeldCopy>& copies,
                              const std::string& message_id, Apply mode);
    // Other folders' files by base name, listed at the first copy wanted
    // from each (a move of many messages reads each directory once).
    std::unordered_map<std::string, std::unordered_map<std::string, std::string>> m_elsewhere;
    std::string file_name(const std::string& id, std::uint64_t size, const Flags& flags);
    std::optional<Pending> adopt_by_digest(const RemoteMessage& message);
    std::string path_of(const OnDisk& f) const { return m_dir + '/' + f.rel; }

    std::string m_root; // the archive's, for the files of other folders
    std::string m_dir;
    archive::StateDb& m_db;
    archive::FolderRecord m_record;
    std::uint32_t m_validity; // the validity new files are named with
    bool m_dirs_ready = false;
    bool m_read_only = false;
    KeywordTable m_keywords;
    // The files load() found. A held message is found by its base name,
    // which the database keeps (StoredMessage::location). Files committed
    // later are not added (a full backup of 100 000 messages would keep
    // every name in memory): locate() scans the directory for those.
    Scan m_scan;
    bool m_scanned = false;
    // Files of this validity the database does not know, named by the digest
    // of an id too long to spell out (names.h): id digest -> file. load()
    // cannot tell their ids; finish() adopts one when its id arrives.
    std::unordered_map<std::string, OnDisk> m_by_digest;
    std::vector<Pending> m_pending;
    std::vector<std::pair<std::string, Flags>> m_flag_changes;
    std::vector<std::pair<std::string, SourceState>> m_state_changes;
    struct LabelChange {
        std::string id, identity;
        std::vector<std::string> labels;
    };
    std::vector<LabelChange> m_label_changes;
    std::optional<std::string> m_change_token;
    std::vector<std::string> m_removed;
    // A commit that failed after it began to make files durable or name
    // them: a sync error is reported once by the kernel, so a second try
    // could pass and record what never reached the disk. Every later
    // commit fails the same; the next run adopts what is whole in cur/.
    std::optional<Failure> m_commit_failure;
    // tmp/, opened at the batch's first message and used for its syncs: a
    // descriptor opened at commit time would miss a write-back error that
    // another worker's syncfs, or the kernel's own write-back, met first
    // (see fs::sync_filesystem).
    fs::Fd m_batch_dir;
    Status durable_names(); // commit()'s steps 2 to 4

    // The message being written: an unnamed file, or else a named one in tmp/.
    std::optional<bool> m_unnamed_ok; // tried at the first message
    fs::UnnamedFile m_unnamed;
    fs::Fd m_fd;
    std::string m_tmp_name;
    int out_fd() const { return m_unnamed ? m_unnamed.get() : m_fd.get(); }
    std::string out_path() const {
        return m_dir + "/tmp/" + (m_unnamed ? "(unnamed file)" : m_tmp_name);
    }
    std::string m_buffer;
    mail::CrlfToLf m_crlf;
    mail::HeaderScanner m_headers; // finds the Message-ID as bytes pass
    std::uint64_t m_counter = 0;
    const int m_pid = static_cast<int>(::getpid()); // asked once: two calls a message otherwise
};

// The part of a Maildir file name that never changes: everything before the
// first ',' or ':' (flags and ids are renamed, the base is not).
std::string base_of(std::string_view name);
std::string_view base_view(std::string_view name); // the same, without a copy
// A stamp of the folder's directories (mtimes of cur/ and new/, which change
// whenever a file is added, removed or renamed there). Stored beside the
// source's change token, so a folder edited by hand is never skipped.
std::string directory_stamp(const std::string& dir);

// The V=<validity> field mailferry adds to its names, if any.
std::optional<std::uint32_t> validity_of(std::string_view unique);

} // namespace mf::maildir
