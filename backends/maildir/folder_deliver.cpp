#include "backends/maildir/folder.h"

#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mf::maildir {

namespace {

// Most messages are written whole in one write(); the buffer, one per
// connection, stays small for the memory budget.
constexpr std::size_t k_write_buffer = 32 * 1024;

} // namespace

std::string MaildirFolder::file_name(const std::string& id, std::uint64_t size,
                                     const Flags& flags) {
    using namespace std::chrono;
    auto now = system_clock::now().time_since_epoch();
    auto secs = duration_cast<seconds>(now).count();
    auto micros = duration_cast<microseconds>(now).count() % 1000000;
    std::string unique = make_bounded_unique_part(secs, micros, m_pid, ++m_counter, id, size);
    return unique + ",V=" + std::to_string(m_validity) + ":2," + flags_to_info(flags, m_keywords);
}

Status MaildirFolder::begin(std::uint64_t) {
    abandon();
    if (auto s = ensure_dirs(); !s) return s;
    if (!m_batch_dir) {
        const std::string tmp = m_dir + "/tmp";
        m_batch_dir = fs::Fd(::open(tmp.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!m_batch_dir) return std::unexpected(fs::io_error("cannot open", tmp, errno));
    }
    if (!m_unnamed_ok)
        m_unnamed_ok = fs::UnnamedFile::usable_in(
            m_dir + "/tmp", m_dir + "/tmp/" + std::to_string(m_pid) + ".probe.mailferry");
    if (*m_unnamed_ok) m_unnamed = fs::UnnamedFile::create(m_dir + "/tmp");
    if (!m_unnamed) {
        m_tmp_name = std::to_string(m_pid) + '.' + std::to_string(++m_counter) + ".mailferry";
        std::string path = m_dir + "/tmp/" + m_tmp_name;
        m_fd = fs::Fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
        if (!m_fd) {
            auto f = fs::io_error("cannot create", path, errno);
            m_tmp_name.clear();
            return std::unexpected(f);
        }
    }
    m_crlf = mail::CrlfToLf{};
    m_headers = mail::HeaderScanner{};
    m_buffer.clear();
    return {};
}

Status MaildirFolder::flush_buffer() {
    auto s = fs::write_all(out_fd(), m_buffer, out_path());
    m_buffer.clear();
    return s;
}

Status MaildirFolder::write(std::string_view chunk) {
    if (!m_headers.done()) m_headers.feed(chunk);
    m_crlf.feed(chunk, m_buffer);
    if (m_buffer.size() >= k_write_buffer) return flush_buffer();
    return {};
}

Status MaildirFolder::finish(const RemoteMessage& message) {
    m_crlf.finish(m_buffer);
    if (auto s = flush_buffer(); !s) return s;
    // The file's mtime is the message's INTERNALDATE (Dovecot's convention),
    // so a restore can give the date back.
    if (message.internal_date > 0) {
        timespec times[2] = {{message.internal_date, 0}, {message.internal_date, 0}};
        ::futimens(out_fd(), times);
    }
    m_fd.reset(); // an unnamed file stays open until it is named (commit)
    if (!m_headers.done()) m_headers.finish();
    if (auto adopted = adopt_by_digest(message)) {
        // The copy just written was never durable nor named: drop it.
        abandon();
        m_pending.push_back(std::move(*adopted));
        return {};
    }
    std::string final_name = file_name(message.id, message.size, message.flags);
    archive::StoredMessage row{message.id,
                               base_of(final_name),
                               message.flags,
                               message.size,
                               m_headers.message_id(),
                               message.internal_date,
                               0,
                               message.identity,
                               message.labels};
    m_pending.push_back(
        Pending{m_tmp_name, std::move(final_name), std::move(row), "cur", std::move(m_unnamed)});
    m_tmp_name.clear();
    return {};
}

void MaildirFolder::abandon() {
    m_unnamed.close(); // an unnamed file vanishes with its descriptor
    if (m_tmp_name.empty()) return;
    m_fd.reset();
    ::unlink((m_dir + "/tmp/" + m_tmp_name).c_str());
    m_tmp_name.clear();
}

} // namespace mf::maildir
