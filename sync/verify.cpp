#include "sync/verify.h"

#include "sync/fnv.h"

#include <algorithm>
#include <iterator>
#include <unordered_map>
#include <unordered_set>

namespace mf {

namespace {

// Hashes whatever streams through it (FNV-1a 64: a check for accidents,
// not for adversaries), keyed by message id.
class HashSink : public MessageSink {
  public:
    Status begin(std::uint64_t) override {
        m_hash = k_fnv1a64_basis;
        m_bytes = 0;
        return {};
    }
    Status write(std::string_view chunk) override {
        m_hash = fnv1a64(chunk, m_hash);
        m_bytes += chunk.size();
        return {};
    }
    Status finish(const RemoteMessage& m) override {
        hashes[m.id] = {m_hash, m_bytes};
        return {};
    }
    void abandon() override {}
    std::unordered_map<std::string, std::pair<std::uint64_t, std::uint64_t>> hashes;

  private:
    std::uint64_t m_hash = 0, m_bytes = 0;
};

// Moves the ids `pred` accepts from `from` to the end of `to`, in order.
template <class Pred>
void move_if(std::vector<std::string>& from, std::vector<std::string>& to, Pred pred) {
    auto moved = std::stable_partition(from.begin(), from.end(),
                                       [&](const std::string& id) { return !pred(id); });
    std::move(moved, from.end(), std::back_inserter(to));
    from.erase(moved, from.end());
}

void compare_sizes(const Snapshot& snap, const FolderState& state, VerifyReport& r) {
    std::unordered_map<std::string_view, std::uint64_t> held;
    for (const auto& h : state.held)
        held.emplace(h.id, h.size);
    for (const auto& m : snap.messages) {
        auto it = held.find(m.id);
        // Size 0 means unknown on one side (e.g. a file adopted without W=).
        if (it != held.end() && it->second && m.size && it->second != m.size)
            r.size_differ.push_back(m.id);
    }
}

// Without `deep`: of the sizes that differ, those whose Message-ID is the
// held one's are the server's misreport, a warning.
Status sort_sizes_by_id(Source& source, const FolderState& state, VerifyReport& r) {
    if (r.size_differ.empty()) return {};
    auto keys = source.keys(r.size_differ);
    if (!keys) return std::unexpected(keys.error());
    std::unordered_map<std::string_view, std::string_view> held;
    for (const auto& h : state.held)
        held.emplace(h.id, h.message_id);
    std::unordered_set<std::string> same;
    for (const auto& k : *keys)
        if (auto it = held.find(k.id);
            !k.message_id.empty() && it != held.end() && it->second == k.message_id)
            same.insert(k.id);
    move_if(r.size_differ, r.size_misreported,
            [&](const std::string& id) { return same.contains(id); });
    return {};
}

// With `deep`: the content decides. A size that differs over the same bytes
// is a warning; over other bytes, the content difference says it already.
void sort_sizes_by_content(VerifyReport& r) {
    std::unordered_set<std::string> differ(r.content_differ.begin(), r.content_differ.end());
    std::erase_if(r.size_differ, [&](const std::string& id) { return differ.contains(id); });
    move_if(r.size_differ, r.size_misreported, [](const std::string&) { return true; });
}

Status compare_content(Source& source, FolderStore& store, const Snapshot& snap,
                       const FolderState& state, VerifyReport& r) {
    std::vector<std::string> ids;
    std::unordered_map<std::string_view, bool> held;
    for (const auto& h : state.held)
        held.emplace(h.id, true);
    for (const auto& m : snap.messages)
        if (held.contains(m.id)) ids.push_back(m.id);
    HashSink remote, local;
    if (auto s = source.fetch(ids, remote); !s) return s;
    for (const auto& id : ids) {
        if (auto s = store.read(id, local); !s) return s;
        auto a = remote.hashes.find(id);
        if (a == remote.hashes.end() || a->second != local.hashes[id])
            r.content_differ.push_back(id);
    }
    return {};
}

} // namespace

VerifyReport verify_folder(Source& source, Store& store, const FolderInfo& folder, bool deep) {
    VerifyReport r;
    r.folder = folder.display();
    auto snap = source.open(folder);
    if (!snap) {
        r.error = snap.error().what;
        return r;
    }
    r.found = snap->messages.size();
    auto fstore = store.open_folder(folder, snap->validity);
    if (!fstore) {
        r.error = fstore.error().what;
        return r;
    }
    auto state = (*fstore)->load();
    if (!state) {
        r.error = state.error().what;
        return r;
    }
    r.validity_changed = needs_revalidation(*snap, *state);
    BackupPlan plan = plan_backup(*snap, *state);
    r.held = plan.held;
    r.missing = plan.fetch;
    r.extra = plan.gone;
    for (const auto& [id, flags] : plan.flags)
        r.flags_differ.push_back(id);
    compare_sizes(*snap, *state, r);
    if (r.validity_changed) return r;
    Status s = deep ? compare_content(source, **fstore, *snap, *state, r)
                    : sort_sizes_by_id(source, *state, r);
    if (!s)
        r.error = s.error().what;
    else if (deep)
        sort_sizes_by_content(r);
    return r;
}

} // namespace mf
