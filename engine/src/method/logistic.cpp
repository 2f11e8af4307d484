// SPDX-License-Identifier: MIT
#include "overfeat/logistic.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace overfeat {

std::vector<double> fit_logistic(const std::vector<std::vector<double>>& x,
                                 const std::vector<int>& y) {
  const size_t d = x.empty() ? 0 : x[0].size();
  std::vector<double> w(d, 0.0);
  for (int iter = 0; iter < 50; ++iter) {
    std::vector<double> g(d, 0.0), h(d * d, 0.0);
    for (size_t i = 0; i < x.size(); ++i) {
      double z = 0;
      for (size_t j = 0; j < d; ++j) z += w[j] * x[i][j];
      const double p = 1 / (1 + std::exp(-z));
      for (size_t j = 0; j < d; ++j) {
        g[j] += (y[i] - p) * x[i][j];
        for (size_t k = 0; k < d; ++k) h[j * d + k] += p * (1 - p) * x[i][j] * x[i][k];
      }
    }
    for (size_t j = 0; j < d; ++j) {
      h[j * d + j] += 1e-6 * x.size();
      g[j] -= 1e-6 * x.size() * w[j];
    }
    // Solve h * step = g (Gaussian elimination with partial pivoting; d <= 3).
    std::vector<double> step = g;
    for (size_t c = 0; c < d; ++c) {
      size_t piv = c;
      for (size_t r = c + 1; r < d; ++r)
        if (std::abs(h[r * d + c]) > std::abs(h[piv * d + c])) piv = r;
      for (size_t k = 0; k < d; ++k) std::swap(h[c * d + k], h[piv * d + k]);
      std::swap(step[c], step[piv]);
      for (size_t r = c + 1; r < d; ++r) {
        const double f = h[r * d + c] / h[c * d + c];
        for (size_t k = c; k < d; ++k) h[r * d + k] -= f * h[c * d + k];
        step[r] -= f * step[c];
      }
    }
    for (size_t c = d; c-- > 0;) {
      for (size_t k = c + 1; k < d; ++k) step[c] -= h[c * d + k] * step[k];
      step[c] /= h[c * d + c];
    }
    double change = 0;
    for (size_t j = 0; j < d; ++j) {
      w[j] += step[j];
      change = std::max(change, std::abs(step[j]));
    }
    if (change < 1e-9) break;
  }
  return w;
}

}  // namespace overfeat
