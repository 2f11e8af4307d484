// SPDX-License-Identifier: MIT
#include "main_window.hpp"

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QCheckBox>
#include <QClipboard>
#include <QCloseEvent>
#include <QComboBox>
#include <QDir>
#include <QDockWidget>
#include <QDoubleSpinBox>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMenuBar>
#include <QMimeData>
#include <QPainter>
#include <QProgressBar>
#include <QSaveFile>
#include <QSettings>
#include <QSlider>
#include <QSpinBox>
#include <QSplitter>
#include <QStackedWidget>
#include <QStatusBar>
#include <QStyle>
#include <QThreadPool>
#include <QTimer>
#include <QToolBar>
#include <QToolButton>
#include <QTreeWidget>
#include <QVBoxLayout>
#include <algorithm>
#include <climits>

#include "classify_panel.hpp"
#include "heatmap_inspector.hpp"
#include "image_canvas.hpp"
#include "layer_view.hpp"
#include "overfeat/image.hpp"
#include "overfeat/oneshot.hpp"
#include "overfeat/report.hpp"
#include "overfeat/weights.hpp"
#include "teach_panel.hpp"
#include "weights_dialog.hpp"

namespace overfeat::studio {
namespace {

/// The status bar's model text, short enough to be read whole: the model's name and classes,
/// the device's name (the summary and the full device line are in the tooltip). It was cut off.
QString statusText(const ModelInfo& info) {
  const QString model = info.summary.section(',', 0, 0);
  const QString device = info.device.section(" (", 0, 0);
  return model + QStringLiteral(" - ") + device;
}

const QStringList kImageSuffixes = {"jpg", "jpeg", "png",  "bmp",  "ppm", "pgm",
                                    "pnm", "tif",  "tiff", "webp", "jp2", "gif"};
const QStringList kVideoSuffixes = {"mp4", "avi", "mkv",  "mov", "webm",
                                    "m4v", "mpg", "mpeg", "ogv", "wmv"};

bool has_suffix(const QString& path, const QStringList& suffixes) {
  return suffixes.contains(QFileInfo(path).suffix().toLower());
}

QString describe_options(const DetectOptions& o, const DenseResult& dense) {
  int scales = 0;
  for (const ScaleMap& m : dense.maps)
    if (!m.flipped) ++scales;
  return (scales == 1 ? QObject::tr("1 scale") : QObject::tr("%1 scales").arg(scales)) +
         (o.dense.fine ? QObject::tr(", fine stride") : QObject::tr(", coarse stride")) +
         (o.dense.flip ? QObject::tr(", mirrored too") : QString());
}

}  // namespace

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent),
      qsettings_(std::make_unique<QSettings>()),
      worker_(std::make_unique<InferenceWorker>()),
      capture_(std::make_unique<CaptureSource>()) {
  setWindowTitle(tr("OverFeat Studio"));
  setAcceptDrops(true);
  settings_ = StudioSettings::load(*qsettings_);

  // Central area: the error banner above the pages.
  auto* central = new QWidget(this);
  auto* column = new QVBoxLayout(central);
  column->setContentsMargins(0, 0, 0, 0);
  column->setSpacing(0);
  banner_ = new QWidget(central);
  banner_->setObjectName("errorBanner");
  banner_->setStyleSheet(
      "#errorBanner { background: #5c1f1f; } #errorBanner QLabel { color: #ffe0e0; }");
  auto* banner_row = new QHBoxLayout(banner_);
  banner_text_ = new QLabel(banner_);
  banner_text_->setWordWrap(true);
  banner_text_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  auto* dismiss = new QToolButton(banner_);
  dismiss->setText(tr("Dismiss"));
  connect(dismiss, &QToolButton::clicked, this, &MainWindow::clearError);
  banner_row->addWidget(banner_text_, 1);
  banner_row->addWidget(dismiss, 0, Qt::AlignTop);
  banner_->hide();
  column->addWidget(banner_);

  pages_ = new QStackedWidget(central);
  auto* image_page = new QWidget(pages_);
  auto* image_column = new QVBoxLayout(image_page);
  image_column->setContentsMargins(0, 0, 0, 0);
  canvas_ = new ImageCanvas(image_page);
  classify_ = new ClassifyPanel(image_page);
  image_column->addWidget(canvas_, 1);
  image_column->addWidget(classify_, 0);
  inspector_ = new HeatmapInspector(pages_);
  pages_->addWidget(image_page);
  pages_->addWidget(inspector_);
  column->addWidget(pages_, 1);
  setCentralWidget(central);

  image_dock_ = new QDockWidget(tr("Images"), this);
  image_dock_->setObjectName("imagesDock");
  image_list_ = new QListWidget(image_dock_);
  image_dock_->setWidget(image_list_);
  addDockWidget(Qt::LeftDockWidgetArea, image_dock_);
  image_dock_->hide();
  connect(image_list_, &QListWidget::currentRowChanged, this, &MainWindow::showImage);

  createActions();
  createMenus();
  createSettingsDock();
  createTeachDock();
  createTimingDock();
  createLayerDock();
  createStatusBar();

  connect(worker_.get(), &InferenceWorker::resultReady, this, &MainWindow::displayResult);
  connect(worker_.get(), &InferenceWorker::modelReady, this, &MainWindow::displayModelReady);
  connect(worker_.get(), &InferenceWorker::modelFailed, this, &MainWindow::displayModelFailed);
  connect(worker_.get(), &InferenceWorker::modelLoading, this, &MainWindow::displayModelLoading);
  connect(worker_.get(), &InferenceWorker::analysisFailed, this, &MainWindow::displayAnalysisError);
  connect(worker_.get(), &InferenceWorker::devicesFound, this, &MainWindow::updateDevices);
  connect(worker_.get(), &InferenceWorker::storeChanged, this, &MainWindow::displayStore);
  connect(worker_.get(), &InferenceWorker::taught, this, &MainWindow::displayTaught);
  connect(worker_.get(), &InferenceWorker::storeFailed, this, [this](const QString& message) {
    teach_->setStatus(tr("Failed: see the message above."));
    showError(message);
  });
  connect(capture_.get(), &CaptureSource::frameReady, this, &MainWindow::displayLiveFrame);
  connect(capture_.get(), &CaptureSource::failed, this, &MainWindow::displayCaptureError);
  connect(capture_.get(), &CaptureSource::opened, this,
          [this](const QString& d) { statusBar()->showMessage(d, 5000); });
  connect(capture_.get(), &CaptureSource::finished, this, [this] { stopSource(); });
  connect(inspector_, &HeatmapInspector::fineStrideToggled, this, [this](bool fine) {
    StudioSettings s = settings_;
    s.fine = fine;
    setAnalysisSettings(s);
  });
  // The capture thread hands every frame to the network; the newest replaces a waiting one.
  capture_->setFrameSink([this](const Frame& frame) {
    Job job;
    {
      std::lock_guard lock(live_mutex_);
      if (!live_request_.enabled) return;
      job.mode = live_request_.mode;
      job.options = live_request_.options;
      job.target_fps = live_request_.target_fps;
      job.layer = live_request_.layer;
      job.taught = live_request_.taught;
    }
    job.frame = frame;
    worker_->submit(std::move(job));
  });

  auto* timer = new QTimer(this);
  connect(timer, &QTimer::timeout, this, &MainWindow::updateStats);
  timer->start(500);

  if (!settings_.geometry.isEmpty()) restoreGeometry(settings_.geometry);
  if (!settings_.window_state.isEmpty()) restoreState(settings_.window_state);
  image_dock_->hide();
  syncSettingsWidgets();
  setMode(settings_.mode);
  loadModel(settings_.model);
}

MainWindow::~MainWindow() {
  capture_->stop();  // no more frames into the worker
  {
    std::lock_guard lock(live_mutex_);
    live_request_.enabled = false;
  }
  worker_.reset();  // joins the network thread before the widgets go
}

// ---------------------------------------------------------------------------------------------
// Building the window

