#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The README's second command: builds and runs the whole test suite (ctest) on whatever Vulkan
# device there is (lavapipe without a GPU), with the validation layer on. Then the sanitizer
# build (README, "Fuzzing and sanitizers"): build-asan, clang with ASan + UBSan, where the unit
# tests run with no Vulkan device (the Vulkan tests skip, the CPU tests run under the
# sanitizers) and each fuzz target runs for OVERFEAT_FUZZ_SECONDS (default 20) and replays its
# regressions (ctest label fuzz). OVERFEAT_SKIP_SANITIZERS=1 skips that part.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"

if [[ ${OVERFEAT_SKIP_SANITIZERS:-0} == 1 ]]; then
  echo "test.sh: sanitizer build and fuzzing skipped (OVERFEAT_SKIP_SANITIZERS=1)"
  exit 0
fi
cmake -S . -B build-asan -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" -DOVERFEAT_BUILD_GUI=OFF \
  -DOVERFEAT_BUILD_BENCHMARKS=OFF -DOVERFEAT_FUZZ=ON >/dev/null
cmake --build build-asan -j "$(nproc)"
ctest --test-dir build-asan --output-on-failure -j "$(nproc)" -LE fuzz
ctest --test-dir build-asan --output-on-failure -j "$(nproc)" -L fuzz
