// SPDX-License-Identifier: MIT
#include "teach_panel.hpp"

#include <QCheckBox>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QKeyEvent>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QShortcut>
#include <QSlider>
#include <QTimer>
#include <QVBoxLayout>

namespace overfeat::studio {

TeachPanel::TeachPanel(QWidget* parent) : QWidget(parent) {
  auto* column = new QVBoxLayout(this);
  auto* intro = new QLabel(
      tr("Show one example, type its name and press Teach (Enter, or Ctrl+T anywhere). Drag a "
         "box on the picture to teach only that region. More examples of a name refine it. "
         "Live, hold Teach x10 (or Ctrl+R) while you turn the object to record many."),
      this);
  intro->setWordWrap(true);
  column->addWidget(intro);

  auto* row = new QHBoxLayout;
  name_ = new QLineEdit(this);
  name_->setPlaceholderText(tr("Name, e.g. my mug"));
  teach_ = new QPushButton(tr("Teach"), this);
  teach_->setDefault(true);
  burst_ = new QPushButton(tr("Teach x%1").arg(kBurstExamples), this);
  burst_->setToolTip(tr("Live: learn %1 examples from the next frames (turn the object while it "
                        "records); hold the button, or Ctrl+R anywhere, to record until you "
                        "let go")
                         .arg(kBurstExamples));
  row->addWidget(name_, 1);
  row->addWidget(teach_);
  row->addWidget(burst_);
  column->addLayout(row);
  status_ = new QLabel(this);
  status_->setWordWrap(true);
  column->addWidget(status_);

  list_ = new QListWidget(this);
  list_->setIconSize(QSize(48, 48));
  list_->setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::EditKeyPressed);
  list_->setToolTip(tr("Double-click (or F2) a name to rename it"));
  column->addWidget(list_, 1);

  // The selected class's examples (Teachable Machine's strip): a bad one can be deleted.
  auto* strip_row = new QHBoxLayout;
  examples_label_ = new QLabel(this);
  delete_example_ = new QPushButton(tr("Delete example"), this);
  delete_example_->setToolTip(tr("Delete the selected example (Delete key in the strip)"));
  strip_row->addWidget(examples_label_, 1);
  strip_row->addWidget(delete_example_);
  column->addLayout(strip_row);
  examples_ = new QListWidget(this);
  examples_->setViewMode(QListView::IconMode);
  examples_->setFlow(QListView::LeftToRight);
  examples_->setWrapping(false);
  examples_->setMovement(QListView::Static);
  examples_->setIconSize(QSize(40, 40));
  examples_->setFixedHeight(76);
  examples_->setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  examples_->setHorizontalScrollBarPolicy(Qt::ScrollBarAsNeeded);
  column->addWidget(examples_);
  rule_ = new QLabel(this);
  rule_->setWordWrap(true);
  column->addWidget(rule_);
  everywhere_ = new QCheckBox(tr("Taught classes in every mode"), this);
  everywhere_->setToolTip(
      tr("Classify, Detect and Heat maps answer with the taught classes instead of the model's: "
         "the chance of each taught class at every window, its boxes and its heat maps"));
  column->addWidget(everywhere_);
  connect(everywhere_, &QCheckBox::toggled, this, &TeachPanel::everywhereToggled);

  auto* buttons = new QHBoxLayout;
  forget_ = new QPushButton(tr("Forget"), this);
  forget_->setToolTip(tr("Forget the selected class and its examples"));
  auto* open = new QPushButton(tr("Open..."), this);
  open->setToolTip(tr("Use another file of learned classes (learned with this model)"));
  auto* save = new QPushButton(tr("Save as..."), this);
  buttons->addWidget(forget_);
  buttons->addStretch(1);
  buttons->addWidget(open);
  buttons->addWidget(save);
  column->addLayout(buttons);

  threshold_label_ = new QLabel(this);
  threshold_ = new QSlider(Qt::Horizontal, this);
  threshold_->setRange(0, 100);
  threshold_->setToolTip(
      tr("Cosine similarity below which the answer is \"unknown\". Higher: fewer false "
         "recognitions, more unknowns."));
  column->addWidget(threshold_label_);
  column->addWidget(threshold_);
  store_label_ = new QLabel(this);
  store_label_->setWordWrap(true);
  store_label_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  QFont small = store_label_->font();
  small.setPointSizeF(small.pointSizeF() * 0.85);
  store_label_->setFont(small);
  column->addWidget(store_label_);

