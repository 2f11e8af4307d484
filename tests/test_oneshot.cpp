// SPDX-License-Identifier: MIT
// One-shot learning (oneshot.hpp): prototypes, recognition and thresholds on constructed
// embeddings; the store's file (round trip, damaged files, versions); the model fingerprint and
// the refusal of a store learned with another model; localization on constructed maps; and, on
// the device, the whole path with the hand-built marker model.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "constructed_models.hpp"
#include "overfeat/error.hpp"
#include "overfeat/oneshot.hpp"
#include "overfeat/pipeline.hpp"
#include "synthetic_weights.hpp"
#include "test_support.hpp"
#include "vulkan_fixture.hpp"

namespace overfeat {

uint64_t xxh64(const void* data, size_t len, uint64_t seed);  // oneshot.cpp, not public

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr int kDims = 16;

std::vector<float> unit(int axis, int dims = kDims) {
  std::vector<float> v(dims, 0.0f);
  v[axis] = 1;
  return v;
}

// A unit vector near `axis`: the axis plus Gaussian noise of `sigma` per component.
std::vector<float> near(int axis, float sigma, std::mt19937& rng) {
  std::normal_distribution<float> n(0, sigma);
  std::vector<float> v = unit(axis);
  for (float& x : v) x += n(rng);
  l2_normalize(v);
  return v;
}

float dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return static_cast<float>(s);
}

StoreIdentity identity() {
  StoreIdentity id;
  id.model_name = "constructed";
  id.fingerprint = "0123456789abcdef";
  id.feature_layer = 19;
  id.layer_name = "conv7 (layer 19)";
  return id;
}

LearnedExample example(std::vector<float> e, const std::string& source = "") {
  LearnedExample x;
  x.embedding = std::move(e);
  x.source = source;
  return x;
}

// Three classes along axes 0, 1, 2.
OneShotStore three_classes(std::mt19937& rng, int shots = 1, float sigma = 0.05f) {
  OneShotStore s(identity());
  const char* names[3] = {"mug", "stapler", "cactus"};
  for (int c = 0; c < 3; ++c)
    for (int k = 0; k < shots; ++k) s.add_example(names[c], example(near(c, sigma, rng)));
  return s;
}

// ---------------------------------------------------------------------------------------------
// Prototypes, recognition, thresholds, calibration (constructed embeddings)

TEST(OneShot, PrototypeIsTheNormalizedMeanAndMoreExamplesRefineIt) {
  std::mt19937 rng(1);
  OneShotStore s(identity());
  EXPECT_EQ(s.dims(), 0);
  std::vector<std::vector<float>> ex;
  for (int k = 0; k < 12; ++k) ex.push_back(near(0, 0.3f, rng));
  s.add_example("mug", example(ex[0]));
  EXPECT_EQ(s.dims(), kDims);
  ASSERT_EQ(s.classes().size(), 1u);
  EXPECT_NEAR(dot(s.classes()[0].prototype, ex[0]), 1.0f, 1e-6f);  // one example: itself
  const float one_shot = dot(s.classes()[0].prototype, unit(0));
  for (int k = 1; k < 12; ++k) s.add_example("mug", example(ex[k]));
  // The prototype is the normalized mean of the normalized examples.
  std::vector<float> mean(kDims, 0.0f);
  for (const auto& e : ex)
    for (int i = 0; i < kDims; ++i) mean[i] += e[i] / 12;
  l2_normalize(mean);
  const auto& p = s.classes()[0].prototype;
  for (int i = 0; i < kDims; ++i) EXPECT_NEAR(p[i], mean[i], 1e-6f);
  EXPECT_NEAR(dot(p, p), 1.0f, 1e-6f);
  // Averaging cancels the noise: twelve examples point closer to the class than one.
  EXPECT_GT(dot(p, unit(0)), one_shot);
  EXPECT_GT(dot(p, unit(0)), 0.9f);
  // An unnormalized example is normalized when added.
  s.add_example("big", example(std::vector<float>(kDims, 3.0f)));
  EXPECT_NEAR(dot(s.classes()[1].examples[0].embedding, s.classes()[1].examples[0].embedding), 1.0f,
              1e-6f);
}

TEST(OneShot, RecognizesTheClosestClassOrUnknownBelowTheThreshold) {
  std::mt19937 rng(2);
  const OneShotStore s = three_classes(rng);
  const Recognition r = recognize(s, near(1, 0.05f, rng));
  EXPECT_EQ(r.cls, 1);
  EXPECT_EQ(r.name, "stapler");
  EXPECT_EQ(r.best, 1);
  EXPECT_GT(r.similarity, 0.8f);
  EXPECT_GE(r.runner_up, 0);
  EXPECT_NE(r.runner_up, 1);
  EXPECT_NEAR(r.margin, r.similarity - r.runner_up_similarity, 1e-6f);
  ASSERT_EQ(r.similarities.size(), 3u);
  EXPECT_FLOAT_EQ(r.similarities[1], r.similarity);
  EXPECT_FLOAT_EQ(r.threshold, default_calibration().threshold);
  EXPECT_GT(r.confidence, 0.5f);
  EXPECT_LE(r.confidence, 1.0f);

  // Something never taught (another axis): unknown, though a best class is still named.
  const Recognition u = recognize(s, near(7, 0.1f, rng));
  EXPECT_EQ(u.cls, -1);
  EXPECT_EQ(u.name, "unknown");
  EXPECT_GE(u.best, 0);
  EXPECT_LT(u.similarity, default_calibration().threshold);
  EXPECT_GT(u.confidence, 0.5f);  // confident that it is none of them
  // The threshold is adjustable: at -1 everything is accepted, at 1.01 nothing.
  EXPECT_GE(recognize(s, near(7, 0.1f, rng), -1.0f).cls, 0);
  EXPECT_EQ(recognize(s, near(1, 0.1f, rng), 1.01f).name, "unknown");
  // A store's own calibration overrides the default.
  OneShotStore strict = s;
  Calibration c = default_calibration();
  c.threshold = 0.999f;
  strict.calibration = c;
  EXPECT_EQ(recognize(strict, near(1, 0.1f, rng)).cls, -1);
  // Between the classes, exactly at the threshold: accepted (similarity >= threshold).
  const float at = recognize(s, unit(2)).similarity;
  EXPECT_EQ(recognize(s, unit(2), at).cls, 2);
}