void MainWindow::createActions() {
  mode_group_ = new QActionGroup(this);
  const QString names[kModeCount] = {tr("&Classify"), tr("&Detect"), tr("&Heat maps"),
                                     tr("&Recognize")};
  const QString tips[kModeCount] = {
      tr("Top-5 classes with confidence bars"), tr("Regressed boxes merged by voting"),
      tr("Per-scale score maps of a class; hover a cell to see its window"),
      tr("The classes you taught (Teach panel): the answer, and where each one matches")};
  for (int i = 0; i < kModeCount; ++i) {
    mode_actions_[i] = new QAction(names[i], this);
    mode_actions_[i]->setCheckable(true);
    mode_actions_[i]->setShortcut(QKeySequence(Qt::CTRL | (Qt::Key_1 + i)));
    mode_actions_[i]->setToolTip(tips[i]);
    mode_group_->addAction(mode_actions_[i]);
    connect(mode_actions_[i], &QAction::triggered, this, [this, i] { setMode(Mode(i)); });
  }
  stop_action_ = new QAction(style()->standardIcon(QStyle::SP_MediaStop), tr("&Stop"), this);
  stop_action_->setEnabled(false);
  connect(stop_action_, &QAction::triggered, this, &MainWindow::stopSource);
  pause_action_ =
      new QAction(style()->standardIcon(QStyle::SP_MediaPause), tr("&Pause video"), this);
  pause_action_->setCheckable(true);
  pause_action_->setShortcut(QKeySequence(Qt::Key_Space));
  pause_action_->setToolTip(tr("Pause or play the video file (Space)"));
  connect(pause_action_, &QAction::toggled, this, [this](bool paused) {
    capture_->setPaused(paused);
    pause_action_->setIcon(
        style()->standardIcon(paused ? QStyle::SP_MediaPlay : QStyle::SP_MediaPause));
    pause_action_->setText(paused ? tr("&Play video") : tr("&Pause video"));
    updateVideoControls();
  });
  step_action_ =
      new QAction(style()->standardIcon(QStyle::SP_MediaSkipForward), tr("Next &frame"), this);
  step_action_->setShortcut(QKeySequence(Qt::Key_Period));
  step_action_->setToolTip(tr("While paused: the next frame (.)"));
  connect(step_action_, &QAction::triggered, this, [this] { capture_->stepFrame(); });
  save_image_action_ = new QAction(tr("Save annotated &image..."), this);
  save_image_action_->setShortcut(QKeySequence::Save);
  connect(save_image_action_, &QAction::triggered, this, &MainWindow::saveImageDialog);
  save_json_action_ = new QAction(tr("Save &detections (JSON)..."), this);
  save_json_action_->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_S));
  connect(save_json_action_, &QAction::triggered, this, &MainWindow::saveDetectionsDialog);
  copy_action_ = new QAction(tr("&Copy image and results"), this);
  copy_action_->setShortcut(QKeySequence::Copy);
  connect(copy_action_, &QAction::triggered, this, &MainWindow::copyToClipboard);
  for (QAction* a : {save_image_action_, save_json_action_, copy_action_}) a->setEnabled(false);
}

void MainWindow::createMenus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  QAction* open = file->addAction(style()->standardIcon(QStyle::SP_DialogOpenButton),
                                  tr("&Open images..."), this, &MainWindow::openDialog);
  open->setShortcut(QKeySequence::Open);
  file->addAction(style()->standardIcon(QStyle::SP_DirOpenIcon), tr("Open &folder..."), this,
                  &MainWindow::openFolderDialog);
  QAction* video = file->addAction(style()->standardIcon(QStyle::SP_MediaPlay),
                                   tr("Open &video..."), this, &MainWindow::openVideoDialog);
  camera_menu_ = file->addMenu(tr("&Camera"));
  connect(camera_menu_, &QMenu::aboutToShow, this, &MainWindow::updateCameraMenu);
  updateCameraMenu();
  file->addAction(stop_action_);
  file->addSeparator();
  file->addAction(save_image_action_);
  file->addAction(save_json_action_);
  file->addSeparator();
  file->addAction(tr("Open &learned classes..."), this, [this] {
    const QString f = QFileDialog::getOpenFileName(this, tr("Open learned classes"),
                                                   QString::fromStdString(oneshot_dir().string()),
                                                   tr("Learned classes (*.json);;All files (*)"));
    if (!f.isEmpty()) worker_->openStore(f);
  });
  file->addAction(tr("Save learned classes &as..."), this, [this] {
    const QString f = QFileDialog::getSaveFileName(this, tr("Save learned classes"),
                                                   QString::fromStdString(oneshot_dir().string()),
                                                   tr("Learned classes (*.json)"));
    if (!f.isEmpty()) worker_->saveStoreAs(f);
  });
  file->addSeparator();
  QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
  quit->setShortcut(QKeySequence::Quit);

  QMenu* edit = menuBar()->addMenu(tr("&Edit"));
  edit->addAction(copy_action_);

  QMenu* view = menuBar()->addMenu(tr("&Mode"));
  for (QAction* a : mode_actions_) view->addAction(a);

  QMenu* model = menuBar()->addMenu(tr("M&odel"));
  model_group_ = new QActionGroup(this);
  const std::pair<QString, QString> choices[] = {{"", tr("&Default (bundled, else official fast)")},
                                                 {"bundled", tr("&Bundled model")},
                                                 {"fast", tr("Official &fast net")},
                                                 {"accurate", tr("Official &accurate net")}};
  for (const auto& [choice, text] : choices) {
    QAction* a = model->addAction(text, this, [this, choice = choice] {
      ModelRequest r = settings_.model;
      r.choice = choice;
      loadModel(r);
      markModelChoice();  // back to the loaded one until the new one is ready
    });
    a->setCheckable(true);
    model_group_->addAction(a);
    model_actions_.emplace_back(choice, a);
  }
  model_file_action_ = model->addAction(tr("Model file"));
  model_file_action_->setCheckable(true);
  model_file_action_->setEnabled(false);  // shows which file; Open model file changes it
  model_group_->addAction(model_file_action_);
  model->addAction(tr("Get the official &weights..."), this, &MainWindow::openWeightsDialog);
  model->addAction(tr("Official weights &folder..."), this, &MainWindow::chooseWeightsFolder);
  model->addAction(tr("Open model &file (ONNX)..."), this, &MainWindow::chooseModelFile);
  model->addSeparator();
  half_action_ = model->addAction(tr("Weights in &16 bits (fp16)"));
  half_action_->setCheckable(true);
  half_action_->setToolTip(
      tr("Keep the large layers' weights as 16-bit floats on the device: half their memory and "
         "bytes read, the arithmetic still in 32 bits. On the CPU (lavapipe) about as fast as "
         "32-bit weights. Reloads the model."));
  connect(half_action_, &QAction::triggered, this, [this](bool on) {
    ModelRequest r = settings_.model;
    r.half_weights = on;
    loadModel(r);
  });
  device_menu_ = model->addMenu(tr("&Device"));
  device_group_ = new QActionGroup(this);

  QToolBar* bar = addToolBar(tr("Main"));
  bar->setObjectName("mainToolBar");
  bar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
  bar->addAction(open);
  bar->addAction(video);
  auto* camera_button = new QToolButton(bar);
  camera_button->setText(tr("Camera"));
  camera_button->setIcon(style()->standardIcon(QStyle::SP_ComputerIcon));
  camera_button->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
  camera_button->setPopupMode(QToolButton::MenuButtonPopup);
  camera_button->setMenu(camera_menu_);
  connect(camera_button, &QToolButton::clicked, this, &MainWindow::openDefaultCamera);
  bar->addWidget(camera_button);
  bar->addAction(stop_action_);
  bar->addAction(pause_action_);
  bar->addAction(step_action_);
  seek_slider_ = new QSlider(Qt::Horizontal, bar);
  seek_slider_->setObjectName("seekSlider");
  seek_slider_->setMinimumWidth(120);
  seek_slider_->setMaximumWidth(220);
  seek_slider_->setToolTip(tr("Where in the video file; drag to jump"));
  seek_slider_->setTracking(false);  // jump when released, not at every pixel of the drag
  connect(seek_slider_, &QSlider::valueChanged, this, [this](int frame) {
    if (seek_slider_->isSliderDown() || !live_active_) return;
    if (frame != capture_->position()) capture_->seekFrame(frame);
  });
  connect(seek_slider_, &QSlider::sliderReleased, this,
          [this] { capture_->seekFrame(seek_slider_->value()); });
  seek_action_ = bar->addWidget(seek_slider_);
  updateVideoControls();
  bar->addSeparator();
  for (QAction* a : mode_actions_) bar->addAction(a);
  bar->addSeparator();
  bar->addAction(save_image_action_);
}

