// A MessageSink that keeps what a source streamed into it, for transcript
// tests: each finished message with its bytes, and what was abandoned.
#pragma once

#include "sync/source.h"

#include <map>
#include <string>
#include <vector>

namespace mf::test {

struct RecordingSink : MessageSink {
    struct Stored {
        RemoteMessage message;
        std::string bytes;
        std::uint64_t size_hint = 0;
    };
    std::vector<Stored> finished;
    std::size_t abandoned = 0;

    Status begin(std::uint64_t size_hint) override {
        m_bytes.clear();
        m_hint = size_hint;
        return {};
    }
    Status write(std::string_view chunk) override {
        m_bytes.append(chunk);
        return {};
    }
    Status finish(const RemoteMessage& message) override {
        finished.push_back({message, std::move(m_bytes), m_hint});
        m_bytes.clear();
        return {};
    }
    void abandon() override {
        ++abandoned;
        m_bytes.clear();
    }
    // id -> bytes of every finished message.
    std::map<std::string, std::string> bodies() const {
        std::map<std::string, std::string> out;
        for (const auto& s : finished)
            out[s.message.id] = s.bytes;
        return out;
    }

  private:
    std::string m_bytes;
    std::uint64_t m_hint = 0;
};

// The ids of `messages`, in order.
inline std::vector<std::string> ids_of(const std::vector<RemoteMessage>& messages) {
    std::vector<std::string> out;
    for (const auto& m : messages)
        out.push_back(m.id);
    return out;
}

} // namespace mf::test