// Two classes along a line, offset across it (test_linear_classifier's case, lifted onto the
// unit sphere by a constant third value): the prototypes get the overlap wrong.
std::vector<float> on_line(float t, int cls) {
  return {t / 4, (0.5f * t + (cls ? -0.5f : 0.5f)) / 4, 0.3f};
}

TEST(OneShot, WithSeveralExamplesAClassifierPicksWhatThePrototypesGetWrong) {
  OneShotStore s(identity());
  s.add_example("a", example(on_line(0.5f, 0)));
  s.add_example("b", example(on_line(5.5f, 1)));
  EXPECT_EQ(s.classifier(), nullptr) << "one example per class: the prototypes alone";
  EXPECT_FALSE(s.uses_classifier());
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(0, 4);
  for (int i = 0; i < 40; ++i) {
    s.add_example("a", example(on_line(u(rng), 0)));
    s.add_example("b", example(on_line(u(rng) + 2, 1)));
  }
  EXPECT_TRUE(s.uses_classifier());
  const LinearClassifier* c = s.classifier();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->classes(), 2);
  EXPECT_EQ(s.classifier(), c) << "fitted once, then kept";
  // Class "a" far along the line: closer to b's prototype, but on a's side of the offset.
  const std::vector<float> query = on_line(3.9f, 0);
  std::vector<float> q = query;
  l2_normalize(q);
  const Recognition by_prototypes = recognize_similarities(
      s, {dot(q, s.classes()[0].prototype), dot(q, s.classes()[1].prototype)}, -1.0f);
  ASSERT_EQ(by_prototypes.best, 1) << "the case must fool the prototypes";
  const Recognition r = recognize(s, query, -1.0f);
  ASSERT_EQ(r.probabilities.size(), 2u);
  EXPECT_EQ(r.best, 0);
  EXPECT_EQ(r.cls, 0);
  EXPECT_EQ(r.name, "a");
  EXPECT_EQ(r.runner_up, 1);
  EXPECT_GT(r.probabilities[0], 0.5f);
  EXPECT_NEAR(r.probabilities[0] + r.probabilities[1], 1.0f, 1e-5f);
  EXPECT_FLOAT_EQ(r.similarity, r.similarities[0]);
  EXPECT_LT(r.margin, 0) << "b's prototype is closer";
  // The confidences are the classifier's shares of the chance that it is a taught class.
  EXPECT_NEAR(r.confidences[0] / r.probabilities[0], r.confidences[1] / r.probabilities[1], 1e-4f);
  EXPECT_FLOAT_EQ(r.confidence, r.confidences[0]);
  // The threshold still decides "unknown", on the chosen class's similarity.
  EXPECT_EQ(recognize(s, query, r.similarity + 1e-3f).cls, -1);
  // A class with a single example turns the classifier off again; removing it turns it back on.
  s.add_example("c", example({0, 0, -1}));
  EXPECT_EQ(s.classifier(), nullptr);
  EXPECT_TRUE(recognize(s, query, -1.0f).probabilities.empty());
  s.remove("c");
  EXPECT_NE(s.classifier(), nullptr);
  EXPECT_EQ(recognize(s, query, -1.0f).best, 0);
}

TEST(OneShot, AnEmptyStoreKnowsNothingAndWrongSizesAreRefused) {
  const OneShotStore empty(identity());
  const Recognition r = recognize(empty, unit(0));
  EXPECT_EQ(r.name, "unknown");
  EXPECT_EQ(r.best, -1);
  EXPECT_FLOAT_EQ(r.confidence, 1.0f);
  std::mt19937 rng(3);
  OneShotStore s = three_classes(rng);
  EXPECT_THROW(recognize(s, unit(0, kDims + 1)), Error);
  EXPECT_THROW(s.add_example("mug", example(unit(0, 8))), Error);
  EXPECT_THROW(s.add_example("", example(unit(0))), Error);
  std::vector<float> bad = unit(0);
  bad[3] = NAN;
  EXPECT_THROW(s.add_example("mug", example(bad)), Error);
}

