# SPDX-License-Identifier: MIT
"""PyTorch CPU reference timings for the two official OverFeat networks.

Builds the "fast" (net 0) or "accurate" (net 1) OverFeat ConvNet in PyTorch
with random weights (torch.manual_seed(0)) and times it on the CPU, batch 1,
for each requested input size.  This is the yardstick that
`overfeat bench` prints next to the Vulkan engine's per-layer times.

How it measures:

* Every module is put in eval mode, traced with ``torch.jit.trace`` and frozen
  with ``torch.jit.freeze``, all under ``torch.no_grad()``; intra-op threads
  are set with ``torch.set_num_threads`` (default 2).  The frozen module is
  then passed through ``torch.jit.optimize_for_inference``, which keeps the
  convolution weights prepacked in oneDNN's blocked layout.  Without that
  step (``--plain-freeze``) PyTorch 1.13 reorders every weight tensor on
  every call, which for OverFeat's large "full" layers (conv6 of the fast net
  holds 453 MB of weights) costs far more than the arithmetic and makes the
  reference several times slower than PyTorch can actually run.
* Whole network: the frozen full network is run ``--warmup`` times, then
  ``--repeat`` timed runs; the median wall time (ms) is reported.
* Per stage: a stage ``convK`` is that convolution (with its 1-pixel zero
  padding, if any) plus its ReLU plus the max pool that follows it, if any.
  Each stage is traced, frozen and optimized as its own module, fed with the
  actual intermediate tensor the preceding stages produce, and timed the
  same way (median).  The sum of the stage medians is reported next to the
  whole-network median; the difference is what splitting the network costs
  or saves (per-call overhead, the dense <-> oneDNN layout conversion each
  stage does at its ends, cache effects).

Run it with Debian's interpreter, which carries python3-torch:

    /usr/bin/python3 bench/pytorch_reference.py --net fast --size 231x231 --json

With ``--json`` one JSON object is printed on stdout:

    {"torch_version": ..., "threads": ..., "net": ..., "mode": ...,
     "warmup": ..., "repeat": ..., "results": [{"size": [H, W], "total_ms": ...,
     "stages_sum_ms": ..., "stages": [{"name": "conv1", "ms": ...,
     "out_shape": [C, H, W]}, ...]}]}

``--torchvision ARCH`` (instead of ``--net``) times one of torchvision's
classic networks (resnet50, vgg16, ...; random weights) as a whole, the same
way, for ``overfeat bench --model FILE.onnx --torch-arch ARCH``; its results
have no per-stage rows.

Exit status: 0 on success; 2 on bad arguments, an input too small for the
network, or when torch cannot be imported.
"""

import argparse
import json
import statistics
import sys
import time

try:
    import torch
except ImportError:  # reported in main() so that --help still works
    torch = None

# One tuple per stage: (out_channels, kernel, stride, pad, pool, relu).
# Convolutions are cross-correlations, "full" layers are convolutions,
# pool is a max pool with kernel == stride (0: no pool).
NETS = {
    "fast": [
        (96, 11, 4, 0, 2, True),
        (256, 5, 1, 0, 2, True),
        (512, 3, 1, 1, 0, True),
        (1024, 3, 1, 1, 0, True),
        (1024, 3, 1, 1, 2, True),
        (3072, 6, 1, 0, 0, True),
        (4096, 1, 1, 0, 0, True),
        (1000, 1, 1, 0, 0, False),
    ],
    "accurate": [
        (96, 7, 2, 0, 3, True),
        (256, 7, 1, 0, 2, True),
        (512, 3, 1, 1, 0, True),
        (512, 3, 1, 1, 0, True),
        (1024, 3, 1, 1, 0, True),
        (1024, 3, 1, 1, 3, True),
        (4096, 5, 1, 0, 0, True),
        (4096, 1, 1, 0, 0, True),
        (1000, 1, 1, 0, 0, False),
    ],
}
IN_CHANNELS = 3


