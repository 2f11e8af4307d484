# SPDX-License-Identifier: MIT
"""The network trained here: a small OverFeat-style net sized for a 2-core CPU.

It is described with the engine's module tokens (`conv:OUT:K:S relu pool:K pad:P`, plus
`dropout:P`, see tools/export/export_example.py), so that the exported file is exactly
export_example.OverFeatModel(TRUNK, CLASSIFIER, REGRESSOR). For training, every convolution
followed by a ReLU gets a BatchNorm2d (conv -> BN -> ReLU); `to_export_model()` folds each BN
into its convolution, and multiplies the regressor's last layer by the window so that boxes come
out in input pixels (the file's `window-relative-xyxy-pixels` encoding; training uses units of
the window).

    trunk       conv 7x7/2 48, pool 2, conv 5x5 128, pool 2, 3 x conv 3x3 pad 1 (192, 192, 256),
                pool 2                                   -> 256 x 7 x 7 per 133-px window
    classifier  conv 7x7 512, 1x1 512 (dropout 0.5 before both 1x1), 1x1 C  -> logits
    regressor   conv 7x7 256, 1x1 128, 1x1 4 (class-agnostic)               -> box edges

Window 133 px, stride 16 px (one output cell per 133x133 window, one more per 16 px).
"""

import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "export"))
import export_example  # noqa: E402  (tools/export/export_example.py)

TRUNK = ("conv:48:7:2 relu pool:2 conv:128:5:1 relu pool:2 pad:1 conv:192:3:1 relu "
         "pad:1 conv:192:3:1 relu pad:1 conv:256:3:1 relu pool:2")
CLASSIFIER = "conv:512:7:1 relu dropout:0.5 conv:512:1:1 relu dropout:0.5 conv:{classes}:1:1"
REGRESSOR = "conv:256:7:1 relu conv:128:1:1 relu conv:4:1:1"
# Initial bias of the box output (left, top, right, bottom in window units): about the mean
# of the training targets, so the regressor starts from "the object fills the window".
BOX_BIAS = (0.05, 0.1, 0.95, 0.95)


def _layers(spec, in_channels, batch_norm):
    """Modules for `spec` (the tokens of export_example.build_layers), with a BatchNorm2d
    between every convolution and the ReLU after it when `batch_norm`. Returns (layers, convs,
    out_channels), `convs` being the (conv, bn or None) pairs in order."""
    tokens = spec.split()
    layers, convs, channels, pad = [], [], in_channels, 0
    for n, token in enumerate(tokens):
        head, *fields = token.split(":")
        if head == "conv":
            out, k, s = (int(f) for f in fields)
            norm = batch_norm and n + 1 < len(tokens) and tokens[n + 1] == "relu"
            conv = nn.Conv2d(channels, out, k, stride=s, padding=pad, bias=not norm)
            bn = nn.BatchNorm2d(out) if norm else None
            layers += [conv] + ([bn] if bn else [])
            convs.append((conv, bn))
            channels, pad = out, 0
        elif head == "relu":
            layers.append(nn.ReLU(inplace=True))
        elif head == "pool":
            layers.append(nn.MaxPool2d(int(fields[0])))
        elif head == "pad":
            pad += int(fields[0])
        elif head == "dropout":
            layers.append(nn.Dropout(float(fields[0])))
        else:
            raise ValueError(f"unknown module '{token}'")
    return layers, convs, channels


def _out_size(layers, size):
    for layer in layers:
        if isinstance(layer, nn.Conv2d):
            size = (size + 2 * layer.padding[0] - layer.kernel_size[0]) // layer.stride[0] + 1
        elif isinstance(layer, nn.MaxPool2d):
            size //= layer.kernel_size
        if size <= 0:
            return 0
    return size