TEST(OneShot, CalibrationIsMonotoneAndWithinZeroOne) {
  const Calibration c = default_calibration();
  EXPECT_GT(c.threshold, -1.0f);
  EXPECT_LT(c.threshold, 1.0f);
  float last = -1;
  for (float s = -1; s <= 1.0001f; s += 0.01f) {
    const float p = c.confidence(s, 0.1f);
    EXPECT_GE(p, 0.0f);
    EXPECT_LE(p, 1.0f);
    EXPECT_GE(p, last) << "not monotone in the similarity at " << s;
    last = p;
  }
  last = -1;
  for (float m = 0; m <= 2.0001f; m += 0.01f) {
    const float p = c.confidence(0.6f, m);
    EXPECT_GE(p, last) << "not monotone in the margin at " << m;
    last = p;
  }
  // Sure answers are confident, hopeless ones are not.
  EXPECT_GT(c.confidence(1.0f, 0.8f), 0.9f);
  EXPECT_LT(c.confidence(0.0f, 0.0f), 0.1f);
  // Closer queries get more confident answers, through recognize() too.
  std::mt19937 rng(4);
  const OneShotStore s = three_classes(rng, 1, 0.0f);
  float previous = 0;
  for (float w : {0.75f, 0.85f, 0.95f, 1.0f}) {
    std::vector<float> q = unit(0);
    q[5] = std::sqrt(1 - w * w);
    q[0] = w;
    const Recognition r = recognize(s, q, -1.0f);
    EXPECT_EQ(r.cls, 0);
    EXPECT_GT(r.confidence, previous);
    previous = r.confidence;
  }
}

TEST(OneShot, RenameRemoveAndRemoveExample) {
  std::mt19937 rng(5);
  OneShotStore s = three_classes(rng, 2);
  s.rename("mug", "cup");
  EXPECT_EQ(s.find("mug"), -1);
  EXPECT_EQ(s.find("cup"), 0);
  EXPECT_THROW(s.rename("cup", "stapler"), Error);  // taken
  EXPECT_THROW(s.rename("nothing", "x"), Error);
  EXPECT_THROW(s.rename("cup", ""), Error);
  s.remove("stapler");
  EXPECT_EQ(s.classes().size(), 2u);
  EXPECT_EQ(s.classes()[1].name, "cactus");
  EXPECT_THROW(s.remove("stapler"), Error);
  // Removing an example refines the prototype back; the last one takes the class with it.
  const std::vector<float> second = s.classes()[0].examples[1].embedding;
  s.remove_example("cup", 0);
  ASSERT_EQ(s.classes()[0].examples.size(), 1u);
  EXPECT_NEAR(dot(s.classes()[0].prototype, second), 1.0f, 1e-6f);
  EXPECT_THROW(s.remove_example("cup", 1), Error);
  s.remove_example("cup", 0);
  EXPECT_EQ(s.find("cup"), -1);
  EXPECT_EQ(s.classes().size(), 1u);
}

// ---------------------------------------------------------------------------------------------
// The store's file

TEST(OneShotStoreFile, SaveLoadRoundTripIsExact) {
  testing::TempDir dir("oneshot");
  std::mt19937 rng(6);
  OneShotStore s = three_classes(rng, 3);
  Tensor img(3, 40, 60);
  for (size_t i = 0; i < img.size(); ++i) img.data[i] = static_cast<float>((i * 37) % 256);
  LearnedExample with_thumb = example(near(0, 0.2f, rng), "photo.jpg [1,2,30,40]");
  with_thumb.thumbnail = make_thumbnail(img, Box{1, 2, 30, 40});
  with_thumb.time = "2026-11-21T09:00:00Z";
  s.add_example("mug", with_thumb);
  s.add_example("naïve class, with \"quotes\"", example(near(4, 0.2f, rng)));
  Calibration cal = default_calibration();
  cal.threshold = 0.42f;
  s.calibration = cal;
  const fs::path file = dir / "sub" / "store.json";
  s.save(file);
  EXPECT_EQ(s.path(), file);
  for (const auto& e : fs::directory_iterator(file.parent_path()))  // no temporary file left
    EXPECT_EQ(e.path().filename(), "store.json");

  const OneShotStore b = OneShotStore::load(file);
  EXPECT_EQ(b.path(), file);
  EXPECT_EQ(b.identity().model_name, s.identity().model_name);
  EXPECT_EQ(b.identity().fingerprint, s.identity().fingerprint);
  EXPECT_EQ(b.identity().feature_layer, 19);
  EXPECT_EQ(b.identity().layer_name, "conv7 (layer 19)");
  EXPECT_EQ(b.identity().dims, kDims);
  EXPECT_EQ(b.identity().framing, s.identity().framing);
  EXPECT_FLOAT_EQ(b.identity().context, s.identity().context);
  ASSERT_TRUE(b.calibration);
  EXPECT_FLOAT_EQ(b.calibration->threshold, 0.42f);
  ASSERT_EQ(b.classes().size(), s.classes().size());
  for (size_t c = 0; c < s.classes().size(); ++c) {
    const LearnedClass& x = s.classes()[c];
    const LearnedClass& y = b.classes()[c];
    EXPECT_EQ(x.name, y.name);
    ASSERT_EQ(x.examples.size(), y.examples.size());
    for (size_t e = 0; e < x.examples.size(); ++e) {
      ASSERT_EQ(x.examples[e].embedding.size(), y.examples[e].embedding.size());
      EXPECT_EQ(std::memcmp(x.examples[e].embedding.data(), y.examples[e].embedding.data(),
                            x.examples[e].embedding.size() * sizeof(float)),
                0)
          << "embeddings must survive bit for bit";
      EXPECT_EQ(x.examples[e].thumbnail, y.examples[e].thumbnail);
      EXPECT_EQ(x.examples[e].source, y.examples[e].source);
      EXPECT_EQ(x.examples[e].time, y.examples[e].time);
    }
    EXPECT_EQ(x.prototype, y.prototype);
  }
  const Tensor thumb = decode_image(b.classes()[0].examples[3].thumbnail);
  EXPECT_EQ(thumb.w, 29);  // the box as drawn, small enough to keep its size
  EXPECT_EQ(thumb.h, 38);
  // Saving again over it works (rename over an existing file).
  b.save(file);
  EXPECT_EQ(OneShotStore::load(file).classes().size(), s.classes().size());
  // The documented layout.
  const json doc = json::parse(std::ifstream(file));
  EXPECT_EQ(doc["format"], "overfeat-studio-oneshot");
  EXPECT_EQ(doc["version"], 1);
  EXPECT_EQ(doc["model"]["dims"], kDims);
  EXPECT_EQ(doc["classes"][0]["examples"][0]["embedding"].get<std::string>().size(),
            (kDims * 4 + 2) / 3 * 4);
}

