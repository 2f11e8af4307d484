// SPDX-License-Identifier: MIT
#include "overfeat/linear_classifier.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "overfeat/error.hpp"

namespace overfeat {
namespace {

// Row-major N x C matrices of doubles.
using Mat = std::vector<double>;

// Softmax of row i of z plus b, into p.
void softmax_row(const double* z, const std::vector<double>& b, double* p, int c) {
  double top = -INFINITY;
  for (int k = 0; k < c; ++k) top = std::max(top, z[k] + b[k]);
  double sum = 0;
  for (int k = 0; k < c; ++k) sum += p[k] = std::exp(z[k] + b[k] - top);
  for (int k = 0; k < c; ++k) p[k] /= sum;
}

}  // namespace

LinearClassifier LinearClassifier::fit(const std::vector<std::vector<float>>& examples,
                                       const std::vector<int>& labels, int classes,
                                       const LinearClassifierOptions& options) {
  const int n = static_cast<int>(examples.size());
  if (classes < 1) throw Error("A linear classifier needs at least one class");
  if (static_cast<int>(labels.size()) != n)
    throw Error("A linear classifier's fit got " + std::to_string(n) + " examples and " +
                std::to_string(labels.size()) + " labels");
  if (n == 0) throw Error("A linear classifier needs examples");
  const int d = static_cast<int>(examples[0].size());
  std::vector<int> count(classes, 0);
  for (int i = 0; i < n; ++i) {
    if (static_cast<int>(examples[i].size()) != d)
      throw Error("A linear classifier's examples differ in length");
    if (labels[i] < 0 || labels[i] >= classes)
      throw Error("A linear classifier's label " + std::to_string(labels[i]) + " is outside 0.." +
                  std::to_string(classes - 1));
    ++count[labels[i]];
  }
  for (int k = 0; k < classes; ++k)
    if (count[k] == 0)
      throw Error("A linear classifier's class " + std::to_string(k) + " has no example");
  if (!(options.l2 > 0)) throw Error("A linear classifier needs a positive l2");

  // Gram matrix and the examples' weights (each class sums to 1 / classes).
  Mat gram(static_cast<size_t>(n) * n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j <= i; ++j) {
      double s = 0;
      for (int t = 0; t < d; ++t) s += static_cast<double>(examples[i][t]) * examples[j][t];
      gram[static_cast<size_t>(i) * n + j] = gram[static_cast<size_t>(j) * n + i] = s;
    }
  std::vector<double> weight(n);
  double lipschitz = options.l2;
  for (int i = 0; i < n; ++i) {
    weight[i] = 1.0 / (static_cast<double>(classes) * count[labels[i]]);
    lipschitz += 0.5 * weight[i] * (gram[static_cast<size_t>(i) * n + i] + 1.0);
  }
  const double step = 1.0 / lipschitz;
  const size_t nc = static_cast<size_t>(n) * classes;
  auto times_gram = [&](const Mat& a, Mat& out) {  // out = K a
    std::fill(out.begin(), out.end(), 0.0);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) {
        const double g = gram[static_cast<size_t>(i) * n + j];
        if (g == 0) continue;
        for (int k = 0; k < classes; ++k)
          out[static_cast<size_t>(i) * classes + k] += g * a[static_cast<size_t>(j) * classes + k];
      }
  };

