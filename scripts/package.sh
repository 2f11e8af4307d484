#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The README's packaging command: installs the build packages, builds the app and the
# `overfeat` command in ./build, and makes the Debian package with CPack (packaging/):
# build/package/overfeat-studio_<version>_<arch>.deb. Install it with
#   sudo apt install ./build/package/overfeat-studio_*.deb
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target overfeat overfeat-studio
rm -f build/package/overfeat-studio_*.deb
cpack --config build/CPackConfig.cmake -B build/package
deb=$(ls build/package/overfeat-studio_*.deb)
echo
dpkg-deb -f "$deb" Package Version Depends
echo
echo "Built $deb"
echo "Install it with: sudo apt install ./$deb"
