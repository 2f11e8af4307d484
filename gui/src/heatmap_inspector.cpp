// SPDX-License-Identifier: MIT
#include "heatmap_inspector.hpp"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QMouseEvent>
#include <QPainter>
#include <QPainterPath>
#include <QSignalBlocker>
#include <QSlider>
#include <QStandardItemModel>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

#include "overfeat/render.hpp"
#include "overfeat/report.hpp"

namespace overfeat::studio {

namespace {

constexpr int kTopEntries = 5;  // top classes listed after "automatic"
// Raw boxes drawn per class and scale, the best first: a thousand on a tile only hide the map.
constexpr int kMaxRawDrawn = 25;
// Maps with at most this many cells print each cell's value: a live 1x1 or 2x3 map is a few
// coloured blocks that say nothing without the numbers.
constexpr int kMaxCellsWithValues = 24;
constexpr int kDimAlpha = 115;  // darkens the frame where no map cell lies (to ~55 %)
const QColor kGridBackground(24, 26, 30);
const QColor kTileBackground(36, 38, 44);
const QColor kTitleColor(236, 238, 242);
const QColor kSubtitleColor(172, 178, 190);

QColor qcolor_of_class(int cls, int alpha = 255) {
  const auto c = render::class_color(cls);
  return QColor(c[0], c[1], c[2], alpha);
}

// The multiplication sign.
QString times() {
  return QString(QChar(0x00D7));
}

QString score_text(double v) {
  return QString::number(v, 'f', 2);
}

/// Where image pixel coordinates lie on a tile's image rectangle.
struct ToTile {
  double left = 0, top = 0, kx = 1, ky = 1;
  QPointF map(double x, double y) const { return {left + x * kx, top + y * ky}; }
  QRectF map(const QRectF& r) const {
    return {left + r.left() * kx, top + r.top() * ky, r.width() * kx, r.height() * ky};
  }
};

ToTile to_tile(const QRect& image, QSize image_size) {
  ToTile t;
  t.left = image.left();
  t.top = image.top();
  t.kx = image_size.width() > 0 ? static_cast<double>(image.width()) / image_size.width() : 1;
  t.ky = image_size.height() > 0 ? static_cast<double>(image.height()) / image_size.height() : 1;
  return t;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The tile grid: paints what the inspector prepared, and reports the mouse.

class HeatmapInspector::Grid : public QWidget {
 public:
  explicit Grid(HeatmapInspector* owner) : QWidget(owner), owner_(owner) {
    setMouseTracking(true);
    setAttribute(Qt::WA_OpaquePaintEvent);
    setMinimumSize(240, 180);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
  }

 protected:
  void paintEvent(QPaintEvent*) override {
    QPainter p(this);
    owner_->paintGrid(p, size(), true);
  }
  void mouseMoveEvent(QMouseEvent* event) override {
    owner_->setHoverPos(event->position().toPoint(), true);
  }
  void leaveEvent(QEvent*) override { owner_->setHoverPos({}, false); }
  void resizeEvent(QResizeEvent*) override { owner_->updateHover(); }

 private:
  HeatmapInspector* owner_;
};

// ---------------------------------------------------------------------------------------------

HeatmapInspector::HeatmapInspector(QWidget* parent) : QWidget(parent) {
  colorbar_ = QImage(256, 1, QImage::Format_RGB32);
  for (int i = 0; i < 256; ++i) {
    const auto c = render::colormap_color(render::Colormap::Viridis, i / 255.0f);
    colorbar_.setPixel(i, 0, qRgb(c[0], c[1], c[2]));
  }
  buildControls();
}

HeatmapInspector::~HeatmapInspector() = default;

void HeatmapInspector::buildControls() {
  class_combo_ = new QComboBox(this);
  class_combo_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  class_combo_->setMinimumContentsLength(22);
  class_combo_->setToolTip(tr("The class whose maps are shown"));
  class_combo_->addItem(tr("Top class (automatic)"), -1);
  connect(class_combo_, &QComboBox::activated, this, &HeatmapInspector::onClassActivated);

  opacity_slider_ = new QSlider(Qt::Horizontal, this);
  opacity_slider_->setRange(0, 100);
  opacity_slider_->setValue(qRound(opacity_ * 100));
  opacity_slider_->setFixedWidth(130);
  opacity_slider_->setToolTip(tr("Opacity of the map over the picture"));
  opacity_value_ = new QLabel(this);
  opacity_value_->setText(QStringLiteral("%1 %").arg(opacity_slider_->value()));
  opacity_value_->setMinimumWidth(opacity_value_->fontMetrics().horizontalAdvance("100 %"));
  connect(opacity_slider_, &QSlider::valueChanged, this, [this](int value) {
    opacity_ = value / 100.0;
    opacity_value_->setText(QStringLiteral("%1 %").arg(value));
    rebuildOverlays();
    grid_->update();
  });

  fine_check_ = new QCheckBox(tr("Fine stride"), this);
  fine_check_->setChecked(true);
  fine_check_->setToolTip(
      tr("Offset pooling: maps k times finer than the network's stride (re-runs the network)"));
  connect(fine_check_, &QCheckBox::toggled, this, &HeatmapInspector::fineStrideToggled);

  boxes_combo_ = new QComboBox(this);
  boxes_combo_->addItems({tr("No boxes"), tr("Raw boxes per scale"), tr("Raw boxes and merge")});
  connect(boxes_combo_, &QComboBox::currentIndexChanged, this, [this](int index) {
    boxes_ = static_cast<Boxes>(std::clamp(index, 0, 2));
    rebuildTiles();
    updateHover();
    grid_->update();
  });

  grid_ = new Grid(this);

  hover_label_ = new QLabel(this);
  hover_label_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
  hover_label_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  updateHover();

  auto* controls = new QHBoxLayout;
  controls->addWidget(new QLabel(tr("Class:"), this));
  controls->addWidget(class_combo_, 1);
  controls->addSpacing(12);
  controls->addWidget(new QLabel(tr("Opacity:"), this));
  controls->addWidget(opacity_slider_);
  controls->addWidget(opacity_value_);
  controls->addSpacing(12);
  controls->addWidget(fine_check_);
  controls->addSpacing(12);
  controls->addWidget(boxes_combo_);
  controls->addStretch(0);

  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(6, 6, 6, 6);
  layout->addLayout(controls);
  layout->addWidget(grid_, 1);
  layout->addWidget(hover_label_);
}

// ---------------------------------------------------------------------------------------------
// State

void HeatmapInspector::setResult(ResultPtr result) {
  result_ = std::move(result);
  auto_class_ = -1;
  if (result_) {
    const DetectResult& d = result_->detect;
    std::vector<float> scores = d.class_probs;
    if (scores.empty() && !d.dense.maps.empty()) scores = classify(d.dense);
    const std::vector<ScoredClass> top = top_foreground(scores, backgroundClass(), 1);
    if (!top.empty()) auto_class_ = top.front().index;
  }
  updateClassCombo();
  rebuildTiles();
  updateHover();
  grid_->update();
}

int HeatmapInspector::shownClass() const {
  const int n = classCount();
  if (chosen_ >= 0 && (n == 0 || chosen_ < n)) return chosen_;
  return auto_class_;
}

void HeatmapInspector::setClass(int cls) {
  chosen_ = std::max(cls, -1);
  syncClassCombo();
  rebuildOverlays();
  updateHover();
  grid_->update();
}

void HeatmapInspector::onClassActivated(int index) {
  const QVariant data = class_combo_->itemData(index);
  if (!data.isValid()) return;
  const int cls = data.toInt();
  if (cls < -1) return;
  chosen_ = cls;
  rebuildOverlays();
  updateHover();
  grid_->update();
  emit classChosen(cls);
}

void HeatmapInspector::setOpacity(double opacity) {
  opacity_ = std::clamp(std::isfinite(opacity) ? opacity : 0.6, 0.0, 1.0);
  {
    const QSignalBlocker block(opacity_slider_);
    opacity_slider_->setValue(qRound(opacity_ * 100));
  }
  opacity_value_->setText(QStringLiteral("%1 %").arg(opacity_slider_->value()));
  rebuildOverlays();
  grid_->update();
}

void HeatmapInspector::setBoxes(Boxes boxes) {
  boxes_ = boxes;
  {
    const QSignalBlocker block(boxes_combo_);
    boxes_combo_->setCurrentIndex(static_cast<int>(boxes));
  }
  rebuildTiles();
  updateHover();
  grid_->update();
}

void HeatmapInspector::setFineStride(bool fine) {
  const QSignalBlocker block(fine_check_);
  fine_check_->setChecked(fine);
}

void HeatmapInspector::setFineStrideAvailable(bool available) {
  fine_check_->setEnabled(available);
  fine_check_->setToolTip(available ? QString()
                                    : tr("This network runs at its own stride: no last "
                                         "pooling to offset"));
}

bool HeatmapInspector::fineStride() const {
  return fine_check_->isChecked();
}

int HeatmapInspector::classCount() const {
  if (!result_) return 0;
  if (result_->model && !result_->model->classes.empty())
    return static_cast<int>(result_->model->classes.size());
  for (const ScaleMap& m : result_->detect.dense.maps)
    if (m.probs.c > 0) return m.probs.c;
  return static_cast<int>(result_->detect.class_probs.size());
}

int HeatmapInspector::backgroundClass() const {
  if (!result_) return -1;
  if (result_->model) return result_->model->background;
  for (const ScaleMap& m : result_->detect.dense.maps) return m.background;
  return -1;
}

QString HeatmapInspector::className(int cls) const {
  if (result_ && result_->model && cls >= 0 &&
      cls < static_cast<int>(result_->model->classes.size()))
    return QString::fromStdString(short_name(result_->model->classes[cls]));
  return tr("class %1").arg(cls);
}

// ---------------------------------------------------------------------------------------------
// The class combo box: automatic, the top classes with their probabilities, then every class.
// Rebuilt only when the class list changes, so live results do not make it flicker.

void HeatmapInspector::updateClassCombo() {
  if (!result_) return;
  const int n = classCount();
  const int background = backgroundClass();
  std::vector<std::string> names;
  if (result_->model && !result_->model->classes.empty()) {
    names = result_->model->classes;
  } else {
    for (int c = 0; c < n; ++c) names.push_back("class " + std::to_string(c));
  }

  if (names != combo_classes_) {
    const QSignalBlocker block(class_combo_);
    class_combo_->clear();
    class_combo_->addItem(tr("Top class (automatic)"), -1);
    const int foreground = n - (background >= 0 && background < n ? 1 : 0);
    combo_top_ = std::min(kTopEntries, foreground);
    for (int i = 0; i < combo_top_; ++i) class_combo_->addItem(QString(), -2);
    class_combo_->insertSeparator(class_combo_->count());
    for (int c = 0; c < n; ++c)
      if (c != background) class_combo_->addItem(QString::fromStdString(names[c]), c);
    if (background >= 0 && background < n)
      class_combo_->addItem(tr("%1 (background)").arg(QString::fromStdString(names[background])),
                            background);
    combo_classes_ = std::move(names);
  }

  std::vector<float> scores = result_->detect.class_probs;
  if (scores.empty() && !result_->detect.dense.maps.empty())
    scores = classify(result_->detect.dense);
  const std::vector<ScoredClass> top = top_foreground(scores, background, combo_top_);
  auto* model = qobject_cast<QStandardItemModel*>(class_combo_->model());
  for (int i = 0; i < combo_top_; ++i) {
    const int row = 1 + i;
    if (i < static_cast<int>(top.size())) {
      class_combo_->setItemText(
          row, QStringLiteral("%1  %2").arg(className(top[i].index), score_text(top[i].score)));
      class_combo_->setItemData(row, top[i].index);
    } else {
      class_combo_->setItemText(row, QStringLiteral("-"));
      class_combo_->setItemData(row, -2);
    }
    if (model && model->item(row)) model->item(row)->setEnabled(i < static_cast<int>(top.size()));
  }
  class_combo_->setItemText(0, auto_class_ >= 0
                                   ? tr("Top class (automatic): %1").arg(className(auto_class_))
                                   : tr("Top class (automatic)"));
  syncClassCombo();
}

void HeatmapInspector::syncClassCombo() {
  const QSignalBlocker block(class_combo_);
  const int current = class_combo_->currentIndex();
  if (current >= 0 && class_combo_->itemData(current).isValid() &&
      class_combo_->itemData(current).toInt() == chosen_)
    return;
  if (chosen_ < 0) {
    class_combo_->setCurrentIndex(0);
    return;
  }
  // The entry in the full list (the top entries' classes change from frame to frame).
  for (int i = class_combo_->count() - 1; i > combo_top_; --i) {
    const QVariant data = class_combo_->itemData(i);
    if (data.isValid() && data.toInt() == chosen_) {
      class_combo_->setCurrentIndex(i);
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Tiles: built when a result, the box mode, the class or the opacity changes.

void HeatmapInspector::rebuildTiles() {
  tiles_.clear();
  raw_by_scale_.clear();
  if (!result_) return;
  const std::vector<ScaleMap>& maps = result_->detect.dense.maps;
  for (size_t i = 0; i < maps.size(); ++i) {
    const ScaleMap& m = maps[i];
    Tile t;
    t.map = static_cast<int>(i);
    t.rows = std::max(0, m.probs.h);
    t.cols = std::max(0, m.probs.w);
    if (m.input.w > 0 && m.input.h > 0 && m.image_w > 0 && m.image_h > 0)
      m.cell_centers(t.x0, t.y0, t.step_x, t.step_y);
    else
      t.rows = t.cols = 0;
    if (!(t.step_x > 0) || !(t.step_y > 0) || m.probs.c <= 0 ||
        m.probs.size() != static_cast<size_t>(m.probs.c) * m.probs.h * m.probs.w)
      t.rows = t.cols = 0;
    t.title = tr("scale %1 · %2%3%4 · %5%3%6 %7")
                  .arg(m.scale + 1)
                  .arg(m.input.h)
                  .arg(times())
                  .arg(m.input.w)
                  .arg(m.probs.h)
                  .arg(m.probs.w)
                  .arg(m.geometry.offsets > 1 ? tr("fine") : tr("coarse"));
    if (m.flipped) t.title += tr(" (mirrored)");
    tiles_.push_back(std::move(t));
  }

  if (boxes_ != Boxes::None) {
    // Grouped by scale, then class, best first, so painting is a few drawRects calls.
    std::vector<const Detection*> raw;
    raw.reserve(result_->detect.raw.size());
    for (const Detection& d : result_->detect.raw) raw.push_back(&d);
    std::stable_sort(raw.begin(), raw.end(), [](const Detection* a, const Detection* b) {
      return a->scale != b->scale ? a->scale < b->scale : a->score > b->score;
    });
    for (const Detection* d : raw) {
      if (raw_by_scale_.empty() || raw_by_scale_.back().scale != d->scale)
        raw_by_scale_.push_back({d->scale, {}, {}});
      ScaleBoxes& s = raw_by_scale_.back();
      if (++s.count_by_class[d->cls] > kMaxRawDrawn) continue;
      auto it = std::find_if(s.by_class.begin(), s.by_class.end(),
                             [&](const auto& g) { return g.first == d->cls; });
      if (it == s.by_class.end()) it = s.by_class.insert(s.by_class.end(), {d->cls, {}});
      it->second.emplace_back(QPointF(d->box.x1, d->box.y1), QPointF(d->box.x2, d->box.y2));
    }
  }
  if (boxes_ == Boxes::RawAndMerged) {
    Tile t;
    t.title = tr("merged (all scales)");
    const size_t merged = result_->detect.merged.size();
    t.subtitle = (merged == 1 ? tr("1 box") : tr("%1 boxes").arg(merged)) +
                 tr(" from %1 raw").arg(result_->detect.raw.size());
    tiles_.push_back(std::move(t));
  }
  rebuildOverlays();
}

void HeatmapInspector::rebuildOverlays() {
  if (!result_) return;
  const std::vector<ScaleMap>& maps = result_->detect.dense.maps;
  const int cls = shownClass();
  const int alpha = std::clamp(static_cast<int>(std::lround(opacity_ * 255)), 0, 255);
  for (Tile& t : tiles_) {
    if (t.map < 0) continue;
    const ScaleMap& m = maps[t.map];
    t.overlay = QImage();
    t.values.clear();
    if (t.rows == 0 || t.cols == 0 || m.probs.h <= 0 || m.probs.w <= 0 ||
        m.probs.size() != static_cast<size_t>(m.probs.c) * m.probs.h * m.probs.w) {
      t.subtitle = tr("empty map");
      continue;
    }
    if (cls < 0 || cls >= m.probs.c) {
      t.subtitle = tr("no class to show");
      continue;
    }
    const Tensor values = m.class_map(cls);
    QImage image(values.w, values.h, QImage::Format_ARGB32);
    float best = 0;
    for (int y = 0; y < values.h; ++y) {
      auto* line = reinterpret_cast<QRgb*>(image.scanLine(y));
      for (int x = 0; x < values.w; ++x) {
        float v = values.at(0, y, x);
        if (!std::isfinite(v)) v = 0;
        best = std::max(best, v);
        const auto c = render::colormap_color(render::Colormap::Viridis, v);
        line[x] = qRgba(c[0], c[1], c[2], alpha);
      }
    }
    t.overlay = image.convertToFormat(QImage::Format_ARGB32_Premultiplied);
    t.subtitle = tr("%1: max %2").arg(className(cls), score_text(best));
    if (values.h * values.w <= kMaxCellsWithValues) {
      t.values.assign(values.data.begin(), values.data.begin() + values.h * values.w);
      if (values.h * values.w == 1)
        t.subtitle += tr(" · 1 cell: the frame is one window (larger scales give a map)");
    }
    if (boxes_ != Boxes::None) {
      int count = 0;
      for (const ScaleBoxes& s : raw_by_scale_)
        if (s.scale == m.scale)
          if (const auto it = s.count_by_class.find(cls); it != s.count_by_class.end())
            count = it->second;
      t.subtitle += count == 1 ? tr(" · 1 raw box")
                    : count <= kMaxRawDrawn
                        ? tr(" · %1 raw boxes").arg(count)
                        : tr(" · best %1 of %2 raw boxes").arg(kMaxRawDrawn).arg(count);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Geometry

QSize HeatmapInspector::imageSize() const {
  if (result_) {
    for (const ScaleMap& m : result_->detect.dense.maps)
      if (m.image_w > 0 && m.image_h > 0) return {m.image_w, m.image_h};
    if (!result_->frame.image.isNull()) return result_->frame.image.size();
  }
  return {640, 480};
}

int HeatmapInspector::tileCount() const {
  return static_cast<int>(tiles_.size());
}

QString HeatmapInspector::tileSubtitle(int i) const {
  return i >= 0 && i < tileCount() ? tiles_[i].subtitle : QString();
}

bool HeatmapInspector::tileShowsValues(int i) const {
  return i >= 0 && i < tileCount() && !tiles_[i].values.empty();
}

HeatmapInspector::Layout HeatmapInspector::layoutFor(QSize size) const {
  Layout l;
  const QFontMetrics fm(font());
  const int margin = std::max(6, fm.height() / 2);
  const int legend_h = fm.height() + 4;
  l.legend =
      QRect(margin, size.height() - margin / 2 - legend_h, size.width() - 2 * margin, legend_h);
  const int n = tileCount();
  if (n == 0) return l;
  const int caption_h = 2 * fm.lineSpacing() + 6;
  const QSize img = imageSize();
  // The number of columns that shows the pictures largest (three tiles in a wide view were once
  // three tall, mostly empty columns): every choice tried, the picture's fitted area compared.
  auto picture_for = [&](int columns, double* cell_w, double* cell_h) {
    const int r = (n + columns - 1) / columns;
    *cell_w = std::max(0.0, (size.width() - margin * (columns + 1)) / double(columns));
    *cell_h = std::max(0.0, (l.legend.top() - margin * (r + 1)) / double(r));
    return img.scaled(QSize(std::max(0, static_cast<int>(*cell_w) - 8),
                            std::max(0, static_cast<int>(*cell_h) - caption_h - 4)),
                      Qt::KeepAspectRatio);
  };
  int cols = 1;
  double cw = 0, ch = 0;
  for (int c = 1, best = -1; c <= n; ++c) {
    double w = 0, h = 0;
    const QSize fit = picture_for(c, &w, &h);
    const int area = std::max(0, fit.width()) * std::max(0, fit.height());
    if (area > best) {
      best = area;
      cols = c;
    }
  }
  picture_for(cols, &cw, &ch);
  for (int i = 0; i < n; ++i) {
    const int r = i / cols, c = i % cols;
    const QRect cell(static_cast<int>(std::lround(margin + c * (cw + margin))),
                     static_cast<int>(std::lround(margin + r * (ch + margin))),
                     static_cast<int>(cw), static_cast<int>(ch));
    const QSize room(std::max(0, cell.width() - 8), std::max(0, cell.height() - caption_h - 4));
    QSize fit = img.scaled(room, Qt::KeepAspectRatio);
    if (fit.width() <= 0 || fit.height() <= 0) fit = QSize(0, 0);
    // The caption sits right above the image; the pair is centred in the cell.
    const int top = cell.top() + (cell.height() - caption_h - fit.height()) / 2 + caption_h;
    l.cells.push_back(cell);
    l.images.emplace_back(cell.left() + (cell.width() - fit.width()) / 2, top, fit.width(),
                          fit.height());
  }
  return l;
}

QRect HeatmapInspector::gridRect() const {
  return grid_->geometry();
}

QRect HeatmapInspector::tileRect(int tile) const {
  const Layout l = layoutFor(grid_->size());
  if (tile < 0 || tile >= static_cast<int>(l.images.size())) return {};
  return l.images[tile].translated(grid_->pos());
}

QPoint HeatmapInspector::cellCenterInWidget(int tile, int row, int col) const {
  const Layout l = layoutFor(grid_->size());
  if (tile < 0 || tile >= static_cast<int>(l.images.size())) return {-1, -1};
  const Tile& t = tiles_[tile];
  if (row < 0 || col < 0 || row >= t.rows || col >= t.cols) return {-1, -1};
  const ToTile to = to_tile(l.images[tile], imageSize());
  const QPointF p = to.map(t.x0 + col * t.step_x, t.y0 + row * t.step_y);
  return QPoint(static_cast<int>(std::floor(p.x())), static_cast<int>(std::floor(p.y()))) +
         grid_->pos();
}

HeatmapInspector::Hover HeatmapInspector::cellAt(const Layout& layout, QPoint pos) const {
  for (size_t i = 0; i < layout.images.size() && i < tiles_.size(); ++i) {
    const Tile& t = tiles_[i];
    if (t.map < 0 || t.rows == 0 || t.cols == 0 || !layout.images[i].contains(pos)) continue;
    const ToTile to = to_tile(layout.images[i], imageSize());
    // The mouse pixel's centre, in image pixels; the nearest cell centre wins.
    const double x = (pos.x() + 0.5 - to.left) / to.kx;
    const double y = (pos.y() + 0.5 - to.top) / to.ky;
    const int col = static_cast<int>(std::floor((x - t.x0) / t.step_x + 0.5));
    const int row = static_cast<int>(std::floor((y - t.y0) / t.step_y + 0.5));
    if (row < 0 || col < 0 || row >= t.rows || col >= t.cols) return {};
    return {static_cast<int>(i), row, col};
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// Hover

void HeatmapInspector::setHoverPos(QPoint grid_pos, bool inside) {
  hover_pos_ = grid_pos;
  hover_inside_ = inside;
  updateHover();
}

void HeatmapInspector::mouseMoveEvent(QMouseEvent* event) {
  // Moves reach the grid directly; this covers events sent to the inspector itself.
  const QPoint p = event->position().toPoint() - grid_->pos();
  setHoverPos(p, grid_->rect().contains(p));
  QWidget::mouseMoveEvent(event);
}

void HeatmapInspector::leaveEvent(QEvent* event) {
  setHoverPos({}, false);
  QWidget::leaveEvent(event);
}

void HeatmapInspector::updateHover() {
  const Hover h = hover_inside_ && result_ ? cellAt(layoutFor(grid_->size()), hover_pos_) : Hover{};
  const QString text = describe(h);
  if (h.tile != hover_.tile || h.row != hover_.row || h.col != hover_.col || text != hover_text_) {
    hover_ = h;
    grid_->update();
  }
  if (text != hover_text_ || hover_label_->text().isEmpty()) {
    hover_text_ = text;
    if (text.isEmpty()) {
      hover_label_->setText(
          result_ ? tr("Hover a cell to see its score and the input window it saw") : QString(" "));
      hover_label_->setStyleSheet("color: palette(placeholder-text);");
    } else {
      hover_label_->setText(text);
      hover_label_->setStyleSheet(QString());
    }
    emit hoverChanged(text);
  }
}

QString HeatmapInspector::describe(const Hover& h) const {
  if (!result_ || h.tile < 0 || h.tile >= tileCount()) return {};
  const Tile& t = tiles_[h.tile];
  if (t.map < 0) return {};
  const ScaleMap& m = result_->detect.dense.maps[t.map];
  // class_map's (row, col) is in image order; a mirrored map's own column is w-1-col.
  const int map_col = m.flipped ? m.probs.w - 1 - h.col : h.col;
  const Box b = m.window_box(h.row, map_col);
  QString text = tr("scale %1 (%2%3%4%5), cell row %6, col %7")
                     .arg(m.scale + 1)
                     .arg(m.input.h)
                     .arg(times())
                     .arg(m.input.w)
                     .arg(m.flipped ? tr(", mirrored") : QString())
                     .arg(h.row)
                     .arg(h.col);
  const int cls = shownClass();
  if (cls >= 0 && cls < m.probs.c)
    text +=
        QStringLiteral(": %1 %2").arg(className(cls), score_text(m.probs.at(cls, h.row, map_col)));
  text += tr(" — window (%1, %2)–(%3, %4)")
              .arg(std::lround(b.x1))
              .arg(std::lround(b.y1))
              .arg(std::lround(b.x2))
              .arg(std::lround(b.y2));
  return text;
}

// ---------------------------------------------------------------------------------------------
// Painting: only scaling and drawing what the state above prepared.

const QImage& HeatmapInspector::scaledFrame(QSize size) const {
  const QImage& frame = result_ ? result_->frame.image : scaled_frame_;
  if (!result_ || frame.isNull() || size.isEmpty()) {
    static const QImage none;
    return none;
  }
  if (frame.cacheKey() != scaled_key_ || size != scaled_size_) {
    scaled_frame_ = frame.scaled(size, Qt::IgnoreAspectRatio, Qt::SmoothTransformation)
                        .convertToFormat(QImage::Format_RGB32);
    scaled_key_ = frame.cacheKey();
    scaled_size_ = size;
  }
  return scaled_frame_;
}

QImage HeatmapInspector::renderToImage() const {
  QSize size = grid_->size();
  if (size.width() < 240 || size.height() < 180) size = QSize(960, 640);
  QImage image(size, QImage::Format_RGB32);
  QPainter p(&image);
  p.setFont(font());
  paintGrid(p, size, false);
  return image;
}

void HeatmapInspector::paintGrid(QPainter& p, QSize size, bool with_hover) const {
  p.fillRect(QRect(QPoint(0, 0), size), kGridBackground);
  p.setFont(font());
  if (!result_ || tiles_.empty()) {
    p.setPen(kSubtitleColor);
    p.drawText(QRect(QPoint(0, 0), size), Qt::AlignCenter | Qt::TextWordWrap,
               result_ ? tr("This result has no heat maps")
                       : tr("Open an image or start a camera to see heat maps"));
    return;
  }
  const Layout l = layoutFor(size);
  for (size_t i = 0; i < tiles_.size() && i < l.cells.size(); ++i)
    paintTile(p, tiles_[i], l.cells[i], l.images[i], with_hover, static_cast<int>(i));
  paintLegend(p, l.legend);
}

void HeatmapInspector::paintTile(QPainter& p, const Tile& t, const QRect& cell, const QRect& image,
                                 bool with_hover, int index) const {
  p.fillRect(cell, kTileBackground);
  const QFontMetrics fm(p.font());
  const int line = fm.lineSpacing();
  const QRect caption(cell.left() + 6, image.top() - 2 * line - 4, cell.width() - 12, 2 * line);
  p.setPen(kTitleColor);
  p.drawText(QRect(caption.left(), caption.top(), caption.width(), line),
             Qt::AlignHCenter | Qt::AlignVCenter,
             fm.elidedText(t.title, Qt::ElideRight, caption.width()));
  p.setPen(kSubtitleColor);
  p.drawText(QRect(caption.left(), caption.top() + line, caption.width(), line),
             Qt::AlignHCenter | Qt::AlignVCenter,
             fm.elidedText(t.subtitle, Qt::ElideRight, caption.width()));
  if (image.isEmpty()) return;

  const QImage& frame = scaledFrame(image.size());
  if (frame.isNull())
    p.fillRect(image, QColor(60, 60, 60));
  else
    p.drawImage(image.topLeft(), frame);

  const ToTile to = to_tile(image, imageSize());
  p.save();
  p.setClipRect(image);
  if (t.map >= 0) {
    if (t.rows > 0 && t.cols > 0) {
      // Whole device pixels: with fractional edges the unsmoothed overlay can leave a 1-px
      // column between itself and the dimmed area, which reads as a bright seam.
      QRectF covered(to.map(QRectF(t.x0 - t.step_x / 2, t.y0 - t.step_y / 2, t.cols * t.step_x,
                                   t.rows * t.step_y))
                         .toAlignedRect());
      if (t.rows == 1 && t.cols == 1) {  // one cell: it stands for its whole window
        const Box b = result_->detect.dense.maps[t.map].window_box(0, 0);
        covered = to.map(QRectF(QPointF(b.x1, b.y1), QPointF(b.x2, b.y2)))
                      .toAlignedRect()
                      .intersected(image);
      }
      QPainterPath outside;
      outside.setFillRule(Qt::OddEvenFill);
      outside.addRect(QRectF(image));
      outside.addRect(covered);
      p.fillPath(outside, QColor(0, 0, 0, kDimAlpha));
      if (!t.overlay.isNull() && opacity_ > 0) {
        p.setRenderHint(QPainter::SmoothPixmapTransform, false);  // blocky cells: the stride
        p.drawImage(covered, t.overlay);
      }
      paintCellValues(p, t, covered);
    }
    if (boxes_ != Boxes::None) paintBoxes(p, image, result_->detect.dense.maps[t.map].scale, false);
  } else {
    paintBoxes(p, image, -1, true);
  }

  if (with_hover && hover_.tile == index && t.map >= 0) {
    const ScaleMap& m = result_->detect.dense.maps[t.map];
    const int map_col = m.flipped ? m.probs.w - 1 - hover_.col : hover_.col;
    const Box b = m.window_box(hover_.row, map_col);
    const QRectF window = to.map(QRectF(QPointF(b.x1, b.y1), QPointF(b.x2, b.y2)));
    const QRectF cellr = to.map(QRectF(t.x0 + (hover_.col - 0.5) * t.step_x,
                                       t.y0 + (hover_.row - 0.5) * t.step_y, t.step_x, t.step_y));
    p.setRenderHint(QPainter::Antialiasing, false);
    p.setBrush(Qt::NoBrush);
    p.setPen(QPen(Qt::black, 3));
    p.drawRect(cellr);
    p.setPen(QPen(Qt::white, 1));
    p.drawRect(cellr);
    p.setClipping(false);
    p.setPen(QPen(Qt::black, 2));
    p.drawRect(window);
    p.setPen(QPen(Qt::white, 2, Qt::DashLine));
    p.drawRect(window);
  }
  p.restore();
}

void HeatmapInspector::paintCellValues(QPainter& p, const Tile& t, const QRectF& covered) const {
  if (t.values.size() != static_cast<size_t>(t.rows) * t.cols || t.values.empty()) return;
  const double cw = covered.width() / t.cols, ch = covered.height() / t.rows;
  if (cw < 30 || ch < 14) return;  // cells too small on screen for "0.00": the colours say it
  QFont f = p.font();
  f.setBold(true);
  f.setPixelSize(std::clamp(static_cast<int>(std::min(cw / 3.5, ch / 2.5)), 8, 28));
  p.save();
  p.setFont(f);
  p.setRenderHint(QPainter::Antialiasing, true);
  for (int y = 0; y < t.rows; ++y)
    for (int x = 0; x < t.cols; ++x) {
      const QRectF r(covered.left() + x * cw, covered.top() + y * ch, cw, ch);
      p.setPen(QPen(QColor(255, 255, 255, 90), 1));  // the cell's edge: where one window ends
      p.setBrush(Qt::NoBrush);
      p.drawRect(r);
      const QString text = score_text(t.values[static_cast<size_t>(y) * t.cols + x]);
      QPainterPath path;  // outlined text, legible on every colour of the map
      const QFontMetricsF fm(f);
      path.addText(r.center() - QPointF(fm.horizontalAdvance(text) / 2, -fm.ascent() / 2 + 1), f,
                   text);
      p.strokePath(path, QPen(Qt::black, 3));
      p.fillPath(path, Qt::white);
    }
  p.restore();
}

void HeatmapInspector::paintBoxes(QPainter& p, const QRect& image, int scale, bool merged) const {
  const QSize img = imageSize();
  const ToTile to = to_tile(image, img);
  const int shown = shownClass();
  p.save();
  p.setBrush(Qt::NoBrush);
  p.setTransform(QTransform(to.kx, 0, 0, to.ky, to.left, to.top), true);
  // Raw boxes of the shown class only (the best of each scale), thin: strong on its scale's
  // tile, faint on the merge tile; other classes' would only bury the map.
  for (const ScaleBoxes& s : raw_by_scale_) {
    if (!merged && s.scale != scale) continue;
    for (const auto& [cls, rects] : s.by_class) {
      if (cls != shown) continue;
      QPen pen(qcolor_of_class(cls, merged ? 70 : 230), 1);
      pen.setCosmetic(true);
      p.setPen(pen);
      p.drawRects(rects.data(), static_cast<int>(rects.size()));
    }
  }
  p.restore();
  if (!merged) return;

  // Merged boxes: thick, with "name score" tags, the best drawn last (on top).
  const std::vector<Detection>& boxes = result_->detect.merged;
  const QFontMetrics fm(p.font());
  const double width = std::max(2.0, fm.height() / 7.0);
  p.save();
  p.setRenderHint(QPainter::Antialiasing, true);
  for (auto it = boxes.rbegin(); it != boxes.rend(); ++it) {
    const Detection& d = *it;
    if (!std::isfinite(d.box.x1) || !std::isfinite(d.box.y1) || !std::isfinite(d.box.x2) ||
        !std::isfinite(d.box.y2))
      continue;
    const QRectF r = to.map(QRectF(QPointF(d.box.x1, d.box.y1), QPointF(d.box.x2, d.box.y2)));
    const QColor color = qcolor_of_class(d.cls);
    p.setBrush(Qt::NoBrush);
    p.setPen(QPen(color, width));
    p.drawRect(r);
    const QString tag = QStringLiteral("%1 %2").arg(
        className(d.cls), QString::fromStdString(percent_label(d.confidence)));
    const QSize ts(fm.horizontalAdvance(tag) + 8, fm.height() + 2);
    QRectF tr_rect(r.left() - width / 2, r.top() - ts.height(), ts.width(), ts.height());
    if (tr_rect.top() < image.top()) tr_rect.moveTop(r.top());  // no room above: inside
    if (tr_rect.right() > image.right()) tr_rect.moveRight(image.right());
    if (tr_rect.left() < image.left()) tr_rect.moveLeft(image.left());
    p.fillRect(tr_rect, color);
    p.setPen(qGray(color.rgb()) > 140 ? Qt::black : Qt::white);
    p.drawText(tr_rect, Qt::AlignCenter, tag);
  }
  p.restore();
}

void HeatmapInspector::paintLegend(QPainter& p, const QRect& rect) const {
  const QFontMetrics fm(p.font());
  p.setPen(kSubtitleColor);
  const QString low = QStringLiteral("0"), high = QStringLiteral("1");
  const int bar_w = std::min(220, rect.width() / 4);
  int x = rect.left();
  p.drawText(QRect(x, rect.top(), fm.horizontalAdvance(low), rect.height()), Qt::AlignVCenter, low);
  x += fm.horizontalAdvance(low) + 4;
  const QRect bar(x, rect.top() + rect.height() / 4, bar_w, rect.height() / 2);
  p.drawImage(bar, colorbar_);
  x = bar.right() + 5;
  p.drawText(QRect(x, rect.top(), fm.horizontalAdvance(high), rect.height()), Qt::AlignVCenter,
             high);
  x += fm.horizontalAdvance(high) + 12;
  const QString text =
      tr("probability (the same range on every map) · dimmed: outside the map's cells");
  p.drawText(QRect(x, rect.top(), rect.right() - x, rect.height()), Qt::AlignVCenter,
             fm.elidedText(text, Qt::ElideRight, std::max(0, rect.right() - x)));
}

}  // namespace overfeat::studio
