// SPDX-License-Identifier: MIT
// Box geometry, the paper's greedy merge (against a naive reference) and non-maximum
// suppression.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <tuple>
#include <vector>

#include "overfeat/dense.hpp"
#include "overfeat/detection.hpp"
#include "overfeat/error.hpp"
#include "overfeat/pipeline.hpp"

using overfeat::Box;
using overfeat::Detection;
using overfeat::MergeOptions;

namespace {

Detection det(float x1, float y1, float x2, float y2, float score = 1, int cls = 0,
              int scale = -1) {
  Detection d;
  d.cls = cls;
  d.score = score;
  d.box = {x1, y1, x2, y2};
  d.scale = scale;
  return d;
}

MergeOptions with_threshold(float t, int max_output = 0) {
  MergeOptions o;
  o.threshold = t;
  o.max_output = max_output;
  return o;
}

void expect_box(const Box& b, float x1, float y1, float x2, float y2) {
  EXPECT_FLOAT_EQ(b.x1, x1);
  EXPECT_FLOAT_EQ(b.y1, y1);
  EXPECT_FLOAT_EQ(b.x2, x2);
  EXPECT_FLOAT_EQ(b.y2, y2);
}

bool canonical_less(const Detection& a, const Detection& b) {
  return std::tie(a.cls, a.score, a.box.x1, a.box.y1, a.box.x2, a.box.y2, a.votes, a.scale) <
         std::tie(b.cls, b.score, b.box.x1, b.box.y1, b.box.x2, b.box.y2, b.votes, b.scale);
}

void expect_ranked(const std::vector<Detection>& out) {
  for (size_t i = 1; i < out.size(); ++i) EXPECT_GE(out[i - 1].score, out[i].score) << i;
}

// The definition, literally: scan every pair of alive boxes for the best match (ties to the
// lexicographically smallest pair of creation indices), merge, repeat. O(n^3).
std::vector<Detection> naive_merge(std::vector<Detection> nodes, float threshold) {
  std::vector<bool> alive(nodes.size(), true);
  for (;;) {
    float best = std::numeric_limits<float>::infinity();
    size_t ba = 0, bb = 0;
    bool found = false;
    for (size_t a = 0; a < nodes.size(); ++a) {
      for (size_t b = a + 1; b < nodes.size(); ++b) {
        if (!alive[a] || !alive[b] || nodes[a].cls != nodes[b].cls) continue;
        const float s = overfeat::match_score(nodes[a].box, nodes[b].box);
        if (s <= threshold && (!found || s < best)) best = s, ba = a, bb = b, found = true;
      }
    }
    if (!found) break;
    nodes.push_back(overfeat::merge_detections(nodes[ba], nodes[bb]));
    alive[ba] = alive[bb] = false;
    alive.push_back(true);
  }
  std::vector<Detection> out;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (alive[i]) out.push_back(nodes[i]);
  }
  return out;
}

// Boxes on a coarse integer grid so that exact ties and zero-area boxes occur.
std::vector<Detection> random_small_set(std::mt19937& rng, int n, int classes) {
  std::uniform_int_distribution<int> pos(0, 30), size(0, 12), cls(0, classes - 1), score(1, 4);
  std::vector<Detection> out;
  for (int i = 0; i < n; ++i) {
    const float x = float(pos(rng)), y = float(pos(rng));
    out.push_back(det(x, y, x + float(size(rng)), y + float(size(rng)), 0.5f * float(score(rng)),
                      cls(rng), int(rng() % 3)));
  }
  return out;
}

// Equal squares on a coarse lattice with equal scores: many exactly tied pairs whose order
// decides the result.
// Points, segments and small boxes on a coarse grid: zero areas, empty unions and identical
// boxes, where the match score has its special cases.
std::vector<Detection> random_degenerate_set(std::mt19937& rng, int n, int classes) {
  std::uniform_int_distribution<int> pos(0, 3), side(0, 3), cls(0, classes - 1);
  std::vector<Detection> out;
  for (int i = 0; i < n; ++i) {
    const float x = float(pos(rng)), y = float(pos(rng));
    const float w = float(side(rng) / 2 * 2), h = float(side(rng) / 2 * 2);  // 0, 0, 2, 2
    out.push_back(det(x, y, x + w, y + h, 0.5f + float(i % 3), cls(rng)));
  }
  return out;
}