void MainWindow::createSettingsDock() {
  auto* dock = new QDockWidget(tr("Analysis"), this);
  analysis_dock_ = dock;
  dock->setObjectName("analysisDock");
  auto* panel = new QWidget(dock);
  auto* form = new QFormLayout(panel);
  scales_ = new QComboBox(panel);
  scales_->setEditable(true);
  scales_->addItems({"model", "paper", "paper-exact", "window", "256,320", "300"});
  scales_->setToolTip(
      tr("Scales for images: paper (the paper's six, aspect kept), paper-exact, window, or a "
         "list of smaller sides (N) and sizes (HxW)"));
  live_scales_ = new QComboBox(panel);
  live_scales_->setEditable(true);
  live_scales_->addItems({"auto", "window", "window,300", "256,320", "paper"});
  live_scales_->setToolTip(
      tr("Scales for camera and video frames: auto (the largest that keep the target rate, "
         "found by measuring; the status bar says which), or a list: fewer keep up better"));
  live_target_fps_ = new QSpinBox(panel);
  live_target_fps_->setRange(1, 60);
  live_target_fps_->setSuffix(tr(" fps"));
  live_target_fps_->setToolTip(tr("The frame rate that auto live scales keep"));
  fine_ = new QCheckBox(tr("Fine stride (offset pooling)"), panel);
  flip_ = new QCheckBox(tr("Mirrored images too"), panel);
  min_confidence_ = new QDoubleSpinBox(panel);
  min_confidence_->setRange(0, 1);
  min_confidence_->setSingleStep(0.01);
  min_confidence_->setDecimals(3);
  merge_ = new QComboBox(panel);
  merge_->addItems({tr("Voting (paper's greedy merge)"), tr("Non-maximum suppression")});
  threshold_ = new QDoubleSpinBox(panel);
  threshold_->setRange(0, 10);
  threshold_->setSingleStep(0.05);
  threshold_->setToolTip(tr("Voting: largest match score merged; NMS: IoU that suppresses"));
  min_confidence_->setToolTip(
      tr("Raw boxes whose window's class probability is below this are dropped before merging"));
  min_box_confidence_ = new QSpinBox(panel);
  min_box_confidence_->setRange(0, 100);
  min_box_confidence_->setSuffix(tr(" %"));
  min_box_confidence_->setToolTip(
      tr("Boxes whose confidence (the % on their tag) is below this are not drawn; saved "
         "detections (JSON) keep them"));
  max_detections_ = new QSpinBox(panel);
  max_detections_->setRange(0, 1000);
  max_detections_->setSpecialValueText(tr("all"));
  show_raw_ = new QCheckBox(tr("Show raw boxes (before merging)"), panel);
  one_label_ = new QCheckBox(tr("One label per object"), panel);
  one_label_->setToolTip(
      tr("Voting merges each class's boxes apart, so where the model hesitates between classes "
         "one object gets a box of each; keep only the most confident (another class's box "
         "overlapping it by IoU over %1 is dropped). Off: every class's boxes, as the paper's "
         "method and the command line give them")
          .arg(StudioSettings::kOneLabelIou));
  form->addRow(tr("Scales"), scales_);
  form->addRow(tr("Live scales"), live_scales_);
  form->addRow(tr("Live target"), live_target_fps_);
  form->addRow(fine_);
  form->addRow(flip_);
  form->addRow(tr("Min. window prob."), min_confidence_);
  form->addRow(tr("Merge"), merge_);
  form->addRow(tr("Threshold"), threshold_);
  form->addRow(one_label_);
  form->addRow(tr("Max. boxes"), max_detections_);
  form->addRow(tr("Min. box confidence"), min_box_confidence_);
  form->addRow(show_raw_);
  dock->setWidget(panel);
  addDockWidget(Qt::RightDockWidgetArea, dock);

  auto changed = [this] {
    if (!syncing_) readSettingsWidgets();
  };
  connect(scales_->lineEdit(), &QLineEdit::editingFinished, this, changed);
  connect(scales_, &QComboBox::activated, this, changed);
  connect(live_scales_->lineEdit(), &QLineEdit::editingFinished, this, changed);
  connect(live_scales_, &QComboBox::activated, this, changed);
  for (QCheckBox* c : {fine_, flip_, show_raw_, one_label_})
    connect(c, &QCheckBox::toggled, this, changed);
  connect(min_confidence_, &QDoubleSpinBox::valueChanged, this, changed);
  connect(threshold_, &QDoubleSpinBox::valueChanged, this, changed);
  connect(max_detections_, &QSpinBox::valueChanged, this, changed);
  connect(live_target_fps_, &QSpinBox::valueChanged, this, changed);
  connect(min_box_confidence_, &QSpinBox::valueChanged, this, changed);
  connect(merge_, &QComboBox::currentIndexChanged, this, changed);
}

void MainWindow::createStatusBar() {
  model_label_ = new QLabel(tr("No model"), this);
  // Long device lines must not push the statistics off the bar.
  model_label_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
  stats_label_ = new QLabel(this);
  progress_ = new QProgressBar(this);
  progress_->setRange(0, 100);
  progress_->setMaximumWidth(220);
  progress_->hide();
  statusBar()->addWidget(model_label_, 1);
  statusBar()->addPermanentWidget(stats_label_);
  statusBar()->addPermanentWidget(progress_);
}

void MainWindow::syncSettingsWidgets() {
  syncing_ = true;
  scales_->setCurrentText(settings_.scales);
  live_scales_->setCurrentText(settings_.live_scales);
  live_target_fps_->setValue(static_cast<int>(std::lround(settings_.live_target_fps)));
  live_target_fps_->setEnabled(settings_.live_scales == "auto");
  fine_->setChecked(settings_.fine);
  flip_->setChecked(settings_.flip);
  min_confidence_->setValue(settings_.min_confidence);
  merge_->setCurrentIndex(settings_.nms ? 1 : 0);
  threshold_->setValue(settings_.threshold);
  one_label_->setChecked(settings_.one_label);
  enableBoxWidgets();
  max_detections_->setValue(settings_.max_detections);
  min_box_confidence_->setValue(static_cast<int>(std::lround(100 * settings_.min_box_confidence)));
  show_raw_->setChecked(settings_.show_raw);
  inspector_->setFineStride(settings_.fine);
  inspector_->setOpacity(settings_.opacity);
  canvas_->setShowRaw(settings_.show_raw);
  syncing_ = false;
}

// The boxes' settings (raw boxes' floor, merge, what is drawn) matter where boxes are drawn:
// Detect, and Heat maps' box overlay; Classify and Recognize draw none.
void MainWindow::enableBoxWidgets() {
  const bool boxes = settings_.mode == Mode::Detect || settings_.mode == Mode::Heatmaps;
  for (QWidget* w : std::initializer_list<QWidget*>{
           min_confidence_, merge_, threshold_, max_detections_, min_box_confidence_, show_raw_})
    w->setEnabled(boxes);
  one_label_->setEnabled(boxes && !settings_.nms);  // NMS has its own IoU
}

void MainWindow::readSettingsWidgets() {
  StudioSettings s = settings_;
  s.scales = scales_->currentText().trimmed();
  s.live_scales = live_scales_->currentText().trimmed();
  s.live_target_fps = live_target_fps_->value();
  s.fine = fine_->isChecked();
  s.flip = flip_->isChecked();
  s.min_confidence = min_confidence_->value();
  s.nms = merge_->currentIndex() == 1;
  s.threshold = threshold_->value();
  s.max_detections = max_detections_->value();
  s.one_label = one_label_->isChecked();
  s.min_box_confidence = min_box_confidence_->value() / 100.0;
  s.show_raw = show_raw_->isChecked();
  setAnalysisSettings(s);
}

void MainWindow::setAnalysisSettings(const StudioSettings& s) {
  const bool redraw = s.min_box_confidence != settings_.min_box_confidence;
  const bool rerun = s.scales != settings_.scales || s.live_scales != settings_.live_scales ||
                     s.live_target_fps != settings_.live_target_fps || s.fine != settings_.fine ||
                     s.flip != settings_.flip || s.min_confidence != settings_.min_confidence ||
                     s.nms != settings_.nms || s.threshold != settings_.threshold ||
                     s.max_detections != settings_.max_detections ||
                     s.one_label != settings_.one_label || s.top_classes != settings_.top_classes;
  const ModelRequest model = settings_.model;
  const Mode mode = settings_.mode;
  settings_ = s;
  settings_.model = model;  // the model changes only through loadModel
  settings_.mode = mode;
  syncSettingsWidgets();
  saveSettings();
  updateLiveRequest();
  if (rerun)
    submitStill();
  else if (redraw && last_result_)
    showResultInViews(last_result_);  // which boxes are drawn, not what the network found
}

void MainWindow::saveSettings() {
  settings_.save(*qsettings_);
  qsettings_->sync();
}

// ---------------------------------------------------------------------------------------------
// Sources

