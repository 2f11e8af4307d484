// SPDX-License-Identifier: MIT
#include "layer_view.hpp"

#include <QComboBox>
#include <QLabel>
#include <QMouseEvent>
#include <QPainter>
#include <QScrollArea>
#include <QScrollBar>
#include <QTreeWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace overfeat::studio {
namespace {
constexpr int kDetailWidth = 320;  // pixels the enlarged unit is drawn in
}  // namespace

LayerView::LayerView(QWidget* parent) : QWidget(parent) {
  auto* column = new QVBoxLayout(this);
  layers_ = new QComboBox(this);
  layers_->setToolTip(tr("The layer whose units are shown (the release's numbering)"));
  column->addWidget(layers_);
  table_ = new QTreeWidget(this);
  table_->setColumnCount(4);
  table_->setHeaderLabels({tr("#"), tr("Layer"), tr("Output"), tr("ms")});
  table_->setRootIsDecorated(false);
  table_->setMaximumHeight(150);
  table_->setToolTip(
      tr("Output: channels x height x width for the frame's input; ms: GPU time "
         "in the last analysis (all scales and offsets; a ReLU runs inside its "
         "convolution). Click a row to show that layer."));
  column->addWidget(table_);
  connect(table_, &QTreeWidget::itemClicked, this,
          [this](QTreeWidgetItem* item) { setLayer(item->data(0, Qt::UserRole).toInt()); });
  summary_ = new QLabel(this);
  summary_->setWordWrap(true);
  column->addWidget(summary_);
  scroll_ = new QScrollArea(this);
  auto* scroll = scroll_;
  grid_label_ = new QLabel;
  grid_label_->setAlignment(Qt::AlignLeft | Qt::AlignTop);
  grid_label_->setToolTip(tr("One tile per unit; click one to see it over the frame"));
  grid_label_->installEventFilter(this);
  scroll->setWidget(grid_label_);
  scroll->setWidgetResizable(true);
  column->addWidget(scroll, 1);
  unit_label_ = new QLabel(this);
  unit_label_->setWordWrap(true);
  column->addWidget(unit_label_);
  detail_label_ = new QLabel(this);
  detail_label_->setAlignment(Qt::AlignHCenter | Qt::AlignTop);
  detail_label_->setMinimumHeight(kDetailWidth * 3 / 4);
  column->addWidget(detail_label_);
  for (QLabel* l : {summary_, unit_label_})  // three lines, whatever the layout squeezes
    l->setMinimumHeight(l->fontMetrics().lineSpacing() * 3 + 4);
  connect(layers_, &QComboBox::currentIndexChanged, this, [this] {
    unit_ = -1;
    result_.reset();
    rebuild();
    refreshTable();
    emit layerChanged(layer());
  });
  setModel(nullptr);
}

void LayerView::setModel(const ModelInfoPtr& model) {
  model_ = model;
  result_.reset();
  unit_ = -1;
  const QSignalBlocker block(layers_);
  layers_->clear();
  if (model_ && model_->layer_view) {
    int default_index = -1;
    for (const LayerEntry& e : model_->layers) {
      layers_->addItem(tr("%1  %2  (%3 for one window)").arg(e.id).arg(e.name, e.shape), e.id);
      // The first ReLU: what conv1's units respond to, after the non-linearity (a classic
      // network's first node, which is its first convolution with the ReLU fused).
      const bool relu = e.id <= model_->net.num_layers() &&
                        model_->net.modules[e.id - 1].kind == ModuleKind::Relu;
      if (default_index < 0 && (relu || model_->net.num_layers() == 0))
        default_index = layers_->count() - 1;
    }
    default_index = std::max(default_index, 0);
    const int wanted = layers_->findData(wanted_layer_);
    layers_->setCurrentIndex(wanted >= 0 ? wanted : default_index);
  }
  layers_->setEnabled(layers_->count() > 0);
  rebuild();
  refreshTable();
}

void LayerView::refreshTable() {
  table_->clear();
  table_->setVisible(model_ && model_->layer_view);
  if (!model_ || !model_->layer_view) return;
  const NetSpec& net = model_->net;  // OverFeat-style models: shapes for the frame's input
  int in_h = net.window, in_w = net.window;
  if (result_ && result_->layer) in_h = result_->layer->input_h, in_w = result_->layer->input_w;
  std::vector<StageTime> stages;
  if (result_) stages = result_->detect.timings.dense.stages;
  for (const LayerEntry& e : model_->layers) {
    const int i = e.id;
    const bool module = i <= net.num_layers();
    QString shape = e.shape;
    if (module) {
      int c, h, w;
      net.layer_shape(i, in_h, in_w, c, h, w);
      shape = QString("%1 x %2 x %3").arg(c).arg(h).arg(w);
    }
    // A stage is named by its module ("conv2"), with a prefix for the heads ("classifier conv6").
    const std::string name = e.name.toStdString();
    double ms = 0;
    bool timed = false;
    for (const StageTime& s : stages) {
      const std::string& n = s.name;
      if (n == name || (n.size() > name.size() && n.ends_with(" " + name)))
        ms += s.ms, timed = true;
    }
    const bool relu = module && net.modules[i - 1].kind == ModuleKind::Relu;
    auto* item = new QTreeWidgetItem(table_, {QString::number(i), e.name, shape,
                                              timed  ? QString::number(ms, 'f', 1)
                                              : relu ? tr("in conv")
                                                     : QString()});
    item->setData(0, Qt::UserRole, i);
    item->setTextAlignment(3, Qt::AlignRight);
    if (i == layer()) table_->setCurrentItem(item);
  }
  for (int col = 0; col < 3; ++col) table_->resizeColumnToContents(col);
}

