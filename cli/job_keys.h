// The vocabulary of a job file: every key a job may hold, the type of its
// value and the kinds of job it makes sense for. Private to the job_*.cpp
// files; no JSON here, the validator (cli/job_validator.h) checks values
// against these types.
#pragma once

#include "cli/jobs.h"

#include <string>
#include <string_view>

namespace mf::cli::jobfile {

enum class Type { string, boolean, integer, strings, string_map };

struct KeySpec {
    std::string_view name;
    Type type;
    unsigned kinds;
};

inline constexpr std::string_view k_refused[] = {"password", "source_password", "target_password"};

const KeySpec* find_key(std::string_view name);
unsigned kind_bit(JobKind kind);
// "backup, migrate" for the kinds in `kinds`.
std::string kinds_list(unsigned kinds);
// "unknown key", with the nearest known key when one is close.
std::string unknown_key_message(std::string_view key);

} // namespace mf::cli::jobfile
