// The folder an export writes into (DEST), and the files it writes there.
//
// Every folder and file below DEST is made through descriptors with *at()
// calls that never follow a symbolic link (O_NOFOLLOW), and every name is
// one component made safe by names.h: whatever the archive's folder names
// and subjects hold, and whatever links stand in DEST already, nothing is
// written outside DEST.
#pragma once

#include "backends/common/fs.h"
#include "sync/result.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mf::exporting {

// A directory of the destination, open, with the path to name it by.
struct Directory {
    fs::Fd fd;
    std::string path;
};

class Destination {
  public:
    // Opens DEST, creating it (and missing parents) if needed.
    static Result<Destination> open(const std::string& path);
    // The directory below DEST made of `components` (each already one safe
    // component), created as needed. A component that exists as anything
    // but a directory (a symbolic link too) is refused.
    Result<Directory> directory(const std::vector<std::string>& components) const;
    // Makes what was written durable: one syncfs(2) for the whole export.
    Status sync() const;
    const std::string& path() const { return m_root.path; }

  private:
    Directory m_root;
};

// One output file: written under a temporary name in its directory and
// given its own by commit(), which replaces a file of that name (an earlier
// export of the same message); dropped by the destructor if never
// committed, so a failed export leaves no partial file. The one place an
// export opens and publishes a file.
class OutFile {
  public:
    static Result<OutFile> create(const Directory& dir);
    OutFile(OutFile&& other) noexcept;
    OutFile& operator=(OutFile&&) = delete;
    ~OutFile();

    Status write(std::string_view data);
    // Overwrites bytes already written (an mbox From_ line whose date is
    // known only at the end of its message).
    Status write_at(std::uint64_t offset, std::string_view data);
    // Drops what was written from `size` on.
    Status truncate(std::uint64_t size);
    std::uint64_t size() const { return m_size; }
    Status commit(const std::string& name);

  private:
    OutFile(int dir_fd, std::string dir_path, std::string temp, fs::Fd fd)
        : m_dir_fd(dir_fd), m_dir_path(std::move(dir_path)), m_temp(std::move(temp)),
          m_fd(std::move(fd)) {}
    std::string where(const std::string& name) const { return m_dir_path + '/' + name; }

    int m_dir_fd; // not owned: the Directory outlives the file
    std::string m_dir_path;
    std::string m_temp; // "" once committed
    fs::Fd m_fd;
    std::uint64_t m_size = 0;
};

} // namespace mf::exporting
