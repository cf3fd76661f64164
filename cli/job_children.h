// The jobs of a run as child processes of this same binary: started with
// the job's own command line, their output read as it comes without
// blocking on any one of them, and reaped.
#pragma once

#include "backends/common/fs.h"
#include "cli/jobs.h"
#include "sync/result.h"

#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace mf::cli {

struct Child {
    const Job* job = nullptr;
    pid_t pid = -1;
    fs::Fd out, err;
    std::string out_text, err_text;
    double started = 0;
};

struct Finished {
    const Job* job = nullptr;
    int exit_code = 0;
    int signal = 0;
    double started = 0, finished = 0;
    std::string out_text, err_text;
};

// Now, in seconds since the Unix epoch, as the reports and metrics write it.
double unix_now();

// fork + exec of /proc/self/exe: the very binary that runs, even if it was
// replaced on disk since. The child runs in the job file's directory.
Result<Child> spawn(const Job& job, const std::string& dir);

// Waits a little for output from any of `running`, and reads what came.
void wait_for_output(std::vector<Child>& running);

// The job's end once its process has exited; nullopt while it runs.
std::optional<Finished> reap(Child& c);

} // namespace mf::cli
