// SPDX-License-Identifier: MIT
// Models whose weights are built by hand, so that the right outputs are known exactly.
#pragma once
#include "overfeat/model.hpp"
#include "overfeat/tensor.hpp"

namespace overfeat::testing {

// Objects are 32x32 red squares with a 4x4 green marker at their top-left corner, on black, at
// positions on the 4-pixel grid. conv1 (4x4, stride 4) is a marker detector: exactly one
// pre-pool cell fires, so exactly one pooled cell fires at every pooling offset. The classifier
// (8x8 pooled cells = a 64-pixel window) says "square" when the marker lies in the window's
// central 3x3 cells, i.e. the whole object is inside. The regressor's first layer computes the
// marker's position in the window (sum of cell coordinates weighted by the one-hot map), the
// second passes it on, the last adds the object's size: a box accurate to the pooled cell's
// 4-pixel ambiguity, whatever the window.

inline Model marker_model() {
  Model m;
  m.net = NetSpec::parse("markers", "conv:1:4:4 relu pool:2 conv:2:8:1");
  m.net.mean = 0;
  m.net.stddev = 1;
  m.classes = {"background", "square"};
  m.background = 0;
  ConvWeights c1{1, 3, 4};
  for (int ch = 0; ch < 3; ++ch)
    for (int i = 0; i < 16; ++i) c1.w.push_back((ch == 1 ? 1.0f : -1.0f) / (16 * 255.0f));
  c1.b = {0};
  ConvWeights cls{2, 1, 8};
  cls.w.assign(2 * 64, 0.0f);
  for (int i = 1; i <= 3; ++i)
    for (int j = 1; j <= 3; ++j) cls.w[64 + i * 8 + j] = 10;
  cls.b = {0, -5};
  m.weights.convs = {c1, cls};
  Head reg;
  reg.modules = NetSpec::parse("reg", "conv:2:8:1 relu conv:2:1:1 relu conv:4:1:1").modules;
  ConvWeights r1{2, 1, 8};
  for (int e = 0; e < 2; ++e)
    for (int i = 0; i < 8; ++i)
      for (int j = 0; j < 8; ++j) r1.w.push_back(8.0f * (e == 0 ? j : i) + 2);
  r1.b = {0, 0};
  ConvWeights r2{2, 2, 1, {1, 0, 0, 1}, {0, 0}};
  ConvWeights r3{4, 2, 1, {1, 0, 0, 1, 1, 0, 0, 1}, {0, 0, 32, 32}};
  reg.convs = {r1, r2, r3};
  m.regressor = reg;
  m.validate();
  return m;
}

inline void draw_object(Tensor& img, int x, int y) {
  for (int yy = y; yy < y + 32; ++yy)
    for (int xx = x; xx < x + 32; ++xx) {
      const bool marker = yy < y + 4 && xx < x + 4;
      img.at(0, yy, xx) = marker ? 0 : 255;
      img.at(1, yy, xx) = marker ? 255 : 0;
      img.at(2, yy, xx) = 0;
    }
}

}  // namespace overfeat::testing
