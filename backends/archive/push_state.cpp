#include "backends/archive/push_state.h"

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

} // namespace mf::archive
