// SPDX-License-Identifier: MIT
// The official weights dialog (first run, and Model > Official weights...): what the official
// files are, where the app looks for them and what is there, checking a folder or the release's
// archive the user picks (a verdict per file), and installing the good files into the data
// folder with a progress bar. Checking and copying run off the UI thread.
#pragma once
#include <QDialog>
#include <QString>

#include <atomic>
#include <thread>

#include "overfeat/weights_install.hpp"

class QLabel;
class QProgressBar;
class QPushButton;
class QSettings;
class QTreeWidget;

namespace overfeat::studio {

class WeightsDialog : public QDialog {
  Q_OBJECT
 public:
  explicit WeightsDialog(QWidget* parent = nullptr);
  ~WeightsDialog() override;

  /// True when the dialog has never been shown on a first run and the data folder does not
  /// hold both official files.
  static bool shouldShowOnFirstRun(QSettings& settings);
  /// Remembers that the first-run dialog was shown, so it is not shown again.
  static void markShownOnFirstRun(QSettings& settings);

  /// Where install() puts the files; default overfeat::default_weights_dir().
  void setDestination(const QString& dir);
  QString destination() const { return destination_; }

  /// Checks a folder or an archive (off the UI thread); checkFinished() follows.
  void checkSource(const QString& path);
  /// Copies or extracts the good files of the last check into destination() (off the UI
  /// thread, with progress); installFinished() follows.
  void install();
  /// Stops an installation; nothing partial is left behind.
  void cancelInstall() { cancel_ = true; }
  bool busy() const { return worker_.joinable(); }
  /// The last check of a picked folder or archive.
  const WeightsCheck& lastCheck() const { return check_; }

 signals:
  void checkFinished();
  void installFinished(bool ok, const QString& message);
  /// The official files are ready in `dir`: installed there, or a checked folder used as is.
  /// Connect to MainWindow::useWeightsFolder.
  void weightsInstalled(const QString& dir);
  /// The user chose the bundled model instead.
  void bundledModelChosen();

 public slots:
  void reject() override;

 private:
  void chooseFolder();
  void chooseArchive();
  void refreshDestination();
  void showCheck(QTreeWidget* table, const WeightsCheck& check);
  void setBusy(bool busy);
  void fitContents();
  void finishWorker();

  QString destination_;
  WeightsCheck check_;
  bool checked_ = false;
  std::thread worker_;
  std::atomic<bool> cancel_{false};

  QLabel* dest_label_ = nullptr;
  QTreeWidget* dest_table_ = nullptr;
  QLabel* source_label_ = nullptr;
  QTreeWidget* source_table_ = nullptr;
  QLabel* source_note_ = nullptr;
  QProgressBar* progress_ = nullptr;
  QLabel* status_ = nullptr;
  QPushButton* folder_button_ = nullptr;
  QPushButton* archive_button_ = nullptr;
  QPushButton* install_button_ = nullptr;
  QPushButton* use_here_button_ = nullptr;
  QPushButton* cancel_button_ = nullptr;
  QPushButton* bundled_button_ = nullptr;
};

}  // namespace overfeat::studio
