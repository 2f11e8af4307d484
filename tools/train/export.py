# SPDX-License-Identifier: MIT
"""Exports a training checkpoint (train.py) to an OverFeat Studio model file (.onnx).

Folds the BatchNorms into the convolutions (model.TrainNet.to_export_model), checks that the
folded network computes what the checkpoint's network computes, writes the file with
tools/export/export_example.py's export(), and optionally runs the engine on it:

    /usr/bin/python3 tools/train/export.py build/train-runs/NAME/best.pt \
        --out build/train-runs/NAME/NAME.onnx --check-engine [--half]

`--half` stores the weights as float16 (half the file size; the engine computes in float32).
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import model as model_lib  # noqa: E402
from model import export_example  # noqa: E402
from windows import MEAN, STDDEV  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DEFAULT_ENGINE = REPO / "build" / "tools" / "overfeat" / "overfeat"


def load_net(checkpoint):
    """The TrainNet of a checkpoint (a path or a loaded dict), in eval mode."""
    if not isinstance(checkpoint, dict):
        checkpoint = torch.load(checkpoint, map_location="cpu")
    net = model_lib.TrainNet(**checkpoint["model_config"])
    net.load_state_dict(checkpoint["model"])
    return net.eval()


@torch.no_grad()
def check_folding(net, plain, tolerance=1e-3):
    """Raises if the folded network differs from `net` (eval mode) on a random input larger
    than one window (so several cells and the window-relative boxes are compared)."""
    generator = torch.Generator().manual_seed(0)
    size = net.window + 2 * net.stride
    x = torch.randn(1, 3, size, size + net.stride, generator=generator)
    logits, boxes = net(x)
    plain_logits, plain_boxes = plain(x)
    errors = ((logits - plain_logits).abs().max().item(),
              (boxes * net.window - plain_boxes).abs().max().item() / net.window)
    if max(errors) > tolerance:
        raise AssertionError(f"folded network differs: logits {errors[0]:.2e}, "
                             f"boxes {errors[1]:.2e} (window units)")
    return errors


def export_checkpoint(checkpoint_path, out_path, name=None, weight_storage="float32"):
    """Writes the model file; returns its metadata (figures, data, training) as a dict.
    weight_storage: "float32", or "float16" for half the file size (export_example.export).
    Leaves torch's random state as it was (building the networks draws initial weights), so
    that a training run that exports stays repeatable."""
    with torch.random.fork_rng(devices=[]):
        return _export_checkpoint(checkpoint_path, out_path, name, weight_storage)


def _export_checkpoint(checkpoint_path, out_path, name, weight_storage="float32"):
    checkpoint = torch.load(checkpoint_path, map_location="cpu")
    net = load_net(checkpoint)
    plain = net.to_export_model()
    check_folding(net, plain)
    meta = checkpoint.get("export_metadata", {})
    metadata = {
        "description": "OverFeat-style net trained from scratch on PASCAL VOC 2007 train and "
                       "Caltech-101 train (tools/train)",
        "data": meta.get("data", ""),
        "training": meta.get("training", ""),
        "figures": meta.get("figures", ""),
        "checkpoint": f"{Path(checkpoint_path).name}, epoch {checkpoint['epoch']}, "
                      f"step {checkpoint['global_step']}",
        "held_out_categories": json.dumps(meta.get("held_out_categories", [])),
        "window": str(net.window),
        "stride": str(net.stride),
    }
    export_example.export(plain, str(out_path), checkpoint["classes"], background=0,
                          mean=MEAN, stddev=STDDEV, name=name or meta.get("name", "overfeat"),
                          metadata=metadata, feature_layer=net.feature_layer(),
                          weight_storage=weight_storage)
    return metadata


def check_with_engine(model_path, image, engine=DEFAULT_ENGINE, timeout=300):
    """Runs `overfeat classify --model FILE --scales window IMAGE`; returns its output, raises
    CalledProcessError if it fails."""
    command = [str(engine), "classify", "--model", str(model_path), "--scales", "window",
               "-n", "5", str(image)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise subprocess.CalledProcessError(result.returncode, command, result.stdout,
                                            result.stderr)
    return result.stdout


def default_check_image():
    from data import DEFAULT_DATA
    return next(iter(sorted((DEFAULT_DATA / "voc2007" / "images").glob("*.jpg"))))


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", help="a checkpoint of train.py (best.pt, last.pt)")
    parser.add_argument("--out", help="model file to write (default: beside the checkpoint, "
                                      "<run name>.onnx)")
    parser.add_argument("--name", help="model name in the file (default: the run's name)")
    parser.add_argument("--half", action="store_true",
                        help="store the weights as float16: half the file size (the engine "
                             "still computes in float32)")
    parser.add_argument("--check-engine", action="store_true",
                        help="run `overfeat classify --scales window` on the file")
    parser.add_argument("--engine", default=str(DEFAULT_ENGINE), help="the overfeat binary")
    parser.add_argument("--image", help="image for --check-engine (default: a VOC image)")
    args = parser.parse_args(argv)
    checkpoint = Path(args.checkpoint)
    out = Path(args.out) if args.out else checkpoint.with_name(checkpoint.parent.name + ".onnx")
    export_checkpoint(checkpoint, out, args.name, "float16" if args.half else "float32")
    print(f"wrote {out}")
    if args.check_engine:
        print(check_with_engine(out, args.image or default_check_image(), args.engine), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
