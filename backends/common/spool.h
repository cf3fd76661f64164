// Holds one message while its exact size is not yet known (IMAP APPEND needs
// the size before the first byte). Small messages stay in memory; past
// `k_memory_limit` the spool moves to an unlinked temporary file, so a
// 200 MB message never sits in memory. Line ends are normalised on the way
// in: a bare LF becomes CRLF (Cyrus and RFC 5322 reject bare LF); CRLF and
// everything else pass unchanged, so mail that came over IMAP is unchanged.
#pragma once

#include "backends/common/crlf.h"
#include "sync/result.h"

#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

namespace mf::mail {

class Spool {
  public:
    // Larger messages are rare; their memory would stay with every
    // connection that saw one (see clear()).
    static constexpr std::size_t k_memory_limit = 1u << 20;
    Spool() = default;
    ~Spool();
    Spool(const Spool&) = delete;
    Spool& operator=(const Spool&) = delete;

    void clear();
    Status write(std::string_view bytes);
    std::uint64_t size() const { return m_size; }
    // Streams the whole content, in order, to `out`.
    Status replay(const std::function<Status(std::string_view)>& out);

  private:
    Status append_raw(std::string_view bytes);
    std::string m_memory;
    std::FILE* m_file = nullptr;
    std::uint64_t m_size = 0;
    LfToCrlf m_crlf;
};

} // namespace mf::mail
