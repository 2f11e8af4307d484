// SPDX-License-Identifier: MIT
#include "classify_panel.hpp"

#include <QPainter>

#include <algorithm>

#include "image_canvas.hpp"
#include "overfeat/report.hpp"

namespace overfeat::studio {

ClassifyPanel::ClassifyPanel(QWidget* parent) : QWidget(parent) {
  setSizePolicy(QSizePolicy::Preferred, QSizePolicy::Fixed);
}

void ClassifyPanel::setScores(const std::vector<float>& probs,
                              const std::vector<std::string>& classes, int background, int n) {
  entries_.clear();
  for (const ScoredClass& c : top_foreground(probs, background, n)) {
    const QString name = c.index < static_cast<int>(classes.size())
                             ? QString::fromStdString(classes[c.index])
                             : QString::number(c.index);
    entries_.push_back({name, c.score, c.index});
  }
  update();
}

void ClassifyPanel::setEntries(std::vector<Entry> entries) {
  entries_ = std::move(entries);
  update();
}

void ClassifyPanel::clear() {
  entries_.clear();
  update();
}

void ClassifyPanel::setCaption(const QString& caption) {
  caption_ = caption;
  update();
}

QSize ClassifyPanel::sizeHint() const {
  const int line = fontMetrics().height();
  return {420, 5 * (line + 10) + 2 * line + 20};  // two caption lines
}

QSize ClassifyPanel::minimumSizeHint() const {
  return {240, sizeHint().height()};
}

void ClassifyPanel::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.setRenderHint(QPainter::Antialiasing);
  p.fillRect(rect(), palette().window());
  const QFontMetrics fm = fontMetrics();
  const int line = fm.height();
  const int row = line + 10;
  const int margin = 10;
  if (entries_.empty()) {
    p.setPen(palette().color(QPalette::PlaceholderText));
    p.drawText(rect().adjusted(margin, margin, -margin, -margin), Qt::AlignLeft | Qt::AlignTop,
               tr("No classification yet"));
    return;
  }
  // One row per class: name | bar | percentage.
  const int inner = width() - 2 * margin;
  const int pct_w = fm.horizontalAdvance(QStringLiteral("100.0 %")) + 8;
  const int name_w = std::min(inner / 2, std::max(inner * 2 / 5, 160));
  const int bar_x = margin + name_w + 8;
  const int bar_w = std::max(20, inner - name_w - 8 - pct_w);
  for (size_t i = 0; i < entries_.size(); ++i) {
    const Entry& e = entries_[i];
    const int y = margin + static_cast<int>(i) * row;
    QFont f = font();
    f.setBold(i == 0);
    p.setFont(f);
    const QFontMetrics bold(f);
    p.setPen(palette().color(QPalette::WindowText));
    p.drawText(QRect(margin, y, name_w, line), Qt::AlignLeft | Qt::AlignVCenter,
               bold.elidedText(e.name, Qt::ElideRight, name_w));
    p.drawText(QRect(bar_x + bar_w, y, pct_w, line), Qt::AlignRight | Qt::AlignVCenter,
               QStringLiteral("%1 %").arg(100.0 * e.probability, 0, 'f', 1));
    const QRectF track(bar_x, y + line * 0.2, bar_w, line * 0.6);
    p.setPen(Qt::NoPen);
    p.setBrush(palette().color(QPalette::Midlight));
    p.drawRoundedRect(track, 3, 3);
    QRectF fill = track;
    fill.setWidth(std::clamp(static_cast<double>(e.probability), 0.0, 1.0) * track.width());
    p.setBrush(class_qcolor(e.cls));
    if (fill.width() > 0.5) p.drawRoundedRect(fill, 3, 3);
  }
  if (!caption_.isEmpty()) {
    p.setFont(font());
    p.setPen(palette().color(QPalette::PlaceholderText));
    const QStringList lines = caption_.split('\n');
    for (int i = 0; i < lines.size(); ++i)
      p.drawText(QRect(margin, margin + static_cast<int>(entries_.size()) * row + 2 + i * line,
                       inner, line),
                 Qt::AlignLeft | Qt::AlignVCenter, fm.elidedText(lines[i], Qt::ElideRight, inner));
  }
}

}  // namespace overfeat::studio
