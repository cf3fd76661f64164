#include "backends/mbox/folder.h"

#include "backends/mbox/file_io.h"

#include <unistd.h>

namespace mf::mbox {

Status MboxFolder::begin(std::uint64_t) {
    abandon();
    if (!m_loaded)
        if (auto l = load(); !l) return std::unexpected(l.error());
    if (auto s = lock_mbox(true); !s) return s;
    if (auto s = open_index(); !s) return s;
    m_writing.emplace();
    m_writing->start = m_end;
    m_writing->encoder.emplace(m_writing->buffer);
    // The date is known only at finish(); the From_ line is written now with
    // a placeholder date of the same length and completed then.
    m_writing->buffer = from_line(0);
    return {};
}

Status MboxFolder::flush_buffer() {
    Writing& w = *m_writing;
    auto s = pwrite_all(m_fd.get(), w.buffer, w.start + w.flushed, m_path);
    w.flushed += w.buffer.size();
    w.buffer.clear();
    return s;
}

Status MboxFolder::write(std::string_view chunk) {
    if (!m_writing)
        return fail(ErrorKind::local_io, Scope::message, "a message written without begin()");
    if (!m_writing->headers.done()) m_writing->headers.feed(chunk);
    // Written out before the buffer would pass k_write_buffer, not after:
    // it then never grows to twice that (four connections, four buffers).
    if (m_writing->buffer.size() + chunk.size() > k_write_buffer)
        if (auto s = flush_buffer(); !s) return s;
    m_writing->encoder->feed(chunk);
    return {};
}

Status MboxFolder::finish(const RemoteMessage& message) {
    if (!m_writing)
        return fail(ErrorKind::local_io, Scope::message, "a message finished without begin()");
    Writing& w = *m_writing;
    w.encoder->finish();
    if (!w.headers.done()) w.headers.finish();
    std::int64_t date = message.internal_date;
    if (date <= 0) date = mail::parse_rfc5322_date(w.headers.date()).value_or(0);
    std::string from = from_line(date > 0 ? date : now_seconds());
    if (from.size() != from_line(0).size()) { // cannot happen: from_line has a fixed width
        abandon();
        return fail(ErrorKind::local_io, Scope::message, "a From_ line of unexpected length");
    }
    // The message is not finished yet, so this is no edit of a stored message.
    Status s;
    if (w.flushed == 0)
        w.buffer.replace(0, from.size(), from);
    else
        s = pwrite_all(m_fd.get(), from, w.start, m_path);
    if (s) s = flush_buffer();
    if (!s) {
        abandon();
        return s;
    }
    Flags flags = message.flags;
    normalize(flags);
    IndexRecord record{m_validity,
                       message.id,
                       w.start,
                       from.size() + w.encoder->bytes_written(),
                       message.size > 0 ? message.size : w.encoder->crlf_octets(),
                       flags};
    archive::StoredMessage row{message.id,  std::to_string(w.start), flags,
                               record.size, w.headers.message_id(),  date,
                               0,           message.identity,        message.labels};
    m_end = record.end();
    m_pending.push_back(Pending{std::move(record), std::move(row)});
    m_writing.reset();
    return {};
}

// The file is cut back to where the message started. Should that fail, the
// next load() cuts it back instead: the bytes are past the last indexed one.
void MboxFolder::abandon() {
    if (!m_writing) return;
    std::uint64_t start = m_writing->start;
    m_writing.reset();
    (void)truncate_mbox(start);
}

} // namespace mf::mbox
