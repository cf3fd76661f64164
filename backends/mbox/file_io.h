// Small POSIX helpers the mbox files share: positioned reads and writes, a
// file's size and directory, and the clock that dates From_ lines and ages
// dotlocks.
#pragma once

#include "sync/result.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mf::mbox {

std::optional<std::uint64_t> file_size(const std::string& path);
std::string parent_of(const std::string& path);
Status pwrite_all(int fd, std::string_view data, std::uint64_t offset, const std::string& path);
// Up to `max` bytes of `fd` from `offset` (fewer at the end of the file).
std::string pread_some(int fd, std::uint64_t offset, std::size_t max);
// Seconds since the epoch.
std::int64_t now_seconds();

} // namespace mf::mbox
