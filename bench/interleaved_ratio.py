#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Issue 15's ratios against PyTorch on the CPU, in rounds that alternate the two sides.

`overfeat bench` times our side, then PyTorch's, once each; on a virtual machine whose speed
drifts within a minute (this project's 2-core VM has slow phases of up to 2x) one run's ratio
can be off by a factor of two either way. Here each round runs our side and then PyTorch's
(bench/pytorch_reference.py or bench/pytorch_dense.py), each a median of --repeat passes, and
the result is the median of the rounds' ratios, with every round's figures and the 1-minute
load average when each side started (--quiet 0.3 waits for the project's rule before each).

  /usr/bin/python3 bench/interleaved_ratio.py fast      # official fast net, 231x231
  /usr/bin/python3 bench/interleaved_ratio.py accurate  # official accurate net, 221x221
  /usr/bin/python3 bench/interleaved_ratio.py dense     # bundled model, one 240x320 frame
  /usr/bin/python3 bench/interleaved_ratio.py classic --model resnet50.onnx --torch-arch resnet50
      # a classic network (tools/export/export_torchvision.py) against torchvision's, 224x224
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def load():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def wait_for_load(limit, timeout=600):
    """Sleeps until the 1-minute load average is under `limit` (the project's rule for a
    ratio: under 0.3 when both sides start), or `timeout` seconds have passed."""
    end = time.time() + timeout
    while load() >= limit and time.time() < end:
        time.sleep(5)


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["fast", "accurate", "dense", "classic"])
    ap.add_argument("--model", help="classic: the network's ONNX file")
    ap.add_argument("--torch-arch", help="classic: torchvision's name for it (resnet50, vgg16, ...)")
    ap.add_argument("--size", default="224x224", help="classic: input HxW")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3, help="timed passes per side and round")
    ap.add_argument("--overfeat", default=os.path.join(HERE, "..", "build", "tools", "overfeat",
                                                       "overfeat"))
    ap.add_argument("--threads", type=int, default=2, help="PyTorch's threads")
    ap.add_argument("--quiet", type=float, default=0,
                    help="before each side of each round, wait until the 1-minute load average "
                         "is under this (0.3: the project's rule); 0: do not wait")
    args = ap.parse_args()
    if args.what == "classic" and not (args.model and args.torch_arch):
        ap.error("classic needs --model FILE.onnx and --torch-arch ARCH")
    size = {"fast": "231x231", "accurate": "221x221", "dense": "240x320",
            "classic": args.size}[args.what]
    rep = ["--repeat", str(args.repeat)]
    if args.what == "classic":
        ours_cmd = [args.overfeat, "bench", "--model", args.model, "--size", size, "--no-torch",
                    "--json"]
        torch_cmd = [sys.executable, os.path.join(HERE, "pytorch_reference.py"), "--torchvision",
                     args.torch_arch, "--size", size, "--json", "--threads", str(args.threads)]
    elif args.what == "dense":
        ours_cmd = [args.overfeat, "bench", "dense", "-m", "bundled", "--scales", size, "--json"]
        torch_cmd = [sys.executable, os.path.join(HERE, "pytorch_dense.py"), "--size", size,
                     "--json", "--threads", str(args.threads)]
    else:
        ours_cmd = [args.overfeat, "bench", "--net", args.what, "--size", size, "--no-torch",
                    "--json"]
        torch_cmd = [sys.executable, os.path.join(HERE, "pytorch_reference.py"), "--net",
                     args.what, "--size", size, "--json", "--threads", str(args.threads)]
    ratios = []
    name = args.torch_arch if args.what == "classic" else args.what
    print(f"{name} {size}: {args.rounds} rounds, {args.repeat} passes per side")
    print(f"{'round':>5} {'load':>5} {'ours ms':>9} {'load':>5} {'torch ms':>9} {'ratio':>6}")
    for r in range(args.rounds):
        if args.quiet > 0:
            wait_for_load(args.quiet)
        start_load = load()
        ours = run_json(ours_cmd + rep)
        if args.what == "dense":
            ours_ms = next(x["network_ms"] for x in ours["runs"] if not x["flips"])
        else:
            ours_ms = ours["runs"][0]["wall_ms"]
        if args.quiet > 0:
            wait_for_load(args.quiet)
        torch_load = load()
        torch = run_json(torch_cmd + rep)
        torch_ms = torch["median_ms"] if args.what == "dense" else torch["results"][0]["total_ms"]
        ratios.append(ours_ms / torch_ms)
        print(f"{r + 1:>5} {start_load:>5.2f} {ours_ms:>9.1f} {torch_load:>5.2f} {torch_ms:>9.1f} "
              f"{ratios[-1]:>5.2f}x", flush=True)
    print(f"median ratio {statistics.median(ratios):.2f}x (range {min(ratios):.2f}-"
          f"{max(ratios):.2f}x)")


if __name__ == "__main__":
    main()