void MainWindow::openPaths(const QStringList& paths) {
  QStringList images, missing;
  QString video;
  for (const QString& path : paths) {
    const QFileInfo info(path);
    if (info.isDir()) {
      QDir dir(path);
      QStringList found;
      for (const QFileInfo& f : dir.entryInfoList(QDir::Files, QDir::Name))
        if (has_suffix(f.fileName(), kImageSuffixes)) found << f.absoluteFilePath();
      if (found.isEmpty()) missing << tr("%1 (a folder with no images)").arg(path);
      images << found;
    } else if (has_suffix(path, kVideoSuffixes)) {
      if (video.isEmpty()) video = path;
    } else if (!info.exists()) {
      missing << tr("%1 (no such file)").arg(path);
    } else {
      images << info.absoluteFilePath();  // any other file: the decoder decides
    }
  }
  if (!missing.isEmpty()) showError(tr("Nothing to open in %1.").arg(missing.join(", ")));
  if (!video.isEmpty() && images.isEmpty()) {
    openVideo(video);
    return;
  }
  if (images.isEmpty()) return;
  stopSource();
  if (!settings_.last_dir.isEmpty() || !images.isEmpty()) {
    settings_.last_dir = QFileInfo(images.front()).absolutePath();
    saveSettings();
  }
  images_ = images;
  {
    const QSignalBlocker block(image_list_);
    image_list_->clear();
    for (const QString& p : images_) image_list_->addItem(QFileInfo(p).fileName());
  }
  image_dock_->setVisible(images_.size() > 1);
  current_ = -1;
  image_list_->setCurrentRow(0);  // shows it
  if (current_ != 0) showImage(0);
}

void MainWindow::showImage(int index) {
  if (index < 0 || index >= images_.size() || index == current_) return;
  current_ = index;
  if (image_list_->currentRow() != index) {
    const QSignalBlocker block(image_list_);
    image_list_->setCurrentRow(index);
  }
  const QString path = images_[index];
  const quint64 generation = ++still_generation_;
  setWindowTitle(tr("%1 - OverFeat Studio").arg(QFileInfo(path).fileName()));
  statusBar()->showMessage(tr("Reading %1...").arg(path));
  // Decoding a large photograph takes a while: off the UI thread, as the engine decodes it for
  // the command line (OpenCV), so both see the same pixels.
  QPointer<MainWindow> self(this);
  QThreadPool::globalInstance()->start([self, path, index, generation] {
    QImage image;
    QString error;
    try {
      image = to_qimage(render::to_rgb8(image::load_rgb(path.toStdString())));
    } catch (const std::exception& e) {
      error = QString::fromStdString(e.what());
    }
    if (self)
      QMetaObject::invokeMethod(
          self,
          [self, index, generation, image, error] {
            if (self) self->stillLoaded(index, generation, image, error);
          },
          Qt::QueuedConnection);
  });
}

void MainWindow::stillLoaded(int index, quint64 generation, const QImage& image,
                             const QString& error) {
  if (generation != still_generation_ || live_active_) return;  // the user moved on
  statusBar()->clearMessage();
  if (!error.isEmpty()) {
    showScopedError(tr("Cannot show %1: %2").arg(images_.value(index), error), ErrorScope::Still);
    if (QListWidgetItem* item = image_list_->item(index))
      item->setIcon(style()->standardIcon(QStyle::SP_MessageBoxWarning));
    canvas_->setImage({});
    canvas_->clearDetections();
    classify_->clear();
    inspector_->setResult(nullptr);
    last_result_.reset();
    still_ = {};
    return;
  }
  if (error_scope_ == ErrorScope::Still) clearError();  // that image's error is over
  // A class picked in Heat maps is about the picture it was picked on: another photograph
  // starts from its own top class (live video keeps the pick, frame after frame).
  if (still_.source != images_.value(index)) inspector_->setClass(-1);
  still_ = Frame{image, index, Clock::now(), images_.value(index), false};
  canvas_->setImage(image);
  canvas_->clearDetections();
  classify_->clear();
  submitStill();
}

void MainWindow::submitStill() {
  if (live_active_ || still_.image.isNull()) return;
  if (!model_) {
    if (!model_loading_)
      showScopedError(tr("No model is loaded: choose one in the Model menu."), ErrorScope::Model);
    return;  // displayModelReady submits it
  }
  Job job;
  job.frame = still_;
  job.frame.captured = Clock::now();
  job.mode = settings_.mode;
  job.options = settings_.detect_options(false);
  job.layer = wantedLayer();
  job.taught = settings_.taught_everywhere;
  still_serial_ = worker_->submit(std::move(job));
  statusBar()->showMessage(tr("Analysing %1...").arg(QFileInfo(still_.source).fileName()));
}

void MainWindow::openVideo(const QString& path) {
  if (!QFileInfo::exists(path)) {
    showError(tr("Cannot open the video %1: no such file.").arg(path));
    return;
  }
  SourceSpec spec;
  spec.kind = SourceSpec::Kind::VideoFile;
  spec.location = path;
  spec.name = QFileInfo(path).fileName();
  spec.loop = true;
  startLive(spec);
}

void MainWindow::startLive(const SourceSpec& spec) {
  stopSource();
  live_source_ = spec.name;
  live_active_ = true;
  dropped_at_start_ = worker_->dropped();
  frames_displayed_ = 0;
  updateLiveRequest();
  capture_->start(spec);
  stop_action_->setEnabled(true);
  pause_action_->setChecked(false);
  updateVideoControls();
  setWindowTitle(tr("%1 - OverFeat Studio").arg(spec.name));
}

void MainWindow::openCamera(const QString& location, const QString& name) {
  SourceSpec spec;
  spec.kind = SourceSpec::Kind::Camera;
  spec.location = location;
  spec.name = name.isEmpty() ? location : name;
  startLive(spec);
}

void MainWindow::openDefaultCamera() {
  const auto cameras = list_cameras();
  if (cameras.empty()) {
    showError(
        tr("No camera found. Connect a webcam (it shows up as /dev/video*; your user needs to be "
           "in the 'video' group), or open a video file with File > Open video."));
    return;
  }
  openCamera(cameras.front().device, cameras.front().name);
}

void MainWindow::updateCameraMenu() {
  camera_menu_->clear();
  const auto cameras = list_cameras();
  for (const CameraInfo& c : cameras)
    camera_menu_->addAction(QStringLiteral("%1 (%2)").arg(c.name, c.device), this,
                            [this, c] { openCamera(c.device, c.name); });
  if (cameras.empty()) camera_menu_->addAction(tr("No camera found"))->setEnabled(false);
  camera_menu_->addSeparator();
  camera_menu_->addAction(tr("Video file as camera..."), this, &MainWindow::openVideoDialog);
}

void MainWindow::stopSource() {
  {
    std::lock_guard lock(live_mutex_);
    live_request_.enabled = false;
  }
  capture_->stop();
  worker_->cancelPending();
  const bool was_live = live_active_;
  live_active_ = false;
  burst_left_ = 0;  // a burst needs frames
  stop_action_->setEnabled(false);
  updateVideoControls();
  if (was_live) updateStats();
}

std::vector<Detection> MainWindow::shownBoxes(const DetectResult& r) const {
  std::vector<Detection> shown;
  for (const Detection& d : r.merged)
    if (d.confidence >= settings_.min_box_confidence) shown.push_back(d);
  return shown;
}

void MainWindow::updateVideoControls() {
  // Pause, step and seek for video files; a camera has no file to move in.
  const bool file = live_active_ && capture_->spec().kind == SourceSpec::Kind::VideoFile;
  pause_action_->setEnabled(file);
  step_action_->setEnabled(file && pause_action_->isChecked());
  const qint64 count = file ? capture_->frameCount() : 0;
  seek_action_->setVisible(file);
  seek_slider_->setEnabled(count > 1);
  if (count > 1 && !seek_slider_->isSliderDown()) {
    const QSignalBlocker quiet(seek_slider_);  // showing where we are is not a jump
    seek_slider_->setRange(0, static_cast<int>(std::min<qint64>(count - 1, INT_MAX)));
    seek_slider_->setValue(static_cast<int>(std::min<qint64>(capture_->position(), INT_MAX)));
  }
}

void MainWindow::updateLiveRequest() {
  std::lock_guard lock(live_mutex_);
  live_request_.enabled = live_active_ && model_ != nullptr;
  live_request_.mode = settings_.mode;
  live_request_.options = settings_.detect_options(true);
  live_request_.target_fps = settings_.live_target_fps;
  live_request_.layer = wantedLayer();
  live_request_.taught = settings_.taught_everywhere;
}

void MainWindow::displayLiveFrame() {
  std::optional<Frame> frame = capture_->takeDisplayFrame();
  if (!frame || !live_active_) return;
  ++frames_displayed_;
  canvas_->setImage(frame->image);
  updateVideoControls();
  if (burst_left_ > 0 && burst_gap_-- <= 0) {  // one example every few frames: varied views
    teach(burst_name_);
    burst_gap_ = 4;
    --burst_left_;
  }
}

