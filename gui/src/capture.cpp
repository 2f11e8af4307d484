// SPDX-License-Identifier: MIT
#include "capture.hpp"

#include <QFile>
#include <QFileInfo>
#include <QMetaObject>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <string>
#include <utility>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

namespace overfeat::studio {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// V4L2 occasionally fails a single read (a dropped USB transfer); only a camera that stays silent
// this long is treated as unplugged.
constexpr int kCameraRetries = 4;
constexpr auto kCameraRetryWait = 120ms;
constexpr double kDefaultFps = 30;

QString read_first_line(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  if (!in || !std::getline(in, line)) return {};
  return QString::fromStdString(line).trimmed();
}

bool all_digits(const std::string& text) {
  return !text.empty() && text.size() < 10 &&
         std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
}

bool is_index(const QString& location) {
  return all_digits(location.toStdString());
}

// A camera location that names a real device, as opposed to a file standing in for a camera.
bool is_device(const SourceSpec& spec) {
  return spec.kind == SourceSpec::Kind::Camera &&
         (is_index(spec.location) || spec.location.startsWith(QLatin1String("/dev/")));
}

std::optional<double> usable_fps(double fps) {
  if (std::isfinite(fps) && fps > 0 && fps < 1000) return fps;
  return std::nullopt;
}

std::string encoded_path(const QString& path) {
  return QFile::encodeName(path).toStdString();
}

bool open_video(const QString& path, cv::VideoCapture& capture) {
  const std::string file = encoded_path(path);
  // FFmpeg first: it is what decodes real videos; CAP_ANY only as a last resort because it also
  // probes backends (GStreamer, image sequences) that are slower to give up.
  return capture.open(file, cv::CAP_FFMPEG) || capture.open(file, cv::CAP_ANY);
}

QString camera_label(const SourceSpec& spec) {
  return spec.name.isEmpty() || spec.name == spec.location
             ? spec.location
             : QStringLiteral("%1 (%2)").arg(spec.name, spec.location);
}

QString what_to_do_with_camera() {
  return QStringLiteral("Choose another camera in File > Camera, or open a video file.");
}

/// Opens the source; on failure, `message` says why and what to do.
bool open_source(const SourceSpec& spec, cv::VideoCapture& capture, QString* message) {
  if (spec.kind == SourceSpec::Kind::Camera) {
    bool ok = false;
    if (is_index(spec.location))
      ok = capture.open(spec.location.toInt(), cv::CAP_ANY);
    else if (spec.location.startsWith(QLatin1String("/dev/")))
      ok = capture.open(encoded_path(spec.location), cv::CAP_V4L2);
    else if (!spec.location.isEmpty())
      ok = open_video(spec.location, capture);
    if (!ok)
      *message = QStringLiteral(
                     "Cannot open the camera %1: it is missing or in use by another "
                     "program. %2")
                     .arg(camera_label(spec), what_to_do_with_camera());
    return ok;
  }
  const QString what_to_do =
      QStringLiteral("Open another video file, or choose a camera in File > Camera.");
  const QFileInfo info(spec.location);
  if (spec.location.isEmpty() || !info.exists()) {
    *message = QStringLiteral("Cannot open the video file %1: the file does not exist. %2")
                   .arg(spec.location, what_to_do);
    return false;
  }
  if (!info.isFile() || !info.isReadable()) {
    *message = QStringLiteral("Cannot open the video file %1: it is not a readable file. %2")
                   .arg(spec.location, what_to_do);
    return false;
  }
  if (!open_video(spec.location, capture)) {
    *message = QStringLiteral(
                   "Cannot open the video file %1: it is not a video that FFmpeg can "
                   "decode. %2")
                   .arg(spec.location, what_to_do);
    return false;
  }
  return true;
}

QString cannot_decode(const SourceSpec& spec) {
  return QStringLiteral(
             "Cannot decode the video file %1: it is damaged or in a format FFmpeg "
             "cannot read. Open another video file, or choose a camera in "
             "File > Camera.")
      .arg(spec.location);
}

QString camera_silent(const SourceSpec& spec, bool ever_delivered) {
  if (!ever_delivered)
    return QStringLiteral(
               "The camera %1 opened but delivers no frames: it may be in use by "
               "another program or failed. %2")
        .arg(camera_label(spec), what_to_do_with_camera());
  return QStringLiteral(
             "The camera %1 stopped delivering frames: it was unplugged or failed. "
             "Plug it back in and choose it again in File > Camera, or open a "
             "video file.")
      .arg(camera_label(spec));
}

/// The rate a source is paced at, or 0 for a real camera: it paces itself (read() blocks until
/// the next frame), and waiting on top of that would only let frames pile up in the driver.
double pacing_rate(const SourceSpec& spec, double reported_fps) {
  if (is_device(spec)) return 0;
  return spec.fps > 0 ? spec.fps : usable_fps(reported_fps).value_or(kDefaultFps);
}

/// Back to the first frame of a video file, read into `frame`.
bool rewind(const QString& path, cv::VideoCapture& capture, cv::Mat& frame) {
  // Seeking is cheap but some containers refuse it; reopening always works.
  if (capture.set(cv::CAP_PROP_POS_FRAMES, 0) && capture.read(frame) && !frame.empty()) return true;
  capture.release();
  return open_video(path, capture) && capture.read(frame) && !frame.empty();
}

/// Any 8- or 16-bit gray, BGR or BGRA picture as an RGB888 QImage owning its pixels: cvtColor
/// writes straight into the QImage's buffer, so nothing refers to OpenCV's reused frame buffer.
QImage to_rgb_image(const cv::Mat& input) {
  if (input.empty()) return {};
  cv::Mat source = input;  // shares the pixels; replaced below only if they need converting
  if (input.depth() != CV_8U)
    input.convertTo(source, CV_8U, input.depth() == CV_16U ? 1.0 / 256 : 1);
  int code = 0;
  switch (source.channels()) {
    case 1:
      code = cv::COLOR_GRAY2RGB;
      break;
    case 3:
      code = cv::COLOR_BGR2RGB;
      break;
    case 4:
      code = cv::COLOR_BGRA2RGB;
      break;
    default:
      return {};
  }
  QImage image(source.cols, source.rows, QImage::Format_RGB888);
  if (image.isNull()) return {};
  cv::Mat target(source.rows, source.cols, CV_8UC3, image.bits(),
                 static_cast<size_t>(image.bytesPerLine()));
  cv::cvtColor(source, target, code);
  return image;
}

}  // namespace

