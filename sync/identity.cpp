#include "sync/identity.h"

#include "sync/fnv.h"
#include "sync/plan.h"

#include <map>
#include <unordered_set>

namespace mf {

namespace {

// Keeps the header block of the message streamed into it, nothing more.
class HeaderSink : public MessageSink {
  public:
    Status begin(std::uint64_t) override { return {}; }
    Status write(std::string_view chunk) override {
        if (!m_done) {
            m_bytes += chunk;
            m_done = m_bytes.find("\r\n\r\n") != std::string::npos;
        }
        return {};
    }
    Status finish(const RemoteMessage&) override { return {}; }
    void abandon() override { m_bytes.clear(); }
    const std::string& bytes() const { return m_bytes; }

  private:
    std::string m_bytes;
    bool m_done = false;
};

using Pool = std::map<std::pair<std::uint64_t, std::uint64_t>,
                      std::vector<std::string>>; // (digest, size) -> ids

// The held messages without a Message-ID, of the sizes wanted, by digest.
Result<Pool> held_by_digest(FolderStore& store, const std::vector<const HeldMessage*>& held) {
    Pool pool;
    for (const HeldMessage* h : held) {
        HeaderSink sink;
        if (auto s = store.read(h->id, sink); !s) continue; // unreadable: cannot be matched
        pool[{header_digest(sink.bytes()), h->size}].push_back(h->id);
    }
    for (auto& [key, ids] : pool)
        std::reverse(ids.begin(), ids.end());
    return pool;
}

} // namespace

std::uint64_t header_digest(std::string_view message) {
    auto end = message.find("\r\n\r\n");
    return fnv1a64(end == std::string_view::npos ? message : message.substr(0, end + 4));
}

Result<Renames> match_identities(Source& source, FolderStore& store,
                                 const std::vector<HeldMessage>& held,
                                 const std::vector<MessageKey>& listed) {
    Renames renames = match_by_key(held, listed);
    std::unordered_set<std::uint64_t> held_sizes;
    std::vector<const HeldMessage*> held_left;
    for (const auto& h : held)
        if (h.message_id.empty()) held_sizes.insert(h.size);
    std::unordered_set<std::uint64_t> listed_sizes;
    std::vector<std::string> asked;
    std::map<std::string, std::uint64_t> size_of;
    for (const auto& k : listed)
        if (k.message_id.empty() && held_sizes.contains(k.size)) {
            asked.push_back(k.id);
            size_of[k.id] = k.size;
            listed_sizes.insert(k.size);
        }
    if (asked.empty()) return renames;
    for (const auto& h : held)
        if (h.message_id.empty() && listed_sizes.contains(h.size)) held_left.push_back(&h);
    auto headers = source.headers(asked);
    if (!headers) return std::unexpected(headers.error());
    auto pool = held_by_digest(store, held_left);
    if (!pool) return std::unexpected(pool.error());
    for (const auto& [id, header] : *headers) {
        auto it = pool->find({header_digest(header), size_of[id]});
        if (it == pool->end() || it->second.empty()) continue;
        renames.emplace_back(it->second.back(), id);
        it->second.pop_back();
    }
    return renames;
}

} // namespace mf
