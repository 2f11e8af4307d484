#!/bin/bash
# SPDX-License-Identifier: MIT
# Issue 15's GPU readiness: on a machine with a GPU (the `device` tool's, see
# /work/.library/device/README.md, or any), runs the Vulkan tests of the ops and the networks
# and the benchmarks on the GPU, with PyTorch CUDA as the peer. Run from the repository root
# with an existing build (scripts/build.sh); figures go to stdout and, as JSON, to
# ${OUT:-build/bench-gpu}/bench-gpu.jsonl (JSON documents, one after another).
#
#   scripts/bench-gpu.sh                # everything (not yet run on a GPU: none was lent)
#   QUICK=1 scripts/bench-gpu.sh        # the benchmarks only
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-build/bench-gpu}
mkdir -p "$out"
log=$out/bench-gpu.jsonl
: >"$log"
bin=build/tools/overfeat/overfeat
[ -x "$bin" ] || { echo "no $bin: build first (scripts/build.sh)" >&2; exit 2; }

# The device machine's image may lack the Vulkan loader: unpack the carried one (.gl/*.deb).
if ! ldconfig -p | grep -q libvulkan.so.1 && ls .gl/*.deb >/dev/null 2>&1; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES=${VK_DRIVER_FILES:-$icd}

"$bin" devices || { echo "no Vulkan device" >&2; exit 3; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null

if [ -z "${QUICK:-}" ]; then
  echo "== Vulkan tests (ops and networks against their references)"
  ctest --test-dir build -R "Ops\.|GraphOps|NetworkVsReference|Dense|GraphExecutor|OnnxConformanceVulkan" \
    -j4 --output-on-failure 2>&1 | tail -5
fi

py=/usr/bin/python3
cuda=$($py -c "import torch; print(int(torch.cuda.is_available()))" 2>/dev/null || echo 0)
peer() {  # PyTorch on the GPU when it has CUDA, else nothing
  [ "$cuda" = 1 ] && "$py" "$@" --device cuda --json | tee -a "$log"
}
echo "== official nets, one window (ours; then PyTorch CUDA)"
for spec in "fast 231x231" "accurate 221x221" "fast 461x569"; do
  set -- $spec
  "$bin" bench --net "$1" --size "$2" --repeat 20 --warmup 3 --no-torch --json | tee -a "$log"
  peer bench/pytorch_reference.py --net "$1" --size "$2" --repeat 20
done
echo "== the same with the large weights stored as fp16 (OVERFEAT_FP16_WEIGHTS=1)"
for spec in "fast 231x231" "accurate 221x221"; do
  set -- $spec
  OVERFEAT_FP16_WEIGHTS=1 "$bin" bench --net "$1" --size "$2" --repeat 20 --warmup 3 --no-torch \
    --json | tee -a "$log"
done
echo "== the bundled model's dense frame (240x320, 4 offsets, both heads)"
"$bin" bench dense -m bundled --scales 240x320 --repeat 10 --json | tee -a "$log"
peer bench/pytorch_dense.py --size 240x320 --repeat 20
echo "== six scales, fine stride, a photograph-sized input"
"$bin" bench dense -m bundled --scales paper --repeat 5 --json | tee -a "$log"
"$bin" bench dense --net fast --scales paper --repeat 3 --json | tee -a "$log"
echo "== the app's live figure (auto scales for 30 fps)"
"$bin" bench live --frames 200 --target-fps 30 --json | tee -a "$log"
echo "JSON in $log"
