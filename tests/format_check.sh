#!/usr/bin/env bash
# Every C and C++ file keeps the repository's .clang-format (issue 22): the
# tree was formatted once, and this keeps it so. Fix with:
#   clang-format -i $(bash tests/format_check.sh --list)
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(find cli sync backends tests/unit tests/fuzz tests/bench \( -name '*.cpp' -o -name '*.h' -o -name '*.c' \) | sort)
if [ "${1:-}" = "--list" ]; then echo "$files"; exit 0; fi
command -v clang-format >/dev/null || { echo "clang-format is not installed (tests/install-deps.sh)" >&2; exit 1; }
# shellcheck disable=SC2086
clang-format --dry-run -Werror $files
echo "$(echo "$files" | wc -l) files formatted as .clang-format says"
