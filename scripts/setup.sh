#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The README's first command: installs the packages, builds, and runs the main job on a
# photograph: `overfeat detect` with the default model (the bundled one, resources/models/),
# writing an annotated PNG to build/demo/. With no model at all it says where the weights go.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
photo=/usr/lib/python3/dist-packages/skimage/data/chelsea.png
echo
echo "== build/tools/overfeat/overfeat detect -v -o build/demo $photo"
status=0
build/tools/overfeat/overfeat detect -v -o build/demo "$photo" || status=$?
if [[ $status -eq 4 ]]; then
  echo
  echo "(No weights yet: see README.md, 'Weights'. Everything else is built; run scripts/test.sh.)"
  exit 0
fi
exit $status
