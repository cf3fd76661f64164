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
    while (i < in.size()) {
        // Copy runs without CR in one go: this is the hot loop of a backup.
        // Every LF inside such a run is a bare LF.
        const void* cr = std::memchr(in.data() + i, '\r', in.size() - i);
        std::size_t stop = cr ? static_cast<std::size_t>(static_cast<const char*>(cr) - in.data())
                              : in.size();
        std::string_view run = in.substr(i, stop - i);
        m_bare_lf += static_cast<std::uint64_t>(std::count(run.begin(), run.end(), '\n'));
        out.append(run);
        if (stop == in.size()) break;
        if (stop + 1 == in.size()) {
            m_pending_cr = true;
            break;
        }
        if (in[stop + 1] == '\n') {
            out += '\n';
            i = stop + 2;
        } else {
            out += '\r';
            i = stop + 1;
        }
    }
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
