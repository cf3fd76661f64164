#include "backends/common/out_file.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <utility>

namespace mf::fs {

namespace {

Failure refused(const std::string& path, const char* what) {
    return Failure{ErrorKind::usage, Scope::account,
                   path + " is " + what + "; name a file, a character device, a FIFO or a socket"};
}

// A relative link target is relative to the link's own directory.
Result<std::string> link_target(const std::string& link) {
    std::string target(4096, '\0');
    ssize_t n = ::readlink(link.c_str(), target.data(), target.size());
    if (n < 0) return std::unexpected(io_error("cannot read the symlink", link, errno));
    target.resize(static_cast<std::size_t>(n));
    auto slash = link.rfind('/');
    if (target.starts_with('/') || slash == std::string::npos) return target;
    return link.substr(0, slash + 1) + target;
}

std::string directory_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

// A socket cannot be open(2)ed: connected to instead, as a stream (or as
// datagrams, for a socket like /dev/log that takes only those).
Fd connect_socket(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) {
        errno = ENAMETOOLONG;
        return Fd();
    }
    path.copy(addr.sun_path, path.size());
    for (int type : {SOCK_STREAM, SOCK_DGRAM}) {
        Fd fd(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
        if (!fd) return fd;
        if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
        if (errno != EPROTOTYPE) return Fd();
    }
    return Fd();
}

Fd open_stream(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) return connect_socket(path);
    // Blocks on a FIFO until a reader opens it, as a shell's redirection does.
    return Fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY));
}

} // namespace

Result<OutputPath> resolve_output(const std::string& path) {
    std::string p = path;
    for (int hops = 0; hops < 40; ++hops) {
        struct stat st;
        if (::lstat(p.c_str(), &st) != 0) {
            if (errno == ENOENT) return OutputPath{p, OutputKind::file};
            return std::unexpected(io_error("cannot look at", p, errno));
        }
        if (S_ISREG(st.st_mode)) return OutputPath{p, OutputKind::file};
        if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))
            return OutputPath{p, OutputKind::stream};
        if (S_ISDIR(st.st_mode)) return std::unexpected(refused(p, "a directory"));
        if (!S_ISLNK(st.st_mode)) return std::unexpected(refused(p, "a block device"));
        auto next = link_target(p);
        if (!next) return std::unexpected(next.error());
        p = std::move(*next);
    }
    return std::unexpected(io_error("cannot follow the symlinks of", path, ELOOP));
}

Result<OutputFile> OutputFile::open(const std::string& path, mode_t mode) {
    auto where = resolve_output(path);
    if (!where) return std::unexpected(where.error());
    if (where->kind == OutputKind::file) return replacing(where->path, mode);
    OutputFile out;
    out.m_path = where->path;
    out.m_fd = open_stream(out.m_path);
    if (!out.m_fd) return std::unexpected(io_error("cannot open", out.m_path, errno));
    return out;
}

Result<OutputFile> OutputFile::replacing(const std::string& path, mode_t mode) {
    OutputFile out;
    out.m_path = path;
    if (auto s = out.open_temporary(mode); !s) return std::unexpected(s.error());
    return out;
}

// The process id in the name keeps two processes writing one file (two runs
// with one --report-file) off each other's half-written temporary.
Status OutputFile::open_temporary(mode_t mode) {
    std::string temp = m_path + ".tmp." + std::to_string(::getpid());
    m_fd = Fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!m_fd) return std::unexpected(io_error("cannot create", temp, errno));
    m_temp = std::move(temp);
    if (::fchmod(m_fd.get(), mode) != 0)
        return std::unexpected(io_error("cannot chmod", m_temp, errno));
    return {};
}

OutputFile::OutputFile(OutputFile&& o) noexcept
    : m_path(std::move(o.m_path)), m_temp(std::exchange(o.m_temp, {})), m_fd(std::move(o.m_fd)) {}

OutputFile::~OutputFile() {
    m_fd.reset();
    if (!m_temp.empty()) ::unlink(m_temp.c_str()); // a failed write leaves nothing behind
}

Status OutputFile::write(std::string_view data) {
    return write_all(m_fd.get(), data, m_temp.empty() ? m_path : m_temp);
}

// Order is the point: the data is durable in the temporary file before the
// rename makes it the file, and the directory is synced after, so a crash
// leaves the old file or the new one, never half of one.
Status OutputFile::commit() {
    if (m_temp.empty()) return {};
    if (::fsync(m_fd.get()) != 0) return std::unexpected(io_error("cannot fsync", m_temp, errno));
    m_fd.reset();
    if (::rename(m_temp.c_str(), m_path.c_str()) != 0)
        return std::unexpected(io_error("cannot rename into", m_path, errno));
    m_temp.clear();
    return fsync_path(directory_of(m_path));
}

namespace {

Status write_whole(Result<OutputFile> out, std::string_view data) {
    if (!out) return std::unexpected(out.error());
    if (auto s = out->write(data); !s) return s;
    return out->commit();
}

} // namespace

Status write_output(const std::string& path, std::string_view data, mode_t mode) {
    return write_whole(OutputFile::open(path, mode), data);
}

Status replace_file(const std::string& path, std::string_view data, mode_t mode) {
    return write_whole(OutputFile::replacing(path, mode), data);
}

} // namespace mf::fs