TEST(OneShotStoreFile, DamagedTruncatedOrNewerFilesAreRefusedWithTheirName) {
  testing::TempDir dir("oneshot");
  std::mt19937 rng(7);
  const fs::path good = dir / "good.json";
  three_classes(rng).save(good);
  std::string text;
  {
    std::ifstream in(good);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto expect_refused = [&](const std::string& content, const std::string& says) {
    const fs::path f = dir / "bad.json";
    std::ofstream(f, std::ios::binary | std::ios::trunc) << content;
    try {
      OneShotStore::load(f);
      ADD_FAILURE() << "accepted: " << content.substr(0, 200);
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find(f.string()), std::string::npos) << m;
      EXPECT_NE(m.find(says), std::string::npos) << m;
    }
  };
  expect_refused(text.substr(0, text.size() / 2), "damaged or truncated");
  expect_refused("", "damaged or truncated");
  expect_refused("{\"hello\": 1}", "is not a one-shot store");
  expect_refused("[1, 2]", "is not a one-shot store");
  json doc = json::parse(text);
  json newer = doc;
  newer["version"] = 2;
  expect_refused(newer.dump(), "newer");
  json no_model = doc;
  no_model.erase("model");
  expect_refused(no_model.dump(), "malformed");
  json bad_b64 = doc;
  bad_b64["classes"][0]["examples"][0]["embedding"] = "@@@@";
  expect_refused(bad_b64.dump(), "not 16 base64 float32 values");
  json short_embedding = doc;
  short_embedding["model"]["dims"] = 17;
  expect_refused(short_embedding.dump(), "not 17 base64 float32 values");
  json twice = doc;
  twice["classes"][1]["name"] = twice["classes"][0]["name"];
  expect_refused(twice.dump(), "appears twice");
  json wrong_type = doc;
  wrong_type["classes"][0]["name"] = 5;
  expect_refused(wrong_type.dump(), "malformed");
  // A missing file says how to make one.
  try {
    OneShotStore::load(dir / "absent.json");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("overfeat learn"), std::string::npos) << e.what();
  }
  // An unwritable place is an Error naming the file.
  EXPECT_THROW(three_classes(rng).save("/proc/overfeat-oneshot/x.json"), Error);
}

// Hostile stores: every number range-checked, no conversion out of range, degenerate
// embeddings and special files refused (each once gave nan confidences, read version
// 4294967297 as 1, or blocked).
std::string base64_encode(const uint8_t* data, size_t n) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < n; i += 3) {
    const uint32_t v =
        (data[i] << 16) | (i + 1 < n ? data[i + 1] << 8 : 0) | (i + 2 < n ? data[i + 2] : 0);
    out += k[(v >> 18) & 63];
    out += k[(v >> 12) & 63];
    out += i + 1 < n ? k[(v >> 6) & 63] : '=';
    out += i + 2 < n ? k[v & 63] : '=';
  }
  return out;
}

TEST(OneShotStoreFile, OutOfRangeFieldsAndDegenerateEmbeddingsAreRefused) {
  testing::TempDir dir("oneshot");
  std::mt19937 rng(8);
  const fs::path good = dir / "good.json";
  OneShotStore store = three_classes(rng);
  store.calibration = default_calibration();
  store.save(good);
  const json doc = json::parse(std::ifstream(good));
  auto expect_refused = [&](const json& content, const std::string& says) {
    const fs::path f = dir / "bad.json";
    std::ofstream(f, std::ios::binary | std::ios::trunc) << content.dump();
    try {
      OneShotStore::load(f);
      ADD_FAILURE() << "accepted: " << content.dump().substr(0, 300);
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find(f.string()), std::string::npos) << m;
      EXPECT_NE(m.find(says), std::string::npos) << m;
    }
  };
  auto with = [&](const json::json_pointer& at, const json& value) {
    json d = doc;
    d[at] = value;
    return d;
  };
  using ptr = json::json_pointer;
  expect_refused(with(ptr("/version"), 4294967297ULL), "newer");
  expect_refused(with(ptr("/version"), 1e20), "not a whole number");
  expect_refused(with(ptr("/version"), 18446744073709551615ULL), "out of range");
  expect_refused(with(ptr("/version"), 0), "invalid version");
  expect_refused(with(ptr("/model/dims"), 1e20), "not a whole number");
  expect_refused(with(ptr("/model/dims"), -3), "outside");
  expect_refused(with(ptr("/model/feature_layer"), 0), "outside");
  expect_refused(with(ptr("/model/context"), -0.5), "outside");
  expect_refused(with(ptr("/calibration/threshold"), 7.5), "outside");
  expect_refused(with(ptr("/calibration/bias"), 1e30), "outside");
  expect_refused(with(ptr("/calibration/w_margin"), "x"), "not a number");
  expect_refused(with(ptr("/classes/0/name"), "bell\x07"), "control characters");
  const int dims = doc["model"]["dims"];
  auto embedding = [&](float value) {
    std::vector<float> v(dims, value);
    return base64_encode(reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(float));
  };
  expect_refused(with(ptr("/classes/0/examples/0/embedding"), embedding(0)), "not 1");
  expect_refused(with(ptr("/classes/0/examples/0/embedding"), embedding(1e-40f)), "not 1");
  expect_refused(with(ptr("/classes/0/examples/0/embedding"), embedding(3e38f)), "not 1");
  // The same document, untouched, loads and answers finite confidences.
  const fs::path same = dir / "same.json";
  std::ofstream(same) << doc.dump();
  EXPECT_EQ(OneShotStore::load(same).classes().size(), 3u);
}

