// SPDX-License-Identifier: MIT
// The heat map inspector on hand-made results (no GPU): tiles, the automatic class, hovering a
// cell (score and input window, mirrored maps included), opacity and class changes in the
// rendered pixels, the fine-stride checkbox, live updates and degenerate results.
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QPainter>
#include <QSignalSpy>
#include <QTest>

#include <cmath>
#include <memory>

#include "heatmap_inspector.hpp"
#include "overfeat/render.hpp"

using namespace overfeat;
using namespace overfeat::studio;

namespace {

constexpr int kImageW = 320, kImageH = 240;
constexpr int kBackground = 0, kCat = 1, kDog = 2;

// Peaks: on the unflipped map (scale 0) at image-order cell (1, 2); on the flipped map (scale 1)
// at the map's own (mirrored) cell (2, 1), which is image-order cell (2, 9 - 1 - 1) = (2, 7).
constexpr float kDogPeak0 = 0.93f, kDogPeak1 = 0.87f, kCatAtPeak = 0.04f;

QImage test_frame(int w = kImageW, int h = kImageH) {
  // A smooth gradient, so a smoothly scaled pixel is close to the original one.
  QImage image(w, h, QImage::Format_RGB888);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) image.setPixel(x, y, qRgb(40 + 160 * x / w, 60 + 140 * y / h, 120));
  return image;
}

ModelInfoPtr test_model() {
  auto m = std::make_shared<ModelInfo>();
  m->name = "test";
  m->classes = {"background", "cat, tabby", "dog"};
  m->background = kBackground;
  m->window = 140;
  m->stride = 30;
  return m;
}

/// A map of `rows` x `cols` cells for a stride-30, window-140 net on an input of in_h x in_w.
ScaleMap make_map(int scale, bool flipped, int in_h, int in_w) {
  ScaleMap m;
  m.scale = scale;
  m.flipped = flipped;
  m.input = {in_h, in_w};
  m.image_h = kImageH;
  m.image_w = kImageW;
  m.background = kBackground;
  m.geometry.stride = 30;
  m.geometry.window = 140;
  m.geometry.offsets = 2;
  m.geometry.h = (in_h - 140) / 30 + 1;
  m.geometry.w = (in_w - 140) / 30 + 1;
  m.probs = Tensor(3, m.geometry.h, m.geometry.w);
  for (int y = 0; y < m.geometry.h; ++y)
    for (int x = 0; x < m.geometry.w; ++x) {
      m.probs.at(kCat, y, x) = 0.02f + 0.01f * x;
      m.probs.at(kDog, y, x) = 0.05f;
    }
  return m;
}

void set_cell(ScaleMap& m, int y, int x, float dog, float cat) {
  m.probs.at(kDog, y, x) = dog;
  m.probs.at(kCat, y, x) = cat;
}

void fill_background(ScaleMap& m) {
  for (int y = 0; y < m.probs.h; ++y)
    for (int x = 0; x < m.probs.w; ++x)
      m.probs.at(kBackground, y, x) = 1 - m.probs.at(kCat, y, x) - m.probs.at(kDog, y, x);
}

Detection det(int cls, float score, float x1, float y1, float x2, float y2, int scale) {
  Detection d;
  d.cls = cls;
  d.score = score;
  d.box = {x1, y1, x2, y2};
  d.scale = scale;
  return d;
}

