#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages OverFeat Studio builds and tests with. Idempotent: packages
# already present are skipped. `--with-torch` adds PyTorch for `overfeat bench`
# and what the training tool needs (tools/train/requirements-debian.txt).
set -euo pipefail
packages=(
  cmake ninja-build g++ pkg-config
  libvulkan-dev glslang-tools mesa-vulkan-drivers vulkan-tools vulkan-validationlayers
  libopencv-dev nlohmann-json3-dev libcli11-dev libonnx-dev libprotobuf-dev protobuf-compiler
  libgtest-dev libgmock-dev libbenchmark-dev
  libonnx-testdata                            # ONNX's own conformance cases (ctest)
  qt6-base-dev fonts-dejavu-core xvfb xauth
  imagemagick python3-skimage
  libarchive-dev                              # reading overfeat-weights.tgz
  dpkg-dev file appstream desktop-file-utils  # the .deb: shlibdeps, validators
  clang libclang-rt-14-dev llvm               # ASan/UBSan/libFuzzer build, llvm-symbolizer
)
# --with-torch: what the training tool imports, from its one list (package, then module).
if [[ " $* " == *" --with-torch "* ]]; then
  while read -r package _; do
    packages+=("$package")
  done < <(sed 's/#.*//' "$(dirname "$0")/../tools/train/requirements-debian.txt" | awk 'NF')
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi
sudo=""
[[ $(id -u) -ne 0 ]] && sudo="sudo"
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
