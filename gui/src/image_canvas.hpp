// SPDX-License-Identifier: MIT
// The picture being analysed, scaled to fit, with the detections drawn over it in widget
// coordinates (crisp at any zoom): merged boxes with their class, score and a stable colour
// per class; optionally the raw pre-merge boxes underneath to show the voting.
#pragma once
#include <QImage>
#include <QWidget>

#include <string>
#include <vector>

#include "overfeat/detection.hpp"

namespace overfeat::studio {

class ImageCanvas : public QWidget {
  Q_OBJECT
 public:
  explicit ImageCanvas(QWidget* parent = nullptr);

  void setImage(const QImage& image);
  const QImage& image() const { return image_; }
  /// Boxes in the image's pixel coordinates; `classes` names them.
  void setDetections(std::vector<Detection> merged, std::vector<Detection> raw,
                     std::vector<std::string> classes);
  void clearDetections();
  void setShowRaw(bool show);
  /// Shown centred when there is no image.
  void setPlaceholder(const QString& text);
  /// Where the image is drawn in the widget.
  QRectF imageRect() const;
  /// The image at its own resolution with the boxes drawn as on screen (what Save writes).
  QImage renderToImage() const;

  QSize sizeHint() const override { return {800, 600}; }

 protected:
  void paintEvent(QPaintEvent* event) override;

 private:
  void paintBoxes(QPainter& p, const QTransform& to_view, double label_scale) const;

  QImage image_;
  QString placeholder_;
  std::vector<Detection> merged_, raw_;
  std::vector<std::string> classes_;
  bool show_raw_ = false;
};

/// The QColor of a class, the same as the engine's PNGs use.
QColor class_qcolor(int cls);

}  // namespace overfeat::studio