  // x: the iterate (coefficients a, bias b, and K a); y: the extrapolated point.
  Mat a_x(nc, 0.0), ka_x(nc, 0.0), a_y(nc, 0.0), ka_y(nc, 0.0);
  std::vector<double> b_x(classes, 0.0), b_y(classes, 0.0);
  Mat grad(nc), kgrad(nc), p(classes);
  std::vector<double> grad_b(classes);
  double t = 1, norm = INFINITY;
  int it = 0;
  for (; it < options.max_iterations; ++it) {
    // Gradient at y: coefficients S (P - Y) + l2 a, bias sum S (P - Y).
    std::fill(grad_b.begin(), grad_b.end(), 0.0);
    for (int i = 0; i < n; ++i) {
      softmax_row(&ka_y[static_cast<size_t>(i) * classes], b_y, p.data(), classes);
      for (int k = 0; k < classes; ++k) {
        const double r = weight[i] * (p[k] - (labels[i] == k ? 1.0 : 0.0));
        grad[static_cast<size_t>(i) * classes + k] =
            r + options.l2 * a_y[static_cast<size_t>(i) * classes + k];
        grad_b[k] += r;
      }
    }
    times_gram(grad, kgrad);
    // The gradient's norm in the weights' space: sum_c g_c' K g_c + |g_b|^2.
    double sq = 0;
    for (size_t q = 0; q < nc; ++q) sq += grad[q] * kgrad[q];
    for (double g : grad_b) sq += g * g;
    norm = std::sqrt(std::max(0.0, sq));
    if (norm < options.tolerance) {
      a_x = a_y, ka_x = ka_y, b_x = b_y;
      break;
    }
    // x' = y - step * gradient; then momentum, restarted when it points uphill.
    Mat a_new(nc), ka_new(nc);
    std::vector<double> b_new(classes);
    for (size_t q = 0; q < nc; ++q) {
      a_new[q] = a_y[q] - step * grad[q];
      ka_new[q] = ka_y[q] - step * kgrad[q];
    }
    for (int k = 0; k < classes; ++k) b_new[k] = b_y[k] - step * grad_b[k];
    double uphill = 0;  // <gradient at y, x' - x>
    for (size_t q = 0; q < nc; ++q) uphill += kgrad[q] * (a_new[q] - a_x[q]);
    for (int k = 0; k < classes; ++k) uphill += grad_b[k] * (b_new[k] - b_x[k]);
    double beta = 0;
    if (uphill > 0) {
      t = 1;
    } else {
      const double t_next = 0.5 * (1 + std::sqrt(1 + 4 * t * t));
      beta = (t - 1) / t_next;
      t = t_next;
    }
    for (size_t q = 0; q < nc; ++q) {
      a_y[q] = a_new[q] + beta * (a_new[q] - a_x[q]);
      ka_y[q] = ka_new[q] + beta * (ka_new[q] - ka_x[q]);
    }
    for (int k = 0; k < classes; ++k) b_y[k] = b_new[k] + beta * (b_new[k] - b_x[k]);
    a_x = std::move(a_new), ka_x = std::move(ka_new), b_x = std::move(b_new);
  }

  LinearClassifier out;
  out.dims_ = d;
  out.iterations_ = it;
  out.gradient_norm_ = norm;
  out.weights_.assign(static_cast<size_t>(classes) * d, 0.0f);
  std::vector<double> row(d);
  for (int k = 0; k < classes; ++k) {
    std::fill(row.begin(), row.end(), 0.0);
    for (int i = 0; i < n; ++i) {
      const double c = a_x[static_cast<size_t>(i) * classes + k];
      for (int q = 0; q < d; ++q) row[q] += c * examples[i][q];
    }
    for (int q = 0; q < d; ++q)
      out.weights_[static_cast<size_t>(k) * d + q] = static_cast<float>(row[q]);
  }
  out.bias_.assign(b_x.begin(), b_x.end());
  return out;
}

std::vector<float> LinearClassifier::logits(const float* x) const {
  std::vector<float> z(bias_);
  for (int k = 0; k < classes(); ++k) {
    const float* w = weights(k);
    double s = 0;
    for (int q = 0; q < dims_; ++q) s += static_cast<double>(w[q]) * x[q];
    z[k] += static_cast<float>(s);
  }
  return z;
}

std::vector<float> LinearClassifier::probabilities(const float* x) const {
  std::vector<float> z = logits(x);
  if (z.empty()) return z;
  const float top = *std::max_element(z.begin(), z.end());
  double sum = 0;
  for (float& v : z) sum += v = std::exp(v - top);
  for (float& v : z) v = static_cast<float>(v / sum);
  return z;
}

}  // namespace overfeat
