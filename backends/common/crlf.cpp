#include "backends/common/crlf.h"

#include <algorithm>
#include <cstring>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace mf::mail {

namespace {

// Handles the byte at `p`, which is a CR or an LF; returns how many input
// bytes it consumed (0: a CR whose partner may be in the next chunk).
inline std::size_t special(const char* p, const char* end, char*& o, std::uint64_t& bare_lf) {
    if (*p == '\n') { // an LF not after a CR
        ++bare_lf;
        *o++ = '\n';
        return 1;
    }
    if (p + 1 == end) return 0;
    bool pair = p[1] == '\n';
    *o++ = pair ? '\n' : '\r';
    return pair ? 2 : 1;
}

} // namespace

// The hot loop of a backup. Sixteen bytes at a time: a block without CR or
// LF is copied whole; otherwise the bytes before the first one are kept and
// that byte is handled alone. The output is never longer than the input, so
// it is written straight into the string's buffer (16 bytes of slack for the
// block stores), without zero-filling.
void CrlfToLf::feed(std::string_view in, std::string& out) {
    const char* p = in.data();
    const char* end = p + in.size();
    if (m_pending_cr && p < end) {
        // A CR ended the last chunk: CR LF becomes LF, a lone CR stays.
        out += *p == '\n' ? '\n' : '\r';
        if (*p == '\n') ++p;
        m_pending_cr = false;
    }
    std::size_t base = out.size();
    out.resize_and_overwrite(
        base + static_cast<std::size_t>(end - p) + 16, [&](char* buf, std::size_t) {
            char* o = buf + base;
#ifdef __SSE2__
            const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
            while (end - p >= 16) {
                __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
                _mm_storeu_si128(reinterpret_cast<__m128i*>(o), block);
                auto mask = static_cast<unsigned>(_mm_movemask_epi8(
                    _mm_or_si128(_mm_cmpeq_epi8(block, cr), _mm_cmpeq_epi8(block, lf))));
                if (mask == 0) {
                    p += 16;
                    o += 16;
                    continue;
                }
                auto k = static_cast<unsigned>(__builtin_ctz(mask));
                p += k;
                o += k;
                std::size_t used = special(p, end, o, m_bare_lf);
                if (used == 0) break; // cannot happen here: 16 bytes remained
                p += used;
            }
#endif
            while (p < end) {
                if (*p != '\r' && *p != '\n') {
                    *o++ = *p++;
                    continue;
                }
                std::size_t used = special(p, end, o, m_bare_lf);
                if (used == 0) { // the CR's partner is in the next chunk
                    m_pending_cr = true;
                    break;
                }
                p += used;
            }
            return static_cast<std::size_t>(o - buf);
        });
}

void CrlfToLf::finish(std::string& out) {
    if (m_pending_cr) out += '\r';
    m_pending_cr = false;
}

} // namespace mf::mail
