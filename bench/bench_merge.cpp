// SPDX-License-Identifier: MIT
// Timing of the detection post-processing: greedy_merge and non_max_suppression on 2k and 20k
// boxes shaped like dense detector output (clusters of jittered boxes around a few objects per
// class, plus scattered false positives), 20 classes.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "overfeat/detection.hpp"

namespace {

std::vector<overfeat::Detection> detector_like_boxes(int n, int classes) {
  std::mt19937 rng(1234);
  std::uniform_real_distribution<float> unit(0, 1);
  std::normal_distribution<float> jitter(0, 6);
  std::vector<overfeat::Detection> out;
  out.reserve(size_t(n));
  for (int i = 0; i < n; ++i) {
    overfeat::Detection d;
    d.cls = i % classes;
    const bool clustered = unit(rng) < 0.7f;
    // Three objects per class at fixed places; the rest anywhere.
    const int object = (i / classes) % 3;
    const float cx = clustered ? 80.0f + 150.0f * object + jitter(rng) : 480 * unit(rng);
    const float cy = clustered ? 100.0f + 40.0f * (d.cls % 5) + jitter(rng) : 360 * unit(rng);
    const float half = clustered ? 40 + jitter(rng) : 10 + 60 * unit(rng);
    d.box = {cx - half, cy - half, cx + half, cy + half};
    d.score = clustered ? 0.5f + 0.5f * unit(rng) : 0.3f * unit(rng);
    d.scale = i % 6;
    out.push_back(d);
  }
  return out;
}

void BM_GreedyMerge(benchmark::State& state) {
  const auto boxes = detector_like_boxes(int(state.range(0)), 20);
  size_t kept = 0;
  for (auto _ : state) {
    const auto out = overfeat::greedy_merge(boxes, overfeat::MergeOptions{});
    kept = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["kept"] = double(kept);
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void BM_NonMaxSuppression(benchmark::State& state) {
  const auto boxes = detector_like_boxes(int(state.range(0)), 20);
  size_t kept = 0;
  for (auto _ : state) {
    const auto out = overfeat::non_max_suppression(boxes, 0.5f);
    kept = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["kept"] = double(kept);
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

BENCHMARK(BM_GreedyMerge)->Arg(2000)->Arg(20000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NonMaxSuppression)->Arg(2000)->Arg(20000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
