// SPDX-License-Identifier: MIT
// The "auto" live scales: the governor climbs to the largest scale list whose frames keep the
// target rate, steps down when frames get slower, and ignores frames it should not judge by.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "overfeat/dense.hpp"
#include "overfeat/error.hpp"
#include "overfeat/live_scales.hpp"

namespace overfeat {
namespace {

NetSpec bundled_like() {
  NetSpec net = NetSpec::official(0);
  net.window = 133;
  net.detection_scales = "133,150,177";
  return net;
}

// A device whose frame time is `ms_per_kpixel` per thousand pixels of a 4:3 frame's scales.
double frame_ms(const std::string& list, int window, double ms_per_kpixel) {
  double ms = 0;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const double side = item == "window" ? window : std::max(window, std::stoi(item));
    ms += ms_per_kpixel * side * side * 4 / 3 / 1000;
  }
  return ms;
}

// Runs `frames` frames on the simulated device; returns the rung it ends on.
int run(LiveScaleGovernor& g, int window, double ms_per_kpixel, int frames) {
  for (int i = 0; i < frames; ++i)
    g.frame_done(g.scales(), frame_ms(g.scales(), window, ms_per_kpixel));
  return g.rung();
}

TEST(LiveScales, LadderIsOrderedByCostStartsAtTheWindowAndParses) {
  const NetSpec net = bundled_like();
  const auto ladder = LiveScaleGovernor::ladder(net);
  ASSERT_GE(ladder.size(), 8u);
  EXPECT_EQ(ladder.front(), "133");
  EXPECT_NE(std::find(ladder.begin(), ladder.end(), "133,150,177"), ladder.end());
  double last = 0;
  for (const std::string& l : ladder) {
    const double c = frame_ms(l, net.window, 1);
    EXPECT_GE(c, last) << l;
    last = c;
    EXPECT_NO_THROW(parse_scales(l, net, 480, 640)) << l;
  }
}

TEST(LiveScales, ClimbsToTheLargestRungUnderBudgetAndStaysThere) {
  const NetSpec net = bundled_like();
  for (double speed : {0.5, 2.0, 4.0}) {  // ms per thousand pixels: a GPU to a slow CPU
    LiveScaleGovernor g(net, 8);
    const int rung = run(g, net.window, speed, 400);
    const double budget = 125;
    const auto& rungs = g.rungs();
    if (rung > 0) EXPECT_LE(frame_ms(rungs[rung], net.window, speed), budget * 1.05) << speed;
    if (rung + 1 < static_cast<int>(rungs.size()))
      EXPECT_GT(frame_ms(rungs[rung + 1], net.window, speed), budget * 0.8) << speed;
    // Stable: another 200 frames change nothing.
    EXPECT_EQ(run(g, net.window, speed, 200), rung) << speed;
  }
}

TEST(LiveScales, StepsDownWhenFramesGetSlowerAndDoesNotClimbBackAtOnce) {
  const NetSpec net = bundled_like();
  LiveScaleGovernor g(net, 8);
  const int fast = run(g, net.window, 1.0, 300);
  ASSERT_GT(fast, 2);
  const int slow = run(g, net.window, 3.0, 100);  // something else took the CPU
  EXPECT_LT(slow, fast);
  EXPECT_LE(frame_ms(g.scales(), net.window, 3.0), 125 * 1.05);
  // The rung that proved too slow stays out of reach for a while even when frames are fast.
  LiveScaleGovernor h(net, 8);
  run(h, net.window, 1.0, 300);
  const int top = h.rung();
  for (int i = 0; i < 20; ++i) h.frame_done(h.scales(), 1000);  // a hiccup: step down
  ASSERT_LT(h.rung(), top);
  for (int i = 0; i < LiveScaleGovernor::kBlockFrames / 2; ++i)
    h.frame_done(h.scales(), frame_ms(h.scales(), net.window, 1.0));
  EXPECT_LT(h.rung(), top);
}

TEST(LiveScales, IgnoresSettlingFramesAndFramesOfAnotherRung) {
  LiveScaleGovernor g({"133", "160", "192"}, 133, 10);
  // Slow first frames of a new size (command buffers recorded) do not count...
  for (int i = 0; i < LiveScaleGovernor::kSettleFrames; ++i)
    EXPECT_FALSE(g.frame_done("133", 5000));
  EXPECT_EQ(g.recent_ms(), 0);
  // ...nor do frames of another rung (in flight across a change).
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(g.frame_done("192", 5000));
  EXPECT_EQ(g.rung(), 0);
  bool changed = false;
  for (int i = 0; i < LiveScaleGovernor::kWindowFrames; ++i) changed = g.frame_done("133", 20);
  EXPECT_TRUE(changed);
  EXPECT_EQ(g.scales(), "160");
}

TEST(LiveScales, RefusesNonsense) {
  EXPECT_THROW(LiveScaleGovernor({}, 133, 8), Error);
  EXPECT_THROW(LiveScaleGovernor({"133"}, 133, 0), Error);
  EXPECT_THROW(LiveScaleGovernor({"133"}, 133, std::nan("")), Error);
}

}  // namespace
}  // namespace overfeat
