#include "backends/archive/lock.h"

#include "backends/common/fs.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace mf::archive {

Result<ArchiveLock> ArchiveLock::acquire(const std::string& meta_dir) {
    return acquire_file(meta_dir + "/lock");
}

Result<ArchiveLock> ArchiveLock::acquire_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        Failure f = fs::io_error("cannot open lock file", path, errno);
        f.scope = Scope::account;
        return std::unexpected(std::move(f));
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        ::close(fd);
        if (err == EWOULDBLOCK)
            return fail(
                ErrorKind::locked, Scope::account,
                "the archive (or migration state) is in use by another mailferry run (lock " +
                    path + ")");
        return fail(ErrorKind::local_io, Scope::account,
                    "cannot lock " + path + ": " + std::strerror(err));
    }
    // Note who holds it, for a person looking at a stuck archive.
    std::string pid = std::to_string(getpid()) + "\n";
    if (ftruncate(fd, 0) == 0 && ::write(fd, pid.data(), pid.size()) < 0) {
        // Not fatal: the flock is what protects the archive.
    }
    return ArchiveLock(fd);
}

ArchiveLock::~ArchiveLock() {
    if (m_fd >= 0) ::close(m_fd);
}

} // namespace mf::archive