std::vector<Detection> random_tied_set(std::mt19937& rng, int n, int classes) {
  std::uniform_int_distribution<int> pos(0, 8), cls(0, classes - 1);
  std::vector<Detection> out;
  for (int i = 0; i < n; ++i) {
    const float x = 2.0f * float(pos(rng)), y = 2.0f * float(pos(rng) % 3);
    out.push_back(det(x, y, x + 10, y + 10, 1, cls(rng)));
  }
  return out;
}

std::vector<Detection> random_large_set(std::mt19937& rng, int n, int classes) {
  std::uniform_real_distribution<float> pos(0, 480), size(8, 160), score(0, 1);
  std::vector<Detection> out;
  out.reserve(size_t(n));
  for (int i = 0; i < n; ++i) {
    const float x = pos(rng), y = pos(rng);
    out.push_back(det(x, y, x + size(rng), y + size(rng), score(rng), int(rng() % classes)));
  }
  return out;
}

// ----------------------------------------------------------------------------------------------
// Geometry

TEST(BoxGeometry, SizesAndCentres) {
  const Box b{2, 4, 12, 9};
  EXPECT_FLOAT_EQ(b.width(), 10);
  EXPECT_FLOAT_EQ(b.height(), 5);
  EXPECT_FLOAT_EQ(b.area(), 50);
  EXPECT_FLOAT_EQ(b.cx(), 7);
  EXPECT_FLOAT_EQ(b.cy(), 6.5f);
}

TEST(BoxGeometry, IntersectionHandCases) {
  const Box a{0, 0, 10, 10};
  EXPECT_FLOAT_EQ(overfeat::intersection_area(a, {5, 0, 15, 10}), 50);
  EXPECT_FLOAT_EQ(overfeat::intersection_area(a, {5, 5, 15, 15}), 25);
  EXPECT_FLOAT_EQ(overfeat::intersection_area(a, {2, 2, 4, 4}), 4);      // contained
  EXPECT_FLOAT_EQ(overfeat::intersection_area(a, {10, 0, 20, 10}), 0);   // touching edge
  EXPECT_FLOAT_EQ(overfeat::intersection_area(a, {20, 20, 30, 30}), 0);  // disjoint
}

TEST(BoxGeometry, IouHandCases) {
  const Box a{0, 0, 10, 10};
  EXPECT_FLOAT_EQ(overfeat::iou(a, a), 1);
  EXPECT_FLOAT_EQ(overfeat::iou(a, {5, 0, 15, 10}), 50.0f / 150.0f);
  EXPECT_FLOAT_EQ(overfeat::iou(a, {0, 0, 5, 5}), 0.25f);
  EXPECT_FLOAT_EQ(overfeat::iou(a, {5, 5, 15, 15}), 25.0f / 175.0f);
  EXPECT_FLOAT_EQ(overfeat::iou(a, {10, 0, 20, 10}), 0);
  EXPECT_FLOAT_EQ(overfeat::iou(a, {20, 20, 30, 30}), 0);
}

TEST(BoxGeometry, DegenerateBoxesGiveNoNaN) {
  const Box point{3, 3, 3, 3}, line{3, 0, 3, 6}, other{4, 4, 4, 4};
  EXPECT_FLOAT_EQ(overfeat::iou(point, point), 1);
  EXPECT_FLOAT_EQ(overfeat::iou(point, other), 0);
  EXPECT_FLOAT_EQ(overfeat::iou(point, line), 0);
  EXPECT_FLOAT_EQ(overfeat::match_score(point, point), 0);
  EXPECT_TRUE(std::isinf(overfeat::match_score(point, other)));
  EXPECT_FLOAT_EQ(overfeat::match_score(point, line), 1);  // same centre, no overlap
  EXPECT_FALSE(std::isnan(overfeat::match_score(point, {0, 0, 10, 10})));
  const auto out =
      overfeat::greedy_merge({det(3, 3, 3, 3), det(3, 3, 3, 3), det(4, 4, 4, 4)}, MergeOptions{});
  ASSERT_EQ(out.size(), 2u);
  for (const Detection& d : out) EXPECT_FALSE(std::isnan(d.box.x1 + d.box.y2 + d.score));
  EXPECT_EQ(out[0].votes, 2);
}

// ----------------------------------------------------------------------------------------------
// Match score