void MainWindow::displayCaptureError(const QString& message) {
  stopSource();
  showError(message);
}

// ---------------------------------------------------------------------------------------------
// Modes and results

void MainWindow::setMode(Mode mode) {
  const Mode before = settings_.mode;
  settings_.mode = mode;
  mode_actions_[static_cast<int>(mode)]->setChecked(true);
  pages_->setCurrentIndex(mode == Mode::Heatmaps ? 1 : 0);
  classify_->setVisible(mode != Mode::Heatmaps);
  enableBoxWidgets();
  if (mode != Mode::Recognize) {
    canvas_->setCaption({}, {});
    canvas_->setOverlay({}, {});
  } else {
    teach_dock_->show();
    teach_dock_->raise();
  }
  saveSettings();
  updateLiveRequest();
  // Detect and heat map results hold everything both show; a classification holds no boxes;
  // a recognition holds features instead of boxes and is only good for itself.
  const bool reusable =
      last_result_ && (mode == Mode::Recognize
                           ? last_result_->mode == Mode::Recognize
                           : last_result_->mode != Mode::Recognize &&
                                 (mode == Mode::Classify || last_result_->mode != Mode::Classify));
  if (reusable && !live_active_) {
    showResultInViews(last_result_);
  } else if (before != mode || !last_result_) {
    submitStill();
  }
}

void MainWindow::displayResult(ResultPtr r) {
  if (r->frame.live) {
    if (!live_active_ || r->frame.source != live_source_) return;  // a source since closed
  } else if (r->serial != still_serial_ || live_active_) {
    return;  // an image the user has moved on from
  }
  last_result_ = r;
  if (!r->frame.live) statusBar()->clearMessage();
  showResultInViews(r);
  showTiming(*r);
  layer_view_->showResult(r);
  for (QAction* a : {save_image_action_, save_json_action_, copy_action_}) a->setEnabled(true);
  emit resultShown(r);
}

void MainWindow::showResultInViews(const ResultPtr& r) {
  const ModelInfo& m = *r->model;
  if (!r->frame.live) canvas_->setImage(r->frame.image);
  if (settings_.mode == Mode::Recognize) {
    if (!r->oneshot) return;
    showOneShot(*canvas_, *r);
    std::vector<ClassifyPanel::Entry> entries;
    const Recognition& rec = r->oneshot->recognition;
    for (size_t i = 0; i < rec.confidences.size(); ++i)
      entries.push_back(
          {QString::fromStdString(r->oneshot->names[i]), rec.confidences[i], static_cast<int>(i)});
    std::sort(entries.begin(), entries.end(),
              [](const auto& a, const auto& b) { return a.probability > b.probability; });
    if (entries.size() > 5) entries.resize(5);
    classify_->setEntries(std::move(entries));
    classify_->setCaption(
        rec.similarities.empty() ? tr("Nothing taught yet: use the Teach panel")
        : rec.probabilities.empty()
            ? tr("Bars: the calibrated chance that it is each taught class\n\"unknown\" when "
                 "the closest class's similarity is below %1 - %2 ms")
                  .arg(rec.threshold, 0, 'f', 2)
                  .arg(r->inference_ms, 0, 'f', 0)
            : tr("Bars: the calibrated chance that it is a taught class, shared out by the linear "
                 "classifier of your examples\n\"unknown\" when the answer's similarity is below "
                 "%1 - %2 ms")
                  .arg(rec.threshold, 0, 'f', 2)
                  .arg(r->inference_ms, 0, 'f', 0));
    return;
  }
  if (settings_.mode == Mode::Detect && r->mode != Mode::Classify)
    canvas_->setDetections(shownBoxes(r->detect), r->detect.raw, m.classes);
  else
    canvas_->clearDetections();
  classify_->setScores(r->detect.class_probs, m.classes, m.background);
  // The legend: what each number is (bars: the image's classes; tags: the boxes').
  const QString bars =
      r->taught ? tr("Bars: your taught classes (Teach panel): the best window's calibrated chance")
                : tr("Bars: the whole image's class probabilities");
  const QString boxes =
      r->taught ? tr("Box %: the calibrated chance that the window shows that taught class "
                     "(Teach panel)")
      : r->detect.confidence_source.empty()
          ? tr("Box %: the best window's class probability (no calibrated box confidence for "
               "these settings)")
          : tr("Box %: the chance that the box is right (its class, overlap >= 50 %), "
               "calibrated on %1")
                .arg(QString::fromStdString(r->detect.confidence_source));
  classify_->setCaption((settings_.mode == Mode::Detect ? boxes : bars) + "\n" +
                        describe_options(r->options, r->detect.dense) +
                        tr(" - %1 ms").arg(r->inference_ms, 0, 'f', 0));
  if (settings_.mode == Mode::Heatmaps) inspector_->setResult(r);
}

// ---------------------------------------------------------------------------------------------
// Models and devices

void MainWindow::loadModel(const ModelRequest& request) {
  loading_ = request;
  model_loading_ = true;
  {
    std::lock_guard lock(live_mutex_);
    live_request_.enabled = false;
  }
  progress_->setValue(0);
  progress_->show();
  model_label_->setText(tr("Loading model..."));
  worker_->loadModel(request);
}

void MainWindow::displayModelLoading(int percent, const QString& step) {
  progress_->setValue(percent);
  progress_->setFormat(step + QStringLiteral(" %p%"));
  progress_->setVisible(percent < 100);
}

void MainWindow::displayModelReady(ModelInfoPtr info) {
  model_ = info;
  model_loading_ = false;
  settings_.model = loading_;
  saveSettings();
  markModelChoice();
  progress_->hide();
  model_label_->setText(statusText(*info));
  model_label_->setToolTip(info->summary + "\n" + info->device);
  // Fine stride is offset pooling, which most classic networks do not have (VGG does): say so,
  // not ignore it.
  fine_->setEnabled(info->offset_pooling);
  fine_->setToolTip(info->offset_pooling
                        ? tr("Evaluate the last pooling at every offset: a finer grid of cells")
                        : tr("This network runs at its own stride: no last pooling to offset "
                             "(its last pooling is global, or overlapping)"));
  inspector_->setFineStrideAvailable(info->offset_pooling);
  layer_view_->setModel(info);
  if (error_scope_ == ErrorScope::Model) clearError();
  updateLiveRequest();
  last_result_.reset();
  submitStill();
  emit modelChanged(true);
}

void MainWindow::displayModelFailed(const QString& message) {
  model_loading_ = false;
  progress_->hide();
  if (!worker_->modelLoaded()) {
    model_.reset();
    model_label_->setText(tr("No model"));
    canvas_->setPlaceholder(tr("No model is loaded: choose one in the Model menu.\n%1")
                                .arg(tr("You can still open images; they are analysed once a "
                                        "model is loaded.")));
  } else {
    // The previous model is still loaded and keeps working.
    model_label_->setText(statusText(*model_));
    updateLiveRequest();
  }
  showScopedError(tr("The model could not be loaded. %1").arg(message), ErrorScope::Model);
  emit modelChanged(worker_->modelLoaded());
}

void MainWindow::updateDevices(const QStringList& devices) {
  for (QAction* a : device_group_->actions()) delete a;
  device_menu_->clear();
  auto add = [&](const QString& text, const QString& spec) {
    QAction* a = device_menu_->addAction(text);
    a->setCheckable(true);
    a->setChecked(settings_.model.device == spec);
    device_group_->addAction(a);
    connect(a, &QAction::triggered, this, [this, spec] {
      ModelRequest r = settings_.model;
      r.device = spec;
      loadModel(r);
    });
  };
  add(tr("Automatic (GPU first, else CPU)"), QString());
  for (const QString& d : devices) add(d, d.section(':', 0, 0));
}

void MainWindow::useWeightsFolder(const QString& dir) {
  const std::filesystem::path d = dir.toStdString();
  std::error_code ec;
  const bool fast = std::filesystem::exists(official_weight_path(d, 0), ec);
  const bool accurate = std::filesystem::exists(official_weight_path(d, 1), ec);
  if (!fast && !accurate) {
    showError(tr("The folder %1 has neither net_weight_0 (the fast net) nor net_weight_1 (the "
                 "accurate net). These files come with the original OverFeat release "
                 "(overfeat-weights.tgz, folder data/default) and are not shipped with OverFeat "
                 "Studio. Pick the folder that holds them; the current model stays loaded.")
                  .arg(dir));
    return;
  }
  ModelRequest r = settings_.model;
  r.weights_dir = dir;
  r.choice = fast ? "fast" : "accurate";
  loadModel(r);
}

