#include "cli/progress.h"

#include "cli/output.h"

#include <cstdio>
#include <iostream>
#include <unistd.h>

namespace mf::cli {

using Clock = std::chrono::steady_clock;

namespace {

// At most `bytes` bytes of `text`, never ending inside a UTF-8 sequence.
std::string utf8_prefix(const std::string& text, std::size_t bytes) {
    while (bytes > 0 && bytes < text.size() &&
           (static_cast<unsigned char>(text[bytes]) & 0xC0) == 0x80)
        --bytes;
    return text.substr(0, bytes);
}

} // namespace

ConsoleProgress::ConsoleProgress(bool verbose, bool quiet, bool push)
    : m_tty(::isatty(2) == 1), m_verbose(verbose), m_quiet(quiet), m_push(push) {}

void ConsoleProgress::folder_started(const std::string& folder, std::size_t messages,
                                     std::uint64_t bytes, bool estimated) {
    if (m_active.empty()) {
        m_total = m_done = 0;
        m_total_bytes = m_done_bytes = 0;
        m_start = Clock::now();
        m_last_draw = {};
    }
    m_active.insert(folder);
    m_folder = printable(folder);
    m_total += messages;
    m_total_bytes += bytes;
    if (m_quiet) return;
    if (m_tty)
        draw(true);
    else if (messages > 0)
        std::cerr << m_folder << (m_push ? ": uploading " : ": fetching ") << messages
                  << (m_push ? " (" : " messages (") << (estimated ? "about " : "")
                  << human_bytes(bytes) << ")\n";
}

void ConsoleProgress::message_done(std::uint64_t bytes) {
    ++m_done;
    m_done_bytes += bytes;
    if (m_tty && !m_quiet) draw(false);
}

// One line, redrawn at most ten times a second: messages, bytes, rate, ETA.
void ConsoleProgress::draw(bool force) {
    auto now = Clock::now();
    if (!force && now - m_last_draw < std::chrono::milliseconds(100)) return;
    m_last_draw = now;
    double secs = std::chrono::duration<double>(now - m_start).count();
    double rate = secs > 0 ? static_cast<double>(m_done_bytes) / secs : 0;
    double frac = m_total_bytes
                      ? static_cast<double>(m_done_bytes) / static_cast<double>(m_total_bytes)
                      : (m_total ? static_cast<double>(m_done) / static_cast<double>(m_total) : 1);
    const int width = 24;
    int filled = static_cast<int>(frac * width);
    std::string bar(static_cast<std::size_t>(std::max(0, std::min(width, filled))), '#');
    bar.resize(width, '.');
    char eta[32] = "";
    if (rate > 0 && m_total_bytes > m_done_bytes)
        std::snprintf(eta, sizeof eta, " ETA %.0fs",
                      static_cast<double>(m_total_bytes - m_done_bytes) / rate);
    std::string name = m_folder;
    if (m_active.size() > 1) name = std::to_string(m_active.size()) + " folders";
    if (name.size() > 24) name = utf8_prefix(name, 23) + "~";
    std::fprintf(stderr, "\r%-24s [%s] %zu/%zu msgs %s %s/s%s\033[K", name.c_str(), bar.c_str(),
                 m_done, m_total, human_bytes(m_done_bytes).c_str(),
                 human_bytes(static_cast<std::uint64_t>(rate)).c_str(), eta);
}

void ConsoleProgress::folder_finished(const FolderReport& r) {
    const std::string label = folder_label(r);
    if (auto it = m_active.find(label); it != m_active.end()) m_active.erase(it);
    if (m_quiet && r.error.empty()) return;
    if (m_tty && !m_quiet) std::fputs("\r\033[K", stderr);
    if (!r.error.empty()) {
        std::cerr << printable(label) << ": FAILED: " << printable(r.error) << '\n';
    } else if (m_tty || m_verbose || r.fetched || r.flags_updated || r.deferred) {
        std::cerr << printable(label) << ": " << r.fetched << (m_push ? " uploaded, " : " new, ")
                  << r.flags_updated << " flag updates, " << r.held
                  << (m_push ? " already on the target" : " already held")
                  << (r.deferred ? ", " + std::to_string(r.deferred) + " left: budget reached\n"
                                 : "\n");
    }
    if (m_tty && !m_quiet && !m_active.empty()) draw(true);
}

void ConsoleProgress::note(const std::string& line) {
    if (m_quiet) return;
    if (m_tty) std::fputs("\r\033[K", stderr);
    std::cerr << printable(line) << '\n';
}

} // namespace mf::cli
