#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Replays committed fuzz inputs (fuzz/regressions/) through a fuzz target, without fuzzing:
#   replay.sh FUZZ_BINARY INPUT...            passes when no input crashes
#   replay.sh --pending FUZZ_BINARY INPUT     for an input listed in regressions/pending.txt: its
#     fix is on another branch; passes while the input still crashes, and fails, asking for the
#     line to be removed from pending.txt, once the fix is here.
set -uo pipefail
pending=0
[[ $1 == --pending ]] && { pending=1; shift; }
bin=$1
shift
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$bin" -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 "$@" >"$log" 2>&1
status=$?
if ((pending)); then
  if ((status == 0)); then
    echo "$* no longer crashes: its fix has arrived; remove its line from fuzz/regressions/pending.txt"
    exit 1
  fi
  echo "still crashes, as expected until its fix (fuzz/regressions/pending.txt) is merged:"
  grep -E "^(==[0-9]+==ERROR|SUMMARY|fuzz:|terminate called|  what\(\))" "$log" | head -n 3
  exit 0
fi
cat "$log"
exit $status
