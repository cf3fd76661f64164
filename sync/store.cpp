#include "sync/store.h"

#include "sync/sorted_index.h"

namespace mf {

Result<std::vector<HeldMessage>> FolderStore::held_among(const std::vector<RemoteMessage>& listed) {
    auto state = load_brief();
    if (!state) return std::unexpected(state.error());
    auto id_of = [&](std::uint32_t i) -> const std::string& { return listed[i].id; };
    const auto by_id = sorted_index(listed.size(), id_of);
    std::vector<HeldMessage> out;
    for (auto& h : state->held) {
        auto it = lower_bound_in(by_id, h.id, id_of);
        if (it != by_id.end() && listed[*it].id == h.id) out.push_back(std::move(h));
    }
    return out;
}

} // namespace mf
