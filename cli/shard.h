// --shard I/N: which jobs of a file this machine runs, so that a fleet (a
// Kubernetes Indexed Job, N cron hosts) splits one job file without
// coordination. A job belongs to shard fnv1a64(name) % N: deterministic,
// independent of the order of the file and of the other jobs' names, and the
// same on every machine and in every version (documented in
// mailferry-jobs(5); changing it would move jobs between machines).
#pragma once

#include "sync/fnv.h"

#include <cstdint>
#include <optional>
#include <string_view>

namespace mf::cli {

struct Shard {
    std::uint64_t index = 0;
    std::uint64_t count = 1;
};

// FNV-1a, 64 bits, with the published basis (sync/fnv.h).
using mf::fnv1a64;

// "I/N" with 0 <= I < N; nullopt for anything else.
std::optional<Shard> parse_shard(std::string_view text);

bool in_shard(std::string_view job_name, const Shard& shard);

} // namespace mf::cli
