// Learning the UIDs of appended messages where the server did not say them
// (no UIDPLUS, so no APPENDUID; issue 20): each is found again with
// UID SEARCH HEADER Message-ID among the UIDs the folder gave out since it
// was opened. Private to backends/imap (the Appender keeps one).
#pragma once

#include "backends/imap/session.h"
#include "sync/target.h"

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace mf::imap {

// The UID SEARCH that finds appended messages of one Message-ID ("" for
// messages without one) at or above `from`; nullopt when the id cannot be
// searched for (CR, LF or 8-bit bytes: a server may match it otherwise).
std::optional<std::string> locate_command(const std::string& message_id, std::uint32_t from);

// Pairs a group of messages, in the order they were appended, with the
// UIDs a search found for them: UIDs are given out in ascending order
// (RFC 3501 section 2.3.1.1), so the k-th appended is the k-th found. Found
// UIDs below `from` or in `known` are left out; empty when the rest do not
// match the group
// one for one (another client added one with the same Message-ID):
// nothing is then guessed.
std::vector<std::uint32_t> pair_found(std::vector<std::uint32_t> found, std::size_t group,
                                      const std::set<std::uint32_t>& known, std::uint32_t from);

class UidLocator {
  public:
    // Enough to keep the searches' round trip rare, few enough to be small.
    static constexpr std::size_t k_batch = 128;

    // A folder was opened: UIDs from `next` on are new.
    void opened(std::uint32_t next);
    // The server named the UID of an appended message (APPENDUID).
    void known(std::uint32_t uid) { m_known.insert(uid); }
    // An appended message the server gave no UID for.
    void add(const RemoteMessage& message, std::string message_id);
    bool due() const { return m_waiting.size() >= k_batch; }
    // Pipelines one search per Message-ID, then reads the answers; calls
    // `located` for each message found. Fails only when the session does
    // (a NO leaves those messages to be recognised by content next run).
    Status locate(Session& session, const LocatedFn& located);

  private:
    struct Waiting {
        RemoteMessage message;
        std::string message_id;
    };
    std::uint32_t m_next = 1;
    std::set<std::uint32_t> m_known;
    std::vector<Waiting> m_waiting;
};

} // namespace mf::imap
