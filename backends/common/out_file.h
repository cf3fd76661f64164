// Files a user names for output outside the archive: --report-file,
// --metrics-file, a push's --state, an export. The path may name something
// that is not a file of ours: /dev/null, a FIFO a collector reads, a socket,
// a symlink into a shared folder. Renaming a temporary file over those
// would replace /dev/null for the whole machine (issue 21) or cut the
// symlink, so only a regular file (or a missing one) is replaced atomically;
// a stream is written into; a symlink is followed and its target replaced.
#pragma once

#include "backends/common/fs.h"
#include "sync/result.h"

#include <string>
#include <string_view>
#include <sys/types.h>

namespace mf::fs {

enum class OutputKind {
    file,   // a regular file, or nothing yet: replaced by rename
    stream, // a character device, a FIFO or a socket: written into
};

struct OutputPath {
    std::string path; // symlinks followed: the file itself
    OutputKind kind = OutputKind::file;
};

// What `path` names once its symlinks are followed (a dangling one names
// the file it would create). A directory or a block device is refused.
Result<OutputPath> resolve_output(const std::string& path);

// One output, written in pieces and published by commit(). A file is
// written to a temporary beside its target and renamed over it by commit():
// a reader sees the old content or the new, never half. Destroyed without
// commit(), the temporary is removed and the old file stays. A stream gets
// the bytes as they are written; commit() adds nothing.
class OutputFile {
  public:
    // The path as the user gave it (resolve_output); `mode` for a new file.
    static Result<OutputFile> open(const std::string& path, mode_t mode);
    // Exactly `path`, replaced whatever it is: the archive's own files.
    static Result<OutputFile> replacing(const std::string& path, mode_t mode);
    OutputFile(OutputFile&& o) noexcept;
    OutputFile& operator=(OutputFile&&) noexcept = delete;
    ~OutputFile();
    Status write(std::string_view data);
    Status commit();
    const std::string& path() const { return m_path; } // the target, symlinks followed

  private:
    OutputFile() = default;
    Status open_temporary(mode_t mode);
    std::string m_path;
    std::string m_temp; // empty for a stream, and once committed
    Fd m_fd;
};

// The whole of `data` to the path the user named, as OutputFile does.
Status write_output(const std::string& path, std::string_view data, mode_t mode = 0600);

} // namespace mf::fs
