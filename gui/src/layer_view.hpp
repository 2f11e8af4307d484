// SPDX-License-Identifier: MIT
// The layer view, as in the Deep Visualization Toolbox (Yosinski et al., 2015): pick any layer
// of the model; its activation maps, one tile per unit, follow the video live; click a unit to
// see its map enlarged over the frame and the window that excites it most (the receptive field
// of its strongest cell). The layer list gives every layer's output shape for the frame.
#pragma once
#include <QImage>
#include <QWidget>

#include "inference.hpp"

class QComboBox;
class QTreeWidget;
class QLabel;
class QScrollArea;

namespace overfeat::studio {

class LayerView : public QWidget {
  Q_OBJECT
 public:
  explicit LayerView(QWidget* parent = nullptr);

  /// Lists the model's layers (none for classic networks, which the view then says).
  void setModel(const ModelInfoPtr& model);
  /// The layer shown (release numbering), 0 when the model has none to show.
  int layer() const;
  void setLayer(int layer);
  /// Shows a result's activations (when it carries the layer shown) or why there are none.
  void showResult(const ResultPtr& result);
  /// The selected unit (channel), -1 for none; clicking a tile selects it.
  int unit() const { return unit_; }
  void setUnit(int unit);
  int unitCount() const;

  QComboBox* layerBox() const { return layers_; }
  /// Every layer: number, name, output shape for the last input, and its GPU time in the last
  /// analysis (the Timing tab's stages, by name; a ReLU runs inside its convolution). Clicking a
  /// row shows that layer.
  QTreeWidget* layerTable() const { return table_; }
  /// What the view says about the layer and the selected unit.
  QString summary() const;
  QString unitText() const;
  /// The tiles (one per unit, brightness: activation over the unit's largest, at least a tenth of
  /// the layer's) and the selected unit's map over the frame with its strongest window.
  const QImage& gridImage() const { return grid_; }
  const QImage& detailImage() const { return detail_; }
  /// The selected unit's strongest window in frame pixels (empty without one).
  QRectF strongestWindow() const { return window_; }
  /// The tiles' widget, and where unit `unit`'s tile is drawn on it (for clicks in tests).
  QWidget* gridWidget() const;
  QPoint tileCenter(int unit) const;

 signals:
  void layerChanged(int layer);

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  void rebuild();
  void refreshTable();
  void renderDetail();

  ModelInfoPtr model_;
  ResultPtr result_;
  QComboBox* layers_ = nullptr;
  QLabel* summary_ = nullptr;
  QTreeWidget* table_ = nullptr;
  QLabel* grid_label_ = nullptr;
  QLabel* unit_label_ = nullptr;
  QLabel* detail_label_ = nullptr;
  QImage grid_, detail_;
  QRectF window_;
  int unit_ = -1;
  int wanted_layer_ = 0;  // the layer asked for, kept across models that have it
  int cols_ = 1, tile_w_ = 1, tile_h_ = 1;
  double grid_scale_ = 1;  // shown pixels per grid pixel
  QScrollArea* scroll_ = nullptr;
  float layer_max_ = 0;
};

}  // namespace overfeat::studio
