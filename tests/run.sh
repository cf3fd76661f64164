#!/usr/bin/env bash
# Installs the dependencies, builds mailferry and runs the whole test suite
# (unit tests and end-to-end tests against private Dovecot servers).
#   bash tests/run.sh                 # normal build in build/
#   MAILFERRY_SANITIZE=1 bash tests/run.sh   # address+undefined sanitizers, in build-asan/
#   MAILFERRY_TSAN=1 bash tests/run.sh       # thread sanitizer, in build-tsan/
# Arguments go to ctest (e.g. -R unit).
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/install-deps.sh

build=build
flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [ "${MAILFERRY_SANITIZE:-0}" = 1 ]; then
  build=build-asan
  flags+=(-DMAILFERRY_SANITIZE=ON)
fi
if [ "${MAILFERRY_TSAN:-0}" = 1 ]; then
  build=build-tsan
  flags+=(-DMAILFERRY_TSAN=ON)
fi
[ "${CI:-}" = true ] && flags+=(-DMAILFERRY_WERROR=ON)

cmake -S . -B "$build" "${flags[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
# Most end-to-end tests wait on servers, timeouts and back-offs rather than
# compute: four at a time on two cores (about a third of the suite's wall
# time is CPU time). MAILFERRY_TEST_JOBS overrides.
ctest --output-on-failure -j"${MAILFERRY_TEST_JOBS:-4}" "$@"