TEST(MatchScore, IdenticalIsZero) {
  EXPECT_FLOAT_EQ(overfeat::match_score({1, 2, 30, 40}, {1, 2, 30, 40}), 0);
}

TEST(MatchScore, DisjointIsAtLeastOne) {
  EXPECT_GE(overfeat::match_score({0, 0, 10, 10}, {10, 0, 20, 10}), 1);  // touching
  EXPECT_GE(overfeat::match_score({0, 0, 10, 10}, {50, 50, 60, 60}), 1);
  EXPECT_GE(overfeat::match_score({0, 0, 100, 100}, {101, 0, 102, 1}), 1);
}

TEST(MatchScore, HandValue) {
  // Shift of 2 on 10x10 boxes: centre distance 2 / sqrt(100) = 0.2; IoU 80 / 120 = 2/3.
  EXPECT_NEAR(overfeat::match_score({0, 0, 10, 10}, {2, 0, 12, 10}), 0.2 + 1.0 / 3.0, 1e-6);
  // Concentric 10x10 and 20x20: distance 0; IoU 100 / 400.
  EXPECT_NEAR(overfeat::match_score({5, 5, 15, 15}, {0, 0, 20, 20}), 0.75, 1e-6);
}

TEST(MatchScore, Symmetric) {
  std::mt19937 rng(7);
  for (int i = 0; i < 1000; ++i) {
    const auto s = random_small_set(rng, 2, 1);
    EXPECT_EQ(overfeat::match_score(s[0].box, s[1].box), overfeat::match_score(s[1].box, s[0].box));
  }
}

// ----------------------------------------------------------------------------------------------
// Greedy merge

TEST(GreedyMerge, TwoOverlappingMergeIntoTheirAverage) {
  const auto out = overfeat::greedy_merge({det(0, 0, 10, 10, 1), det(2, 0, 12, 10, 1)}, {});
  ASSERT_EQ(out.size(), 1u);
  expect_box(out[0].box, 1, 0, 11, 10);
  EXPECT_FLOAT_EQ(out[0].score, 2);
  EXPECT_EQ(out[0].votes, 2);
}

TEST(GreedyMerge, TwoDistantBoxesStayApart) {
  const auto out = overfeat::greedy_merge({det(0, 0, 10, 10, 1), det(30, 0, 40, 10, 2)}, {});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_FLOAT_EQ(out[0].score, 2);  // ranked
  EXPECT_EQ(out[0].votes, 1);
  expect_box(out[1].box, 0, 0, 10, 10);
}

TEST(GreedyMerge, DifferentClassesNeverMerge) {
  const auto out = overfeat::greedy_merge(
      {det(0, 0, 10, 10, 1, 0), det(0, 0, 10, 10, 1, 1), det(0, 0, 10, 10, 1, 2)},
      with_threshold(100));
  ASSERT_EQ(out.size(), 3u);
  for (const Detection& d : out) EXPECT_EQ(d.votes, 1);
}

TEST(GreedyMerge, ScoreWeightedAverageByHand) {
  // Scores 3 and 1: x1 = (3*0 + 1*2) / 4 = 0.5, x2 = (3*10 + 1*12) / 4 = 10.5.
  const auto out = overfeat::greedy_merge({det(0, 0, 10, 10, 3), det(2, 0, 12, 10, 1)}, {});
  ASSERT_EQ(out.size(), 1u);
  expect_box(out[0].box, 0.5f, 0, 10.5f, 10);
  EXPECT_FLOAT_EQ(out[0].score, 4);
  // The same by merge_detections, in either order.
  const Detection m = overfeat::merge_detections(det(2, 0, 12, 10, 1), det(0, 0, 10, 10, 3));
  expect_box(m.box, 0.5f, 0, 10.5f, 10);
  // Zero scores fall back to the plain average.
  expect_box(overfeat::merge_detections(det(0, 0, 10, 10, 0), det(2, 2, 12, 12, 0)).box, 1, 1, 11,
             11);
}

TEST(GreedyMerge, ScaleKeptOnlyWhenShared) {
  EXPECT_EQ(overfeat::merge_detections(det(0, 0, 1, 1, 1, 0, 2), det(0, 0, 1, 1, 1, 0, 2)).scale,
            2);
  EXPECT_EQ(overfeat::merge_detections(det(0, 0, 1, 1, 1, 0, 2), det(0, 0, 1, 1, 1, 0, 3)).scale,
            -1);
}

