#include "backends/common/spool.h"

#include <cerrno>
#include <cstring>

namespace mf::mail {

Spool::~Spool() {
    if (m_file) std::fclose(m_file);
}

void Spool::clear() {
    m_memory.clear();
    // Keep the room a typical message needs, not what the largest one took.
    if (m_memory.capacity() > 256u << 10) m_memory.shrink_to_fit();
    if (m_file) std::fclose(m_file);
    m_file = nullptr;
    m_size = 0;
    m_crlf = LfToCrlf();
}

Status Spool::append_raw(std::string_view bytes) {
    m_size += bytes.size();
    if (!m_file && m_memory.size() + bytes.size() <= k_memory_limit) {
        m_memory.append(bytes);
        return {};
    }
    if (!m_file) {
        m_file = std::tmpfile();
        if (!m_file || std::fwrite(m_memory.data(), 1, m_memory.size(), m_file) != m_memory.size())
            return fail(ErrorKind::local_io, Scope::message,
                        std::string("cannot spool a large message to a temporary file: ") +
                            std::strerror(errno));
        m_memory.clear();
        m_memory.shrink_to_fit();
    }
    if (std::fwrite(bytes.data(), 1, bytes.size(), m_file) != bytes.size())
        return fail(ErrorKind::local_io, Scope::message,
                    std::string("cannot spool a large message: ") + std::strerror(errno));
    return {};
}

Status Spool::write(std::string_view bytes) {
    Status status;
    m_crlf.feed_runs(bytes, [&](std::string_view run) {
        status = append_raw(run);
        return status.has_value();
    });
    return status;
}

Status Spool::replay(const std::function<Status(std::string_view)>& out) {
    if (!m_file) return out(m_memory);
    std::fflush(m_file);
    std::rewind(m_file);
    char buf[64 * 1024];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, m_file)) > 0)
        if (auto s = out(std::string_view(buf, n)); !s) return s;
    if (std::ferror(m_file))
        return fail(ErrorKind::local_io, Scope::message, "cannot read back a spooled message");
    return {};
}

} // namespace mf::mail
