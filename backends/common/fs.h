// Small POSIX file helpers shared by the stores. Each returns a Failure that
// names the path and the system error, scoped as the caller says.
#pragma once

#include "sync/result.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace mf::fs {

// Creates `path` and missing parents with mode 0700 (archives are private).
Status make_dirs(const std::string& path);
Status write_all(int fd, std::string_view data, const std::string& path);
Status fsync_path(const std::string& path);         // a file or a directory
Status sync_filesystem_of(const std::string& path); // syncfs(2)
// syncfs(2) through a descriptor already open on the file system. Since
// Linux 5.8 it reports the write-back errors met since *that descriptor*
// was opened (by anyone's syncfs or the kernel's own write-back), so one
// opened before a batch's first byte misses none of the batch's.
Status sync_filesystem(int fd, const std::string& path);

// Lets the kernel drop the cached pages of a file (from `offset` on) whose
// bytes are already durable. An archive is written once and seldom read
// back: kept in the page cache it would push out what the machine is using
// (rsync --drop-cache and nocache do the same). The freed pages are also
// what the next batch is written into, which is cheaper than pages the
// kernel has not touched yet. Best effort: a failure changes nothing but the
// cache.
void drop_cached(int fd, std::uint64_t offset = 0);
void drop_cached(const std::string& path);
// Writes `data` to `path` atomically, with permissions `mode`: temporary
// file beside it, fsync, rename, fsync the directory. A reader sees the old
// file or the new one; on failure the old one stays and no temporary file
// is left behind. (In out_file.cpp, with OutputFile, which does it.)
Status replace_file(const std::string& path, std::string_view data, mode_t mode = 0600);
// "DOING PATH: strerror"; a refused access adds who owns what (describe_denial).
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
    int release() {
        int fd = m_fd;
        m_fd = -1;
        return fd;
    }
    explicit operator bool() const { return m_fd >= 0; }
    void reset();

  private:
    int m_fd = -1;
};

// A file with no name yet (O_TMPFILE, Linux): written like any file, it is
// named by link_as(), and vanishes by itself if the process dies before, so
// a crash leaves nothing to clean up. Naming it is one directory change
// where a named temporary file costs three (create in tmp/, remove from
// tmp/, add to cur/), and every message pays those in system time.
// Its descriptor stays open until the file is named and durable; all such
// descriptors together are kept to half the process's limit.
class UnnamedFile {
  public:
    // In directory `dir`; an empty one where that cannot be (a filesystem
    // without O_TMPFILE, no /proc to name it through, the descriptor share
    // spent, or the test hook MAILFERRY_TEST_NAMED_TEMP_FILES set): the
    // caller then writes a named temporary file instead.
    static UnnamedFile create(const std::string& dir);
    // Whether unnamed files can be made in `dir` and named, tried with one
    // that is linked as `probe_path` and removed at once. A refusal to name
    // it (a sandbox or security module that forbids it, a file system
    // without hard links) turns unnamed files off for the whole process.
    static bool usable_in(const std::string& dir, const std::string& probe_path);
    // Descriptors of unnamed files open now, in all threads (for tests).
    static long open_count();
    UnnamedFile() = default;
    UnnamedFile(UnnamedFile&& o) noexcept : m_fd(std::move(o.m_fd)) {}
    UnnamedFile& operator=(UnnamedFile&& o) noexcept;
    ~UnnamedFile() { close(); }
    int get() const { return m_fd.get(); }
    explicit operator bool() const { return static_cast<bool>(m_fd); }
    // Gives the file the name `path` (which must not exist yet).
    Status link_as(const std::string& path) const;
    void close();

  private:
    Fd m_fd;
};

} // namespace mf::fs
