#include "backends/common/crlf.h"

#include <algorithm>
#include <cstring>

namespace mf::mail {

void CrlfToLf::feed(std::string_view in, std::string& out) {
    std::size_t i = 0;
    if (m_pending_cr && !in.empty()) {
        // A CR ended the last chunk: CR LF becomes LF, a lone CR stays.
        out += '\n' == in[0] ? "\n" : "\r";
        if (in[0] == '\n') i = 1;
        m_pending_cr = false;
    }
    // The output is never longer than the input: convert straight into the
    // string's own buffer, one pass, no zero-filling. This is the hot loop of
    // a backup.
    std::size_t base = out.size();
    out.resize_and_overwrite(base + (in.size() - i), [&](char* buf, std::size_t) {
        char* o = buf + base;
        const char* p = in.data() + i;
        const char* end = in.data() + in.size();
        while (p < end) {
            // A run without CR is copied in one go; an LF inside it is bare.
            auto* cr = static_cast<const char*>(std::memchr(p, '\r', static_cast<std::size_t>(end - p)));
            const char* stop = cr ? cr : end;
            auto n = static_cast<std::size_t>(stop - p);
            std::memcpy(o, p, n);
            if (std::memchr(p, '\n', n)) m_bare_lf += static_cast<std::uint64_t>(std::count(p, stop, '\n'));
            o += n;
            p = stop;
            if (p == end) break;
            if (p + 1 == end) { // the CR's partner is in the next chunk
                m_pending_cr = true;
                break;
            }
            bool pair = p[1] == '\n';
            *o++ = pair ? '\n' : '\r';
            p += pair ? 2 : 1;
        }
        return static_cast<std::size_t>(o - buf);
    });
}

void LfToCrlf::feed(std::string_view in, std::string& out) {
    std::size_t start = 0;
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '\n') continue;
        bool after_cr = i > 0 ? in[i - 1] == '\r' : m_last_cr;
        if (after_cr) continue;
        out.append(in.substr(start, i - start));
        out += '\r';
        start = i;
    }
    out.append(in.substr(start));
    if (!in.empty()) m_last_cr = in.back() == '\r';
}

void CrlfToLf::finish(std::string& out) {
    if (m_pending_cr) out += '\r';
    m_pending_cr = false;
}

} // namespace mf::mail
