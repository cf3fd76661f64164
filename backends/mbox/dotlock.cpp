#include "backends/mbox/dotlock.h"

#include "backends/common/fs.h"
#include "backends/mbox/file_io.h"

#include <csignal>
#include <cstdlib>

#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace mf::mbox {

namespace {

// A dotlock older than this is left over from a crash (procmail and mutt
// use similar ages) and may be removed.
constexpr std::int64_t k_stale_dotlock_seconds = 5 * 60;
constexpr auto k_dotlock_wait = std::chrono::seconds(5);

} // namespace

Dotlock::Dotlock(std::string file) : m_file(std::move(file)), m_path(m_file + ".lock") {}

// A dotlock names its holder's PID (ours do, as procmail's and mutt's do).
// If no such process exists on this machine, the holder crashed: a killed
// mailferry must not block the next run for minutes.
static bool holder_is_gone(const std::string& lock_path) {
    std::string text = fs::read_small_file(lock_path);
    long pid = std::strtol(text.c_str(), nullptr, 10);
    if (pid <= 0) return false; // no PID: only age tells
    return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

// The lock appears with its PID already in it: written to a side file, then
// linked into place (link fails if the lock exists). A run killed between
// an O_EXCL create and the write would leave an empty lock that only its age
// could prove stale. The side file's name is fixed: under the archive lock
// only this run writes this folder, and a leftover from a kill is replaced.
// True: taken; false: someone holds it.
Result<bool> Dotlock::make() {
    std::string side = m_path + ".new";
    (void)::unlink(side.c_str());
    {
        fs::Fd fd(::open(side.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
        if (!fd) return std::unexpected(fs::io_error("cannot create", side, errno));
        if (auto s = fs::write_all(fd.get(), std::to_string(::getpid()) + '\n', side); !s) {
            (void)::unlink(side.c_str());
            return std::unexpected(s.error());
        }
    }
    int rc = ::link(side.c_str(), m_path.c_str());
    int err = errno;
    (void)::unlink(side.c_str());
    if (rc == 0) return true;
    if (err == EEXIST) return false;
    return std::unexpected(fs::io_error("cannot create", m_path, err));
}

Status Dotlock::take() {
    auto deadline = std::chrono::steady_clock::now() + k_dotlock_wait;
    for (;;) {
        auto made = make();
        if (!made) return std::unexpected(made.error());
        if (*made) {
            m_held = true;
            return {};
        }
        struct stat st;
        if (::lstat(m_path.c_str(), &st) == 0 &&
            (now_seconds() - st.st_mtime > k_stale_dotlock_seconds || holder_is_gone(m_path))) {
            if (::unlink(m_path.c_str()) != 0 && errno != ENOENT)
                return std::unexpected(fs::io_error("cannot remove the stale lock", m_path, errno));
            continue;
        }
        if (std::chrono::steady_clock::now() >= deadline)
            return fail(ErrorKind::locked, Scope::folder,
                        m_file + " is locked by another program (" + m_path + ")");
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

void Dotlock::release() {
    if (m_held) ::unlink(m_path.c_str());
    m_held = false;
}

} // namespace mf::mbox