TEST(GreedyMerge, ChainMergesAllThroughTheMiddle) {
  // A-B and B-C score 0.2 + 1/3 (tie: A-B goes first, earliest indices); A-C scores
  // 0.4 + 4/7 > 0.8. After A+B -> [1, 11] (score 2), its score against C (shift 3) is
  // 0.3 + 6/13 ~ 0.76 <= 0.8, so all three merge: x1 = (2*1 + 1*4) / 3 = 2, x2 = 12.
  const auto out = overfeat::greedy_merge({det(0, 0, 10, 10), det(2, 0, 12, 10), det(4, 0, 14, 10)},
                                          with_threshold(0.8f));
  ASSERT_EQ(out.size(), 1u);
  expect_box(out[0].box, 2, 0, 12, 10);
  EXPECT_FLOAT_EQ(out[0].score, 3);
  EXPECT_EQ(out[0].votes, 3);
}

TEST(GreedyMerge, ChainStopsAtThreshold) {
  // Same boxes, threshold 0.6: A+B merge (0.53), then 0.76 > 0.6 keeps C apart.
  const auto out = overfeat::greedy_merge({det(0, 0, 10, 10), det(2, 0, 12, 10), det(4, 0, 14, 10)},
                                          with_threshold(0.6f));
  ASSERT_EQ(out.size(), 2u);
  expect_box(out[0].box, 1, 0, 11, 10);
  EXPECT_EQ(out[0].votes, 2);
  expect_box(out[1].box, 4, 0, 14, 10);
}

TEST(GreedyMerge, ChainMergesTheBestPairFirst) {
  // B-C (shift 1) score 0.1 + 2/11 beats A-B (0.2 + 1/3): B+C -> [2.5, 12.5]; A against it
  // (shift 2.5) scores 0.25 + 0.4 = 0.65 > 0.6, so A stays. Merging A-B first would give
  // [1, 11] and a lone C instead.
  const auto out = overfeat::greedy_merge({det(0, 0, 10, 10), det(2, 0, 12, 10), det(3, 0, 13, 10)},
                                          with_threshold(0.6f));
  ASSERT_EQ(out.size(), 2u);
  expect_box(out[0].box, 2.5f, 0, 12.5f, 10);
  EXPECT_EQ(out[0].votes, 2);
  expect_box(out[1].box, 0, 0, 10, 10);
}

TEST(GreedyMerge, TiesGoToTheEarliestPair) {
  // A-B and B-C tie at 0.2 + 1/3 <= 0.6; the merged pair then scores 0.76 > 0.6 against the
  // third box, so which pair goes first decides the result: the one of the earliest inputs.
  const Detection a = det(0, 0, 10, 10), b = det(2, 0, 12, 10), c = det(4, 0, 14, 10);
  auto out = overfeat::greedy_merge({a, b, c}, with_threshold(0.6f));
  ASSERT_EQ(out.size(), 2u);
  expect_box(out[0].box, 1, 0, 11, 10);
  out = overfeat::greedy_merge({c, b, a}, with_threshold(0.6f));
  ASSERT_EQ(out.size(), 2u);
  expect_box(out[0].box, 3, 0, 13, 10);
  out = overfeat::greedy_merge({b, c, a}, with_threshold(0.6f));
  ASSERT_EQ(out.size(), 2u);
  expect_box(out[0].box, 3, 0, 13, 10);
}

TEST(GreedyMerge, MaxOutputKeepsTheBest) {
  std::vector<Detection> in;
  for (int i = 0; i < 5; ++i) in.push_back(det(30.0f * i, 0, 30.0f * i + 10, 10, float(i + 1)));
  const auto out = overfeat::greedy_merge(in, with_threshold(0.8f, 2));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_FLOAT_EQ(out[0].score, 5);
  EXPECT_FLOAT_EQ(out[1].score, 4);
}

TEST(GreedyMerge, RejectsNonFiniteAndInvertedBoxes) {
  EXPECT_THROW(overfeat::greedy_merge({det(0, 0, 1, 1, std::nanf(""))}, {}), overfeat::Error);
  EXPECT_THROW(overfeat::greedy_merge({det(5, 0, 1, 1)}, {}), overfeat::Error);
  EXPECT_TRUE(overfeat::greedy_merge({}, {}).empty());
}

