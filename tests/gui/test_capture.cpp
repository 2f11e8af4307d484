// SPDX-License-Identifier: MIT
// Capture without a camera: a generated MP4 plays the camera's part (paced, looping, unplugged at
// its end when opened as a camera), and a fake sysfs tree plays the system's camera list.
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QRandomGenerator>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "capture.hpp"
#include "latest_slot.hpp"

using namespace overfeat::studio;
using namespace std::chrono_literals;

namespace {

constexpr int kFrames = 60;
constexpr double kFps = 30;
constexpr int kWidth = 160, kHeight = 120;

/// Where frame i's red square lies: it moves 2 pixels a frame, so every frame differs.
cv::Rect square_of(int i) {
  return {4 + 2 * i, 48, 24, 24};
}

/// Collects what the sink hears on the capture thread.
class Collector {
 public:
  std::function<void(const Frame&)> sink() {
    return [this](const Frame& frame) {
      std::lock_guard lock(mutex_);
      if (frames_.empty()) first_snapshot_ = frame.image.copy();
      frames_.push_back(frame);
    };
  }
  std::vector<Frame> frames() const {
    std::lock_guard lock(mutex_);
    return frames_;
  }
  qsizetype count() const {
    std::lock_guard lock(mutex_);
    return frames_.size();
  }
  qint64 last_index() const {
    std::lock_guard lock(mutex_);
    return frames_.empty() ? -1 : frames_.back().index;
  }
  QImage first_snapshot() const {
    std::lock_guard lock(mutex_);
    return first_snapshot_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Frame> frames_;
  QImage first_snapshot_;  // a copy made the moment frame 0 arrived
};

void write_file(const QString& path, const QByteArray& bytes) {
  QDir().mkpath(QFileInfo(path).absolutePath());
  QFile file(path);
  QVERIFY(file.open(QIODevice::WriteOnly));
  file.write(bytes);
}

bool consecutive_from_zero(const std::vector<Frame>& frames) {
  for (size_t i = 0; i < frames.size(); ++i)
    if (frames[i].index != static_cast<qint64>(i)) return false;
  return true;
}

}  // namespace

class TestCapture : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();
  void latestSlotNewestWins();
  void latestSlotCloseWakesTake();
  void latestSlotTakeTimesOut();
  void listsCamerasFromSysfs();
  void listsRealCamerasWithoutCrashing();
  void playsVideoAtItsFrameRate();
  void loopsAndStopsPromptly();
  void displaySlotNeverQueues();
  void reportsMissingFile();
  void reportsFileThatIsNotVideo();
  void reportsMissingCamera();
  void reportsUnpluggedCamera();
  void restartDropsSignalsOfPreviousCapture();
  void stopIsSafeAnyTime();

 private:
  QTemporaryDir dir_;
  QString clip_;
};

void TestCapture::initTestCase() {
  QVERIFY(dir_.isValid());
  clip_ = dir_.filePath("clip.mp4");
  cv::VideoWriter writer(clip_.toStdString(), cv::VideoWriter::fourcc('m', 'p', '4', 'v'), kFps,
                         cv::Size(kWidth, kHeight));
  QVERIFY2(writer.isOpened(), "OpenCV cannot write mp4v videos here");
  for (int i = 0; i < kFrames; ++i) {
    cv::Mat frame(kHeight, kWidth, CV_8UC3, cv::Scalar(20, 20, 20));
    cv::rectangle(frame, square_of(i), cv::Scalar(0, 0, 255), cv::FILLED);  // BGR: red
    writer.write(frame);
  }
  writer.release();
  QVERIFY(QFileInfo(clip_).size() > 0);
}

void TestCapture::latestSlotNewestWins() {
  LatestSlot<int> slot;
  QVERIFY(!slot.put(1));
  QVERIFY(slot.put(2));  // replaced 1, which nobody took
  QCOMPARE(slot.dropped(), 1u);
  QCOMPARE(slot.puts(), 2u);
  QVERIFY(slot.has_value());
  QCOMPARE(slot.take(0ms), std::optional<int>(2));
  QVERIFY(!slot.has_value());
  QCOMPARE(slot.try_take(), std::nullopt);
  slot.put(3);
  slot.clear();  // withdrawn, not dropped
  QCOMPARE(slot.dropped(), 1u);
  QCOMPARE(slot.try_take(), std::nullopt);
}

