// SPDX-License-Identifier: MIT
// `overfeat bench oneshot`: N-way K-shot episodes on photographs, through the same code as
// `overfeat learn | recognize` (OneShotStore, recognize()). Every image is embedded once and
// kept in memory, so the episodes themselves cost next to nothing.
//
// Groups, reported separately: Caltech-101 categories the model never saw (its metadata's
// held_out_categories: what counts), Caltech-101 categories it was trained on (their test-split
// images, never trained on), and PASCAL VOC 2007 val object crops (trained classes, unseen
// images). Per episode: N classes are taught from K examples each and tested on other images of
// them (closed-set accuracy: the most similar class; open-set accuracy: also above the
// threshold), and as many queries of N classes not taught test "unknown" (false accepts: a
// taught class answered). The calibration (logistic on similarity and margin -> right?) and the
// threshold are fitted on the training categories only, unless told otherwise.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <sstream>

#include "common.hpp"
#include "overfeat/evaluation.hpp"
#include "overfeat/graph_oneshot.hpp"
#include "overfeat/linear_classifier.hpp"
#include "overfeat/logistic.hpp"
#include "overfeat/oneshot.hpp"
#include "progress.hpp"

namespace overfeat::cli {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

fs::path default_data_dir() {
  if (const char* e = std::getenv("OVERFEAT_DATA"); e && *e) return e;
  return fs::path(OVERFEAT_SOURCE_BENCH_DIR).parent_path().parent_path() / "shared" / "data";
}

// One image (or object crop) to embed.
struct Item {
  int group = 0;
  std::string category;
  fs::path path;
  std::optional<Box> box;
  std::vector<float> embedding;  // empty when it could not be read
  DenseResult windows;           // --rule frame: frame_windows() (features only)
};

struct Group {
  std::string name;  // short, for tables
  std::string what;  // a sentence, for the header
  bool trained = false;
  std::map<std::string, std::vector<int>> items;  // category -> indices into the item list
};

// One query of one episode.
struct Query {
  bool taught = false;
  bool correct = false;   // taught and the most similar class is its class
  bool accepted = false;  // similarity >= threshold
  float similarity = 0, margin = 0;
  std::vector<float> wrong;  // similarities to the taught classes it is not (taught queries)
};

struct Stat {
  std::vector<double> v;
  double mean() const {
    return v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / v.size();
  }
  // Half-width of the 95 % confidence interval of the mean over episodes (normal approximation,
  // as few-shot papers report it).
  double ci95() const {
    if (v.size() < 2) return 0;
    const double m = mean();
    double ss = 0;
    for (double x : v) ss += (x - m) * (x - m);
    return 1.96 * std::sqrt(ss / (v.size() - 1)) / std::sqrt(static_cast<double>(v.size()));
  }
};

double log_loss(const std::vector<float>& p, const std::vector<int>& y) {
  double s = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const double q = std::clamp(static_cast<double>(p[i]), 1e-7, 1 - 1e-7);
    s -= y[i] ? std::log(q) : std::log(1 - q);
  }
  return p.empty() ? 0 : s / p.size();
}

// Expected calibration error over 10 equal-width confidence bins.
double ece(const std::vector<float>& p, const std::vector<int>& y) {
  double bins_p[10] = {}, bins_y[10] = {};
  int n[10] = {};
  for (size_t i = 0; i < p.size(); ++i) {
    const int b = std::clamp(static_cast<int>(p[i] * 10), 0, 9);
    bins_p[b] += p[i];
    bins_y[b] += y[i];
    ++n[b];
  }
  double e = 0;
  for (int b = 0; b < 10; ++b)
    if (n[b]) e += std::abs(bins_p[b] - bins_y[b]) / std::max<size_t>(p.size(), 1);
  return e;
}

std::vector<int> parse_int_list(const std::string& text, const std::string& what) {
  std::vector<int> v;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ',')) {
    try {
      size_t used = 0;
      const int k = std::stoi(part, &used);
      if (used != part.size() || k < 1) throw std::invalid_argument(part);
      v.push_back(k);
    } catch (const std::exception&) {
      throw Error(what + " '" + text + "' is not a list of positive numbers such as 1,5");
    }
  }
  if (v.empty()) throw Error(what + " is empty");
  return v;
}

