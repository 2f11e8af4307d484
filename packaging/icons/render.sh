#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Renders the icon's PNG sizes for the hicolor theme from the SVGs (the simplified one for 16 and
# 24 px). The PNGs are committed, so building the package needs no SVG renderer; run this after
# changing an SVG. Needs rsvg-convert (Debian: librsvg2-bin).
set -euo pipefail
cd "$(dirname "$0")"
id=io.github.overfeat_studio.OverFeatStudio
for size in 16 24 32 48 64 128 256 512; do
  svg=$id.svg
  ((size <= 24)) && svg=$id-small.svg
  mkdir -p "hicolor/${size}x${size}/apps"
  rsvg-convert -w "$size" -h "$size" "$svg" -o "hicolor/${size}x${size}/apps/$id.png"
done
echo "rendered: $(ls hicolor | tr '\n' ' ')"
