// SPDX-License-Identifier: MIT
// Live pictures for the app: a camera, or a video file played in real time as a stand-in for one.
// Capture runs on its own thread with OpenCV's cv::VideoCapture, so opening a slow device or
// decoding never stalls the UI. Frames leave through two newest-wins doors: a sink called on the
// capture thread (the network's LatestSlot) and a one-frame display slot the UI empties when it
// hears frameReady(). Neither can queue, so a slow network or a busy UI drops stale frames
// instead of falling behind the camera.
#pragma once
#include <QMetaType>
#include <QObject>
#include <QString>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "frame.hpp"
#include "latest_slot.hpp"

namespace overfeat::studio {

/// A camera the system offers.
struct CameraInfo {
  QString name;    ///< e.g. "Integrated Camera"
  QString device;  ///< e.g. "/dev/video0"
};

/// The cameras found: Linux /sys/class/video4linux/videoN (name from its `name` file; only
/// capture nodes: nodes whose `index` file is not 0 are skipped, so one camera = one entry),
/// device "/dev/videoN". Empty when none. Sorted by N.
std::vector<CameraInfo> list_cameras();
/// Same, reading from a sysfs-like root (for tests): root/videoN/name, root/videoN/index;
/// device paths are still "/dev/videoN".
std::vector<CameraInfo> list_cameras(const std::filesystem::path& sysfs_root);

/// What to capture from.
struct SourceSpec {
  enum class Kind { Camera, VideoFile } kind = Kind::VideoFile;
  QString location;  ///< camera: "/dev/videoN" or an index "0"; video: a file path
  QString name;      ///< shown to the user; empty: derived from location
  bool loop = true;  ///< video files: start again at the end (a stand-in for a camera)
  /// Video files (and a file standing in for a camera): playback rate; 0 = the file's own rate
  /// (30 if unknown). Real cameras deliver at their own rate.
  double fps = 0;
};

/// The name a source is shown under: spec.name, else the camera's name from sysfs, "Camera N"
/// for an index, or the file's name.
QString source_name(const SourceSpec& spec);

/// Captures frames on its own thread with cv::VideoCapture; start() returns at once (opening
/// happens on the capture thread). Video files are paced to their frame rate like a camera (each
/// frame waits for its due time; a late frame resets the schedule rather than causing a burst).
/// A Camera whose location is neither an index nor under /dev (a video file) is paced the same
/// way and its end is reported as an unplugged camera, which is how tests simulate unplugging.
/// Each frame is converted to a deep-copied Format_RGB888 QImage and wrapped in a Frame
/// {image, index 0,1,2,... (increasing across loops), captured = Clock::now(), source = name,
/// live = true}.
///
/// Signals are delivered on the thread this object lives in (queued from the capture thread), so
/// receivers and QSignalSpy need no locking; once stop() or start() returns, no signal of the
/// previous capture is delivered any more. Call the methods from that thread too, except the
/// read-only counters, which any thread may call.
class CaptureSource : public QObject {
  Q_OBJECT
 public:
  explicit CaptureSource(QObject* parent = nullptr);
  ~CaptureSource() override;  ///< stops and joins

  /// Starts capturing from `spec` (stopping a previous capture first); returns at once.
  void start(const SourceSpec& spec);
  /// Stops and joins the capture thread. Safe to call twice or when not running. The last frame
  /// stays in the display slot until the next start().
  void stop();
  /// True from start() until stop(), failed() or finished().
  bool running() const { return running_.load(); }

  /// Called on the capture thread for every frame (the app hands frames to the network here:
  /// LatestSlot::put); it must not block for long, nor call back into this object. May be
  /// changed any time: once setFrameSink() returns, the previous sink is never called again.
  void setFrameSink(std::function<void(const Frame&)> sink);
  /// The newest frame for display, if one is waiting. The UI takes it when it gets frameReady();
  /// frames it did not take in time are replaced (newest wins) and counted in displayDropped().
  /// frameReady() is emitted only when the display slot was empty before the put, so the UI
  /// event queue never fills up (and a UI that does not take stops hearing frameReady()).
  std::optional<Frame> takeDisplayFrame();

  /// Video controls (video files; a camera ignores seeking). Paused, no frame is read until
  /// setPaused(false) or stepFrame(); playback resumes at the file's pace from where it stopped.
  void setPaused(bool paused);
  bool paused() const;
  /// While paused: reads and delivers exactly one more frame.
  void stepFrame();
  /// Jumps to frame `frame` of the file (0-based, clamped to it): the next frame delivered is
  /// that one, also while paused.
  void seekFrame(qint64 frame);
  /// The frame number of the file the last delivered frame was (0-based), and how many frames
  /// the file has (0 when unknown, e.g. a camera).
  qint64 position() const { return position_.load(); }
  qint64 frameCount() const { return frame_count_.load(); }

  double fps() const;              ///< frames per second over the last ~1 s (0 when stopped)
  qint64 framesCaptured() const;   ///< frames delivered since the last start()
  quint64 displayDropped() const;  ///< frames the display never took, since the last start()
  SourceSpec spec() const;         ///< the current (or last) source, its name filled in

 signals:
  /// The source opened and gave its first frame, e.g. "clip.mp4: 320x240 at 30 fps".
  void opened(const QString& description);
  /// A frame is waiting in the display slot: takeDisplayFrame().
  void frameReady();
  /// Could not open the source, a camera stopped delivering frames mid-stream (unplugged), or a
  /// video cannot be decoded. The message names the source and what to do. The capture is over
  /// (running() is false); stop() still joins the thread.
  void failed(const QString& message);
  /// A video file reached its end (loop == false): not an error.
  void finished();

 private:
  enum class Outcome { Stopped, Finished, Failed };
  void run(SourceSpec spec, quint64 generation);
  Outcome capture(const SourceSpec& spec, quint64 generation, QString* message);
  /// Sleeps until `when` or until stop is requested; false when stopping.
  bool waitUntil(Clock::time_point when);
  bool stopRequested() const;
  void deliver(Frame frame, quint64 generation);
  /// Emits (through `emitter`) on this object's thread, unless the capture has been replaced.
  void post(quint64 generation, std::function<void()> emitter);

  /// Waits while paused with nothing to do; returns false when stopping. Takes a pending step
  /// or seek (seek: the frame to go to, or -1).
  bool waitForPlay(qint64* seek);

  mutable std::mutex mutex_;  // guards stopping_, spec_ and the video controls
  std::condition_variable wake_;
  bool stopping_ = false;
  bool paused_ = false;
  int steps_ = 0;
  qint64 seek_ = -1;
  std::atomic<qint64> position_{0};
  std::atomic<qint64> frame_count_{0};
  SourceSpec spec_;

  std::mutex sink_mutex_;  // held while the sink runs, so replacing it waits for the call
  std::function<void(const Frame&)> sink_;

  LatestSlot<Frame> display_;
  std::atomic<quint64> display_dropped_base_{0};
  std::atomic<bool> running_{false};
  std::atomic<qint64> frames_{0};
  std::atomic<quint64> generation_{0};

  mutable std::mutex fps_mutex_;
  std::deque<Clock::time_point> recent_;  // delivery times of the last second's frames

  std::thread thread_;
};

}  // namespace overfeat::studio

Q_DECLARE_METATYPE(overfeat::studio::CameraInfo)
Q_DECLARE_METATYPE(overfeat::studio::SourceSpec)
