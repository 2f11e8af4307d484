// SPDX-License-Identifier: MIT
#include "weights_dialog.hpp"

#include <QDesktopServices>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QTreeWidget>
#include <QUrl>
#include <QVBoxLayout>

#include "overfeat/error.hpp"
#include "overfeat/pipeline.hpp"
#include "overfeat/report.hpp"

namespace overfeat::studio {

namespace {

constexpr const char* kFirstRunKey = "firstRun/weightsDialogShown";

QString qs(const std::string& s) {
  return QString::fromStdString(s);
}

QTreeWidget* make_table(QWidget* parent, const char* name) {
  auto* t = new QTreeWidget(parent);
  t->setObjectName(name);
  t->setColumnCount(4);
  t->setHeaderLabels(
      {QObject::tr("File"), QObject::tr("Network"), QObject::tr("Size"), QObject::tr("Verdict")});
  t->setRootIsDecorated(false);
  t->setSelectionMode(QAbstractItemView::NoSelection);
  t->setFocusPolicy(Qt::NoFocus);
  t->header()->setStretchLastSection(true);
  t->setWordWrap(true);
  const int row = t->fontMetrics().height() + 8;
  t->setFixedHeight(t->header()->sizeHint().height() + 2 * row + 6);
  return t;
}

QColor verdict_color(WeightVerdict v) {
  switch (v) {
    case WeightVerdict::Ok:
      return QColor(0x1e, 0x8e, 0x3e);
    case WeightVerdict::Missing:
      return QColor(0x80, 0x80, 0x80);
    default:
      return QColor(0xc5, 0x22, 0x1f);
  }
}

}  // namespace

WeightsDialog::WeightsDialog(QWidget* parent)
    : QDialog(parent), destination_(qs(default_weights_dir().string())) {
  setObjectName("WeightsDialog");
  setWindowTitle(tr("Official OverFeat weights"));
  auto* layout = new QVBoxLayout(this);

  QString sizes;
  for (const OfficialWeightFile& f : official_weight_files())
    sizes += tr("<li><b>%1</b>: the %2 net, exactly %3 bytes</li>")
                 .arg(qs(f.name), qs(f.net), qs(group_digits(f.bytes)));
  auto* intro = new QLabel(
      tr("<p>OverFeat Studio runs its own bundled model out of the box. It can also run the "
         "original OverFeat networks with their official weights:</p><ul>%1</ul>"
         "<p>They come from the original release's archive <b>overfeat-weights.tgz</b> (folder "
         "<tt>data/default</tt>). They are not redistributed with OverFeat Studio: pick the "
         "archive or a folder holding them, and the app checks each file's size against the "
         "documented layout and installs the good ones. Nothing is downloaded.</p>")
          .arg(sizes),
      this);
  intro->setWordWrap(true);
  intro->setTextFormat(Qt::RichText);
  layout->addWidget(intro);

  // Where the app looks, and what is there.
  auto* dest_box = new QGroupBox(tr("Where the app looks"), this);
  auto* dest_layout = new QVBoxLayout(dest_box);
  auto* dest_row = new QHBoxLayout;
  dest_label_ = new QLabel(dest_box);
  dest_label_->setObjectName("destination");
  dest_label_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  dest_label_->setWordWrap(true);
  auto* open_button = new QPushButton(tr("Open folder"), dest_box);
  connect(open_button, &QPushButton::clicked, this, [this] {
    QDir().mkpath(destination_);
    QDesktopServices::openUrl(QUrl::fromLocalFile(destination_));
  });
  dest_row->addWidget(dest_label_, 1);
  dest_row->addWidget(open_button);
  dest_layout->addLayout(dest_row);
  dest_table_ = make_table(dest_box, "destinationTable");
  dest_layout->addWidget(dest_table_);
  layout->addWidget(dest_box);

  // What the user picked.
  auto* source_box = new QGroupBox(tr("Check a download"), this);
  auto* source_layout = new QVBoxLayout(source_box);
  auto* pick_row = new QHBoxLayout;
  archive_button_ = new QPushButton(tr("Check an archive..."), source_box);
  archive_button_->setObjectName("checkArchive");
  folder_button_ = new QPushButton(tr("Check a folder..."), source_box);
  folder_button_->setObjectName("checkFolder");
  connect(archive_button_, &QPushButton::clicked, this, &WeightsDialog::chooseArchive);
  connect(folder_button_, &QPushButton::clicked, this, &WeightsDialog::chooseFolder);
  pick_row->addWidget(archive_button_);
  pick_row->addWidget(folder_button_);
  pick_row->addStretch(1);
  source_layout->addLayout(pick_row);
  source_label_ = new QLabel(tr("Nothing picked yet."), source_box);
  source_label_->setObjectName("source");
  source_label_->setWordWrap(true);
  source_layout->addWidget(source_label_);
  source_table_ = make_table(source_box, "sourceTable");
  source_layout->addWidget(source_table_);
  source_note_ = new QLabel(source_box);
  source_note_->setObjectName("sourceNote");
  source_note_->setWordWrap(true);
  source_note_->hide();
  source_layout->addWidget(source_note_);
  layout->addWidget(source_box);

  progress_ = new QProgressBar(this);
  progress_->setObjectName("progress");
  progress_->setRange(0, 1000);
  progress_->setTextVisible(true);
  progress_->hide();
  layout->addWidget(progress_);
  status_ = new QLabel(this);
  status_->setObjectName("status");
  status_->setWordWrap(true);
  layout->addWidget(status_);

  auto* buttons = new QHBoxLayout;
  install_button_ = new QPushButton(tr("Install into the data folder"), this);
  install_button_->setObjectName("install");
  install_button_->setToolTip(tr("Copy the good files into the folder above"));
  use_here_button_ = new QPushButton(tr("Use from where they are"), this);
  use_here_button_->setObjectName("useHere");
  use_here_button_->setToolTip(
      tr("Load the official weights from the checked folder, without "
         "copying them"));
  cancel_button_ = new QPushButton(tr("Cancel"), this);
  cancel_button_->setObjectName("cancelInstall");
  cancel_button_->hide();
  bundled_button_ = new QPushButton(tr("Use the bundled model"), this);
  bundled_button_->setObjectName("useBundled");
  auto* close_button = new QPushButton(tr("Close"), this);
  close_button->setObjectName("close");
  connect(install_button_, &QPushButton::clicked, this, &WeightsDialog::install);
  connect(use_here_button_, &QPushButton::clicked, this, [this] {
    emit weightsInstalled(qs(check_.folder.string()));
    accept();
  });
  connect(cancel_button_, &QPushButton::clicked, this, &WeightsDialog::cancelInstall);
  connect(bundled_button_, &QPushButton::clicked, this, [this] {
    emit bundledModelChosen();
    accept();
  });
  connect(close_button, &QPushButton::clicked, this, &WeightsDialog::reject);
  buttons->addWidget(install_button_);
  buttons->addWidget(use_here_button_);
  buttons->addWidget(cancel_button_);
  buttons->addStretch(1);
  buttons->addWidget(bundled_button_);
  buttons->addWidget(close_button);
  layout->addLayout(buttons);

  const bool bundled = !bundled_model_path().empty();
  bundled_button_->setEnabled(bundled);
  if (!bundled)
    bundled_button_->setToolTip(tr("The bundled model is not installed with this build"));
  (bundled ? bundled_button_ : close_button)->setDefault(true);
  setBusy(false);
  refreshDestination();
  setMinimumWidth(640);
  resize(700, sizeHint().height());
}

void WeightsDialog::fitContents() {
  // Word-wrapped labels grow with their text; a dialog only grows to fit them, never shrinks.
  layout()->activate();
  const int h = layout()->hasHeightForWidth() ? layout()->totalHeightForWidth(width())
                                              : layout()->totalSizeHint().height();
  if (h > height()) resize(width(), h);
}

WeightsDialog::~WeightsDialog() {
  cancel_ = true;
  if (worker_.joinable()) worker_.join();
}

bool WeightsDialog::shouldShowOnFirstRun(QSettings& settings) {
  if (settings.value(kFirstRunKey, false).toBool()) return false;
  return !check_weights(default_weights_dir()).all_ok();
}

void WeightsDialog::markShownOnFirstRun(QSettings& settings) {
  settings.setValue(kFirstRunKey, true);
}

void WeightsDialog::setDestination(const QString& dir) {
  destination_ = dir;
  refreshDestination();
}

void WeightsDialog::reject() {
  cancel_ = true;
  if (worker_.joinable()) worker_.join();
  QDialog::reject();
}

void WeightsDialog::chooseFolder() {
  const QString dir = QFileDialog::getExistingDirectory(
      this, tr("Folder with net_weight_0 and net_weight_1"), QDir::homePath());
  if (!dir.isEmpty()) checkSource(dir);
}

void WeightsDialog::chooseArchive() {
  const QString file = QFileDialog::getOpenFileName(
      this, tr("The release's archive"), QDir::homePath(),
      tr("Archives (*.tgz *.tar.gz *.tar *.tar.xz *.tar.bz2 *.zip);;All files (*)"));
  if (!file.isEmpty()) checkSource(file);
}

void WeightsDialog::refreshDestination() {
  const WeightsCheck c = check_weights(destination_.toStdString());
  dest_label_->setText(tr("<b>%1</b><br>%2")
                           .arg(destination_.toHtmlEscaped(),
                                c.all_ok()         ? tr("Both official files are installed.")
                                : c.ok_count() > 0 ? tr("One official file is installed.")
                                                   : tr("No official weights yet. The data folder "
                                                        "($XDG_DATA_HOME/overfeat-studio/weights; "
                                                        "OVERFEAT_WEIGHTS overrides it).")));
  showCheck(dest_table_, c);
}

void WeightsDialog::showCheck(QTreeWidget* table, const WeightsCheck& check) {
  table->clear();
  for (const WeightFileCheck& f : check.files) {
    auto* item = new QTreeWidgetItem(table);
    item->setText(0, qs(f.file.name));
    item->setText(1, qs(f.file.net));
    item->setText(2, f.verdict == WeightVerdict::Missing
                         ? tr("expected %1").arg(qs(group_digits(f.file.bytes)))
                         : qs(group_digits(f.found_bytes)));
    item->setText(3, qs(verdict_name(f.verdict)));
    item->setToolTip(3, qs(f.explain()));
    item->setToolTip(0, qs(f.location));
    item->setForeground(3, verdict_color(f.verdict));
    QFont bold = item->font(3);
    bold.setBold(true);
    item->setFont(3, bold);
  }
  for (int c = 0; c < 3; ++c) table->resizeColumnToContents(c);
}

void WeightsDialog::checkSource(const QString& path) {
  if (busy()) return;
  setBusy(true);
  status_->setText(tr("Checking %1...").arg(QFileInfo(path).fileName()));
  progress_->setRange(0, 0);  // an archive is read to its end: as long as decompressing takes
  progress_->show();
  fitContents();
  worker_ = std::thread([this, path] {
    WeightsCheck c = check_weights(path.toStdString());
    QMetaObject::invokeMethod(
        this,
        [this, c = std::move(c)]() mutable {
          finishWorker();
          check_ = std::move(c);
          checked_ = true;
          progress_->hide();
          progress_->setRange(0, 1000);
          source_label_->setText(
              tr("%1 <b>%2</b>%3")
                  .arg(check_.archive ? tr("Archive") : tr("Folder"),
                       qs(check_.source.string()).toHtmlEscaped(),
                       !check_.archive && check_.folder != check_.source
                           ? tr(" (files in %1)").arg(qs(check_.folder.string()).toHtmlEscaped())
                           : QString()));
          showCheck(source_table_, check_);
          QStringList notes;
          for (const WeightFileCheck& f : check_.files)
            if (f.verdict != WeightVerdict::Ok)
              notes << QStringLiteral("%1: %2").arg(qs(f.file.name), qs(f.explain()));
          if (check_.extra_count > 0)
            notes << tr("Other files, not used: %1%2")
                         .arg(qs(check_.extra.empty() ? "" : check_.extra.front()))
                         .arg(check_.extra_count > 1
                                  ? tr(" and %1 more").arg(check_.extra_count - 1)
                                  : QString());
          if (!check_.problem.empty()) notes << qs(check_.problem);
          source_note_->setText(notes.join("\n"));
          source_note_->setVisible(!notes.isEmpty());
          status_->setText(check_.all_ok()         ? tr("Both files are good.")
                           : check_.ok_count() > 0 ? tr("Only the files marked OK can be used.")
                                                   : tr("No usable official file here."));
          setBusy(false);
          fitContents();
          emit checkFinished();
        },
        Qt::QueuedConnection);
  });
}

void WeightsDialog::install() {
  if (busy() || !checked_ || check_.ok_count() == 0) return;
  setBusy(true);
  cancel_ = false;
  progress_->setValue(0);
  progress_->setFormat(tr("%p %"));
  progress_->show();
  status_->setText(tr("Installing into %1...").arg(destination_));
  fitContents();
  worker_ = std::thread([this, check = check_, dir = destination_.toStdString()] {
    bool ok = false;
    QString message;
    try {
      const InstallOutcome out = install_weights(check, dir, [this](const InstallProgress& p) {
        const int permille = p.total ? static_cast<int>(1000.0 * p.done / p.total) : 1000;
        const QString file = qs(p.file);
        QMetaObject::invokeMethod(
            this,
            [this, permille, file] {
              progress_->setValue(permille);
              progress_->setFormat(tr("%1: %p %").arg(file));
            },
            Qt::QueuedConnection);
        return !cancel_.load();
      });
      if (out.cancelled) {
        message = tr("Cancelled; nothing partial was left behind.");
      } else {
        QStringList done;
        for (const auto& f : out.installed) done << qs(f);
        for (const auto& f : out.unchanged) done << qs(f);
        ok = !done.isEmpty();
        message = tr("Installed %1 into %2.").arg(done.join(", "), qs(dir));
        QStringList refused;  // "name: why"; the why is in the table above
        for (const auto& r : out.refused) refused << qs(r.substr(0, r.find(':')));
        if (!refused.isEmpty())
          message += " " + tr("Not installed (see above): %1.").arg(refused.join(", "));
      }
    } catch (const std::exception& e) {
      message = tr("Installation failed: %1").arg(e.what());
    }
    QMetaObject::invokeMethod(
        this,
        [this, ok, message, dir] {
          finishWorker();
          progress_->setVisible(ok);
          if (ok) progress_->setValue(1000);
          status_->setText(message);
          refreshDestination();
          setBusy(false);
          fitContents();
          emit installFinished(ok, message);
          if (ok) emit weightsInstalled(qs(dir));
        },
        Qt::QueuedConnection);
  });
}

void WeightsDialog::finishWorker() {
  if (worker_.joinable()) worker_.join();
}

void WeightsDialog::setBusy(bool busy) {
  const bool usable = checked_ && check_.ok_count() > 0;
  folder_button_->setEnabled(!busy);
  archive_button_->setEnabled(!busy);
  install_button_->setEnabled(!busy && usable);
  use_here_button_->setEnabled(!busy && usable && !check_.archive);
  cancel_button_->setVisible(busy && checked_ && progress_->maximum() > 0);
}

}  // namespace overfeat::studio
