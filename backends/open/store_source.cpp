#include "backends/open/store_source.h"

namespace mf::archive {

namespace {

// Passes a held message through, but finishes it with the metadata the
// archive recorded (a store's read() knows only the bytes).
class Relabel : public MessageSink {
  public:
    Relabel(MessageSink& inner, const RemoteMessage& meta) : m_inner(inner), m_meta(meta) {}
    Status begin(std::uint64_t) override { return m_inner.begin(m_meta.size); }
    Status write(std::string_view chunk) override { return m_inner.write(chunk); }
    Status finish(const RemoteMessage&) override { return m_inner.finish(m_meta); }
    void abandon() override { m_inner.abandon(); }
    Status put(const RemoteMessage&, std::uint64_t size, const Producer& produce) override {
        return m_inner.put(m_meta, size, produce);
    }

  private:
    MessageSink& m_inner;
    const RemoteMessage& m_meta;
};

} // namespace

Result<std::vector<FolderInfo>> StoreSource::list_folders() {
    auto summaries = m_db.summaries();
    if (!summaries) return std::unexpected(summaries.error());
    std::vector<FolderInfo> out;
    for (const auto& s : *summaries)
        if (s.known) out.push_back(FolderInfo{s.name, true});
    return out;
}

Result<Snapshot> StoreSource::open(const FolderInfo& folder, const OpenRequest&) {
    auto fstore = m_store.open_folder(folder, 0);
    if (!fstore) return std::unexpected(fstore.error());
    auto state = (*fstore)->load();
    if (!state) return std::unexpected(state.error());
    m_folder = std::move(*fstore);
    Snapshot snap;
    snap.validity = 1; // the archive's ids do not change meaning
    m_messages.clear();
    m_message_ids.clear();
    for (const auto& h : state->held) {
        // The identity the backup recorded (Gmail's X-GM-MSGID): a push
        // into Gmail knows one message in several label folders by it.
        RemoteMessage m{h.id, h.size, h.date, h.flags, h.identity};
        snap.messages.push_back(m);
        m_messages.emplace(h.id, std::move(m));
        m_message_ids.emplace(h.id, h.message_id);
    }
    return snap;
}

Status StoreSource::fetch(std::span<const std::string> ids, MessageSink& sink) {
    if (!m_folder) return fail(ErrorKind::usage, Scope::folder, "no folder is open");
    for (const auto& id : ids) {
        auto it = m_messages.find(id);
        if (it == m_messages.end()) continue;
        Relabel relabel(sink, it->second);
        if (auto s = m_folder->read(id, relabel); !s) return s;
    }
    return {};
}

Result<std::vector<MessageKey>> StoreSource::keys(const std::vector<std::string>& ids) {
    std::vector<MessageKey> out;
    for (const auto& id : ids)
        if (auto it = m_messages.find(id); it != m_messages.end())
            out.push_back({id, m_message_ids[id], it->second.size, 0});
    return out;
}

Status StoreSource::remove(const std::vector<std::string>&) {
    return fail(ErrorKind::usage, Scope::account,
                "mailferry never deletes from an archive it restores from");
}

} // namespace mf::archive