TEST(GreedyMerge, EqualsNaiveReferenceOnRandomSets) {
  std::mt19937 rng(2013);
  const float thresholds[] = {0.0f, 0.3f, 0.8f, 0.99f, 1.0f, 1.5f, 3.0f};
  int merged_sets = 0;
  for (int round = 0; round < 90; ++round) {
    for (const float t : thresholds) {
      const int n = 1 + int(rng() % 40);
      const auto in = round % 3 == 0   ? random_small_set(rng, n, 1 + int(rng() % 3))
                      : round % 3 == 1 ? random_tied_set(rng, n, 1 + int(rng() % 2))
                                       : random_degenerate_set(rng, n, 1 + int(rng() % 2));
      auto fast = overfeat::greedy_merge(in, with_threshold(t));
      auto naive = naive_merge(in, t);
      expect_ranked(fast);
      std::sort(fast.begin(), fast.end(), canonical_less);
      std::sort(naive.begin(), naive.end(), canonical_less);
      ASSERT_EQ(fast.size(), naive.size()) << "round " << round << " threshold " << t;
      for (size_t i = 0; i < fast.size(); ++i) {
        ASSERT_FALSE(canonical_less(fast[i], naive[i]) || canonical_less(naive[i], fast[i]))
            << "round " << round << " threshold " << t << " box " << i;
      }
      merged_sets += fast.size() < in.size() ? 1 : 0;
    }
  }
  EXPECT_GT(merged_sets, 100);  // the sets do exercise merging
}

TEST(GreedyMerge, LargeRandomSetKeepsScoreAndVotes) {
  std::mt19937 rng(20000);
  const auto in = random_large_set(rng, 20000, 20);
  double score_in = 0;
  for (const Detection& d : in) score_in += d.score;
  const auto out = overfeat::greedy_merge(in, MergeOptions{});
  ASSERT_FALSE(out.empty());
  EXPECT_LT(out.size(), in.size());
  double score_out = 0;
  long votes = 0;
  for (const Detection& d : out) {
    score_out += d.score;
    votes += d.votes;
    ASSERT_TRUE(std::isfinite(d.box.x1) && std::isfinite(d.box.y2)) << d.box.x1;
    ASSERT_LE(d.box.x1, d.box.x2);
    ASSERT_LE(d.box.y1, d.box.y2);
    ASSERT_GE(d.box.x1, 0);
    ASSERT_LE(d.box.x2, 640);
    ASSERT_TRUE(d.cls >= 0 && d.cls < 20);
  }
  EXPECT_NEAR(score_out, score_in, 1e-4 * score_in);
  EXPECT_EQ(votes, long(in.size()));
  expect_ranked(out);
}

TEST(GreedyMerge, HighThresholdUsesTheDistanceSweep) {
  std::mt19937 rng(5);
  const auto in = random_large_set(rng, 2000, 4);
  const auto out = overfeat::greedy_merge(in, with_threshold(1.5f));
  long votes = 0;
  for (const Detection& d : out) votes += d.votes;
  EXPECT_EQ(votes, 2000);
  EXPECT_LT(out.size(), overfeat::greedy_merge(in, with_threshold(0.8f)).size());
}

// ----------------------------------------------------------------------------------------------
// Non-maximum suppression

TEST(NonMaxSuppression, SuppressesOverlapsOfTheSameClass) {
  const auto out = overfeat::non_max_suppression({
      det(1, 0, 11, 10, 0.8f),     // IoU 90/110 with the best: suppressed
      det(0, 0, 10, 10, 0.9f),     // best
      det(20, 0, 30, 10, 0.7f),    // disjoint: kept
      det(1, 0, 11, 10, 0.6f, 1),  // other class: kept
      det(5, 0, 15, 10, 0.5f),     // IoU 1/3 with the best: kept
  });
  ASSERT_EQ(out.size(), 4u);
  EXPECT_FLOAT_EQ(out[0].score, 0.9f);
  EXPECT_FLOAT_EQ(out[1].score, 0.7f);
  EXPECT_FLOAT_EQ(out[2].score, 0.6f);
  EXPECT_EQ(out[2].cls, 1);
  EXPECT_FLOAT_EQ(out[3].score, 0.5f);
}