def parse_size(text):
    """Parse "HxW" (or a single "N" for NxN) into a (H, W) tuple."""
    parts = text.lower().split("x")
    try:
        dims = [int(p) for p in parts]
    except ValueError:
        dims = []
    if len(dims) == 1:
        dims = dims * 2
    if len(dims) != 2 or min(dims) < 1:
        raise argparse.ArgumentTypeError(f"bad size {text!r}, expected HxW")
    return tuple(dims)


def positive_int(text, minimum=1):
    """argparse type: an integer no smaller than `minimum`."""
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
    return value


def parse_args(argv):
    """Read the command line."""
    p = argparse.ArgumentParser(
        description="Time the OverFeat networks in PyTorch (CPU, traced and frozen).")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--net", choices=sorted(NETS),
                       help="fast (net 0) or accurate (net 1)")
    which.add_argument("--torchvision", metavar="ARCH",
                       help="a torchvision classifier (resnet50, vgg16, ...), whole network only")
    p.add_argument("--size", type=parse_size, action="append", required=True,
                   metavar="HxW", help="input size; may be given several times")
    p.add_argument("--threads", type=positive_int, default=2,
                   help="torch.set_num_threads (default 2)")
    p.add_argument("--repeat", type=positive_int, default=10,
                   help="timed runs per measurement (default 10)")
    p.add_argument("--warmup", type=lambda s: positive_int(s, 0), default=3,
                   help="untimed runs before timing (default 3)")
    p.add_argument("--plain-freeze", action="store_true",
                   help="skip torch.jit.optimize_for_inference (weights are "
                        "then reordered for oneDNN on every call)")
    p.add_argument("--device", default="cpu",
                   help="cpu, or cuda to time a GPU peer (then trace+freeze only, and every "
                        "run ends with torch.cuda.synchronize())")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p.parse_args(argv)


def require_torch():
    """Exit with status 2 and a hint when torch cannot be imported."""
    if torch is None:
        sys.stderr.write(
            "error: cannot import torch with " + sys.executable + "; "
            "install python3-torch (apt-get install python3-torch) and run "
            "this script with /usr/bin/python3\n")
        sys.exit(2)


def build_stage(in_channels, spec):
    """One stage: [zero pad] conv, [relu], [max pool]."""
    out_channels, kernel, stride, pad, pool, relu = spec
    layers = [torch.nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=pad)]
    if relu:
        layers.append(torch.nn.ReLU())
    if pool:
        layers.append(torch.nn.MaxPool2d(pool, stride=pool))
    return torch.nn.Sequential(*layers)


def build_stages(net):
    """All stages of a network, as eval-mode modules with random weights."""
    stages, channels = [], IN_CHANNELS
    for spec in NETS[net]:
        stages.append(build_stage(channels, spec).eval().to(DEVICE))
        channels = spec[0]
    return stages


def stage_inputs(stages, x):
    """The tensor each stage receives, followed by the network's output.
    Raises ValueError when the input is too small for the network."""
    tensors = [x]
    for i, stage in enumerate(stages):
        try:
            out = stage(tensors[-1])
        except RuntimeError as err:
            out, why = None, str(err)
        if out is None or min(out.shape[2:]) < 1:
            size = "x".join(str(d) for d in x.shape[2:])
            raise ValueError(f"input {size} is too small: conv{i + 1} has no output"
                             + (f" ({why})" if out is None else ""))
        tensors.append(out)
    return tensors


def compile_module(module, example, prepack):
    """torch.jit.trace then torch.jit.freeze an eval-mode module; with
    `prepack`, also torch.jit.optimize_for_inference (prepacked weights)."""
    traced = torch.jit.trace(module.eval(), example, check_trace=False)
    frozen = torch.jit.freeze(traced)
    return torch.jit.optimize_for_inference(frozen) if prepack else frozen


def mode_name(prepack):
    """How the modules are compiled, for the report."""
    return "trace+freeze+optimize_for_inference" if prepack else "trace+freeze"


DEVICE = "cpu"  # main() sets it from --device


def sync():
    """Waits for the GPU's queued work (no-op on the CPU)."""
    if DEVICE.startswith("cuda"):
        torch.cuda.synchronize()


