// SPDX-License-Identifier: MIT
// `overfeat learn | recognize | learned`: one-shot learning on the command line, with the same
// store files as the app (engine/include/overfeat/oneshot.hpp, docs/oneshot-store.md).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "common.hpp"
#include "overfeat/graph_oneshot.hpp"
#include "overfeat/oneshot.hpp"
#include "overfeat/render.hpp"

namespace overfeat::cli {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

// "x1,y1,x2,y2" in image pixels; throws Error on anything else.
std::optional<Box> parse_box(const std::string& text) {
  if (text.empty()) return std::nullopt;
  std::stringstream ss(text);
  std::string part;
  std::vector<float> v;
  while (std::getline(ss, part, ',')) {
    try {
      size_t used = 0;
      v.push_back(std::stof(part, &used));
      if (used != part.size()) throw std::invalid_argument(part);
    } catch (const std::exception&) {
      v.clear();
      break;
    }
  }
  if (v.size() != 4 || !(v[2] > v[0]) || !(v[3] > v[1]))
    throw Error("'" + text +
                "' is not a box x1,y1,x2,y2 in pixels with x1 < x2 and y1 < y2 (e.g. --box "
                "40,30,200,180)");
  return Box{v[0], v[1], v[2], v[3]};
}

// Checks --box while parsing, so that a malformed box is a usage error (exit code 2).
CLI::Validator box_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        try {
          parse_box(text);
          return "";
        } catch (const Error& e) {
          return e.what();
        }
      },
      "x1,y1,x2,y2");
}

std::vector<std::string> class_names(const OneShotStore& store) {
  std::vector<std::string> names;
  for (const LearnedClass& c : store.classes()) names.push_back(c.name);
  return names;
}

// What a store is tied to, for either kind of model: an OverFeat model (the bundled one, the
// official nets, a model file) or a classic network (graph_oneshot.hpp), and what makes its
// embeddings.
struct StoreModel {
  std::string name, fingerprint;
  std::unique_ptr<GraphEmbedder> graph;  // a classic network's, once the device is open

  explicit StoreModel(const Session& s) : name(s.store_name()), fingerprint(s.fingerprint()) {}

  // The store named with --store, or the user's store of the model.
  fs::path store_path(const std::string& option) const {
    return option.empty() ? default_store_path(name, fingerprint) : fs::path(option);
  }
  void open_device(Session& s) {
    s.open_device();
    if (s.graph) graph = std::make_unique<GraphEmbedder>(*s.graph_eval, *s.graph);
  }
  LearnedExample example(Session& s, const OneShotStore& store, const Tensor& rgb,
                         const std::optional<Box>& box, const std::string& source) {
    if (graph) return graph->make_example(store, rgb, box, source);
    return make_example(*s.eval, store, rgb, box, source);
  }
};

// --layer: release numbering for an OverFeat model, a node's name for a classic network.
int feature_layer(const Session& s, const std::string& text) {
  if (s.graph) return graph_feature_node(*s.graph, text);
  if (text.empty()) return -1;
  try {
    size_t used = 0;
    const int layer = std::stoi(text, &used);
    if (used == text.size() && layer >= 0) return layer;
  } catch (const std::exception&) {
  }
  throw Error("--layer " + text + ": a layer number of the model (e.g. " +
              std::to_string(s.model.net.default_feature_layer) + ")");
}

// ---------------------------------------------------------------------------------------------
// learn

