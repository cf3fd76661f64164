#include "cli/app.h"

#include <malloc.h>
#include <sys/resource.h>

#include <algorithm>

int main(int argc, char** argv) {
    // One malloc arena for all threads: with an arena per folder worker,
    // memory one worker freed could not serve another, and the peak was the
    // sum of each arena's own peak. Most allocations are served from glibc's
    // per-thread caches without the lock.
    mallopt(M_ARENA_MAX, 1);
    // A Maildir batch keeps a descriptor open per unwritten message until it
    // is durable (fs::UnnamedFile): raise the soft limit, often 1024, to the
    // hard one (capped), as a process that needs them may.
    rlimit files{};
    if (getrlimit(RLIMIT_NOFILE, &files) == 0) {
        const rlim_t wanted = std::min<rlim_t>(files.rlim_max, 1 << 16);
        if (files.rlim_cur < wanted) {
            files.rlim_cur = wanted;
            (void)setrlimit(RLIMIT_NOFILE, &files);
        }
    }
    return mf::cli::run_app(argc, argv);
}
