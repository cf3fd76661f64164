#include "sync/recovery.h"

#include <algorithm>
#include <random>

namespace mf {

std::chrono::milliseconds backoff(const RecoveryPolicy& policy, std::size_t attempt,
                                  const Failure& why) {
    auto delay = policy.base_delay;
    for (std::size_t i = 1; i < attempt && delay < policy.max_delay; ++i)
        delay *= 2;
    delay = std::min(delay, policy.max_delay);
    thread_local std::minstd_rand rng{std::random_device{}()};
    std::uniform_int_distribution<long long> off(0, delay.count() / 2);
    delay -= std::chrono::milliseconds(off(rng));
    if (why.retry_after) delay = std::max(delay, *why.retry_after);
    return delay;
}

bool worth_retrying(const Failure& f) {
    return f.kind != ErrorKind::auth && f.kind != ErrorKind::tls && f.kind != ErrorKind::usage &&
           f.kind != ErrorKind::locked && f.scope != Scope::account;
}

} // namespace mf