int LayerView::layer() const {
  return layers_->count() ? layers_->currentData().toInt() : 0;
}

void LayerView::setLayer(int layer) {
  wanted_layer_ = layer;  // also for the next model, when this one does not have it (yet)
  const int i = layers_->findData(layer);
  if (i >= 0) layers_->setCurrentIndex(i);
}

int LayerView::unitCount() const {
  return result_ && result_->layer ? result_->layer->maps.c : 0;
}

void LayerView::showResult(const ResultPtr& result) {
  if (!result) return;
  if (!result->layer && result->layer_error.isEmpty()) return;   // not a layer view result
  if (result->layer && result->layer->layer != layer()) return;  // an older layer's
  result_ = result;
  rebuild();
  refreshTable();
}

void LayerView::setUnit(int unit) {
  // Before the first result, kept for it (rebuild() drops a unit the layer does not have).
  unit_ = unit >= 0 && (unitCount() == 0 || unit < unitCount()) ? unit : -1;
  renderDetail();
}

QString LayerView::summary() const {
  return summary_->text();
}
QString LayerView::unitText() const {
  return unit_label_->text();
}

void LayerView::rebuild() {
  grid_ = QImage();
  if (!model_ || !model_->layer_view) {
    summary_->setText(model_ ? tr("This model has no layer to show.") : tr("No model loaded."));
    grid_label_->setPixmap({});
    renderDetail();
    return;
  }
  if (!result_ || !result_->layer) {
    summary_->setText(result_ ? result_->layer_error
                              : tr("Open an image, a video or the camera to see this layer."));
    grid_label_->setPixmap({});
    renderDetail();
    return;
  }
  const LayerActivations& a = *result_->layer;
  const Tensor& t = a.maps;
  layer_max_ = 0;
  for (float v : t.data) layer_max_ = std::max(layer_max_, v);
  // A near-square grid of tiles at least 6 px tall, one pixel apart.
  cols_ = std::max(1, static_cast<int>(std::ceil(std::sqrt(t.c * double(t.h) / t.w))));
  const int rows = (t.c + cols_ - 1) / cols_;
  tile_w_ = t.w + 1, tile_h_ = t.h + 1;
  QImage g(cols_ * tile_w_, rows * tile_h_, QImage::Format_RGB32);
  g.fill(QColor(40, 40, 48));
  const size_t plane = static_cast<size_t>(t.h) * t.w;
  for (int c = 0; c < t.c; ++c) {
    const int ox = (c % cols_) * tile_w_, oy = (c / cols_) * tile_h_;
    // Each unit against its own largest activation (legible), but at least a tenth of the
    // layer's (a unit that barely fires stays dark rather than showing amplified noise).
    const float* m = t.data.data() + c * plane;
    const float top = std::max(*std::max_element(m, m + plane), 0.1f * layer_max_);
    for (int y = 0; y < t.h; ++y)
      for (int x = 0; x < t.w; ++x) {
        const float v = m[static_cast<size_t>(y) * t.w + x];
        const int level = top > 0 ? std::clamp(static_cast<int>(255 * v / top), -255, 255) : 0;
        g.setPixel(ox + x, oy + y,
                   v < 0 ? qRgb(0, 0, std::min(255, -level)) : qRgb(level, level, level));
      }
  }
  grid_ = g;
  // The scroll area's width less a vertical scroll bar's: tiles never scroll sideways.
  const int shown_w =
      std::max(120, scroll_->width() - scroll_->verticalScrollBar()->sizeHint().width() - 6);
  grid_scale_ = double(shown_w) / g.width();
  const int shown_h =
      std::max(1, static_cast<int>(std::lround(double(g.height()) * shown_w / g.width())));
  grid_label_->setPixmap(QPixmap::fromImage(
      g.scaled(shown_w, shown_h, Qt::IgnoreAspectRatio, Qt::FastTransformation)));
  summary_->setText(tr("%1 (layer %2): %3 units of %4 x %5 for a %6 x %7 input, largest "
                       "activation %8, %9 ms on the device")
                        .arg(a.name)
                        .arg(a.layer)
                        .arg(t.c)
                        .arg(t.h)
                        .arg(t.w)
                        .arg(a.input_h)
                        .arg(a.input_w)
                        .arg(layer_max_, 0, 'g', 3)
                        .arg(a.gpu_ms, 0, 'f', 1));
  if (unit_ >= t.c) unit_ = -1;
  renderDetail();
}

