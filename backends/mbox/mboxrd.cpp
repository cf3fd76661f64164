#include "backends/mbox/mboxrd.h"

#include "backends/common/headers.h"

#include <algorithm>
#include <array>

namespace mf::mbox {
namespace {

constexpr std::string_view k_from = "From ";
// Output is handed to the sink in pieces of about this size.
constexpr std::size_t k_buffer = 64 * 1024;

// 1900-01-01 00:00:00 and 9999-12-31 23:59:59 UTC: four-digit years, which
// every mbox reader understands.
constexpr std::int64_t k_min_date = -2208988800;
constexpr std::int64_t k_max_date = 253402300799;

struct Civil {
    std::int64_t year;
    int month, day;
};

// H. Hinnant's civil_from_days: the date `days` after 1970-01-01.
Civil civil_from_days(std::int64_t days) {
    days += 719468;
    const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const std::int64_t doe = days - era * 146097;
    const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const std::int64_t mp = (5 * doy + 2) / 153;
    const int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
    const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
    return {yoe + era * 400 + (month <= 2), month, day};
}

std::string two_digits(std::int64_t v) {
    return std::string{static_cast<char>('0' + v / 10), static_cast<char>('0' + v % 10)};
}

} // namespace

std::string from_line(std::int64_t internal_date_epoch, std::string_view envelope_sender) {
    constexpr std::array<std::string_view, 7> weekdays = {"Thu", "Fri", "Sat", "Sun",
                                                          "Mon", "Tue", "Wed"};
    constexpr std::array<std::string_view, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const std::int64_t t = std::clamp(internal_date_epoch, k_min_date, k_max_date);
    const std::int64_t days = (t >= 0 ? t : t - 86399) / 86400;
    const std::int64_t secs = t - days * 86400;
    const Civil date = civil_from_days(days);

    std::string sender(envelope_sender.empty() ? "MAILER-DAEMON" : envelope_sender);
    for (char& c : sender)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) c = '_';

    std::string line = "From " + sender + ' ';
    line += weekdays[static_cast<std::size_t>(((days % 7) + 7) % 7)];
    line += ' ';
    line += months[static_cast<std::size_t>(date.month - 1)];
    line += date.day < 10 ? "  " : " "; // asctime pads the day with a space
    line += std::to_string(date.day) + ' ';
    line +=
        two_digits(secs / 3600) + ':' + two_digits(secs / 60 % 60) + ':' + two_digits(secs % 60);
    line += ' ' + std::to_string(date.year) + '\n';
    return line;
}