void MainWindow::openWeightsDialog() {
  auto* d = new WeightsDialog(this);
  d->setAttribute(Qt::WA_DeleteOnClose);
  connect(d, &WeightsDialog::weightsInstalled, this, &MainWindow::useWeightsFolder);
  connect(d, &WeightsDialog::bundledModelChosen, this, [this] {
    ModelRequest r = settings_.model;
    r.choice = "bundled";
    loadModel(r);
  });
  d->open();
}

void MainWindow::showFirstRunHelp() {
  if (!WeightsDialog::shouldShowOnFirstRun(*qsettings_)) return;
  WeightsDialog::markShownOnFirstRun(*qsettings_);
  // With a bundled model the app works out of the box; the dialog is for those who want the
  // official nets, and says where they come from.
  if (!bundled_model_path().empty()) return;
  openWeightsDialog();
}

void MainWindow::chooseWeightsFolder() {
  const QString dir = QFileDialog::getExistingDirectory(
      this, tr("Folder with the official OverFeat weights"),
      settings_.model.weights_dir.isEmpty() ? QString::fromStdString(default_weights_dir().string())
                                            : settings_.model.weights_dir);
  if (!dir.isEmpty()) useWeightsFolder(dir);
}

void MainWindow::chooseModelFile() {
  const QString file = QFileDialog::getOpenFileName(this, tr("Open a model"), settings_.last_dir,
                                                    tr("ONNX models (*.onnx);;All files (*)"));
  if (file.isEmpty()) return;
  ModelRequest r = settings_.model;
  r.choice = file;
  loadModel(r);
}

// ---------------------------------------------------------------------------------------------
// Results out

void MainWindow::showOneShot(ImageCanvas& canvas, const Result& r) const {
  const OneShotAnswer& a = *r.oneshot;
  const Recognition& rec = a.recognition;
  const float threshold = rec.threshold;
  if (rec.cls >= 0) {
    canvas.setCaption(QStringLiteral("%1  %2 %")
                          .arg(QString::fromStdString(rec.name))
                          .arg(100.0 * rec.confidence, 0, 'f', 0),
                      class_qcolor(rec.cls));
  } else if (rec.best >= 0) {
    canvas.setCaption(tr("unknown (closest: %1  %2 %)")
                          .arg(QString::fromStdString(a.names[rec.best]))
                          .arg(100.0 * rec.confidences[rec.best], 0, 'f', 0),
                      QColor(200, 200, 200));
  } else {
    canvas.setCaption(tr("Nothing taught yet"), QColor(200, 200, 200));
  }
  // Where each taught class matches: its best window, when it is similar enough, tagged with
  // the one number of this mode, the calibrated chance that the frame shows that class.
  std::vector<Detection> boxes;
  for (const Localization& l : a.localizations)
    if (l.located(threshold) && l.cls >= 0 && l.cls < static_cast<int>(rec.confidences.size())) {
      Detection d;
      d.cls = l.cls;
      d.score = l.score;
      d.box = l.box;
      d.peak = d.confidence = rec.confidences[l.cls];
      boxes.push_back(d);
    }
  std::sort(boxes.begin(), boxes.end(),
            [](auto& x, auto& y) { return x.confidence > y.confidence; });
  canvas.setDetections(boxes, {}, a.names);
  // The similarity map of the answer (or of the closest class) on its best scale: cells above
  // the threshold, coloured by how far above.
  const int shown = rec.cls >= 0 ? rec.cls : rec.best;
  if (shown < 0 || shown >= static_cast<int>(a.localizations.size())) {
    canvas.setOverlay({}, {});
    return;
  }
  const Localization& l = a.localizations[shown];
  if (l.map < 0 || l.map >= static_cast<int>(l.maps.size())) {
    canvas.setOverlay({}, {});
    return;
  }
  const Tensor& sim = l.maps[l.map];
  QImage overlay(sim.w, sim.h, QImage::Format_ARGB32);
  for (int y = 0; y < sim.h; ++y)
    for (int x = 0; x < sim.w; ++x) {
      const float v = sim.at(0, y, x);
      const float t = (v - threshold) / std::max(1e-3f, 1.0f - threshold);
      if (t < 0) {
        overlay.setPixel(x, y, qRgba(0, 0, 0, 0));
        continue;
      }
      const auto c = render::colormap_color(render::Colormap::Inferno, 0.35f + 0.65f * t);
      overlay.setPixel(x, y, qRgba(c[0], c[1], c[2], 140));
    }
  double x0, y0, sx, sy;
  r.detect.dense.maps[l.map].cell_centers(x0, y0, sx, sy);
  canvas.setOverlay(overlay, QRectF(x0 - sx / 2, y0 - sy / 2, sim.w * sx, sim.h * sy));
}

void MainWindow::createTimingDock() {
  timing_dock_ = new QDockWidget(tr("Timing"), this);
  timing_dock_->setObjectName("timingDock");
  auto* panel = new QWidget(timing_dock_);
  auto* layout = new QVBoxLayout(panel);
  timing_summary_ =
      new QLabel(tr("Where the network's time goes appears here after a result."), panel);
  timing_summary_->setWordWrap(true);
  timing_ = new QTreeWidget(panel);
  timing_->setColumnCount(3);
  timing_->setHeaderLabels({tr("Stage"), tr("ms"), tr("%")});
  timing_->setRootIsDecorated(false);
  timing_->setSortingEnabled(false);
  timing_->setToolTip(
      tr("GPU time of each stage of the last result (Vulkan timestamps), summed over its scales, "
         "offsets and mirror images, slowest first"));
  layout->addWidget(timing_summary_);
  layout->addWidget(timing_, 1);
  timing_dock_->setWidget(panel);
  addDockWidget(Qt::RightDockWidgetArea, timing_dock_);
  tabifyDockWidget(analysis_dock_, timing_dock_);
  analysis_dock_->raise();
}

void MainWindow::createLayerDock() {
  layer_dock_ = new QDockWidget(tr("Layers"), this);
  layer_dock_->setObjectName("layerDock");
  layer_view_ = new LayerView(layer_dock_);
  layer_dock_->setWidget(layer_view_);
  addDockWidget(Qt::RightDockWidgetArea, layer_dock_);
  tabifyDockWidget(analysis_dock_, layer_dock_);
  layer_dock_->hide();  // opened from View > Layers
  analysis_dock_->raise();
  QMenu* view = menuBar()->addMenu(tr("&View"));
  for (QDockWidget* d : {analysis_dock_, teach_dock_, timing_dock_, layer_dock_})
    view->addAction(d->toggleViewAction());
  QAction* layers = layer_dock_->toggleViewAction();
  layers->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_L));
  layers->setToolTip(tr("Every unit of a layer, live (a second pass of the network per frame)"));
  connect(layers, &QAction::triggered, this, [this](bool on) {
    if (on) layer_dock_->raise();
  });
  // Computed only while it is on screen: the layer costs a second pass of the network.
  auto refresh = [this] {
    updateLiveRequest();
    if (!live_active_ && layer_dock_->isVisible() && !still_.image.isNull()) submitStill();
  };
  connect(layer_dock_, &QDockWidget::visibilityChanged, this, refresh);
  connect(layer_view_, &LayerView::layerChanged, this, refresh);
}

int MainWindow::wantedLayer() const {
  return layer_dock_ && layer_dock_->isVisible() ? layer_view_->layer() : 0;
}

void MainWindow::showTiming(const Result& r) {
  // Live results come many times a second: the table follows at most twice a second.
  if (r.frame.live && timing_clock_.isValid() && timing_clock_.elapsed() < 500) return;
  timing_clock_.start();
  std::vector<StageTime> stages = r.detect.timings.dense.stages;
  std::sort(stages.begin(), stages.end(),
            [](const StageTime& a, const StageTime& b) { return a.ms > b.ms; });
  double gpu = 0;
  for (const StageTime& s : stages) gpu += s.ms;
  timing_->clear();
  for (const StageTime& s : stages) {
    auto* item =
        new QTreeWidgetItem(timing_, {QString::fromStdString(s.name), QString::number(s.ms, 'f', 1),
                                      QString::number(gpu > 0 ? 100 * s.ms / gpu : 0, 'f', 1)});
    item->setTextAlignment(1, Qt::AlignRight);
    item->setTextAlignment(2, Qt::AlignRight);
  }
  timing_->resizeColumnToContents(0);
  timing_summary_->setText(
      stages.empty()
          ? tr("No per-stage timing for this result (%1 ms in all).").arg(r.inference_ms, 0, 'f', 0)
          : tr("%1 ms on the device of %2 ms for this %3 (scales %4); the rest is resizing, "
               "reading back and merging.")
                .arg(gpu, 0, 'f', 1)
                .arg(r.inference_ms, 0, 'f', 1)
                .arg(r.frame.live ? tr("frame") : tr("image"))
                .arg(QString::fromStdString(r.options.scales)));
}