/// Two maps: scale 0 unflipped on 240x320 (4x7 cells), scale 1 mirrored on 300x400 (6x9).
std::shared_ptr<Result> make_result(bool dog_top = true) {
  auto r = std::make_shared<Result>();
  r->frame.image = test_frame();
  r->frame.index = 0;
  r->mode = Mode::Heatmaps;
  r->model = test_model();
  ScaleMap a = make_map(0, false, 240, 320);
  set_cell(a, 1, 2, kDogPeak0, kCatAtPeak);
  set_cell(a, 3, 6, 0.1f, 0.7f);
  fill_background(a);
  ScaleMap b = make_map(1, true, 300, 400);
  set_cell(b, 2, 1, kDogPeak1, kCatAtPeak);  // mirrored order
  fill_background(b);
  r->detect.dense.maps = {a, b};
  r->detect.class_probs =
      dog_top ? std::vector<float>{0.1f, 0.3f, 0.6f} : std::vector<float>{0.1f, 0.6f, 0.3f};
  r->detect.raw = {det(kDog, 0.93f, 60, 30, 200, 170, 0), det(kDog, 0.5f, 80, 40, 210, 180, 0),
                   det(kCat, 0.7f, 180, 90, 320, 230, 0), det(kDog, 0.87f, 184, 48, 296, 160, 1),
                   det(kCat, 0.3f, 20, 20, 150, 150, 1)};
  Detection merged = det(kDog, 2.3f, 90, 40, 230, 170, -1);
  merged.votes = 3;
  r->detect.merged = {merged};
  return r;
}

bool near(QRgb a, QRgb b, int tolerance) {
  return std::abs(qRed(a) - qRed(b)) <= tolerance && std::abs(qGreen(a) - qGreen(b)) <= tolerance &&
         std::abs(qBlue(a) - qBlue(b)) <= tolerance;
}

QRgb viridis(float v) {
  const auto c = render::colormap_color(render::Colormap::Viridis, v);
  return qRgb(c[0], c[1], c[2]);
}

QString describe(QRgb c) {
  return QStringLiteral("(%1, %2, %3)").arg(qRed(c)).arg(qGreen(c)).arg(qBlue(c));
}

QString window_text(const Box& b) {
  return QStringLiteral("window (%1, %2)–(%3, %4)")
      .arg(std::lround(b.x1))
      .arg(std::lround(b.y1))
      .arg(std::lround(b.x2))
      .arg(std::lround(b.y2));
}

}  // namespace

class TestHeatmapInspector : public QObject {
  Q_OBJECT

 private:
  std::unique_ptr<HeatmapInspector> w_;

  QPoint gridPixel(int tile, int row, int col) const {
    return w_->cellCenterInWidget(tile, row, col) - w_->gridRect().topLeft();
  }
  void hover(int tile, int row, int col) {
    const QPoint p = w_->cellCenterInWidget(tile, row, col);
    QVERIFY(p.x() >= 0);
    // Qt drops a move to where the cursor already is (an earlier test's widget may have left it
    // there), so come from elsewhere.
    QTest::mouseMove(w_.get(), QPoint(1, 1));
    QTest::mouseMove(w_.get(), p);
    QCoreApplication::processEvents();
  }

 private slots:
  void init() {
    w_ = std::make_unique<HeatmapInspector>();
    w_->resize(1000, 560);
    w_->setResult(make_result());
    w_->show();
    QVERIFY(QTest::qWaitForWindowExposed(w_.get()));
  }
  void cleanup() { w_.reset(); }

  void tilesFollowMapsAndBoxMode() {
    QCOMPARE(w_->tileCount(), 2);
    QCOMPARE(w_->boxes(), HeatmapInspector::Boxes::None);
    w_->setBoxes(HeatmapInspector::Boxes::Raw);
    QCOMPARE(w_->tileCount(), 2);
    w_->setBoxes(HeatmapInspector::Boxes::RawAndMerged);
    QCOMPARE(w_->tileCount(), 3);
    for (int t = 0; t < 3; ++t) {
      const QRect r = w_->tileRect(t);
      QVERIFY(!r.isEmpty());
      QVERIFY(w_->gridRect().contains(r));
      // The frame's aspect is kept.
      QVERIFY(std::abs(r.width() * kImageH - r.height() * kImageW) <= kImageW + kImageH);
    }
    QVERIFY(!w_->tileRect(0).intersects(w_->tileRect(1)));
    w_->setBoxes(HeatmapInspector::Boxes::None);
    QCOMPARE(w_->tileCount(), 2);
    QVERIFY(w_->tileRect(2).isEmpty());
    QCOMPARE(w_->cellCenterInWidget(0, 99, 0), QPoint(-1, -1));
  }

