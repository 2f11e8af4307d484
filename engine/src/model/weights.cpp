// SPDX-License-Identifier: MIT
#include "overfeat/weights.hpp"

#include <bit>
#include <cmath>
#include <fstream>
#include <random>

#include "overfeat/error.hpp"
#include "overfeat/files.hpp"

namespace overfeat {

std::filesystem::path official_weight_path(const std::filesystem::path& dir, int net_index) {
  return dir / ("net_weight_" + std::to_string(net_index));
}

namespace {

std::vector<ConvWeights> shapes_of(const NetSpec& spec) {
  std::vector<ConvWeights> convs;
  int c = spec.input_channels;
  for (const Module& m : spec.modules)
    if (m.kind == ModuleKind::Conv) {
      ConvWeights cw;
      cw.out = m.out_channels;
      cw.in = c;
      cw.k = m.kernel;
      convs.push_back(cw);
      c = m.out_channels;
    }
  return convs;
}

std::string describe_bytes(unsigned long long b) {
  return std::to_string(b) + " bytes";
}

}  // namespace

Weights load_weights(const std::filesystem::path& file, const NetSpec& spec) {
  const unsigned long long expected = static_cast<unsigned long long>(spec.parameter_count()) * 4;
  if (const auto problem = files::problem(file, expected)) {
    std::error_code ec;
    if (!std::filesystem::exists(file, ec))
      throw WeightFileError("Weight file " + file.string() + " does not exist (expected " +
                            describe_bytes(expected) + " for the " + spec.name +
                            " network). Put the official files net_weight_0 and net_weight_1 in "
                            "a folder and choose it (the app: Model > Official weights folder, "
                            "or Get the official weights; the command line: -d DIR, or "
                            "`overfeat weights` for help).");
    if (problem->find("more than") == std::string::npos)
      throw WeightFileError("Weight file " + file.string() + " " + *problem +
                            "; give the official file itself (`overfeat weights` checks a folder)");
  }
  std::error_code ec;
  const unsigned long long actual = std::filesystem::file_size(file, ec);
  if (ec)
    throw WeightFileError("Cannot read the size of weight file " + file.string() + ": " +
                          ec.message());
  if (actual != expected) {
    // The same words as `overfeat weights` (WeightFileCheck::explain).
    std::string why = actual < expected
                          ? "truncated (an interrupted download?), or not an OverFeat file"
                          : "too large: not an OverFeat weight file";
    for (int k : {0, 1})
      if (NetSpec other = NetSpec::official(k);
          other.name != spec.name &&
          static_cast<unsigned long long>(other.parameter_count()) * 4 == actual)
        why = "that is the size of net_weight_" + std::to_string(k) + ", the " + other.name +
              " network's file: were the files renamed?";
    throw WeightFileError("Weight file " + file.string() + " has the wrong size: expected " +
                          describe_bytes(expected) + " for the " + spec.name + " network, found " +
                          describe_bytes(actual) + ": " + why +
                          ". Run `overfeat weights DIR` to check a folder.");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) throw WeightFileError("Cannot open weight file " + file.string() + " for reading");
  Weights weights;
  weights.convs = shapes_of(spec);
  for (ConvWeights& cw : weights.convs) {
    cw.w.resize(static_cast<size_t>(cw.out) * cw.in * cw.k * cw.k);
    cw.b.resize(cw.out);
    in.read(reinterpret_cast<char*>(cw.w.data()), static_cast<std::streamsize>(cw.w.size() * 4));
    in.read(reinterpret_cast<char*>(cw.b.data()), static_cast<std::streamsize>(cw.b.size() * 4));
    if (!in)
      throw WeightFileError("Weight file " + file.string() + " could not be read completely");
  }
  static_assert(std::endian::native == std::endian::little,
                "the official weight files are little-endian float32");
  for (size_t i = 0; i < weights.convs.size(); ++i) {
    const ConvWeights& cw = weights.convs[i];
    size_t bad = 0;
    for (float v : cw.w) bad += !std::isfinite(v);
    for (float v : cw.b) bad += !std::isfinite(v);
    if (bad)
      throw WeightFileError("Weight file " + file.string() + " is damaged: convolution " +
                            std::to_string(i + 1) + " of the " + spec.name + " network has " +
                            std::to_string(bad) +
                            " values that are not finite numbers (NaN or infinity); the "
                            "official files have none. Download the weights again.");
  }
  return weights;
}

void save_weights(const std::filesystem::path& file, const Weights& weights) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) throw Error("Cannot write weight file " + file.string());
  for (const ConvWeights& cw : weights.convs) {
    out.write(reinterpret_cast<const char*>(cw.w.data()),
              static_cast<std::streamsize>(cw.w.size() * 4));
    out.write(reinterpret_cast<const char*>(cw.b.data()),
              static_cast<std::streamsize>(cw.b.size() * 4));
  }
  if (!out) throw Error("Failed writing weight file " + file.string());
}

Weights random_weights(const NetSpec& spec, unsigned seed) {
  // mt19937 is specified exactly by the standard; the Box-Muller transform below is ours, so the
  // values do not depend on the standard library's distributions.
  std::mt19937 rng(seed);
  auto uniform = [&] { return (static_cast<double>(rng()) + 0.5) / 4294967296.0; };
  auto normal = [&] {
    double u = uniform(), v = uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * v);
  };
  Weights weights;
  weights.convs = shapes_of(spec);
  for (ConvWeights& cw : weights.convs) {
    const double scale = std::sqrt(2.0 / (cw.in * cw.k * cw.k));
    cw.w.resize(static_cast<size_t>(cw.out) * cw.in * cw.k * cw.k);
    for (float& v : cw.w) v = static_cast<float>(normal() * scale);
    cw.b.resize(cw.out);
    for (float& v : cw.b) v = static_cast<float>(normal() * 0.05);
  }
  return weights;
}

}  // namespace overfeat
