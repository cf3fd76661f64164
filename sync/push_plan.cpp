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
// A server that reports sizes other than the bytes it was given
// (hMailServer: see tests/e2e/providers.py) fails the first; then Message-ID
// and date tell it (issue 20), the size set to 0.
struct MatchKey {
    std::string message_id;
    std::uint64_t size;
    std::int64_t date;
    auto operator<=>(const MatchKey&) const = default;
};

MatchKey key_of(const std::string& message_id, std::uint64_t size, std::int64_t date) {
    return message_id.empty() ? MatchKey{"", size, date} : MatchKey{message_id, size, 0};
}

// Unmapped target messages by one key; `taken` is shared between pools,
// so that each target message is matched once.
class Pool {
  public:
    void add(MatchKey key, std::uint32_t uid) { m_uids[std::move(key)].push_back(uid); }
    std::uint32_t take(const MatchKey& key, std::unordered_set<std::uint32_t>& taken) {
        auto it = m_uids.find(key);
        if (it == m_uids.end()) return 0;
        for (auto& uids = it->second; !uids.empty();) {
            std::uint32_t uid = uids.back();
            uids.pop_back();
            if (taken.insert(uid).second) return uid;
        }
        return 0;
    }

  private:
    std::map<MatchKey, std::vector<std::uint32_t>> m_uids;
};

// What the engine knows of a source message to match it: its Message-ID
// (asked for) and its date (the snapshot's, or where it had none, the keys').
struct SourceKey {
    std::string message_id;
    std::int64_t date = 0;
};

SourceKey source_key(const RemoteMessage& m,
                     const std::unordered_map<std::string_view, const MessageKey*>& keys) {
    auto k = keys.find(m.id);
    if (k == keys.end()) return {"", m.internal_date};
    return {k->second->message_id, k->second->date ? k->second->date : m.internal_date};
}

// The target UID of each source message (0: to be copied): mapped, else
// matched by exact key, else, in a second pass so that no exact match is
// taken away, by Message-ID and date.
std::vector<std::uint32_t> match_all(const Snapshot& source, const std::vector<MessageKey>& keys,
                                     const TargetFolder& target,
                                     const std::unordered_map<std::string, std::uint32_t>& live,
                                     PushPlan& plan) {
    std::unordered_set<std::uint32_t> taken;
    for (const auto& [id, uid] : live)
        taken.insert(uid);
    Pool exact, by_date;
    for (auto it = target.messages.rbegin(); it != target.messages.rend(); ++it) {
        if (taken.contains(it->uid)) continue;
        exact.add(key_of(it->message_id, it->size, it->internal_date), it->uid);
        if (!it->message_id.empty() && it->internal_date)
            by_date.add({it->message_id, 0, it->internal_date}, it->uid);
    }
    std::unordered_map<std::string_view, const MessageKey*> key_by_id;
    for (const auto& k : keys)
        key_by_id.emplace(k.id, &k);
    std::vector<std::uint32_t> out(source.messages.size(), 0);
    std::vector<SourceKey> unmatched(source.messages.size());
    for (std::size_t i = 0; i < source.messages.size(); ++i) {
        const auto& m = source.messages[i];
        if (auto it = live.find(m.id); it != live.end()) {
            out[i] = it->second;
            continue;
        }
        unmatched[i] = source_key(m, key_by_id);
        out[i] = exact.take(key_of(unmatched[i].message_id, m.size, unmatched[i].date), taken);
        if (out[i]) plan.adopt.emplace_back(m.id, out[i]);
    }
    for (std::size_t i = 0; i < source.messages.size(); ++i) {
        const SourceKey& k = unmatched[i];
        if (out[i] || k.message_id.empty() || !k.date) continue;
        out[i] = by_date.take({k.message_id, 0, k.date}, taken);
        if (out[i]) plan.adopt.emplace_back(source.messages[i].id, out[i]);
    }
    return out;
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
    auto matched = match_all(source, keys, target, live, plan);
    std::unordered_set<std::uint32_t> kept;
    for (std::size_t i = 0; i < source.messages.size(); ++i) {
        const auto& m = source.messages[i];
        const bool admitted = options.filter.admits(m);
        plan.filtered += !admitted;
        std::uint32_t uid = matched[i];
        if (uid == 0) {
            if (!admitted) continue;
            plan.copy.push_back(m.id);
            plan.copy_bytes += m.size;
            continue;
        }
        plan.already += admitted;
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
