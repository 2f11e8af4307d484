// SPDX-License-Identifier: MIT
// Logistic regression, for the project's calibrations (one-shot answers in `overfeat bench
// oneshot`, detection boxes in `overfeat eval --fit-confidence`).
#pragma once
#include <vector>

namespace overfeat {

/// Weights w of P(y = 1 | x) = 1 / (1 + exp(-w . x)) fitted by Newton's method on the log loss,
/// with a tiny ridge (1e-6 per example, on every weight) that keeps separable data finite. Rows
/// of `x` all have the same length (put a constant 1 in them for a bias); `y` holds 0 or 1.
std::vector<double> fit_logistic(const std::vector<std::vector<double>>& x,
                                 const std::vector<int>& y);

}  // namespace overfeat
