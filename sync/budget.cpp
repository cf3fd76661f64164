#include "sync/budget.h"

#include <string_view>
#include <unordered_map>

namespace mf {

bool ByteBudget::take(std::uint64_t bytes) {
    if (!m_limit) return true;
    std::lock_guard lock(m_mutex);
    if (bytes > *m_limit - m_taken) return false;
    m_taken += bytes;
    return true;
}

std::uint64_t ByteBudget::taken() const {
    std::lock_guard lock(m_mutex);
    return m_taken;
}

void fit_to_budget(ByteBudget* budget, const std::vector<RemoteMessage>& listed,
                   std::vector<std::string>& ids, std::size_t& deferred,
                   std::uint64_t& deferred_bytes) {
    if (!budget || !budget->limited() || ids.empty()) return;
    std::unordered_map<std::string_view, std::uint64_t> sizes;
    sizes.reserve(listed.size());
    for (const auto& m : listed)
        sizes.emplace(m.id, m.size);
    std::vector<std::string> kept;
    kept.reserve(ids.size());
    for (auto& id : ids) {
        auto it = sizes.find(id);
        const std::uint64_t size = it == sizes.end() ? 0 : it->second;
        if (budget->take(size)) {
            kept.push_back(std::move(id));
            continue;
        }
        ++deferred;
        deferred_bytes += size;
    }
    ids = std::move(kept);
}

} // namespace mf