class TrainNet(nn.Module):
    """forward(image [N, 3, H, W]) -> (logits [N, C, h, w], boxes [N, 4, h, w] in window units
    relative to each cell's window)."""

    def __init__(self, num_classes, trunk=TRUNK, classifier=CLASSIFIER, regressor=REGRESSOR,
                 batch_norm=True, frozen_batch_norm=False):
        super().__init__()
        self.config = dict(num_classes=num_classes, trunk=trunk, classifier=classifier,
                           regressor=regressor, batch_norm=batch_norm)
        if frozen_batch_norm:  # recorded only when set: older checkpoints load unchanged
            self.config["frozen_batch_norm"] = True
        self.frozen_batch_norm = frozen_batch_norm
        self.specs = (trunk, classifier.format(classes=num_classes), regressor)
        trunk_layers, self._trunk_convs, channels = _layers(self.specs[0], 3, batch_norm)
        cls_layers, self._cls_convs, classes = _layers(self.specs[1], channels, batch_norm)
        reg_layers, self._reg_convs, boxes = _layers(self.specs[2], channels, batch_norm)
        if classes != num_classes or boxes != 4:
            raise ValueError(f"heads give {classes} classes and {boxes} box values")
        self.trunk = nn.Sequential(*trunk_layers)
        self.classifier = nn.Sequential(*cls_layers)
        self.regressor = nn.Sequential(*reg_layers)
        self.window = next(s for s in range(1, 1025) if self.out_size(s) >= 1)
        self.stride = 1
        for layer in trunk_layers + cls_layers:
            if isinstance(layer, nn.Conv2d):
                self.stride *= layer.stride[0]
            elif isinstance(layer, nn.MaxPool2d):
                self.stride *= layer.kernel_size
        self._initialize()

    def _initialize(self):
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        last_cls, last_reg = self._cls_convs[-1][0], self._reg_convs[-1][0]
        nn.init.normal_(last_cls.weight, std=0.01)
        nn.init.normal_(last_reg.weight, std=0.001)
        with torch.no_grad():
            last_reg.bias.copy_(torch.tensor(BOX_BIAS))

    def train(self, mode=True):
        """As nn.Module.train, but with `frozen_batch_norm` every BatchNorm stays in eval mode
        (its running statistics are used and not updated; its scale and shift still learn):
        fine-tuning from a model file, whose BatchNorms are folded away, starts from exactly
        that model's function."""
        super().train(mode)
        if self.frozen_batch_norm:
            for module in self.modules():
                if isinstance(module, nn.BatchNorm2d):
                    module.eval()
        return self

    def embedding_split(self):
        """Index into `classifier` just after the ReLU of its next-to-last convolution:
        classifier[:i] gives the features one-shot learning uses (feature_layer() + 1, the
        ReLU's output), classifier[i:] the logits from them."""
        penultimate = self._cls_convs[-2][0]
        layers = list(self.classifier)
        start = layers.index(penultimate)
        return next(i + 1 for i in range(start, len(layers)) if isinstance(layers[i], nn.ReLU))

    @torch.no_grad()
    def load_model_file(self, path):
        """Initializes the weights from an exported model file (export.py; float32 or float16
        weights), the inverse of to_export_model(): each BatchNorm becomes the identity
        (statistics 0 and 1 - eps, scale 1) with the folded bias as its shift. Use with
        `frozen_batch_norm` to keep the file's function while fine-tuning."""
        import onnx
        from onnx import numpy_helper

        model = onnx.load(str(path))
        tensors = [torch.from_numpy(numpy_helper.to_array(t).astype("float32"))
                   for t in model.graph.initializer]
        pairs = self._trunk_convs + self._cls_convs + self._reg_convs
        if len(tensors) != 2 * len(pairs):
            raise ValueError(f"{path}: {len(tensors)} weight tensors, this network has "
                             f"{2 * len(pairs)}")
        for n, (conv, bn) in enumerate(pairs):
            weight, bias = tensors[2 * n], tensors[2 * n + 1]
            if n == len(pairs) - 1:  # the box output is in input pixels in the file
                weight, bias = weight / self.window, bias / self.window
            if weight.shape != conv.weight.shape or bias.shape != (conv.out_channels,):
                raise ValueError(f"{path}: convolution {n + 1} is {tuple(weight.shape)}, this "
                                 f"network's is {tuple(conv.weight.shape)}")
            conv.weight.copy_(weight)
            if bn is None:
                conv.bias.copy_(bias)
            else:
                bn.running_mean.zero_()
                bn.running_var.fill_(1.0 - bn.eps)
                bn.weight.fill_(1.0)
                bn.bias.copy_(bias)

    def out_size(self, size):
        """Side of the output map for a square input of side `size`."""
        return _out_size(self.classifier, _out_size(self.trunk, size))

    def forward(self, image):
        features = self.trunk(image)
        return self.classifier(features), self.regressor(features)

    def feature_layer(self):
        """Release-numbered layer of the classifier's next-to-last convolution (its output
        before the ReLU), the default layer for features and one-shot learning, as layer 19 of
        the official fast net."""
        tokens = [t for t in " ".join(self.specs[:2]).split() if not t.startswith("dropout")]
        convs = [n + 1 for n, t in enumerate(tokens) if t.startswith("conv")]
        return convs[-2]

    @torch.no_grad()
    def to_export_model(self):
        """export_example.OverFeatModel with the same function in eval mode: BNs folded into
        the convolutions, boxes scaled to input pixels."""
        plain = export_example.OverFeatModel(*self.specs, num_classes=self.config["num_classes"])
        pairs = self._trunk_convs + self._cls_convs + self._reg_convs
        targets = [m for part in (plain.trunk, plain.classifier, plain.regressor)
                   for m in part if isinstance(m, nn.Conv2d)]
        assert len(pairs) == len(targets)
        for (conv, bn), target in zip(pairs, targets):
            weight = conv.weight.clone()
            bias = conv.bias.clone() if conv.bias is not None else torch.zeros(weight.shape[0])
            if bn is not None:
                scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                weight *= scale.view(-1, 1, 1, 1)
                bias = (bias - bn.running_mean) * scale + bn.bias
            target.weight.copy_(weight)
            target.bias.copy_(bias)
        last = targets[-1]
        last.weight.mul_(self.window)
        last.bias.mul_(self.window)
        assert plain.window == self.window
        return plain.eval()


def parameter_groups(model, weight_decay):
    """Weight decay on the convolutions' weights only (not on biases and BN parameters)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.ndim == 4 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]