void TestCapture::latestSlotCloseWakesTake() {
  LatestSlot<int> slot;
  std::atomic<bool> returned{false};
  std::optional<int> got = 42;
  std::thread taker([&] {
    got = slot.take();  // no timeout: only close() can end it
    returned = true;
  });
  std::this_thread::sleep_for(100ms);
  QVERIFY(!returned.load());
  QElapsedTimer timer;
  timer.start();
  slot.close();
  taker.join();
  QVERIFY(timer.elapsed() < 1000);
  QCOMPARE(got, std::nullopt);
  slot.put(5);
  QCOMPARE(slot.take(), std::nullopt);  // closed for good
}

void TestCapture::latestSlotTakeTimesOut() {
  LatestSlot<int> slot;
  QElapsedTimer timer;
  timer.start();
  QCOMPARE(slot.take(50ms), std::nullopt);
  QVERIFY(timer.elapsed() >= 45);
}

void TestCapture::listsCamerasFromSysfs() {
  QTemporaryDir sysfs;
  QVERIFY(sysfs.isValid());
  write_file(sysfs.filePath("video0/name"), "Cam A\n");
  write_file(sysfs.filePath("video0/index"), "0\n");
  write_file(sysfs.filePath("video1/name"), "Cam A\n");
  write_file(sysfs.filePath("video1/index"), "1\n");  // Cam A's metadata node
  write_file(sysfs.filePath("video2/name"), "Cam B\n");
  write_file(sysfs.filePath("video2/index"), "0\n");
  write_file(sysfs.filePath("video10/name"), "Cam C\n");  // sorted by number, not by text
  write_file(sysfs.filePath("video10/index"), "0\n");
  write_file(sysfs.filePath("v4l-subdev0/name"), "not a camera\n");

  const auto cameras = list_cameras(sysfs.path().toStdString());
  QCOMPARE(cameras.size(), 3u);
  QCOMPARE(cameras[0].name, QString("Cam A"));
  QCOMPARE(cameras[0].device, QString("/dev/video0"));
  QCOMPARE(cameras[1].name, QString("Cam B"));
  QCOMPARE(cameras[1].device, QString("/dev/video2"));
  QCOMPARE(cameras[2].name, QString("Cam C"));
  QCOMPARE(cameras[2].device, QString("/dev/video10"));

  QVERIFY(list_cameras(sysfs.filePath("missing").toStdString()).empty());
}

void TestCapture::listsRealCamerasWithoutCrashing() {
  for (const CameraInfo& camera : list_cameras()) {
    QVERIFY(!camera.name.isEmpty());
    QVERIFY(camera.device.startsWith("/dev/video"));
  }
}

void TestCapture::playsVideoAtItsFrameRate() {
  CaptureSource source;
  Collector collector;
  source.setFrameSink(collector.sink());
  QSignalSpy opened(&source, &CaptureSource::opened);
  QSignalSpy finished(&source, &CaptureSource::finished);
  QSignalSpy failed(&source, &CaptureSource::failed);

  QElapsedTimer timer;
  timer.start();
  source.start({SourceSpec::Kind::VideoFile, clip_, {}, /*loop=*/false});
  QVERIFY(timer.elapsed() < 500);  // opening happens on the capture thread
  QVERIFY(source.running());
  QCOMPARE(source.spec().name, QString("clip.mp4"));
  QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 15000);
  const double seconds = timer.elapsed() / 1000.0;
  const double nominal = kFrames / kFps;
  qInfo("%lld frames in %.2f s (nominal %.2f s)", source.framesCaptured(), seconds, nominal);

  QCOMPARE(failed.count(), 0);
  QVERIFY(!source.running());
  QCOMPARE(source.fps(), 0.0);
  QCOMPARE(opened.count(), 1);
  const QString description = opened.at(0).at(0).toString();
  QVERIFY2(description.startsWith("clip.mp4: 160x120 at 30") && description.endsWith("fps"),
           qPrintable(description));

  const auto frames = collector.frames();
  QVERIFY2(std::abs(static_cast<int>(frames.size()) - kFrames) <= 1,
           qPrintable(QString::number(frames.size())));
  QCOMPARE(source.framesCaptured(), static_cast<qint64>(frames.size()));
  QVERIFY(consecutive_from_zero(frames));
  QVERIFY(seconds >= 0.6 * nominal);  // paced, not decoded as fast as possible
  QVERIFY(seconds <= 10 * nominal);
  const double span = ms_between(frames.front().captured, frames.back().captured) / 1000;
  QVERIFY(span >= 0.6 * (frames.size() - 1) / kFps);

  // What a frame looks like: an owning RGB888 image, red where the video had red (BGR -> RGB).
  const Frame& first = frames.front();
  QCOMPARE(first.source, QString("clip.mp4"));
  QVERIFY(first.live);
  QCOMPARE(first.image.format(), QImage::Format_RGB888);
  QCOMPARE(first.image.size(), QSize(kWidth, kHeight));
  const cv::Rect square = square_of(0);
  const QColor inside = first.image.pixelColor(square.x + 12, square.y + 12);
  QVERIFY2(inside.red() > 180 && inside.green() < 80 && inside.blue() < 80,
           qPrintable(inside.name()));
  const QColor outside = first.image.pixelColor(150, 10);
  QVERIFY(outside.red() < 60 && outside.green() < 60 && outside.blue() < 60);

  // Frames are deep copies: frame 0 still shows what it showed when it arrived.
  QCOMPARE(first.image, collector.first_snapshot());
  QVERIFY(first.image != frames[30].image);
  QVERIFY(first.image.constBits() != frames[30].image.constBits());
}

