#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The training tool's own tests (tools/train/test_train.py), run by ctest. They need Debian's
# PyTorch (scripts/install-deps.sh --with-torch); without it they are skipped (exit 77).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! /usr/bin/python3 -c "import torch, onnx" 2>/dev/null; then
  echo "SKIPPED: the training tool's tests need python3-torch and python3-onnx" \
    "(scripts/install-deps.sh --with-torch)"
  exit 77
fi
exec /usr/bin/python3 -m unittest discover -s tools/train -p 'test_*.py' -v