std::vector<CameraInfo> list_cameras() {
  return list_cameras("/sys/class/video4linux");
}

std::vector<CameraInfo> list_cameras(const std::filesystem::path& sysfs_root) {
  std::vector<std::pair<long, CameraInfo>> found;
  std::error_code error;
  for (fs::directory_iterator it(sysfs_root, error), end; !error && it != end;
       it.increment(error)) {
    const std::string entry = it->path().filename().string();
    if (entry.rfind("video", 0) != 0 || !all_digits(entry.substr(5))) continue;
    // A UVC camera has a capture node (index 0) and a metadata node (index 1) and more; listing
    // only index 0 keeps one entry per camera. Old kernels have no index file: all are capture.
    const QString index = read_first_line(it->path() / "index");
    if (!index.isEmpty() && index != QLatin1String("0")) continue;
    const long number = std::stol(entry.substr(5));
    const QString device = QStringLiteral("/dev/video%1").arg(number);
    QString name = read_first_line(it->path() / "name");
    if (name.isEmpty()) name = device;
    found.push_back({number, CameraInfo{name, device}});
  }
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<CameraInfo> cameras;
  cameras.reserve(found.size());
  for (auto& [number, camera] : found) cameras.push_back(std::move(camera));
  return cameras;
}

QString source_name(const SourceSpec& spec) {
  if (!spec.name.isEmpty()) return spec.name;
  if (spec.kind == SourceSpec::Kind::Camera) {
    if (is_index(spec.location)) return QStringLiteral("Camera %1").arg(spec.location);
    if (spec.location.startsWith(QLatin1String("/dev/"))) {
      for (const CameraInfo& camera : list_cameras())
        if (camera.device == spec.location) return camera.name;
      return spec.location;
    }
  }
  const QString file = QFileInfo(spec.location).fileName();
  return file.isEmpty() ? spec.location : file;
}

CaptureSource::CaptureSource(QObject* parent) : QObject(parent) {}

CaptureSource::~CaptureSource() {
  stop();
}

