// SPDX-License-Identifier: MIT
// A linear classifier on a network's features: multinomial logistic regression (softmax), what
// Teachable Machine trains on its examples and what Razavian et al. (2014, "CNN Features
// off-the-shelf") put on such features. One-shot learning uses it once every taught class has
// several examples (OneShotStore::classifier()).
//
// The fit minimizes the class-balanced cross-entropy plus (l2 / 2) |W|^2 (the bias is not
// penalized): each class weighs the same whatever its number of examples, so a class shown 40
// times does not swallow one shown 3 times. The weights lie in the span of the examples
// (representer theorem), so the fit runs on N x N inner products, not on the features' D
// dimensions: accelerated gradient descent with restarts, cheap for a few hundred examples of
// thousands of values.
#pragma once
#include <cstddef>
#include <vector>

namespace overfeat {

struct LinearClassifierOptions {
  /// Ridge on the weights. On unit-length features the optimum of nearly separable examples
  /// is finite only through it; larger = smoother probabilities, closer to the class means.
  /// 1e-2 was the best of 1e-1..1e-4 on the bundled model's trained Caltech categories at 2, 5
  /// and 10 shots (`overfeat bench oneshot --linear-l2 1e-1,1e-2,1e-3,1e-4`, README).
  double l2 = 1e-2;
  int max_iterations = 2000;
  /// Stops when the gradient's norm falls below this.
  double tolerance = 1e-5;
};

class LinearClassifier {
 public:
  LinearClassifier() = default;
  /// Fits `classes` classes on `examples` (rows of equal length) with `labels` in
  /// [0, classes). Every class needs at least one example. Throws Error otherwise.
  static LinearClassifier fit(const std::vector<std::vector<float>>& examples,
                              const std::vector<int>& labels, int classes,
                              const LinearClassifierOptions& options = {});

  int classes() const { return static_cast<int>(bias_.size()); }
  int dims() const { return dims_; }
  bool empty() const { return bias_.empty(); }
  /// W x + b for one feature vector of dims() values.
  std::vector<float> logits(const float* x) const;
  /// The softmax of the logits: the chance of each class, given it is one of them.
  std::vector<float> probabilities(const float* x) const;
  /// Row `c` of W (dims() values) and the biases, for tests and reports.
  const float* weights(int c) const {
    return weights_.data() + static_cast<std::size_t>(c) * dims_;
  }
  const std::vector<float>& bias() const { return bias_; }
  /// How the fit ended: iterations run and the final gradient norm.
  int iterations() const { return iterations_; }
  double gradient_norm() const { return gradient_norm_; }

 private:
  int dims_ = 0;
  std::vector<float> weights_;  // classes x dims
  std::vector<float> bias_;
  int iterations_ = 0;
  double gradient_norm_ = 0;
};

}  // namespace overfeat
