// SPDX-License-Identifier: MIT
// `overfeat`: a drop-in for the original release's command, plus subcommands.
#include <cstring>
#include <iostream>
#include <new>
#include <string>

#include "common.hpp"
#include "overfeat/error.hpp"

int main(int argc, char** argv) {
  using namespace overfeat;
  try {
    const std::string sub = argc > 1 ? argv[1] : "";
    if (sub == "bench" && argc > 2 && std::strcmp(argv[2], "dense") == 0)
      return cli::run_bench_dense(argc - 2, argv + 2);
    if (sub == "bench" && argc > 2 && std::strcmp(argv[2], "oneshot") == 0)
      return cli::run_bench_oneshot(argc - 2, argv + 2);
    if (sub == "bench" && argc > 2 && std::strcmp(argv[2], "soak") == 0)
      return cli::run_bench_soak(argc - 2, argv + 2);
    if (sub == "bench" && argc > 2 && std::strcmp(argv[2], "live") == 0)
      return cli::run_bench_live(argc - 2, argv + 2);
    if (sub == "bench") return cli::run_bench(argc - 1, argv + 1);
    if (sub == "classify") return cli::run_classify(argc - 1, argv + 1);
    if (sub == "detect") return cli::run_detect(argc - 1, argv + 1);
    if (sub == "heatmap") return cli::run_heatmap(argc - 1, argv + 1);
    if (sub == "eval") return cli::run_eval(argc - 1, argv + 1);
    if (sub == "learn") return cli::run_learn(argc - 1, argv + 1);
    if (sub == "recognize") return cli::run_recognize(argc - 1, argv + 1);
    if (sub == "learned") return cli::run_learned(argc - 1, argv + 1);
    if (sub == "weights") return cli::run_weights(argc - 1, argv + 1);
    if (sub == "devices" || sub == "--list-devices") return cli::run_devices(argc - 1, argv + 1);
    return cli::run_release(argc, argv);
  } catch (const VulkanUnavailable& e) {
    std::cerr << "overfeat: " << e.what() << "\n";
    return 3;
  } catch (const WeightFileError& e) {
    std::cerr << "overfeat: " << e.what() << "\n";
    return 4;
  } catch (const ImageError& e) {
    std::cerr << "overfeat: " << e.what() << "\n";
    return 5;
  } catch (const std::bad_alloc&) {
    std::cerr << "overfeat: out of memory: the model or the inputs need more memory than this "
                 "machine has; try a smaller model, fewer or smaller scales (--scales), or smaller "
                 "images\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "overfeat: " << e.what() << "\n";
    return 1;
  }
}
