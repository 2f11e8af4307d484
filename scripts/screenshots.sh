#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Retakes the README's screenshots (docs/screenshots/) with the app itself, under Xvfb, with the
# default model (the bundled one) and scikit-image's sample photographs (python3-skimage):
#
#   scripts/screenshots.sh [BUILD_DIR]        # default build/
#
# The app runs with its settings and data in a scratch folder, so your own settings, learned
# classes and weights are neither used nor touched. The live shot plays a short video panning
# across a photograph (written with OpenCV) as the camera.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
app=$build/gui/overfeat-studio
samples=/usr/lib/python3/dist-packages/skimage/data
out=docs/screenshots
for tool in xvfb-run /usr/bin/python3 "$app"; do
  command -v "$tool" >/dev/null || { echo "screenshots.sh: $tool is missing" >&2; exit 1; }
done
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export XDG_CONFIG_HOME=$scratch/config XDG_DATA_HOME=$scratch/data XDG_CACHE_HOME=$scratch/cache

shot() {  # shot NAME MODE [app options...] INPUT
  local name=$1 mode=$2
  shift 2
  xvfb-run -a -s "-screen 0 1280x800x24" "$app" --size 1200x760 --mode "$mode" \
    --screenshot "$scratch/$name.png" "$@"
  /usr/bin/python3 -c "import cv2, sys; cv2.imwrite(sys.argv[2], cv2.imread(sys.argv[1]),
                       [cv2.IMWRITE_JPEG_QUALITY, 88])" "$scratch/$name.png" "$out/$name.jpg"
  echo "wrote $out/$name.jpg"
}

# A 4-second 640x480 pan across the astronaut photograph, 25 fps.
/usr/bin/python3 - "$samples/astronaut.png" "$scratch/pan.avi" <<'EOF'
import sys
import cv2
image = cv2.imread(sys.argv[1])
writer = cv2.VideoWriter(sys.argv[2], cv2.VideoWriter_fourcc(*"MJPG"), 25, (640, 480))
big = cv2.resize(image, (800, 800))
for i in range(100):
    x = int(160 * i / 99)
    writer.write(big[160:640, x:x + 640])
writer.release()
EOF

shot classify_chelsea classify "$samples/chelsea.png"
shot detect_motorcycle_left detect "$samples/motorcycle_left.png"
shot heatmaps_chelsea heatmaps "$samples/chelsea.png"
shot video_detect detect --results 5 --video "$scratch/pan.avi"
# The layer view on the first ReLU, one unit shown over the photograph.
shot layers_chelsea classify --layers 2 --unit 5 "$samples/chelsea.png"