void TestCapture::loopsAndStopsPromptly() {
  CaptureSource source;
  Collector collector;
  source.setFrameSink(collector.sink());
  QSignalSpy finished(&source, &CaptureSource::finished);
  source.start({SourceSpec::Kind::VideoFile, clip_, "Loop", /*loop=*/true});
  QTRY_VERIFY_WITH_TIMEOUT(source.framesCaptured() > kFrames + 10, 10000);
  const double fps = source.fps();
  qInfo("fps while looping: %.1f", fps);
  QVERIFY2(fps > 10 && fps < 45, qPrintable(QString::number(fps)));
  QVERIFY(source.running());

  QElapsedTimer timer;
  timer.start();
  source.stop();
  const qint64 stop_ms = timer.elapsed();
  qInfo("stop() took %lld ms", stop_ms);
  QVERIFY(stop_ms < 1000);
  QVERIFY(!source.running());
  QCOMPARE(source.fps(), 0.0);
  QCOMPARE(finished.count(), 0);

  const qsizetype count = collector.count();
  QTest::qWait(100);
  QCOMPARE(collector.count(), count);  // nothing after stop()
  const auto frames = collector.frames();
  QVERIFY(consecutive_from_zero(frames));  // numbering goes on across the loop
  QCOMPARE(frames.back().source, QString("Loop"));
  source.stop();  // twice is fine
}

void TestCapture::displaySlotNeverQueues() {
  CaptureSource source;
  Collector collector;
  source.setFrameSink(collector.sink());
  int ready = 0;
  connect(&source, &CaptureSource::frameReady, this, [&] { ++ready; });  // never takes
  SourceSpec spec{SourceSpec::Kind::VideoFile, clip_, {}, /*loop=*/true};
  spec.fps = 60;
  source.start(spec);
  QTest::qWait(800);
  qInfo("%d frameReady for %lld frames, %llu dropped", ready, source.framesCaptured(),
        source.displayDropped());
  QVERIFY(source.framesCaptured() >= 15);
  QVERIFY(ready >= 1 && ready <= 2);
  QVERIFY(source.displayDropped() >= 10);

  // Taking re-arms frameReady.
  QVERIFY(source.takeDisplayFrame().has_value());
  QTRY_COMPARE_WITH_TIMEOUT(ready, 2, 2000);

  source.stop();
  const auto newest = source.takeDisplayFrame();  // the last frame outlives stop()
  QVERIFY(newest.has_value());
  QCOMPARE(newest->index, collector.last_index());
  QCOMPARE(newest->index, source.framesCaptured() - 1);
  QVERIFY(!source.takeDisplayFrame().has_value());
}

void TestCapture::reportsMissingFile() {
  CaptureSource source;
  QSignalSpy failed(&source, &CaptureSource::failed);
  QSignalSpy opened(&source, &CaptureSource::opened);
  const QString missing = dir_.filePath("no-such-clip.mp4");
  source.start({SourceSpec::Kind::VideoFile, missing});
  QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 5000);
  const QString message = failed.at(0).at(0).toString();
  QVERIFY2(message.contains(missing), qPrintable(message));
  QVERIFY(!source.running());
  QCOMPARE(opened.count(), 0);
  source.stop();
}