void CaptureSource::start(const SourceSpec& spec) {
  stop();
  SourceSpec named = spec;
  named.name = source_name(spec);
  {
    std::lock_guard lock(mutex_);
    spec_ = named;
    stopping_ = false;
    paused_ = false;
    steps_ = 0;
    seek_ = -1;
  }
  position_ = 0;
  frame_count_ = 0;
  // A frame left from the previous capture would keep the slot full, and a full slot means no
  // frameReady() for the new one.
  display_.clear();
  display_dropped_base_ = display_.dropped();
  frames_ = 0;
  {
    std::lock_guard lock(fps_mutex_);
    recent_.clear();
  }
  running_ = true;
  const quint64 generation = generation_.load();
  thread_ = std::thread([this, named, generation] { run(named, generation); });
}

void CaptureSource::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Signals the old capture posted but that were not delivered yet now carry a stale generation
  // and are dropped: after stop() the UI hears nothing more from it.
  ++generation_;
  running_ = false;
  std::lock_guard lock(fps_mutex_);
  recent_.clear();
}

void CaptureSource::setFrameSink(std::function<void(const Frame&)> sink) {
  std::lock_guard lock(sink_mutex_);
  sink_ = std::move(sink);
}

std::optional<Frame> CaptureSource::takeDisplayFrame() {
  return display_.try_take();
}

double CaptureSource::fps() const {
  if (!running()) return 0;
  const auto now = Clock::now();
  std::lock_guard lock(fps_mutex_);
  const auto first = std::find_if(recent_.begin(), recent_.end(),
                                  [&](Clock::time_point t) { return now - t <= 1s; });
  const auto count = std::distance(first, recent_.end());
  if (count < 2) return 0;
  const double span = std::chrono::duration<double>(recent_.back() - *first).count();
  return span > 0 ? static_cast<double>(count - 1) / span : 0;
}

qint64 CaptureSource::framesCaptured() const {
  return frames_.load();
}

quint64 CaptureSource::displayDropped() const {
  return display_.dropped() - display_dropped_base_.load();
}

SourceSpec CaptureSource::spec() const {
  std::lock_guard lock(mutex_);
  return spec_;
}

bool CaptureSource::stopRequested() const {
  std::lock_guard lock(mutex_);
  return stopping_;
}

void CaptureSource::setPaused(bool paused) {
  {
    std::lock_guard lock(mutex_);
    paused_ = paused;
  }
  wake_.notify_all();
}

bool CaptureSource::paused() const {
  std::lock_guard lock(mutex_);
  return paused_;
}

void CaptureSource::stepFrame() {
  {
    std::lock_guard lock(mutex_);
    ++steps_;
  }
  wake_.notify_all();
}

void CaptureSource::seekFrame(qint64 frame) {
  {
    std::lock_guard lock(mutex_);
    seek_ = std::max<qint64>(0, frame);
  }
  wake_.notify_all();
}

bool CaptureSource::waitForPlay(qint64* seek) {
  std::unique_lock lock(mutex_);
  wake_.wait(lock, [&] { return stopping_ || !paused_ || steps_ > 0 || seek_ >= 0; });
  *seek = seek_;
  seek_ = -1;
  if (paused_ && steps_ > 0 && *seek < 0) --steps_;
  return !stopping_;
}

bool CaptureSource::waitUntil(Clock::time_point when) {
  std::unique_lock lock(mutex_);
  wake_.wait_until(lock, when, [&] { return stopping_; });
  return !stopping_;
}

void CaptureSource::post(quint64 generation, std::function<void()> emitter) {
  // Queued to this object's thread. A pending call dies with the object (~QObject removes its
  // posted events), and the destructor joins the capture thread first, so `this` stays valid.
  QMetaObject::invokeMethod(
      this,
      [this, generation, emitter = std::move(emitter)] {
        if (generation == generation_.load()) emitter();
      },
      Qt::QueuedConnection);
}

void CaptureSource::deliver(Frame frame, quint64 generation) {
  ++frames_;
  {
    std::lock_guard lock(fps_mutex_);
    recent_.push_back(frame.captured);
    while (frame.captured - recent_.front() > 1s) recent_.pop_front();
  }
  {
    std::lock_guard lock(sink_mutex_);
    if (sink_) sink_(frame);
  }
  if (!display_.put(std::move(frame))) post(generation, [this] { emit frameReady(); });
}