void MainWindow::createTeachDock() {
  teach_dock_ = new QDockWidget(tr("Teach"), this);
  teach_dock_->setObjectName("teachDock");
  teach_ = new TeachPanel(teach_dock_);
  teach_dock_->setWidget(teach_);
  addDockWidget(Qt::RightDockWidgetArea, teach_dock_);
  tabifyDockWidget(analysis_dock_, teach_dock_);
  analysis_dock_->raise();
  canvas_->setSelectable(true);
  connect(canvas_, &ImageCanvas::selectionChanged, this,
          [this] { teach_->setHasBox(canvas_->selection().has_value()); });
  connect(teach_, &TeachPanel::teachRequested, this, &MainWindow::teach);
  connect(teach_, &TeachPanel::burstRequested, this, &MainWindow::teachBurst);
  connect(teach_, &TeachPanel::burstStopRequested, this, [this] {
    if (burst_left_ <= 0) return;
    burst_left_ = 0;
    teach_->setStatus(tr("Stopped recording \"%1\".").arg(burst_name_));
  });
  qApp->installEventFilter(teach_);  // Ctrl+R, held: record a burst (TeachPanel::eventFilter)
  // Ctrl+T teaches from anywhere in the window, e.g. while the camera shows the object.
  auto* teach_key = new QAction(tr("&Teach the picture on screen"), this);
  teach_key->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_T));
  addAction(teach_key);
  connect(teach_key, &QAction::triggered, this, [this] {
    teach_dock_->show();
    teach_dock_->raise();
    if (teach_->name().isEmpty()) {
      teach_->setStatus(tr("Type a name first, then press Enter (or Ctrl+T)."));
      return;
    }
    teach(teach_->name());
  });
  connect(teach_, &TeachPanel::renameRequested, worker_.get(), &InferenceWorker::renameLearned);
  connect(teach_, &TeachPanel::forgetRequested, worker_.get(), &InferenceWorker::forgetLearned);
  connect(teach_, &TeachPanel::removeExampleRequested, worker_.get(),
          &InferenceWorker::removeExample);
  teach_->setEverywhere(settings_.taught_everywhere);
  connect(teach_, &TeachPanel::everywhereToggled, this, [this](bool on) {
    settings_.taught_everywhere = on;
    saveSettings();
    updateLiveRequest();
    submitStill();
  });
  connect(teach_, &TeachPanel::thresholdChanged, worker_.get(),
          &InferenceWorker::setOneShotThreshold);
  connect(teach_, &TeachPanel::openRequested, this, [this] {
    const QString f = QFileDialog::getOpenFileName(this, tr("Open learned classes"),
                                                   QString::fromStdString(oneshot_dir().string()),
                                                   tr("Learned classes (*.json);;All files (*)"));
    if (!f.isEmpty()) worker_->openStore(f);
  });
  connect(teach_, &TeachPanel::saveAsRequested, this, [this] {
    const QString f = QFileDialog::getSaveFileName(this, tr("Save learned classes"),
                                                   QString::fromStdString(oneshot_dir().string()),
                                                   tr("Learned classes (*.json)"));
    if (!f.isEmpty()) worker_->saveStoreAs(f);
  });
}

void MainWindow::teach(const QString& name) {
  const QImage image = live_active_ ? canvas_->image() : still_.image;
  if (image.isNull()) {
    showError(tr("Nothing to learn from yet: open an image, a video or a camera first."));
    return;
  }
  if (!model_) {
    showError(tr("No model is loaded: choose one in the Model menu first."));
    return;
  }
  std::optional<Box> box;
  if (const auto s = canvas_->selection())
    box = Box{static_cast<float>(s->left()), static_cast<float>(s->top()),
              static_cast<float>(s->right()), static_cast<float>(s->bottom())};
  const QString source =
      live_active_ ? tr("%1 (live)").arg(live_source_) : QFileInfo(still_.source).fileName();
  teach_->setStatus(tr("Learning \"%1\"...").arg(name));
  worker_->teach(image, box, name, source);
}

void MainWindow::teachBurst(const QString& name, int count) {
  if (!live_active_) {
    showError(tr("Teach x%1 records from a camera or a video: open one first (a still teaches "
                 "with Teach).")
                  .arg(count));
    return;
  }
  burst_name_ = name;
  burst_left_ = count;
  burst_gap_ = 0;
  teach_->setStatus(tr("Recording \"%1\": %2 examples to go...").arg(name).arg(count));
}

void MainWindow::displayTaught(const QString& name, int examples) {
  teach_->setStatus(examples == 1 ? tr("Learned \"%1\" from one example.").arg(name)
                                  : tr("Learned \"%1\" (%2 examples).").arg(name).arg(examples));
  if (burst_left_ > 0) return;  // a burst keeps its box and mode until its last example
  canvas_->setSelection(std::nullopt);
  // See it recognized at once: in Recognize, or in the current mode when the taught classes
  // answer in every mode.
  if (settings_.mode != Mode::Recognize && !settings_.taught_everywhere)
    setMode(Mode::Recognize);
  else
    submitStill();
}

void MainWindow::displayStore(StoreSnapshotPtr snapshot) {
  const bool changed_names = store_ && snapshot &&
                             (store_->classes.size() != snapshot->classes.size() ||
                              store_->threshold != snapshot->threshold);
  store_ = snapshot;
  teach_->setSnapshot(snapshot);
  if (!snapshot)
    teach_->setStatus(tr("One-shot learning is not available with this model: Model menu."));
  else if (teach_->status().startsWith(tr("One-shot learning is not")))
    teach_->setStatus({});
  emit learnedClassesChanged(snapshot);
  if (changed_names && (settings_.mode == Mode::Recognize || settings_.taught_everywhere))
    submitStill();  // the answers depend on the taught classes
}

QImage MainWindow::annotatedImage() const {
  if (!last_result_) return {};
  if (settings_.mode == Mode::Recognize && last_result_->oneshot) {
    ImageCanvas c;
    c.setImage(last_result_->frame.image);
    showOneShot(c, *last_result_);
    return c.renderToImage();
  }
  if (settings_.mode == Mode::Heatmaps) return inspector_->renderToImage();
  if (settings_.mode == Mode::Detect) {
    ImageCanvas c;
    c.setImage(last_result_->frame.image);
    c.setShowRaw(settings_.show_raw);
    c.setDetections(shownBoxes(last_result_->detect), last_result_->detect.raw,
                    last_result_->model->classes);
    return c.renderToImage();
  }
  // Classify: the picture with the top classes in a panel across its top-left corner.
  QImage out = last_result_->frame.image.convertToFormat(QImage::Format_RGB32);
  QPainter p(&out);
  QFont f = p.font();
  f.setPixelSize(std::max(12, out.height() / 28));
  p.setFont(f);
  const QFontMetrics fm(f);
  const auto top =
      top_foreground(last_result_->detect.class_probs, last_result_->model->background, 5);
  QStringList lines;
  for (const ScoredClass& c : top)
    lines << QStringLiteral("%1  %2 %")
                 .arg(QString::fromStdString(short_name(last_result_->model->classes[c.index])))
                 .arg(100.0 * c.score, 0, 'f', 1);
  int w = 0;
  for (const QString& l : lines) w = std::max(w, fm.horizontalAdvance(l));
  const QRect panel(0, 0, w + 2 * fm.height() / 2,
                    static_cast<int>(lines.size()) * fm.height() + fm.height() / 2);
  p.fillRect(panel, QColor(0, 0, 0, 170));
  p.setPen(Qt::white);
  for (int i = 0; i < lines.size(); ++i)
    p.drawText(fm.height() / 2, fm.height() / 4 + i * fm.height() + fm.ascent(), lines[i]);
  return out;
}

bool MainWindow::saveAnnotatedImage(const QString& path) {
  const QImage image = annotatedImage();
  if (image.isNull()) {
    showError(tr("Nothing to save yet: open an image and wait for its result."));
    return false;
  }
  if (!image.save(path, "PNG")) {
    showError(tr("Cannot write %1: check that the folder exists and is writable.").arg(path));
    return false;
  }
  statusBar()->showMessage(tr("Saved %1").arg(path), 5000);
  return true;
}