void LayerView::renderDetail() {
  detail_ = QImage();
  window_ = QRectF();
  if (!result_ || !result_->layer || unit_ < 0) {
    unit_label_->setText(result_ && result_->layer ? tr("Click a unit to see it over the frame.")
                                                   : QString());
    detail_label_->setPixmap({});
    return;
  }
  const LayerActivations& a = *result_->layer;
  const Tensor& t = a.maps;
  const size_t plane = static_cast<size_t>(t.h) * t.w;
  const float* m = t.data.data() + unit_ * plane;
  int best = 0;
  for (size_t i = 1; i < plane; ++i)
    if (m[i] > m[best]) best = static_cast<int>(i);
  const int by = best / t.w, bx = best % t.w;
  // Cells sit at their receptive fields' centres; the map spans them, one stride per cell.
  const double fx = a.frame_per_input_x, fy = a.frame_per_input_y;
  const QRectF map_rect((a.x0 - a.step / 2) * fx, (a.y0 - a.step / 2) * fy, a.step * t.w * fx,
                        a.step * t.h * fy);
  // The strongest cell's receptive field, clamped to the input.
  const double cx = a.x0 + bx * a.step, cy = a.y0 + by * a.step, r = a.field / 2.0;
  const double wx0 = std::max(0.0, cx - r), wy0 = std::max(0.0, cy - r);
  const double wx1 = std::min<double>(a.input_w, cx + r), wy1 = std::min<double>(a.input_h, cy + r);
  window_ = QRectF(wx0 * fx, wy0 * fy, (wx1 - wx0) * fx, (wy1 - wy0) * fy);

  const QImage& frame = result_->frame.image;
  if (frame.isNull()) return;
  const double s = double(kDetailWidth) / frame.width();
  QImage out = frame.scaledToWidth(kDetailWidth, Qt::SmoothTransformation)
                   .convertToFormat(QImage::Format_ARGB32_Premultiplied);
  QImage heat(t.w, t.h, QImage::Format_ARGB32);
  const float top = std::max(m[best], 1e-6f);
  for (int y = 0; y < t.h; ++y)
    for (int x = 0; x < t.w; ++x) {
      const float v = std::clamp(m[static_cast<size_t>(y) * t.w + x] / top, 0.0f, 1.0f);
      heat.setPixel(x, y,
                    qRgba(255, static_cast<int>(200 * (1 - v)), 0, static_cast<int>(170 * v)));
    }
  {
    QPainter p(&out);
    p.setRenderHint(QPainter::SmoothPixmapTransform);
    p.drawImage(
        QRectF(map_rect.x() * s, map_rect.y() * s, map_rect.width() * s, map_rect.height() * s),
        heat);
    p.setPen(QPen(QColor(255, 230, 0), 2));
    p.setBrush(Qt::NoBrush);
    p.drawRect(QRectF(window_.x() * s, window_.y() * s, window_.width() * s, window_.height() * s));
  }
  detail_ = out;
  detail_label_->setPixmap(QPixmap::fromImage(out));
  unit_label_->setText(tr("Unit %1 of %2: strongest %3 at cell (%4, %5); yellow: the input it "
                          "sees there (its receptive field)")
                           .arg(unit_ + 1)
                           .arg(t.c)
                           .arg(m[best], 0, 'g', 3)
                           .arg(by)
                           .arg(bx));
}

QWidget* LayerView::gridWidget() const {
  return grid_label_;
}

QPoint LayerView::tileCenter(int unit) const {
  if (grid_.isNull()) return {};
  const double scale = grid_scale_;
  return QPoint(static_cast<int>(((unit % cols_) * tile_w_ + tile_w_ / 2.0) * scale),
                static_cast<int>(((unit / cols_) * tile_h_ + tile_h_ / 2.0) * scale));
}

bool LayerView::eventFilter(QObject* watched, QEvent* event) {
  if (watched == grid_label_ && event->type() == QEvent::MouseButtonPress && !grid_.isNull()) {
    const QPoint p = static_cast<QMouseEvent*>(event)->position().toPoint();
    const double scale = grid_scale_;
    const int gx = static_cast<int>(p.x() / scale), gy = static_cast<int>(p.y() / scale);
    const int unit = (gy / tile_h_) * cols_ + gx / tile_w_;
    if (gx >= 0 && gy >= 0 && gx < grid_.width() && unit < unitCount()) setUnit(unit);
    return true;
  }
  return QWidget::eventFilter(watched, event);
}

}  // namespace overfeat::studio
