// SPDX-License-Identifier: MIT
// Detection evaluation (PASCAL VOC average precision, mean AP) and the reader of the project's
// datasets (DIR/annotations.jsonl, as in /work/shared/data/voc2007 and caltech101).
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "overfeat/detection.hpp"

namespace overfeat {

/// A ground-truth box of one image and class.
struct GroundTruthBox {
  std::string image_id;
  int cls = 0;
  Box box;
  bool difficult = false;
};

/// A detection of one image and class, as evaluated.
struct ScoredDetection {
  std::string image_id;
  int cls = 0;
  float score = 0;
  Box box;
};

/// PASCAL VOC average precision of one class (callers pass only that class's boxes; `cls` is
/// not looked at). Detections are sorted by score descending (ties keep their order); each is a
/// true positive when its best-IoU ground truth in the same image (IoU >= iou_threshold) is not
/// yet matched and not difficult; a match to a difficult box is neither TP nor FP (it is
/// dropped); otherwise (no box, IoU too low, or the best box already matched: a duplicate) a
/// false positive. AP by all-point interpolation (VOC2010+ devkit: precision made monotone from
/// the right, area under the step curve). Returns 0 when there are no non-difficult positives
/// (never NaN); evaluate_detections leaves such classes out of the mean.
double average_precision(std::vector<ScoredDetection> detections,
                         const std::vector<GroundTruthBox>& truth, double iou_threshold = 0.5);

/// Average precision of one class.
struct ClassAp {
  std::string name;
  double ap = 0;       ///< 0 when positives == 0
  int positives = 0;   ///< non-difficult ground-truth boxes
  int detections = 0;  ///< detections of the class evaluated
};

/// Per-class APs and their mean.
struct DetectionReport {
  std::vector<ClassAp> classes;  ///< one per class name, in the order given
  double mean_ap = 0;            ///< over classes with positives > 0 (0 when there are none)
};

/// Evaluates detections of every class: `cls` indexes class_names. Throws Error when a
/// detection or a ground-truth box has a class index outside class_names.
DetectionReport evaluate_detections(const std::vector<ScoredDetection>& detections,
                                    const std::vector<GroundTruthBox>& truth,
                                    const std::vector<std::string>& class_names,
                                    double iou_threshold = 0.5);

/// An annotated object of a dataset image.
struct DatasetObject {
  std::string cls;
  Box box;  ///< pixels of the stored image, clipped to it
  bool difficult = false;
  bool truncated = false;
};

/// One record of annotations.jsonl.
struct DatasetImage {
  std::string id;
  std::filesystem::path path;
  std::string split;
  int width = 0, height = 0;
  std::string label;  ///< image-level class when the set has one (Caltech), else empty
  std::vector<DatasetObject> objects;
  /// Classes some of whose boxes the source dropped in this image (VOC's "classes_missing_boxes",
  /// e.g. "person"): the image is no safe negative for them.
  std::vector<std::string> classes_missing_boxes;
};

/// A dataset directory as read by load_dataset.
struct Dataset {
  std::filesystem::path dir;
  std::vector<DatasetImage> images;
  /// Sorted unique object classes (and image labels) of every record of the file, whatever the
  /// split asked for, so that class indices agree between splits.
  std::vector<std::string> classes;
  /// Index of a class in `classes`; -1 when absent.
  int class_index(const std::string& name) const;
};

/// Reads DIR/annotations.jsonl (one JSON object per line; blank lines are skipped). Per record:
/// "id" (required, unique), "split", "width", "height", "file" (image path relative to DIR;
/// without it DIR/images/<id>.jpg), "class" (image label), "classes_missing_boxes" and
/// "objects": [{"class" (defaults to the image's "class"), "bbox": [x1, y1, x2, y2],
/// "difficult" (1 or true = difficult; 0 and -1 = unknown are not), "truncated"}]. Objects
/// without "bbox" are skipped; boxes are clipped to the image when its size is known.
/// `split` empty = all records, else only records whose "split" equals it. Throws Error naming
/// the file and line on malformed input; a missing file says what layout is expected.
Dataset load_dataset(const std::filesystem::path& dir, const std::string& split = "");

}  // namespace overfeat
