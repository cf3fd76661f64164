// What the engine does after a session-scope failure (Scope::session): the
// connection is gone or out of step, so the worker logs in again and resumes
// the folder from what the store has committed. Bounded by a count and by a
// deadline for the whole run, and spaced by a back-off with jitter that never
// waits less than the server asked (Failure::retry_after).
#pragma once

#include "sync/result.h"

#include <chrono>
#include <cstddef>
#include <functional>

namespace mf {

struct RecoveryPolicy {
    std::size_t max_reconnects = 5;      // new sessions in the whole run
    std::size_t sessions_per_folder = 3; // one folder gives up after this many
    std::chrono::milliseconds base_delay{1000};
    std::chrono::milliseconds max_delay{60000};
    std::chrono::seconds deadline{900}; // no new session once the run is this old
    // How the engine waits; tests replace it to run without sleeping.
    std::function<void(std::chrono::milliseconds)> sleep;
};

// The wait before session number `attempt` + 1 (attempt >= 1): doubling from
// base_delay up to max_delay, with up to half of it taken off at random so
// that several workers throttled together do not come back together; never
// less than what the server asked for.
std::chrono::milliseconds backoff(const RecoveryPolicy& policy, std::size_t attempt,
                                  const Failure& why);

// Whether a failure to log in again is worth another try later: a refused
// login, a bad certificate or a usage error will not mend by waiting.
bool worth_retrying(const Failure& f);

} // namespace mf
