// SPDX-License-Identifier: MIT
// OverFeat Studio: see what a convolutional network sees.
#include <QApplication>
#include <QCommandLineParser>
#include <QDockWidget>
#include <QTimer>

#include <cstdio>
#include <string>

#include "app_identity.hpp"
#include "layer_view.hpp"
#include "main_window.hpp"

using overfeat::studio::MainWindow;
using overfeat::studio::Mode;
using overfeat::studio::ResultPtr;

namespace {

struct Options {
  QCommandLineParser cli;
  QCommandLineOption mode{
      {"m", "mode"}, "Start in MODE: classify, detect, heatmaps or recognize.", "MODE"};
  QCommandLineOption video{"video", "Play FILE as the live source.", "FILE"};
  QCommandLineOption camera{"camera", "Open the first camera found."};
  QCommandLineOption screenshot{"screenshot",
                                "Save a screenshot of the window to FILE after the first result "
                                "(after N results with --results N), then quit.",
                                "FILE"};
  QCommandLineOption results{"results", "Results to wait for before --screenshot.", "N", "1"};
  QCommandLineOption size{"size", "Window size WxH.", "WxH"};
  QCommandLineOption layers{"layers",
                            "Open the Layers tab on LAYER (the release's numbering), e.g. 2 for "
                            "the first ReLU.",
                            "LAYER"};
  QCommandLineOption unit{"unit", "With --layers: show unit U (from 1) over the frame.", "U"};

  Options() {
    cli.setApplicationDescription(
        "OverFeat Studio: classification, detection, heat maps and one-shot recognition of "
        "the OverFeat network, live.");
    cli.addHelpOption();
    cli.addVersionOption();
    cli.addOptions({mode, video, camera, screenshot, results, size, layers, unit});
    cli.addPositionalArgument("paths", "Images, folders or a video to open.", "[paths...]");
  }
};

void set_identity() {
  QCoreApplication::setOrganizationName("OverFeat Studio");
  QCoreApplication::setApplicationName("OverFeat Studio");
  QCoreApplication::setApplicationVersion(OVERFEAT_STUDIO_VERSION);
}

}  // namespace

int main(int argc, char** argv) {
  // --help and --version need no display: answered before the GUI starts (which aborts
  // without one).
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help" || a == "--help-all" || a == "-v" || a == "--version") {
      QCoreApplication core(argc, argv);
      set_identity();
      Options o;
      o.cli.process(core);  // prints and exits
    }
  }
  QApplication app(argc, argv);
  set_identity();
  QGuiApplication::setDesktopFileName(overfeat::studio::kDesktopId);
  QApplication::setWindowIcon(overfeat::studio::appIcon());

  Options o;
  QCommandLineParser& cli = o.cli;
  const QCommandLineOption &mode = o.mode, &video = o.video, &camera = o.camera,
                           &screenshot = o.screenshot, &results = o.results, &size = o.size;
  cli.process(app);

  MainWindow window;
  if (cli.isSet(size)) {
    const QStringList wh = cli.value(size).split('x');
    if (wh.size() == 2) window.resize(wh[0].toInt(), wh[1].toInt());
  }
  if (cli.isSet(mode)) {
    const QString m = cli.value(mode).toLower();
    if (m.startsWith("c"))
      window.setMode(Mode::Classify);
    else if (m.startsWith("d"))
      window.setMode(Mode::Detect);
    else if (m.startsWith("h"))
      window.setMode(Mode::Heatmaps);
    else if (m.startsWith("r"))
      window.setMode(Mode::Recognize);
    else {
      std::fprintf(stderr,
                   "overfeat-studio: unknown mode '%s' (classify, detect, heatmaps, recognize)\n",
                   qPrintable(m));
      return 2;
    }
  }
  // Errors go to the terminal too, for a user who started the app from one (and named a file).
  QObject::connect(&window, &MainWindow::errorShown, [](const QString& message) {
    std::fprintf(stderr, "overfeat-studio: %s\n", qPrintable(message));
  });
  window.show();
  if (cli.isSet(o.layers)) {
    window.layerDock()->show();
    window.layerDock()->raise();
    window.layerView()->setLayer(cli.value(o.layers).toInt());
    if (cli.isSet(o.unit))  // once the model and a result are there
      QObject::connect(&window, &MainWindow::resultShown, &window,
                       [&window, u = cli.value(o.unit).toInt() - 1](ResultPtr) {
                         if (window.layerView()->unit() < 0) window.layerView()->setUnit(u);
                       });
  }
  // Not for scripted screenshots: a modal dialog would be all they show.
  if (!cli.isSet(screenshot)) window.showFirstRunHelp();
  if (!cli.positionalArguments().isEmpty()) window.openPaths(cli.positionalArguments());
  if (cli.isSet(video)) window.openVideo(cli.value(video));
  if (cli.isSet(camera)) window.openDefaultCamera();

  if (cli.isSet(screenshot)) {
    const QString file = cli.value(screenshot);
    const int wanted = std::max(1, cli.value(results).toInt());
    auto shots = std::make_shared<int>(0);
    auto grab = [&window, file] {
      const bool ok = window.grab().save(file);
      std::fprintf(stderr, "overfeat-studio: %s %s\n", ok ? "saved" : "could not save",
                   qPrintable(file));
      QApplication::exit(ok ? 0 : 1);
    };
    QObject::connect(&window, &MainWindow::resultShown, &window,
                     [&window, shots, wanted, grab](ResultPtr) {
                       if (++*shots == wanted) QTimer::singleShot(300, &window, grab);
                     });
    // A model that fails to load still gets its screenshot: the error is what there is to see.
    QObject::connect(&window, &MainWindow::modelChanged, &window, [&window, grab](bool loaded) {
      if (!loaded) QTimer::singleShot(300, &window, grab);
    });
  }
  return app.exec();
}
