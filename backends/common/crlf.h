// Streaming CRLF -> LF conversion for archives, which keep LF line ends.
// Exact and reversible for any message whose lines all end in CRLF; a bare LF
// in the source is counted so the store can say the copy is not reversible.
#pragma once

#include <cstdint>
#include <cstring>
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
    void feed(std::string_view in, std::string& out) {
        feed_runs(in, [&](std::string_view run) {
            out.append(run);
            return true;
        });
    }
    // Gives the converted bytes of `in` to `emit` in runs, without copying
    // them: the input between bare LFs, and "\r" alone before each. Stops
    // when `emit` returns false.
    template <class Emit> void feed_runs(std::string_view in, Emit&& emit);

  private:
    bool m_last_cr = false;
};

// memchr finds the line ends: a restore sends every byte through here, and
// lines are long enough for a byte-at-a-time loop to show in a profile.
template <class Emit> void LfToCrlf::feed_runs(std::string_view in, Emit&& emit) {
    const char* start = in.data();
    const char* end = start + in.size();
    const char* p = start;
    while (const void* hit =
               p < end ? std::memchr(p, '\n', static_cast<std::size_t>(end - p)) : nullptr) {
        const char* lf = static_cast<const char*>(hit);
        bool after_cr = lf > in.data() ? lf[-1] == '\r' : m_last_cr;
        p = lf + 1;
        if (after_cr) continue;
        if (!emit(std::string_view(start, static_cast<std::size_t>(lf - start))) ||
            !emit(std::string_view("\r")))
            return;
        start = lf; // the LF itself goes out with the next run
    }
    if (!in.empty()) m_last_cr = in.back() == '\r';
    emit(std::string_view(start, static_cast<std::size_t>(end - start)));
}

// How long LfToCrlf's output will be, without producing it: the input's
// length plus one for every LF not already preceded by CR.
class CrlfSize {
  public:
    void feed(std::string_view in) {
        m_convert.feed_runs(in, [&](std::string_view run) {
            m_size += run.size();
            return true;
        });
    }
    std::uint64_t size() const { return m_size; }

  private:
    LfToCrlf m_convert;
    std::uint64_t m_size = 0;
};

} // namespace mf::mail
