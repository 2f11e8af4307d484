// SPDX-License-Identifier: MIT
// The heat map inspector: every per-scale map of one class (by default the top class) as a grid
// of overlays on the frame, at the stride the network ran with (coarse or fine); hovering a
// cell shows its score and the input window it saw; optionally each scale's raw boxes and the
// greedy merge of all of them. Cheap enough to follow a live camera: the small coloured map
// images are built when a result, the class or the opacity changes, never while painting.
#pragma once
#include <QImage>
#include <QPoint>
#include <QRect>
#include <QString>
#include <QWidget>

#include <map>
#include <string>
#include <vector>

#include "inference.hpp"

class QCheckBox;
class QComboBox;
class QLabel;
class QSlider;

namespace overfeat::studio {

class HeatmapInspector : public QWidget {
  Q_OBJECT
 public:
  explicit HeatmapInspector(QWidget* parent = nullptr);
  ~HeatmapInspector() override;

  /// Shows a result's maps (nullptr clears). Keeps the chosen class and the hover position.
  void setResult(ResultPtr result);
  ResultPtr result() const { return result_; }

  /// The class to show; -1 follows the result's top foreground class.
  void setClass(int cls);
  /// The class the user chose, -1 when automatic.
  int chosenClass() const { return chosen_; }
  /// The class actually drawn (-1 when there is nothing to draw).
  int shownClass() const;

  /// Weight of the map colour over the frame, 0..1; moves the slider too.
  void setOpacity(double opacity);
  double opacity() const { return opacity_; }

  enum class Boxes { None, Raw, RawAndMerged };
  /// Per-scale raw boxes on the map tiles; with RawAndMerged also a last tile with the merge.
  void setBoxes(Boxes boxes);
  Boxes boxes() const { return boxes_; }

  /// Sets the "Fine stride" checkbox without emitting fineStrideToggled.
  void setFineStride(bool fine);
  /// Whether the model can run at a fine stride; without, the check box is disabled and says
  /// why.
  void setFineStrideAvailable(bool available);
  bool fineStride() const;

  /// Number of tiles: one per map, plus the merge tile with Boxes::RawAndMerged.
  int tileCount() const;
  /// A tile's subtitle (what it shows), and whether its cells carry their values as text
  /// (small maps, whose colours alone say little).
  QString tileSubtitle(int i) const;
  bool tileShowsValues(int i) const;
  /// Where a tile's image is drawn, in this widget's coordinates (empty for a bad index).
  QRect tileRect(int tile) const;
  /// The centre of map cell (row, col) (image order, as class_map) on a tile, in this widget's
  /// coordinates; (-1, -1) for a bad tile or cell.
  QPoint cellCenterInWidget(int tile, int row, int col) const;
  /// Where the tile grid lies in this widget (renderToImage()'s pixel (0, 0) is its top left).
  QRect gridRect() const;
  /// What the hover line says ("" when no cell is under the mouse).
  QString hoverText() const { return hover_text_; }
  /// The tile grid as shown, without the hover marks (for "Save annotated image").
  QImage renderToImage() const;

  QSize sizeHint() const override { return {960, 720}; }

 signals:
  /// The user toggled "Fine stride" (the app re-runs the network; the widget shows what it gets).
  void fineStrideToggled(bool fine);
  /// The user picked a class in the combo box (-1: automatic).
  void classChosen(int cls);
  void hoverChanged(const QString& text);

 protected:
  void mouseMoveEvent(QMouseEvent* event) override;
  void leaveEvent(QEvent* event) override;

 private:
  class Grid;
  friend class Grid;

  /// One tile: a map of the result, or the merge (map < 0).
  struct Tile {
    int map = -1;
    QImage overlay;  ///< map-sized colours, alpha = opacity (premultiplied); null when none
    QString title, subtitle;
    double x0 = 0, y0 = 0, step_x = 1, step_y = 1;  ///< cell centres in image pixels
    int rows = 0, cols = 0;
    /// The shown class's value per cell (row-major, image order) when the map is small enough
    /// to print them (kMaxCellsWithValues); else empty.
    std::vector<float> values;
  };
  struct Layout {
    std::vector<QRect> cells;   ///< whole tile, caption included
    std::vector<QRect> images;  ///< the frame's rectangle inside
    QRect legend;
  };
  struct Hover {
    int tile = -1, row = -1, col = -1;
  };

  void buildControls();
  void updateClassCombo();
  void syncClassCombo();
  void onClassActivated(int index);
  void rebuildTiles();
  void paintCellValues(QPainter& p, const Tile& t, const QRectF& covered) const;
  void rebuildOverlays();
  void updateHover();
  QSize imageSize() const;
  Layout layoutFor(QSize size) const;
  Hover cellAt(const Layout& layout, QPoint grid_pos) const;
  QString describe(const Hover& hover) const;
  QString className(int cls) const;
  int classCount() const;
  int backgroundClass() const;
  void paintGrid(QPainter& p, QSize size, bool with_hover) const;
  void paintTile(QPainter& p, const Tile& tile, const QRect& cell, const QRect& image,
                 bool with_hover, int index) const;
  void paintBoxes(QPainter& p, const QRect& image, int scale, bool merged) const;
  void paintLegend(QPainter& p, const QRect& rect) const;
  const QImage& scaledFrame(QSize size) const;
  void setHoverPos(QPoint grid_pos, bool inside);

  ResultPtr result_;
  int chosen_ = -1;
  int auto_class_ = -1;
  double opacity_ = 0.6;
  Boxes boxes_ = Boxes::None;
  std::vector<Tile> tiles_;
  /// Raw boxes per scale index, per class, in image pixels (grouped for cheap painting).
  /// One scale's raw boxes, per class: the best kMaxRawDrawn of each (drawn) and how many
  /// there are in all.
  struct ScaleBoxes {
    int scale = 0;
    std::vector<std::pair<int, std::vector<QRectF>>> by_class;
    std::map<int, int> count_by_class;
  };
  std::vector<ScaleBoxes> raw_by_scale_;
  std::vector<std::string> combo_classes_;  ///< the class list the combo box was built for
  int combo_top_ = 0;                       ///< top-class entries after "automatic"

  QPoint hover_pos_;  ///< in grid coordinates
  bool hover_inside_ = false;
  Hover hover_;
  QString hover_text_;

  mutable QImage scaled_frame_;  ///< the frame at the tiles' image size
  mutable qint64 scaled_key_ = -1;
  mutable QSize scaled_size_;
  QImage colorbar_;

  QComboBox* class_combo_ = nullptr;
  QSlider* opacity_slider_ = nullptr;
  QLabel* opacity_value_ = nullptr;
  QCheckBox* fine_check_ = nullptr;
  QComboBox* boxes_combo_ = nullptr;
  QLabel* hover_label_ = nullptr;
  Grid* grid_ = nullptr;
};

}  // namespace overfeat::studio
