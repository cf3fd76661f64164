#include "backends/export/destination.h"

#include <atomic>
#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mf::exporting {

namespace {

// A name no message or folder can have (names.h never starts one with '.').
std::string temp_name() {
    static std::atomic<unsigned> counter{0};
    return ".mailferry-export-" + std::to_string(::getpid()) + '-' + std::to_string(++counter) +
           ".tmp";
}

} // namespace

Result<Destination> Destination::open(const std::string& path) {
    if (auto s = fs::make_dirs(path); !s) return std::unexpected(s.error());
    fs::Fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return std::unexpected(fs::io_error("cannot open", path, errno));
    Destination d;
    d.m_root = Directory{std::move(fd), path};
    return d;
}

Result<Directory> Destination::directory(const std::vector<std::string>& components) const {
    Directory at{fs::Fd(::dup(m_root.fd.get())), m_root.path};
    if (!at.fd) return std::unexpected(fs::io_error("cannot open", at.path, errno));
    for (const auto& c : components) {
        std::string path = at.path + '/' + c;
        if (::mkdirat(at.fd.get(), c.c_str(), 0700) != 0 && errno != EEXIST)
            return std::unexpected(fs::io_error("cannot create directory", path, errno));
        fs::Fd next(
            ::openat(at.fd.get(), c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!next)
            return std::unexpected(
                fs::io_error("cannot open (not a directory, or a symbolic link)", path, errno));
        at = Directory{std::move(next), std::move(path)};
    }
    return at;
}

Status Destination::sync() const {
    return fs::sync_filesystem(m_root.fd.get(), m_root.path);
}

Result<OutFile> OutFile::create(const Directory& dir) {
    std::string temp = temp_name();
    fs::Fd fd(::openat(dir.fd.get(), temp.c_str(),
                       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) return std::unexpected(fs::io_error("cannot create", dir.path + '/' + temp, errno));
    return OutFile(dir.fd.get(), dir.path, std::move(temp), std::move(fd));
}

OutFile::OutFile(OutFile&& o) noexcept
    : m_dir_fd(o.m_dir_fd), m_dir_path(std::move(o.m_dir_path)), m_temp(std::move(o.m_temp)),
      m_fd(std::move(o.m_fd)), m_size(o.m_size) {
    o.m_temp.clear();
}

OutFile::~OutFile() {
    if (!m_temp.empty()) ::unlinkat(m_dir_fd, m_temp.c_str(), 0);
}

Status OutFile::write(std::string_view data) {
    if (auto s = fs::write_all(m_fd.get(), data, where(m_temp)); !s) return s;
    m_size += data.size();
    return {};
}

Status OutFile::write_at(std::uint64_t offset, std::string_view data) {
    auto n = ::pwrite(m_fd.get(), data.data(), data.size(), static_cast<off_t>(offset));
    if (n != static_cast<ssize_t>(data.size()))
        return std::unexpected(fs::io_error("cannot write", where(m_temp), n < 0 ? errno : EIO));
    return {};
}

Status OutFile::truncate(std::uint64_t size) {
    if (::ftruncate(m_fd.get(), static_cast<off_t>(size)) != 0 ||
        ::lseek(m_fd.get(), static_cast<off_t>(size), SEEK_SET) < 0)
        return std::unexpected(fs::io_error("cannot truncate", where(m_temp), errno));
    m_size = size;
    return {};
}

Status OutFile::commit(const std::string& name) {
    if (::renameat(m_dir_fd, m_temp.c_str(), m_dir_fd, name.c_str()) != 0)
        return std::unexpected(fs::io_error("cannot name", where(name), errno));
    m_temp.clear();
    m_fd.reset();
    return {};
}

} // namespace mf::exporting
