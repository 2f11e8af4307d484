# SPDX-License-Identifier: MIT
"""A random TrainNet exported with export.py, and PyTorch's outputs on one input, so that a test
(tests/test_trained_export.cpp) can check that the engine computes what the training framework
computes, head by head:

    /usr/bin/python3 tools/train/export_sample.py --out m.onnx --sample sample.json [--half]

The network is model.TrainNet (with its BatchNorms, whose running statistics and affine
parameters are randomized so that folding them matters), seeded; it goes through a checkpoint
dict as train.py saves one and export.export_checkpoint(), exactly as a trained network does.

The sample (JSON, each tensor {"shape": [c, h, w], "data": [...]} as in
tools/export/export_example.py's write_sample) holds:

    input       the RGB image, 0..255, 3 x (window + 2 strides) x (window + 3 strides)
    probs       softmax over the classes of TrainNet's logits, C x h x w
    boxes       TrainNet's boxes times the window: left, top, right, bottom in input pixels
                relative to each cell's window (the engine's ScaleMap::boxes), 4 x h x w
    features    the default feature layer (TrainNet.feature_layer(), the classifier's
                next-to-last convolution and its BatchNorm, before the ReLU), C' x h x w
    feature_layer, window, stride   (numbers)

all computed by the TrainNet itself in eval mode on the input normalized as the engine does it,
(v - MEAN) / STDDEV (windows.py), not by the folded export model.
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import export  # noqa: E402
from model import TrainNet  # noqa: E402
from windows import MEAN, STDDEV  # noqa: E402


def random_net(num_classes, seed):
    """A TrainNet in eval mode with random weights and random BatchNorm statistics and affine
    parameters (as test_train.ExportTest makes one)."""
    torch.manual_seed(seed)
    net = TrainNet(num_classes)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
                m.weight.uniform_(0.5, 2)
                m.bias.uniform_(-1, 1)
    return net.eval()


def checkpoint_of(net, classes, seed):
    """The smallest checkpoint dict that export.export_checkpoint() reads."""
    return {
        "model": net.state_dict(),
        "model_config": net.config,
        "classes": classes,
        "epoch": 0,
        "global_step": 0,
        "export_metadata": {
            "name": f"export-sample-{seed}",
            "training": f"none: random weights (tools/train/export_sample.py --seed {seed})",
        },
    }


@torch.no_grad()
def torch_outputs(net, rgb):
    """TrainNet's (probs, boxes in window-relative input pixels, default-layer features) for
    `rgb` [1, 3, H, W] (0..255)."""
    x = (rgb - MEAN) / STDDEV
    logits, boxes = net(x)
    probs = torch.softmax(logits, dim=1)
    # The feature layer is the output of the classifier's next-to-last conv, BN included (the
    # export folds it into the conv), before the ReLU that follows; run the modules up to it
    # (a forward hook would see the in-place ReLU overwrite it).
    bn = net._cls_convs[-2][1] or net._cls_convs[-2][0]
    features = net.trunk(x)
    for module in net.classifier:
        features = module(features)
        if module is bn:
            break
    else:
        raise AssertionError("the feature layer is not in the classifier")
    return probs, boxes * net.window, features


def write_sample(net, path, seed):
    """Writes a random input and TrainNet's outputs on it (see the module's docstring)."""
    generator = torch.Generator().manual_seed(seed)
    h, w = net.window + 2 * net.stride, net.window + 3 * net.stride
    rgb = torch.randint(0, 256, (1, 3, h, w), generator=generator).float()
    probs, boxes, features = torch_outputs(net, rgb)
    tensors = {"input": rgb, "probs": probs, "boxes": boxes, "features": features}
    sample = {k: {"shape": list(t.shape[1:]), "data": t.flatten().tolist()}
              for k, t in tensors.items()}
    sample.update(feature_layer=net.feature_layer(), window=net.window, stride=net.stride)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(sample, f)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="model file to write (.onnx)")
    parser.add_argument("--sample", required=True, help="input and PyTorch outputs (JSON)")
    parser.add_argument("--classes", type=int, default=5, help="number of classes (background "
                                                                "first), default %(default)s")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and input")
    parser.add_argument("--half", action="store_true",
                        help="store the weights as float16 (the sample stays float32 PyTorch's)")
    parser.add_argument("--checkpoint", help="where to save the checkpoint the export reads "
                                             "(default: a temporary file)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)
    if args.classes < 2:
        parser.error("--classes must be at least 2")
    torch.set_num_threads(args.threads)
    net = random_net(args.classes, args.seed)
    classes = ["background"] + [f"class{i}" for i in range(1, args.classes)]
    storage = "float16" if args.half else "float32"
    with tempfile.TemporaryDirectory() as scratch:
        checkpoint = Path(args.checkpoint or Path(scratch) / "sample.pt")
        torch.save(checkpoint_of(net, classes, args.seed), checkpoint)
        export.export_checkpoint(checkpoint, args.out, weight_storage=storage)
    write_sample(net, args.sample, args.seed)
    print(f"wrote {args.out} ({storage} weights) and {args.sample}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