int learn_main(int argc, char** argv) {
  Common c;
  std::string store_file, box_text, framing, layer_text;
  std::string name;
  std::vector<std::string> images;
  CLI::App app{
      "Learn a class from examples: each image (or the --box on it) becomes an embedding of the "
      "model's feature layer, added to the class NAME in a one-shot store (default: the user's "
      "store for the model, shared with the app). More examples refine the class."};
  add_common(app, c, false, false);
  app.add_option("--store", store_file,
                 "Store file (default: $XDG_DATA_HOME/overfeat-studio/oneshot/<model>-<id>.json)");
  app.add_option("--box", box_text, "Learn from this box of every image: x1,y1,x2,y2 in pixels")
      ->check(box_validator());
  app.add_option("--layer", layer_text,
                 "Feature layer: release numbering (default: the model's, e.g. 19), or for a "
                 "classic network a node's name (default: its last pooling); a new store only");
  app.add_option("--framing", framing,
                 "fit (default: smaller side = window, cells averaged) or square (the region "
                 "stretched to one window); a new store only")
      ->check(CLI::IsMember({"square", "fit"}));
  app.add_option("name", name, "The class to learn (new or existing)")->required();
  app.add_option("images", images, "Image files, examples of the class")->required();
  if (const int rc = parse_or_exit(app, argc, argv); rc >= 0) return rc;
  const std::optional<Box> box = parse_box(box_text);
  Session s(c, false);
  StoreModel sm(s);
  const int layer = layer_text.empty() && !s.graph ? -1 : feature_layer(s, layer_text);
  const fs::path file = sm.store_path(store_file);
  OneShotStore store;
  if (fs::exists(file)) {
    store = OneShotStore::load(file);
    store.check_model(sm.name, sm.fingerprint);
    if (!layer_text.empty() && layer != store.identity().feature_layer)
      throw Error("The store " + file.string() + " holds embeddings of " +
                  store.identity().layer_name + ", not " + layer_text +
                  ": leave out --layer, or learn into a new store (--store FILE)");
    if (!framing.empty() && parse_framing(framing) != store.identity().framing)
      throw Error("The store " + file.string() + " was learned with framing " +
                  to_string(store.identity().framing) +
                  ": leave out --framing, or learn into a new store (--store FILE)");
  } else {
    EmbedOptions o;
    o.feature_layer = layer;
    if (!framing.empty()) o.framing = parse_framing(framing);
    store = s.graph ? graph_store(*s.graph, sm.fingerprint, layer, o)
                    : OneShotStore::for_model(s.model, sm.fingerprint, o);
  }
  sm.open_device(s);
  int added = 0;
  const int rc = for_each_image(images, [&](const std::string& path, const Tensor& rgb) {
    store.add_example(name, sm.example(s, store, rgb, box, path));
    ++added;
  });
  if (added > 0) store.save(file);
  const int cls = store.find(name);
  std::cout << "learned " << name << ": " << added << " example" << (added == 1 ? "" : "s")
            << " added, " << (cls >= 0 ? store.classes()[cls].examples.size() : 0) << " in all; "
            << store.classes().size() << " class" << (store.classes().size() == 1 ? "" : "es")
            << " in " << file.string() << "\n";
  return rc;
}

// ---------------------------------------------------------------------------------------------
// recognize

int recognize_main(int argc, char** argv) {
  Common c;
  std::string store_file, box_text;
  bool as_json = false, locate = false;
  std::optional<float> threshold;
  std::vector<std::string> images;
  CLI::App app{
      "Recognize learned classes: for each image, the class whose examples are the most similar "
      "(cosine similarity of embeddings) with a calibrated confidence, or `unknown` when none is "
      "similar enough. A class's similarity is the better of the whole image and its best "
      "window at --scales (the app's rule: an object may fill a small part of the image). "
      "Prints `image class confidence similarity [x1 y1 x2 y2]`."};
  add_common(app, c, false, true);
  app.add_option("--store", store_file, "Store file (default: the user's store for the model)");
  app.add_flag("--json", as_json,
               "Print a JSON list, one object per image in order: image, class, confidence, "
               "similarity, best, runner_up, margin, [box]");
  app.add_option("--threshold", threshold,
                 "Similarity below which the answer is `unknown` (default: the calibrated one)");
  app.add_flag("--locate", locate,
               "Also print where the answered class matches best: its best window at --scales, "
               "as a box x1 y1 x2 y2");
  app.add_option("--box", box_text, "Recognize this box of every image: x1,y1,x2,y2 in pixels")
      ->check(box_validator());
  app.add_option("images", images, "Image files")->required();
  if (const int rc = parse_or_exit(app, argc, argv); rc >= 0) return rc;
  const std::optional<Box> box = parse_box(box_text);
  Session s(c, false);
  StoreModel sm(s);
  const fs::path file = sm.store_path(store_file);
  if (!fs::exists(file))
    throw Error("Nothing learned for the model " + sm.name + " yet: no store at " + file.string() +
                ". Teach a class first: `overfeat learn NAME images...`" +
                (store_file.empty() ? "" : " with --store " + store_file));
  const OneShotStore store = OneShotStore::load(file);
  store.check_model(sm.name, sm.fingerprint);
  sm.open_device(s);
  if (store.empty())
    std::cerr << "overfeat recognize: the store " << file.string()
              << " has no classes; every answer is unknown\n";
  JsonArrayWriter out(as_json ? "-" : "");
  const auto on_error = out.error_entries();
  const int rc = for_each_image(
      images,
      [&](const std::string& path, const Tensor& rgb) {
        // The app's rule (recognize_frame): the whole image and every window at --scales.
        const FrameAnswer a = sm.graph ? recognize_frame(*sm.graph, *s.graph_eval, store, rgb, box,
                                                         s.opt.scales, threshold)
                                       : recognize_frame(*s.eval, store, rgb, box, s.opt.scales,
                                                         s.opt.dense, threshold);
        const Recognition& r = a.recognition;
        std::optional<Box> where;
        if (locate && r.cls >= 0) where = a.localizations.at(r.cls).box;
        if (as_json) {
          out.add(recognition_json(path, r, class_names(store), locate, where));
        } else {
          std::cout << path << " " << r.name << " " << fixed(r.confidence, 3) << " "
                    << fixed(r.similarity, 3);
          if (where)
            std::cout << " " << fixed(where->x1, 1) << " " << fixed(where->y1, 1) << " "
                      << fixed(where->x2, 1) << " " << fixed(where->y2, 1);
          std::cout << "\n";
        }
      },
      on_error);
  out.close();
  return rc;
}

