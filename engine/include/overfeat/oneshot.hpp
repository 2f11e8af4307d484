// SPDX-License-Identifier: MIT
// One-shot learning on top of a model's features: an example (an image, or a box drawn on one)
// becomes an embedding, the L2-normalized output of a feature layer; the examples of a class
// average into its prototype; an image is recognized as the class whose prototype is the most
// similar (cosine), or as "unknown" when none is similar enough; and, because evaluation is
// dense, every cell of a map can be compared with every prototype, which localizes the classes.
//
// Learned classes live in a store (OneShotStore, a JSON file: docs/oneshot-store.md) that is
// tied to the model it was learned with: embeddings of another model, another feature layer or
// another framing mean nothing, so a mismatch is refused.
//
// Typical use (the app's Teach panel, `overfeat learn | recognize`):
//
//   OneShotStore store = OneShotStore::for_model(model);          // or OneShotStore::load(file)
//   store.check_model(model);                                     // throws on a mismatch
//   store.add_example("mug", make_example(evaluator, store, frame, box, "camera"));
//   const Recognition r = recognize(store, embed(evaluator, frame, std::nullopt, store));
//   store.save(default_store_path(model));
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "overfeat/dense.hpp"
#include "overfeat/detection.hpp"
#include "overfeat/linear_classifier.hpp"
#include "overfeat/model.hpp"
#include "overfeat/pipeline.hpp"
#include "overfeat/tensor.hpp"

