#include "backends/archive/push_state.h"

#include "backends/common/id_escape.h"

#include <charconv>

namespace mf::archive {

Result<PushMapping> DbPushState::load(const std::string& folder) {
    auto f = m_db.push_load(folder);
    if (!f) return std::unexpected(f.error());
    PushMapping m;
    m.source_validity = f->source_validity;
    m.target_validity = f->target_validity;
    m.entries = std::move(f->entries);
    return m;
}

Status DbPushState::reset(const std::string& folder, std::uint32_t source_validity,
                          std::uint32_t target_validity) {
    return m_db.push_reset(folder, source_validity, target_validity);
}

Status DbPushState::record(const std::string& folder, const std::string& source_id,
                           std::uint32_t uid) {
    return m_db.push_record(folder, source_id, uid);
}

Status DbPushState::forget(const std::string& folder, const std::string& source_id) {
    return m_db.push_forget(folder, source_id);
}

// Kept with the archive's facts (the meta table): no schema change.
Status DbPushState::set_copying(const std::string& folder, bool copying) {
    return m_db.set_meta("copying:" + folder, copying ? "1" : "");
}

Result<bool> DbPushState::copying(const std::string& folder) {
    auto v = m_db.meta("copying:" + folder);
    if (!v) return std::unexpected(v.error());
    return *v == "1";
}

// Also in the meta table: one line "RUNS ID" per refused message, the id
// escaped (mail::escape_id) so that it holds no space or line break.
Result<RefusedRuns> DbPushState::refused(const std::string& folder) {
    auto v = m_db.meta("refused:" + folder);
    if (!v) return std::unexpected(v.error());
    RefusedRuns out;
    std::string_view text = *v;
    while (!text.empty()) {
        const auto line = text.substr(0, text.find('\n'));
        text.remove_prefix(std::min(text.size(), line.size() + 1));
        const auto space = line.find(' ');
        std::size_t runs = 0;
        auto id = mail::unescape_id(line.substr(std::min(line.size(), space + 1)));
        const auto [end, ec] =
            std::from_chars(line.data(), line.data() + std::min(space, line.size()), runs);
        if (ec == std::errc() && id) out[*id] = runs; // a damaged line is forgotten
    }
    return out;
}

Status DbPushState::set_refused(const std::string& folder, const RefusedRuns& refused) {
    std::string text;
    for (const auto& [id, runs] : refused)
        text += std::to_string(runs) + ' ' + mail::escape_id(id) + '\n';
    return m_db.set_meta("refused:" + folder, text);
}

} // namespace mf::archive
