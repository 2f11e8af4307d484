// SPDX-License-Identifier: MIT
// Where OverFeat Studio's installed data lies (the bundled model, the benchmark script, icons).
// An installed program looks next to itself first, so a package unpacked anywhere (`dpkg -x`)
// finds its files; a program run from the build tree falls back to the source tree.
#pragma once
#include <filesystem>
#include <vector>

namespace overfeat {

/// The folder of the running executable (from /proc/self/exe), or empty when unknown.
std::filesystem::path executable_dir();

/// The data folders, most specific first, only those that exist:
/// <executable dir>/../share/overfeat-studio, then <install prefix>/share/overfeat-studio as
/// configured at build time.
std::vector<std::filesystem::path> data_dirs();

/// `relative` inside the first data folder that has it; else `source_fallback` when that exists
/// (a file of the source tree, for programs run from the build tree); else empty.
std::filesystem::path find_data_file(const std::filesystem::path& relative,
                                     const std::filesystem::path& source_fallback = {});

/// `relative` inside the source tree this program was built from, when it exists, else empty.
std::filesystem::path source_tree_file(const std::filesystem::path& relative);

}  // namespace overfeat
