#include "sync/relink.h"

#include <unordered_map>
#include <unordered_set>

namespace mf {

namespace {

// The listed messages the plan fetches: the only ones that can have moved in.
std::vector<RemoteMessage> planned(const Snapshot& snap, const BackupPlan& plan) {
    std::unordered_set<std::string_view> fetch(plan.fetch.begin(), plan.fetch.end());
    std::vector<RemoteMessage> out;
    for (const auto& m : snap.messages)
        if (fetch.contains(m.id)) out.push_back(m);
    return out;
}

// Takes the linked ids out of the plan, with their bytes.
void drop_linked(BackupPlan& plan, const std::unordered_set<std::string>& linked,
                 const std::vector<RemoteMessage>& listed) {
    for (const auto& m : listed)
        if (linked.contains(m.id)) plan.fetch_bytes -= std::min(plan.fetch_bytes, m.size);
    std::erase_if(plan.fetch, [&](const std::string& id) { return linked.contains(id); });
}

// Messages the source names the same in every folder (RemoteMessage::
// identity): the store finds a copy by that alone. Linked ones leave
// `listed` and the plan.
Status link_same(FolderStore& store, std::vector<RemoteMessage>& listed, BackupPlan& plan,
                 FolderReport& report, Progress& progress, Apply mode) {
    std::unordered_set<std::string> linked;
    for (const auto& m : listed) {
        if (m.identity.empty()) continue;
        auto done = store.link_same(m, mode);
        if (!done) return std::unexpected(done.error());
        if (*done) linked.insert(m.id);
    }
    if (linked.empty()) return {};
    drop_linked(plan, linked, listed);
    std::erase_if(listed, [&](const RemoteMessage& m) { return linked.contains(m.id); });
    report.linked += linked.size();
    progress.note(report.folder + ": " + std::to_string(linked.size()) +
                  " messages held in another folder of the archive (the same message on the "
                  "source): " +
                  (mode == Apply::change ? "linked" : "would be linked") + ", not fetched");
    return {};
}

} // namespace

Status link_moved(Source& source, FolderStore& store, const Snapshot& snap, BackupPlan& plan,
                  FolderReport& report, Progress& progress, Apply mode) {
    if (plan.fetch.empty()) return {};
    auto listed = planned(snap, plan);
    if (auto s = link_same(store, listed, plan, report, progress, mode); !s) return s;
    if (listed.empty()) return {};
    auto ids = store.held_elsewhere_like(listed);
    if (!ids) return std::unexpected(ids.error());
    if (ids->empty()) return {};
    auto keys = source.keys(*ids);
    if (!keys) return std::unexpected(keys.error());
    std::unordered_map<std::string_view, const RemoteMessage*> by_id;
    for (const auto& m : listed)
        by_id.emplace(m.id, &m);
    std::unordered_set<std::string> linked;
    for (const auto& k : *keys) {
        auto it = by_id.find(k.id);
        // The size too: a message changed since the listing is not the held one.
        if (k.message_id.empty() || it == by_id.end() || k.size != it->second->size) continue;
        auto done = store.link_held(*it->second, k.message_id, mode);
        if (!done) return std::unexpected(done.error());
        if (*done) linked.insert(k.id);
    }
    if (linked.empty()) return {};
    drop_linked(plan, linked, listed);
    report.linked += linked.size();
    progress.note(report.folder + ": " + std::to_string(linked.size()) +
                  " messages moved here from another folder of the archive: " +
                  (mode == Apply::change ? "linked" : "would be linked") + ", not fetched");
    return {};
}

} // namespace mf
