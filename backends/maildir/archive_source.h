// A Maildir archive read back as a Source, for `restore` and `migrate` from
// an archive: folders are the Maildirs below the root (names unescaped),
// messages are the files, known by their base name (stable across flag
// renames), with flags from the name and the date from the file's mtime.
// Bodies are sent with CRLF line ends, as the server first sent them.
// Read-only: nothing in the archive changes.
#pragma once

#include "backends/maildir/names.h"
#include "sync/source.h"

#include <optional>
#include <string>
#include <vector>

namespace mf::maildir {

class ArchiveSource : public Source {
  public:
    explicit ArchiveSource(std::string root);
    Result<std::vector<FolderInfo>> list_folders() override;
    Result<Snapshot> open(const FolderInfo& folder) override;
    // In parts of `part_size` messages when asked: the file list is read
    // whole (fetch needs it), but the engine then never holds a description
    // of every message at once.
    Result<Snapshot> open_since(const FolderInfo& folder, const std::string& known_token, bool changes_only,
                                std::size_t part_size) override;
    Status next_part(Snapshot& snap) override;
    Status fetch(std::span<const std::string> ids, MessageSink& sink) override;
    Result<std::vector<MessageKey>> keys(const std::vector<std::string>& ids) override;
    Status remove(const std::vector<std::string>& ids) override;
    Status close() override { return {}; }

  private:
    // A message file of the open folder, as "cur/<name>" or "new/<name>".
    // Its id and flags are read from the name again when needed: a restore
    // of 100 000 messages would otherwise hold a path and a description of
    // every message for the whole run.
    struct File {
        std::string rel;
        std::int64_t date = 0;  // mtime
        std::uint64_t size = 0; // CRLF size
    };
    // The message's id: the base of its name, "cur/" or "new/" left off.
    static std::string_view id_of(const File& file);
    Result<Snapshot> list(const FolderInfo& folder);
    bool measure(File& file) const;
    void describe_next(Snapshot& snap);
    std::optional<RemoteMessage> describe(const File& file) const;
    const File* find(std::string_view id) const;
    std::string path_of(const std::string& rel) const { return m_dir + '/' + rel; }

    std::string m_root;
    std::string m_dir;      // the open folder
    KeywordTable m_keywords;
    std::vector<File> m_files; // sorted by base name, i.e. by id
    std::size_t m_part_size = 0; // of a listing in parts, else 0
    std::size_t m_listed = 0;    // files described so far
};

} // namespace mf::maildir
