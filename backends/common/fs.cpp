#include "backends/common/fs.h"

#include "backends/common/permission.h"

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mf::fs {

Failure io_error(const std::string& doing, const std::string& path, int err) {
    std::string what = doing + " " + path + ": " + std::strerror(err);
    if (err == EACCES || err == EPERM) what += "; " + describe_denial(path);
    return Failure{ErrorKind::local_io, Scope::folder, std::move(what)};
}

Fd& Fd::operator=(Fd&& o) noexcept {
    if (this != &o) {
        reset();
        m_fd = o.release();
    }
    return *this;
}
Fd::~Fd() {
    reset();
}
void Fd::reset() {
    if (m_fd >= 0) ::close(m_fd);
    m_fd = -1;
}

std::string read_small_file(const std::string& path) {
    std::string out;
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return out;
    char buf[8192];
    ssize_t n;
    while ((n = ::read(fd.get(), buf, sizeof buf)) > 0 && out.size() < (16u << 20))
        out.append(buf, static_cast<std::size_t>(n));
    return out;
}

bool exists(const std::string& path) {
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0;
}

Status make_dirs(const std::string& path) {
    if (path.empty()) return {};
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode)) return {};
        return std::unexpected(io_error("not a directory:", path, ENOTDIR));
    }
    auto slash = path.find_last_of('/');
    if (slash != std::string::npos && slash > 0) {
        if (auto s = make_dirs(path.substr(0, slash)); !s) return s;
    }
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
        return std::unexpected(io_error("cannot create directory", path, errno));
    return {};
}

Status write_all(int fd, std::string_view data, const std::string& path) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return std::unexpected(io_error("cannot write", path, errno));
        data.remove_prefix(static_cast<size_t>(n));
    }
    return {};
}

Status fsync_path(const std::string& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return std::unexpected(io_error("cannot open", path, errno));
    if (::fsync(fd.get()) != 0) return std::unexpected(io_error("cannot fsync", path, errno));
    return {};
}

Status sync_filesystem_of(const std::string& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return std::unexpected(io_error("cannot open", path, errno));
    return sync_filesystem(fd.get(), path);
}

Status sync_filesystem(int fd, const std::string& path) {
    if (::syncfs(fd) != 0)
        return std::unexpected(io_error("cannot sync the filesystem of", path, errno));
    return {};
}

void drop_cached(int fd, std::uint64_t offset) {
    (void)::posix_fadvise(fd, static_cast<off_t>(offset), 0, POSIX_FADV_DONTNEED);
}

void drop_cached(const std::string& path) {
    // O_NOATIME: reading nothing, and no inode update; refused (EPERM) for
    // a file of another owner, where plain O_RDONLY does as well.
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOATIME));
    if (!fd && errno == EPERM) fd = Fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd) drop_cached(fd.get());
}

namespace {

// Unnamed files hold a descriptor each until their batch is durable (256 a
// folder worker): they may use half the descriptor limit, the rest is for
// connections, the database and the directories.
std::atomic<long> g_unnamed_open{0};
std::atomic<bool> g_unnamed_off{false}; // naming one failed: named files from now on

long unnamed_budget() {
    static const long budget = [] {
        if (std::getenv("MAILFERRY_TEST_NAMED_TEMP_FILES")) return 0L;
        if (::access("/proc/self/fd", X_OK) != 0) return 0L; // nothing to name them through
        rlimit r{};
        if (::getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur == RLIM_INFINITY) return 512L;
        return static_cast<long>(r.rlim_cur / 2);
    }();
    return g_unnamed_off ? 0L : budget;
}

// linkat(AT_EMPTY_PATH) would need CAP_DAC_READ_SEARCH; the /proc link of
// the descriptor, followed, names the same inode for any user.
Status link_descriptor(int fd, const std::string& path) {
    const std::string self = "/proc/self/fd/" + std::to_string(fd);
    if (::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW) != 0) {
        const int err = errno;
        if (err != EEXIST && err != ENOSPC && err != EDQUOT && err != EIO) g_unnamed_off = true;
        return std::unexpected(io_error("cannot link into", path, err));
    }
    return {};
}

Fd open_unnamed(const std::string& dir) {
    return Fd(::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600));
}

} // namespace

bool UnnamedFile::usable_in(const std::string& dir, const std::string& probe_path) {
    if (unnamed_budget() == 0) return false;
    Fd probe = open_unnamed(dir);
    if (!probe || !link_descriptor(probe.get(), probe_path)) return false;
    ::unlink(probe_path.c_str());
    return true;
}

long UnnamedFile::open_count() {
    return g_unnamed_open;
}

UnnamedFile UnnamedFile::create(const std::string& dir) {
    UnnamedFile file;
    if (g_unnamed_open.fetch_add(1) >= unnamed_budget()) {
        g_unnamed_open.fetch_sub(1);
        return file;
    }
    file.m_fd = open_unnamed(dir);
    if (!file.m_fd)
        g_unnamed_open.fetch_sub(1); // EOPNOTSUPP, EISDIR (old kernels)...: named files then
    return file;
}

UnnamedFile& UnnamedFile::operator=(UnnamedFile&& o) noexcept {
    if (this != &o) {
        close();
        m_fd = std::move(o.m_fd);
    }
    return *this;
}

void UnnamedFile::close() {
    if (!m_fd) return;
    m_fd.reset();
    g_unnamed_open.fetch_sub(1);
}

Status UnnamedFile::link_as(const std::string& path) const {
    return link_descriptor(m_fd.get(), path);
}

} // namespace mf::fs
