# SPDX-License-Identifier: MIT
"""Trains the project's OverFeat-style model (model.py) on VOC 2007 + Caltech-101 (data.py).

Classification (the window's class or background) and box regression (the box of the object
that labels the window) are trained jointly on random windows (windows.py), with SGD, a linear
warm-up then a cosine learning rate, label smoothing and BatchNorm (folded away at export).
Everything lives in the run folder (default build/train-runs/NAME/):

    last.pt, best.pt   checkpoints (atomic writes): model, optimizer, scheduler, position in the
                       epoch, RNG states; last.pt every --checkpoint-minutes and at every epoch
                       end, best.pt at the epoch with the best validation score
    NAME.onnx          the best model as an OverFeat Studio model file (export.py)
    train.log          the log; history.jsonl: one line of figures per epoch

    /usr/bin/python3 tools/train/train.py --name voc-caltech --threads 2
    /usr/bin/python3 tools/train/train.py --name voc-caltech --resume        # from last.pt
    /usr/bin/python3 tools/train/train.py --resume build/train-runs/voc-caltech/best.pt

A resumed run continues exactly where the checkpoint was written: the training windows are a
function of (seed, epoch, index), and the RNG states are restored. Only the run-time options
(threads, time limit, checkpoint interval, export) and --epochs (which changes the schedule)
may be given again when resuming.
"""

import argparse
import json
import logging
import math
import os
import random
import shlex
import signal
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import export as export_lib  # noqa: E402
from data import DEFAULT_CACHE, DEFAULT_DATA, Cache  # noqa: E402
from model import TrainNet, parameter_groups  # noqa: E402
from windows import TrainWindows, to_input, validation_windows  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
# When resuming, every option not given on the command line is the checkpoint's, except
# these limits of one process, which start afresh.
PROCESS_OPTIONS = {"resume", "run_dir", "time_limit", "max_steps"}
# Options that may be given a new value when resuming. The others define the training and
# cannot change. A new --epochs changes the schedule; a new --threads rounds sums differently
# (a resumed run is bit-exact with the same threads).
CHANGEABLE_OPTIONS = {"name", "cache", "data", "threads", "checkpoint_minutes", "export",
                      "check_engine", "engine", "epochs"}

