// A Maildir archive read back as a Source, for `restore` and `migrate` from
// an archive: folders are the Maildirs below the root (names unescaped),
// messages are the files, known by their base name (stable across flag
// renames), with flags from the name, the date from the file's mtime and
// the identity (Gmail's X-GM-MSGID) from the state database where it has one.
// Bodies are sent with CRLF line ends, as the server first sent them.
// Read-only: nothing in the archive changes. A folder whose directory has a
// shortened name takes its full name from the state database.
#pragma once

#include "backends/maildir/names.h"
#include "sync/source.h"

#include <sys/stat.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mf::maildir {

class ArchiveSource : public Source {
  public:
    explicit ArchiveSource(std::string root);
    Result<std::vector<FolderInfo>> list_folders() override;
    using Source::open;
    // In parts of `part_size` messages when asked: the file list is read
    // whole (fetch needs it), but the engine then never holds a description
    // of every message at once.
    Result<Snapshot> open(const FolderInfo& folder, const OpenRequest& request) override;
    Status next_part(Snapshot& snap) override;
    Status fetch(std::span<const std::string> ids, MessageSink& sink) override;
    Result<std::vector<MessageKey>> keys(const std::vector<std::string>& ids) override;
    Status remove(const std::vector<std::string>& ids) override;
    Status close() override { return {}; }

  private:
    // A message file of the open folder: its name, in a block of m_names.
    // Nothing else is kept of it; the date and size are read when the
    // message is described, a part at a time. At 100 000 messages this list
    // is what a restore holds for the whole run: a pointer and a length a
    // file, where a string and a description each took far more.
    struct File {
        const char* name;
        std::uint16_t length;
        bool in_new; // new/, else cur/
    };
    // The message's id: the base of its name.
    static std::string_view id_of(const File& file);
    static std::string_view name_of(const File& file) { return {file.name, file.length}; }
    Result<Snapshot> list(const FolderInfo& folder);
    void add_file(std::string_view name, bool in_new);
    void describe_next(Snapshot& snap);
    // Date (mtime) from `st`, flags from the name, size from W= or else, if
    // `count`, counted (0 otherwise: not known).
    std::optional<RemoteMessage> describe(const File& file, const struct stat& st,
                                          bool count = true) const;
    const File* find(std::string_view id) const;
    // The identity the state database recorded for the message `id`, "" none.
    std::string identity_of(std::string_view id) const;
    std::string path_of(const File& file) const;

    std::string m_root;
    // Each listed folder's directory, relative to the root: a shortened one
    // is not where relative_folder_path puts the name the walk gave it.
    std::map<std::vector<std::string>, std::string> m_dirs;
    std::string m_dir; // the open folder
    KeywordTable m_keywords;
    std::vector<File> m_files; // sorted by base name, i.e. by id
    // Of the open folder: base name -> RemoteMessage::identity, sorted.
    std::vector<std::pair<std::string, std::string>> m_identities;
    // The names, in blocks that never move (a growing string would copy
    // them all, and for a moment hold them twice).
    std::vector<std::unique_ptr<char[]>> m_names;
    std::size_t m_names_free = 0; // bytes left in the last block
    std::size_t m_part_size = 0;  // of a listing in parts, else 0
    std::size_t m_listed = 0;     // files described so far
};

} // namespace mf::maildir