TEST(OneShotStoreFile, SpecialFilesAreRefusedWithoutBlocking) {
  testing::TempDir dir("oneshot");
  const fs::path fifo = dir / "store.json";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  for (const fs::path& f : {fifo, fs::path("/dev/zero")}) {
    try {
      OneShotStore::load(f);  // once blocked forever, or read /dev/zero until memory ran out
      ADD_FAILURE() << f;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
    }
  }
}

TEST(OneShotStoreFile, LongModelNamesGiveUsableFileNames) {
  const fs::path p = default_store_path(std::string(300, 'm'), "0123456789abcdef");
  EXPECT_LE(p.filename().string().size(), 255u);
  EXPECT_NE(p.filename().string().find("-01234567.json"), std::string::npos) << p;
}

TEST(OneShotStoreFile, DefaultPathIsInTheUsersDataFolder) {
  const char* old = std::getenv("XDG_DATA_HOME");
  const std::string saved = old ? old : "";
  setenv("XDG_DATA_HOME", "/tmp/xdg-data", 1);
  EXPECT_EQ(default_store_path("voc caltech/v1", "0123456789abcdef"),
            fs::path("/tmp/xdg-data/overfeat-studio/oneshot/voc_caltech_v1-01234567.json"));
  const Model m = testing::marker_model();
  EXPECT_EQ(default_store_path(m), fs::path("/tmp/xdg-data/overfeat-studio/oneshot/markers-" +
                                            model_fingerprint(m).substr(0, 8) + ".json"));
  if (old)
    setenv("XDG_DATA_HOME", saved.c_str(), 1);
  else
    unsetenv("XDG_DATA_HOME");
}

// ---------------------------------------------------------------------------------------------
// Model identity

TEST(OneShotModel, Xxh64MatchesThePublishedValues) {
  EXPECT_EQ(xxh64("", 0, 0), 0xef46db3751d8e999ULL);
  EXPECT_EQ(xxh64("abc", 3, 0), 0x44bc2cf5ad770999ULL);
  const std::string s = "Nobody inspects the spammish repetition";
  EXPECT_EQ(xxh64(s.data(), s.size(), 0), 0xfbcea83c8a378bf1ULL);
}

TEST(OneShotModel, FingerprintChangesWithAnyWeightButNotWithTheName) {
  const Model a = testing::marker_model();
  const std::string fa = model_fingerprint(a);
  EXPECT_EQ(fa.size(), 16u);
  EXPECT_EQ(fa.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(model_fingerprint(testing::marker_model()), fa);  // stable
  Model b = testing::marker_model();
  b.weights.convs[1].w[64 + 9] = std::nextafter(b.weights.convs[1].w[64 + 9], 100.0f);
  EXPECT_NE(model_fingerprint(b), fa);
  Model bias = testing::marker_model();
  bias.weights.convs[0].b[0] = 1e-30f;
  EXPECT_NE(model_fingerprint(bias), fa);
  Model classes = testing::marker_model();
  classes.classes[1] = "box";
  EXPECT_NE(model_fingerprint(classes), fa);
  Model norm = testing::marker_model();
  norm.net.mean = 1;
  EXPECT_NE(model_fingerprint(norm), fa);
  // What does not change the features does not change the identity.
  Model renamed = testing::marker_model();
  renamed.net.name = "other name";
  renamed.metadata["description"] = "x";
  renamed.regressor.reset();
  EXPECT_EQ(model_fingerprint(renamed), fa);
}

TEST(OneShotModel, AStoreRefusesAnotherModelClearly) {
  const Model a = testing::marker_model();
  Model b = testing::marker_model();
  b.net.name = "markers-retrained";
  b.weights.convs[1].b[1] = -5.0001f;  // one weight differs
  OneShotStore s = OneShotStore::for_model(a);
  EXPECT_EQ(s.identity().feature_layer, 4);  // the marker net's default: its last layer
  EXPECT_EQ(s.identity().layer_name, "conv2 (layer 4)");
  EXPECT_NO_THROW(s.check_model(a));
  EXPECT_TRUE(s.matches(model_fingerprint(a)));
  try {
    s.check_model(b);
    FAIL() << "a store learned with another model was accepted";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("learned with the model 'markers' (fingerprint " + model_fingerprint(a)),
              std::string::npos)
        << m;
    EXPECT_NE(m.find("current model is 'markers-retrained' (fingerprint " + model_fingerprint(b)),
              std::string::npos)
        << m;
    EXPECT_NE(m.find("use a store learned with this model"), std::string::npos) << m;
    EXPECT_NE(m.find("start a new one"), std::string::npos) << m;
  }
  // Through a file, the message names it.
  testing::TempDir dir("oneshot");
  s.add_example("square", example({0, 1}));
  s.save(dir / "s.json");
  try {
    OneShotStore::load(dir / "s.json").check_model(b);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find((dir / "s.json").string()), std::string::npos);
  }
  // Layers that give no per-cell features are refused with the valid range.
  EXPECT_THROW(OneShotStore::for_model(a, EmbedOptions{1}), Error);
  EXPECT_THROW(OneShotStore::for_model(a, EmbedOptions{5}), Error);
  EXPECT_NO_THROW(OneShotStore::for_model(a, EmbedOptions{3}));
}