bool MainWindow::saveDetections(const QString& path) {
  if (last_result_ && last_result_->oneshot && settings_.mode == Mode::Recognize) {
    // What `overfeat recognize --json --locate` writes for this image (one engine function).
    const OneShotAnswer& a = *last_result_->oneshot;
    const Recognition& rec = a.recognition;
    std::optional<Box> where;
    if (rec.cls >= 0 && rec.cls < static_cast<int>(a.localizations.size()))
      where = a.localizations[rec.cls].box;
    const nlohmann::json j =
        recognition_json(last_result_->frame.source.toStdString(), rec, a.names, true, where);
    const std::string text = nlohmann::json::array({j}).dump(2) + "\n";
    return writeTextFile(path, text);
  }
  if (!last_result_ || last_result_->mode == Mode::Classify) {
    showError(tr("No detections to save: switch to Detect (or Heat maps) first."));
    return false;
  }
  const std::string id = QFileInfo(last_result_->frame.source).completeBaseName().toStdString();
  const std::string text =
      detections_json(last_result_->detect.merged, last_result_->model->classes, id).dump(2) + "\n";
  return writeTextFile(path, text);
}

bool MainWindow::writeTextFile(const QString& path, const std::string& text) {
  QSaveFile file(path);  // written whole or not at all: never a half-written file
  if (!file.open(QIODevice::WriteOnly) ||
      file.write(text.data(), static_cast<qint64>(text.size())) !=
          static_cast<qint64>(text.size()) ||
      !file.commit()) {
    showError(tr("Cannot write %1: %2").arg(path, file.errorString()));
    return false;
  }
  statusBar()->showMessage(tr("Saved %1").arg(path), 5000);
  return true;
}

void MainWindow::copyToClipboard() {
  if (!last_result_) return;
  auto* data = new QMimeData;
  data->setImageData(annotatedImage());
  QStringList text;
  const ModelInfo& m = *last_result_->model;
  if (last_result_->mode != Mode::Classify && settings_.mode == Mode::Detect) {
    for (const Detection& d : last_result_->detect.merged)
      text << QStringLiteral("%1 %2 %3 %4 %5 %6")
                  .arg(QString::fromStdString(m.classes[d.cls]))
                  .arg(d.confidence, 0, 'f', 4)
                  .arg(d.box.x1, 0, 'f', 1)
                  .arg(d.box.y1, 0, 'f', 1)
                  .arg(d.box.x2, 0, 'f', 1)
                  .arg(d.box.y2, 0, 'f', 1);
  } else {
    for (const ScoredClass& c : top_foreground(last_result_->detect.class_probs, m.background, 5))
      text << QStringLiteral("%1 %2").arg(QString::fromStdString(m.classes[c.index])).arg(c.score);
  }
  data->setText(text.join('\n'));
  QApplication::clipboard()->setMimeData(data);
  statusBar()->showMessage(tr("Copied the image and the results"), 3000);
}

QString MainWindow::askSavePath(const QString& title, const QString& suffix,
                                const QString& filter) {
  const QString base = last_result_ ? QFileInfo(last_result_->frame.source).completeBaseName()
                                    : QStringLiteral("overfeat");
  return QFileDialog::getSaveFileName(this, title, QDir(settings_.last_dir).filePath(base + suffix),
                                      filter);
}

void MainWindow::saveImageDialog() {
  const QString path =
      askSavePath(tr("Save annotated image"), ".annotated.png", tr("PNG images (*.png)"));
  if (!path.isEmpty()) saveAnnotatedImage(path);
}

void MainWindow::saveDetectionsDialog() {
  const QString path = askSavePath(tr("Save detections"), ".detections.json", tr("JSON (*.json)"));
  if (!path.isEmpty()) saveDetections(path);
}

void MainWindow::openStoreDialog() {
  const QString f = QFileDialog::getOpenFileName(this, tr("Open learned classes"),
                                                 QString::fromStdString(oneshot_dir().string()),
                                                 tr("Learned classes (*.json);;All files (*)"));
  if (!f.isEmpty()) worker_->openStore(f);
}

void MainWindow::saveStoreDialog() {
  const QString f = QFileDialog::getSaveFileName(this, tr("Save learned classes"),
                                                 QString::fromStdString(oneshot_dir().string()),
                                                 tr("Learned classes (*.json)"));
  if (!f.isEmpty()) worker_->saveStoreAs(f);
}

void MainWindow::openDialog() {
  const QStringList files = QFileDialog::getOpenFileNames(
      this, tr("Open images"), settings_.last_dir,
      tr("Images (*.jpg *.jpeg *.png *.bmp *.ppm *.pgm *.tif *.tiff *.webp);;All files (*)"));
  if (!files.isEmpty()) openPaths(files);
}

void MainWindow::openFolderDialog() {
  const QString dir =
      QFileDialog::getExistingDirectory(this, tr("Open a folder of images"), settings_.last_dir);
  if (!dir.isEmpty()) openPaths({dir});
}

void MainWindow::openVideoDialog() {
  const QString file = QFileDialog::getOpenFileName(
      this, tr("Open a video"), settings_.last_dir,
      tr("Videos (*.mp4 *.avi *.mkv *.mov *.webm *.m4v *.mpg);;All files (*)"));
  if (!file.isEmpty()) openVideo(file);
}

// ---------------------------------------------------------------------------------------------
// Errors, statistics, window events

void MainWindow::showError(const QString& message) {
  showScopedError(message, ErrorScope::General);
}

void MainWindow::showScopedError(const QString& message, ErrorScope scope) {
  error_scope_ = scope;
  banner_text_->setText(message);
  banner_->show();
  emit errorShown(message);
}

void MainWindow::clearError() {
  error_scope_ = ErrorScope::General;
  banner_text_->clear();
  banner_->hide();
}

void MainWindow::markModelChoice() {
  const QString& choice = settings_.model.choice;
  QAction* checked = nullptr;
  for (const auto& [c, a] : model_actions_)
    if (c == choice) checked = a;
  const bool file = model_ && !checked;  // a model file: its own entry, named
  model_file_action_->setVisible(file);
  if (file) {
    model_file_action_->setText(tr("Model file: %1").arg(QFileInfo(choice).fileName()));
    checked = model_file_action_;
  }
  if (!model_) checked = nullptr;
  model_group_->setExclusive(false);
  for (QAction* a : model_group_->actions()) a->setChecked(a == checked);
  model_group_->setExclusive(true);
  half_action_->setChecked(model_ ? model_->half_weights : settings_.model.half_weights);
}

QString MainWindow::checkedModelEntry() const {
  for (const QAction* a : model_group_->actions())
    if (a->isChecked() && a->isVisible()) return a->text();
  return {};
}

QString MainWindow::errorText() const {
  return banner_->isHidden() ? QString() : banner_text_->text();
}

void MainWindow::displayAnalysisError(const QString& message, const QString& source) {
  if (!live_active_) statusBar()->clearMessage();
  showError(tr("Analysis of %1 failed: %2").arg(source, message));
}

QStringList MainWindow::timingRows() const {
  QStringList rows;
  for (int i = 0; i < timing_->topLevelItemCount(); ++i) {
    const QTreeWidgetItem* it = timing_->topLevelItem(i);
    rows << it->text(0) + "\t" + it->text(1) + "\t" + it->text(2);
  }
  return rows;
}

QString MainWindow::timingSummary() const {
  return timing_summary_->text();
}

QString MainWindow::statsText() const {
  return stats_label_->text();
}

void MainWindow::updateStats() {
  QStringList parts;
  if (live_active_) {
    parts << tr("camera %1 fps").arg(capture_->fps(), 0, 'f', 1)
          << tr("network %1 fps").arg(worker_->networkFps(), 0, 'f', 1);
    if (last_result_) parts << tr("latency %1 ms").arg(last_result_->latency_ms, 0, 'f', 0);
    if (last_result_ && last_result_->auto_scales)
      parts << tr("scales %1 (auto, for %2 fps)")
                   .arg(QString::fromStdString(last_result_->options.scales))
                   .arg(settings_.live_target_fps, 0, 'f', 0);
    parts << tr("dropped %1").arg(worker_->dropped() - dropped_at_start_);
  } else if (last_result_) {
    parts << tr("analysed in %1 ms").arg(last_result_->inference_ms, 0, 'f', 0);
  }
  stats_label_->setText(parts.join(QStringLiteral("  \u00b7  ")));
}

void MainWindow::closeEvent(QCloseEvent* event) {
  settings_.geometry = saveGeometry();
  settings_.window_state = saveState();
  settings_.opacity = inspector_->opacity();
  saveSettings();
  stopSource();
  event->accept();
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
  if (event->mimeData()->hasUrls()) event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
  QStringList paths;
  for (const QUrl& url : event->mimeData()->urls())
    if (url.isLocalFile()) paths << url.toLocalFile();
  if (paths.isEmpty()) {
    showError(tr("Only local files and folders can be dropped here."));
    return;
  }
  openPaths(paths);
  event->acceptProposedAction();
}

}  // namespace overfeat::studio
