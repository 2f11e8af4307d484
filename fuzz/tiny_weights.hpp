// SPDX-License-Identifier: MIT
// Small stand-ins for the official weight files, shared by the weights and archive fuzz targets
// and the seed generator: the official files are hundreds of megabytes, far beyond a fuzz input,
// so the checks run against networks of the same kind whose files are a few hundred bytes.
#pragma once
#include <vector>

#include "overfeat/netspec.hpp"
#include "overfeat/weights_install.hpp"

namespace overfeat::fuzz {

/// The tiny networks standing in for net_weight_0 and net_weight_1.
inline NetSpec tiny_spec(int net_index) {
  return net_index == 0 ? NetSpec::parse("tiny-fast", "conv:2:3:2 relu pool:2 conv:3:1:1")
                        : NetSpec::parse("tiny-accurate", "conv:4:2:1 relu pool:2 conv:2:2:1");
}

/// The official file names with the tiny networks' sizes.
inline std::vector<OfficialWeightFile> tiny_weight_files() {
  std::vector<OfficialWeightFile> files;
  for (int i = 0; i < 2; ++i) {
    const NetSpec spec = tiny_spec(i);
    files.push_back({"net_weight_" + std::to_string(i), i, spec.name,
                     static_cast<std::uint64_t>(spec.parameter_count()) * 4});
  }
  return files;
}

}  // namespace overfeat::fuzz
