// SPDX-License-Identifier: MIT
// `overfeat classify | detect | heatmap | eval`: the paper's dense multi-scale method on the
// command line (the release-compatible form lives in release.cpp).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "common.hpp"
#include "overfeat/classes.hpp"
#include "overfeat/error.hpp"
#include "overfeat/evaluation.hpp"
#include "overfeat/graph_oneshot.hpp"
#include "overfeat/image.hpp"
#include "overfeat/npy.hpp"
#include "overfeat/oneshot.hpp"
#include "overfeat/pipeline.hpp"
#include "overfeat/render.hpp"
#include "overfeat/report.hpp"
#include "progress.hpp"

namespace overfeat::cli {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

void print_timings(const DetectTimings& t) {
  const double outside = t.dense.prepare_ms + t.dense.collect_ms + t.merge_ms;
  std::cerr << "time: " << fixed(t.total_ms, 1) << " ms (network " << fixed(t.dense.network_ms, 1)
            << ", GPU " << fixed(t.dense.gpu_ms, 1) << ", resize " << fixed(t.dense.prepare_ms, 1)
            << ", merge " << fixed(t.merge_ms, 1) << "; outside the network "
            << fixed(100 * outside / std::max(t.total_ms, 1e-9), 1) << " %)\n";
}

// ---------------------------------------------------------------------------------------------
// classify

int classify_main(int argc, char** argv) {
  Common c;
  int top = 5;
  std::string views = "dense";
  bool as_json = false;
  std::vector<std::string> images;
  CLI::App app{
      "Classify images by the paper's dense multi-scale evaluation (each class's "
      "spatial maximum, averaged over scales and flips), or by 10 views."};
  add_common(app, c, false);
  app.add_option("-n,--top", top, "Classes to print")->check(CLI::PositiveNumber);
  app.add_option("--views", views, "dense | 10 (4 corners + center, each mirrored)")
      ->check(CLI::IsMember({"dense", "10"}));
  app.add_flag("--json", as_json, "Print JSON");
  app.add_option("images", images, "Image files")->required();
  if (const int rc = parse_or_exit(app, argc, argv); rc >= 0) return rc;
  Session s(c);
  JsonArrayWriter out(as_json ? "-" : "");
  const auto on_error = out.error_entries();
  const int rc = for_each_image(
      images,
      [&](const std::string& path, const Tensor& rgb) {
        std::vector<float> probs;
        if (views == "10") {
          s.require_overfeat_model("--ten-views");
          probs = classify_ten_views(*s.eval, rgb);
        } else {
          const auto sizes = parse_scales(s.opt.scales, s.model.net, rgb.h, rgb.w);
          probs = classify(s.evaluate(rgb, sizes, {!c.coarse, s.opt.dense.flip, false}));
        }
        json classes = json::array();
        if (!as_json && images.size() > 1) std::cout << path << "\n";
        for (const auto& t : s.top(probs, top)) {
          if (as_json)
            classes.push_back(
                {{"index", t.index}, {"name", s.name(t.index)}, {"probability", t.score}});
          else
            std::cout << s.name(t.index) << " " << release_float(t.score) << "\n";
        }
        if (as_json) out.add({{"image", path}, {"views", views}, {"classes", classes}});
      },
      on_error);
  out.close();
  return rc;
}

// ---------------------------------------------------------------------------------------------
// detect

int detect_main(int argc, char** argv) {
  Common c;
  std::string out_dir, json_file, taught;
  bool raw = false;
  std::vector<std::string> images;
  CLI::App app{
      "Detect objects: boxes regressed at every location of every scale, merged by the "
      "paper's greedy voting (or NMS). Prints `image class confidence x1 y1 x2 y2` (the "
      "confidence: 0..1, calibrated when the model has a detection calibration)."};
  add_common(app, c, true);
  app.add_option("-o,--out", out_dir, "Write annotated PNGs (<name>.detections.png) here");
  output_file(app.add_option("--json", json_file,
                             "Write detections, COCO results style, to FILE (- = stdout)"));
  app.add_flag("--raw", raw, "Also draw the raw boxes before merging (faint)");
  app.add_option("--taught", taught,
                 "Detect the classes taught by one-shot learning (`overfeat learn`) instead of "
                 "the model's: a store FILE, or `default` for the user's store for the model "
                 "(the app's); boxes are windows, confidences the calibrated chance of the class");
  app.add_option("images", images, "Image files")->required();
  if (const int rc = parse_or_exit(app, argc, argv); rc >= 0) return rc;
  Session s(c);
  std::optional<OneShotStore> store;
  std::vector<std::string> names = s.model.classes;
  if (!taught.empty()) {
    const std::string fp = s.fingerprint();
    const fs::path file =
        taught == "default" ? default_store_path(s.store_name(), fp) : fs::path(taught);
    store = OneShotStore::load(file);
    store->check_model(s.store_name(), fp);
    if (store->empty())
      throw Error("Nothing taught yet in " + file.string() +
                  ": teach a class first (`overfeat learn NAME images...`)");
    names.clear();
    for (const LearnedClass& k : store->classes()) names.push_back(k.name);
  }
  // Image ids and PNG names: the file's stem, made unique when two inputs share it.
  const std::vector<std::string> ids = unique_stems(images);
  JsonArrayWriter all(json_file);
  const auto on_error = [&](size_t i, const std::string& path, const std::string& message) {
    all.add({{"image_id", ids[i]}, {"image", path}, {"error", message}});
  };
  const int rc = for_each_image_indexed(
      images,
      [&](size_t i, const std::string& path, const Tensor& rgb) {
        const std::string& id = ids[i];
        const DetectResult r =
            !store    ? s.detect(rgb)
            : s.graph ? detect_taught(*s.graph_eval, *store, rgb,
                                      parse_scales(s.opt.scales, s.model.net, rgb.h, rgb.w), s.opt)
                      : detect_taught(*s.eval, *store, rgb, s.opt);
        for (const Detection& d : r.merged)
          if (json_file != "-")
            std::cout << path << " " << names.at(d.cls) << " " << fixed(d.confidence, 4) << " "
                      << fixed(d.box.x1, 1) << " " << fixed(d.box.y1, 1) << " "
                      << fixed(d.box.x2, 1) << " " << fixed(d.box.y2, 1) << "\n";
        if (c.verbose) {
          std::cerr << path << ": " << r.raw.size() << " raw boxes -> " << r.merged.size() << "\n";
          print_timings(r.timings);
        }
        for (const json& d : detections_json(r.merged, names, id)) all.add(d);
        if (!out_dir.empty()) {
          fs::create_directories(out_dir);
          const fs::path png = fs::path(out_dir) / (id + ".detections.png");
          render::write_png(png, annotate_detections(rgb, r, names, raw));
          if (c.verbose) std::cerr << "wrote " << png << "\n";
        }
      },
      on_error);
  all.close();
  return rc;
}

// ---------------------------------------------------------------------------------------------
// heatmap

int find_class(const Session& s, const std::string& key) {
  for (size_t i = 0; i < s.model.classes.size(); ++i)
    if (s.model.classes[i] == key) return static_cast<int>(i);
  for (size_t i = 0; i < s.model.classes.size(); ++i)  // "tabby" finds "tabby, tabby cat"
    if (s.model.classes[i].rfind(key + ",", 0) == 0) return static_cast<int>(i);
  try {
    size_t used = 0;
    const int idx = std::stoi(key, &used);
    if (used == key.size() && idx >= 0 && idx < static_cast<int>(s.model.classes.size()))
      return idx;
  } catch (const std::exception&) {
  }
  throw Error("The model has no class '" + key + "' (give a class name or an index 0.." +
              std::to_string(s.model.classes.size() - 1) + ")");
}

std::string file_safe(std::string name) {
  name = name.substr(0, name.find(','));
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name;
}

int heatmap_main(int argc, char** argv) {
  Common c;
  std::string out_dir = ".", raw_format = "npy", colormap = "viridis";
  std::vector<std::string> class_keys;
  int top = 3;
  float opacity = 0.6f;
  bool smooth = false;
  std::vector<std::string> images;
  CLI::App app{
      "Per-scale heat maps: for chosen classes (default: the top classes), the "
      "probability at every window of every scale, as PNG overlays with a legend and "
      "as raw numbers."};
  add_common(app, c, false);
  app.add_option("-c,--class", class_keys, "Class name or index (repeatable)");
  app.add_option("-n,--top", top, "Without --class: the top N classes")->capture_default_str();
  app.add_option("-o,--out", out_dir, "Output folder")->capture_default_str();
  app.add_option("--raw", raw_format, "Raw numbers as npy (one file per map) or json")
      ->check(CLI::IsMember({"npy", "json"}))
      ->capture_default_str();
  app.add_option("--colormap", colormap, "viridis | inferno | turbo")
      ->check(CLI::IsMember({"viridis", "inferno", "turbo"}));
  app.add_option("--opacity", opacity, "Overlay opacity 0..1")->check(CLI::Range(0.0, 1.0));
  app.add_flag("--smooth", smooth, "Interpolate between cells instead of drawing blocks");
  app.add_option("images", images, "Image files")->required();
  if (const int rc = parse_or_exit(app, argc, argv); rc >= 0) return rc;
  Session s(c);
  fs::create_directories(out_dir);
  const render::Colormap cmap = colormap == "inferno" ? render::Colormap::Inferno
                                : colormap == "turbo" ? render::Colormap::Turbo
                                                      : render::Colormap::Viridis;
  const std::vector<std::string> stems = unique_stems(images);
  std::vector<int> chosen;  // a class the model lacks is the user's mistake, not an image's
  for (const std::string& k : class_keys) chosen.push_back(find_class(s, k));
  return for_each_image_indexed(
      images,
      [&](size_t i, const std::string& path, const Tensor& rgb) {
        const auto sizes = parse_scales(s.opt.scales, s.model.net, rgb.h, rgb.w);
        const DenseResult r = s.evaluate(rgb, sizes, {!c.coarse, s.opt.dense.flip, false});
        std::vector<int> classes = chosen;
        if (classes.empty()) {
          for (const auto& t : s.top(classify(r), top)) classes.push_back(t.index);
        }
        const std::string& stem = stems[i];
        json index = {{"image", path},
                      {"image_size", {rgb.h, rgb.w}},
                      {"model", s.model.net.name},
                      {"stride", s.opt.dense.fine ? "fine" : "coarse"},
                      {"classes", json::array()},
                      {"maps", json::array()}};
        for (int cls : classes) index["classes"].push_back({{"index", cls}, {"name", s.name(cls)}});
        for (int cls : classes) {
          std::vector<render::Rgb8> tiles;
          std::vector<std::string> captions;
          for (const ScaleMap& m : r.maps) {
            const Tensor map = m.class_map(cls);
            render::MapPlacement where;
            m.cell_centers(where.x0, where.y0, where.step_x, where.step_y);
            render::HeatmapStyle style;
            style.colormap = cmap;
            style.opacity = opacity;
            style.smooth = smooth;
            const std::string scale = "scale " + std::to_string(m.scale + 1) + " (" +
                                      std::to_string(m.input.h) + "x" + std::to_string(m.input.w) +
                                      (m.flipped ? ", mirrored" : "") + ")";
            style.title = s.name(cls).substr(0, s.name(cls).find(',')) + " - " + scale;
            const std::string base = stem + "_" + file_safe(s.name(cls)) + "_s" +
                                     std::to_string(m.scale + 1) + (m.flipped ? "_flip" : "");
            const render::Rgb8 png =
                render::heatmap_overlay(rgb, map.data.data(), map.h, map.w, where, style);
            render::write_png(fs::path(out_dir) / (base + ".png"), png);
            style.legend = false;
            tiles.push_back(
                render::heatmap_overlay(rgb, map.data.data(), map.h, map.w, where, style));
            // Grid captions stay short: tiles of small photos are narrow.
            captions.push_back("scale " + std::to_string(m.scale + 1) +
                               (m.flipped ? " mirr." : "") + ", max " +
                               fixed(*std::max_element(map.data.begin(), map.data.end()), 2));
            json entry = {{"class", cls},
                          {"scale", m.scale},
                          {"flipped", m.flipped},
                          {"input_size", {m.input.h, m.input.w}},
                          {"map_size", {map.h, map.w}},
                          {"stride", m.geometry.stride},
                          {"window", m.geometry.window},
                          {"offsets", m.geometry.offsets},
                          {"cell0_center", {where.x0, where.y0}},
                          {"cell_step", {where.step_x, where.step_y}},
                          {"png", base + ".png"}};
            if (raw_format == "npy") {
              npy::write(fs::path(out_dir) / (base + ".npy"), map);
              entry["npy"] = base + ".npy";
            } else {
              entry["values"] = map.data;
            }
            index["maps"].push_back(entry);
          }
          const fs::path grid_file =
              fs::path(out_dir) / (stem + "_" + file_safe(s.name(cls)) + "_scales.png");
          render::write_png(grid_file, render::grid(tiles, captions, 3));
          std::cout << "wrote " << grid_file.string() << "\n";
        }
        write_text(fs::path(out_dir) / (stem + "_heatmaps.json"), index.dump(1) + "\n");
      },
      [](size_t, const std::string&, const std::string&) {});
}

// ---------------------------------------------------------------------------------------------
// eval

std::string default_split(const fs::path& dir) {
  const Dataset all = load_dataset(dir);
  std::set<std::string> splits;
  for (const auto& im : all.images) splits.insert(im.split);
  for (const char* s : {"val", "test"})
    if (splits.count(s)) return s;
  return "";
}

/// How well the boxes' confidences predict that they are right: prints a line, returns it as
/// JSON (the mean confidence, the share right, the expected calibration error over 10 bins).
json report_confidence(const std::vector<Detection>& judged, const std::vector<bool>& right) {
  std::array<double, 10> sum_conf{}, sum_right{}, count{};
  double mean_conf = 0, mean_right = 0;
  for (size_t i = 0; i < judged.size(); ++i) {
    const double c = std::clamp(judged[i].confidence, 0.0f, 1.0f);
    const int bin = std::min(9, static_cast<int>(c * 10));
    sum_conf[bin] += c;
    sum_right[bin] += right[i];
    count[bin] += 1;
    mean_conf += c;
    mean_right += right[i];
  }
  const double n = std::max<double>(judged.size(), 1);
  double ece = 0;
  for (int b = 0; b < 10; ++b) ece += std::abs(sum_conf[b] - sum_right[b]) / n;
  std::cout << "box confidence: mean " << fixed(100 * mean_conf / n, 1) << " %, right "
            << fixed(100 * mean_right / n, 1) << " % of " << judged.size()
            << " boxes, calibration error " << fixed(100 * ece, 1) << " %\n";
  return {{"boxes", judged.size()},
          {"mean_confidence", mean_conf / n},
          {"right", mean_right / n},
          {"expected_calibration_error", ece}};
}

int eval_main(int argc, char** argv) {
  Common c;
  std::string dir, split = "auto", json_file, detections_file, fit_file;
  size_t limit = 0, skip = 0;
  CLI::App app{
      "Evaluate a model on a folder laid out like ../shared/data/voc2007 "
      "(annotations.jsonl + images/): PASCAL VOC mean average precision (IoU 0.5, "
      "all-point interpolation) and classification accuracy. The last line is "
      "`mAP NN.N %`."};
  add_common(app, c, true);
  app.add_option("dir", dir, "Dataset folder")->required();
  app.add_option("--split", split,
                 "Records to evaluate: a split name, all, or auto (val, else "
                 "test, else all)")
      ->capture_default_str();
  app.add_option("--skip", skip,
                 "Leave out the first N images (e.g. those used to tune the options)");
  app.add_option("--limit", limit, "Evaluate only N images (after --skip)");
  output_file(app.add_option("--json", json_file, "Write the report as JSON to FILE"));
  app.add_option("--detections", detections_file, "Write all detections (COCO style) to FILE");
  output_file(app.add_option(
      "--fit-confidence", fit_file,
      "Fit the detection calibration (a box's confidence = the probability that it is right: "
      "its class, IoU >= 0.5 with an object) on these images; write it to FILE as JSON for "
      "tools/export/set_calibration.py"));
  if (const int rc = parse_or_exit(app, argc, argv); rc >= 0) return rc;
  if (split == "auto") split = default_split(dir);
  if (split == "all") split.clear();
  const Dataset data = load_dataset(dir, split);
  if (data.images.empty())
    throw Error("No images in " + dir + (split.empty() ? "" : " with split '" + split + "'"));
  if (c.max->count() == 0) c.detect.max_detections = 100;  // mAP rewards recall
  Session s(c);
  s.require_overfeat_model("`overfeat eval`");
  // Model classes -> dataset classes, by name.
  std::vector<int> to_data(s.model.classes.size(), -1);
  std::vector<std::string> known;
  for (size_t i = 0; i < s.model.classes.size(); ++i) {
    to_data[i] = data.class_index(s.model.classes[i]);
    if (to_data[i] >= 0) known.push_back(s.model.classes[i]);
  }
  std::vector<std::string> unknown;
  for (const std::string& dc : data.classes)
    if (std::find(known.begin(), known.end(), dc) == known.end()) unknown.push_back(dc);
  if (!unknown.empty()) {
    std::cerr << "overfeat eval: the model " << s.model.net.name << " has no class named ";
    for (size_t i = 0; i < unknown.size() && i < 8; ++i) std::cerr << (i ? ", " : "") << unknown[i];
    if (unknown.size() > 8) std::cerr << " and " << unknown.size() - 8 << " more";
    std::cerr << " (of the dataset's " << data.classes.size()
              << "); their AP counts as 0. Evaluate a model trained on these classes, such as "
                 "the bundled model.\n";
  }

  if (skip >= data.images.size())
    throw Error("--skip " + std::to_string(skip) + " leaves none of the " +
                std::to_string(data.images.size()) + " images");
  const size_t left = data.images.size() - skip;
  const size_t n = limit ? std::min(limit, left) : left;
  std::vector<ScoredDetection> dets;
  std::vector<GroundTruthBox> truth;
  json coco = json::array();
  int labelled = 0, correct = 0, failures = 0, maps = 0;
  double network_ms = 0, outside_ms = 0;
  // Every judged merged box and whether it is right (its class, IoU >= 0.5 with an object of
  // it; a box whose best match is a difficult object is not judged): the calibration's data.
  std::vector<Detection> judged;
  std::vector<bool> right;
  ProgressBar bar("eval", n);
  for (size_t i = 0; i < n; ++i) {
    const DatasetImage& im = data.images[skip + i];
    for (const DatasetObject& o : im.objects)
      truth.push_back({im.id, data.class_index(o.cls), o.box, o.difficult});
    DetectResult r;
    try {
      r = detect(*s.eval, image::load_rgb(im.path), s.opt);
    } catch (...) {  // unreadable, too large, out of memory: this image alone
      std::cerr << "\noverfeat eval: " << item_error(im.path.string())
                << " (counted as no detections)\n";
      ++failures;
      continue;
    }
    network_ms += r.timings.dense.network_ms;
    outside_ms += r.timings.total_ms - r.timings.dense.network_ms;
    for (const Detection& d : r.merged) {
      const int dc = to_data[d.cls];
      if (dc < 0) continue;
      // Boxes of a class the source dropped in this image cannot be judged: skip them.
      if (std::find(im.classes_missing_boxes.begin(), im.classes_missing_boxes.end(),
                    data.classes[dc]) != im.classes_missing_boxes.end())
        continue;
      dets.push_back({im.id, dc, d.score, d.box});
      float best_iou = 0;
      bool difficult = false;
      for (const DatasetObject& o : im.objects)
        if (data.class_index(o.cls) == dc)
          if (const float v = iou(d.box, o.box); v > best_iou) {
            best_iou = v;
            difficult = o.difficult;
          }
      if (best_iou >= 0.5f && difficult) continue;
      judged.push_back(d);
      right.push_back(best_iou >= 0.5f);
    }
    maps = static_cast<int>(r.dense.maps.size());
    for (const json& d : detections_json(r.merged, s.model.classes, im.id)) coco.push_back(d);
    // Classification: the best class among the dataset's, against the image label, or, without
    // one, against any object class present.
    int best = -1;
    for (size_t mc = 0; mc < to_data.size(); ++mc)
      if (to_data[mc] >= 0 && (best < 0 || r.class_probs[mc] > r.class_probs[best]))
        best = static_cast<int>(mc);
    std::set<std::string> present;
    if (!im.label.empty())
      present.insert(im.label);
    else
      for (const DatasetObject& o : im.objects) present.insert(o.cls);
    if (!present.empty()) {
      ++labelled;
      correct += best >= 0 && present.count(s.model.classes[best]);
    }
    bar.update(i + 1, "acc " + fixed(labelled ? 100.0 * correct / labelled : 0, 1) + " %");
  }
  bar.finish();
  const DetectionReport report = evaluate_detections(dets, truth, data.classes);
  std::cout << "dataset " << dir << (split.empty() ? "" : " (" + split + ")") << ": " << n
            << " images" << (skip ? " after the first " + std::to_string(skip) : "") << ", model "
            << s.model.net.name << ", scales " << s.opt.scales
            << (s.opt.dense.fine ? ", fine" : ", coarse") << (s.opt.dense.flip ? ", flips" : "")
            << "\n";
  std::cout << std::left << std::setw(16) << "class" << std::right << std::setw(8) << "AP %"
            << std::setw(10) << "objects" << std::setw(12) << "detections"
            << "\n";
  json per_class = json::array();
  for (const ClassAp& a : report.classes) {
    // A class without objects in these images has no AP; it stays out of the mean.
    std::cout << std::left << std::setw(16) << a.name << std::right << std::setw(8)
              << (a.positives ? fixed(100 * a.ap, 1) : "-") << std::setw(10) << a.positives
              << std::setw(12) << a.detections << "\n";
    per_class.push_back({{"class", a.name},
                         {"ap", a.ap},
                         {"positives", a.positives},
                         {"detections", a.detections}});
  }
  const double accuracy = labelled ? static_cast<double>(correct) / labelled : 0;
  std::cout << "classification accuracy " << fixed(100 * accuracy, 1) << " % (" << correct << "/"
            << labelled << ", best of the dataset's classes)\n";
  std::cout << "time per image " << fixed((network_ms + outside_ms) / std::max<size_t>(n, 1), 0)
            << " ms, outside the network "
            << fixed(100 * outside_ms / std::max(network_ms + outside_ms, 1e-9), 1) << " %\n";
  if (failures) std::cout << failures << " images that failed counted as no detections\n";
  const json confidence_report = report_confidence(judged, right);
  if (!fit_file.empty()) {
    DetectionCalibration fitted = fit_detection_calibration(judged, right, maps);
    // For people (the app's legend): "voc2007 val images 1-150 (overfeat-studio-v1, ...)".
    fs::path named = fs::path(dir).lexically_normal();
    if (!named.has_filename()) named = named.parent_path();  // "voc2007/"
    fitted.fitted_on =
        named.filename().string() + (split.empty() ? "" : " " + split) + " images " +
        std::to_string(skip + 1) + "-" + std::to_string(skip + n) + " (" + s.model.net.name +
        ", scales " + s.opt.scales + (s.opt.dense.fine ? ", fine stride" : ", coarse stride") +
        (s.opt.dense.flip ? ", mirrored" : "") + ", " + std::to_string(judged.size()) + " boxes)";
    set_confidences(judged, &fitted, maps);
    std::cout << "fitted: ";
    report_confidence(judged, right);
    write_text(fit_file, detection_calibration_json(fitted) + "\n");
    std::cout << "calibration written to " << fit_file
              << " (store it in a model: tools/export/set_calibration.py MODEL.onnx " << fit_file
              << ")\n";
  }
  if (!json_file.empty())
    write_text(json_file, json({{"dataset", dir},
                                {"split", split},
                                {"images", n},
                                {"skipped", skip},
                                {"model", s.model.net.name},
                                {"scales", s.opt.scales},
                                {"classes", per_class},
                                {"mean_ap", report.mean_ap},
                                {"confidence", confidence_report},
                                {"classification_accuracy", accuracy}})
                                  .dump(2) +
                              "\n");
  if (!detections_file.empty()) write_text(detections_file, coco.dump(1) + "\n");
  int with_objects = 0;
  for (const ClassAp& a : report.classes) with_objects += a.positives > 0;
  std::cout << "mean over the " << with_objects << " classes with objects\n";
  std::cout << "mAP " << fixed(100 * report.mean_ap, 1) << " %\n";
  return 0;
}

}  // namespace

int run_classify(int argc, char** argv) {
  return classify_main(argc, argv);
}
int run_detect(int argc, char** argv) {
  return detect_main(argc, argv);
}
int run_heatmap(int argc, char** argv) {
  return heatmap_main(argc, argv);
}
int run_eval(int argc, char** argv) {
  return eval_main(argc, argv);
}

}  // namespace overfeat::cli