// The smallest threshold that lets at most `far` of these (sorted) similarities through.
float threshold_for(const std::vector<float>& sorted, double far) {
  const size_t at = static_cast<size_t>(std::ceil((1 - far) * static_cast<double>(sorted.size())));
  return at >= sorted.size() ? sorted.back() + 1e-3f : sorted[at];
}

// A stable string hash (std::hash is not the same everywhere), for seeds.
uint32_t fnv1a(const std::string& s) {
  uint32_t h = 2166136261u;
  for (unsigned char ch : s) h = (h ^ ch) * 16777619u;
  return h;
}

std::string pct(double v, int digits = 1) {
  return fixed(100 * v, digits);
}

}  // namespace

int run_bench_oneshot(int argc, char** argv) {
  Common c;
  std::string caltech_dir, voc_dir, shots_text = "1,5", framing = "fit", fit_on = "training";
  std::string rule = "frame";
  int ways = 5, episodes = 200, queries = 10, per_class = 15, seed = 1, min_box = 40;
  std::string layer_text;
  float context = 0.1f, target_far = 0.10f;
  std::optional<float> threshold;
  std::string linear_text = "1e-2";
  std::string json_file;
  CLI::App app{
      "One-shot learning benchmark: N-way K-shot episodes on Caltech-101 (categories the model "
      "never saw, reported apart from those it was trained on) and PASCAL VOC 2007 object crops; "
      "accuracy with a 95 % confidence interval, the false-accept rate of untaught classes at the "
      "threshold, and the calibration fitted on training categories."};
  add_common(app, c, false, true);
  app.add_option("--rule", rule,
                 "frame: answer as `overfeat recognize` and the app do, with the better of the "
                 "whole image and its best window at --scales (recognize_frame); whole: the "
                 "whole image only (embed(), several times faster)")
      ->check(CLI::IsMember({"frame", "whole"}))
      ->capture_default_str();
  app.add_option("--caltech", caltech_dir,
                 "Caltech-101 folder (annotations.jsonl + images/; default "
                 "$OVERFEAT_DATA/caltech101 or ../shared/data/caltech101; none to skip)");
  app.add_option("--voc", voc_dir, "PASCAL VOC 2007 folder (default likewise; none to skip)");
  app.add_option("--ways", ways, "Classes taught per episode (N)")
      ->check(CLI::Range(2, 100))
      ->capture_default_str();
  app.add_option("--shots", shots_text, "Examples per taught class (K), a list")
      ->capture_default_str();
  app.add_option("--episodes", episodes, "Episodes per group and K")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--queries", queries, "Test images per class and episode (at most)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--per-class", per_class, "Images embedded per category (at most)")
      ->check(CLI::Range(2, 100000))
      ->capture_default_str();
  app.add_option("--min-box", min_box, "VOC: smallest object side used, in pixels")
      ->capture_default_str();
  app.add_option("--seed", seed, "Seed of the image choice and the episodes")
      ->capture_default_str();
  app.add_option("--layer", layer_text,
                 "Feature layer (default: the model's): a number, or a classic network's node");
  app.add_option("--framing", framing, "square or fit (see oneshot.hpp)")
      ->check(CLI::IsMember({"square", "fit"}))
      ->capture_default_str();
  app.add_option("--context", context, "Context around VOC boxes, a fraction of the box")
      ->capture_default_str();
  app.add_option("--threshold", threshold,
                 "Similarity below which the answer is unknown (default: the code's calibration)");
  app.add_option("--fit-on", fit_on,
                 "Groups the calibration and threshold are fitted on: training (training "
                 "categories only), held-out, or all")
      ->check(CLI::IsMember({"training", "held-out", "all"}))
      ->capture_default_str();
  app.add_option("--target-far", target_far,
                 "The fitted threshold lets at most this share of untaught queries through")
      ->capture_default_str();
  app.add_option("--linear-l2", linear_text,
                 "With K >= 2 shots: also the closed-set accuracy of the linear classifier the "
                 "store trains (linear_classifier.hpp), for each ridge in this list (none: skip)")
      ->capture_default_str();
  output_file(app.add_option("--json", json_file, "Also write the figures as JSON to FILE"));
  if (const int rc = parse_or_exit(app, argc, argv); rc >= 0) return rc;
  const std::vector<int> shots = parse_int_list(shots_text, "--shots");
  std::vector<double> linear_l2;
  if (linear_text != "none") {
    std::stringstream ss(linear_text);
    std::string item;
    while (std::getline(ss, item, ',')) {
      try {
        linear_l2.push_back(std::stod(item));
      } catch (const std::exception&) {
        throw Error("--linear-l2: '" + item + "' is not a number");
      }
      if (!(linear_l2.back() > 0)) throw Error("--linear-l2: each ridge must be positive");
    }
  }
  if (caltech_dir.empty()) caltech_dir = (default_data_dir() / "caltech101").string();
  if (voc_dir.empty()) voc_dir = (default_data_dir() / "voc2007").string();

  std::string command = "overfeat bench oneshot";
  for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];

  const bool frame_rule = rule == "frame";
  Session s(c);
  EmbedOptions eo;
  eo.framing = parse_framing(framing);
  eo.context = context;
  // A classic network (graph_oneshot.hpp): its node's features, by the dense evaluator.
  std::unique_ptr<GraphEmbedder> graph_embedder;
  if (s.graph) {
    eo.feature_layer = graph_feature_node(*s.graph, layer_text);
    graph_embedder = std::make_unique<GraphEmbedder>(*s.graph_eval, *s.graph);
  } else if (layer_text.empty()) {
    eo.feature_layer = s.model.net.default_feature_layer;
  } else {
    try {
      eo.feature_layer = std::stoi(layer_text);
    } catch (const std::exception&) {
      throw Error("--layer " + layer_text + ": a layer number of the model");
    }
  }
  const OneShotStore proto_store = s.graph ? graph_store(*s.graph, "bench", eo.feature_layer, eo)
                                           : OneShotStore::for_model(s.model, "bench", eo);
  const Calibration default_cal = default_calibration();
  const float tau = threshold ? *threshold : default_cal.threshold;

  // Held-out categories: what the model's training left out entirely.
  std::set<std::string> held_out;
  bool have_held_out = false;
  if (auto it = s.model.metadata.find("held_out_categories"); it != s.model.metadata.end()) {
    try {
      for (const auto& v : json::parse(it->second)) held_out.insert(v.get<std::string>());
      have_held_out = !held_out.empty();
    } catch (const json::exception&) {
      std::cerr << "overfeat bench oneshot: the model's held_out_categories is not a JSON list; "
                   "ignored\n";
    }
  }

  std::vector<Item> items;
  std::vector<Group> groups;
  auto take = [&](Group& g, const std::string& category, std::vector<Item> candidates) {
    // Seeded by the group and category names: a group's images and episodes do not depend on
    // which other groups run (--caltech none gives the same VOC figures).
    std::seed_seq sq{static_cast<uint32_t>(seed), fnv1a(g.name), fnv1a(category)};
    std::mt19937 pick(sq);
    std::shuffle(candidates.begin(), candidates.end(), pick);
    if (static_cast<int>(candidates.size()) > per_class) candidates.resize(per_class);
    for (Item& it : candidates) {
      it.group = static_cast<int>(groups.size());
      g.items[category].push_back(static_cast<int>(items.size()));
      items.push_back(std::move(it));
    }
  };
  std::vector<std::string> notes;
  if (caltech_dir != "none" && fs::exists(fs::path(caltech_dir) / "annotations.jsonl")) {
    const Dataset data = load_dataset(caltech_dir);
    std::map<std::string, std::vector<const DatasetImage*>> by_category;
    for (const DatasetImage& im : data.images)
      if (!im.label.empty() && im.label != "BACKGROUND_Google")
        by_category[im.label].push_back(&im);
    Group never, trained;
    never.name = "caltech never trained";
    trained.name = "caltech trained cats";
    trained.trained = true;
    if (have_held_out) {
      never.what = "Caltech-101, the " + std::to_string(held_out.size()) +
                   " categories held out of the model's training (whole images, any split)";
      trained.what =
          "Caltech-101, categories the model was trained on (whole images of the test split, "
          "never trained on)";
    } else {
      never.name = "caltech all cats";
      never.what =
          "Caltech-101, all categories (whole images). The model lists no held-out categories: "
          "for the official nets (ImageNet) many Caltech categories match ImageNet classes, so "
          "'never trained on' holds only approximately";
    }
    for (int pass = 0; pass < 2; ++pass) {
      Group& g = pass == 0 ? never : trained;
      if (pass == 1 && !have_held_out) break;
      for (const auto& [category, ims] : by_category) {
        const bool is_held_out = !have_held_out || held_out.count(category);
        if (is_held_out != (pass == 0)) continue;
        std::vector<Item> cand;
        for (const DatasetImage* im : ims)
          if (is_held_out || im->split == "test") cand.push_back({0, category, im->path, {}, {}});
        take(g, category, std::move(cand));
      }
      groups.push_back(std::move(g));
    }
    if (have_held_out)
      for (const std::string& h : held_out)
        if (!by_category.count(h))
          notes.push_back("held-out category " + h + " is not in " + caltech_dir);
  } else if (caltech_dir != "none") {
    std::cerr << "overfeat bench oneshot: no Caltech-101 at " << caltech_dir
              << " (annotations.jsonl); skipped\n";
  }
  if (voc_dir != "none" && fs::exists(fs::path(voc_dir) / "annotations.jsonl")) {
    const Dataset data = load_dataset(voc_dir, "val");
    Group g;
    g.name = "voc val crops";
    g.what = "PASCAL VOC 2007 val object crops (boxes of at least " + std::to_string(min_box) +
             " px, not difficult, the largest per class and image; classes the project's model "
             "was trained on, images it was not)";
    g.trained = have_held_out;  // the official nets' ImageNet classes cover VOC's too
    std::map<std::string, std::vector<Item>> by_class;
    for (const DatasetImage& im : data.images) {
      std::map<std::string, const DatasetObject*> largest;
      for (const DatasetObject& o : im.objects) {
        if (o.difficult || std::min(o.box.width(), o.box.height()) < min_box) continue;
        auto& l = largest[o.cls];
        if (!l || o.box.area() > l->box.area()) l = &o;
      }
      for (const auto& [cls, o] : largest) by_class[cls].push_back({0, cls, im.path, o->box, {}});
    }
    for (auto& [cls, cand] : by_class) take(g, cls, std::move(cand));
    groups.push_back(std::move(g));
  } else if (voc_dir != "none") {
    std::cerr << "overfeat bench oneshot: no PASCAL VOC 2007 at " << voc_dir
              << " (annotations.jsonl); skipped\n";
  }
  if (items.empty()) throw Error("Nothing to benchmark: no data set found (--caltech, --voc)");

  // Embeddings, once per item.
  {
    ProgressBar bar("embedding", items.size());
    std::string loaded;
    Tensor rgb;
    int failed = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      Item& it = items[i];
      try {
        if (loaded != it.path.string()) {
          rgb = image::load_rgb(it.path);
          loaded = it.path.string();
        }
        it.embedding = graph_embedder ? graph_embedder->embed(rgb, it.box, eo.feature_layer, eo)
                                      : embed(*s.eval, rgb, it.box, eo);
        if (frame_rule) {
          it.windows = graph_embedder ? frame_windows(*graph_embedder, *s.graph_eval, proto_store,
                                                      rgb, it.box, s.opt.scales)
                                      : frame_windows(*s.eval, proto_store, rgb, it.box,
                                                      s.opt.scales, s.opt.dense);
          for (ScaleMap& m : it.windows.maps) m.probs = Tensor();  // localize() reads features
        }
      } catch (const ImageError& e) {
        std::cerr << "\noverfeat bench oneshot: " << e.what() << " (skipped)\n";
        ++failed;
      }
      bar.update(i + 1);
    }
    bar.finish();
    std::cerr << "embedded " << items.size() - failed << " images in " << fixed(bar.seconds(), 1)
              << " s (" << fixed(1000 * bar.seconds() / std::max<size_t>(items.size(), 1), 1)
              << " ms each)\n";
    for (Group& g : groups)
      for (auto& [cat, idx] : g.items)
        idx.erase(std::remove_if(idx.begin(), idx.end(),
                                 [&](int k) { return items[k].embedding.empty(); }),
                  idx.end());
  }

  // Episodes.
  const auto episodes_start = std::chrono::steady_clock::now();
  struct Cell {
    int group = 0, shots = 0, ways = 0, classes = 0, episodes = 0;
    Stat accuracy, accuracy_at, far;
    std::vector<Stat> linear;  // per --linear-l2 value: closed-set accuracy of the classifier
    std::vector<Query> queries;
  };
  std::vector<Cell> cells;
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const Group& g = groups[gi];
    for (int k : shots) {
      std::vector<std::string> cats;
      for (const auto& [cat, idx] : g.items)
        if (static_cast<int>(idx.size()) > k) cats.push_back(cat);
      Cell cell;
      cell.group = static_cast<int>(gi);
      cell.shots = k;
      cell.classes = static_cast<int>(cats.size());
      cell.ways = std::min<int>(ways, static_cast<int>(cats.size()) - 1);
      if (k >= 2) cell.linear.resize(linear_l2.size());
      if (cell.ways < 2) {
        notes.push_back(g.name + ", " + std::to_string(k) + "-shot: fewer than 3 categories with " +
                        std::to_string(k + 1) + " images; skipped");
        continue;
      }
      std::seed_seq sq{static_cast<uint32_t>(seed), fnv1a(g.name), static_cast<uint32_t>(k)};
      std::mt19937 rng(sq);
      for (int e = 0; e < episodes; ++e) {
        std::vector<std::string> order = cats;
        std::shuffle(order.begin(), order.end(), rng);
        const int n_untaught = std::min<int>(cell.ways, static_cast<int>(order.size()) - cell.ways);
        OneShotStore store = proto_store;
        std::vector<std::pair<int, int>> tests;  // item, taught class index or -1
        for (int ci = 0; ci < cell.ways + n_untaught; ++ci) {
          std::vector<int> idx = g.items.at(order[ci]);
          std::shuffle(idx.begin(), idx.end(), rng);
          if (ci < cell.ways) {
            for (int j = 0; j < k; ++j)
              store.add_example(order[ci], {items[idx[j]].embedding, {}, {}, {}});
            for (int j = k; j < std::min<int>(idx.size(), k + queries); ++j)
              tests.push_back({idx[j], ci});
          } else {
            for (int j = 0; j < std::min<int>(idx.size(), queries); ++j)
              tests.push_back({idx[j], -1});
          }
        }
        int taught = 0, right = 0, right_at = 0, untaught = 0, accepted = 0;
        for (const auto& [item, truth] : tests) {
          Recognition r = recognize(store, items[item].embedding, tau);
          if (frame_rule)
            r = recognize_with_windows(store, r, localize(store, items[item].windows), tau);
          Query q;
          q.taught = truth >= 0;
          q.correct = q.taught && r.best == truth;
          q.accepted = r.cls >= 0;
          q.similarity = r.similarity;
          q.margin = r.margin;
          if (q.taught)
            for (int j = 0; j < static_cast<int>(r.similarities.size()); ++j)
              if (j != truth) q.wrong.push_back(r.similarities[j]);
          if (q.taught) {
            ++taught;
            right += q.correct;
            right_at += q.correct && q.accepted;
          } else {
            ++untaught;
            accepted += q.accepted;
          }
          cell.queries.push_back(std::move(q));
        }
        for (size_t li = 0; li < cell.linear.size() && taught; ++li) {
          std::vector<std::vector<float>> xs;
          std::vector<int> ys;
          for (int ci = 0; ci < cell.ways; ++ci)
            for (const LearnedExample& e : store.classes()[ci].examples) {
              xs.push_back(e.embedding);
              ys.push_back(ci);
            }
          LinearClassifierOptions lo;
          lo.l2 = linear_l2[li];
          const LinearClassifier f = LinearClassifier::fit(xs, ys, cell.ways, lo);
          int linear_right = 0;
          for (const auto& [item, truth] : tests) {
            if (truth < 0) continue;
            std::vector<float> q = items[item].embedding;
            l2_normalize(q);
            const std::vector<float> p = f.probabilities(q.data());
            linear_right += std::max_element(p.begin(), p.end()) - p.begin() == truth;
          }
          cell.linear[li].v.push_back(static_cast<double>(linear_right) / taught);
        }
        if (taught) {
          cell.accuracy.v.push_back(static_cast<double>(right) / taught);
          cell.accuracy_at.v.push_back(static_cast<double>(right_at) / taught);
        }
        if (untaught) cell.far.v.push_back(static_cast<double>(accepted) / untaught);
        ++cell.episodes;
      }
      cells.push_back(std::move(cell));
    }
  }

  std::cerr << "episodes: "
            << fixed(
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - episodes_start)
                       .count(),
                   2)
            << " s\n";

  // Calibration: logistic regression of "the most similar class is right" on similarity and
  // margin, over taught and untaught queries of the groups chosen by --fit-on.
  auto fits = [&](const Cell& cell) {
    const bool trained = groups[cell.group].trained;
    return fit_on == "all" || (fit_on == "training") == trained;
  };
  std::vector<std::vector<double>> x2, x3;
  std::vector<int> y;
  std::vector<float> untaught_sims, wrong_sims;
  for (const Cell& cell : cells) {
    if (!fits(cell)) continue;
    for (const Query& q : cell.queries) {
      x2.push_back({1.0, q.similarity});
      x3.push_back({1.0, q.similarity, q.margin});
      y.push_back(q.correct);
      if (!q.taught) untaught_sims.push_back(q.similarity);
      wrong_sims.insert(wrong_sims.end(), q.wrong.begin(), q.wrong.end());
    }
  }
  Calibration fitted = default_cal;
  bool have_fit = false;
  std::vector<double> w2, w3;
  if (!y.empty() && std::count(y.begin(), y.end(), 1) > 0 &&
      std::count(y.begin(), y.end(), 0) > 0) {
    have_fit = true;
    w2 = fit_logistic(x2, y);
    w3 = fit_logistic(x3, y);
    fitted.bias = static_cast<float>(w3[0]);
    fitted.w_similarity = static_cast<float>(w3[1]);
    fitted.w_margin = static_cast<float>(w3[2]);
    if (!untaught_sims.empty()) {
      std::sort(untaught_sims.begin(), untaught_sims.end());
      fitted.threshold = threshold_for(untaught_sims, target_far);
    }
    if (!wrong_sims.empty())
      fitted.lone_runner_up = static_cast<float>(
          std::accumulate(wrong_sims.begin(), wrong_sims.end(), 0.0) / wrong_sims.size());
  }

  // Report.
  const StoreIdentity& id = proto_store.identity();
  std::cout << "command: " << command << "\n"
            << "model: " << s.store_name() << " (fingerprint " << s.fingerprint() << "), window "
            << s.model.net.window << ", features " << id.layer_name << ", " << framing
            << " framing, context " << context << "\n"
            << "rule: "
            << (frame_rule ? "frame (the whole image or its best window at --scales " +
                                 s.opt.scales + ", as overfeat recognize and the app answer)"
                           : std::string("whole (the whole image only)"))
            << "\n";
  if (auto it = s.model.metadata.find("figures"); it != s.model.metadata.end())
    std::cout << "model figures: " << it->second << "\n";
  std::cout << "device: " << vk::capability_line(*s.ctx) << "\n"
            << "episodes: " << ways << "-way, " << shots_text << "-shot, " << episodes
            << " per group and K, up to " << queries << " queries per class (as many from "
            << "untaught classes), " << per_class << " images per category, seed " << seed
            << "\nthreshold " << fixed(tau, 3)
            << (threshold ? " (--threshold)" : " (the code's default calibration)") << "\n";
  for (const Group& g : groups) {
    size_t n = 0;
    for (const auto& [cat, idx] : g.items) n += idx.size();
    std::cout << "  " << g.name << ": " << g.items.size() << " categories, " << n << " images. "
              << g.what << "\n";
  }
  for (const std::string& note : notes) std::cout << "  note: " << note << "\n";
  std::cout << "\n"
            << std::left << std::setw(24) << "group" << std::setw(8) << "K" << std::right
            << std::setw(8) << "classes" << std::setw(18) << "accuracy %" << std::setw(18)
            << "acc@thr %" << std::setw(18) << "false accept %"
            << "\n";
  json report = {{"command", command},
                 {"model", s.store_name()},
                 {"feature_layer", id.feature_layer},
                 {"framing", framing},
                 {"rule", rule},
                 {"scales", s.opt.scales},
                 {"threshold", tau},
                 {"results", json::array()}};
  for (const Cell& cell : cells) {
    auto pm = [](const Stat& st) { return pct(st.mean()) + " +- " + pct(st.ci95()); };
    std::cout << std::left << std::setw(24) << groups[cell.group].name << std::setw(8)
              << (std::to_string(cell.ways) + "w" + std::to_string(cell.shots) + "s") << std::right
              << std::setw(8) << cell.classes << std::setw(18) << pm(cell.accuracy) << std::setw(18)
              << pm(cell.accuracy_at) << std::setw(18) << pm(cell.far) << "\n";
    for (size_t li = 0; li < cell.linear.size(); ++li)
      std::cout << std::left << std::setw(24) << "" << std::setw(8) << "" << std::right
                << std::setw(8) << "" << std::setw(18) << pm(cell.linear[li])
                << "  linear classifier, l2 " << linear_l2[li] << "\n";
    report["results"].push_back({{"group", groups[cell.group].name},
                                 {"ways", cell.ways},
                                 {"shots", cell.shots},
                                 {"classes", cell.classes},
                                 {"episodes", cell.episodes},
                                 {"accuracy", cell.accuracy.mean()},
                                 {"accuracy_ci95", cell.accuracy.ci95()},
                                 {"accuracy_at_threshold", cell.accuracy_at.mean()},
                                 {"accuracy_at_threshold_ci95", cell.accuracy_at.ci95()},
                                 {"false_accept", cell.far.mean()},
                                 {"false_accept_ci95", cell.far.ci95()}});
    for (size_t li = 0; li < cell.linear.size(); ++li)
      report["results"].back()["linear"].push_back({{"l2", linear_l2[li]},
                                                    {"accuracy", cell.linear[li].mean()},
                                                    {"accuracy_ci95", cell.linear[li].ci95()}});
  }
  std::cout << "(accuracy: the most similar taught class is right; acc@thr: and its similarity "
               "is at least the threshold; false accept: a query of an untaught class answered "
               "as a taught one. Means over episodes, +- the 95 % confidence interval.)\n";

  if (have_fit) {
    std::cout << "\ncalibration fitted on "
              << (fit_on == "all"        ? "all groups"
                  : fit_on == "training" ? "the training categories"
                                         : "the held-out categories")
              << " (" << y.size() << " queries, " << untaught_sims.size() << " untaught):\n"
              << "  similarity only:      p = 1/(1+exp(-(" << fixed(w2[0], 3) << " + "
              << fixed(w2[1], 3) << " s)))\n"
              << "  similarity + margin:  p = 1/(1+exp(-(" << fixed(w3[0], 3) << " + "
              << fixed(w3[1], 3) << " s + " << fixed(w3[2], 3) << " m)))\n"
              << "  threshold for " << pct(target_far, 0)
              << " % false accepts: " << fixed(fitted.threshold, 3)
              << "; mean similarity to a wrong class (lone runner-up): "
              << fixed(fitted.lone_runner_up, 3) << "\n";
    // How well each calibration predicts, per group (log loss and expected calibration error).
    std::cout << "  " << std::left << std::setw(24) << "group" << std::right << std::setw(22)
              << "log loss s / s+m / code" << std::setw(22) << "ECE % s / s+m / code"
              << "\n";
    for (size_t gi = 0; gi < groups.size(); ++gi) {
      std::vector<float> p2, p3, pd;
      std::vector<int> yy;
      for (const Cell& cell : cells) {
        if (cell.group != static_cast<int>(gi)) continue;
        for (const Query& q : cell.queries) {
          p2.push_back(static_cast<float>(1 / (1 + std::exp(-(w2[0] + w2[1] * q.similarity)))));
          p3.push_back(fitted.confidence(q.similarity, q.margin));
          pd.push_back(default_cal.confidence(q.similarity, q.margin));
          yy.push_back(q.correct);
        }
      }
      if (yy.empty()) continue;
      std::cout << "  " << std::left << std::setw(24) << groups[gi].name << std::right
                << std::setw(22)
                << (fixed(log_loss(p2, yy), 3) + " / " + fixed(log_loss(p3, yy), 3) + " / " +
                    fixed(log_loss(pd, yy), 3))
                << std::setw(22)
                << (pct(ece(p2, yy)) + " / " + pct(ece(p3, yy)) + " / " + pct(ece(pd, yy))) << "\n";
    }
    // Operating points: what other thresholds would give, pooled over each cell's queries.
    const double targets[4] = {0.01, 0.05, 0.10, 0.20};
    float ts[4];
    for (int t = 0; t < 4; ++t) ts[t] = threshold_for(untaught_sims, targets[t]);
    std::cout << "  operating points: thresholds letting 1 / 5 / 10 / 20 % of the fitted groups' "
                 "untaught queries through, and what they give (accuracy at the threshold / "
                 "false accepts, %):\n"
              << "  " << std::left << std::setw(32) << "group" << std::right;
    for (float t : ts) std::cout << std::setw(14) << ("thr " + fixed(t, 3));
    std::cout << "\n";
    json points = json::array();
    for (const Cell& cell : cells) {
      std::cout << "  " << std::left << std::setw(32)
                << (groups[cell.group].name + " " + std::to_string(cell.ways) + "w" +
                    std::to_string(cell.shots) + "s")
                << std::right;
      for (float t : ts) {
        int taught = 0, right = 0, untaught = 0, accepted = 0;
        for (const Query& q : cell.queries) {
          if (q.taught) {
            ++taught;
            right += q.correct && q.similarity >= t;
          } else {
            ++untaught;
            accepted += q.similarity >= t;
          }
        }
        const double acc = taught ? static_cast<double>(right) / taught : 0;
        const double far = untaught ? static_cast<double>(accepted) / untaught : 0;
        std::cout << std::setw(14) << (pct(acc) + " / " + pct(far));
        points.push_back({{"group", groups[cell.group].name},
                          {"shots", cell.shots},
                          {"threshold", t},
                          {"accuracy_at_threshold", acc},
                          {"false_accept", far}});
      }
      std::cout << "\n";
    }
    report["operating_points"] = points;
    std::cout << "  as code (engine/src/oneshot.cpp, default_calibration()):\n"
              << "    c.threshold = " << fixed(fitted.threshold, 3) << "f;\n"
              << "    c.bias = " << fixed(fitted.bias, 3) << "f;\n"
              << "    c.w_similarity = " << fixed(fitted.w_similarity, 3) << "f;\n"
              << "    c.w_margin = " << fixed(fitted.w_margin, 3) << "f;\n"
              << "    c.lone_runner_up = " << fixed(fitted.lone_runner_up, 3) << "f;\n";
    report["fitted_calibration"] = {{"fit_on", fit_on},
                                    {"threshold", fitted.threshold},
                                    {"bias", fitted.bias},
                                    {"w_similarity", fitted.w_similarity},
                                    {"w_margin", fitted.w_margin},
                                    {"lone_runner_up", fitted.lone_runner_up}};
  }
  if (!have_fit)
    std::cout << "\nno calibration fitted: the groups chosen by --fit-on " << fit_on
              << " have no queries of both outcomes"
              << (fit_on == "training" && !have_held_out
                      ? " (the model lists no held-out categories, so no group counts as "
                        "training categories: use --fit-on all)"
                      : "")
              << "\n";
  if (!json_file.empty()) write_text(json_file, report.dump(2) + "\n");
  return 0;
}

}  // namespace overfeat::cli