TEST(OneShotModel, FingerprintOfTheOfficialNetTakesAFractionOfASecond) {
  const Model m = official_model(0, testing::synthetic_weights_dir());
  const auto t0 = std::chrono::steady_clock::now();
  const std::string f = model_fingerprint(m);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "fingerprint of the fast net's 145 M floats: " << s << " s\n";
  EXPECT_LT(s, 1.5) << "the documented cost is about 0.1 s";
  EXPECT_EQ(f.size(), 16u);
}

// ---------------------------------------------------------------------------------------------
// Regions, thumbnails, localization on constructed maps

TEST(OneShotRegion, BoxesGrowByTheContextAndAreClampedToTheImage) {
  const Tensor img(3, 100, 200);
  const Box whole = embedding_region(img, std::nullopt, 0.1f);
  EXPECT_EQ(whole.x2, 200);
  EXPECT_EQ(whole.y2, 100);
  const Box r = embedding_region(img, Box{50, 20, 150, 70}, 0.1f);
  EXPECT_FLOAT_EQ(r.x1, 40);
  EXPECT_FLOAT_EQ(r.x2, 160);
  EXPECT_FLOAT_EQ(r.y1, 15);
  EXPECT_FLOAT_EQ(r.y2, 75);
  const Box clamped = embedding_region(img, Box{-30, 90, 20.5f, 130}, 0.1f);
  EXPECT_FLOAT_EQ(clamped.x1, 0);
  EXPECT_FLOAT_EQ(clamped.x2, 26);  // ceil(20.5 + 5.05)
  EXPECT_FLOAT_EQ(clamped.y2, 100);
  EXPECT_THROW(embedding_region(img, Box{300, 10, 400, 50}, 0.1f), Error);  // outside
  EXPECT_THROW(embedding_region(img, Box{10, 10, 5, 50}, 0.1f), Error);     // inverted
  EXPECT_THROW(embedding_region(img, Box{10, 10, NAN, 50}, 0.1f), Error);
}

TEST(OneShotRegion, ThumbnailsAreSmallPngs) {
  Tensor img(3, 200, 300, 0.0f);
  testing::draw_object(img, 100, 50);
  const std::vector<uint8_t> png = make_thumbnail(img, std::nullopt);
  ASSERT_GT(png.size(), 8u);
  EXPECT_EQ(png[1], 'P');
  EXPECT_EQ(png[2], 'N');
  EXPECT_EQ(png[3], 'G');
  const Tensor t = decode_image(png);
  EXPECT_EQ(t.w, 96);
  EXPECT_EQ(t.h, 64);
  EXPECT_THROW(decode_image({1, 2, 3}), ImageError);
}

// A 7x7 map of 2-d features: windows of 40 px every 10 px on a 100x100 image.
ScaleMap constructed_map(bool flipped) {
  ScaleMap m;
  m.input = {100, 100};
  m.image_h = m.image_w = 100;
  m.flipped = flipped;
  m.geometry.h = m.geometry.w = 7;
  m.geometry.stride = 10;
  m.geometry.window = 40;
  m.features = Tensor(2, 7, 7);
  for (int y = 0; y < 7; ++y)
    for (int x = 0; x < 7; ++x) m.features.at(0, y, x) = 2;  // "background" everywhere...
  for (int x : {4, 5}) {  // ...but two neighbouring cells that see the object equally well
    m.features.at(0, 2, x) = 0;
    m.features.at(1, 2, x) = 3;
  }
  m.features.at(0, 5, 1) = 1;  // and one that half sees it
  m.features.at(1, 5, 1) = 1;
  return m;
}