log = logging.getLogger("train")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    run = p.add_argument_group("run")
    run.add_argument("--name", default="voc-caltech",
                     help="name of the run and of the model (default: %(default)s)")
    run.add_argument("--run-dir", help="run folder (default: build/train-runs/NAME)")
    run.add_argument("--resume", nargs="?", const="last", metavar="CHECKPOINT",
                     help="continue from a checkpoint (default: the run folder's last.pt)")
    run.add_argument("--cache", default=str(DEFAULT_CACHE),
                     help="cache folder, built from --data if missing (default: %(default)s)")
    run.add_argument("--data", default=str(DEFAULT_DATA),
                     help="VOC and Caltech data folder (default: %(default)s)")
    run.add_argument("--threads", type=int, default=2, help="torch threads (default: %(default)s)")
    run.add_argument("--time-limit", type=float, metavar="MINUTES",
                     help="stop (checkpoint, export) after this many minutes")
    run.add_argument("--checkpoint-minutes", type=float, default=5.0,
                     help="minutes between checkpoints within an epoch (default: %(default)s)")
    run.add_argument("--max-steps", type=int, help="stop after this global step (tests)")
    run.add_argument("--no-export", dest="export", action="store_false",
                     help="do not write NAME.onnx")
    run.add_argument("--check-engine", action=argparse.BooleanOptionalAction, default=True,
                     help="at the end, run the engine's `overfeat classify` on NAME.onnx "
                          "(default: on)")
    run.add_argument("--engine", default=str(export_lib.DEFAULT_ENGINE),
                     help="the overfeat binary (default: %(default)s)")
    t = p.add_argument_group("training")
    d = " (default: %(default)s)"
    t.add_argument("--seed", type=int, default=1, help="weights, windows, validation" + d)
    t.add_argument("--epochs", type=int, default=80, help="length of the schedule" + d)
    t.add_argument("--epoch-size", type=int, default=10000, help="windows per epoch" + d)
    t.add_argument("--batch-size", type=int, default=64, help="windows per step" + d)
    t.add_argument("--lr", type=float, default=0.05, help="peak learning rate" + d)
    t.add_argument("--warmup-epochs", type=float, default=1.0, help="linear warm-up" + d)
    t.add_argument("--momentum", type=float, default=0.9, help="Nesterov momentum" + d)
    t.add_argument("--weight-decay", type=float, default=5e-4,
                   help="on conv weights only" + d)
    t.add_argument("--label-smoothing", type=float, default=0.1, help=d)
    t.add_argument("--box-weight", type=float, default=2.0,
                   help="weight of the box loss (smooth L1 on edges in window units)" + d)
    t.add_argument("--background-fraction", type=float, default=0.25,
                   help="share of background windows" + d)
    t.add_argument("--no-batch-norm", dest="batch_norm", action="store_false",
                   help="train without BatchNorm")
    t.add_argument("--init-from", metavar="MODEL.onnx",
                   help="start from an exported model's weights (fine-tuning), BatchNorm "
                        "frozen as the identity so the run starts from that model's function")
    t.add_argument("--hard-negatives", metavar="FILE.npz",
                   help="mined background windows (mine.py) for a share of the background")
    t.add_argument("--hard-fraction", type=float, default=0.5,
                   help="share of background windows drawn from --hard-negatives" + d)
    t.add_argument("--voc-val-kept", type=int, metavar="N",
                   help="train also on VOC val images after the first N (default: none)")
    t.add_argument("--embedding-weight", type=float, default=0.0,
                   help="weight of an auxiliary cosine-margin loss (CosFace) on the one-shot "
                        "features of object windows; 0: off" + d)
    t.add_argument("--embedding-scale", type=float, default=16.0,
                   help="scale s of the cosine logits" + d)
    t.add_argument("--embedding-margin", type=float, default=0.2,
                   help="margin m subtracted from the true class's cosine" + d)
    t.add_argument("--freeze-trunk", action="store_true",
                   help="train the heads only (with --init-from): the trunk's weights stay the "
                        "file's and it runs without gradients, about twice as fast" + d)
    t.add_argument("--max-images", type=int, help="train on a seeded subset (quick tests)")
    t.add_argument("--val-size", type=int, default=2000,
                   help="validation windows, a seeded subset of the held-out splits" + d)
    args = p.parse_args(argv)
    # parsed again into a namespace where every option is already set (so no default is
    # applied): the options given on the command line are those that changed
    unset = object()
    given = p.parse_args(argv, argparse.Namespace(**{key: unset for key in vars(args)}))
    return args, {key for key, value in vars(given).items() if value is not unset}


def merge_resumed_args(args, explicit, saved):
    """The checkpoint's options, with this command's limits and the changes it asks for.
    Returns (options, names of the options changed)."""
    changed = {k for k in explicit - PROCESS_OPTIONS if getattr(args, k) != saved.get(k)}
    refused = changed - CHANGEABLE_OPTIONS
    if refused:
        raise SystemExit(f"cannot change {', '.join(sorted(refused))} when resuming "
                         "(start a new run with another --name)")
    merged = argparse.Namespace(**saved)
    for key in PROCESS_OPTIONS | changed:
        setattr(merged, key, getattr(args, key))
    return merged, changed


def setup_logging(run_dir):
    log.setLevel(logging.INFO)
    formatter = logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S")
    for handler in (logging.FileHandler(run_dir / "train.log"), logging.StreamHandler()):
        handler.setFormatter(formatter)
        log.addHandler(handler)


def save_atomic(obj, path):
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def lr_schedule(steps_per_epoch, epochs, warmup_epochs):
    """Factor of the peak learning rate at a global step: linear warm-up, then cosine to 0."""
    warmup = max(1, round(warmup_epochs * steps_per_epoch))
    total = epochs * steps_per_epoch

    def factor(step):
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))
    return factor


def box_iou(a, b):
    """IoU of corresponding boxes [n, 4] (x1, y1, x2, y2)."""
    iw = (torch.minimum(a[:, 2], b[:, 2]) - torch.maximum(a[:, 0], b[:, 0])).clamp(min=0)
    ih = (torch.minimum(a[:, 3], b[:, 3]) - torch.maximum(a[:, 1], b[:, 1])).clamp(min=0)
    inter = iw * ih
    area = lambda x: (x[:, 2] - x[:, 0]).clamp(min=0) * (x[:, 3] - x[:, 1]).clamp(min=0)
    return inter / (area(a) + area(b) - inter).clamp(min=1e-9)


