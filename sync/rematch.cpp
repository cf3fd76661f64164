#include "sync/rematch.h"

#include "sync/identity.h"

#include <set>
#include <unordered_map>
#include <unordered_set>

namespace mf {

namespace {

// New ids of the plan whose size and INTERNALDATE equal those of a held
// message the listing no longer names: the only ones that can be such a
// message come back (a restore keeps the date). The date also keeps a
// different message with a reused Message-ID from taking a held one's place.
std::vector<std::string> candidates(const Snapshot& snap, const FolderState& state,
                                    const BackupPlan& plan) {
    std::unordered_set<std::string> gone(plan.gone.begin(), plan.gone.end());
    std::set<std::pair<std::uint64_t, std::int64_t>> seen;
    for (const auto& h : state.held)
        if (gone.contains(h.id)) seen.emplace(h.size, h.date);
    std::unordered_set<std::string> fetch(plan.fetch.begin(), plan.fetch.end());
    std::vector<std::string> out;
    for (const auto& m : snap.messages)
        if (seen.contains({m.size, m.internal_date}) && fetch.contains(m.id)) out.push_back(m.id);
    return out;
}

// The held messages the listing no longer names, with their Message-IDs.
Result<std::vector<HeldMessage>> gone_with_ids(FolderStore& store, const BackupPlan& plan) {
    auto full = store.load();
    if (!full) return std::unexpected(full.error());
    std::unordered_set<std::string> gone(plan.gone.begin(), plan.gone.end());
    std::vector<HeldMessage> out;
    for (auto& h : full->held)
        if (gone.contains(h.id)) out.push_back(std::move(h));
    return out;
}

// What a dry run plans after the renames it does not make: the new ids are
// held, the old ones no longer gone.
void drop_renamed(BackupPlan& plan, const Renames& renames, const Snapshot& snap) {
    std::unordered_set<std::string> from, to;
    for (const auto& [old_id, new_id] : renames) {
        from.insert(old_id);
        to.insert(new_id);
    }
    for (const auto& m : snap.messages)
        if (to.contains(m.id)) plan.fetch_bytes -= std::min(plan.fetch_bytes, m.size);
    std::erase_if(plan.fetch, [&](const std::string& id) { return to.contains(id); });
    std::erase_if(plan.gone, [&](const std::string& id) { return from.contains(id); });
    std::erase_if(plan.newly_gone, [&](const std::string& id) { return from.contains(id); });
    plan.held += renames.size();
}

// Renames the matches in the archive, and plans again from what it holds.
Status apply_renames(FolderStore& store, const Snapshot& snap, const Renames& renames,
                     FolderState& state, BackupPlan& plan) {
    // revalidate() keeps only what it is given: every other held message
    // stays under its own id.
    std::unordered_set<std::string> moved;
    for (const auto& [from, to] : renames)
        moved.insert(from);
    auto all = renames;
    for (const auto& h : state.held)
        if (!moved.contains(h.id)) all.emplace_back(h.id, h.id);
    if (auto s = store.revalidate(snap.validity, all); !s) return s;
    auto reloaded = store.load_brief();
    if (!reloaded) return std::unexpected(reloaded.error());
    state = std::move(*reloaded);
    plan = plan_backup(snap, state);
    return {};
}

} // namespace

Status rematch_returned(Source& source, FolderStore& store, const Snapshot& snap,
                        FolderState& state, BackupPlan& plan, FolderReport& report,
                        Progress& progress, Apply mode) {
    if (plan.fetch.empty() || plan.gone.empty()) return {};
    auto ids = candidates(snap, state, plan);
    if (ids.empty()) return {};
    auto keys = source.keys(ids);
    if (!keys) return std::unexpected(keys.error());
    auto gone = gone_with_ids(store, plan);
    if (!gone) return std::unexpected(gone.error());
    auto matched = match_identities(source, store, *gone, *keys);
    if (!matched) return std::unexpected(matched.error());
    auto& renames = *matched;
    // The INTERNALDATE too, pair by pair: a restore keeps it.
    std::unordered_map<std::string, std::int64_t> listed_date, held_date;
    for (const auto& m : snap.messages)
        listed_date.emplace(m.id, m.internal_date);
    for (const auto& h : *gone)
        held_date.emplace(h.id, h.date);
    std::erase_if(renames,
                  [&](const auto& r) { return held_date[r.first] != listed_date[r.second]; });
    if (renames.empty()) return {};
    if (mode == Apply::look)
        drop_renamed(plan, renames, snap);
    else if (auto s = apply_renames(store, snap, renames, state, plan); !s)
        return s;
    progress.note(report.folder + ": " + std::to_string(renames.size()) +
                  " held messages came back under new ids (a restore?): matched by identity, " +
                  (mode == Apply::change ? "not fetched again" : "would not be fetched again"));
    report.rematched += renames.size();
    return {};
}

} // namespace mf