TEST(NonMaxSuppression, ThresholdIsStrict) {
  // IoU exactly 0.5: kept at threshold 0.5, suppressed at 0.4.
  const std::vector<Detection> in{det(0, 0, 2, 1, 0.9f), det(0, 0, 1, 1, 0.8f)};
  EXPECT_EQ(overfeat::non_max_suppression(in, 0.5f).size(), 2u);
  EXPECT_EQ(overfeat::non_max_suppression(in, 0.4f).size(), 1u);
}

TEST(NonMaxSuppression, MaxOutput) {
  std::vector<Detection> in;
  for (int i = 0; i < 5; ++i) in.push_back(det(30.0f * i, 0, 30.0f * i + 10, 10, float(i + 1)));
  const auto out = overfeat::non_max_suppression(in, 0.5f, 3);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_FLOAT_EQ(out[0].score, 5);
  EXPECT_FLOAT_EQ(out[2].score, 3);
}

// ---------------------------------------------------------------------------------------------
// One label per object

Detection labelled(float x1, float y1, float x2, float y2, float confidence, int cls,
                   float score = 1) {
  Detection d = det(x1, y1, x2, y2, score, cls);
  d.confidence = confidence;
  return d;
}

TEST(SuppressOtherClasses, KeepsTheMostConfidentLabelOfAnObject) {
  // Input ranked by score, as the merge gives them; the most confident label is not the first.
  const auto out = overfeat::suppress_other_classes(
      {
          labelled(1, 0, 11, 10, 0.30f, 1, 5.0f),   // IoU 90/110 with class 0's: dropped
          labelled(0, 0, 10, 10, 0.35f, 0, 4.0f),   // the most confident label of the object
          labelled(0, 0, 10, 10, 0.20f, 0, 3.0f),   // same class: never suppressed here
          labelled(20, 0, 30, 10, 0.10f, 2, 2.0f),  // another object: kept
          labelled(5, 0, 15, 10, 0.25f, 3, 1.0f),   // IoU 1/3 with class 0's: kept
      },
      0.6f);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].cls, 0);  // the survivors keep their input order
  EXPECT_FLOAT_EQ(out[0].score, 4.0f);
  EXPECT_EQ(out[1].cls, 0);
  EXPECT_FLOAT_EQ(out[1].score, 3.0f);
  EXPECT_EQ(out[2].cls, 2);
  EXPECT_EQ(out[3].cls, 3);
}

TEST(SuppressOtherClasses, OnlyKeptBoxesSuppress) {
  // b is dropped by a; c overlaps b (another class) but not a, so it stays.
  const auto out = overfeat::suppress_other_classes(
      {labelled(0, 0, 10, 10, 0.9f, 0), labelled(4, 0, 14, 10, 0.8f, 1),
       labelled(8, 0, 18, 10, 0.7f, 2)},
      0.3f);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].cls, 0);
  EXPECT_EQ(out[1].cls, 2);
}

TEST(SuppressOtherClasses, ThresholdIsStrictAndTiesGoToTheEarlier) {
  // IoU exactly 0.5: kept at 0.5, dropped at 0.4; equal confidences: the first one wins.
  const std::vector<Detection> in{labelled(0, 0, 1, 1, 0.5f, 1), labelled(0, 0, 2, 1, 0.5f, 0)};
  EXPECT_EQ(overfeat::suppress_other_classes(in, 0.5f).size(), 2u);
  const auto out = overfeat::suppress_other_classes(in, 0.4f);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].cls, 1);
}

TEST(SuppressOtherClasses, RejectsNonFiniteConfidence) {
  EXPECT_THROW(overfeat::suppress_other_classes(
                   {labelled(0, 0, 1, 1, std::numeric_limits<float>::quiet_NaN(), 0)}, 0.5f),
               overfeat::Error);
  EXPECT_THROW(overfeat::suppress_other_classes({labelled(0, 0, -1, 1, 0.5f, 0)}, 0.5f),
               overfeat::Error);
}

