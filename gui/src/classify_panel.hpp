// SPDX-License-Identifier: MIT
// The top classes with confidence bars.
#pragma once
#include <QWidget>

#include <string>
#include <vector>

namespace overfeat::studio {

class ClassifyPanel : public QWidget {
  Q_OBJECT
 public:
  explicit ClassifyPanel(QWidget* parent = nullptr);
  struct Entry {
    QString name;
    float probability = 0;
    int cls = -1;
  };
  /// The top `n` foreground classes of `probs`.
  void setScores(const std::vector<float>& probs, const std::vector<std::string>& classes,
                 int background, int n = 5);
  /// Entries as they are (e.g. the learned classes' similarities), best first.
  void setEntries(std::vector<Entry> entries);
  void clear();
  const std::vector<Entry>& entries() const { return entries_; }
  /// A short caption under the bars, e.g. "6 scales, fine stride - 812 ms"; at most two lines
  /// ('\n'), each elided to the width.
  void setCaption(const QString& caption);
  const QString& caption() const { return caption_; }

  QSize sizeHint() const override;
  QSize minimumSizeHint() const override;

 protected:
  void paintEvent(QPaintEvent* event) override;

 private:
  std::vector<Entry> entries_;
  QString caption_;
};

}  // namespace overfeat::studio
