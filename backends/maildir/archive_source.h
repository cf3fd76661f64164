// A Maildir archive read back as a Source, for `restore` and `migrate` from
// an archive: folders are the Maildirs below the root (names unescaped),
// messages are the files, known by their base name (stable across flag
// renames), with flags from the name and the date from the file's mtime.
// Bodies are sent with CRLF line ends, as the server first sent them.
// Read-only: nothing in the archive changes.
#pragma once

#include "sync/source.h"

#include <string>
#include <unordered_map>

namespace mf::maildir {

class ArchiveSource : public Source {
  public:
    explicit ArchiveSource(std::string root);
    Result<std::vector<FolderInfo>> list_folders() override;
    Result<Snapshot> open(const FolderInfo& folder) override;
    Status fetch(std::span<const std::string> ids, MessageSink& sink) override;
    Result<std::vector<MessageKey>> keys(const std::vector<std::string>& ids) override;
    Status remove(const std::vector<std::string>& ids) override;
    Status close() override { return {}; }

  private:
    struct File {
        std::string path;
        RemoteMessage message;
    };
    std::string m_root;
    std::unordered_map<std::string, File> m_files; // id -> file, for the open folder
};

} // namespace mf::maildir