@torch.no_grad()
def evaluate(net, val, batch_size=100):
    """Accuracy on the validation windows, overall and per group; the mean IoU of the predicted
    boxes with the true ones; localization accuracy (class right and IoU >= 0.5) over the
    windows with a box, overall and per group. `score` (the mean of the group accuracies)
    picks best.pt."""
    pixels, labels, boxes, groups = val
    net.eval()
    predictions, predicted_boxes = [], []
    for start in range(0, len(labels), batch_size):
        logits, box = net(torch.from_numpy(to_input(pixels[start:start + batch_size])))
        predictions.append(logits.flatten(1).argmax(1))
        predicted_boxes.append(box.flatten(1))
    net.train()
    correct = (torch.cat(predictions).numpy() == labels)
    figures = {"accuracy": float(correct.mean())}
    for group in ("voc", "caltech", "background"):
        figures[group] = float(correct[groups == group].mean()) if (groups == group).any() else 0.0
    figures["score"] = float(np.mean([figures[g] for g in ("voc", "caltech", "background")]))
    has_box = ~np.isnan(boxes[:, 0])
    ious = box_iou(torch.cat(predicted_boxes)[has_box], torch.from_numpy(boxes[has_box])).numpy()
    figures["box_iou"] = float(ious.mean())
    # Localization as the paper scores it: the class right and the box at IoU >= 0.5.
    located = correct[has_box] & (ious >= 0.5)
    figures["localization"] = float(located.mean())
    for group in ("voc", "caltech"):
        in_group = groups[has_box] == group
        figures[f"localization_{group}"] = float(located[in_group].mean()) if in_group.any() else 0.0
    return figures


def format_figures(f):
    return (f"accuracy {f['accuracy']:.3f} (voc {f['voc']:.3f}, caltech {f['caltech']:.3f}, "
            f"background {f['background']:.3f}), box IoU {f['box_iou']:.3f}")


class Stopper:
    """Why the run should stop now, if it should: a signal, the time limit, --max-steps."""

    def __init__(self, time_limit_minutes, max_steps):
        self.deadline = time.time() + 60 * time_limit_minutes if time_limit_minutes else None
        self.max_steps = max_steps
        self.signal = None
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, self._on_signal)

    def _on_signal(self, number, frame):
        self.signal = signal.Signals(number).name

    def reason(self, global_step):
        if self.signal:
            return f"signal {self.signal}"
        if self.deadline and time.time() >= self.deadline:
            return "time limit"
        if self.max_steps is not None and global_step >= self.max_steps:
            return f"step {global_step} (--max-steps)"
        return None


def training_data_text(a, held_out, window):
    """What the run trained on, for the model file's metadata."""
    voc = "PASCAL VOC 2007 train"
    if getattr(a, "voc_val_kept", None) is not None:
        voc += f" and val after its first {a.voc_val_kept} images"
    text = (f"{voc} + Caltech-101 train (minus {held_out} held-out categories), windows of "
            f"{window} px")
    if getattr(a, "init_from", None):
        text += f"; fine-tuned from {Path(a.init_from).name}"
    if getattr(a, "hard_negatives", None):
        text += f"; hard negatives mined by {Path(a.hard_negatives).name}"
    if getattr(a, "embedding_weight", 0.0) > 0:
        text += "; a cosine-margin loss on the one-shot features"
    if getattr(a, "freeze_trunk", False):
        text += "; trunk frozen"
    return text


def load_hard_negatives(path, cache):
    """mine.py's windows as [n, 5] (cache image index, x0, y0, width, height); images are
    stored by id, so the file stays valid for any cache built from the same data."""
    data = np.load(path)
    index = {r["id"]: i for i, r in enumerate(cache.records)}
    missing = [i for i in data["ids"] if i not in index]
    if missing:
        raise SystemExit(f"{path}: {len(missing)} images are not in the cache ({missing[0]}...)")
    return np.column_stack([[index[i] for i in data["ids"]], data["windows"]])


class CosineHead(torch.nn.Module):
    """A cosine classifier with a margin (CosFace, Wang et al. 2018) over the object classes,
    trained beside the network on its one-shot features (the ReLU output of the classifier's
    next-to-last convolution) and never exported: it shapes those features so that a class is
    a direction, which is what one-shot learning compares (cosine similarity to a prototype).
    Started from the directions of the network's own class weights."""

    def __init__(self, last_conv, scale, margin):
        super().__init__()
        w = last_conv.weight.detach().flatten(1)[1:]  # object classes; row 0 is background
        self.weight = torch.nn.Parameter(w.clone())
        self.scale, self.margin = scale, margin

    def loss(self, features, labels):
        """features [N, D] of object windows, labels [N] in 1..C-1."""
        cos = F.normalize(features, dim=1) @ F.normalize(self.weight, dim=1).t()
        target = labels - 1
        cos = cos - self.margin * F.one_hot(target, cos.shape[1])
        return F.cross_entropy(self.scale * cos, target)


