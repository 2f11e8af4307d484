#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""PyTorch doing the bundled model's dense evaluation of one frame, for the ratio of issue 15:
the trunk once, the last max pooling at each of its k x k offsets (fine stride), and on each
offset's map the classifier (with softmax) and the box regressor. Traced, frozen and
optimize_for_inference'd as bench/pytorch_reference.py does; CPU, --threads threads.

    /usr/bin/python3 bench/pytorch_dense.py --size 240x320 --json
    build/tools/overfeat/overfeat bench dense -m bundled --scales 240x320   # ours, same work

The model file must be of the project's own architecture (tools/train/model.py), as the
bundled one is.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools" / "train"))
from model import TrainNet  # noqa: E402


class Dense(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.trunk = net.trunk[:-1]  # up to the last pooling, which runs per offset
        pool = net.trunk[-1]
        self.k = pool.kernel_size if isinstance(pool.kernel_size, int) else pool.kernel_size[0]
        self.classifier, self.regressor = net.classifier, net.regressor

    def forward(self, x):
        t = self.trunk(x)
        outs = []
        for dy in range(self.k):
            for dx in range(self.k):
                p = F.max_pool2d(t[:, :, dy:, dx:], self.k)
                outs.append(F.softmax(self.classifier(p), 1))
                outs.append(self.regressor(p))
        return tuple(outs)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=str(REPO / "resources" / "models" / "overfeat-studio.onnx"))
    p.add_argument("--size", default="240x320", help="input HxW (default: %(default)s)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--device", default="cpu", help="cpu, or cuda for a GPU peer")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    import onnx

    h, w = (int(v) for v in a.size.lower().split("x"))
    classes = onnx.load(a.model).graph.initializer[14].dims[0]  # the classifier's last conv
    net = TrainNet(classes, frozen_batch_norm=True)
    net.load_model_file(a.model)
    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)
    cuda = a.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        sys.exit("error: --device cuda, but this PyTorch sees no CUDA device")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    x = (torch.rand(1, 3, h, w) * 2 - 1).to(a.device)
    with torch.no_grad():
        m = torch.jit.freeze(torch.jit.trace(Dense(net).eval().to(a.device), x, check_trace=False))
        if not cuda:
            m = torch.jit.optimize_for_inference(m)
        for _ in range(a.warmup):
            m(x)
        sync()
        times = []
        for _ in range(a.repeat):
            start = time.perf_counter()
            out = m(x)
            sync()
            times.append((time.perf_counter() - start) * 1000)
    times.sort()
    result = {"model": Path(a.model).name, "size": [h, w], "threads": a.threads, "device": a.device,
              "offsets": len(out) // 2, "cells": int(sum(o.shape[2] * o.shape[3] for o in out[::2])),
              "median_ms": times[len(times) // 2], "min_ms": times[0]}
    print(json.dumps(result) if a.json else
          f"PyTorch {a.device} ({a.threads} threads), {h}x{w}, {result['offsets']} offsets, "
          f"{result['cells']} cells: {result['median_ms']:.1f} ms (median of {a.repeat})")


if __name__ == "__main__":
    main()
