#include "sync/push_share.h"

#include <unordered_set>

namespace mf {

// The date is part of it because two messages may share a Message-ID and a
// size (a resent message); Gmail keeps one INTERNALDATE across labels.
std::string message_identity(const std::string& message_id, std::uint64_t size, std::int64_t date) {
    return message_id + ' ' + std::to_string(size) + ' ' + std::to_string(date);
}

namespace {

using Listed = std::unordered_map<std::string_view, const RemoteMessage*>;

Listed by_id(const Snapshot& snap) {
    Listed out;
    for (const auto& m : snap.messages)
        out.emplace(m.id, &m);
    return out;
}

// The source's own identity where it has one (Gmail's X-GM-MSGID, live or
// as the archive recorded it): it tells apart two messages that share a
// Message-ID, size and date, and knows one without a Message-ID. Else the
// Message-ID with the snapshot's date, or where it had none (POP3), the
// headers'; "" for a message without either: it is not shared.
std::string identity_of(const MessageKey& key, const RemoteMessage& message) {
    if (!message.identity.empty()) return message.identity;
    if (key.message_id.empty()) return {};
    return message_identity(key.message_id, message.size,
                            message.internal_date ? message.internal_date : key.date);
}

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

// The keys identity_of needs: none for a message with the source's own
// identity; those plan_push matched by are reused; the source is asked for
// the rest, once.
Result<std::unordered_map<std::string_view, MessageKey>>
keys_for(Source& source, const std::vector<std::string>& ids, const Listed& listed,
         const std::vector<MessageKey>& known) {
    std::unordered_map<std::string_view, MessageKey> out;
    for (const auto& k : known)
        out.emplace(k.id, k);
    std::vector<std::string> ask;
    for (const auto& id : ids) {
        const auto m = listed.find(id);
        if (m != listed.end() && m->second->identity.empty() && !out.contains(id))
            ask.push_back(id);
    }
    if (ask.empty()) return out;
    auto asked = source.keys(ask);
    if (!asked) return std::unexpected(asked.error());
    for (auto& k : *asked) {
        const auto m = listed.find(k.id); // the key's id must outlive the map: the listing's
        if (m != listed.end()) out.insert_or_assign(m->first, std::move(k));
    }
    return out;
}

} // namespace

Result<SharedPlan> share_plan(Source& source, PushState& state, const Snapshot& snap,
                              const std::vector<MessageKey>& known, PushPlan& plan,
                              ShareMode mode) {
    SharedPlan out;
    if (mode == ShareMode::off || plan.copy.empty()) return out;
    const auto listed = by_id(snap);
    auto keys = keys_for(source, plan.copy, listed, known);
    if (!keys) return std::unexpected(keys.error());
    std::unordered_set<std::string> shared;
    for (const auto& id : plan.copy) {
        const auto m = listed.find(id);
        if (m == listed.end()) continue;
        const auto* message = m->second;
        const auto k = keys->find(id);
        std::string identity = identity_of(k == keys->end() ? MessageKey{} : k->second, *message);
        if (identity.empty()) continue;
        auto where = state.upload_of(identity);
        if (!where) return std::unexpected(where.error());
        if (*where && share_one({id, identity, **where}, mode, out)) {
            shared.insert(id);
            plan.copy_bytes -= std::min(plan.copy_bytes, message->size);
        } else {
            out.identity.emplace(id, std::move(identity));
        }
    }
    std::erase_if(plan.copy, [&](const std::string& id) { return shared.contains(id); });
    return out;
}

Status record_adopted(PushState& state, const Snapshot& snap, const std::vector<MessageKey>& keys,
                      const PushPlan& plan, const Uploaded& into) {
    if (plan.adopt.empty()) return {};
    std::unordered_map<std::string_view, const MessageKey*> key_of;
    for (const auto& k : keys)
        key_of.emplace(k.id, &k);
    const auto listed = by_id(snap);
    for (const auto& [id, uid] : plan.adopt) {
        const auto k = key_of.find(id);
        const auto m = listed.find(id);
        if (k == key_of.end() || m == listed.end()) continue;
        const auto identity = identity_of(*k->second, *m->second);
        if (identity.empty()) continue;
        auto where = state.upload_of(identity);
        if (!where) return std::unexpected(where.error());
        if (*where) continue; // the copy another folder uploaded: it stays the one
        Uploaded here = into;
        here.uid = uid;
        if (auto s = state.record_upload(identity, here); !s) return s;
    }
    return {};
}

} // namespace mf
