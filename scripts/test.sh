#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The README's second command: builds and runs the whole test suite (ctest) on whatever Vulkan
# device there is (lavapipe without a GPU), with the validation layer on.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"