  connect(teach_, &QPushButton::clicked, this, &TeachPanel::requestTeach);
  // A click records kBurstExamples; held down (Teachable Machine's "hold to record"), it
  // records until released (at most kMaxHeldExamples).
  hold_timer_ = new QTimer(this);
  hold_timer_->setSingleShot(true);
  hold_timer_->setInterval(kHoldMs);
  connect(hold_timer_, &QTimer::timeout, this, [this] {
    holding_ = true;
    emit burstRequested(name(), kMaxHeldExamples);
  });
  connect(burst_, &QPushButton::pressed, this, &TeachPanel::burstPressed);
  connect(burst_, &QPushButton::released, this, &TeachPanel::burstReleased);
  connect(name_, &QLineEdit::returnPressed, this, &TeachPanel::requestTeach);
  connect(list_, &QListWidget::itemChanged, this, &TeachPanel::itemEdited);
  connect(list_, &QListWidget::currentRowChanged, this, [this](int row) {
    forget_->setEnabled(row >= 0);
    if (!updating_) showExamples();
    if (row >= 0 && snapshot_ && row < static_cast<int>(snapshot_->classes.size()))
      name_->setText(snapshot_->classes[row].name);  // teaching again refines that class
  });
  connect(forget_, &QPushButton::clicked, this, [this] {
    const int row = list_->currentRow();
    if (snapshot_ && row >= 0 && row < static_cast<int>(snapshot_->classes.size()))
      emit forgetRequested(snapshot_->classes[row].name);
  });
  connect(delete_example_, &QPushButton::clicked, this, &TeachPanel::requestDeleteExample);
  connect(examples_, &QListWidget::currentRowChanged, this,
          [this](int row) { delete_example_->setEnabled(row >= 0); });
  auto* del = new QShortcut(QKeySequence::Delete, examples_);
  del->setContext(Qt::WidgetShortcut);
  connect(del, &QShortcut::activated, this, &TeachPanel::requestDeleteExample);
  connect(open, &QPushButton::clicked, this, &TeachPanel::openRequested);
  connect(save, &QPushButton::clicked, this, &TeachPanel::saveAsRequested);
  connect(threshold_, &QSlider::valueChanged, this, [this] {
    updateThresholdLabel();
    if (!updating_) emit thresholdChanged(threshold_->value() / 100.0f);
  });
  forget_->setEnabled(false);
  setEnabled(false);  // until a model (and its store) is loaded
  updateThresholdLabel();
}

void TeachPanel::burstPressed() {
  holding_ = false;
  if (!name().isEmpty()) hold_timer_->start();
}

void TeachPanel::burstReleased() {
  const bool was_pending = hold_timer_->isActive();
  hold_timer_->stop();
  if (holding_) {
    holding_ = false;
    emit burstStopRequested();
    return;
  }
  if (name().isEmpty()) {
    setStatus(tr("Type a name first."));
    name_->setFocus();
    return;
  }
  if (was_pending) emit burstRequested(name(), kBurstExamples);
}

// Ctrl+R anywhere in the window works as the Teach x10 button: a tap records kBurstExamples,
// held it records until the R key is let go. A QShortcut cannot see the release, hence a filter
// (installed on the application by the window, so that it sees the keys whichever widget has
// the focus); the key's auto-repeat is swallowed.
bool TeachPanel::eventFilter(QObject* watched, QEvent* event) {
  const auto type = event->type();
  if (type != QEvent::KeyPress && type != QEvent::KeyRelease) return false;
  const auto* key = static_cast<QKeyEvent*>(event);
  if (key->key() != Qt::Key_R) return false;
  const auto* widget = qobject_cast<QWidget*>(watched);
  if (!widget || widget->window() != window()) return false;
  if (type == QEvent::KeyPress) {
    if (!key_down_ && !(key->modifiers() & Qt::ControlModifier)) return false;
    if (key->isAutoRepeat() || key_down_) return true;
    if (!isEnabled() || !burst_->isEnabled()) return false;
    key_down_ = true;
    burst_->setDown(true);
    burstPressed();
    return true;
  }
  if (!key_down_) return false;
  if (key->isAutoRepeat()) return true;
  key_down_ = false;
  burst_->setDown(false);
  burstReleased();
  return true;
}

QString TeachPanel::name() const {
  return name_->text().trimmed();
}
void TeachPanel::setName(const QString& name) {
  name_->setText(name);
}
void TeachPanel::setStatus(const QString& text) {
  status_->setText(text);
}
QString TeachPanel::status() const {
  return status_->text();
}

