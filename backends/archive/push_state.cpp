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

// Also in the meta table, a row per identity: "VALIDITY UID COMPONENT...",
// each component of the target folder's path escaped (mail::escape_id).
Status DbPushState::record_upload(const std::string& identity, const Uploaded& where) {
    std::string text = std::to_string(where.validity) + ' ' + std::to_string(where.uid);
    for (const auto& component : where.folder)
        text += ' ' + mail::escape_id(component);
    return m_db.set_meta("uploaded:" + identity, text);
}

Result<std::optional<Uploaded>> DbPushState::upload_of(const std::string& identity) {
    auto v = m_db.meta("uploaded:" + identity);
    if (!v) return std::unexpected(v.error());
    std::vector<std::string_view> words;
    for (std::string_view text = *v; !text.empty();) {
        const auto word = text.substr(0, text.find(' '));
        words.push_back(word);
        text.remove_prefix(std::min(text.size(), word.size() + 1));
    }
    Uploaded out;
    if (words.size() < 3) return std::nullopt; // none, or damaged: uploaded again
    auto number = [](std::string_view w, std::uint32_t& n) {
        return std::from_chars(w.data(), w.data() + w.size(), n).ec == std::errc();
    };
    if (!number(words[0], out.validity) || !number(words[1], out.uid)) return std::nullopt;
    for (std::size_t i = 2; i < words.size(); ++i) {
        auto component = mail::unescape_id(words[i]);
        if (!component) return std::nullopt;
        out.folder.push_back(std::move(*component));
    }
    return out;
}

} // namespace mf::archive
