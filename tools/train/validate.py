# SPDX-License-Identifier: MIT
"""Validation figures of a checkpoint on the windows train.py validates on (the VOC val and
Caltech-101 test images, never trained on), with the run's own seed and --val-size:

    /usr/bin/python3 tools/train/validate.py build/train-runs/NAME/best.pt [--json FILE]

Prints classification accuracy (overall, VOC, Caltech, background), the mean box IoU and
localization accuracy (class right and box IoU >= 0.5, the paper's criterion) over the windows
that have a box.
"""

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import DEFAULT_CACHE, DEFAULT_DATA, Cache  # noqa: E402
from export import load_net  # noqa: E402
from train import evaluate  # noqa: E402
from windows import validation_windows  # noqa: E402


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", help="a train.py checkpoint (best.pt, last.pt)")
    p.add_argument("--cache", default=str(DEFAULT_CACHE), help="default: %(default)s")
    p.add_argument("--data", default=str(DEFAULT_DATA), help="default: %(default)s")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)
    checkpoint = torch.load(a.checkpoint, map_location="cpu")
    args = checkpoint["args"]
    cache = Cache.open_or_build(a.cache, a.data)
    if checkpoint["classes"] != cache.classes:
        raise SystemExit(f"{a.cache} does not hold the checkpoint's classes")
    net = load_net(checkpoint)
    val = validation_windows(cache, net.window, args["seed"], args["val_size"])
    figures = evaluate(net, val)
    counts = {g: int((val[3] == g).sum()) for g in ("voc", "caltech", "background")}
    print(f"{a.checkpoint}: epoch {checkpoint['epoch']}, {len(val[1])} validation windows "
          f"({counts['voc']} VOC, {counts['caltech']} Caltech, {counts['background']} background)")
    print(f"classification accuracy {figures['accuracy']:.3f} (VOC {figures['voc']:.3f}, "
          f"Caltech {figures['caltech']:.3f}, background {figures['background']:.3f})")
    print(f"mean box IoU {figures['box_iou']:.3f}; localization accuracy (class right, IoU >= 0.5)"
          f" {figures['localization']:.3f} (VOC {figures['localization_voc']:.3f}, Caltech "
          f"{figures['localization_caltech']:.3f})")
    if a.json:
        Path(a.json).write_text(json.dumps(dict(figures, windows=counts,
                                                epoch=checkpoint["epoch"]), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
