# SPDX-License-Identifier: MIT
"""Reference exporter: an OverFeat-style PyTorch model to an OverFeat Studio model file.

The file format is described in docs/model-format.md: one ONNX file whose graph is a chain of
Conv / Relu / MaxPool (kernel = stride) from the normalized image to the last max pooling,
where it forks into a classifier head ("class_scores", logits) and an optional box regressor
head ("boxes"), plus string metadata ("overfeat.*") that the engine needs to use the model.

As a library (the training code imports it)::

    from export_example import OverFeatModel, export
    model = OverFeatModel("conv:96:11:4 relu pool:2 ...", "conv:3072:6:1 relu ...",
                          regressor="conv:4096:6:1 relu conv:1024:1:1 relu conv:80:1:1",
                          num_classes=20)
    ...train...
    export(model, "voc.onnx", classes, background=None, mean=118.38, stddev=61.9,
           name="voc-2007", metadata={"description": "..."})

As a script it writes a small random model (for the engine's tests)::

    /usr/bin/python3 tools/export/export_example.py --out m.onnx --seed 1 [--half]

`--half` / export(..., weight_storage="float16") stores the weights as float16 (Cast nodes to
float, tools/export/to_half.py): half the file size; the engine still computes in float32.

Run it with Debian's interpreter (/usr/bin/python3), which has python3-torch and python3-onnx.
"""

import argparse
import json
import sys
from pathlib import Path

import torch
from torch import nn

FORMAT_VERSION = "1"
BOX_ENCODING = "window-relative-xyxy-pixels"  # kBoxEncoding in engine/include/overfeat/model.hpp
OFFICIAL_MEAN = 118.380948
OFFICIAL_STDDEV = 61.896913

# The random model the script writes: a scaled-down OverFeat (fast) with 3 classes.
SMALL_TRUNK = "conv:8:5:2 relu pool:2 pad:1 conv:16:3:1 relu pool:2"
SMALL_CLASSIFIER = "conv:24:3:1 relu conv:16:1:1 relu conv:{C}:1:1"
SMALL_REGRESSOR = "conv:16:3:1 relu conv:8:1:1 relu conv:{R}:1:1"
SMALL_CLASSES = ["background", "cat", "dog"]
WEIGHT_STORAGES = ("float32", "float16")