class Trainer:
    """One training run: the data, the network, the optimizer and the position in the
    schedule, restored from `checkpoint` when given. `command` is recorded in the exported
    model's metadata (the first command of the run when resuming)."""

    def __init__(self, args, run_dir, checkpoint=None, command=""):
        self.args, self.run_dir = args, run_dir
        self.cache = Cache.open_or_build(args.cache, args.data, log=log.info)
        if checkpoint and checkpoint["classes"] != self.cache.classes:
            raise SystemExit(f"{args.cache} does not hold the checkpoint's classes")
        if getattr(args, "voc_val_kept", None) is not None:
            moved = self.cache.train_on_voc_val(args.voc_val_kept)
            log.info(f"VOC val: the first {args.voc_val_kept} images kept out, {moved} trained on")
        torch.manual_seed(args.seed)
        init = getattr(args, "init_from", None)
        self.net = TrainNet(len(self.cache.classes), batch_norm=args.batch_norm,
                            frozen_batch_norm=bool(init))
        if init and not checkpoint:
            self.net.load_model_file(init)
            log.info(f"initialized from {init} (BatchNorm frozen)")
        if getattr(args, "freeze_trunk", False):
            if not init:
                raise SystemExit("--freeze-trunk needs --init-from (a trained trunk to keep)")
            for p in self.net.trunk.parameters():
                p.requires_grad_(False)
            log.info("trunk frozen: training the heads only")
        self.net.train()
        hard = None
        if getattr(args, "hard_negatives", None):
            hard = load_hard_negatives(args.hard_negatives, self.cache)
            log.info(f"{len(hard)} hard negatives from {args.hard_negatives}, "
                     f"{args.hard_fraction:.0%} of the background windows")
        self.windows = TrainWindows(self.cache, self.net.window, args.seed,
                                    args.background_fraction, args.max_images, hard,
                                    getattr(args, "hard_fraction", 0.0))
        self.val = validation_windows(self.cache, self.net.window, args.seed, args.val_size)
        self.steps_per_epoch = math.ceil(args.epoch_size / args.batch_size)
        groups = [dict(g, params=[p for p in g["params"] if p.requires_grad])
                  for g in parameter_groups(self.net, args.weight_decay)]
        self.embedding = None
        if getattr(args, "embedding_weight", 0.0) > 0:
            self.embedding = CosineHead(self.net._cls_convs[-1][0], args.embedding_scale,
                                        args.embedding_margin)
            groups.append({"params": list(self.embedding.parameters()), "weight_decay": 0.0})
            log.info(f"cosine-margin loss on the one-shot features, weight "
                     f"{args.embedding_weight}, s {args.embedding_scale}, m "
                     f"{args.embedding_margin}")
        self.optimizer = torch.optim.SGD(groups, lr=args.lr, momentum=args.momentum,
                                         nesterov=True)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lr_schedule(self.steps_per_epoch, args.epochs, args.warmup_epochs))
        self.epoch, self.step, self.global_step = 0, 0, 0
        self.best, self.history = None, []
        self.command = command
        self._exported = None  # (checkpoint file, global step) last written as NAME.onnx
        if checkpoint:
            self._restore(checkpoint)

    def _restore(self, c):
        self.net.load_state_dict(c["model"])
        if self.embedding is not None:
            self.embedding.load_state_dict(c["embedding"])
        self.optimizer.load_state_dict(c["optimizer"])
        self.scheduler.load_state_dict(c["scheduler"])
        self.epoch, self.step, self.global_step = c["epoch"], c["step"], c["global_step"]
        self.best, self.history, self.command = c["best"], c["history"], c["command"]
        torch.set_rng_state(c["rng"]["torch"])
        np.random.set_state(c["rng"]["numpy"])
        random.setstate(c["rng"]["python"])

    def checkpoint(self):
        a = self.args
        held_out = self.cache.index["held_out_categories"]
        figures = self.history[-1]["figures"] if self.history else {}
        return {
            "model": self.net.state_dict(), "model_config": self.net.config,
            "embedding": self.embedding.state_dict() if self.embedding is not None else None,
            "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
            "epoch": self.epoch, "step": self.step, "global_step": self.global_step,
            "best": self.best, "history": self.history, "args": vars(a),
            "classes": self.cache.classes, "command": self.command,
            "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
                    "python": random.getstate()},
            "export_metadata": {
                "name": a.name,
                "data": training_data_text(a, len(held_out), self.net.window),
                "training": self.command,
                "figures": (f"epoch {self.epoch}, validation windows (VOC 2007 val, Caltech-101"
                            f" test): " + format_figures(figures)) if figures else "",
                "held_out_categories": held_out,
            },
        }

    def save(self, best=False):
        state = self.checkpoint()
        save_atomic(state, self.run_dir / "last.pt")
        if best:
            save_atomic(state, self.run_dir / "best.pt")

    def train_step(self, x, labels, boxes):
        a = self.args
        labels = torch.from_numpy(labels)
        with torch.set_grad_enabled(not getattr(a, "freeze_trunk", False)):
            trunk = self.net.trunk(torch.from_numpy(x))
        if self.embedding is None:
            logits, predicted = self.net.classifier(trunk), self.net.regressor(trunk)
        else:
            split = self.net.embedding_split()
            features = self.net.classifier[:split](trunk)
            logits, predicted = self.net.classifier[split:](features), self.net.regressor(trunk)
            objects = labels > 0
            embedding_loss = (self.embedding.loss(features.flatten(1)[objects], labels[objects])
                              if objects.any() else features.sum() * 0)
        logits, predicted = logits.flatten(1), predicted.flatten(1)
        cls_loss = F.cross_entropy(logits, labels, label_smoothing=a.label_smoothing)
        has_box = torch.from_numpy(~np.isnan(boxes[:, 0]))
        box_loss = (F.smooth_l1_loss(predicted[has_box], torch.from_numpy(boxes[has_box]),
                                     beta=0.1) if has_box.any() else predicted.sum() * 0)
        loss = cls_loss + a.box_weight * box_loss
        if self.embedding is not None:
            loss = loss + a.embedding_weight * embedding_loss
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        accuracy = (logits.argmax(1) == labels).float().mean()
        return float(cls_loss), float(box_loss), float(accuracy)

    def run(self, stopper):
        from tqdm import tqdm

        a = self.args
        log.info(f"{len(self.cache.classes)} classes, {len(self.windows.images)} training "
                 f"images, {len(self.val[1])} validation windows; window {self.net.window} px, "
                 f"stride {self.net.stride} px; {self.steps_per_epoch} steps of {a.batch_size} "
                 f"per epoch, {a.epochs} epochs; {torch.get_num_threads()} threads")
        interactive = sys.stderr.isatty()
        last_save = time.time()
        while self.epoch < a.epochs:
            bar = tqdm(total=self.steps_per_epoch, initial=self.step, unit="batch",
                       desc=f"epoch {self.epoch + 1}/{a.epochs}", dynamic_ncols=True,
                       mininterval=0.5 if interactive else 60, file=sys.stderr)
            epoch_start, epoch_images = time.time(), 0
            speed, averages = None, None
            while self.step < self.steps_per_epoch:
                reason = stopper.reason(self.global_step)
                if reason:
                    bar.close()
                    log.info(f"stopping at epoch {self.epoch + 1} step {self.step}: {reason}")
                    self.save()
                    return reason
                t = time.time()
                x, labels, boxes = self.windows.batch(self.epoch, self.step * a.batch_size,
                                                      a.batch_size)
                figures = np.array(self.train_step(x, labels, boxes))
                self.step += 1
                self.global_step += 1
                epoch_images += len(labels)
                rate = len(labels) / (time.time() - t)
                speed = rate if speed is None else 0.9 * speed + 0.1 * rate
                averages = figures if averages is None else 0.95 * averages + 0.05 * figures
                bar.set_postfix(cls=f"{averages[0]:.3f}", box=f"{averages[1]:.3f}",
                                acc=f"{averages[2]:.3f}",
                                lr=f"{self.optimizer.param_groups[0]['lr']:.4f}",
                                img_s=f"{speed:.1f}", refresh=False)
                bar.update(1)
                if time.time() - last_save >= 60 * a.checkpoint_minutes:
                    self.save()
                    last_save = time.time()
                    log.info(f"epoch {self.epoch + 1} step {self.step}/{self.steps_per_epoch}:"
                             f" cls loss {averages[0]:.3f}, box loss {averages[1]:.3f}, train "
                             f"accuracy {averages[2]:.3f}, {speed:.1f} images/s; checkpoint")
            bar.close()
            self._end_epoch(epoch_images / (time.time() - epoch_start), averages)
            last_save = time.time()
        return "finished"

    def _end_epoch(self, images_per_second, averages):
        figures = evaluate(self.net, self.val)
        self.epoch, self.step = self.epoch + 1, 0
        improved = self.best is None or figures["score"] > self.best["score"]
        if improved:
            self.best = dict(figures, epoch=self.epoch, global_step=self.global_step)
        entry = {"epoch": self.epoch, "global_step": self.global_step,
                 "images_per_second": round(images_per_second, 2),
                 "train": {"cls_loss": float(averages[0]), "box_loss": float(averages[1]),
                           "accuracy": float(averages[2])} if averages is not None else None,
                 "lr": self.optimizer.param_groups[0]["lr"], "figures": figures,
                 "time": time.strftime("%Y-%m-%d %H:%M:%S")}
        self.history.append(entry)
        with open(self.run_dir / "history.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")
        log.info(f"epoch {self.epoch}: validation {format_figures(figures)}"
                 f"{' (best)' if improved else ''}; {images_per_second:.1f} images/s")
        self.save(best=improved)
        if improved and self.args.export:
            self.export(check=False)

    def export(self, check):
        """Writes NAME.onnx from best.pt (last.pt before the first epoch ends), unless that
        state is already written; with `check`, runs the engine on it."""
        if self.best:
            source, key = self.run_dir / "best.pt", ("best", self.best["global_step"])
        else:
            source, key = self.run_dir / "last.pt", ("last", self.global_step)
        out = self.run_dir / f"{self.args.name}.onnx"
        if key != self._exported or not out.exists():
            export_lib.export_checkpoint(source, out, self.args.name)
            self._exported = key
            log.info(f"exported {source.name} to {out}")
        if check:
            try:
                output = export_lib.check_with_engine(out, export_lib.default_check_image(),
                                                      self.args.engine)
                log.info("the engine runs it: " + " | ".join(output.strip().splitlines()))
            except Exception as e:  # the model file is still there: report and go on
                log.warning(f"engine check failed: {e} {getattr(e, 'stderr', '')}")


