// SPDX-License-Identifier: MIT
#include "overfeat/live_scales.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "overfeat/error.hpp"

namespace overfeat {
namespace {

// Pixels a scale list evaluates on a 4:3 frame, relative: its smaller sides squared.
double list_cost(const std::string& list, int window) {
  double cost = 0;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const int side = item == "window" ? window : std::max(window, std::atoi(item.c_str()));
    cost += static_cast<double>(side) * side * 4 / 3;
  }
  return cost;
}

std::string join(const std::vector<int>& sides) {
  std::string s;
  for (int v : sides) s += (s.empty() ? "" : ",") + std::to_string(v);
  return s;
}

}  // namespace

std::vector<std::string> LiveScaleGovernor::ladder(const NetSpec& net) {
  const int w = net.window;
  auto side = [&](double f) { return std::max(w, static_cast<int>(std::lround(w * f / 8)) * 8); };
  std::vector<std::vector<int>> lists;
  for (double f : {1.0, 1.125, 1.25, 1.375, 1.5, 1.75, 2.0, 2.25, 2.5}) lists.push_back({side(f)});
  lists.front() = {w};  // exactly one window: the cheapest there is
  for (auto [a, b] : {std::pair{1.25, 2.0}, {1.5, 2.5}, {1.75, 3.0}, {2.0, 3.5}})
    lists.push_back({side(a), side(b)});
  std::vector<std::pair<double, std::string>> rungs;
  std::set<std::string> seen;
  for (const auto& l : lists) {
    const std::string s = join(l);
    if (seen.insert(s).second) rungs.push_back({list_cost(s, w), s});
  }
  // The model's own detection scales (what its stills use), when given as smaller sides.
  const std::string& own = net.detection_scales;
  if (!own.empty() && own.find_first_not_of("0123456789,") == std::string::npos &&
      seen.insert(own).second)
    rungs.push_back({list_cost(own, w), own});
  std::stable_sort(rungs.begin(), rungs.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (const auto& r : rungs) out.push_back(r.second);
  return out;
}

LiveScaleGovernor::LiveScaleGovernor(std::vector<std::string> ladder, int window, double target_fps)
    : ladder_(std::move(ladder)), target_fps_(target_fps) {
  if (ladder_.empty()) throw Error("LiveScaleGovernor: no scale lists to choose from");
  if (!(target_fps > 0)) throw Error("LiveScaleGovernor: the target frame rate must be positive");
  for (const std::string& l : ladder_) cost_.push_back(list_cost(l, window));
  blocked_until_.assign(ladder_.size(), 0);
}

double LiveScaleGovernor::recent_ms() const {
  if (recent_.empty()) return 0;
  std::vector<double> v(recent_.begin(), recent_.end());
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

bool LiveScaleGovernor::frame_done(const std::string& scales_used, double ms) {
  if (scales_used != scales()) return false;
  ++frames_;
  if (settle_ > 0) {
    --settle_;
    return false;
  }
  recent_.push_back(ms);
  if (static_cast<int>(recent_.size()) > kWindowFrames) recent_.pop_front();
  if (static_cast<int>(recent_.size()) < kWindowFrames) return false;
  const double budget = 1000.0 / target_fps_, m = recent_ms();
  int next = rung_;
  if (m > budget * 1.05 && rung_ > 0) {
    blocked_until_[rung_] = frames_ + kBlockFrames;
    next = rung_ - 1;
  } else if (m < budget * 0.8 && rung_ + 1 < static_cast<int>(ladder_.size()) &&
             frames_ >= blocked_until_[rung_ + 1] &&
             m * cost_[rung_ + 1] / cost_[rung_] <= budget * 0.95) {
    next = rung_ + 1;
  }
  if (next == rung_) return false;
  rung_ = next;
  settle_ = kSettleFrames;
  recent_.clear();
  return true;
}

}  // namespace overfeat
