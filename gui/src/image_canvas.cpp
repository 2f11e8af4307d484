// SPDX-License-Identifier: MIT
#include "image_canvas.hpp"

#include <QMouseEvent>
#include <QPainter>
#include <QPainterPath>

#include "overfeat/render.hpp"
#include "overfeat/report.hpp"

namespace overfeat::studio {

QColor class_qcolor(int cls) {
  const auto c = render::class_color(cls);
  return QColor(c[0], c[1], c[2]);
}

ImageCanvas::ImageCanvas(QWidget* parent) : QWidget(parent) {
  setAttribute(Qt::WA_OpaquePaintEvent);
  setMinimumSize(240, 180);
  placeholder_ = tr("Drop images, a folder or a video here, or use File > Open");
}

void ImageCanvas::setImage(const QImage& image) {
  image_ = image;
  update();
}

void ImageCanvas::setDetections(std::vector<Detection> merged, std::vector<Detection> raw,
                                std::vector<std::string> classes) {
  merged_ = std::move(merged);
  raw_ = std::move(raw);
  classes_ = std::move(classes);
  update();
}

void ImageCanvas::clearDetections() {
  merged_.clear();
  raw_.clear();
  update();
}

void ImageCanvas::setShowRaw(bool show) {
  show_raw_ = show;
  update();
}

void ImageCanvas::setOverlay(const QImage& overlay, const QRectF& where) {
  overlay_ = overlay;
  overlay_rect_ = where;
  update();
}

void ImageCanvas::setCaption(const QString& text, const QColor& color) {
  caption_ = text;
  caption_color_ = color;
  update();
}

void ImageCanvas::setSelectable(bool selectable) {
  selectable_ = selectable;
  setCursor(selectable ? Qt::CrossCursor : Qt::ArrowCursor);
  if (!selectable) setSelection(std::nullopt);
}

void ImageCanvas::setSelection(const std::optional<QRectF>& box) {
  selection_ = box;
  update();
  emit selectionChanged();
}

QPointF ImageCanvas::toImage(const QPointF& w) const {
  const QRectF r = imageRect();
  const double x = (w.x() - r.x()) * image_.width() / r.width() - 0.5;
  const double y = (w.y() - r.y()) * image_.height() / r.height() - 0.5;
  return {std::clamp(x, 0.0, image_.width() - 1.0), std::clamp(y, 0.0, image_.height() - 1.0)};
}

void ImageCanvas::mousePressEvent(QMouseEvent* event) {
  if (!selectable_ || image_.isNull()) return QWidget::mousePressEvent(event);
  if (event->button() == Qt::RightButton) {
    setSelection(std::nullopt);
  } else if (event->button() == Qt::LeftButton && imageRect().contains(event->position())) {
    drag_start_ = toImage(event->position());
    selection_.reset();
    update();
  }
}

void ImageCanvas::mouseMoveEvent(QMouseEvent* event) {
  if (!drag_start_) return QWidget::mouseMoveEvent(event);
  selection_ = QRectF(*drag_start_, toImage(event->position())).normalized();
  update();
}

void ImageCanvas::mouseReleaseEvent(QMouseEvent* event) {
  if (!drag_start_) return QWidget::mouseReleaseEvent(event);
  const QRectF box = QRectF(*drag_start_, toImage(event->position())).normalized();
  drag_start_.reset();
  // A click without a drag clears the box rather than making a degenerate one.
  setSelection(box.width() >= 4 && box.height() >= 4 ? std::optional<QRectF>(box) : std::nullopt);
}

void ImageCanvas::paintOverlay(QPainter& p, const QTransform& to_view) const {
  if (overlay_.isNull()) return;
  p.save();
  p.setRenderHint(QPainter::SmoothPixmapTransform, false);  // cells stay visible
  p.drawImage(to_view.mapRect(overlay_rect_), overlay_);
  p.restore();
}

QRectF ImageCanvas::captionRect(const QFont& base, const QRectF& picture, double scale, QFont* font,
                                QString* text) const {
  if (caption_.isEmpty()) return {};
  QFont f = base;
  f.setPointSizeF(f.pointSizeF() * 1.6 * scale);
  f.setBold(true);
  const QFontMetricsF fm(f);
  // Elided to the picture, so that a small saved image (320x240) keeps what fits.
  const double room = std::max(1.0, picture.width() - 32 * scale);
  const QString shown = fm.elidedText(caption_, Qt::ElideRight, room);
  if (font) *font = f;
  if (text) *text = shown;
  return {picture.topLeft() + QPointF(8 * scale, 8 * scale),
          QSizeF(fm.horizontalAdvance(shown) + 16 * scale, fm.height() + 8 * scale)};
}

void ImageCanvas::paintCaption(QPainter& p, const QRectF& picture, double scale) const {
  QFont f;
  QString text;
  const QRectF r = captionRect(p.font(), picture, scale, &f, &text);
  if (r.isEmpty()) return;
  p.save();  // the caption's big font must not leak into the box tags
  p.setFont(f);
  p.fillRect(r, QColor(0, 0, 0, 170));
  p.setPen(caption_color_.isValid() ? caption_color_ : QColor(Qt::white));
  p.drawText(r, Qt::AlignCenter, text);
  p.restore();
}

void ImageCanvas::setPlaceholder(const QString& text) {
  placeholder_ = text;
  update();
}

QRectF ImageCanvas::imageRect() const {
  if (image_.isNull()) return {};
  const QSizeF area = QSizeF(size()) - QSizeF(16, 16);
  QSizeF s = QSizeF(image_.size()).scaled(area, Qt::KeepAspectRatio);
  return QRectF(QPointF((width() - s.width()) / 2, (height() - s.height()) / 2), s);
}

void ImageCanvas::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), QColor(32, 33, 36));
  if (image_.isNull()) {
    p.setPen(QColor(190, 190, 190));
    p.drawText(rect().adjusted(20, 20, -20, -20), Qt::AlignCenter | Qt::TextWordWrap, placeholder_);
    return;
  }
  const QRectF r = imageRect();
  p.setRenderHint(QPainter::SmoothPixmapTransform);
  p.drawImage(r, image_);
  QTransform t;
  t.translate(r.x(), r.y());
  t.scale(r.width() / image_.width(), r.height() / image_.height());
  p.setRenderHint(QPainter::Antialiasing);
  paintOverlay(p, t);
  paintBoxes(p, t, r, 1.0);
  paintCaption(p, r, 1.0);  // last: nothing covers the answer
  if (selection_) {
    const QRectF s = t.mapRect(QRectF(selection_->topLeft() - QPointF(0.5, 0.5),
                                      selection_->bottomRight() + QPointF(0.5, 0.5)));
    p.setBrush(Qt::NoBrush);
    p.setPen(QPen(Qt::black, 2));
    p.drawRect(s);
    p.setPen(QPen(Qt::white, 2, Qt::DashLine));
    p.drawRect(s);
  }
}