def main(argv):
    args, explicit = parse_args(argv)
    checkpoint, changed = None, set()
    if args.resume:
        if args.resume == "last":
            run_dir = Path(args.run_dir or REPO / "build" / "train-runs" / args.name)
            path = run_dir / "last.pt"
        else:
            path = Path(args.resume)
            run_dir = Path(args.run_dir) if args.run_dir else path.parent
        if not path.is_file():
            raise SystemExit(f"no checkpoint {path} to resume from")
        checkpoint = torch.load(path, map_location="cpu")
        args, changed = merge_resumed_args(args, explicit, checkpoint["args"])
    else:
        run_dir = Path(args.run_dir or REPO / "build" / "train-runs" / args.name)
        if (run_dir / "last.pt").exists():
            raise SystemExit(f"{run_dir} already holds a run: add --resume, or choose "
                             "another --name")
    run_dir.mkdir(parents=True, exist_ok=True)
    args.run_dir = str(run_dir)
    setup_logging(run_dir)
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # denormal floats make CPU convolutions many times slower
    warnings.filterwarnings("ignore", message="The value of the smallest subnormal")  # numpy
    import cv2
    cv2.setNumThreads(1)
    command = "tools/train/train.py " + " ".join(shlex.quote(x) for x in argv)
    log.info("command: /usr/bin/python3 " + command)
    if checkpoint:
        log.info(f"resuming from {path}: epoch {checkpoint['epoch'] + 1}, step "
                 f"{checkpoint['step']}, global step {checkpoint['global_step']}"
                 + (f"; changed: {', '.join(sorted(changed))}" if changed else ""))
        if changed & {"epochs", "threads"}:
            log.info("new --epochs or --threads: the run no longer repeats the original "
                     "exactly")
    trainer = Trainer(args, run_dir, checkpoint, command)
    reason = trainer.run(Stopper(args.time_limit, args.max_steps))
    if args.export and (run_dir / "last.pt").exists():
        trainer.export(check=args.check_engine and not reason.startswith("signal"))
    if trainer.best:
        log.info(f"best: epoch {trainer.best['epoch']}, {format_figures(trainer.best)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
