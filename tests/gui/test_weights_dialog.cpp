// SPDX-License-Identifier: MIT
// The official weights dialog, offscreen, on fake weights (sparse files of the official sizes):
// the data folder's status, a verdict per file for a picked folder and for an archive as the
// release distributed it, installing with the progress bar, the first-run rule, screenshots.
#include <QDir>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QTreeWidget>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "weights_dialog.hpp"

using namespace overfeat;
using namespace overfeat::studio;

namespace fs = std::filesystem;

namespace {

constexpr std::uintmax_t kFast = 583683488, kAccurate = 578625952;

void sparse_file(const fs::path& p, std::uintmax_t size) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary).close();
  fs::resize_file(p, size);
}

QStringList verdicts(QTreeWidget* table) {
  QStringList v;
  for (int i = 0; i < table->topLevelItemCount(); ++i) v << table->topLevelItem(i)->text(3);
  return v;
}

void screenshot(QWidget* w, const QString& name) {
  const QString dir = qEnvironmentVariable("OVERFEAT_SCREENSHOT_DIR");
  if (dir.isEmpty()) return;
  QDir().mkpath(dir);
  QVERIFY(w->grab().save(dir + "/" + name));
}

}  // namespace

class TestWeightsDialog : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  fs::path root() const { return tmp_.path().toStdString(); }
  fs::path data() const { return root() / "xdg/overfeat-studio/weights"; }

 private slots:
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    qputenv("XDG_DATA_HOME", QByteArray::fromStdString((root() / "xdg").string()));
    qunsetenv("OVERFEAT_WEIGHTS");
  }

  void firstRunRule() {
    QSettings settings(tmp_.filePath("settings.ini"), QSettings::IniFormat);
    QVERIFY(WeightsDialog::shouldShowOnFirstRun(settings));
    WeightsDialog::markShownOnFirstRun(settings);
    QVERIFY(!WeightsDialog::shouldShowOnFirstRun(settings));
  }

  void folderVerdictsAndInstall() {
    sparse_file(root() / "picked/net_weight_0", kFast);
    sparse_file(root() / "picked/net_weight_1", kAccurate - 100);
    std::ofstream(root() / "picked/readme.txt") << "hello";

    WeightsDialog dialog;
    dialog.show();
    QVERIFY(QTest::qWaitForWindowExposed(&dialog));
    auto* dest = dialog.findChild<QTreeWidget*>("destinationTable");
    auto* source = dialog.findChild<QTreeWidget*>("sourceTable");
    auto* install = dialog.findChild<QPushButton*>("install");
    auto* use_here = dialog.findChild<QPushButton*>("useHere");
    QVERIFY(dest && source && install && use_here);
    QCOMPARE(dialog.destination(), QString::fromStdString(data().string()));
    QCOMPARE(verdicts(dest), QStringList({"missing", "missing"}));
    QVERIFY(!install->isEnabled());
    screenshot(&dialog, "weights_dialog_first_run.png");

    QSignalSpy checked(&dialog, &WeightsDialog::checkFinished);
    dialog.checkSource(QString::fromStdString((root() / "picked").string()));
    QVERIFY(checked.wait(10000));
    QCOMPARE(verdicts(source), QStringList({"OK", "wrong size"}));
    const QString note = dialog.findChild<QLabel*>("sourceNote")->text();
    QVERIFY2(note.contains("expected 578,625,952 bytes, found 578,625,852"), qPrintable(note));
    QVERIFY2(note.contains("readme.txt"), qPrintable(note));
    QVERIFY(install->isEnabled());
    QVERIFY(use_here->isEnabled());
    screenshot(&dialog, "weights_dialog_checked_folder.png");

    QSignalSpy finished(&dialog, &WeightsDialog::installFinished);
    QSignalSpy installed(&dialog, &WeightsDialog::weightsInstalled);
    dialog.install();
    QVERIFY(finished.wait(20000));
    QCOMPARE(finished.first().at(0).toBool(), true);
    QCOMPARE(installed.count(), 1);
    QCOMPARE(installed.first().at(0).toString(), QString::fromStdString(data().string()));
    QCOMPARE(fs::file_size(data() / "net_weight_0"), kFast);
    QVERIFY(!fs::exists(data() / "net_weight_1"));  // the wrong-sized file is refused
    QCOMPARE(verdicts(dest), QStringList({"OK", "missing"}));
    QCOMPARE(dialog.findChild<QProgressBar*>("progress")->value(), 1000);
    const QString status = dialog.findChild<QLabel*>("status")->text();
    QVERIFY2(status.contains("Installed net_weight_0") &&
                 status.contains("Not installed (see above): net_weight_1."),
             qPrintable(status));
    screenshot(&dialog, "weights_dialog_installed.png");
  }

  void archiveLikeTheRelease() {
    sparse_file(root() / "release/data/default/net_weight_0", kFast);
    sparse_file(root() / "release/data/default/net_weight_1", kAccurate);
    const fs::path tgz = root() / "overfeat-weights.tgz";
    const std::string cmd =
        "tar -czSf '" + tgz.string() + "' -C '" + (root() / "release").string() + "' data";
    QCOMPARE(std::system(cmd.c_str()), 0);

    WeightsDialog dialog;
    dialog.show();
    QVERIFY(QTest::qWaitForWindowExposed(&dialog));
    QSignalSpy checked(&dialog, &WeightsDialog::checkFinished);
    dialog.checkSource(QString::fromStdString(tgz.string()));
    QVERIFY(checked.wait(10000));
    QVERIFY(dialog.lastCheck().archive);
    QCOMPARE(verdicts(dialog.findChild<QTreeWidget*>("sourceTable")), QStringList({"OK", "OK"}));
    QVERIFY(!dialog.findChild<QPushButton*>("useHere")->isEnabled());  // an archive is extracted

    QSignalSpy finished(&dialog, &WeightsDialog::installFinished);
    dialog.install();
    QVERIFY(finished.wait(20000));
    QVERIFY(finished.first().at(0).toBool());
    QCOMPARE(fs::file_size(data() / "net_weight_1"), kAccurate);
    QCOMPARE(verdicts(dialog.findChild<QTreeWidget*>("destinationTable")),
             QStringList({"OK", "OK"}));
    screenshot(&dialog, "weights_dialog_installed_archive.png");

    // With both files in the data folder there is nothing to ask on a first run.
    QSettings fresh(tmp_.filePath("fresh.ini"), QSettings::IniFormat);
    QVERIFY(!WeightsDialog::shouldShowOnFirstRun(fresh));
  }

  void damagedArchive() {
    const fs::path cut = root() / "cut.tgz";
    std::ofstream(cut, std::ios::binary) << "\x1f\x8b\x08\x00 not really gzip";
    WeightsDialog dialog;
    QSignalSpy checked(&dialog, &WeightsDialog::checkFinished);
    dialog.checkSource(QString::fromStdString(cut.string()));
    QVERIFY(checked.wait(10000));
    QVERIFY(!dialog.lastCheck().problem.empty());
    QVERIFY(dialog.findChild<QLabel*>("sourceNote")->isVisibleTo(&dialog));
    QVERIFY(!dialog.findChild<QPushButton*>("install")->isEnabled());
  }
};

QTEST_MAIN(TestWeightsDialog)
#include "test_weights_dialog.moc"