  void automaticClassIsTopForeground() {
    QCOMPARE(w_->chosenClass(), -1);
    QCOMPARE(w_->shownClass(), kDog);
    auto* combo = w_->findChild<QComboBox*>();
    QVERIFY(combo);
    QVERIFY(combo->itemText(0).startsWith("Top class (automatic)"));
    QVERIFY(combo->itemText(1).startsWith("dog"));
    QVERIFY(combo->itemText(1).contains("0.60"));
    QVERIFY(combo->itemText(2).startsWith("cat"));
    QCOMPARE(combo->itemData(1).toInt(), kDog);
  }

  void hoverShowsScoreAndWindow() {
    QSignalSpy spy(w_.get(), &HeatmapInspector::hoverChanged);
    hover(0, 1, 2);
    const ScaleMap& a = w_->result()->detect.dense.maps[0];
    const QString text = w_->hoverText();
    QVERIFY2(text.contains("dog 0.93"), qPrintable(text));
    QVERIFY2(text.contains("row 1, col 2"), qPrintable(text));
    QVERIFY2(text.contains(window_text(a.window_box(1, 2))), qPrintable(text));
    QVERIFY2(text.contains("window (60, 30)–(200, 170)"), qPrintable(text));
    QVERIFY(spy.count() >= 1);
    QCOMPARE(spy.last().at(0).toString(), text);

    // A neighbouring cell.
    hover(0, 2, 3);
    QVERIFY2(w_->hoverText().contains("dog 0.05"), qPrintable(w_->hoverText()));
    QVERIFY(w_->hoverText().contains(window_text(a.window_box(2, 3))));

    // Leaving clears it.
    QEvent leave(QEvent::Leave);
    QCoreApplication::sendEvent(w_.get(), &leave);
    QCOMPARE(w_->hoverText(), QString());
  }

  void hoverOnMirroredMapReportsImageWindow() {
    const ScaleMap& b = w_->result()->detect.dense.maps[1];
    QCOMPARE(b.probs.w, 9);
    // The peak is at the mirrored map's own column 1, shown at image-order column 7.
    hover(1, 2, 7);
    const QString text = w_->hoverText();
    QVERIFY2(text.contains("dog 0.87"), qPrintable(text));
    QVERIFY2(text.contains("mirrored"), qPrintable(text));
    const Box right = b.window_box(2, 1);
    QVERIFY2(text.contains(window_text(right)), qPrintable(text));
    // By hand: input x 30..170 scaled by 0.8 is 24..136, mirrored in 320 px: 184..296.
    QVERIFY2(text.contains("window (184, 48)–(296, 160)"), qPrintable(text));
    // The unconverted column would give another window.
    QVERIFY(!text.contains(window_text(b.window_box(2, 7))));
    // The window is centred on the hovered cell.
    double x0, y0, sx, sy;
    b.cell_centers(x0, y0, sx, sy);
    QCOMPARE(0.5 * (right.x1 + right.x2), x0 + 7 * sx);
  }

  void opacityChangesThePeakPixel() {
    const QPoint peak = gridPixel(0, 1, 2);
    const QRect tile = w_->tileRect(0).translated(-w_->gridRect().topLeft());
    QVERIFY(tile.contains(peak));
    // The frame pixel under the cell centre (the image is a smooth gradient).
    const double kx = double(kImageW) / tile.width(), ky = double(kImageH) / tile.height();
    const QRgb frame =
        test_frame().pixel(std::clamp(int((peak.x() - tile.left() + 0.5) * kx), 0, kImageW - 1),
                           std::clamp(int((peak.y() - tile.top() + 0.5) * ky), 0, kImageH - 1));

    w_->setOpacity(0);
    QCOMPARE(w_->opacity(), 0.0);
    const QRgb at0 = w_->renderToImage().pixel(peak);
    QVERIFY2(near(at0, frame, 6), qPrintable(describe(at0) + " vs " + describe(frame)));

    w_->setOpacity(1);
    const QRgb at1 = w_->renderToImage().pixel(peak);
    QVERIFY2(near(at1, viridis(kDogPeak0), 1),
             qPrintable(describe(at1) + " vs " + describe(viridis(kDogPeak0))));

    w_->setOpacity(0.5);
    const QRgb half = w_->renderToImage().pixel(peak);
    const QRgb mix = qRgb((qRed(at0) + qRed(at1)) / 2, (qGreen(at0) + qGreen(at1)) / 2,
                          (qBlue(at0) + qBlue(at1)) / 2);
    QVERIFY2(near(half, mix, 3), qPrintable(describe(half) + " vs " + describe(mix)));

    // The slider follows.
    auto* slider = w_->findChild<QSlider*>();
    QVERIFY(slider);
    QCOMPARE(slider->value(), 50);
    slider->setValue(100);
    QCOMPARE(w_->opacity(), 1.0);
  }

