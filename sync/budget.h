// A run's allowance of message bytes to download (--max-bytes, and for
// Gmail what is left of the day's allowance), shared by every worker. A
// worker takes a message's size from it before asking the source for the
// message, so the run never asks for more than is left; what does not fit
// is left for the next run and counted, never silently dropped.
#pragma once

#include "sync/model.h"

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace mf {

class ByteBudget {
  public:
    explicit ByteBudget(std::optional<std::uint64_t> limit = std::nullopt) : m_limit(limit) {}

    bool limited() const { return m_limit.has_value(); }
    std::optional<std::uint64_t> limit() const { return m_limit; }
    // Takes `bytes` if that many are left; a message that does not fit is
    // never taken, even on a budget still untouched (see the man page).
    bool take(std::uint64_t bytes);
    std::uint64_t taken() const;

  private:
    const std::optional<std::uint64_t> m_limit;
    std::uint64_t m_taken = 0;
    mutable std::mutex m_mutex;
};

// Keeps in `ids` (in order) the messages whose sizes, as `listed` gives
// them, the budget still allows, and counts the others in `deferred` and
// `deferred_bytes`. A smaller message may still fit after a bigger one did
// not. Without a budget (nullptr, or unlimited) nothing changes.
void fit_to_budget(ByteBudget* budget, const std::vector<RemoteMessage>& listed,
                   std::vector<std::string>& ids, std::size_t& deferred,
                   std::uint64_t& deferred_bytes);

} // namespace mf