namespace overfeat {

// ---------------------------------------------------------------------------------------------
// Model identity

/// A stable digest of everything that decides a model's features: the network (modules, input
/// size and normalization), every weight and bias bit for bit, the class names and the
/// background index; not the name, the metadata or the box regressor. 16 lowercase hex digits
/// (64 bits): XXH64 of each weight array, then of the description and those digests, so it is
/// the same on every little-endian machine and run. Every weight is hashed (no subsampling):
/// about 0.1 s for the official nets' 145 M floats. Two models that differ in one weight differ.
std::string model_fingerprint(const Model& model);

/// A feature layer for people: "conv7 (layer 19)" (the module's name, release numbering).
/// Throws Error when the layer is not one embeddings can come from (see check_feature_layer).
std::string feature_layer_name(const NetSpec& net, int layer);

/// Throws Error, naming the valid range, unless `layer` (release numbering) is one dense
/// evaluation can give features of: the trunk's last max pooling or a later classifier layer.
void check_feature_layer(const Model& model, int layer);

// ---------------------------------------------------------------------------------------------
// Embeddings

/// How an example's pixels become the network's input.
enum class Framing {
  /// The region resized so that its smaller side is the window (aspect kept, up to 4 windows
  /// along the longer side), the features averaged over the cells of the (coarse) map. The default:
  /// 2-4 points more accurate than
  /// Square in every group of `overfeat bench oneshot` (README, one-shot learning), and what a
  /// densely evaluated frame gives (embed(const DenseResult&) averages cells too).
  Fit,
  /// The region resized to exactly window x window (aspect not kept): one cell, one window.
  Square,
};
/// "square" or "fit".
std::string to_string(Framing framing);
/// Parses "square" or "fit"; throws Error otherwise.
Framing parse_framing(const std::string& text);

/// How embed() makes an embedding. A store records these (OneShotStore::embed_options()), so
/// that every example of a store and every query compared with it is made the same way.
struct EmbedOptions {
  int feature_layer = -1;  ///< release numbering; -1: the model's default feature layer
  Framing framing = Framing::Fit;
  /// A box grows by this fraction of its width and height on every side (then is clamped to the
  /// image), because the network saw its training objects with some surroundings.
  float context = 0.1f;
};

/// The rectangle of `rgb` an embedding looks at: the box grown by `context` on every side and
/// clamped to the image, in whole pixels; the whole image when there is no box. Throws Error
/// when the box does not overlap the image or covers less than 2 x 2 pixels of it.
Box embedding_region(const Tensor& rgb, const std::optional<Box>& box, float context);
/// The pixels of embedding_region() (the image itself when that is all of it).
Tensor region_pixels(const Tensor& rgb, const std::optional<Box>& box, float context);
/// The network input a region of region_h x region_w is framed to, for a network whose window
/// (input size) is `side`: Square, side x side; Fit, the smaller side at `side` and the longer in
/// proportion, at most 4 sides (a thin box never asks for a huge input).
InputSize framed_size(int region_h, int region_w, int side, Framing framing);

/// The embedding of an image (RGB, CHW, 0..255) or of a box on it: the region (see
/// embedding_region) framed as `options` says, evaluated once (coarse stride, no mirror, no
/// boxes), the feature layer's output averaged over the map's cells and L2-normalized. Throws
/// Error when the layer is invalid or the engine gives no features.
std::vector<float> embed(DenseEvaluator& evaluator, const Tensor& rgb,
                         const std::optional<Box>& box, const EmbedOptions& options);
/// The same with the default framing and context, from `feature_layer` (-1: the default).
std::vector<float> embed(DenseEvaluator& evaluator, const Tensor& rgb,
                         const std::optional<Box>& box, int feature_layer);

/// A whole frame's embedding from a dense evaluation that asked for features
/// (DenseOptions::feature_layer): the mean of every cell of every map (scales and mirrors),
/// L2-normalized. For a frame the app has already evaluated densely; it is close to, but not
/// the same as, embed() of the frame (which sees the frame as one window). Throws Error when the
/// maps have no features.
std::vector<float> embed(const DenseResult& result);

/// Per-cell embeddings of one map: its features with every cell's vector L2-normalized
/// (C x h x w, in the map's own order, mirrored when the map is). Cells whose features are all
/// zero stay zero. Throws Error when the map has no features.
Tensor cell_embeddings(const ScaleMap& map);

/// Scales `v` to unit length in place (left as is when it is all zeros); returns its old length.
float l2_normalize(std::vector<float>& v);

// ---------------------------------------------------------------------------------------------
// Thumbnails

/// A small PNG of the region (the box as drawn, without the context, or the whole image) whose
/// longer side is at most `size` pixels: what the store keeps to show an example.
std::vector<uint8_t> make_thumbnail(const Tensor& rgb, const std::optional<Box>& box,
                                    int size = 96);
/// Decodes a thumbnail (or any PNG/JPEG bytes) to RGB, CHW, 0..255. Throws ImageError.
Tensor decode_image(const std::vector<uint8_t>& bytes);

// ---------------------------------------------------------------------------------------------
// Calibration

/// How similarities become answers. The confidence that the most similar class is the right
/// answer is a logistic function of its similarity s and of its margin m over the runner-up:
/// 1 / (1 + exp(-(bias + w_similarity * s + w_margin * m))); with a single learned class, the
/// margin is taken over `lone_runner_up` (a typical similarity of a query to a class it is not).
/// Below `threshold` the answer is "unknown".
struct Calibration {
  float threshold = 0;
  float bias = 0, w_similarity = 0, w_margin = 0;
  float lone_runner_up = 0;
  /// The calibrated probability that the most similar class is right.
  float confidence(float similarity, float margin) const;
};

/// The defaults, fitted by `overfeat bench oneshot` on 5-way episodes of categories the model
/// was trained on (never on the held-out ones it is judged on); the source says which run.
Calibration default_calibration();

// ---------------------------------------------------------------------------------------------
// The store

/// One example of a learned class.
struct LearnedExample {
  std::vector<float> embedding;    ///< L2-normalized, OneShotStore::dims() values
  std::vector<uint8_t> thumbnail;  ///< PNG bytes (make_thumbnail), may be empty
  std::string source;              ///< where it came from, e.g. "photo.jpg [10,20,110,140]"
  std::string time;                ///< when it was learned, ISO 8601 UTC ("2026-11-21T09:00:00Z")
};

/// A learned class: its examples and their prototype.
struct LearnedClass {
  std::string name;
  std::vector<LearnedExample> examples;
  /// The normalized mean of the examples' (normalized) embeddings; kept up to date by the store.
  std::vector<float> prototype;
};

/// What a store's embeddings were made with: they only compare with embeddings of the same.
struct StoreIdentity {
  std::string model_name;   ///< NetSpec::name, for messages
  std::string fingerprint;  ///< model_fingerprint()
  int feature_layer = 0;    ///< release numbering
  std::string layer_name;   ///< feature_layer_name(), for people
  int dims = 0;             ///< values per embedding; 0 until the first example
  Framing framing = Framing::Fit;
  float context = 0.1f;
};

/// Learned classes tied to one model. Class names are unique and non-empty. Not thread-safe.
class OneShotStore {
 public:
  OneShotStore() = default;
  explicit OneShotStore(StoreIdentity identity);
  /// An empty store for `model` and `options` (feature layer -1: the model's default). Throws
  /// Error on an invalid feature layer.
  static OneShotStore for_model(const Model& model, const EmbedOptions& options = {});
  /// The same with a fingerprint the caller already computed (model_fingerprint takes ~0.1 s).
  static OneShotStore for_model(const Model& model, const std::string& fingerprint,
                                const EmbedOptions& options = {});

