#include "backends/mbox/folder.h"

#include "backends/mbox/file_io.h"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

namespace mf::mbox {

// A held message: from load()'s records, or for one committed since, from
// the index file (read again: rare, and it keeps memory flat).
Result<std::optional<MboxFolder::Held>> MboxFolder::find_held(const std::string& id) const {
    if (auto it = m_held.find(id); it != m_held.end()) return it->second;
    if (held_is_complete()) return std::optional<Held>();
    auto index = read_index(m_index_path);
    if (!index) return std::unexpected(index.error());
    for (const auto& r : index->replay.records())
        if (r.validity == m_validity && r.id == id)
            return Held{r.offset, r.length, r.size, r.flags};
    return std::optional<Held>();
}

// Whether a message is held, without reading the index: the database has
// every committed message (find_held() is for where its bytes are).
Result<bool> MboxFolder::holds(const std::string& id) const {
    if (m_held.contains(id)) return true;
    if (held_is_complete()) return false;
    auto location = m_db.location(m_record.key, id);
    if (!location) return std::unexpected(location.error());
    return !location->empty();
}

// Decodes the message's bytes back to CRLF. A message that did not end in a
// line break gained one in the mbox: when the decoded copy is exactly 2
// octets longer than the held size, those 2 are dropped again.
Status MboxFolder::read(const std::string& id, MessageSink& sink) {
    auto held = find_held(id);
    if (!held) return std::unexpected(held.error());
    if (!*held) return fail(ErrorKind::not_found, Scope::message, "message " + id + " is not held");
    const Held h = **held;
    fs::Fd fd(::open(m_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return std::unexpected(fs::io_error("cannot read", m_path, errno));
    if (auto s = sink.begin(h.size); !s) return s;
    RemoteMessage m{id, h.size, 0, h.flags};
    std::string tail; // the last 2 decoded octets, held back
    std::uint64_t total = 0;
    Status status;
    Decoder decoder(
        {[&](std::string_view from) { m.internal_date = parse_from_line(from).value_or(0); },
         [&](std::string_view body) {
             total += body.size();
             tail += body;
             if (status && tail.size() > 2)
                 status = sink.write(std::string_view(tail).substr(0, tail.size() - 2));
             tail.erase(0, tail.size() - std::min<std::size_t>(tail.size(), 2));
         },
         nullptr});
    for (std::uint64_t at = h.offset; status && at < h.offset + h.length;) {
        std::string block = pread_some(fd.get(), at,
                                       static_cast<std::size_t>(std::min<std::uint64_t>(
                                           k_write_buffer, h.offset + h.length - at)));
        if (block.empty())
            status = fail(ErrorKind::local_io, Scope::message,
                          m_path + " is shorter than its index says");
        at += block.size();
        decoder.feed(block);
    }
    if (status) decoder.finish();
    if (status && !(total == h.size + 2 && tail == "\r\n")) status = sink.write(tail);
    if (!status) {
        sink.abandon();
        return status;
    }
    return sink.finish(m);
}

} // namespace mf::mbox
