# SPDX-License-Identifier: MIT
"""Mines hard negatives: background windows of the training images that a model scores as an
object, for train.py --hard-negatives.

The model is run densely (as the engine runs it: every 16-px cell of the whole image) over
every training image that may give background windows (VOC images with complete boxes, and
BACKGROUND_Google), at the scales the detector evaluates. A cell's window is kept when it is
background by the training labels (windows.window_label: clear of every object) and the model
gives it an object class with probability at least --min-score; the --per-image best of each
image are written, with their ids, so the file is valid for any cache of the same data.

    /usr/bin/python3 tools/train/mine.py resources/models/overfeat-studio.onnx \\
        --out build/train-runs/hard-v1.npz --voc-val-kept 650
"""

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import DEFAULT_CACHE, Cache  # noqa: E402
from model import TrainNet  # noqa: E402
from windows import Window, label_window, to_input  # noqa: E402

# Cached VOC images have a smaller side of 192 px; the detector's six scales give 320x240
# photographs smaller sides of about 147 to 277 px: these three span that range.
SCALES = (0.77, 1.0, 1.44)


@torch.no_grad()
def mine_image(net, image, record, scales, min_score, per_image):
    """[(score, x0, y0, width, height)] of `record`'s best-scored background windows."""
    found = []
    h, w = image.shape[:2]
    for s in scales:
        size = (round(w * s), round(h * s))
        if min(size) < net.window:  # not one whole window at this scale
            continue
        x = torch.from_numpy(to_input(cv2.resize(image, size, interpolation=cv2.INTER_AREA)))
        logits, _ = net(x[None])
        p = torch.softmax(logits[0], 0)
        score = 1 - p[0]  # any object class
        for i, j in zip(*np.nonzero((score >= min_score).numpy())):
            window = Window(j * net.stride / s, i * net.stride / s, net.window / s,
                            net.window / s, net.window)
            if label_window(record, window)[0] == 0:
                found.append((float(score[i, j]), window.x0, window.y0, window.width,
                              window.height))
    found.sort(reverse=True)
    kept = []
    for f in found:  # the best first, then only windows that overlap the kept ones little
        if all(_iou(f[1:], k[1:]) < 0.5 for k in kept):
            kept.append(f)
        if len(kept) == per_image:
            break
    return kept


def _iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    return iw * ih / (aw * ah + bw * bh - iw * ih)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", help="model file (.onnx, export.py) or checkpoint (.pt)")
    p.add_argument("--out", required=True, help="file to write (.npz)")
    p.add_argument("--cache", default=str(DEFAULT_CACHE))
    p.add_argument("--voc-val-kept", type=int,
                   help="mine also VOC val images after the first N (as train.py)")
    p.add_argument("--min-score", type=float, default=0.3,
                   help="least object probability of a kept window (default: %(default)s)")
    p.add_argument("--per-image", type=int, default=8,
                   help="most windows kept per image (default: %(default)s)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--limit", type=int, help="mine only the first N images (tests)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    cv2.setNumThreads(1)
    cache = Cache(args.cache)
    if args.voc_val_kept is not None:
        cache.train_on_voc_val(args.voc_val_kept)
    if args.model.endswith(".pt"):
        import export as export_lib
        net = export_lib.load_net(args.model)
    else:
        net = TrainNet(len(cache.classes), frozen_batch_norm=True)
        net.load_model_file(args.model)
    net.eval()
    images = [i for i, r in enumerate(cache.records)
              if r["split"] == "train" and r["background_ok"]][:args.limit]
    ids, windows, scores = [], [], []
    start = time.time()
    for n, i in enumerate(images):
        for score, *window in mine_image(net, cache.image(i), cache.records[i], SCALES,
                                         args.min_score, args.per_image):
            ids.append(cache.records[i]["id"])
            windows.append(window)
            scores.append(score)
        if (n + 1) % 500 == 0:
            print(f"{n + 1}/{len(images)} images, {len(ids)} windows, "
                  f"{time.time() - start:.0f} s", flush=True)
    np.savez(args.out, ids=np.array(ids), windows=np.array(windows, np.float32).reshape(-1, 4),
             scores=np.array(scores, np.float32))
    print(f"{len(ids)} hard negatives from {len(images)} images "
          f"({len(set(ids))} images give at least one) -> {args.out}; "
          f"{time.time() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