// ---------------------------------------------------------------------------------------------
// learned

std::string file_safe(std::string name) {
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_') ch = '_';
  return name;
}

int learned_main(int argc, char** argv) {
  Common c;
  std::string store_file, remove, thumbnails;
  std::vector<std::string> rename;
  bool as_json = false;
  CLI::App app{
      "List the classes of a one-shot store (default: the user's store for the model), rename "
      "or remove one, or write their examples' thumbnails."};
  add_common(app, c, false, false);
  app.add_option("--store", store_file, "Store file (default: the user's store for the model)");
  app.add_option("--rename", rename, "Rename class OLD to NEW")->expected(2);
  app.add_option("--remove", remove, "Remove a class and its examples");
  app.add_option("--thumbnails", thumbnails, "Write every example's thumbnail to DIR");
  app.add_flag("--json", as_json, "Print the list as JSON");
  if (const int rc = parse_or_exit(app, argc, argv); rc >= 0) return rc;
  fs::path file = store_file;
  if (file.empty()) {  // the model names the store; no device needed
    const Session s(c, false);
    file = StoreModel(s).store_path("");
  }
  OneShotStore store = OneShotStore::load(file);
  bool changed = false;
  if (!rename.empty()) {
    store.rename(rename[0], rename[1]);
    changed = true;
  }
  if (!remove.empty()) {
    store.remove(remove);
    changed = true;
  }
  if (changed) store.save(file);
  if (!thumbnails.empty()) {
    fs::create_directories(thumbnails);
    for (const LearnedClass& k : store.classes())
      for (size_t i = 0; i < k.examples.size(); ++i) {
        if (k.examples[i].thumbnail.empty()) continue;
        const Tensor t = decode_image(k.examples[i].thumbnail);
        render::write_png(
            fs::path(thumbnails) / (file_safe(k.name) + "_" + std::to_string(i + 1) + ".png"),
            render::to_rgb8(t));
      }
  }
  const StoreIdentity& id = store.identity();
  if (as_json) {
    json classes = json::array();
    for (const LearnedClass& k : store.classes()) {
      json examples = json::array();
      for (const LearnedExample& e : k.examples)
        examples.push_back({{"source", e.source}, {"time", e.time}});
      classes.push_back({{"name", k.name}, {"examples", examples}});
    }
    std::cout << json({{"store", file.string()},
                       {"model", id.model_name},
                       {"fingerprint", id.fingerprint},
                       {"feature_layer", id.feature_layer},
                       {"layer_name", id.layer_name},
                       {"framing", to_string(id.framing)},
                       {"classes", classes}})
                     .dump(2)
              << "\n";
    return 0;
  }
  std::cout << file.string() << ": model " << id.model_name << " (" << id.fingerprint << "), "
            << id.layer_name << ", " << to_string(id.framing) << " framing, "
            << store.classes().size() << " class" << (store.classes().size() == 1 ? "" : "es")
            << "\n";
  for (const LearnedClass& k : store.classes()) {
    std::cout << "  " << k.name << ": " << k.examples.size() << " example"
              << (k.examples.size() == 1 ? "" : "s") << "\n";
    for (size_t i = 0; i < k.examples.size(); ++i)
      std::cout << "    " << i + 1 << ". " << k.examples[i].source << " (" << k.examples[i].time
                << ")\n";
  }
  return 0;
}

}  // namespace

int run_learn(int argc, char** argv) {
  return learn_main(argc, argv);
}
int run_recognize(int argc, char** argv) {
  return recognize_main(argc, argv);
}
int run_learned(int argc, char** argv) {
  return learned_main(argc, argv);
}

}  // namespace overfeat::cli