namespace {
QRectF box_rect(const QTransform& to_view, const Box& b) {
  // Corners are inclusive pixel centres: the box covers x1 - 0.5 .. x2 + 0.5.
  return to_view.mapRect(QRectF(QPointF(b.x1 - 0.5, b.y1 - 0.5), QPointF(b.x2 + 0.5, b.y2 + 0.5)));
}
}  // namespace

ImageCanvas::TagLayout ImageCanvas::layoutTags(const QFont& base, const QTransform& to_view,
                                               const QRectF& picture, double label_scale) const {
  TagLayout l;
  l.font = base;
  l.font.setPointSizeF(l.font.pointSizeF() * label_scale);
  l.font.setBold(true);
  const QFontMetricsF fm(l.font);
  // Placed so that no tag covers another or the caption (render::place_labels, as in the saved
  // PNGs): the best box chooses first.
  const QRectF area = to_view.mapRect(QRectF(0, 0, image_.width(), image_.height()));
  std::vector<render::LabelRect> boxes, sizes;
  for (const Detection& d : merged_) {
    const QRectF r = box_rect(to_view, d.box);
    const std::string name = d.cls >= 0 && d.cls < static_cast<int>(classes_.size())
                                 ? short_name(classes_[d.cls])
                                 : std::to_string(d.cls);
    l.tags.push_back(QString::fromStdString(name + " " + percent_label(d.confidence)));
    const double line = 2.5 * label_scale;
    boxes.push_back({r.left() - line / 2 - area.left(), r.top() - line / 2 - area.top(),
                     r.width() + line, r.height() + line});
    sizes.push_back({0, 0, fm.horizontalAdvance(l.tags.back()) + 8 * label_scale,
                     fm.height() + 2 * label_scale});
  }
  std::vector<render::LabelRect> taken;
  if (const QRectF c = captionRect(base, picture, label_scale); !c.isEmpty())
    taken.push_back({c.left() - area.left(), c.top() - area.top(), c.width(), c.height()});
  for (const render::LabelRect& w :
       render::place_labels(boxes, sizes, area.width(), area.height(), taken))
    l.rects.emplace_back(w.x + area.left(), w.y + area.top(), w.w, w.h);
  return l;
}

