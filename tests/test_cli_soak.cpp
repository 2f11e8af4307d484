// SPDX-License-Identifier: MIT
// `overfeat bench soak` runs and prints what it promises: JSON lines, one per memory sample,
// then a summary. A smoke test with the hand-built marker model (fast on lavapipe): it checks
// the output's shape, never a memory figure (those depend on the machine and would flake).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "constructed_models.hpp"
#include "overfeat/live_scales.hpp"
#include "test_support.hpp"
#include "vulkan_fixture.hpp"

namespace overfeat {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

testing::CommandResult run(const std::string& args) {
  return testing::run_command(std::string(OVERFEAT_BIN) + " " + args);
}

std::string q(const fs::path& p) {
  return "'" + p.string() + "'";
}

// Every line of `out` as JSON; the samples first, the summary last.
std::vector<json> json_lines(const std::string& out) {
  std::vector<json> lines;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) lines.push_back(json::parse(line));  // throws on invalid JSON
  return lines;
}

class CliSoak : public testing::VulkanTest {
 protected:
  void SetUp() override {
    VulkanTest::SetUp();
    if (IsSkipped()) return;
    save_model(testing::marker_model(), dir_ / "markers.onnx");
  }
  std::string m() const { return "bench soak --model " + q(dir_ / "markers.onnx") + " "; }
  testing::TempDir dir_{"cli_soak"};
};

TEST_F(CliSoak, JsonRowsThenASummary) {
  const auto r = run(m() + "--frames 20 --every 2 --sizes 320x240,97x61,640x360 --sample 1 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<json> lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), 21u) << r.out;  // a sample per frame, then the summary
  std::set<std::pair<int, int>> sizes;
  for (int i = 0; i < 20; ++i) {
    const json& s = lines[i];
    EXPECT_EQ(s.at("type"), "sample");
    EXPECT_EQ(s.at("frame"), i + 1);
    sizes.insert({s.at("width").get<int>(), s.at("height").get<int>()});
    EXPECT_GT(s.at("rss_mb").get<double>(), 0) << s;
    EXPECT_GE(s.at("hwm_mb").get<double>(), s.at("rss_mb").get<double>()) << s;
    EXPECT_GT(s.at("vulkan_mb").get<double>(), 0) << s;
    EXPECT_GT(s.at("ms_per_frame").get<double>(), 0) << s;
    EXPECT_EQ(s.at("warm"), i + 1 >= 6) << s;  // three sizes, two frames each
  }
  EXPECT_EQ(sizes, (std::set<std::pair<int, int>>{{320, 240}, {97, 61}, {640, 360}}));
  const json& sum = lines.back();
  EXPECT_EQ(sum.at("type"), "summary");
  EXPECT_EQ(sum.at("frames"), 20);
  EXPECT_EQ(sum.at("mode"), "detect");
  EXPECT_EQ(sum.at("warmup_frames"), 6);
  for (const char* key : {"start_mb", "peak_mb", "end_mb", "drift_mb", "hwm_mb",
                          "growth_mb_per_1000_frames", "fps", "vulkan_end_mb"})
    EXPECT_TRUE(sum.at(key).is_number()) << key << ": " << sum;
  EXPECT_GE(sum.at("peak_mb").get<double>(), sum.at("end_mb").get<double>());
  EXPECT_TRUE(sum.at("verdict") == "flat" || sum.at("verdict") == "grows") << sum;
}

TEST_F(CliSoak, TableWithStartPeakEndAndVerdict) {
  const auto r = run(m() + "--frames 12 --every 2 --sizes 320x240,200x100 --mode classify");
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* text : {"ms/frame", "RSS MB", "warm-up done", "RSS: start", "peak", "end",
                           "drift", "per 1000 frames", "frames/s", "Verdict: "})
    EXPECT_NE(r.out.find(text), std::string::npos) << text << " in:\n" << r.out;
}

TEST_F(CliSoak, LoopsAVideoItWrote) {
  const fs::path clip = dir_ / "clip.mp4";
  auto r = run(m() + "--write-video " + q(clip) + " --frames 8 --video-size 160x120");
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(fs::exists(clip));
  r = run(m() + "--video " + q(clip) + " --sizes native --frames 20 --warmup 4 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<json> lines = json_lines(r.out);
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines.front().at("width"), 160);
  EXPECT_EQ(lines.front().at("height"), 120);
  EXPECT_GE(lines.back().at("video_loops").get<int>(), 2);  // 8 frames, read 20 times
  // Frames resized from the video to the cycled sizes.
  r = run(m() + "--video " + q(clip) + " --sizes 320x240,64x48 --every 1 --frames 4 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json_lines(r.out)[1].at("width"), 64);
}

TEST_F(CliSoak, Recognize) {
  const auto r = run(m() + "--mode recognize --frames 6 --every 1 --sizes 320x240,240x320 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const json sum = json_lines(r.out).back();
  EXPECT_EQ(sum.at("mode"), "recognize");
  EXPECT_TRUE(sum.at("recognized_frames").is_number()) << sum;
}

TEST_F(CliSoak, RefusesBadArguments) {
  EXPECT_EQ(run(m() + "--sizes 320x0 --frames 2").code, 1);
  EXPECT_EQ(run(m() + "--sizes native --frames 2").code, 1);  // native needs --video
  EXPECT_EQ(run(m() + "--video " + q(dir_ / "missing.mp4") + " --frames 2").code, 5);
  EXPECT_EQ(run(m() + "--mode teach").code, 2);
}

}  // namespace
}  // namespace overfeat

namespace overfeat {
namespace {

// `overfeat bench live`: one JSON line per stay on a scale list, then a summary; with a
// generous budget the marker model's frames climb the auto ladder one rung at a time.
TEST_F(CliSoak, BenchLiveClimbsTheAutoLadderAndReportsTheHeatMap) {
  const auto r = run("bench live --model " + q(dir_ / "markers.onnx") +
                     " --frames 30 --size 320x240 --target-fps 1 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<json> lines = json_lines(r.out);
  ASSERT_GE(lines.size(), 3u) << r.out;  // climbed at least once
  const auto ladder = LiveScaleGovernor::ladder(testing::marker_model().net);
  size_t rung = 0;
  int frames = 0;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    const json& v = lines[i];
    EXPECT_EQ(v.at("type"), "visit");
    const auto at = std::find(ladder.begin(), ladder.end(), v.at("scales").get<std::string>());
    ASSERT_NE(at, ladder.end()) << v;
    EXPECT_EQ(static_cast<size_t>(at - ladder.begin()), rung++) << v;  // up one at a time
    EXPECT_GT(v.at("map_rows").get<int>(), 0) << v;
    frames += v.at("frames").get<int>();
  }
  EXPECT_EQ(frames, 30);
  const json& sum = lines.back();
  EXPECT_EQ(sum.at("type"), "summary");
  EXPECT_EQ(sum.at("target_fps"), 1.0);
  EXPECT_EQ(sum.at("scales"), lines[lines.size() - 2].at("scales"));
  EXPECT_GT(sum.at("fps").get<double>(), 0);
  // A fixed list runs as given.
  const auto fixed = run("bench live --model " + q(dir_ / "markers.onnx") +
                         " --frames 3 --size 320x240 --scales 200 --json");
  ASSERT_EQ(fixed.code, 0) << fixed.err;
  EXPECT_EQ(json_lines(fixed.out).back().at("scales"), "200");
  EXPECT_NE(run(m() + "--frames 3 --scales auto").code, 0);  // soak: auto is live-only
}

}  // namespace
}  // namespace overfeat