void TestCapture::reportsFileThatIsNotVideo() {
  QByteArray noise(64 * 1024, 0);
  QRandomGenerator random(7);
  for (char& byte : noise) byte = static_cast<char>(random.bounded(256));
  const QString path = dir_.filePath("x.mp4");
  write_file(path, noise);

  CaptureSource source;
  Collector collector;
  source.setFrameSink(collector.sink());
  QSignalSpy failed(&source, &CaptureSource::failed);
  source.start({SourceSpec::Kind::VideoFile, path});
  QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 10000);
  const QString message = failed.at(0).at(0).toString();
  QVERIFY2(message.contains(path), qPrintable(message));
  QVERIFY(!source.running());
  QCOMPARE(collector.count(), 0);
}

void TestCapture::reportsMissingCamera() {
  CaptureSource source;
  QSignalSpy failed(&source, &CaptureSource::failed);
  source.start({SourceSpec::Kind::Camera, "/dev/video99"});
  QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 5000);
  QString message = failed.at(0).at(0).toString();
  QVERIFY2(message.contains("/dev/video99") && message.contains("File > Camera"),
           qPrintable(message));
  QVERIFY(!source.running());

  source.start({SourceSpec::Kind::Camera, "99"});  // by index
  QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 2, 5000);
  message = failed.at(1).at(0).toString();
  QVERIFY2(message.contains("Camera 99"), qPrintable(message));
  QVERIFY(!source.running());
}

void TestCapture::reportsUnpluggedCamera() {
  CaptureSource source;
  Collector collector;
  source.setFrameSink(collector.sink());
  QSignalSpy failed(&source, &CaptureSource::failed);
  QSignalSpy opened(&source, &CaptureSource::opened);
  QSignalSpy finished(&source, &CaptureSource::finished);
  SourceSpec spec{SourceSpec::Kind::Camera, clip_, "Test Cam", /*loop=*/true};
  spec.fps = 120;  // a quicker unplug
  source.start(spec);
  QTRY_VERIFY_WITH_TIMEOUT(collector.count() > 0, 5000);
  QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 10000);
  const QString message = failed.at(0).at(0).toString();
  QVERIFY2(message.contains("Test Cam") && message.contains("stopped delivering frames"),
           qPrintable(message));
  QCOMPARE(opened.count(), 1);
  QCOMPARE(finished.count(), 0);
  QVERIFY(!source.running());
  QVERIFY(std::abs(collector.count() - kFrames) <= 1);  // played once: a camera does not loop
  QCOMPARE(collector.frames().back().source, QString("Test Cam"));
  source.stop();
}

void TestCapture::restartDropsSignalsOfPreviousCapture() {
  CaptureSource source;
  QSignalSpy ready(&source, &CaptureSource::frameReady);
  QSignalSpy failed(&source, &CaptureSource::failed);
  source.start({SourceSpec::Kind::VideoFile, clip_});
  QTRY_VERIFY_WITH_TIMEOUT(source.framesCaptured() >= 3, 5000);
  std::this_thread::sleep_for(100ms);  // let it post signals this thread has not delivered yet

  source.start({SourceSpec::Kind::VideoFile, dir_.filePath("missing.mp4")});
  const auto ready_before = ready.count();
  QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 5000);
  QTest::qWait(100);
  QCOMPARE(ready.count(), ready_before);  // the first video's pending frameReady was dropped
  QCOMPARE(source.framesCaptured(), 0);
  QVERIFY(!source.takeDisplayFrame().has_value());
}

void TestCapture::stopIsSafeAnyTime() {
  {
    CaptureSource idle;
    idle.stop();
    idle.stop();
    QVERIFY(!idle.running());
    QCOMPARE(idle.framesCaptured(), 0);
  }
  auto* source = new CaptureSource;
  source->start({SourceSpec::Kind::VideoFile, clip_});
  QTRY_VERIFY_WITH_TIMEOUT(source->framesCaptured() > 0, 5000);
  QElapsedTimer timer;
  timer.start();
  delete source;  // stops and joins while the capture thread waits for the next frame
  QVERIFY(timer.elapsed() < 1000);
}

QTEST_MAIN(TestCapture)
#include "test_capture.moc"
