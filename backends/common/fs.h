// Small POSIX file helpers shared by the stores. Each returns a Failure that
// names the path and the system error, scoped as the caller says.
#pragma once

#include "sync/result.h"

#include <string>
#include <string_view>

namespace mf::fs {

// Creates `path` and missing parents with mode 0700 (archives are private).
Status make_dirs(const std::string& path);
Status write_all(int fd, std::string_view data, const std::string& path);
Status fsync_path(const std::string& path); // a file or a directory
Status sync_filesystem_of(const std::string& path); // syncfs(2)
// Writes `data` to `path` atomically: temporary file, fsync, rename, fsync dir.
Status replace_file(const std::string& path, std::string_view data);
Failure io_error(const std::string& doing, const std::string& path, int err);
bool exists(const std::string& path);
// A small file's whole content ("" if it cannot be read): keyword tables and such.
std::string read_small_file(const std::string& path);

// An open file descriptor that closes itself.
class Fd {
  public:
    Fd() = default;
    explicit Fd(int fd) : m_fd(fd) {}
    Fd(Fd&& o) noexcept : m_fd(o.release()) {}
    Fd& operator=(Fd&& o) noexcept;
    ~Fd();
    int get() const { return m_fd; }
    int release() { int fd = m_fd; m_fd = -1; return fd; }
    explicit operator bool() const { return m_fd >= 0; }
    void reset();

  private:
    int m_fd = -1;
};

} // namespace mf::fs