  void choosingAClassChangesTheMap() {
    w_->setOpacity(1);
    const QPoint peak = gridPixel(0, 1, 2);
    QCOMPARE(w_->renderToImage().pixel(peak), viridis(kDogPeak0));
    w_->setClass(kCat);
    QCOMPARE(w_->chosenClass(), kCat);
    QCOMPARE(w_->shownClass(), kCat);
    QCOMPARE(w_->renderToImage().pixel(peak), viridis(kCatAtPeak));
    auto* combo = w_->findChild<QComboBox*>();
    QCOMPARE(combo->currentData().toInt(), kCat);
    hover(0, 1, 2);
    QVERIFY2(w_->hoverText().contains("cat 0.04"), qPrintable(w_->hoverText()));

    // Picking in the combo box emits classChosen.
    QSignalSpy spy(w_.get(), &HeatmapInspector::classChosen);
    combo->setCurrentIndex(0);
    emit combo->activated(0);
    QCOMPARE(spy.count(), 1);
    QCOMPARE(spy.at(0).at(0).toInt(), -1);
    QCOMPARE(w_->shownClass(), kDog);
  }

  void fineStrideCheckbox() {
    auto* check = w_->findChild<QCheckBox*>();
    QVERIFY(check);
    QVERIFY(check->isChecked());
    QSignalSpy spy(w_.get(), &HeatmapInspector::fineStrideToggled);
    check->click();
    QCOMPARE(spy.count(), 1);
    QCOMPARE(spy.at(0).at(0).toBool(), false);
    w_->setFineStride(true);
    QVERIFY(check->isChecked());
    QCOMPARE(spy.count(), 1);  // setting it does not emit
  }

  void newResultKeepsChoiceAndCombo() {
    auto* combo = w_->findChild<QComboBox*>();
    const int items = combo->count();
    w_->setClass(kCat);
    hover(0, 1, 2);
    QVERIFY(w_->hoverText().contains("cat"));

    // Next frame: cat on top now; the chosen class, the items and the hover stay.
    auto next = make_result(false);
    next->frame.index = 1;
    next->detect.dense.maps[0].probs.at(kCat, 1, 2) = 0.5f;
    w_->setResult(next);
    QCOMPARE(w_->chosenClass(), kCat);
    QCOMPARE(w_->shownClass(), kCat);
    QCOMPARE(combo->count(), items);
    QCOMPARE(combo->currentData().toInt(), kCat);
    QVERIFY(combo->itemText(1).startsWith("cat"));  // top entries updated in place
    QVERIFY2(w_->hoverText().contains("cat 0.50"), qPrintable(w_->hoverText()));

    // Automatic follows the new top class.
    w_->setClass(-1);
    QCOMPARE(w_->shownClass(), kCat);
    w_->setResult(make_result(true));
    QCOMPARE(w_->shownClass(), kDog);
    QCOMPARE(combo->currentIndex(), 0);
  }

