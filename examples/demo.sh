#!/usr/bin/env bash
# The newcomer's demo: installs what is needed, builds mailferry, starts a
# throwaway Dovecot on 127.0.0.1 with sample mail, runs `mailferry check` and
# `mailferry backup` against it, and stops the server. Run as root.
#   bash examples/demo.sh [ARCHIVE]     (ARCHIVE defaults to ./demo-archive)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bash "$here/tests/install-deps.sh"
cmake -S "$here" -B "$here/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$here/build" -j"$(nproc)" >/dev/null
exec python3 "$here/examples/demo.py" "$@"
