// SPDX-License-Identifier: MIT
// The linear classifier of taught classes: it reaches the optimum of its objective (checked by
// the gradient in the weights' own space, computed here independently of the fit's N x N form),
// separates what class means cannot, weighs classes equally, and refuses bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "overfeat/error.hpp"
#include "overfeat/linear_classifier.hpp"

namespace overfeat {
namespace {

std::vector<float> unit(std::vector<float> v) {
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * x;
  const float inv = static_cast<float>(1 / std::sqrt(std::max(s, 1e-30)));
  for (float& x : v) x *= inv;
  return v;
}

// Random unit vectors around `classes` random centres in `dims` dimensions.
void clusters(int classes, int per_class, int dims, float spread, uint32_t seed,
              std::vector<std::vector<float>>& x, std::vector<int>& y) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0, 1);
  std::vector<std::vector<float>> centre(classes, std::vector<float>(dims));
  for (auto& c : centre)
    for (float& v : c) v = g(rng);
  for (int k = 0; k < classes; ++k)
    for (int i = 0; i < per_class; ++i) {
      std::vector<float> v(dims);
      for (int q = 0; q < dims; ++q) v[q] = centre[k][q] + spread * g(rng);
      x.push_back(unit(v));
      y.push_back(k);
    }
}

TEST(LinearClassifier, ReachesTheOptimumOfItsObjective) {
  std::vector<std::vector<float>> x;
  std::vector<int> y;
  clusters(4, 6, 64, 1.5f, 1, x, y);
  // Unbalanced on purpose: the class weights then matter to the gradient.
  x.resize(x.size() - 3);
  y.resize(y.size() - 3);
  LinearClassifierOptions o;
  o.l2 = 1e-2;
  o.tolerance = 1e-7;
  const LinearClassifier f = LinearClassifier::fit(x, y, 4, o);
  ASSERT_EQ(f.classes(), 4);
  ASSERT_EQ(f.dims(), 64);
  EXPECT_LT(f.gradient_norm(), 1e-7);
  EXPECT_LT(f.iterations(), o.max_iterations);
  // The gradient of sum_i s_i CE(W x_i + b, y_i) + l2/2 |W|^2, in W and b directly.
  std::vector<int> count(4, 0);
  for (int v : y) ++count[v];
  std::vector<double> gw(4 * 64, 0.0), gb(4, 0.0);
  for (size_t i = 0; i < x.size(); ++i) {
    const std::vector<float> p = f.probabilities(x[i].data());
    const double s = 1.0 / (4.0 * count[y[i]]);
    for (int k = 0; k < 4; ++k) {
      const double r = s * (p[k] - (y[i] == k));
      gb[k] += r;
      for (int q = 0; q < 64; ++q) gw[k * 64 + q] += r * x[i][q];
    }
  }
  double sq = 0;
  for (int k = 0; k < 4; ++k) {
    for (int q = 0; q < 64; ++q) {
      const double g = gw[k * 64 + q] + o.l2 * f.weights(k)[q];
      sq += g * g;
    }
    sq += gb[k] * gb[k];
  }
  EXPECT_LT(std::sqrt(sq), 1e-5);
}

