// One run at a time per archive: an flock(2) on ARCHIVE/.mailferry/lock. The
// kernel drops the lock when the process dies, so a killed run never leaves
// a stale lock behind (unlike a PID file).
#pragma once

#include "sync/result.h"

#include <string>

namespace mf::archive {

class ArchiveLock {
  public:
    static Result<ArchiveLock> acquire(const std::string& meta_dir);
    // The same on any lock file (e.g. beside a migration's state database).
    static Result<ArchiveLock> acquire_file(const std::string& path);
    ArchiveLock(ArchiveLock&& other) noexcept : m_fd(other.m_fd) { other.m_fd = -1; }
    ArchiveLock& operator=(ArchiveLock&&) = delete;
    ~ArchiveLock();

  private:
    explicit ArchiveLock(int fd) : m_fd(fd) {}
    int m_fd = -1;
};

} // namespace mf::archive
