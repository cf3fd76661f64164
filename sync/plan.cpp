#include "sync/plan.h"

#include "sync/sorted_index.h"

#include <algorithm>
#include <map>
#include <unordered_map>

namespace mf {

bool needs_revalidation(const Snapshot& remote, const FolderState& local) {
    return local.known && local.validity != remote.validity;
}

BackupPlan plan_backup(const Snapshot& remote, const FolderState& local,
                       const MessageFilter& filter) {
    const auto& held = local.held;
    auto id_of = [&](std::uint32_t i) -> const std::string& { return held[i].id; };
    const auto by_id = sorted_index(held.size(), id_of);
    std::vector<bool> matched(held.size());
    auto find = [&](const std::string& id) -> const HeldMessage* {
        auto it = lower_bound_in(by_id, id, id_of);
        if (it == by_id.end() || held[*it].id != id) return nullptr;
        const HeldMessage* first = &held[*it];
        // Ids repeat only in a damaged archive: every copy is on the source.
        for (; it != by_id.end() && held[*it].id == id; ++it)
            matched[*it] = true;
        return first;
    };

    BackupPlan plan;
    // A first run fetches everything: no doubling of a list of 50 000 ids.
    if (held.empty()) plan.fetch.reserve(remote.messages.size());
    for (const auto& m : remote.messages) {
        const HeldMessage* h = find(m.id);
        if (!filter.admits(m)) {
            ++plan.filtered;
            continue;
        }
        if (!h) {
            plan.fetch.push_back(m.id);
            plan.fetch_bytes += m.size;
            continue;
        }
        ++plan.held;
        if (h->source_state != SourceState::present) plan.reappeared.push_back(m.id);
        if (remote.has_flags && h->flags != m.flags) plan.flags.emplace_back(m.id, m.flags);
        if (remote.has_labels && (h->labels != m.labels || h->identity != m.identity))
            plan.labels.push_back({m.id, m.identity, m.labels});
    }
    // A narrowed listing does not show what the filter hides: nothing is gone.
    for (std::size_t i = 0; i < held.size() && !remote.narrowed; ++i) {
        if (matched[i]) continue;
        plan.gone.push_back(held[i].id);
        if (held[i].source_state == SourceState::present) plan.newly_gone.push_back(held[i].id);
    }
    return plan;
}

std::vector<std::string> plan_removals(const Snapshot& remote, const std::vector<HeldMessage>& held,
                                       const RemovalPolicy& policy, const MessageFilter& filter) {
    std::vector<std::string> out;
    if (!policy.active()) return out;
    std::unordered_map<std::string_view, const HeldMessage*> by_id;
    for (const auto& h : held)
        by_id.emplace(h.id, &h);
    for (const auto& m : remote.messages) {
        auto it = by_id.find(m.id);
        if (it == by_id.end()) continue; // not held: never delete
        if (!filter.admits(m)) continue;
        if (policy.older_than) {
            std::int64_t date = it->second->date;
            if (date == 0 || date >= *policy.older_than) continue;
        }
        out.push_back(m.id);
    }
    return out;
}

std::vector<std::pair<std::string, std::string>>
match_by_key(const std::vector<HeldMessage>& held, const std::vector<MessageKey>& remote) {
    // Candidates per (Message-ID, size), in archive order; each is taken once.
    std::map<std::pair<std::string_view, std::uint64_t>, std::vector<const HeldMessage*>> pool;
    for (const auto& h : held) {
        if (!h.message_id.empty()) pool[{h.message_id, h.size}].push_back(&h);
    }
    for (auto& [key, list] : pool)
        std::reverse(list.begin(), list.end());

    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& r : remote) {
        if (r.message_id.empty()) continue;
        auto it = pool.find({r.message_id, r.size});
        if (it == pool.end() || it->second.empty()) continue;
        out.emplace_back(it->second.back()->id, r.id);
        it->second.pop_back();
    }
    return out;
}

} // namespace mf