def median_ms(fn, x, warmup, repeat):
    """Median wall time of fn(x) in milliseconds, after warm-up runs."""
    for _ in range(warmup):
        fn(x)
    sync()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(x)
        sync()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def shape_of(tensor):
    """[C, H, W] of a batch-1 NCHW tensor."""
    return [int(d) for d in tensor.shape[1:]]


def measure_size(stages, size, warmup, repeat, prepack):
    """Whole-network and per-stage medians for one input size."""
    x = torch.randn(1, IN_CHANNELS, size[0], size[1], device=DEVICE)
    tensors = stage_inputs(stages, x)
    whole = compile_module(torch.nn.Sequential(*stages), x, prepack)
    total = median_ms(whole, x, warmup, repeat)
    del whole
    rows = []
    for i, stage in enumerate(stages):
        compiled = compile_module(stage, tensors[i], prepack)
        ms = median_ms(compiled, tensors[i], warmup, repeat)
        del compiled
        rows.append({"name": f"conv{i + 1}", "ms": ms, "out_shape": shape_of(tensors[i + 1])})
    return {"size": list(size), "total_ms": total,
            "stages_sum_ms": sum(r["ms"] for r in rows), "stages": rows}


def measure_torchvision(arch, size, warmup, repeat, prepack):
    """Whole-network median of a torchvision classifier for one input size."""
    import torchvision.models
    builder = getattr(torchvision.models, arch, None)
    if builder is None or not callable(builder):
        raise ValueError(f"torchvision has no network {arch!r}")
    kwargs = {"aux_logits": False, "init_weights": True} if arch in ("googlenet",) else {}
    model = builder(**kwargs).eval().to(DEVICE)
    x = torch.randn(1, IN_CHANNELS, size[0], size[1], device=DEVICE)
    whole = compile_module(model, x, prepack)
    total = median_ms(whole, x, warmup, repeat)
    return {"size": list(size), "total_ms": total, "stages_sum_ms": 0, "stages": []}


def print_table(report):
    """Readable per-size tables."""
    print(f"PyTorch {report['torch_version']} {report['device']}, net {report['net']}, "
          f"{report['threads']} thread(s), median of {report['repeat']} runs "
          f"after {report['warmup']} warm-up, {report['mode']}")
    for res in report["results"]:
        h, w = res["size"]
        print(f"\ninput 3x{h}x{w}")
        print(f"  {'stage':<8}{'out shape':>18}{'ms':>10}{'share':>8}")
        for row in res["stages"]:
            shape = "x".join(str(d) for d in row["out_shape"])
            share = 100.0 * row["ms"] / res["stages_sum_ms"]
            print(f"  {row['name']:<8}{shape:>18}{row['ms']:>10.3f}{share:>7.1f}%")
        print(f"  {'sum of stages':<26}{res['stages_sum_ms']:>10.3f}")
        print(f"  {'whole network':<26}{res['total_ms']:>10.3f}")


def main(argv=None):
    global DEVICE
    args = parse_args(sys.argv[1:] if argv is None else argv)
    require_torch()
    DEVICE = args.device
    if DEVICE.startswith("cuda") and not torch.cuda.is_available():
        sys.stderr.write("error: --device cuda, but this PyTorch sees no CUDA device\n")
        return 2
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    prepack = not args.plain_freeze and DEVICE == "cpu"
    report = {"torch_version": torch.__version__, "threads": torch.get_num_threads(),
              "device": DEVICE,
              "net": args.net or args.torchvision, "mode": mode_name(prepack), "warmup": args.warmup,
              "repeat": args.repeat, "results": []}
    with torch.no_grad():
        stages = build_stages(args.net) if args.net else None
        for size in args.size:
            try:
                if stages is None:
                    result = measure_torchvision(args.torchvision, size, args.warmup,
                                                 args.repeat, prepack)
                else:
                    result = measure_size(stages, size, args.warmup, args.repeat, prepack)
            except ValueError as err:
                sys.stderr.write(f"error: {err}\n")
                return 2
            report["results"].append(result)
    if args.json:
        print(json.dumps(report))
    else:
        print_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