void CaptureSource::run(SourceSpec spec, quint64 generation) {
  QString message;
  const Outcome outcome = capture(spec, generation, &message);
  if (outcome == Outcome::Stopped) return;  // stop() owns the state from here
  running_ = false;
  if (outcome == Outcome::Failed)
    post(generation, [this, message] { emit failed(message); });
  else
    post(generation, [this] { emit finished(); });
}

CaptureSource::Outcome CaptureSource::capture(const SourceSpec& spec, quint64 generation,
                                              QString* message) {
  const bool camera = spec.kind == SourceSpec::Kind::Camera;
  cv::VideoCapture capture;
  if (!open_source(spec, capture, message)) return Outcome::Failed;
  if (stopRequested()) return Outcome::Stopped;

  const double reported_fps = capture.get(cv::CAP_PROP_FPS);
  const double rate = pacing_rate(spec, reported_fps);
  const auto period =
      rate > 0
          ? std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / rate))
          : Clock::duration::zero();

  if (!camera) frame_count_ = std::max<qint64>(0, capture.get(cv::CAP_PROP_FRAME_COUNT));
  cv::Mat bgr;
  qint64 index = 0;
  qint64 since_rewind = 0;  // frames decoded since the file was (re)started
  Clock::time_point due;
  while (!stopRequested()) {
    const bool was_paused = paused();
    qint64 seek = -1;
    if (!waitForPlay(&seek)) return Outcome::Stopped;
    if (seek >= 0 && !camera) {
      const qint64 count = frame_count_.load();
      capture.set(cv::CAP_PROP_POS_FRAMES,
                  static_cast<double>(count > 0 ? std::min(seek, count - 1) : seek));
    }
    // After a pause or a jump, the file's pace starts again from now, without a burst.
    if ((was_paused || seek >= 0) && index > 0) due = Clock::now();
    bool got = capture.read(bgr) && !bgr.empty();
    if (!got && stopRequested()) return Outcome::Stopped;
    if (!got && camera) {
      for (int retry = 0; !got && retry < kCameraRetries; ++retry) {
        if (!waitUntil(Clock::now() + kCameraRetryWait)) return Outcome::Stopped;
        got = capture.read(bgr) && !bgr.empty();
      }
      if (!got) {
        *message = camera_silent(spec, index > 0);
        return Outcome::Failed;
      }
    } else if (!got) {
      // The end of the file, or a file that never decoded.
      if (since_rewind == 0) {
        *message = cannot_decode(spec);
        return Outcome::Failed;
      }
      if (!spec.loop) return Outcome::Finished;
      since_rewind = 0;
      if (!rewind(spec.location, capture, bgr)) {
        *message = cannot_decode(spec);
        return Outcome::Failed;
      }
    }
    ++since_rewind;

    Frame frame;
    frame.image = to_rgb_image(bgr);
    if (frame.image.isNull()) {
      *message = QStringLiteral(
                     "Cannot show the frames of %1: %2-channel pictures are not "
                     "supported.")
                     .arg(spec.name)
                     .arg(bgr.channels());
      return Outcome::Failed;
    }
    if (index == 0) {
      QString description = QStringLiteral("%1: %2x%3").arg(spec.name).arg(bgr.cols).arg(bgr.rows);
      if (const double shown = rate > 0 ? rate : usable_fps(reported_fps).value_or(0); shown > 0)
        description += QStringLiteral(" at %1 fps").arg(shown, 0, 'g', 4);
      post(generation, [this, description] { emit opened(description); });
      due = Clock::now();
    } else if (rate > 0 && !waitUntil(due)) {
      return Outcome::Stopped;
    }
    if (!camera) position_ = std::max<qint64>(0, capture.get(cv::CAP_PROP_POS_FRAMES) - 1);
    frame.index = index++;
    frame.captured = Clock::now();
    frame.source = spec.name;
    frame.live = true;
    deliver(std::move(frame), generation);
    if (rate > 0) {
      // A late frame moves the schedule instead of being made up for by a burst of frames.
      due += period;
      due = std::max(due, Clock::now());
    }
  }
  return Outcome::Stopped;
}

}  // namespace overfeat::studio