TEST(OneShotLocalize, SimilarityMapsBestCellsAndPlateauBoxes) {
  OneShotStore s(identity());
  s.add_example("background", example({1, 0}));
  s.add_example("object", example({0, 1}));
  const std::vector<Localization> loc = localize(s, constructed_map(false));
  ASSERT_EQ(loc.size(), 2u);
  const Localization& o = loc[1];
  EXPECT_EQ(o.cls, 1);
  ASSERT_EQ(o.maps.size(), 1u);
  EXPECT_EQ(o.maps[0].h, 7);
  EXPECT_EQ(o.maps[0].w, 7);
  EXPECT_NEAR(o.maps[0].at(0, 5, 1), std::sqrt(0.5f), 1e-6f);
  EXPECT_NEAR(o.maps[0].at(0, 0, 0), 0.0f, 1e-6f);
  EXPECT_FLOAT_EQ(o.score, 1.0f);
  EXPECT_EQ(o.map, 0);
  EXPECT_EQ(o.y, 2);
  EXPECT_EQ(o.x, 4);
  // The two tied windows [40, 80] and [50, 90] average to [45, 85]; rows [20, 60].
  EXPECT_FLOAT_EQ(o.box.x1, 45);
  EXPECT_FLOAT_EQ(o.box.x2, 85);
  EXPECT_FLOAT_EQ(o.box.y1, 20);
  EXPECT_FLOAT_EQ(o.box.y2, 60);

  // A mirrored map comes back in image order, its windows unmirrored.
  const std::vector<Localization> f = localize(s, constructed_map(true));
  EXPECT_NEAR(f[1].maps[0].at(0, 5, 5), std::sqrt(0.5f), 1e-6f);  // column 1 mirrored to 5
  EXPECT_EQ(f[1].y, 2);
  EXPECT_EQ(f[1].x, 1);              // image columns 1 and 2; the first in image order
  EXPECT_FLOAT_EQ(f[1].box.x1, 15);  // mirror image windows [40, 80], [50, 90] -> [20, 60],
  EXPECT_FLOAT_EQ(f[1].box.x2, 55);  // [10, 50]
  // Over several maps: the best of all, each map kept.
  DenseResult both;
  both.maps = {constructed_map(false), constructed_map(true)};
  both.maps[1].features.at(1, 2, 4) = 4;  // tilt the mirrored map's cell: the best overall
  both.maps[1].features.at(0, 2, 4) = 0.1f;
  const std::vector<Localization> b = localize(s, both);
  EXPECT_EQ(b[1].maps.size(), 2u);
  EXPECT_FLOAT_EQ(b[1].score, 1.0f);
  EXPECT_EQ(b[1].map, 0);  // ties go to the first map
  // The whole-frame embedding averages every cell of every map.
  const std::vector<float> e = embed(both);
  EXPECT_NEAR(dot(e, e), 1.0f, 1e-6f);
  EXPECT_GT(e[0], e[1]);
  // Without features, a clear error.
  ScaleMap bare = constructed_map(false);
  bare.features = Tensor();
  EXPECT_THROW(localize(s, bare), Error);
  // With two examples a class, the classifier also judges each class's best cell.
  EXPECT_TRUE(o.probabilities.empty());
  OneShotStore two = s;
  two.add_example("background", example({1, 0.1f}));
  two.add_example("object", example({0.1f, 1}));
  const std::vector<Localization> judged = localize(two, constructed_map(false));
  for (const Localization& l : judged) {
    ASSERT_EQ(l.probabilities.size(), 2u);
    EXPECT_GT(l.probabilities[l.cls], 0.5f);
    EXPECT_TRUE(l.agrees);
    EXPECT_TRUE(l.located(0.5f));
    EXPECT_FALSE(l.located(l.score + 1e-3f));
  }
  // Features of another size than the store's.
  OneShotStore wide(identity());
  wide.add_example("x", example(unit(0)));
  EXPECT_THROW(localize(wide, constructed_map(false)), Error);
}

// The taught classes in every mode: cell maps of the calibrated chance of each taught class,
// which the detection pipeline turns into classes, boxes and heat maps like a model's own.
TEST(OneShotLocalize, TaughtClassMapsAreClassesForEveryMode) {
  OneShotStore s(identity());
  s.add_example("background", example({1, 0}));
  s.add_example("object", example({0, 1}));
  const ScaleMap m = constructed_map(false);
  const DenseResult maps = taught_class_maps(s, DenseResult{{m}, {}});
  ASSERT_EQ(maps.maps.size(), 1u);
  const ScaleMap& t = maps.maps[0];
  EXPECT_EQ(t.probs.c, 2);
  EXPECT_EQ(t.probs.h, 7);
  EXPECT_EQ(t.background, -1);
  EXPECT_EQ(t.features.size(), 0u);
  // Each cell: exactly what recognize() answers for its embedding.
  for (const auto& [y, x] : std::vector<std::pair<int, int>>{{2, 4}, {0, 0}, {5, 1}}) {
    const Recognition r = recognize(s, {m.features.at(0, y, x), m.features.at(1, y, x)});
    for (int k = 0; k < 2; ++k)
      EXPECT_FLOAT_EQ(t.probs.at(k, y, x), r.cls >= 0 ? r.confidences[k] : 0.0f)
          << y << "," << x << " class " << k;
  }
  EXPECT_GT(t.probs.at(1, 2, 4), 0.5f);  // the object's cells
  EXPECT_LT(t.probs.at(1, 0, 0), 0.1f);  // the background's
  // A strict threshold: every cell "unknown", every map zero.
  const DenseResult strict = taught_class_maps(s, DenseResult{{m}, {}}, 1.01f);
  for (float v : strict.maps[0].probs.data) EXPECT_EQ(v, 0.0f);
  // Through the detection pipeline: the object's box is its cells' windows.
  DetectOptions o;
  o.max_detections = 0;  // all: the taught "background" class covers the rest of the frame
  const DetectResult d = detect_in_maps(maps, {}, o);
  ASSERT_FALSE(d.merged.empty());
  bool found = false;
  for (const Detection& det : d.merged)  // ranked: the object's best box first
    if (det.cls == 1 && !found) {
      found = true;
      EXPECT_NEAR((det.box.x1 + det.box.x2) / 2, 65, 6);  // windows [40, 80] and [50, 90]
      EXPECT_NEAR((det.box.y1 + det.box.y2) / 2, 40, 6);  // rows [20, 60]
    }
  EXPECT_TRUE(found);
  // Features of another size are refused.
  OneShotStore wide(identity());
  wide.add_example("x", example(unit(0)));
  EXPECT_THROW(taught_class_maps(wide, DenseResult{{m}, {}}), Error);
}

// ---------------------------------------------------------------------------------------------
// End to end on the device with the marker model (needs DenseOptions::feature_layer: dense.cpp)

class OneShotMarkers : public testing::VulkanTest {};

// A 64x64 image (one window of the marker net) with an object whose marker lies at (x, y).
Tensor window_image(int x, int y) {
  Tensor img(3, 64, 64, 0.0f);
  testing::draw_object(img, x, y);
  return img;
}

