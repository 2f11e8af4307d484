#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fuzzes one target for a bounded time (ctest label "fuzz"):
#   run_fuzzer.sh FUZZ_BINARY SEED_DIR WORK_DIR SECONDS
# The corpus grows in WORK_DIR/corpus (kept between runs); a crash, a sanitizer report, a hang
# (over 10 s) or an allocation over the caps fails the test and leaves the input in
# WORK_DIR/artifacts/, whose path is printed with the commands to replay and minimize it.
# OVERFEAT_FUZZ_SECONDS in the environment overrides SECONDS.
set -uo pipefail
bin=$1 seeds=$2 work=$3
seconds=${OVERFEAT_FUZZ_SECONDS:-$4}
mkdir -p "$work/corpus" "$work/artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
touch "$work/started"
"$bin" "$work/corpus" "$seeds" -max_total_time="$seconds" -rss_limit_mb=2048 \
  -malloc_limit_mb=1024 -timeout=10 -artifact_prefix="$work/artifacts/" -print_final_stats=1 \
  >"$work/log.txt" 2>&1
status=$?
tail -n 12 "$work/log.txt"
if ((status != 0)); then
  echo
  echo "== $(basename "$bin") FAILED (exit $status); full log: $work/log.txt"
  grep -E "^(==[0-9]+==ERROR|SUMMARY|fuzz:|terminate called|  what\(\))" "$work/log.txt" | head -n 5
  for f in $(find "$work/artifacts" -type f -newer "$work/started"); do
    echo "reproducer: $f"
    echo "  replay:   $bin $f"
    echo "  minimize: $bin -minimize_crash=1 -max_total_time=60 -exact_artifact_path=$f.min $f"
  done
  echo "Add the minimized input to fuzz/regressions/$(basename "$bin" | sed 's/^fuzz_//')/ and fix the bug."
  exit 1
fi
exit 0