  /// Reads a store file (docs/oneshot-store.md). Throws Error naming the file and what to do when
  /// it is missing, not a store, damaged or truncated, or of a newer version.
  static OneShotStore load(const std::filesystem::path& file);
  /// Writes the store atomically (a temporary file beside it, then renamed over it), creating
  /// the folder. Throws Error naming the file when it cannot be written.
  void save(const std::filesystem::path& file) const;

  /// Throws Error unless the store was learned with `model` (same fingerprint): "learned with
  /// model X (fingerprint ...), the current model is Y (...); use a store learned with this model
  /// or start a new one".
  void check_model(const Model& model) const;
  /// The same with a fingerprint the caller already computed.
  void check_model(const std::string& model_name, const std::string& fingerprint) const;
  /// Whether check_model would accept it.
  bool matches(const std::string& fingerprint) const { return fingerprint == id_.fingerprint; }

  const StoreIdentity& identity() const { return id_; }
  /// How queries compared with this store must be embedded.
  EmbedOptions embed_options() const;
  int dims() const { return id_.dims; }
  /// The file it was loaded from or last saved to (empty for a new store), for messages.
  const std::filesystem::path& path() const { return path_; }

  const std::vector<LearnedClass>& classes() const { return classes_; }
  bool empty() const { return classes_.empty(); }
  /// Index of a class by name, or -1.
  int find(const std::string& name) const;
  /// Adds an example to class `name`, creating the class when it is new; the prototype is
  /// refined. Throws Error on an empty name or an embedding of the wrong size (the first example
  /// of an empty store sets dims()). The embedding is normalized here if it is not already.
  void add_example(const std::string& name, LearnedExample example);
  /// Removes one example (and the class with its last example). Throws Error when absent.
  void remove_example(const std::string& name, int index);
  /// Throws Error when `old_name` is absent or `new_name` is empty or taken.
  void rename(const std::string& old_name, const std::string& new_name);
  /// Throws Error when absent.
  void remove(const std::string& name);

  /// The linear classifier of the taught classes (linear_classifier.hpp, Teachable Machine's
  /// rule), fitted on every example once there are two classes or more and each has
  /// kClassifierMinExamples; null otherwise, and the prototypes alone decide. Fitted on first
  /// use after a change (milliseconds for dozens of examples), then kept.
  const LinearClassifier* classifier() const;
  /// Whether classifier() gives one (the rule alone, without fitting it).
  bool uses_classifier() const;
  /// From 2 shots on, the classifier was as good or better than the prototypes in every group of
  /// `overfeat bench oneshot --shots 2,5,10` (README, one-shot learning).
  static constexpr int kClassifierMinExamples = 2;

  /// Overrides the default calibration (saved with the store); nullopt: the default.
  std::optional<Calibration> calibration;
  /// The calibration in effect.
  Calibration effective_calibration() const {
    return calibration ? *calibration : default_calibration();
  }

 private:
  void changed() { classifier_.reset(), classifier_fitted_ = false; }

