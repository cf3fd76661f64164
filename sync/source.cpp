#include "sync/source.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace mf {

Status MessageSink::put(const RemoteMessage& message, std::uint64_t size, const Producer& produce) {
    if (auto s = begin(size); !s) return s;
    if (auto s = produce([this](std::string_view bytes) { return write(bytes); }); !s) {
        abandon();
        return s;
    }
    return finish(message);
}

Status Source::undo_marked_read(const std::vector<std::string>&) {
    return fail(ErrorKind::usage, Scope::folder, "this source cannot mark messages unread");
}

Status gather_parts(Source& source, Snapshot& snap) {
    std::vector<RemoteMessage> all = std::move(snap.messages);
    while (snap.more) {
        if (auto s = source.next_part(snap); !s) return s;
        std::move(snap.messages.begin(), snap.messages.end(), std::back_inserter(all));
    }
    snap.messages = std::move(all);
    snap.listing = ListingKind::whole;
    return {};
}

namespace {

// Passes everything on to `inner`, noting the ids that arrived whole.
class ArrivalSink : public MessageSink {
  public:
    explicit ArrivalSink(MessageSink& inner) : m_inner(inner) {}
    Status begin(std::uint64_t size_hint) override { return m_inner.begin(size_hint); }
    Status write(std::string_view chunk) override { return m_inner.write(chunk); }
    void abandon() override { m_inner.abandon(); }
    Status finish(const RemoteMessage& message) override {
        return noted(message, m_inner.finish(message));
    }
    Status put(const RemoteMessage& message, std::uint64_t size, const Producer& produce) override {
        return noted(message, m_inner.put(message, size, produce));
    }
    std::vector<std::string> take() { return std::exchange(m_arrived, {}); }

  private:
    Status noted(const RemoteMessage& message, Status s) {
        if (s) m_arrived.push_back(message.id);
        return s;
    }
    MessageSink& m_inner;
    std::vector<std::string> m_arrived;
};

class Isolating {
  public:
    Isolating(Source& source, MessageSink& sink, std::vector<MessageProblem>& failed)
        : m_source(source), m_sink(sink), m_failed(failed) {}

    Status fetch(std::span<const std::string> ids) {
        (void)m_sink.take();
        auto s = m_source.fetch(ids, m_sink);
        if (s || s.error().scope != Scope::message) return s;
        std::vector<std::string> left = without(ids, m_sink.take());
        if (left.empty()) return {};
        if (left.size() == 1) {
            m_failed.push_back(MessageProblem{left.front(), s.error().what});
            return {};
        }
        if (m_budget == 0)
            return fail(s.error().kind, Scope::folder,
                        s.error().what +
                            " (and more messages failed than are looked at one by one in a run)");
        --m_budget;
        std::span<const std::string> all(left);
        const std::size_t half = left.size() / 2;
        if (auto r = fetch(all.first(half)); !r) return r;
        return fetch(all.subspan(half));
    }

  private:
    static std::vector<std::string> without(std::span<const std::string> ids,
                                            std::vector<std::string> arrived) {
        std::sort(arrived.begin(), arrived.end());
        std::vector<std::string> left;
        for (const auto& id : ids)
            if (!std::binary_search(arrived.begin(), arrived.end(), id)) left.push_back(id);
        return left;
    }

    // Bounded, so that a source refusing every message (which is the
    // folder's problem) is not asked for each alone.
    static constexpr std::size_t k_max_splits = 256;

    Source& m_source;
    ArrivalSink m_sink;
    std::vector<MessageProblem>& m_failed;
    std::size_t m_budget = k_max_splits;
};

} // namespace

Status fetch_isolating(Source& source, const std::vector<std::string>& ids, MessageSink& sink,
                       std::size_t chunk, std::vector<MessageProblem>& failed) {
    Isolating isolating(source, sink, failed);
    for (std::size_t at = 0; at < ids.size(); at += chunk) {
        auto end = std::min(ids.size(), at + chunk);
        if (auto s = isolating.fetch(std::span(ids).subspan(at, end - at)); !s) return s;
    }
    return {};
}

} // namespace mf
