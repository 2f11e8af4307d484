#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Debian package, end to end without installing it: cpack the current build into a scratch
# folder, unpack the .deb with `dpkg -x` into a scratch root, check its control data and files,
# validate the desktop entry and the AppStream metadata, then run the unpacked `overfeat` (on a
# photograph with the bundled model when the package has it) and the unpacked app, offscreen.
# The unpacked programs find their data next to themselves (overfeat/paths.hpp), not in /usr.
# Usage: test_package.sh BUILD_DIR
set -euo pipefail
build=$(cd "${1:?usage: test_package.sh BUILD_DIR}" && pwd)
id=io.github.overfeat_studio.OverFeatStudio
photo=/usr/lib/python3/dist-packages/skimage/data/chelsea.png
shots=$build/test-work/screenshots

tmp=$(mktemp -d "${TMPDIR:-/tmp}/overfeat-package.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
step() { echo "== $*"; }

step "cpack"
cpack --config "$build/CPackConfig.cmake" -B "$tmp/pkg" >"$tmp/cpack.log" 2>&1 ||
  { cat "$tmp/cpack.log"; fail "cpack failed"; }
debs=("$tmp"/pkg/overfeat-studio_*.deb)
[[ -f ${debs[0]} ]] || fail "no .deb in $tmp/pkg"
deb=${debs[0]}
echo "$(basename "$deb"): $(du -h "$deb" | cut -f1)"

step "control data"
dpkg-deb -I "$deb" >"$tmp/info"
grep -E '^ (Package|Version|Section|Depends|Recommends|Suggests):' "$tmp/info"
depends=$(sed -n 's/^ Depends: //p' "$tmp/info")
for dep in 'mesa-vulkan-drivers | vulkan-icd' libvulkan1 libqt6widgets6 libqt6gui6 \
  libopencv-videoio libarchive13 libonnx1 libc6; do
  [[ $depends == *"$dep"* ]] || fail "Depends lacks $dep (shlibdeps?): $depends"
done

step "dpkg -x"
root=$tmp/root
dpkg -x "$deb" "$root"
for f in usr/bin/overfeat usr/bin/overfeat-studio \
  usr/share/applications/$id.desktop usr/share/metainfo/$id.metainfo.xml \
  usr/share/icons/hicolor/scalable/apps/$id.svg \
  usr/share/overfeat-studio/classes/overfeat-ilsvrc2012.tsv \
  usr/share/doc/overfeat-studio/copyright; do
  [[ -e $root/$f ]] || fail "missing from the package: /$f"
done
for size in 16 24 32 48 64 128 256 512; do
  icon=$root/usr/share/icons/hicolor/${size}x${size}/apps/$id.png
  [[ -f $icon ]] || fail "missing icon ${size}x${size}"
  file "$icon" | grep -q "PNG image data, $size x $size" || fail "icon ${size}x${size}: $(file "$icon")"
done
model=$root/usr/share/overfeat-studio/models/overfeat-studio.onnx
echo "ok: binaries, desktop entry, metainfo, icons (8 sizes + SVG), class list, copyright"

step "validators"
if command -v desktop-file-validate >/dev/null; then
  desktop-file-validate "$root/usr/share/applications/$id.desktop" || fail "desktop-file-validate"
  echo "desktop-file-validate: no errors"
else
  echo "SKIP desktop-file-validate: not installed (Debian package desktop-file-utils)"
fi
if command -v appstreamcli >/dev/null; then
  appstreamcli validate --no-net "$root/usr/share/metainfo/$id.metainfo.xml" ||
    fail "appstreamcli validate"
else
  echo "SKIP appstreamcli: not installed (Debian package appstream)"
fi

# The unpacked programs run with their own scratch settings, data and cache folders.
export XDG_CONFIG_HOME=$tmp/config XDG_DATA_HOME=$tmp/data XDG_CACHE_HOME=$tmp/cache
unset OVERFEAT_WEIGHTS OVERFEAT_MODEL

step "overfeat weights (unpacked)"
status=0
"$root/usr/bin/overfeat" weights >"$tmp/weights.txt" || status=$?
[[ $status -eq 1 ]] || fail "overfeat weights with no weights: exit $status, expected 1"
grep -q "$tmp/data/overfeat-studio/weights" "$tmp/weights.txt" || fail "weights folder not named"
mkdir -p "$tmp/fake"
truncate -s 583683488 "$tmp/fake/net_weight_0"
truncate -s 578625952 "$tmp/fake/net_weight_1"
"$root/usr/bin/overfeat" weights check "$tmp/fake" >/dev/null || fail "weights check of a good folder"
echo "ok: explanation, default folder, check"

step "data found next to the executable"
planted=""
if [[ ! -f $model ]]; then
  # Without a bundled model in the package, a placeholder shows where the lookup lands.
  mkdir -p "$(dirname "$model")"
  : >"$model"
  planted=1
fi
"$root/usr/bin/overfeat" weights >"$tmp/weights.txt" || true
grep -q "The bundled model: $model" "$tmp/weights.txt" ||
  fail "the unpacked overfeat does not find $model: $(grep 'bundled model' "$tmp/weights.txt")"
echo "ok: the bundled model is looked up at $model"
[[ -n $planted ]] && rm -f "$model"

step "overfeat on a photograph (unpacked)"
if [[ ! -f $photo ]]; then
  echo "SKIP: $photo missing (Debian package python3-skimage)"
elif [[ ! -f $model ]]; then
  echo "SKIP: the package has no bundled model yet (resources/models/overfeat-studio.onnx is not"
  echo "      built); the photograph run needs it or the official weights"
else
  status=0
  "$root/usr/bin/overfeat" classify "$photo" >"$tmp/classify.txt" 2>"$tmp/classify.err" || status=$?
  if [[ $status -eq 3 ]]; then
    echo "SKIP: no Vulkan device: $(cat "$tmp/classify.err")"
  else
    [[ $status -eq 0 ]] || fail "overfeat classify: exit $status: $(cat "$tmp/classify.err")"
    cat "$tmp/classify.txt"
    [[ $(wc -l <"$tmp/classify.txt") -ge 5 ]] || fail "overfeat classify printed too little"
  fi
fi

step "overfeat-studio (unpacked, offscreen)"
export QT_QPA_PLATFORM=offscreen
"$root/usr/bin/overfeat-studio" --version | grep -q "OverFeat Studio" || fail "--version"
status=0
timeout 4 "$root/usr/bin/overfeat-studio" >"$tmp/app.log" 2>&1 || status=$?
[[ $status -eq 124 ]] || { cat "$tmp/app.log"; fail "the app exited with $status within 4 s"; }
echo "ok: ran 4 s and was stopped by the timeout"
if [[ -f $photo ]]; then
  # Saves the window after the first result, or after the model failed to load (no model).
  status=0
  timeout 120 "$root/usr/bin/overfeat-studio" --size 1000x700 --screenshot "$tmp/app.png" \
    "$photo" >"$tmp/app.log" 2>&1 || status=$?
  [[ $status -eq 0 && -s $tmp/app.png ]] || { cat "$tmp/app.log"; fail "--screenshot: exit $status"; }
  mkdir -p "$shots" && cp "$tmp/app.png" "$shots/package_app.png"
  echo "ok: screenshot saved to $shots/package_app.png"
fi
echo "PASS"
