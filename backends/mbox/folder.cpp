#include "backends/mbox/folder.h"

#include "backends/mbox/file_io.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mf::mbox {

MboxFolder::MboxFolder(std::string mbox_path, archive::StateDb& db, archive::FolderRecord record,
                       std::uint32_t source_validity, bool read_only)
    : m_read_only(read_only), m_path(std::move(mbox_path)), m_index_path(m_path + ".mfindex"),
      m_db(db), m_record(record), m_source_validity(source_validity),
      m_validity(record.known ? record.validity : source_validity), m_dotlock(m_path) {}

// Finished but uncommitted messages stay in the mbox past the last indexed
// one: the next load() cuts them away, as after a crash.
MboxFolder::~MboxFolder() {
    abandon();
    close_files();
}

// ---- Locks and files ----------------------------------------------------------

Status MboxFolder::lock_mbox(bool create) {
    if (m_fd) return {};
    if (create)
        if (auto s = fs::make_dirs(parent_of(m_path)); !s) return s;
    fs::Fd fd(::open(m_path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600));
    if (!fd) return std::unexpected(fs::io_error("cannot open", m_path, errno));
    // fcntl before the dotlock, as mutt does, so the two never deadlock.
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    while (::fcntl(fd.get(), F_SETLKW, &fl) != 0) {
        if (errno == EINTR) continue;
        if (errno == ENOLCK) break; // no fcntl locks on this file system: the dotlock remains
        return std::unexpected(fs::io_error("cannot lock", m_path, errno));
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0)
        return std::unexpected(fs::io_error("cannot stat", m_path, errno));
    m_fd = std::move(fd);
    if (auto s = m_dotlock.take(); !s) {
        m_fd.reset();
        return s;
    }
    // Appends go at the end as found under the lock, after anything a mail
    // reader may have added since load().
    m_end = static_cast<std::uint64_t>(st.st_size);
    return {};
}

// The index exists before the first byte of ours goes into the mbox: so an
// mbox without an index is never partly ours, and in a user's own mbox the B
// line says where ours begin.
Status MboxFolder::open_index() {
    if (m_index_fd) return {};
    fs::Fd fd(::open(m_index_path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
    if (!fd && errno == ENOENT) {
        fd = fs::Fd(
            ::open(m_index_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
        if (!fd) return std::unexpected(fs::io_error("cannot create", m_index_path, errno));
        if (m_end > 0)
            if (auto s = fs::write_all(fd.get(), base_line(m_end), m_index_path); !s) return s;
        if (::fsync(fd.get()) != 0)
            return std::unexpected(fs::io_error("cannot fsync", m_index_path, errno));
        // Makes the new mbox and index names durable.
        if (auto s = fs::fsync_path(parent_of(m_path)); !s) return s;
    }
    if (!fd) return std::unexpected(fs::io_error("cannot open", m_index_path, errno));
    m_index_fd = std::move(fd);
    return {};
}

void MboxFolder::close_files() {
    m_index_fd.reset();
    m_dotlock.release();
    m_fd.reset(); // releases the fcntl lock
}

// Appends whole lines and makes them durable; on failure the index is cut
// back, so no partial line is left for the next append to run into.
Status MboxFolder::append_index(const std::string& lines) {
    struct stat st;
    if (::fstat(m_index_fd.get(), &st) != 0)
        return std::unexpected(fs::io_error("cannot stat", m_index_path, errno));
    Status s = fs::write_all(m_index_fd.get(), lines, m_index_path);
    if (s && ::fsync(m_index_fd.get()) != 0)
        s = std::unexpected(fs::io_error("cannot fsync", m_index_path, errno));
    if (!s && ::ftruncate(m_index_fd.get(), st.st_size) == 0) ::fsync(m_index_fd.get());
    return s;
}

Status MboxFolder::truncate_mbox(std::uint64_t size) {
    if (::ftruncate(m_fd.get(), static_cast<off_t>(size)) != 0)
        return std::unexpected(fs::io_error("cannot truncate", m_path, errno));
    m_end = size;
    if (::fsync(m_fd.get()) != 0)
        return std::unexpected(fs::io_error("cannot fsync", m_path, errno));
    return {};
}

} // namespace mf::mbox
