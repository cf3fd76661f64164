#include "backends/archive/download_log.h"

#include <charconv>

namespace mf::archive {

namespace {

constexpr const char* k_key = "downloads_24h";

template <class T> bool parse_number(std::string_view text, T& out) {
    const char* end = text.data() + text.size();
    auto [rest, ec] = std::from_chars(text.data(), end, out);
    return ec == std::errc() && rest == end && !text.empty();
}

// An entry later than `now` (the clock was set back) still counts: the
// provider's day went by its own clock.
bool within(const DownloadEntry& e, std::int64_t now) {
    return e.when > now - k_download_window;
}

} // namespace

std::vector<DownloadEntry> parse_download_log(std::string_view text) {
    std::vector<DownloadEntry> out;
    while (!text.empty()) {
        auto comma = text.find(',');
        std::string_view item = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
        auto colon = item.find(':');
        DownloadEntry e;
        if (colon != std::string_view::npos && parse_number(item.substr(0, colon), e.when) &&
            parse_number(item.substr(colon + 1), e.bytes))
            out.push_back(e);
    }
    return out;
}

std::string format_download_log(const std::vector<DownloadEntry>& entries) {
    std::string out;
    for (const auto& e : entries)
        out += (out.empty() ? "" : ",") + std::to_string(e.when) + ":" + std::to_string(e.bytes);
    return out;
}

Result<std::uint64_t> downloaded_within_day(StateDb& db, std::int64_t now) {
    auto text = db.meta(k_key);
    if (!text) return std::unexpected(text.error());
    std::uint64_t sum = 0;
    for (const auto& e : parse_download_log(*text))
        if (within(e, now)) sum += e.bytes;
    return sum;
}

Status record_download(StateDb& db, std::int64_t now, std::uint64_t bytes) {
    auto text = db.meta(k_key);
    if (!text) return std::unexpected(text.error());
    std::vector<DownloadEntry> kept;
    for (const auto& e : parse_download_log(*text))
        if (within(e, now)) kept.push_back(e);
    if (bytes > 0) kept.push_back({now, bytes});
    return db.set_meta(k_key, format_download_log(kept));
}

} // namespace mf::archive