void ImageCanvas::paintBoxes(QPainter& p, const QTransform& to_view, const QRectF& picture,
                             double label_scale) const {
  const TagLayout layout = layoutTags(p.font(), to_view, picture, label_scale);
  p.save();  // the tags' font stays here
  if (show_raw_) {
    for (const Detection& d : raw_) {
      QColor c = class_qcolor(d.cls);
      c.setAlpha(110);
      p.setPen(QPen(c, 1.0 * label_scale));
      p.setBrush(Qt::NoBrush);
      p.drawRect(box_rect(to_view, d.box));
    }
  }
  p.setFont(layout.font);
  // Boxes first, then the tags; the best box is drawn last, on top.
  for (auto it = merged_.rbegin(); it != merged_.rend(); ++it) {
    p.setPen(QPen(class_qcolor(it->cls), 2.5 * label_scale));
    p.setBrush(Qt::NoBrush);
    p.drawRect(box_rect(to_view, it->box));
  }
  for (size_t i = layout.rects.size(); i-- > 0;) {
    const QColor c = class_qcolor(merged_[i].cls);
    p.fillRect(layout.rects[i], c);
    const bool dark_text = 0.299 * c.red() + 0.587 * c.green() + 0.114 * c.blue() > 150;
    p.setPen(dark_text ? Qt::black : Qt::white);
    p.drawText(layout.rects[i], Qt::AlignCenter, layout.tags[i]);
  }
  p.restore();
}

double ImageCanvas::savedScale(const QSize& size) {
  // Lines and tags keep their on-screen look relative to the image: scaled like the engine's
  // PNGs (up with images larger than 640 px).
  return std::max(1.0, std::max(size.width(), size.height()) / 640.0);
}

// A painter on a QImage starts with the application's font, QFont().
QRectF ImageCanvas::savedCaptionRect(const QSize& size) const {
  return captionRect(QFont(), QRectF(QPointF(0, 0), QSizeF(size)), savedScale(size));
}

std::vector<QRectF> ImageCanvas::savedTagRects(const QSize& size) const {
  return layoutTags(QFont(), QTransform(), QRectF(QPointF(0, 0), QSizeF(size)), savedScale(size))
      .rects;
}

QImage ImageCanvas::renderToImage() const {
  if (image_.isNull()) return {};
  QImage out = image_.convertToFormat(QImage::Format_RGB32);
  QPainter p(&out);
  p.setRenderHint(QPainter::Antialiasing);
  const double scale = savedScale(out.size());
  paintOverlay(p, QTransform());
  paintBoxes(p, QTransform(), QRectF(out.rect()), scale);
  paintCaption(p, QRectF(out.rect()), scale);
  return out;
}

}  // namespace overfeat::studio
