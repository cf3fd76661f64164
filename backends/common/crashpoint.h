// Test hook, for the fault-injection suite only (documented in
// tests/README.md, not for users): every durable step (a message file
// renamed into place, a state commit, an APPEND or DELE sent, ...) calls
// durable_step(). With MAILFERRY_TEST_CRASH_AT=N in the environment the
// process dies at once (_exit, like a kill -9: no destructors, no flush) at
// the N-th step; with MAILFERRY_TEST_STEPS_FILE=PATH each step appends a
// line "N what" to PATH, so a test can count the steps of a run first.
#pragma once

namespace mf::test {

void durable_step(const char* what);

} // namespace mf::test
