#include "backends/mbox/index.h"

#include "backends/common/fs.h"
#include "backends/common/id_escape.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <fcntl.h>
#include <unistd.h>

namespace mf::mbox {

namespace {

constexpr std::size_t k_read_block = 64 * 1024;
// A complete index line longer than this is not ours: skipped, not kept.
constexpr std::size_t k_max_index_line = 64 * 1024;

// System flags and their letters, in the order they are written.
constexpr std::pair<char, Flag> k_letters[] = {
    {'D', flag_draft}, {'F', flag_flagged}, {'R', flag_answered},
    {'S', flag_seen},  {'T', flag_deleted},
};

std::optional<std::uint64_t> parse_u64(std::string_view text) {
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
    return v;
}

std::optional<std::uint32_t> parse_u32(std::string_view text) {
    auto v = parse_u64(text);
    if (!v || *v > 0xffffffffu) return std::nullopt;
    return static_cast<std::uint32_t>(*v);
}

std::vector<std::string_view> split(std::string_view line, char sep) {
    std::vector<std::string_view> out;
    for (;;) {
        auto at = line.find(sep);
        out.push_back(line.substr(0, at));
        if (at == std::string_view::npos) return out;
        line.remove_prefix(at + 1);
    }
}

} // namespace

std::string flags_text(const Flags& flags) {
    std::string out;
    for (auto [letter, flag] : k_letters)
        if (flags.has(flag)) out += letter;
    for (const auto& k : flags.keywords)
        out += ',' + mail::escape_id(k);
    return out.empty() ? "-" : out;
}

std::optional<Flags> parse_flags_text(std::string_view text) {
    Flags flags;
    if (text == "-") return flags;
    if (text.empty()) return std::nullopt;
    auto parts = split(text, ',');
    for (char c : parts[0])
        for (auto [letter, flag] : k_letters)
            if (c == letter) flags.system |= flag;
    for (std::size_t i = 1; i < parts.size(); ++i) {
        auto keyword = mail::unescape_id(parts[i]);
        if (!keyword || keyword->empty()) return std::nullopt;
        flags.keywords.push_back(std::move(*keyword));
    }
    normalize(flags);
    return flags;
}

std::string message_line(const IndexRecord& r) {
    return "M " + std::to_string(r.offset) + ' ' + std::to_string(r.length) + ' ' +
           std::to_string(r.validity) + ' ' + mail::escape_id(r.id) + ' ' + std::to_string(r.size) +
           ' ' + flags_text(r.flags) + '\n';
}

std::string flags_line(std::uint32_t validity, const std::string& id, const Flags& flags) {
    return "F " + std::to_string(validity) + ' ' + mail::escape_id(id) + ' ' + flags_text(flags) +
           '\n';
}

std::string rename_line(std::uint32_t old_validity, const std::string& old_id,
                        std::uint32_t new_validity, const std::string& new_id) {
    return "V " + std::to_string(old_validity) + ' ' + mail::escape_id(old_id) + ' ' +
           std::to_string(new_validity) + ' ' + mail::escape_id(new_id) + '\n';
}

std::string base_line(std::uint64_t offset) {
    return "B " + std::to_string(offset) + '\n';
}

std::string IndexReplay::key(std::uint32_t validity, const std::string& id) {
    return std::to_string(validity) + ' ' + id;
}

void IndexReplay::apply(std::string_view line) {
    auto f = split(line, ' ');
    if (f[0] == "M" && f.size() == 7) {
        auto offset = parse_u64(f[1]), length = parse_u64(f[2]), size = parse_u64(f[5]);
        auto validity = parse_u32(f[3]);
        auto id = mail::unescape_id(f[4]);
        auto flags = parse_flags_text(f[6]);
        if (!offset || !length || !size || !validity || !id || !flags) return;
        if (*offset + *length < *offset) return; // overflow: not something we wrote
        IndexRecord r{*validity, std::move(*id), *offset, *length, *size, std::move(*flags)};
        m_records[key(r.validity, r.id)] = std::move(r);
    } else if (f[0] == "F" && f.size() == 4) {
        auto validity = parse_u32(f[1]);
        auto id = mail::unescape_id(f[2]);
        auto flags = parse_flags_text(f[3]);
        if (!validity || !id || !flags) return;
        auto it = m_records.find(key(*validity, *id));
        if (it != m_records.end()) it->second.flags = std::move(*flags);
    } else if (f[0] == "V" && f.size() == 5) {
        auto old_validity = parse_u32(f[1]), new_validity = parse_u32(f[3]);
        auto old_id = mail::unescape_id(f[2]), new_id = mail::unescape_id(f[4]);
        if (!old_validity || !new_validity || !old_id || !new_id) return;
        m_last_rename = {*old_validity, *new_validity};
        auto node = m_records.extract(key(*old_validity, *old_id));
        if (node.empty()) return;
        node.mapped().validity = *new_validity;
        node.mapped().id = std::move(*new_id);
        m_records[key(*new_validity, node.mapped().id)] = std::move(node.mapped());
    } else if (f[0] == "B" && f.size() == 2) {
        if (auto base = parse_u64(f[1])) m_base = *base;
    }
}

std::vector<IndexRecord> IndexReplay::records() const {
    std::vector<IndexRecord> out;
    out.reserve(m_records.size());
    for (const auto& [k, r] : m_records)
        out.push_back(r);
    std::sort(out.begin(), out.end(),
              [](const IndexRecord& a, const IndexRecord& b) { return a.offset < b.offset; });
    return out;
}

std::vector<IndexRecord> IndexReplay::take_records() {
    std::vector<IndexRecord> out;
    out.reserve(m_records.size());
    for (auto it = m_records.begin(); it != m_records.end();) {
        out.push_back(std::move(it->second));
        it = m_records.erase(it); // each node freed as its record moves
    }
    std::sort(out.begin(), out.end(),
              [](const IndexRecord& a, const IndexRecord& b) { return a.offset < b.offset; });
    return out;
}

Result<IndexFile> read_index(const std::string& path) {
    IndexFile index;
    fs::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) return index;
        return std::unexpected(fs::io_error("cannot open", path, errno));
    }
    index.exists = true;
    std::string line, block(k_read_block, '\0');
    bool too_long = false;         // the current line is skipped, not kept
    std::uint64_t block_start = 0; // file offset of `block`
    for (;;) {
        ssize_t n = ::read(fd.get(), block.data(), block.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return std::unexpected(fs::io_error("cannot read", path, errno));
        if (n == 0) break;
        std::string_view data(block.data(), static_cast<std::size_t>(n));
        std::size_t at = 0;
        while (at < data.size()) {
            auto nl = data.find('\n', at);
            std::string_view part = data.substr(at, nl == std::string_view::npos ? nl : nl - at);
            if (line.size() + part.size() > k_max_index_line) too_long = true;
            if (!too_long) line += part;
            if (nl == std::string_view::npos) break;
            if (!too_long) index.replay.apply(line);
            index.complete_bytes = block_start + nl + 1;
            line.clear();
            too_long = false;
            at = nl + 1;
        }
        block_start += data.size();
    }
    index.torn = !line.empty() || too_long;
    return index;
}

} // namespace mf::mbox