TEST(LinearClassifier, SeparatesWhatTheClassMeansCannot) {
  // Two classes along one line, offset across it: class 0 at t in [0, 4], class 1 at t in
  // [2, 6], (t, t / 2 +- 0.3) / 6. The nearest class mean (the one-shot prototypes' rule) cuts
  // across the line and gets the overlap wrong; a linear classifier finds the offset.
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(0, 4);
  std::vector<std::vector<float>> x, test_x;
  std::vector<int> y, test_y;
  for (int i = 0; i < 400; ++i) {
    const int k = i % 2;
    const float t = u(rng) + 2 * k;
    const std::vector<float> v{t / 6, (0.5f * t + (k ? -0.3f : 0.3f)) / 6};
    (i < 200 ? x : test_x).push_back(v);
    (i < 200 ? y : test_y).push_back(k);
  }
  LinearClassifierOptions o;
  o.l2 = 1e-4;
  o.max_iterations = 20000;
  const LinearClassifier f = LinearClassifier::fit(x, y, 2, o);
  double mean[2][2] = {{0, 0}, {0, 0}};
  for (size_t i = 0; i < x.size(); ++i)
    for (int q = 0; q < 2; ++q) mean[y[i]][q] += x[i][q] / 100.0;
  int linear = 0, nearest = 0;
  for (size_t i = 0; i < test_x.size(); ++i) {
    const std::vector<float> p = f.probabilities(test_x[i].data());
    linear += (p[1] > p[0]) == (test_y[i] == 1);
    double d[2];
    for (int k = 0; k < 2; ++k)
      d[k] = std::hypot(test_x[i][0] - mean[k][0], test_x[i][1] - mean[k][1]);
    nearest += (d[1] < d[0]) == (test_y[i] == 1);
  }
  EXPECT_GE(linear, 196) << "of 200";
  EXPECT_LE(nearest, 180) << "of 200";
}

TEST(LinearClassifier, WeighsEveryClassTheSameWhateverItsExamples) {
  // Class 0 shown 30 times, class 1 three times, at mirror images of each other: a point
  // halfway is even odds (an unweighted fit would lean to the class shown more).
  std::vector<std::vector<float>> x;
  std::vector<int> y;
  for (int i = 0; i < 30; ++i) x.push_back(unit({1, 1, 0})), y.push_back(0);
  for (int i = 0; i < 3; ++i) x.push_back(unit({1, -1, 0})), y.push_back(1);
  const LinearClassifier f = LinearClassifier::fit(x, y, 2);
  const std::vector<float> half = unit({1, 0, 0});
  const std::vector<float> p = f.probabilities(half.data());
  EXPECT_NEAR(p[0], 0.5f, 1e-3f);
  const std::vector<float> one = unit({1, -1, 0});
  EXPECT_GT(f.probabilities(one.data())[1], 0.8f);
}

TEST(LinearClassifier, DoesNotDependOnTheExamplesOrder) {
  std::vector<std::vector<float>> x;
  std::vector<int> y;
  clusters(3, 5, 32, 1.0f, 3, x, y);
  const LinearClassifier a = LinearClassifier::fit(x, y, 3);
  std::vector<size_t> order(x.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(5));
  std::vector<std::vector<float>> xs;
  std::vector<int> ys;
  for (size_t i : order) xs.push_back(x[i]), ys.push_back(y[i]);
  const LinearClassifier b = LinearClassifier::fit(xs, ys, 3);
  for (int k = 0; k < 3; ++k) {
    EXPECT_NEAR(a.bias()[k], b.bias()[k], 1e-4f);
    for (int q = 0; q < 32; ++q) EXPECT_NEAR(a.weights(k)[q], b.weights(k)[q], 1e-4f);
  }
}

TEST(LinearClassifier, RefusesWhatItCannotFit) {
  const std::vector<std::vector<float>> x{{1, 0}, {0, 1}};
  EXPECT_THROW(LinearClassifier::fit(x, {0, 1}, 3), Error);  // class 2 has no example
  EXPECT_THROW(LinearClassifier::fit(x, {0, 2}, 2), Error);  // label out of range
  EXPECT_THROW(LinearClassifier::fit(x, {0}, 2), Error);     // one label for two examples
  EXPECT_THROW(LinearClassifier::fit({{1, 0}, {1}}, {0, 1}, 2), Error);  // lengths differ
  EXPECT_THROW(LinearClassifier::fit({}, {}, 2), Error);
  LinearClassifierOptions o;
  o.l2 = 0;
  EXPECT_THROW(LinearClassifier::fit(x, {0, 1}, 2, o), Error);
  EXPECT_TRUE(LinearClassifier().empty());
}

}  // namespace
}  // namespace overfeat
