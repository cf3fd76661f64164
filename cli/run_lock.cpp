#include "cli/run_lock.h"

#include "sync/fnv.h"

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace mf::cli {

namespace {

std::string hex(std::uint64_t value) {
    char buf[20];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(value));
    return buf;
}

fs::Fd open_lock_file(const std::string& path) {
    // O_NOFOLLOW: in a shared directory such as /tmp, a symlink planted by
    // someone else must not make us create or truncate a file elsewhere.
    fs::Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    struct stat st;
    if (fd && (::fstat(fd.get(), &st) != 0 || st.st_uid != ::geteuid() || !S_ISREG(st.st_mode)))
        fd.reset();
    return fd;
}

} // namespace

// JOBFILE.lock beside the file; where that directory is not ours to write
// (/etc), a lock named after the file's real path in XDG_RUNTIME_DIR or /tmp.
Result<RunLock> RunLock::acquire(const std::string& job_file) {
    std::vector<std::string> candidates{job_file + ".lock"};
    char real[PATH_MAX];
    std::string id = hex(fnv1a64(::realpath(job_file.c_str(), real) ? real : job_file));
    if (const char* run = std::getenv("XDG_RUNTIME_DIR"); run && *run)
        candidates.push_back(std::string(run) + "/mailferry-" + id + ".lock");
    candidates.push_back("/tmp/mailferry-" + std::to_string(::geteuid()) + "-" + id + ".lock");
    for (const auto& path : candidates) {
        fs::Fd fd = open_lock_file(path);
        if (!fd) continue;
        if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) return RunLock(std::move(fd));
        if (errno == EWOULDBLOCK)
            return fail(ErrorKind::locked, Scope::account,
                        "another 'mailferry run' of " + job_file + " is in progress (lock " + path +
                            ")");
    }
    return fail(ErrorKind::local_io, Scope::account,
                "cannot create a lock file for " + job_file + " (tried " + candidates.front() +
                    " and a temporary directory)");
}

} // namespace mf::cli
