#include "cli/app.h"

#include <malloc.h>

int main(int argc, char** argv) {
    // One malloc arena for all threads: with an arena per folder worker,
    // memory one worker freed could not serve another, and the peak was the
    // sum of each arena's own peak (~0.4 MB more at four connections). Most
    // allocations are served from glibc's per-thread caches without the lock.
    mallopt(M_ARENA_MAX, 1);
    return mf::cli::run_app(argc, argv);
}