std::optional<std::int64_t> parse_from_line(std::string_view line) {
    if (line.ends_with('\n')) line.remove_suffix(1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (!line.starts_with(k_from)) return std::nullopt;
    // The sender may contain spaces (a quoted local part) or be missing, so
    // the date is looked for at each of the first few word starts.
    constexpr int k_max_attempts = 8;
    std::size_t i = line.find_first_not_of(' ', k_from.size());
    for (int attempt = 0; attempt < k_max_attempts && i != std::string_view::npos; ++attempt) {
        if (const auto date = mail::parse_rfc5322_date(line.substr(i))) return date;
        i = line.find(' ', i);
        if (i != std::string_view::npos) i = line.find_first_not_of(' ', i);
    }
    return std::nullopt;
}

// ---- Encoder ----------------------------------------------------------------

void Encoder::put(char c) {
    m_out += c;
    m_last = c;
    ++m_octets_out;
}

void Encoder::put(std::string_view s) {
    if (s.empty()) return;
    m_out += s;
    m_last = s.back();
    m_octets_out += s.size();
}

// The line turned out not to be a ">*From " line: write what was held back.
void Encoder::flush_prefix() {
    put(k_from.substr(0, m_from_matched));
    m_from_matched = 0;
    m_line_start = false;
}

void Encoder::end_line() {
    put('\n');
    m_line_start = true;
    m_from_matched = 0;
}

void Encoder::on_byte(char c) {
    if (m_pending_cr) {
        m_pending_cr = false;
        if (c == '\n') return end_line();
        m_bare_cr = true;
        put('\r');
        m_line_start = false; // the decoder reads "\rFrom " as no From line either
    }
    if (c == '\r') {
        if (m_line_start && m_from_matched > 0) flush_prefix();
        m_pending_cr = true;
        return;
    }
    if (c == '\n') {
        m_bare_lf = true;
        if (m_line_start) flush_prefix();
        return end_line();
    }
    if (m_line_start) {
        // Leading '>'s go out at once: whether one more is due is only known
        // at the ' ' of "From ", and one more '>' in front or behind is the same.
        if (c == '>' && m_from_matched == 0) return put(c);
        if (c == k_from[m_from_matched]) {
            if (++m_from_matched == k_from.size()) {
                put('>');
                flush_prefix();
            }
            return;
        }
        flush_prefix();
    }
    put(c);
}

void Encoder::feed(std::string_view chunk) {
    if (m_finished) return;
    m_octets_in += chunk.size();
    std::size_t i = 0;
    while (i < chunk.size()) {
        // Inside a line with nothing held back, everything up to the next CR
        // or LF is copied as it is, found with memchr: byte by byte through
        // on_byte() took most of an mbox backup's CPU. Line ends and line
        // starts (where ">*From " needs quoting) go through the state machine.
        if (!m_line_start && !m_pending_cr) {
            std::string_view rest = chunk.substr(i, std::min(chunk.size() - i, k_buffer));
            std::size_t end = std::min(rest.find('\n'), rest.size());
            end = std::min(rest.substr(0, end).find('\r'), end);
            if (end > 0) {
                put(rest.substr(0, end));
                i += end;
                continue;
            }
        }
        on_byte(chunk[i++]);
    }
}

void Encoder::finish() {
    if (m_finished) return;
    m_finished = true;
    if (m_pending_cr) {
        m_pending_cr = false;
        m_bare_cr = true;
        put('\r');
    }
    if (m_line_start && m_from_matched > 0) flush_prefix();
    if (m_last != '\n') {
        put('\n');
        m_added_newline = true;
    }
    put('\n'); // the separator
}

// ---- Decoder ----------------------------------------------------------------

void Decoder::emit(std::string_view s) {
    if (!m_in_message) {
        m_skipped += s.size();
        return;
    }
    m_out += s;
    if (m_out.size() >= k_buffer) drain();
}

void Decoder::emit(char c) {
    emit(std::string_view(&c, 1));
}

void Decoder::drain() {
    if (m_out.empty()) return;
    if (m_handler.on_body) m_handler.on_body(m_out);
    m_out.clear();
}

void Decoder::end_message() {
    if (!m_in_message) return;
    drain();
    if (m_handler.on_end) m_handler.on_end();
}

// The current line is body text: a blank line held back before it was not a
// separator after all.
void Decoder::begin_body_line() {
    if (!m_blank_pending) return;
    m_blank_pending = false;
    emit("\r\n");
}

// Writes back what was held at the start of a line that is not ">+From ".
void Decoder::flush_prefix() {
    if (m_quote_held) emit('>');
    emit(k_from.substr(0, m_from_matched));
    m_quote_held = false;
    m_from_matched = 0;
}

void Decoder::on_line_start(char c) {
    if (c == '>' && m_from_matched == 0) {
        // One '>' is held back (it goes if "From " follows); the rest go out.
        if (m_quote_held) return emit(c);
        begin_body_line();
        m_quote_held = true;
        return;
    }
    if (c == k_from[m_from_matched]) {
        if (++m_from_matched < k_from.size()) return;
        m_from_matched = 0;
        if (m_quote_held) {
            m_quote_held = false; // the quoting '>' is dropped
            emit(k_from);
            m_mode = Mode::body;
        } else {
            m_from.assign(k_from);
            m_mode = Mode::from_line;
        }
        return;
    }
    begin_body_line();
    flush_prefix();
    m_mode = Mode::body;
    emit(c);
}

void Decoder::on_from_line(char c) {
    if (m_from.size() < k_max_from_line) {
        m_from += c;
        return;
    }
    begin_body_line(); // too long for a From_ line: body text
    emit(m_from);
    m_from.clear();
    m_mode = Mode::body;
    emit(c);
}

void Decoder::end_from_line() {
    if (parse_from_line(m_from)) {
        if (m_blank_pending && !m_in_message) m_skipped += 2;
        m_blank_pending = false; // the separator before it
        end_message();
        m_in_message = true;
        ++m_messages;
        if (m_handler.on_from) m_handler.on_from(m_from);
    } else {
        begin_body_line(); // an unquoted "From " in the text (mboxo writers)
        emit(m_from);
        emit("\r\n");
    }
    m_from.clear();
}

void Decoder::line_end() {
    switch (m_mode) {
    case Mode::line_start:
        if (!m_quote_held && m_from_matched == 0) {
            // A blank line: held back, it may be the separator.
            begin_body_line();
            m_blank_pending = true;
            return;
        }
        begin_body_line();
        flush_prefix();
        emit("\r\n");
        break;
    case Mode::from_line:
        end_from_line();
        break;
    case Mode::body:
        emit("\r\n");
        break;
    }
    m_mode = Mode::line_start;
}

void Decoder::on_content(char c) {
    switch (m_mode) {
    case Mode::line_start:
        on_line_start(c);
        break;
    case Mode::from_line:
        on_from_line(c);
        break;
    case Mode::body:
        emit(c);
        break;
    }
}

void Decoder::on_byte(char c) {
    if (m_pending_cr) {
        m_pending_cr = false;
        if (c == '\n') return line_end(); // a CRLF in the file stays one line end
        on_content('\r');
    }
    if (c == '\r') {
        m_pending_cr = true;
    } else if (c == '\n') {
        line_end();
    } else {
        on_content(c);
    }
}

void Decoder::feed(std::string_view chunk) {
    if (m_finished) return;
    for (char c : chunk)
        on_byte(c);
    drain();
}

void Decoder::finish() {
    if (m_finished) return;
    if (m_pending_cr) {
        m_pending_cr = false;
        on_content('\r');
    }
    // A last line without a line end is kept as it is.
    switch (m_mode) {
    case Mode::line_start:
        if (m_quote_held || m_from_matched > 0) {
            begin_body_line();
            flush_prefix();
        }
        break;
    case Mode::from_line:
        if (parse_from_line(m_from)) {
            m_mode = Mode::line_start;
            end_from_line(); // a From_ line at the very end: an empty message
        } else {
            begin_body_line();
            emit(m_from);
        }
        break;
    case Mode::body:
        break;
    }
    m_blank_pending = false; // the separator before the end of the file
    end_message();
    m_in_message = false;
    m_finished = true;
}

} // namespace mf::mbox
