#!/usr/bin/env bash
# Builds every tests/fuzz/fuzz_*.cpp as a libFuzzer target (clang, with
# AddressSanitizer and UndefinedBehaviorSanitizer) and runs each one for a
# while, starting from its seed corpus tests/fuzz/corpus/<name without fuzz_>/.
#
#   bash tests/fuzz/run_fuzzers.sh [WORKDIR]
#
# Environment:
#   MAILFERRY_FUZZ_SECONDS  seconds per target (default 12; 300 with MAILFERRY_LONG=1)
#   MAILFERRY_FUZZ_TARGETS  space-separated names to run (default: all), e.g. "fuzz_pop3"
#   CXX                     the clang++ to use (default: clang++, else clang++-14)
#
# WORKDIR (default: $TMPDIR/mailferry-fuzz) keeps the binaries, which are
# rebuilt only when a source under backends/, sync/ or tests/fuzz/ changed,
# the corpus each run grows (the seeds in the repository are never touched),
# and crash reproducers (WORKDIR/artifacts/<target>/). Exit status: 0 all
# targets ran clean, 1 a target found a crash, leak or timeout (its
# reproducer is printed), 77 clang or libFuzzer is missing (ctest: skipped).
#
# The sources of a target are the .cpp files under backends/, sync/ or cli/
# named in its header comment (targets that #include their sources name
# none); a "-max_len=N" there is passed on.
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:-${TMPDIR:-/tmp}/mailferry-fuzz}
if [ "${MAILFERRY_LONG:-0}" = 1 ]; then default_seconds=300; else default_seconds=12; fi
seconds=${MAILFERRY_FUZZ_SECONDS:-$default_seconds}

cxx=${CXX:-}
if [ -z "$cxx" ] || ! "$cxx" --version 2>/dev/null | grep -q clang; then
  cxx=$(command -v clang++ || command -v clang++-14 || true)
fi
if [ -z "$cxx" ]; then
  echo "run_fuzzers: clang++ not found, fuzzers skipped (apt-get install clang)" >&2
  exit 77
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' > "$probe/p.cpp"
if ! "$cxx" -fsanitize=fuzzer,address,undefined "$probe/p.cpp" -o "$probe/p" 2>"$probe/err"; then
  echo "run_fuzzers: $cxx cannot build libFuzzer targets, fuzzers skipped (apt-get install libclang-rt-14-dev):" >&2
  head -3 "$probe/err" >&2
  exit 77
fi

mkdir -p "$work/bin" "$work/corpus" "$work/artifacts" "$work/logs"
cd "$root"

targets=()
for f in tests/fuzz/fuzz_*.cpp; do
  name=$(basename "$f" .cpp)
  if [ -n "${MAILFERRY_FUZZ_TARGETS:-}" ] && [[ " $MAILFERRY_FUZZ_TARGETS " != *" $name "* ]]; then continue; fi
  targets+=("$name")
done

# The leading comment block of a file: where the build line lives.
header() { awk '/^\/\// { print; next } { exit }' "$1"; }

build() {
  local name=$1 src=tests/fuzz/$1.cpp bin=$work/bin/$1
  if [ -x "$bin" ] && [ -z "$(find backends sync tests/fuzz -newer "$bin" -name '*.[ch]*' -print -quit)" ]; then
    return 0
  fi
  local sources
  sources=$(header "$src" | grep -oE '(backends|sync|cli)/[A-Za-z0-9_/.-]+\.cpp' | sort -u | tr '\n' ' ')
  # shellcheck disable=SC2086
  if ! "$cxx" -std=c++2b -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
      -I"$root" "$src" $sources -lz -o "$bin.new" >"$work/logs/$name.build" 2>&1; then
    echo "run_fuzzers: $name does not build:" >&2
    tail -20 "$work/logs/$name.build" >&2
    return 1
  fi
  mv "$bin.new" "$bin"
}

# Two builds at a time: a build takes 5 to 15 s.
failed=0
pids=()
for name in "${targets[@]}"; do
  build "$name" &
  pids+=($!)
  if [ ${#pids[@]} -ge 2 ]; then
    wait "${pids[0]}" || failed=1
    pids=("${pids[@]:1}")
  fi
done
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
[ $failed -eq 0 ] || exit 1

status=0
for name in "${targets[@]}"; do
  seeds=tests/fuzz/corpus/${name#fuzz_}
  corpus=$work/corpus/$name
  artifacts=$work/artifacts/$name/
  mkdir -p "$corpus" "$artifacts"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$artifacts")
  max_len=$(header "tests/fuzz/$name.cpp" | grep -oE -- '-max_len=[0-9]+' | head -1)
  [ -n "$max_len" ] && args+=("$max_len")
  dirs=("$corpus")
  [ -d "$seeds" ] && dirs+=("$seeds")
  log=$work/logs/$name.log
  "$work/bin/$name" "${args[@]}" "${dirs[@]}" >"$log" 2>&1
  rc=$?
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')
  if [ $rc -ne 0 ]; then
    echo "run_fuzzers: $name FAILED (exit $rc); log $log" >&2
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -10 >&2
    echo "  reproduce: $work/bin/$name $artifacts<crash file>" >&2
    status=1
  else
    echo "run_fuzzers: $name ok, ${runs:-?} inputs in ${seconds} s, corpus $(ls "$corpus" | wc -l) files"
  fi
done
exit $status
