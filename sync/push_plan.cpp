#include "sync/push_plan.h"

#include <map>
#include <unordered_map>
#include <unordered_set>

namespace mf {

namespace {

std::unordered_map<std::uint32_t, const TargetMessage*> by_uid(const TargetFolder& target) {
    std::unordered_map<std::uint32_t, const TargetMessage*> out;
    for (const auto& m : target.messages)
        out.emplace(m.uid, &m);
    return out;
}

// Valid mapping entries: source id -> target UID that still exists.
std::unordered_map<std::string, std::uint32_t> live_mapping(const PushMapping& mapping,
                                                            const TargetFolder& target) {
    auto uids = by_uid(target);
    std::unordered_map<std::string, std::uint32_t> out;
    for (const auto& [id, uid] : mapping.entries)
        if (uids.contains(uid)) out.emplace(id, uid);
    return out;
}

// The key a message is recognised by: Message-ID and size, or without a
// Message-ID, size and date (APPEND keeps the date, so a copy matches).
struct MatchKey {
    std::string message_id;
    std::uint64_t size;
    std::int64_t date;
    auto operator<=>(const MatchKey&) const = default;
};

MatchKey key_of(const std::string& message_id, std::uint64_t size, std::int64_t date) {
    return message_id.empty() ? MatchKey{"", size, date} : MatchKey{message_id, size, 0};
}

} // namespace

std::vector<std::uint32_t> unmapped_target_uids(const TargetFolder& target,
                                                const PushMapping& mapping) {
    std::unordered_set<std::uint32_t> mapped;
    for (const auto& [id, uid] : mapping.entries)
        mapped.insert(uid);
    std::vector<std::uint32_t> out;
    for (const auto& m : target.messages)
        if (!mapped.contains(m.uid)) out.push_back(m.uid);
    return out;
}

std::vector<std::string> unmapped_source_ids(const Snapshot& source, const PushMapping& mapping,
                                             const TargetFolder& target) {
    auto live = live_mapping(mapping, target);
    std::vector<std::string> out;
    for (const auto& m : source.messages)
        if (!live.contains(m.id)) out.push_back(m.id);
    return out;
}

PushPlan plan_push(const Snapshot& source, const std::vector<MessageKey>& keys,
                   const TargetFolder& target, const PushMapping& mapping,
                   const PushOptions& options) {
    PushPlan plan;
    auto uids = by_uid(target);
    auto live = live_mapping(mapping, target);
    for (const auto& [id, uid] : mapping.entries)
        if (!uids.contains(uid)) plan.forget.push_back(id);

    // Unmapped target messages, by key, each usable once.
    std::unordered_set<std::uint32_t> mapped_uids;
    for (const auto& [id, uid] : live)
        mapped_uids.insert(uid);
    std::map<MatchKey, std::vector<std::uint32_t>> pool;
    for (auto it = target.messages.rbegin(); it != target.messages.rend(); ++it)
        if (!mapped_uids.contains(it->uid))
            pool[key_of(it->message_id, it->size, it->internal_date)].push_back(it->uid);
    std::unordered_map<std::string_view, const MessageKey*> key_by_id;
    for (const auto& k : keys)
        key_by_id.emplace(k.id, &k);

    std::unordered_set<std::uint32_t> kept;
    for (const auto& m : source.messages) {
        const bool admitted = options.filter.admits(m);
        plan.filtered += !admitted;
        std::uint32_t uid = 0;
        if (auto it = live.find(m.id); it != live.end()) {
            uid = it->second;
            plan.already += admitted;
        } else {
            auto k = key_by_id.find(m.id);
            std::string mid = k == key_by_id.end() ? std::string() : k->second->message_id;
            std::int64_t date =
                k != key_by_id.end() && k->second->date ? k->second->date : m.internal_date;
            auto candidates = pool.find(key_of(mid, m.size, date));
            if (candidates != pool.end() && !candidates->second.empty()) {
                uid = candidates->second.back();
                candidates->second.pop_back();
                plan.adopt.emplace_back(m.id, uid);
                plan.already += admitted;
            }
        }
        if (uid == 0) {
            if (!admitted) continue;
            plan.copy.push_back(m.id);
            plan.copy_bytes += m.size;
            continue;
        }
        kept.insert(uid);
        if (admitted && options.mirror && source.has_flags && uids.at(uid)->flags != m.flags)
            plan.flags.emplace_back(uid, m.flags);
    }
    if (options.mirror)
        for (const auto& t : target.messages)
            if (!kept.contains(t.uid)) plan.remove.push_back(t.uid);
    return plan;
}

std::optional<std::string> mirror_guard(std::size_t target_count, std::size_t deletions,
                                        std::size_t source_count, double max_share,
                                        std::size_t small) {
    if (deletions == 0) return std::nullopt;
    if (source_count == 0 && target_count > 0)
        return "the source folder is empty but the target holds " + std::to_string(target_count) +
               " messages";
    if (target_count > small &&
        static_cast<double>(deletions) > max_share * static_cast<double>(target_count))
        return "the run would delete " + std::to_string(deletions) + " of " +
               std::to_string(target_count) + " messages (more than " +
               std::to_string(static_cast<int>(max_share * 100)) + "%)";
    return std::nullopt;
}

} // namespace mf
