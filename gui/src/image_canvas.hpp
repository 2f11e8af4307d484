// SPDX-License-Identifier: MIT
// The picture being analysed, scaled to fit, with the detections drawn over it in widget
// coordinates (crisp at any zoom): merged boxes with their class, score and a stable colour
// per class; optionally the raw pre-merge boxes underneath to show the voting.
#pragma once
#include <QFont>
#include <QImage>
#include <QWidget>

#include <optional>
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
  /// A translucent picture laid over the image rectangle `where` (image pixels), e.g. a
  /// similarity map; a null image removes it.
  void setOverlay(const QImage& overlay, const QRectF& where);
  /// A large caption in the top-left corner of the picture (the one-shot answer); empty: none.
  void setCaption(const QString& text, const QColor& color);
  QString caption() const { return caption_; }
  /// How many merged boxes are drawn.
  int detectionCount() const { return static_cast<int>(merged_.size()); }
  /// Where the caption is drawn on an image of `size` saved by renderToImage() (empty without a
  /// caption), and where each merged box's tag is: tags never cover the caption or each other.
  QRectF savedCaptionRect(const QSize& size) const;
  std::vector<QRectF> savedTagRects(const QSize& size) const;
  /// Lets the user drag a box on the picture (for teaching a region); right click clears it.
  void setSelectable(bool selectable);
  /// The box dragged on the picture, in image pixels (corners inclusive), if any.
  std::optional<QRectF> selection() const { return selection_; }
  void setSelection(const std::optional<QRectF>& box);
  /// Shown centred when there is no image.
  void setPlaceholder(const QString& text);
  /// Where the image is drawn in the widget.
  QRectF imageRect() const;
  /// The image at its own resolution with the boxes drawn as on screen (what Save writes).
  QImage renderToImage() const;

  QSize sizeHint() const override { return {800, 600}; }

 protected:
  void paintEvent(QPaintEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mouseReleaseEvent(QMouseEvent* event) override;

 signals:
  void selectionChanged();

 private:
  struct TagLayout {
    QFont font;
    std::vector<QString> tags;  ///< "name 74%", one per merged box
    std::vector<QRectF> rects;  ///< where each is drawn
  };
  TagLayout layoutTags(const QFont& base, const QTransform& to_view, const QRectF& picture,
                       double label_scale) const;
  static double savedScale(const QSize& size);
  void paintBoxes(QPainter& p, const QTransform& to_view, const QRectF& picture,
                  double label_scale) const;
  void paintOverlay(QPainter& p, const QTransform& to_view) const;
  void paintCaption(QPainter& p, const QRectF& picture, double scale) const;
  /// Where the caption goes on `picture` (empty without one), its font and its (elided) text.
  QRectF captionRect(const QFont& base, const QRectF& picture, double scale, QFont* font = nullptr,
                     QString* text = nullptr) const;
  QPointF toImage(const QPointF& widget_point) const;

  QImage image_;
  QString placeholder_;
  std::vector<Detection> merged_, raw_;
  std::vector<std::string> classes_;
  bool show_raw_ = false;
  QImage overlay_;
  QRectF overlay_rect_;
  QString caption_;
  QColor caption_color_;
  bool selectable_ = false;
  std::optional<QRectF> selection_;
  std::optional<QPointF> drag_start_;
};

/// The QColor of a class, the same as the engine's PNGs use.
QColor class_qcolor(int cls);

}  // namespace overfeat::studio