  StoreIdentity id_;
  std::vector<LearnedClass> classes_;
  mutable std::filesystem::path path_;
  mutable std::shared_ptr<const LinearClassifier> classifier_;  // shared by copies: immutable
  mutable bool classifier_fitted_ = false;
};

/// Builds an example: the embedding (made as the store's embed_options() say), a thumbnail of
/// the region, `source` (the box is appended as " [x1,y1,x2,y2]") and the current time.
LearnedExample make_example(DenseEvaluator& evaluator, const OneShotStore& store, const Tensor& rgb,
                            const std::optional<Box>& box, const std::string& source);

/// The same from an embedding already made (by any network, e.g. GraphEmbedder's).
LearnedExample make_example(std::vector<float> embedding, const Tensor& rgb,
                            const std::optional<Box>& box, const std::string& source);

/// embed() as the store's examples were made.
std::vector<float> embed(DenseEvaluator& evaluator, const Tensor& rgb,
                         const std::optional<Box>& box, const OneShotStore& store);

/// The folder of the user's stores: $XDG_DATA_HOME/overfeat-studio/oneshot (default
/// ~/.local/share/overfeat-studio/oneshot).
std::filesystem::path oneshot_dir();
/// The user's store for a model: oneshot_dir()/<model name>-<first 8 digits of the
/// fingerprint>.json (characters other than letters, digits, '-', '_' and '.' in the name become
/// '_'). Shared by the app and the command line.
std::filesystem::path default_store_path(const std::string& model_name,
                                         const std::string& fingerprint);
/// The same, computing the fingerprint.
std::filesystem::path default_store_path(const Model& model);

// ---------------------------------------------------------------------------------------------
// Recognition and localization

/// The answer for one query.
struct Recognition {
  int cls = -1;                     ///< index into store.classes(), -1 for "unknown"
  std::string name;                 ///< the class's name, or "unknown"
  int best = -1;                    ///< the most similar class, even when the answer is unknown
  float similarity = -1;            ///< cosine similarity to best's prototype (-1 without classes)
  int runner_up = -1;               ///< the second most similar class, or -1
  float runner_up_similarity = -1;  ///< its similarity (-1 when there is none)
  float margin = 0;                 ///< similarity - runner-up's (see Calibration for one class)
  /// The calibrated probability that the answer is right: for a class, that it is that class;
  /// for "unknown", 1 minus the probability that the most similar class is right.
  float confidence = 0;
  float threshold = 0;              ///< the threshold that was applied
  std::vector<float> similarities;  ///< per class, in store order
  /// Per class, in store order: the calibrated chance that the query is that class (its
  /// similarity and its margin over the most similar other class). The answer's is `confidence`.
  std::vector<float> confidences;
  /// With the store's linear classifier (OneShotStore::classifier()): its probability of each
  /// class (store order), which then picks `best` and `runner_up`, and `confidences` are these
  /// probabilities times the calibrated chance that the closest class is right (the chance that
  /// the query is one of the taught classes at all). Empty without a classifier.
  std::vector<float> probabilities;
};

/// Compares an embedding (as made for the store) with every prototype. `threshold` overrides the
/// store's calibration. With no classes the answer is unknown with confidence 1. Throws Error
/// when the embedding's size is not the store's.
Recognition recognize(const OneShotStore& store, const std::vector<float>& embedding,
                      std::optional<float> threshold = std::nullopt);
/// The answer from per-class similarities already computed (store order), e.g. the best cell of
/// each class's localization when the object fills only part of a frame: the same ranking,
/// margin, calibration and threshold as recognize().
/// `probabilities`: the store's classifier's for the same query, or empty (prototypes alone).
Recognition recognize_similarities(const OneShotStore& store, std::vector<float> similarities,
                                   std::optional<float> threshold = std::nullopt,
                                   std::vector<float> probabilities = {});
/// The same for a frame evaluated densely with the store's feature layer (embed(result)).
Recognition recognize(const OneShotStore& store, const DenseResult& result,
                      std::optional<float> threshold = std::nullopt);

/// Where one learned class matches an image best.
struct Localization {
  int cls = -1;              ///< index into store.classes()
  std::vector<Tensor> maps;  ///< per map given: 1 x h x w cosine similarity, image order (a
                             ///< mirrored map mirrored back, as ScaleMap::class_map)
  float score = -1;          ///< the best similarity over all maps and cells
  int map = -1;              ///< which map holds it
  int y = -1, x = -1;        ///< its cell in the map's image order
  /// Where in the image: the best cell's input window (ScaleMap::window_box); when neighbouring
  /// cells tie with it (within 1e-4), the mean of their windows, so a plateau gives its center.
  Box box;
  /// With the store's classifier: its probabilities (store order) at the best cell, and whether
  /// it picks this class there (a cell that matches two similar classes is shown as the one the
  /// classifier picks). Without one: empty, and true.
  std::vector<float> probabilities;
  bool agrees = true;
  /// Whether to show this class here: similar enough (`threshold`) and the classifier agrees.
  bool located(float threshold) const { return map >= 0 && score >= threshold && agrees; }
};

/// One frame's answer, by the one rule of `overfeat recognize` and the app's Recognize mode.
struct FrameAnswer {
  Recognition recognition;
  std::vector<Localization> localizations;  ///< per class, store order; empty unless located
  DenseResult dense;  ///< the dense evaluation that located them (region pixels); else empty
};

/// Recognizes a frame (or `box` of it) by the one rule of `overfeat recognize` and the app's
/// Recognize mode. A taught object may fill the frame or a small part of it, so a class's
/// similarity is the better of (a) the whole region embedded exactly as the store's examples were
/// (embed(), one evaluation) and (b) its best window when the region is evaluated densely at
/// `scales` (parse_scales) with `dense` and the store's feature layer (localize(), which also
/// says where it is). The answer, margin, calibration and threshold are then recognize()'s.
/// Localization boxes are in image pixels; their maps and `dense` in the region's.
FrameAnswer recognize_frame(DenseEvaluator& evaluator, const OneShotStore& store, const Tensor& rgb,
                            const std::optional<Box>& box, const std::string& scales,
                            DenseOptions dense, std::optional<float> threshold = std::nullopt);

/// The same rule from its two parts, for any network (graph_oneshot.hpp's): `whole`, the
/// region's recognize() answer, and `dense`, the region evaluated densely with the store's
/// features (frame_windows()); `offset` is the region's top-left corner in the image (for the
/// boxes).
FrameAnswer recognize_frame(const OneShotStore& store, const Recognition& whole, DenseResult dense,
                            float offset_x, float offset_y,
                            std::optional<float> threshold = std::nullopt);

/// Part (b) of recognize_frame(): the region (`box` of `rgb`, no context) evaluated densely at
/// `scales` with `dense` and the store's feature layer, without boxes. The one-shot benchmark
/// keeps it per image, to answer many episodes by the frame rule (recognize_with_windows).
DenseResult frame_windows(DenseEvaluator& evaluator, const OneShotStore& store, const Tensor& rgb,
                          const std::optional<Box>& box, const std::string& scales,
                          DenseOptions dense);

/// The frame rule's answer from `whole` (the region's recognize()) and the region's windows
/// localized (localize() of frame_windows()): each class's similarity is the better of the two,
/// the classifier's probabilities are those of whichever matched best.
Recognition recognize_with_windows(const OneShotStore& store, const Recognition& whole,
                                   const std::vector<Localization>& localizations,
                                   std::optional<float> threshold = std::nullopt);

/// The taught classes as if they were a model's classes, so that every mode (classification,
/// detection boxes, heat maps) can show them: `dense`, evaluated with the store's feature layer,
/// becomes maps whose channel k is, at each cell, the calibrated chance that the cell's window
/// shows taught class k (recognize_similarities on the cell's embedding, with the classifier
/// when the store has one), and 0 for every class where the cell's answer is "unknown". No
/// regressor (a box is its cell's window), no background, no features; ready for
/// detect_in_maps. Throws as localize() does on features of another size.
DenseResult taught_class_maps(const OneShotStore& store, const DenseResult& dense,
                              std::optional<float> threshold = std::nullopt);

/// Detection with the taught classes as the classes (the app's "taught classes in every mode",
/// `overfeat detect --taught`): `rgb` evaluated densely at options.scales with the store's
/// feature layer, taught_class_maps(), then detect_in_maps() with `options` (no regressor:
/// boxes are windows). Detection's class indices are the store's.
DetectResult detect_taught(DenseEvaluator& evaluator, const OneShotStore& store, const Tensor& rgb,
                           DetectOptions options, std::optional<float> threshold = std::nullopt);

/// For every learned class (store order), its similarity map on `map` and its best cell.
/// Throws Error when the map has no features or features of another size than the store's.
std::vector<Localization> localize(const OneShotStore& store, const ScaleMap& map);
/// The same over all maps of a dense evaluation (scales and mirrors): one map per ScaleMap, the
/// best over all of them.
std::vector<Localization> localize(const OneShotStore& store, const DenseResult& result);

}  // namespace overfeat
