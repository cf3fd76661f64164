#include "sync/push_share.h"

#include <unordered_set>

namespace mf {

// The date is part of it because two messages may share a Message-ID and a
// size (a resent message); Gmail keeps one INTERNALDATE across labels.
std::string message_identity(const std::string& message_id, std::uint64_t size,
                             std::int64_t date) {
    return message_id + ' ' + std::to_string(size) + ' ' + std::to_string(date);
}

namespace {

// Applies the mode to one message uploaded before: true when it leaves plan.copy.
bool share_one(SharedMessage message, ShareMode mode, SharedPlan& out) {
    switch (mode) {
    case ShareMode::label:
        out.label.push_back(std::move(message));
        return true;
    case ShareMode::there:
        ++out.there;
        return true;
    case ShareMode::primary:
        ++out.elsewhere;
        return true;
    case ShareMode::off:
        break;
    }
    return false;
}

} // namespace

Result<SharedPlan> share_plan(Source& source, PushState& state, const Snapshot& snap,
                              PushPlan& plan, ShareMode mode) {
    SharedPlan out;
    if (mode == ShareMode::off || plan.copy.empty()) return out;
    auto keys = source.keys(plan.copy);
    if (!keys) return std::unexpected(keys.error());
    std::unordered_map<std::string_view, const RemoteMessage*> listed;
    for (const auto& m : snap.messages)
        listed.emplace(m.id, &m);
    std::unordered_set<std::string> shared;
    for (const auto& k : *keys) {
        const auto m = listed.find(k.id);
        if (k.message_id.empty() || m == listed.end()) continue;
        const auto* message = m->second;
        const std::int64_t date = message->internal_date ? message->internal_date : k.date;
        std::string identity = message_identity(k.message_id, message->size, date);
        auto where = state.upload_of(identity);
        if (!where) return std::unexpected(where.error());
        if (*where && share_one({k.id, identity, **where}, mode, out)) {
            shared.insert(k.id);
            plan.copy_bytes -= std::min(plan.copy_bytes, message->size);
        } else {
            out.identity.emplace(k.id, std::move(identity));
        }
    }
    std::erase_if(plan.copy, [&](const std::string& id) { return shared.contains(id); });
    return out;
}

} // namespace mf
