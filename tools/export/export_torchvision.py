#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Exports a classic ImageNet network from PyTorch to ONNX, as users get them.

    export_torchvision.py ARCH OUT.onnx [--opset 13] [--pretrained]
    export_torchvision.py ARCH OUT.onnx --random-seed 1 --photo SRC.jpg --png IN.png \
        --expect OUT.json

ARCH is one of ARCHS below: torchvision's networks, plus two that torchvision lacks but the ONNX
Model Zoo has: "alexnet-caffe" (the original AlexNet: LRN, grouped convolutions, 227x227 input,
ending in a softmax) and "resnet18-v2" / "resnet50-v2" (pre-activation ResNets: BatchNorm and
ReLU before each convolution).

--pretrained loads torchvision's ImageNet weights (downloaded by torchvision; not for the v2 and
caffe variants). Without it the weights are random: with --random-seed the BatchNorm statistics
are randomized too (so folding them is tested) and the classifier is scaled so the logits spread
over a few units (a near-uniform softmax would make top-1 a coin toss). --photo/--png/--expect
write the test's input (SRC centre-cropped and resized to the model's input, as a PNG) and
PyTorch's log-probabilities on it (JSON), for tests/test_zoo_pytorch.cpp.
"""
import argparse
import json
import sys

import numpy as np
import torch
import torch.nn as nn

ARCHS = [
    "alexnet", "alexnet-caffe", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn", "googlenet",
    "resnet18", "resnet50", "resnet18-v2", "resnet50-v2", "squeezenet1_0", "squeezenet1_1",
    "mobilenet_v2", "densenet121",
]


class LRNFunction(torch.autograd.Function):
    """nn.LocalResponseNorm exports as a decomposition (Pad, AveragePool, Pow, Div); Caffe's
    AlexNet in the ONNX Model Zoo has one LRN node, which this exports."""

    @staticmethod
    def forward(ctx, x, size, alpha, beta, k):
        return nn.functional.local_response_norm(x, size, alpha, beta, k)

    @staticmethod
    def symbolic(g, x, size, alpha, beta, k):
        return g.op("LRN", x, size_i=size, alpha_f=alpha, beta_f=beta, bias_f=k)


class LRN(nn.Module):
    def __init__(self, size, alpha, beta, k):
        super().__init__()
        self.args = (size, alpha, beta, k)

    def forward(self, x):
        return LRNFunction.apply(x, *self.args)


class AlexNetCaffe(nn.Module):
    """The original AlexNet (Krizhevsky et al. 2012, as BVLC's Caffe model): LRN after the first
    two layers, two groups in conv2, conv4 and conv5, overlapping 3/2 max pooling."""

    def __init__(self):
        super().__init__()
        lrn = lambda: LRN(5, 1e-4, 0.75, 1.0)
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),
            nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),
            nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(), nn.MaxPool2d(3, 2))
        self.classifier = nn.Sequential(
            nn.Dropout(), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(), nn.Dropout(),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, 1000))
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x):
        return self.softmax(self.classifier(torch.flatten(self.features(x), 1)))


class PreActBlock(nn.Module):
    """ResNet v2 (He et al. 2016, "Identity mappings"): BN-ReLU-conv, the shortcut from the
    pre-activation where it projects."""

    def __init__(self, cin, cout, stride, bottleneck):
        super().__init__()
        mid = cout // 4 if bottleneck else cout
        self.bn1 = nn.BatchNorm2d(cin)
        if bottleneck:
            self.convs = nn.ModuleList([nn.Conv2d(cin, mid, 1, bias=False),
                                        nn.Conv2d(mid, mid, 3, stride, 1, bias=False),
                                        nn.Conv2d(mid, cout, 1, bias=False)])
        else:
            self.convs = nn.ModuleList([nn.Conv2d(cin, mid, 3, stride, 1, bias=False),
                                        nn.Conv2d(mid, cout, 3, 1, 1, bias=False)])
        self.bns = nn.ModuleList([nn.BatchNorm2d(mid) for _ in self.convs[1:]])
        self.project = (nn.Conv2d(cin, cout, 1, stride, bias=False)
                        if stride != 1 or cin != cout else None)

    def forward(self, x):
        pre = torch.relu(self.bn1(x))
        shortcut = self.project(pre) if self.project is not None else x
        out = self.convs[0](pre)
        for conv, bn in zip(self.convs[1:], self.bns):
            out = conv(torch.relu(bn(out)))
        return out + shortcut


class ResNetV2(nn.Module):
    def __init__(self, blocks, bottleneck):
        super().__init__()
        widths = [256, 512, 1024, 2048] if bottleneck else [64, 128, 256, 512]
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64),
                                  nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        layers, cin = [], 64
        for stage, (n, w) in enumerate(zip(blocks, widths)):
            for i in range(n):
                layers.append(PreActBlock(cin, w, 2 if i == 0 and stage > 0 else 1, bottleneck))
                cin = w
        self.layers = nn.Sequential(*layers)
        self.bn = nn.BatchNorm2d(cin)
        self.fc = nn.Linear(cin, 1000)

    def forward(self, x):
        x = torch.relu(self.bn(self.layers(self.stem(x))))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def build(arch, pretrained):
    if pretrained and arch in ("alexnet-caffe", "resnet18-v2", "resnet50-v2"):
        sys.exit(f"{arch}: torchvision has no weights for it (the ONNX Model Zoo has the file)")
    if arch == "alexnet-caffe":
        return AlexNetCaffe(), 227
    if arch == "resnet18-v2":
        return ResNetV2([2, 2, 2, 2], False), 224
    if arch == "resnet50-v2":
        return ResNetV2([3, 4, 6, 3], True), 224
    import torchvision.models as tvm
    kwargs = {"weights": "DEFAULT"} if pretrained else {}
    if arch == "googlenet":  # the auxiliary classifiers only train
        kwargs.update(aux_logits=False, init_weights=not pretrained)
    return getattr(tvm, arch)(**kwargs), 224


def randomize_statistics(model, gen):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.2)
            m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.2)


def last_linear(model):
    linears = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    return linears[-1]


def load_photo(path, side):
    import cv2
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        sys.exit(f"cannot read {path}")
    h, w = bgr.shape[:2]
    s = min(h, w)
    bgr = bgr[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    return cv2.resize(bgr, (side, side), interpolation=cv2.INTER_AREA)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("arch", choices=ARCHS)
    ap.add_argument("out")
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--pretrained", action="store_true")
    ap.add_argument("--random-seed", type=int)
    ap.add_argument("--photo")
    ap.add_argument("--png")
    ap.add_argument("--expect")
    args = ap.parse_args()
    torch.manual_seed(args.random_seed or 0)
    model, side = build(args.arch, args.pretrained)
    model.eval()

    image = None
    if args.photo:
        import cv2
        bgr = load_photo(args.photo, side)
        cv2.imwrite(args.png, bgr)
        rgb = bgr[:, :, ::-1].astype(np.float32) / 255.0
        mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
        image = torch.from_numpy(((rgb - mean) / std).transpose(2, 0, 1).copy()).float()[None]

    with torch.no_grad():
        if args.random_seed is not None:
            gen = torch.Generator().manual_seed(args.random_seed)
            randomize_statistics(model, gen)
            probe = image if image is not None else torch.randn(1, 3, side, side, generator=gen)
            head = last_linear(model)
            if args.arch == "alexnet-caffe":
                logits = model.classifier(torch.flatten(model.features(probe), 1))
            else:
                logits = model(probe)
            scale = 3.0 / max(float(logits.std()), 1e-6)
            head.weight.mul_(scale)
            head.bias.mul_(scale)
        example_input = torch.zeros(1, 3, side, side)  # fixes the exported input size
        torch.onnx.export(model, example_input, args.out, opset_version=args.opset,
                          input_names=["input"], output_names=["output"],
                          do_constant_folding=True)
        if image is not None:
            if args.arch == "alexnet-caffe":  # its softmax is in the graph: logits before it
                out = model.classifier(torch.flatten(model.features(image), 1))
            else:
                out = model(image)
            logp = torch.log_softmax(out.double(), 1)
            logp = logp[0].double().numpy()
            with open(args.expect, "w") as f:
                json.dump({"arch": args.arch, "opset": args.opset, "side": side,
                           "log_probs": logp.tolist(), "top1": int(logp.argmax())}, f)


if __name__ == "__main__":
    main()
