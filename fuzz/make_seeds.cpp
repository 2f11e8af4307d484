// SPDX-License-Identifier: MIT
// Writes the fuzz targets' seed corpora at build time, with the engine's own writers, so that no
// binary seed is committed: make_seeds OUT_DIR creates
// OUT_DIR/{model,graph,ppm,store,weights,archive}.
#include <archive.h>
#include <archive_entry.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "../tests/constructed_models.hpp"
#include "overfeat/error.hpp"
#include "overfeat/model.hpp"
#include "overfeat/oneshot.hpp"
#include "overfeat/weights.hpp"
#include "tiny_weights.hpp"

namespace fs = std::filesystem;
using namespace overfeat;

namespace {

void write_file(const fs::path& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << bytes;
  if (!out) throw Error("cannot write " + file.string());
}

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// A P6 image of w x h pixels with a gradient, optionally with a comment in its header.
std::string ppm(int w, int h, bool comment) {
  std::string s = "P6\n";
  if (comment) s += "# made by make_seeds\n";
  s += std::to_string(w) + " " + std::to_string(h) + "\n255\n";
  for (int i = 0; i < w * h * 3; ++i) s += static_cast<char>((i * 37) & 0xff);
  return s;
}

void models(const fs::path& dir) {
  Model m = testing::marker_model();
  m.metadata["description"] = "fuzz seed";
  save_model(m, dir / "markers-f32.onnx");
  save_model(m, dir / "markers-f16.onnx", WeightStorage::Float16);
  m.regressor.reset();
  save_model(m, dir / "classifier-only.onnx");
}

void ppms(const fs::path& dir) {
  write_file(dir / "one.ppm", ppm(3, 2, false));
  write_file(dir / "stream.ppm", ppm(2, 2, true) + "\n" + ppm(1, 3, false) + ppm(4, 1, false));
  const std::string full = ppm(5, 5, false);
  write_file(dir / "truncated.ppm", full.substr(0, full.size() - 7));
}

void stores(const fs::path& dir) {
  StoreIdentity id;
  id.model_name = "markers";
  id.fingerprint = "0123456789abcdef";
  id.feature_layer = 3;
  id.layer_name = "layer 3 (pool)";
  id.framing = Framing::Square;
  OneShotStore s(id);
  Tensor img(3, 6, 8);
  for (size_t i = 0; i < img.data.size(); ++i) img.data[i] = static_cast<float>((i * 11) % 256);
  for (int k = 0; k < 3; ++k) {
    LearnedExample e;
    e.embedding = {1, 0.5f * k, 0, -1, 0.25f, 0, 0, 2};
    e.thumbnail = k == 0 ? make_thumbnail(img, std::nullopt, 8) : std::vector<uint8_t>{};
    e.source = "seed" + std::to_string(k) + ".png";
    e.time = "2026-12-05T00:00:00Z";
    s.add_example(k == 2 ? "dog" : "cat", e);
  }
  s.save(dir / "two-classes.json");
  s.calibration = default_calibration();
  s.save(dir / "calibrated.json");
}

void weights(const fs::path& dir) {
  for (int net = 0; net < 2; ++net) {
    const auto tmp = dir / "tmp";
    save_weights(tmp, random_weights(fuzz::tiny_spec(net), 7 + net));
    const std::string bytes = read_file(tmp);
    fs::remove(tmp);
    const std::string select(1, static_cast<char>(net));
    write_file(dir / ("net" + std::to_string(net) + "-ok"), select + bytes);
    write_file(dir / ("net" + std::to_string(net) + "-short"),
               select + bytes.substr(0, bytes.size() / 2));
  }
}

struct Member {
  std::string name, bytes;
};

std::string archive_bytes(const std::vector<Member>& members, bool gzip, bool zip) {
  std::vector<char> buffer(1 << 20);
  size_t used = 0;
  archive* a = archive_write_new();
  if (zip)
    archive_write_set_format_zip(a);
  else
    archive_write_set_format_pax_restricted(a);
  if (gzip) archive_write_add_filter_gzip(a);
  if (archive_write_open_memory(a, buffer.data(), buffer.size(), &used) != ARCHIVE_OK)
    throw Error("archive_write_open_memory failed");
  for (const Member& m : members) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, m.name.c_str());
    archive_entry_set_size(e, static_cast<la_int64_t>(m.bytes.size()));
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    if (archive_write_header(a, e) != ARCHIVE_OK ||
        archive_write_data(a, m.bytes.data(), m.bytes.size()) !=
            static_cast<la_ssize_t>(m.bytes.size()))
      throw Error(std::string("writing an archive: ") + archive_error_string(a));
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return std::string(buffer.data(), used);
}

void archives(const fs::path& dir) {
  std::vector<Member> good;
  for (const auto& f : fuzz::tiny_weight_files())
    good.push_back({"data/default/" + f.name, std::string(f.bytes, '\x01')});
  good.push_back({"README", "the official weights\n"});
  const std::string tgz = archive_bytes(good, true, false);
  write_file(dir / "weights.tgz", tgz);
  write_file(dir / "truncated.tgz", tgz.substr(0, tgz.size() / 2));
  write_file(dir / "weights.tar", archive_bytes(good, false, false));
  write_file(dir / "weights.zip", archive_bytes(good, false, true));
  write_file(dir / "short-member.tgz",
             archive_bytes({{"./net_weight_0", std::string(10, '\0')}}, true, false));
}

// The graph importer's seeds: the project's own model files (Conv, Relu, MaxPool, Pad, Cast) and,
// where Debian's libonnx-testdata is installed, ONNX's small conformance models (every op).
void graphs(const fs::path& dir) {
  models(dir);
  std::error_code ec;
  for (const char* set : {"node", "pytorch-converted", "pytorch-operator"}) {
    const fs::path root = fs::path("/usr/share/libonnx-testdata/data") / set;
    if (!fs::is_directory(root, ec)) continue;
    for (const auto& c : fs::directory_iterator(root, ec)) {
      const fs::path model = c.path() / "model.onnx";
      if (fs::is_regular_file(model, ec) && fs::file_size(model, ec) < 16384)
        fs::copy_file(model,
                      dir / (std::string(set) + "-" + c.path().filename().string() + ".onnx"), ec);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds OUT_DIR\n");
    return 2;
  }
  const fs::path out = argv[1];
  try {
    for (const char* sub : {"model", "graph", "ppm", "store", "weights", "archive"}) {
      fs::remove_all(out / sub);
      fs::create_directories(out / sub);
    }
    models(out / "model");
    graphs(out / "graph");
    ppms(out / "ppm");
    stores(out / "store");
    weights(out / "weights");
    archives(out / "archive");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
