#include "backends/archive/personal_prefix.h"

#include "backends/archive/folder_path.h"

namespace mf::archive {

namespace {
// Components escaped and joined as archive folder paths are: reversible,
// and no component holds a '/'.
constexpr const char* k_key = "personal_prefix";
} // namespace

Status record_personal_prefix(StateDb& db, const std::vector<std::string>& prefix) {
    if (prefix.empty()) return {};
    return db.set_meta(k_key, relative_folder_path(prefix));
}

Result<std::vector<std::string>> recorded_personal_prefix(StateDb& db) {
    auto text = db.meta(k_key);
    if (!text) return std::unexpected(text.error());
    std::vector<std::string> out;
    if (text->empty()) return out;
    std::size_t start = 0;
    for (;;) {
        auto at = text->find('/', start);
        auto component = unescape_component(std::string_view(*text).substr(start, at - start));
        // Not something this code wrote: no prefix is inferred.
        if (!component) return std::vector<std::string>{};
        out.push_back(std::move(*component));
        if (at == std::string::npos) return out;
        start = at + 1;
    }
}

} // namespace mf::archive
