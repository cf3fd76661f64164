// Two runs of one job file never overlap (mailferry-jobs(5), RUNNING): the
// second is refused with exit status 6 (locked).
#pragma once

#include "backends/common/fs.h"
#include "sync/result.h"

#include <string>
#include <utility>

namespace mf::cli {

// An flock held until the run ends; the kernel drops it if the run dies.
class RunLock {
  public:
    static Result<RunLock> acquire(const std::string& job_file);
    RunLock(RunLock&& o) noexcept : m_fd(std::move(o.m_fd)) {}

  private:
    explicit RunLock(fs::Fd fd) : m_fd(std::move(fd)) {}
    fs::Fd m_fd;
};

} // namespace mf::cli
