// Streaming CRLF -> LF conversion for archives, which keep LF line ends.
// Exact and reversible for any message whose lines all end in CRLF; a bare LF
// in the source is counted so the store can say the copy is not reversible.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mf::mail {

class CrlfToLf {
  public:
    // Appends the converted bytes of `in` to `out`. Chunks may split anywhere.
    void feed(std::string_view in, std::string& out);
    // Flushes a CR held back at the end of the last chunk.
    void finish(std::string& out);
    std::uint64_t bare_lf() const { return m_bare_lf; }

  private:
    bool m_pending_cr = false;
    std::uint64_t m_bare_lf = 0;
};

// The way back, for reading an archive: every LF not already preceded by CR
// becomes CRLF, so an archived message is sent exactly as it was received.
class LfToCrlf {
  public:
    void feed(std::string_view in, std::string& out);

  private:
    bool m_last_cr = false;
};

// How long LfToCrlf's output will be, without producing it: the input's
// length plus one for every LF not already preceded by CR.
class CrlfSize {
  public:
    void feed(std::string_view in);
    std::uint64_t size() const { return m_size; }

  private:
    bool m_last_cr = false;
    std::uint64_t m_size = 0;
};

} // namespace mf::mail