def _to_half():
    """tools/export/to_half.py (beside this file), imported on first use."""
    directory = str(Path(__file__).resolve().parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    import to_half
    return to_half


def build_layers(spec, in_channels, zero_pad=False):
    """Modules for a description in the engine's tokens (NetSpec::parse): `conv:OUT:K:S`,
    `relu`, `pool:K` (max pooling, kernel = stride), `pad:P` (zeros, folded into the next conv's
    padding, or an nn.ZeroPad2d when `zero_pad`) and, Python only, `dropout:P` (removed by the
    export). Returns (layers, output channels)."""
    layers, channels, pad = [], in_channels, 0
    for token in spec.split():
        head, *fields = token.split(":")
        if head == "conv":
            out, k, s = (int(f) for f in fields)
            if zero_pad and pad:
                layers.append(nn.ZeroPad2d(pad))
            padding = 0 if zero_pad else pad
            layers.append(nn.Conv2d(channels, out, k, stride=s, padding=padding))
            channels, pad = out, 0
        elif head == "relu":
            layers.append(nn.ReLU(inplace=False))
        elif head == "pool":
            layers.append(nn.MaxPool2d(int(fields[0]), stride=int(fields[0])))
        elif head == "pad":
            pad += int(fields[0])
        elif head == "dropout":
            layers.append(nn.Dropout(float(fields[0])))
        else:
            raise ValueError(f"unknown module '{token}'")
        if pad and head not in ("pad", "relu", "dropout"):
            raise ValueError(f"'pad' must be followed by a conv, not '{token}'")
    if pad:
        raise ValueError("a description cannot end with 'pad'")
    return layers, channels


def _out_size(layers, size):
    """Spatial size after `layers` for a `size` input (floor division, as the engine)."""
    for layer in layers:
        if isinstance(layer, nn.Conv2d):
            k, s, p = layer.kernel_size[0], layer.stride[0], layer.padding[0]
            size = (size + 2 * p - k) // s + 1 if size + 2 * p >= k else 0
        elif isinstance(layer, nn.MaxPool2d):
            size //= layer.kernel_size
        elif isinstance(layer, nn.ZeroPad2d):
            size += 2 * layer.padding[0]
        if size <= 0:
            return 0
    return size


class OverFeatModel(nn.Module):
    """A trunk (ending with a max pooling) and a classifier head, optionally a box regressor head
    on the trunk's output. forward(image) returns the class logits, or (logits, boxes)."""

    def __init__(self, trunk, classifier, regressor=None, num_classes=None, in_channels=3,
                 zero_pad=False):
        super().__init__()
        trunk_layers, channels = build_layers(trunk, in_channels, zero_pad)
        if not trunk_layers or not isinstance(trunk_layers[-1], nn.MaxPool2d):
            raise ValueError("the trunk must end with a max pooling ('pool:K')")
        classifier_layers, classes = build_layers(classifier, channels, zero_pad)
        if num_classes is not None and classes != num_classes:
            raise ValueError(f"the classifier has {classes} outputs, not {num_classes}")
        self.trunk = nn.Sequential(*trunk_layers)
        self.classifier = nn.Sequential(*classifier_layers)
        self.regressor = None
        if regressor:
            regressor_layers, boxes = build_layers(regressor, channels, zero_pad)
            if boxes not in (4, 4 * classes):
                raise ValueError(f"the regressor has {boxes} outputs, not 4 or 4 * {classes}")
            self.regressor = nn.Sequential(*regressor_layers)
        self.window = next(s for s in range(1, 4097) if self.out_size(s) >= 1)

    def out_size(self, size):
        """Side of the class score map for a square input of side `size`."""
        return _out_size(list(self.classifier), _out_size(list(self.trunk), size))

    def forward(self, image):
        features = self.trunk(image)
        scores = self.classifier(features)
        if self.regressor is None:
            return scores
        return scores, self.regressor(features)


def export(model, path, classes, background=None, mean=OFFICIAL_MEAN, stddev=OFFICIAL_STDDEV,
           name="model", metadata=None, feature_layer=None, input_size=None, opset_version=13,
           weight_storage="float32"):
    """Writes `model` to `path` as an OverFeat Studio model file.

    model: a torch.nn.Module whose forward takes a [1, 3, H, W] image normalized as
        (v - mean) / stddev (v = RGB 0..255) and returns the class logits [1, C, h, w], or a
        tuple (logits, boxes) with boxes [1, 4*C or 4, h, w] encoded as BOX_ENCODING.
    classes: C class names; background: index of the background class or None.
    metadata: free-form strings (description, data, training command, figures), stored as
        "overfeat.meta.<key>". feature_layer: release-numbered one-shot feature layer or None.
    input_size: side of the example input used for tracing (default: the model's window).
    weight_storage: "float32", or "float16" to store the conv weights and biases as halves (each
        cast to float by a Cast node, tools/export/to_half.py): half the file size, the engine
        still computes in float32."""
    import onnx  # only needed here, so the module imports without python3-onnx

    if weight_storage not in WEIGHT_STORAGES:
        raise ValueError(f"weight_storage is '{weight_storage}', not one of {WEIGHT_STORAGES}")

    model = model.eval()
    size = input_size or getattr(model, "window", 231)
    example = torch.zeros(1, 3, size, size)
    with torch.no_grad():
        outputs = model(example)
    has_boxes = isinstance(outputs, tuple)
    scores = outputs[0] if has_boxes else outputs
    if scores.shape[1] != len(classes):
        raise ValueError(f"the model gives {scores.shape[1]} scores for {len(classes)} classes")
    names = ["class_scores", "boxes"] if has_boxes else ["class_scores"]
    axes = {"image": {2: "H", 3: "W"}}
    axes.update({n: {2: "h", 3: "w"} for n in names})
    torch.onnx.export(model, example, path, input_names=["image"], output_names=names,
                      dynamic_axes=axes, opset_version=opset_version, do_constant_folding=True)
    proto = onnx.load(path)
    props = {
        "overfeat.format": FORMAT_VERSION,
        "overfeat.name": name,
        "overfeat.classes": json.dumps(list(classes), ensure_ascii=False),
        "overfeat.mean": repr(float(mean)),
        "overfeat.stddev": repr(float(stddev)),
        "overfeat.box_encoding": BOX_ENCODING,
        "overfeat.weight_storage": "float32",
    }
    if background is not None:
        props["overfeat.background"] = str(int(background))
    if feature_layer is not None:
        props["overfeat.feature_layer"] = str(int(feature_layer))
    for key, value in (metadata or {}).items():
        props["overfeat.meta." + str(key)] = str(value)
    del proto.metadata_props[:]
    for key, value in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    if weight_storage == "float16":
        _to_half().convert_to_float16(proto)
    onnx.checker.check_model(proto)
    onnx.save(proto, path)


def small_model(seed, agnostic=False, regressor=True, zero_pad=False):
    """The small random model of the script (3 classes, background 0)."""
    torch.manual_seed(seed)
    c = len(SMALL_CLASSES)
    reg = SMALL_REGRESSOR.format(R=4 if agnostic else 4 * c) if regressor else None
    return OverFeatModel(SMALL_TRUNK, SMALL_CLASSIFIER.format(C=c), reg, num_classes=c,
                         zero_pad=zero_pad)


def write_sample(model, path, seed, size):
    """Writes a random RGB input (0..255) and the model's outputs on it, as JSON, so that a test
    can compare the engine with PyTorch."""
    generator = torch.Generator().manual_seed(seed)
    rgb = torch.randint(0, 256, (1, 3, size, size + 8), generator=generator).float()
    mean, stddev = OFFICIAL_MEAN, OFFICIAL_STDDEV
    with torch.no_grad():
        outputs = model((rgb - mean) / stddev)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    tensors = {"input": rgb}
    tensors.update(zip(["class_scores", "boxes"], outputs))
    as_json = {k: {"shape": list(t.shape[1:]), "data": t.flatten().tolist()}
               for k, t in tensors.items()}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(as_json, f)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="model file to write (.onnx)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    parser.add_argument("--agnostic", action="store_true", help="class-agnostic boxes (4)")
    parser.add_argument("--no-regressor", action="store_true", help="classifier only")
    parser.add_argument("--zero-pad", action="store_true",
                        help="pad with nn.ZeroPad2d modules instead of the convs' padding")
    parser.add_argument("--sample", help="also write an input and the outputs on it (JSON)")
    parser.add_argument("--half", action="store_true",
                        help="store the weights as float16 (Cast nodes to float), half the size")
    args = parser.parse_args(argv)
    model = small_model(args.seed, args.agnostic, not args.no_regressor, args.zero_pad)
    export(model, args.out, SMALL_CLASSES, background=0, name=f"small-random-{args.seed}",
           metadata={"description": "Random weights for the tests of the model format",
                     "training": f"tools/export/export_example.py --seed {args.seed}"},
           weight_storage="float16" if args.half else "float32")
    if args.sample:
        write_sample(model, args.sample, args.seed, model.window + 2 * 4 * 4)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
