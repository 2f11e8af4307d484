#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The training tool's own tests (tools/train/test_train.py), run by ctest. They need what
# tools/train/requirements-debian.txt lists (Debian's PyTorch, ...: scripts/install-deps.sh
# --with-torch); without it they are skipped (exit 77).
set -euo pipefail
cd "$(dirname "$0")/.."
# What the training tool imports: the one list, tools/train/requirements-debian.txt.
modules=$(sed 's/#.*//' tools/train/requirements-debian.txt | awk 'NF == 2 { print $2 }' | paste -sd, -)
if ! /usr/bin/python3 -c "import $modules" 2>/dev/null; then
  echo "SKIPPED: the training tool's tests need the Python modules $modules" \
    "(tools/train/requirements-debian.txt; scripts/install-deps.sh --with-torch)"
  exit 77
fi
exec /usr/bin/python3 -m unittest discover -s tools/train -p 'test_*.py' -v
