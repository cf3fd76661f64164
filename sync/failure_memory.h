// Messages that fail run after run. A message the source will not give (a
// NO for its FETCH, no body) fails only itself, and its folder's change
// token is not recorded, so the next run tries it again. After `skip_after`
// runs in a row it is skipped instead: reported in every run, not fetched,
// and no longer holding back the rest of its folder (whose token may then
// advance). Nothing is removed from the archive or the source for it.
#pragma once

#include "sync/model.h"

#include <cstddef>
#include <string>
#include <unordered_map>
#include <vector>

namespace mf {

class FailureMemory {
  public:
    // `known`: what the store recorded (FolderMemo::failures); skip_after 0:
    // never skip, try every message every run.
    FailureMemory(const std::vector<MessageFailure>& known, std::size_t skip_after);

    // Takes the messages to skip out of `fetch`, and remembers them.
    void skip(std::vector<std::string>& fetch);
    // What this run skipped.
    const std::vector<MessageProblem>& skipped() const { return m_skipped; }
    // Every message the memory says to skip (for a folder not even listed).
    std::vector<MessageProblem> to_skip() const;
    // Of `listing` (the whole folder), the known failures no longer in it.
    std::vector<std::string> unlisted(const std::vector<RemoteMessage>& listing) const;
    // Known failures that this run tried and did not fail: to forget.
    std::vector<std::string> recovered(const std::vector<MessageProblem>& failed) const;
    bool empty() const { return m_known.empty(); }

  private:
    bool skips(const MessageFailure& f) const { return m_skip_after > 0 && f.runs >= m_skip_after; }
    MessageProblem as_skipped(const MessageFailure& f) const;

    std::unordered_map<std::string, MessageFailure> m_known;
    std::size_t m_skip_after;
    std::vector<MessageProblem> m_skipped;
};

} // namespace mf