TEST_F(OneShotMarkers, LearnRecognizeAndLocalizeASquare) {
  const Model model = testing::marker_model();
  DenseEvaluator ev(*ctx_, model);
  OneShotStore store = OneShotStore::for_model(model);
  // Learn from a box on a larger image: the box and its 10 % context make the 64x64 region
  // [88, 152) x [48, 112), with the object's marker 12 px inside, as in window_image(12, 12).
  Tensor scene(3, 150, 200, 0.0f);
  testing::draw_object(scene, 100, 60);
  const Box drawn{93.5f, 53.5f, 146.5f, 106.5f};
  const Box region = embedding_region(scene, drawn, store.identity().context);
  ASSERT_FLOAT_EQ(region.x1, 88);
  ASSERT_FLOAT_EQ(region.width(), 64);
  store.add_example("square", make_example(ev, store, scene, drawn, "scene.png"));
  EXPECT_EQ(store.dims(), 2);  // the marker net's logits: background, square
  const LearnedExample& ex = store.classes()[0].examples[0];
  EXPECT_EQ(ex.source, "scene.png [93.5,53.5,146.5,106.5]");
  EXPECT_FALSE(ex.thumbnail.empty());
  EXPECT_EQ(ex.time.size(), 20u);
  // The square's embedding: no background logit, a positive square logit.
  EXPECT_NEAR(store.classes()[0].prototype[0], 0.0f, 1e-5f);
  EXPECT_NEAR(store.classes()[0].prototype[1], 1.0f, 1e-5f);
  // The whole image gives the same (one window, no box).
  EXPECT_NEAR(embed(ev, window_image(12, 12), std::nullopt, store)[1], 1.0f, 1e-5f);

  // Another square elsewhere in its window: recognized.
  const Recognition r = recognize(store, embed(ev, window_image(20, 16), std::nullopt, store));
  EXPECT_EQ(r.name, "square");
  EXPECT_NEAR(r.similarity, 1.0f, 1e-5f);
  EXPECT_GT(r.confidence, 0.5f);
  // An untaught object (a square without the marker) and an empty image: unknown.
  Tensor plain = window_image(20, 16);
  for (int y = 16; y < 20; ++y)
    for (int x = 20; x < 24; ++x) plain.at(0, y, x) = 255, plain.at(1, y, x) = 0;
  EXPECT_EQ(recognize(store, embed(ev, plain, std::nullopt, store)).name, "unknown");
  const Recognition empty =
      recognize(store, embed(ev, Tensor(3, 64, 64, 0.0f), std::nullopt, store));
  EXPECT_EQ(empty.name, "unknown");
  EXPECT_NEAR(empty.similarity, -1.0f, 1e-5f);

  // Localize: dense features on a 240x320 image with one square at (200, 148).
  Tensor big(3, 240, 320, 0.0f);
  testing::draw_object(big, 200, 148);
  DenseOptions d;
  d.boxes = false;
  d.feature_layer = store.identity().feature_layer;
  const DenseResult dense = ev.evaluate(big, {{240, 320}}, d);
  ASSERT_EQ(dense.maps.size(), 1u);
  ASSERT_EQ(dense.maps[0].features.c, 2) << "dense.cpp gives no features yet";
  const std::vector<Localization> loc = localize(store, dense);
  ASSERT_EQ(loc.size(), 1u);
  EXPECT_NEAR(loc[0].score, 1.0f, 1e-5f);
  EXPECT_EQ(loc[0].maps[0].h, dense.maps[0].probs.h);
  const Box b = loc[0].box;
  EXPECT_NEAR(b.cx(), 216, 12) << b.x1 << " " << b.y1 << " " << b.x2 << " " << b.y2;
  EXPECT_NEAR(b.cy(), 164, 12) << b.x1 << " " << b.y1 << " " << b.x2 << " " << b.y2;
  EXPECT_NEAR(b.width(), 64, 1);
  // Recognizing the densely evaluated frame: the mean over its cells is mostly empty floor.
  EXPECT_EQ(recognize(store, dense).name, "unknown");
}

// The benchmark answers by recognize_frame's rule from its parts, kept per image
// (frame_windows without the probability maps, localize, recognize_with_windows): the same
// answer as the app's and `overfeat recognize`'s.
TEST_F(OneShotMarkers, FrameRuleFromItsPartsIsRecognizeFrame) {
  const Model model = testing::marker_model();
  DenseEvaluator ev(*ctx_, model);
  OneShotStore store = OneShotStore::for_model(model);
  store.add_example("square", make_example(ev, store, window_image(12, 12), std::nullopt, "a"));
  // A small square in a large empty frame: the whole frame's mean is mostly empty floor, one
  // window holds the square.
  Tensor big(3, 240, 320, 0.0f);
  testing::draw_object(big, 200, 148);
  const Recognition whole = recognize(store, embed(ev, big, std::nullopt, store));
  EXPECT_EQ(whole.name, "unknown");
  const FrameAnswer frame = recognize_frame(ev, store, big, std::nullopt, "240x320", {});
  EXPECT_EQ(frame.recognition.name, "square");
  EXPECT_GT(frame.recognition.similarity, whole.similarity);

  DenseResult windows = frame_windows(ev, store, big, std::nullopt, "240x320", {});
  for (ScaleMap& m : windows.maps) m.probs = Tensor();
  const Recognition parts = recognize_with_windows(store, whole, localize(store, windows));
  EXPECT_EQ(parts.name, frame.recognition.name);
  EXPECT_EQ(parts.similarities, frame.recognition.similarities);
  EXPECT_EQ(parts.confidence, frame.recognition.confidence);
}

}  // namespace
}  // namespace overfeat