// Through the pipeline: a map where two classes both fire on one object (cells (2, 4) and
// (2, 5), class 0 a little stronger) and class 2 alone on another (cell (5, 1)).
TEST(SuppressOtherClasses, DetectKeepsOneLabelPerObjectAndThenTheBest) {
  overfeat::ScaleMap m;
  m.input = {100, 100};
  m.image_h = m.image_w = 100;
  m.geometry.h = m.geometry.w = 7;
  m.geometry.stride = 10;
  m.geometry.window = 40;
  m.probs = overfeat::Tensor(3, 7, 7, 0.0f);
  for (int x : {4, 5}) {
    m.probs.at(0, 2, x) = 0.5f;
    m.probs.at(1, 2, x) = 0.4f;
  }
  m.probs.at(2, 5, 1) = 0.3f;
  const overfeat::DenseResult maps{{m}, {}};
  overfeat::DetectOptions o;
  const auto plain = overfeat::detect_in_maps(maps, {}, o).merged;
  ASSERT_EQ(plain.size(), 3u);  // one box per class: both labels on the first object
  o.other_class_iou = 0.6f;
  const auto one = overfeat::detect_in_maps(maps, {}, o).merged;
  ASSERT_EQ(one.size(), 2u);
  EXPECT_EQ(one[0].cls, 0);
  EXPECT_EQ(one[1].cls, 2);
  // The limit applies to what is left: the best two before would be classes 0 and 1, one box.
  o.max_detections = 2;
  const auto best = overfeat::detect_in_maps(maps, {}, o).merged;
  ASSERT_EQ(best.size(), 2u);
  EXPECT_EQ(best[1].cls, 2);
}

// ---------------------------------------------------------------------------------------------
// Confidence: the peak window through merges, and the calibration fit

TEST(DetectionConfidence, MergeKeepsTheBestWindow) {
  Detection a = det(0, 0, 10, 10, 0.3f), b = det(1, 1, 11, 11, 0.6f);
  a.peak = 0.3f;
  b.peak = 0.6f;
  const Detection m = overfeat::merge_detections(a, b);
  EXPECT_FLOAT_EQ(m.peak, 0.6f);
  EXPECT_FLOAT_EQ(m.score, 0.9f);
  std::vector<Detection> merged = overfeat::greedy_merge({a, b, det(2, 0, 12, 10, 0.2f)}, {});
  ASSERT_EQ(merged.size(), 1u);
  EXPECT_FLOAT_EQ(merged[0].peak, 0.6f);
  // Without a calibration the confidence shown is the peak; with one, the logistic of it.
  overfeat::set_confidences(merged, nullptr, 6);
  EXPECT_FLOAT_EQ(merged[0].confidence, 0.6f);
  overfeat::DetectionCalibration c;
  c.bias = 0.5f;
  overfeat::set_confidences(merged, &c, 6);
  EXPECT_NEAR(merged[0].confidence, 1 / (1 + std::exp(-0.5)), 1e-6);
}

TEST(DetectionConfidence, FitRecoversAKnownLogistic) {
  // Outcomes drawn from a known calibration: the fit finds its weights again, and its
  // confidences are calibrated (the mean confidence of a bin matches its share right).
  overfeat::DetectionCalibration truth;
  truth.bias = -1.0f;
  truth.w_peak = 0.8f;
  truth.w_mass = 0.6f;
  const int maps = 6;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> peak(0.02f, 0.98f), mass(0.01f, 8.0f), u(0, 1);
  std::vector<Detection> ds;
  std::vector<bool> right;
  for (int i = 0; i < 20000; ++i) {
    Detection d = det(0, 0, 1, 1, mass(rng) * maps);
    d.peak = peak(rng);
    ds.push_back(d);
    right.push_back(u(rng) < truth.confidence(d, maps));
  }
  const auto fitted = overfeat::fit_detection_calibration(ds, right, maps);
  EXPECT_EQ(fitted.maps, maps);
  EXPECT_NEAR(fitted.bias, truth.bias, 0.1);
  EXPECT_NEAR(fitted.w_peak, truth.w_peak, 0.05);
  EXPECT_NEAR(fitted.w_mass, truth.w_mass, 0.05);
  // The features are per map: the same evidence spread over 2 maps gives the same confidence.
  Detection six = det(0, 0, 1, 1, 3.0f), two = det(0, 0, 1, 1, 1.0f);
  six.peak = two.peak = 0.5f;
  EXPECT_FLOAT_EQ(fitted.confidence(six, 6), fitted.confidence(two, 2));
}

TEST(DetectionConfidence, FitNeedsBothOutcomes) {
  std::vector<Detection> ds(10, det(0, 0, 1, 1, 1));
  EXPECT_THROW(overfeat::fit_detection_calibration(ds, std::vector<bool>(10, true), 1),
               overfeat::Error);
  EXPECT_THROW(overfeat::fit_detection_calibration(ds, std::vector<bool>(9, true), 1),
               overfeat::Error);
}

}  // namespace
