// SPDX-License-Identifier: MIT
#include "inference.hpp"

#include <QMetaType>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "overfeat/device.hpp"
#include "overfeat/error.hpp"
#include "overfeat/graph_dense.hpp"
#include "overfeat/graph_executor.hpp"
#include "overfeat/graph_model.hpp"
#include "overfeat/graph_oneshot.hpp"
#include "overfeat/image.hpp"
#include "overfeat/live_scales.hpp"
#include "overfeat/network.hpp"
#include "overfeat/oneshot.hpp"
#include "overfeat/report.hpp"
#include "overfeat/weights.hpp"

namespace overfeat::studio {

QString mode_name(Mode mode) {
  switch (mode) {
    case Mode::Classify:
      return QStringLiteral("Classify");
    case Mode::Detect:
      return QStringLiteral("Detect");
    case Mode::Heatmaps:
      return QStringLiteral("Heat maps");
    case Mode::Recognize:
      return QStringLiteral("Recognize");
  }
  return {};
}

struct InferenceWorker::Engine {
  vk::ContextPtr ctx;
  Model model;  ///< for a classic network: its name, classes and window only
  std::unique_ptr<DenseEvaluator> evaluator;
  /// A classic network (an ONNX classifier without OverFeat metadata), run by graph_eval.
  std::unique_ptr<GraphModel> graph;
  std::unique_ptr<GraphDenseEvaluator> graph_eval;
  /// The layer view's network (every layer of one input), made on first use.
  std::unique_ptr<Network> network;
  std::unique_ptr<GraphExecutor> layer_exec;  ///< the same for a classic network
  /// A classic network's embeddings for one-shot learning, by graph_eval, made on first use.
  std::unique_ptr<GraphEmbedder> embedder;
  GraphEmbedder& graph_embedder() {
    if (!embedder) embedder = std::make_unique<GraphEmbedder>(*graph_eval, *graph);
    return *embedder;
  }
  /// An example for the store, from whichever kind of model this is.
  LearnedExample make_example(const Tensor& rgb, const std::optional<Box>& box,
                              const std::string& source) {
    if (graph) return graph_embedder().make_example(*store, rgb, box, source);
    return overfeat::make_example(*evaluator, *store, rgb, box, source);
  }
  /// The model's name as stores know it.
  const std::string& name() const { return graph ? graph->name : model.net.name; }
  /// The dense evaluator of whichever kind of model this is.
  DenseMethod& dense() const {
    return graph_eval ? static_cast<DenseMethod&>(*graph_eval) : *evaluator;
  }
  uint64_t activation_bytes() const { return dense().activation_bytes(); }
  ModelInfoPtr info;
  std::string fingerprint;              // of the model, ties learned classes to it
  std::unique_ptr<OneShotStore> store;  // the learned classes, saved at every change
  /// "auto" live scales: per model, and per target rate (a new rate starts a new climb).
  std::unique_ptr<LiveScaleGovernor> governor;
  ~Engine() {
    network.reset();
    layer_exec.reset();
    embedder.reset();
    evaluator.reset();  // device memory goes before the device
    graph_eval.reset();
    ctx.reset();
  }
};

namespace {
// The engine's messages are written for a terminal; the window shows them as they are.
QString message_of(const std::exception& e) {
  return QString::fromStdString(e.what()).trimmed();
}
}  // namespace

InferenceWorker::InferenceWorker(QObject* parent) : QObject(parent) {
  qRegisterMetaType<ModelInfoPtr>("overfeat::studio::ModelInfoPtr");
  qRegisterMetaType<ResultPtr>("overfeat::studio::ResultPtr");
  qRegisterMetaType<StoreSnapshotPtr>("overfeat::studio::StoreSnapshotPtr");
  thread_ = std::thread([this] { run(); });
}

InferenceWorker::~InferenceWorker() {
  {
    std::lock_guard lock(model_mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void InferenceWorker::loadModel(const ModelRequest& request) {
  {
    std::lock_guard lock(model_mutex_);
    model_request_ = request;
  }
  jobs_.clear();
  wake_.notify_all();
}

quint64 InferenceWorker::submit(Job job) {
  job.serial = ++serial_;
  const quint64 serial = job.serial;
  jobs_.put(std::move(job));
  // Notify under the lock the worker checks its predicate with, so the wake-up is never lost.
  std::lock_guard lock(model_mutex_);
  wake_.notify_all();
  return serial;
}

void InferenceWorker::cancelPending() {
  jobs_.clear();
}

double InferenceWorker::networkFps() const {
  std::lock_guard lock(fps_mutex_);
  const auto now = Clock::now();
  const auto window = std::chrono::seconds(2);
  auto first = std::find_if(finished_at_.begin(), finished_at_.end(),
                            [&](Clock::time_point t) { return now - t <= window; });
  const auto n = std::distance(first, finished_at_.end());
  if (n < 2) return n == 1 ? 0.5 : 0.0;
  // Rate over the span the results cover, stretched to now so a stalled network decays.
  const double span = std::max(ms_between(*first, now), 1.0);
  return 1000.0 * static_cast<double>(n - 1) / span;
}

void InferenceWorker::run() {
  for (;;) {
    std::optional<ModelRequest> request;
    std::function<void()> task;
    {
      std::unique_lock lock(model_mutex_);
      wake_.wait(lock,
                 [&] { return stop_ || model_request_ || !tasks_.empty() || jobs_.has_value(); });
      if (stop_) break;
      request.swap(model_request_);
      if (!request && !tasks_.empty()) {
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
    }
    if (request) {
      load(*request);
      continue;
    }
    if (task) {
      task();
      continue;
    }
    if (auto job = jobs_.try_take()) analyse(std::move(*job));
  }
  engine_.reset();
}

void InferenceWorker::load(const ModelRequest& request) {
  busy_ = true;
  try {
    emit modelLoading(5, tr("Looking for Vulkan devices"));
    QStringList devices;
    for (const vk::DeviceInfo& d : vk::list_devices())
      devices << QStringLiteral("%1: %2 (%3)")
                     .arg(d.index)
                     .arg(QString::fromStdString(d.name), QString::fromStdString(d.type));
    emit devicesFound(devices);

    auto engine = std::make_unique<Engine>();
    emit modelLoading(15, tr("Reading the model"));
    const std::filesystem::path dir =
        request.weights_dir.isEmpty() ? default_weights_dir()
                                      : std::filesystem::path(request.weights_dir.toStdString());
    std::string choice = request.choice.toStdString();
    if (choice == "bundled") {
      const auto path = bundled_model_path();
      if (path.empty())
        throw WeightFileError(
            "The bundled model is not installed (resources/models/overfeat-studio.onnx). "
            "Choose Model > Official fast net or Model > Open model file.");
      choice = path.string();
    }
    const std::filesystem::path file = choice;
    std::error_code ec;
    if (file.extension() == ".onnx" && std::filesystem::is_regular_file(file, ec) &&
        !is_overfeat_model_file(file)) {
      engine->graph = std::make_unique<GraphModel>(load_graph_model(file));
      engine->model.net = graph_net_spec(*engine->graph);
      engine->model.classes = engine->graph->classes;
    } else {
      engine->model = load_model_choice(choice, dir, Reader::App);  // messages name the menus
    }

    emit modelLoading(45, tr("Opening the Vulkan device"));
    vk::ContextOptions options;
    options.device = request.device.toStdString();
    options.half_weights = request.half_weights;
    engine->ctx = vk::open_context(options);
    // The file and the device are good: only now give up the current model (a bad choice keeps
    // it working), releasing its device memory before the next one is uploaded.
    loaded_ = false;
    engine_.reset();
    activation_bytes_ = 0;
    validation_base_ = validation_messages_.load();

    emit modelLoading(60, tr("Uploading weights and building pipelines"));
    if (engine->graph)
      engine->graph_eval = std::make_unique<GraphDenseEvaluator>(*engine->ctx, *engine->graph);
    else
      engine->evaluator = std::make_unique<DenseEvaluator>(*engine->ctx, engine->model);

    // Warm-up: one window-sized pass builds the pipelines and fills the pipeline cache, so the
    // first real frame is not the slow one.
    emit modelLoading(80, tr("Warming up"));
    const int window = engine->model.net.window;
    Tensor grey({3, window, window});
    std::fill(grey.data.begin(), grey.data.end(), 128.0f);
    engine->dense().evaluate(grey, {{window, window}});

    auto info = std::make_shared<ModelInfo>();
    const Model& m = engine->model;
    info->name = QString::fromStdString(m.net.name);
    info->classes = m.classes;
    info->background = m.background;
    info->regressor = m.regressor.has_value();
    info->offset_pooling = engine->dense().offsets() > 1;
    if (!engine->graph) {
      info->net = m.net;
      for (int i = 1; i <= m.net.num_layers(); ++i) {
        int c, h, w;
        m.net.layer_shape(i, m.net.window, m.net.window, c, h, w);
        info->layers.push_back({i, QString::fromStdString(m.net.modules[i - 1].name),
                                QString("%1 x %2 x %3").arg(c).arg(h).arg(w)});
      }
    } else {
      const graph::Graph& g = engine->graph->graph;
      const std::vector<graph::Shape> shapes =
          g.shapes(engine->graph->input_h, engine->graph->input_w);
      for (int i = 1; i < static_cast<int>(g.nodes.size()); ++i) {
        if (!shapes[i].valid()) continue;
        const std::string& n = g.nodes[i].name;
        info->layers.push_back(
            {i, n.empty() ? tr("node %1").arg(i) : QString::fromStdString(n),
             QString("%1 x %2 x %3").arg(shapes[i].c).arg(shapes[i].h).arg(shapes[i].w)});
      }
    }
    info->layer_view = !info->layers.empty();
    info->window = m.net.window;
    info->stride = engine->dense().cell_stride();
    info->device = QString::fromStdString(vk::capability_line(*engine->ctx));
    info->half_weights = vk::half_weights(*engine->ctx);
    info->weight_bytes = static_cast<quint64>(engine->dense().weight_bytes());
    const int foreground = static_cast<int>(m.classes.size()) - (m.background >= 0 ? 1 : 0);
    info->summary = tr("%1: %2 classes, %3-px window every %4 px, %5")
                        .arg(info->name)
                        .arg(foreground)
                        .arg(info->window)
                        .arg(info->stride)
                        .arg(info->regressor ? tr("box regressor")
                                             : tr("no box regressor (boxes are windows)"));
    if (engine->graph)
      info->summary = tr("%1: a classic network, %2 classes, %3x%4 input, a class map every %5 "
                         "px; boxes are windows; one-shot learning needs a model of OverFeat "
                         "Studio's format")
                          .arg(info->name)
                          .arg(foreground)
                          .arg(engine->graph->input_w)
                          .arg(engine->graph->input_h)
                          .arg(info->stride);
    if (info->weight_bytes)
      info->summary += tr("; %1 MB of weights on the device%2")
                           .arg(info->weight_bytes / 1048576.0, 0, 'f', 1)
                           .arg(info->half_weights ? tr(", the large layers' in fp16") : QString());
    engine->info = info;
    emit modelLoading(95, tr("Reading the learned classes"));
    engine->fingerprint =
        engine->graph ? graph_model_fingerprint(*engine->graph) : model_fingerprint(engine->model);
    engine_ = std::move(engine);
    loadStore();
    activation_bytes_ = engine_->activation_bytes();
    validation_messages_ = validation_base_ + vk::validation_messages(*engine_->ctx);
    loaded_ = true;
    emit modelLoading(100, tr("Ready"));
    emit modelReady(info);
  } catch (const VulkanUnavailable& e) {
    emit modelFailed(tr("No usable Vulkan device. %1").arg(message_of(e)));
  } catch (const std::exception& e) {
    emit modelFailed(message_of(e));
  }
  busy_ = false;
}

void InferenceWorker::recognizeFrame(Result& result, const Tensor& rgb) {
  Engine& e = *engine_;
  const OneShotStore& store = *e.store;
  DetectOptions& o = result.options;
  o.dense.boxes = false;
  o.dense.feature_layer = store.identity().feature_layer;
  const auto t0 = Clock::now();
  auto answer = std::make_shared<OneShotAnswer>();
  for (const LearnedClass& c : store.classes()) answer->names.push_back(c.name);
  // The rule of `overfeat recognize` (recognize_frame): the whole frame and every window.
  FrameAnswer a =
      e.graph
          ? recognize_frame(e.graph_embedder(), *e.graph_eval, store, rgb, std::nullopt, o.scales)
          : recognize_frame(*e.evaluator, store, rgb, std::nullopt, o.scales, o.dense);
  if (a.dense.maps.empty())  // nothing taught: the maps still show the frame's classes
    a.dense = e.graph ? e.graph_eval->evaluate(
                            rgb, parse_scales(o.scales, e.model.net, rgb.h, rgb.w), false)
                      : e.evaluator->evaluate(
                            rgb, parse_scales(o.scales, e.model.net, rgb.h, rgb.w), o.dense);
  result.detect.dense = std::move(a.dense);
  result.detect.class_probs = classify(result.detect.dense);
  answer->recognition = std::move(a.recognition);
  answer->localizations = std::move(a.localizations);
  result.detect.timings.total_ms = ms_between(t0, Clock::now());
  result.oneshot = std::move(answer);
}

void InferenceWorker::post(std::function<void()> task) {
  {
    std::lock_guard lock(model_mutex_);
    tasks_.push_back(std::move(task));
  }
  wake_.notify_all();
}

void InferenceWorker::loadStore() {
  Engine& e = *engine_;
  const auto path = default_store_path(e.name(), e.fingerprint);
  std::error_code ec;
  try {
    if (std::filesystem::exists(path, ec)) {
      auto store = std::make_unique<OneShotStore>(OneShotStore::load(path));
      store->check_model(e.name(), e.fingerprint);
      e.store = std::move(store);
    }
  } catch (const std::exception& ex) {
    emit storeFailed(tr("The learned classes in %1 could not be used: %2\nNew examples start a "
                        "new set (the file is kept until then).")
                         .arg(QString::fromStdString(path.string()), message_of(ex)));
  }
  if (!e.store) {
    try {
      e.store = std::make_unique<OneShotStore>(
          e.graph ? graph_store(*e.graph, e.fingerprint, graph_feature_node(*e.graph, ""))
                  : OneShotStore::for_model(e.model, e.fingerprint));
    } catch (const std::exception& ex) {
      emit storeFailed(
          tr("One-shot learning is not available with this model: %1").arg(message_of(ex)));
      return;
    }
  }
  store_path_ = QString::fromStdString(path.string());
  publishStore();
}

void InferenceWorker::publishStore() {
  if (!engine_ || !engine_->store) return;
  const OneShotStore& store = *engine_->store;
  auto snap = std::make_shared<StoreSnapshot>();
  snap->path = store_path_;
  const StoreIdentity& id = store.identity();
  snap->identity = tr("%1, %2").arg(QString::fromStdString(id.model_name),
                                    QString::fromStdString(id.layer_name));
  snap->threshold = store.effective_calibration().threshold;
  for (const LearnedClass& c : store.classes()) {
    LearnedSummary s;
    s.name = QString::fromStdString(c.name);
    s.examples = static_cast<int>(c.examples.size());
    for (const LearnedExample& e : c.examples)
      s.thumbnails.push_back(
          e.thumbnail.empty()
              ? QImage()
              : QImage::fromData(e.thumbnail.data(), static_cast<int>(e.thumbnail.size()), "PNG"));
    if (!s.thumbnails.empty()) s.thumbnail = s.thumbnails.back();
    snap->classes.push_back(std::move(s));
  }
  snap->linear = store.uses_classifier();  // fitted when first needed, not here
  emit storeChanged(snap);
}

void InferenceWorker::saveStore() {
  engine_->store->save(store_path_.toStdString());
}

void InferenceWorker::teach(const QImage& image, const std::optional<Box>& box, const QString& name,
                            const QString& source) {
  post([this, image, box, name, source] {
    try {
      if (!engine_ || !engine_->store)
        throw Error("No model is loaded: choose one in the Model menu first.");
      if (name.trimmed().isEmpty()) throw Error("Type a name for what you are teaching.");
      busy_ = true;
      OneShotStore& store = *engine_->store;
      LearnedExample example = engine_->make_example(to_tensor(image), box, source.toStdString());
      const std::string key = name.trimmed().toStdString();
      store.add_example(key, std::move(example));
      saveStore();
      busy_ = false;
      publishStore();
      emit taught(name.trimmed(),
                  static_cast<int>(store.classes()[store.find(key)].examples.size()));
    } catch (const std::exception& e) {
      busy_ = false;
      emit storeFailed(tr("Could not teach \"%1\": %2").arg(name, message_of(e)));
    }
  });
}

void InferenceWorker::renameLearned(const QString& old_name, const QString& new_name) {
  post([this, old_name, new_name] {
    try {
      if (!engine_ || !engine_->store) return;
      engine_->store->rename(old_name.toStdString(), new_name.trimmed().toStdString());
      saveStore();
    } catch (const std::exception& e) {
      emit storeFailed(tr("Could not rename \"%1\": %2").arg(old_name, message_of(e)));
    }
    publishStore();
  });
}

void InferenceWorker::forgetLearned(const QString& name) {
  post([this, name] {
    try {
      if (!engine_ || !engine_->store) return;
      engine_->store->remove(name.toStdString());
      saveStore();
    } catch (const std::exception& e) {
      emit storeFailed(tr("Could not forget \"%1\": %2").arg(name, message_of(e)));
    }
    publishStore();
  });
}

void InferenceWorker::removeExample(const QString& name, int index) {
  post([this, name, index] {
    try {
      if (!engine_ || !engine_->store) return;
      engine_->store->remove_example(name.toStdString(), index);
      saveStore();
    } catch (const std::exception& e) {
      emit storeFailed(
          tr("Could not remove example %1 of \"%2\": %3").arg(index + 1).arg(name, message_of(e)));
    }
    publishStore();
  });
}

void InferenceWorker::setOneShotThreshold(float threshold) {
  post([this, threshold] {
    try {
      if (!engine_ || !engine_->store) return;
      Calibration c = engine_->store->effective_calibration();
      c.threshold = threshold;
      engine_->store->calibration = c;
      saveStore();
    } catch (const std::exception& e) {
      emit storeFailed(message_of(e));
    }
    publishStore();
  });
}

void InferenceWorker::openStore(const QString& path) {
  post([this, path] {
    try {
      if (!engine_) throw Error("No model is loaded: choose one in the Model menu first.");
      auto store = std::make_unique<OneShotStore>(OneShotStore::load(path.toStdString()));
      store->check_model(engine_->name(), engine_->fingerprint);
      engine_->store = std::move(store);
      store_path_ = path;
    } catch (const std::exception& e) {
      emit storeFailed(tr("Could not open the learned classes %1: %2").arg(path, message_of(e)));
    }
    publishStore();
  });
}

void InferenceWorker::saveStoreAs(const QString& path) {
  post([this, path] {
    try {
      if (!engine_ || !engine_->store) throw Error("No model is loaded.");
      engine_->store->save(path.toStdString());
      store_path_ = path;
    } catch (const std::exception& e) {
      emit storeFailed(tr("Could not save the learned classes to %1: %2").arg(path, message_of(e)));
    }
    publishStore();
  });
}

void InferenceWorker::taughtFrame(Result& result, const Tensor& rgb) {
  if (!engine_->store) throw Error("One-shot learning is not available with this model.");
  const OneShotStore& store = *engine_->store;
  if (store.empty())
    throw Error(
        "Nothing taught yet: teach a class in the Teach panel, or turn off \"Taught "
        "classes in every mode\" there.");
  const DetectOptions& o = result.options;
  result.detect = engine_->graph
                      ? detect_taught(*engine_->graph_eval, store, rgb,
                                      parse_scales(o.scales, engine_->model.net, rgb.h, rgb.w), o)
                      : detect_taught(*engine_->evaluator, store, rgb, o);
  auto info = std::make_shared<ModelInfo>(*engine_->info);
  info->classes.clear();
  for (const LearnedClass& c : store.classes()) info->classes.push_back(c.name);
  info->background = -1;
  info->regressor = false;
  info->summary = tr("%1, answering with the taught classes (%2)")
                      .arg(engine_->info->name)
                      .arg(store.classes().size());
  result.model = info;
  result.taught = true;
}

void InferenceWorker::computeLayer(Result& result, const Tensor& rgb, int layer) {
  if (engine_->graph) {  // a classic network: its input size, any node
    const GraphModel& gm = *engine_->graph;
    const graph::Graph& g = gm.graph;
    if (layer < 1 || layer >= static_cast<int>(g.nodes.size())) {
      result.layer_error = tr("This network has nodes 1 to %1.").arg(g.nodes.size() - 1);
      return;
    }
    if (!engine_->layer_exec)
      engine_->layer_exec =
          std::make_unique<GraphExecutor>(*engine_->ctx, g.structure(), GraphExecutor::lending(g));
    const std::map<int, Tensor> out = engine_->layer_exec->run(
        preprocess(gm.pre, image::resize(rgb, gm.input_h, gm.input_w)), {layer});
    auto a = std::make_shared<LayerActivations>();
    a->layer = layer;
    a->name = QString::fromStdString(g.nodes[layer].name);
    a->maps = out.at(layer);
    a->input_h = gm.input_h;
    a->input_w = gm.input_w;
    a->frame_per_input_x = static_cast<double>(rgb.w) / gm.input_w;
    a->frame_per_input_y = static_cast<double>(rgb.h) / gm.input_h;
    const CellGeometry cg = cell_geometry(g, layer);
    a->x0 = a->y0 = cg.center0;
    a->step = cg.stride;
    a->field = cg.field;
    a->gpu_ms = engine_->layer_exec->last_gpu_ms();
    result.layer = std::move(a);
    return;
  }
  const NetSpec& net = engine_->model.net;
  if (layer < 1 || layer > net.num_layers()) {
    result.layer_error = tr("This model has layers 1 to %1.").arg(net.num_layers());
    return;
  }
  if (!engine_->network)
    engine_->network =
        std::make_unique<Network>(*engine_->ctx, engine_->model.net, engine_->model.weights);
  // The frame as it is when its smaller side is one to one and a half windows; else resized to
  // the nearer bound (maps big enough to see, a pass short enough for live video).
  const int side = std::min(rgb.h, rgb.w);
  const double k = side < net.window           ? static_cast<double>(net.window) / side
                   : side > net.window * 3 / 2 ? static_cast<double>(net.window * 3 / 2) / side
                                               : 1.0;
  const int h = std::max(net.window, static_cast<int>(std::lround(rgb.h * k)));
  const int w = std::max(net.window, static_cast<int>(std::lround(rgb.w * k)));
  const ForwardResult f =
      engine_->network->forward(k == 1.0 ? rgb : image::resize(rgb, h, w), {layer});
  auto a = std::make_shared<LayerActivations>();
  a->layer = layer;
  a->name = QString::fromStdString(net.modules[layer - 1].name);
  a->maps = f.layers.at(layer);
  a->input_h = h;
  a->input_w = w;
  a->frame_per_input_x = static_cast<double>(rgb.w) / w;
  a->frame_per_input_y = static_cast<double>(rgb.h) / h;
  int y0, y1, x0, x1;
  net.receptive_field(layer, 0, 0, y0, y1, x0, x1);
  a->x0 = (x0 + x1) / 2.0;
  a->y0 = (y0 + y1) / 2.0;
  a->field = x1 - x0;
  a->step = output_stride(net.modules, 0, layer);
  a->gpu_ms = f.gpu_ms;
  result.layer = std::move(a);
}

void InferenceWorker::analyse(Job job) {
  if (!engine_) {
    emit analysisFailed(tr("No model is loaded yet: choose one in the Model menu."),
                        job.frame.source);
    return;
  }
  busy_ = true;
  const auto t0 = Clock::now();
  try {
    auto result = std::make_shared<Result>();
    result->frame = job.frame;
    result->mode = job.mode;
    result->options = job.options;
    result->model = engine_->info;
    result->serial = job.serial;
    DetectOptions& o = result->options;
    if (job.mode == Mode::Classify) o.dense.boxes = false;  // the regressor is not needed
    if (job.mode == Mode::Recognize && !engine_->store)
      throw Error("One-shot learning is not available with this model.");
    const Tensor rgb = to_tensor(job.frame.image);
    LiveScaleGovernor* governor = nullptr;
    if (o.scales == "auto") {  // live frames: the scales the frame budget allows
      auto& g = engine_->governor;
      if (!g || g->target_fps() != job.target_fps)
        g = std::make_unique<LiveScaleGovernor>(engine_->model.net, job.target_fps);
      governor = g.get();
      o.scales = g->scales();
      result->auto_scales = true;
    }
    if (job.mode == Mode::Recognize) {
      recognizeFrame(*result, rgb);
    } else if (job.taught) {
      taughtFrame(*result, rgb);
    } else {
      result->detect =
          engine_->graph_eval
              ? detect_in_maps(engine_->graph_eval->evaluate(
                                   rgb, parse_scales(o.scales, engine_->model.net, rgb.h, rgb.w),
                                   o.dense.flip, -1, o.dense.fine),
                               {}, o)
              : detect(*engine_->evaluator, rgb, o);
    }
    if (const int d = delay_ms_.load(); d > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(d));
    const auto t1 = Clock::now();
    result->inference_ms = ms_between(t0, t1);
    result->latency_ms = ms_between(job.frame.captured, t1);
    if (governor) governor->frame_done(o.scales, result->inference_ms);
    if (job.layer > 0) {
      try {  // the layer view's own pass: its failure must not cost the frame's result
        computeLayer(*result, rgb, job.layer);
      } catch (const std::exception& e) {
        engine_->network.reset();  // e.g. out of device memory: give back what it took
        engine_->layer_exec.reset();
        result->layer_error = tr("The layer view could not run: %1").arg(message_of(e));
      }
    }
    activation_bytes_ = engine_->activation_bytes();
    validation_messages_ = validation_base_ + vk::validation_messages(*engine_->ctx);
    {
      std::lock_guard lock(fps_mutex_);
      finished_at_.push_back(t1);
      while (finished_at_.size() > 64) finished_at_.erase(finished_at_.begin());
    }
    ++completed_;
    busy_ = false;
    emit resultReady(result);
  } catch (const OutOfDeviceMemory& e) {
    busy_ = false;
    emit analysisFailed(tr("%1\nUse fewer or smaller scales (Settings), or a device with more "
                           "memory.")
                            .arg(message_of(e)),
                        job.frame.source);
  } catch (const std::exception& e) {
    busy_ = false;
    emit analysisFailed(message_of(e), job.frame.source);
  }
}

}  // namespace overfeat::studio