void TeachPanel::setHasBox(bool has_box) {
  has_box_ = has_box;
  teach_->setText(has_box ? tr("Teach the box") : tr("Teach"));
}

void TeachPanel::requestTeach() {
  if (name().isEmpty()) {
    setStatus(tr("Type a name first."));
    name_->setFocus();
    return;
  }
  emit teachRequested(name());
}

void TeachPanel::setSnapshot(StoreSnapshotPtr snapshot) {
  snapshot_ = std::move(snapshot);
  setEnabled(snapshot_ != nullptr);
  updating_ = true;
  const int row = list_->currentRow();
  list_->clear();
  if (snapshot_) {
    for (const LearnedSummary& c : snapshot_->classes) {
      auto* item = new QListWidgetItem(
          c.thumbnail.isNull() ? QIcon() : QIcon(QPixmap::fromImage(c.thumbnail)), c.name);
      item->setData(Qt::UserRole, c.name);
      item->setToolTip(tr("%n example(s)", nullptr, c.examples));
      item->setFlags(item->flags() | Qt::ItemIsEditable);
      list_->addItem(item);
    }
    threshold_->setValue(static_cast<int>(std::lround(snapshot_->threshold * 100)));
    store_label_->setText(tr("%1\nSaved in %2").arg(snapshot_->identity, snapshot_->path));
    store_label_->setToolTip(snapshot_->path);
  }
  if (row >= 0 && row < list_->count()) list_->setCurrentRow(row);
  forget_->setEnabled(list_->currentRow() >= 0);
  updating_ = false;
  updateThresholdLabel();
  showExamples();
  int examples = 0;
  if (snapshot_)
    for (const LearnedSummary& c : snapshot_->classes) examples += c.examples;
  rule_->setText(
      !snapshot_ || snapshot_->classes.empty() ? QString()
      : snapshot_->linear
          ? tr("Answers: a linear classifier trained on your %1 examples").arg(examples)
          : tr("Answers: the closest class's average example. With two or more classes of two "
               "examples each, a linear classifier is trained on them."));
}

void TeachPanel::setEverywhere(bool on) {
  const QSignalBlocker block(everywhere_);
  everywhere_->setChecked(on);
}

QString TeachPanel::ruleText() const {
  return rule_->text();
}

void TeachPanel::showExamples() {
  const int keep = examples_->currentRow();
  const int row = list_->currentRow();
  examples_->clear();
  if (!snapshot_ || row < 0 || row >= static_cast<int>(snapshot_->classes.size())) {
    examples_label_->setText(tr("Select a class to see its examples"));
    delete_example_->setEnabled(false);
    return;
  }
  const LearnedSummary& c = snapshot_->classes[row];
  examples_label_->setText(c.examples == 1 ? tr("%1: 1 example").arg(c.name)
                                           : tr("%1: %2 examples").arg(c.name).arg(c.examples));
  for (size_t i = 0; i < c.thumbnails.size(); ++i) {
    auto* item = new QListWidgetItem(
        c.thumbnails[i].isNull() ? QIcon() : QIcon(QPixmap::fromImage(c.thumbnails[i])),
        QString::number(i + 1));
    item->setToolTip(tr("Example %1 of %2").arg(i + 1).arg(c.name));
    examples_->addItem(item);
  }
  if (keep >= 0 && keep < examples_->count()) examples_->setCurrentRow(keep);
  delete_example_->setEnabled(examples_->currentRow() >= 0);
}

void TeachPanel::requestDeleteExample() {
  const int row = list_->currentRow();
  const int index = examples_->currentRow();
  if (!snapshot_ || row < 0 || row >= static_cast<int>(snapshot_->classes.size()) || index < 0)
    return;
  emit removeExampleRequested(snapshot_->classes[row].name, index);
}

void TeachPanel::itemEdited(QListWidgetItem* item) {
  if (updating_) return;
  const QString old_name = item->data(Qt::UserRole).toString();
  const QString new_name = item->text().trimmed();
  if (new_name == old_name) return;
  if (new_name.isEmpty()) {
    const QSignalBlocker block(list_);
    item->setText(old_name);
    return;
  }
  emit renameRequested(old_name, new_name);
}

void TeachPanel::updateThresholdLabel() {
  threshold_label_->setText(
      tr("\"Unknown\" below similarity %1").arg(threshold_->value() / 100.0, 0, 'f', 2));
}

}  // namespace overfeat::studio
