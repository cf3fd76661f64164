#include "backends/common/crashpoint.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace mf::test {

namespace {

struct Hook {
    long crash_at = 0; // 0: never
    const char* steps_file = nullptr;
    // Bumped by every worker thread: each step gets its own number, so the
    // N-th step is reached once, whichever thread takes it.
    std::atomic<long> count = 0;
    Hook() {
        if (const char* v = std::getenv("MAILFERRY_TEST_CRASH_AT"))
            crash_at = std::strtol(v, nullptr, 10);
        steps_file = std::getenv("MAILFERRY_TEST_STEPS_FILE");
    }
};

Hook& hook() {
    static Hook h;
    return h;
}

} // namespace

void durable_step(const char* what) {
    Hook& h = hook();
    if (h.crash_at == 0 && !h.steps_file) return;
    const long step = ++h.count;
    if (h.steps_file) {
        char line[256];
        int n = std::snprintf(line, sizeof line, "%ld %s\n", step, what);
        int fd = ::open(h.steps_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0) {
            (void)!::write(fd, line, static_cast<std::size_t>(n));
            ::close(fd);
        }
    }
    if (step == h.crash_at) {
        const char msg[] = "mailferry: test crash point reached\n";
        (void)!::write(2, msg, sizeof msg - 1);
        ::_exit(86);
    }
}

} // namespace mf::test
