// SPDX-License-Identifier: MIT
// The Teach panel: show the network one example, name it, and it is recognized from then on.
// It lists the learned classes with a thumbnail of their latest example, renames (edit the
// name in place) and forgets them, sets the "unknown" threshold, and opens or saves the file
// they live in. It only talks to the network's thread through signals (MainWindow routes them).
#pragma once
#include <QWidget>

#include "inference.hpp"

class QCheckBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QListWidgetItem;
class QPushButton;
class QSlider;
class QTimer;

namespace overfeat::studio {

class TeachPanel : public QWidget {
  Q_OBJECT
 public:
  explicit TeachPanel(QWidget* parent = nullptr);

  QString name() const;
  void setName(const QString& name);
  /// Shows the store as it is now (from InferenceWorker::storeChanged).
  void setSnapshot(StoreSnapshotPtr snapshot);
  StoreSnapshotPtr snapshot() const { return snapshot_; }
  /// A line under the button: what happened last ("Learned mug (2 examples)").
  void setStatus(const QString& text);
  QString status() const;
  /// Whether a box is drawn on the picture (the button then says it teaches the box).
  void setHasBox(bool has_box);
  QListWidget* list() const { return list_; }
  QPushButton* burstButton() const { return burst_; }
  /// The selected class's examples, one thumbnail each, in the store's order.
  QListWidget* exampleStrip() const { return examples_; }
  QPushButton* deleteExampleButton() const { return delete_example_; }
  /// Which rule answers, in words ("Linear classifier: ..." or "Prototypes: ...").
  QString ruleText() const;
  static constexpr int kBurstExamples = 10;
  static constexpr int kMaxHeldExamples = 100;
  static constexpr int kHoldMs = 400;  ///< pressed longer than this: held
  QSlider* thresholdSlider() const { return threshold_; }
  /// "Taught classes in every mode": Classify, Detect and Heat maps answer with them.
  QCheckBox* everywhereBox() const { return everywhere_; }
  void setEverywhere(bool on);

 signals:
  void teachRequested(const QString& name);
  /// Teach `count` examples from the next frames of the camera or video (Teachable Machine's
  /// "hold to record"): the object seen from several sides in one go.
  void burstRequested(const QString& name, int count);
  /// The Teach x10 button, held down, was let go: stop recording.
  void burstStopRequested();
  void renameRequested(const QString& old_name, const QString& new_name);
  void forgetRequested(const QString& name);
  void removeExampleRequested(const QString& name, int index);
  void thresholdChanged(float threshold);
  void everywhereToggled(bool on);
  void openRequested();
  void saveAsRequested();

 protected:
  /// Ctrl+R held anywhere in the window (installed on the application by MainWindow).
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  void burstPressed();
  void burstReleased();
  void requestTeach();
  void itemEdited(QListWidgetItem* item);
  void updateThresholdLabel();
  void showExamples();
  void requestDeleteExample();

  QLineEdit* name_ = nullptr;
  QPushButton* teach_ = nullptr;
  QPushButton* burst_ = nullptr;
  QTimer* hold_timer_ = nullptr;
  bool holding_ = false;
  bool key_down_ = false;  ///< Ctrl+R is down (the burst button's twin)
  QLabel* status_ = nullptr;
  QListWidget* list_ = nullptr;
  QPushButton* forget_ = nullptr;
  QLabel* examples_label_ = nullptr;
  QListWidget* examples_ = nullptr;
  QPushButton* delete_example_ = nullptr;
  QLabel* rule_ = nullptr;
  QCheckBox* everywhere_ = nullptr;
  QSlider* threshold_ = nullptr;
  QLabel* threshold_label_ = nullptr;
  QLabel* store_label_ = nullptr;
  StoreSnapshotPtr snapshot_;
  bool has_box_ = false;
  bool updating_ = false;
};

}  // namespace overfeat::studio
