#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The README's first command: installs the packages, builds, and runs the main job on a
# photograph (for now `overfeat` classifying a sample photo; it says where the weights go when
# none are installed).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
photo=/usr/lib/python3/dist-packages/skimage/data/chelsea.png
echo
echo "== build/tools/overfeat/overfeat -n 5 $photo"
status=0
build/tools/overfeat/overfeat -v -n 5 "$photo" || status=$?
if [[ $status -eq 4 ]]; then
  echo
  echo "(No weights yet: see README.md, 'Weights'. Everything else is built; run scripts/test.sh.)"
  exit 0
fi
exit $status