  void degenerateResults() {
    w_->setResult(nullptr);
    QCOMPARE(w_->tileCount(), 0);
    QVERIFY(!w_->renderToImage().isNull());
    QCOMPARE(w_->hoverText(), QString());
    w_->repaint();

    // No maps at all.
    auto none = make_result();
    none->detect.dense.maps.clear();
    none->detect.raw.clear();
    w_->setResult(none);
    QCOMPARE(w_->tileCount(), 0);
    w_->setBoxes(HeatmapInspector::Boxes::RawAndMerged);
    QCOMPARE(w_->tileCount(), 1);
    QVERIFY(!w_->renderToImage().isNull());
    w_->setBoxes(HeatmapInspector::Boxes::None);

    // A 0x0 map next to a good one, no class probabilities, no model.
    auto odd = make_result();
    ScaleMap empty;
    empty.scale = 2;
    empty.image_h = kImageH;
    empty.image_w = kImageW;
    empty.probs = Tensor(3, 0, 0);
    odd->detect.dense.maps.push_back(empty);
    odd->detect.class_probs.clear();
    odd->model = nullptr;
    w_->setResult(odd);
    QCOMPARE(w_->tileCount(), 3);
    QCOMPARE(w_->shownClass(), kDog);  // from the maps' maxima
    QCOMPARE(w_->cellCenterInWidget(2, 0, 0), QPoint(-1, -1));
    QTest::mouseMove(w_.get(), w_->tileRect(2).center());
    QCOMPARE(w_->hoverText(), QString());
    w_->setBoxes(HeatmapInspector::Boxes::RawAndMerged);
    QVERIFY(!w_->renderToImage().isNull());
    w_->repaint();

    // No frame image.
    auto blank = make_result();
    blank->frame.image = QImage();
    w_->setResult(blank);
    QVERIFY(!w_->renderToImage().isNull());
    w_->repaint();
  }

  void screenshot() {
    const QString dir = qEnvironmentVariable("OVERFEAT_SCREENSHOT_DIR");
    if (dir.isEmpty()) QSKIP("OVERFEAT_SCREENSHOT_DIR is not set");
    QDir().mkpath(dir);

    // A richer result: three scales, each mirrored, on a picture with a "dog" blob.
    auto r = make_result();
    QImage frame = test_frame();
    {
      QPainter p(&frame);
      p.setRenderHint(QPainter::Antialiasing);
      p.setBrush(QColor(150, 110, 70));
      p.setPen(Qt::NoPen);
      p.drawEllipse(QRectF(90, 50, 130, 110));
      p.drawEllipse(QRectF(190, 40, 60, 50));
    }
    r->frame.image = frame;
    r->detect.dense.maps.clear();
    const int sizes[3][2] = {{240, 320}, {300, 400}, {360, 480}};
    for (int s = 0; s < 3; ++s)
      for (int flip = 0; flip < 2; ++flip) {
        ScaleMap m = make_map(s, flip == 1, sizes[s][0], sizes[s][1]);
        double x0, y0, sx, sy;
        m.cell_centers(x0, y0, sx, sy);
        for (int y = 0; y < m.probs.h; ++y)
          for (int x = 0; x < m.probs.w; ++x) {
            const double cx = x0 + x * sx, cy = y0 + y * sy;
            const double d2 = ((cx - 165) * (cx - 165) + (cy - 100) * (cy - 100)) / (70.0 * 70);
            const int mx = m.flipped ? m.probs.w - 1 - x : x;
            m.probs.at(kDog, y, mx) = float(0.95 * std::exp(-d2) * (0.8 + 0.1 * s));
            m.probs.at(kCat, y, mx) = float(0.1 * std::exp(-d2 / 4));
          }
        fill_background(m);
        r->detect.dense.maps.push_back(m);
      }
    w_->setResult(r);
    w_->setBoxes(HeatmapInspector::Boxes::RawAndMerged);
    w_->resize(1100, 760);
    QCoreApplication::processEvents();
    QCOMPARE(w_->tileCount(), 7);
    hover(2, 2, 3);
    QVERIFY(!w_->hoverText().isEmpty());
    w_->repaint();

    QVERIFY(w_->grab().save(dir + "/heatmap_inspector.png"));
    QVERIFY(w_->renderToImage().save(dir + "/heatmap_inspector_grid.png"));
  }
};

QTEST_MAIN(TestHeatmapInspector)
#include "test_heatmap_inspector.moc"
