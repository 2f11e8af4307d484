#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""One-shot learning measured through the commands a user runs (issue 13): seeded N-way
1-shot episodes over the bundled model's never-trained Caltech-101 categories, each taught with
`overfeat learn` (one photo per category, into a fresh store file) and answered with `overfeat
recognize --json` on other photos of the taught categories and of as many untaught ones.
Prints, at each threshold (the code's, read from the answers, and any --thresholds), the share
of taught queries answered right and of untaught ones accepted. A check of `overfeat bench
oneshot`'s figures by another path: every step is the command line's, the image choice is not
the bench's.

  /usr/bin/python3 bench/oneshot_commands.py                     # 40 episodes, ~6 minutes here
  /usr/bin/python3 bench/oneshot_commands.py --episodes 10 --thresholds 0.668,0.732

Needs ../shared/data/caltech101 (or --data) and a built build/tools/overfeat/overfeat.
"""
import argparse
import collections
import json
import os
import pathlib
import random
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--episodes", type=int, default=40)
parser.add_argument("--seed", type=int, default=7)
parser.add_argument("--ways", type=int, default=5)
parser.add_argument("--queries", type=int, default=2, help="photos per category and episode")
parser.add_argument("--thresholds", default="", help="more thresholds to report, comma-separated")
parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "caltech101"))
parser.add_argument("--overfeat", default=str(ROOT / "build" / "tools" / "overfeat" / "overfeat"))
parser.add_argument("--model", default=str(ROOT / "resources" / "models" / "overfeat-studio.onnx"),
                    help="the model file (the commands' default: the bundled model)")
args = parser.parse_args()

data = pathlib.Path(args.data)
if not (data / "annotations.jsonl").exists():
    sys.exit(f"no Caltech-101 at {data} (annotations.jsonl): pass --data")
try:
    import onnx
except ImportError:
    sys.exit("needs Python's onnx (Debian: python3-onnx) to read the model's held-out categories")
model = onnx.load(args.model, load_external_data=False)
meta = {p.key: p.value for p in model.metadata_props}
if "overfeat.meta.held_out_categories" not in meta:
    sys.exit(f"{args.model} names no held-out categories (overfeat.meta.held_out_categories)")
held = json.loads(meta["overfeat.meta.held_out_categories"])
photos = collections.defaultdict(list)
for line in open(data / "annotations.jsonl"):
    r = json.loads(line)
    if r["class"] in held:
        photos[r["class"]].append(str(data / r["file"]))

rng = random.Random(args.seed)
rows = []  # (taught class or None, best, similarity, threshold)
for episode in range(args.episodes):
    cats = rng.sample(sorted(held), 2 * args.ways)
    taught, untaught = cats[:args.ways], cats[args.ways:]
    with tempfile.TemporaryDirectory() as tmp:
        store = os.path.join(tmp, "store.json")
        queries = []
        for c in taught:
            chosen = rng.sample(photos[c], 1 + args.queries)
            subprocess.run([args.overfeat, "learn", "-m", args.model, "--store", store, c,
                            chosen[0]], check=True, capture_output=True)
            queries += [(q, c) for q in chosen[1:]]
        for c in untaught:
            queries += [(q, None) for q in rng.sample(photos[c], args.queries)]
        out = subprocess.run([args.overfeat, "recognize", "-m", args.model, "--store", store,
                              "--json"] +
                             [q for q, _ in queries], check=True, capture_output=True,
                             text=True).stdout
    for (_, truth), r in zip(queries, json.loads(out)):
        rows.append((truth, r["best"], r["similarity"], r["threshold"]))
    print(f"episode {episode + 1}/{args.episodes}", file=sys.stderr, end="\r")

taught_rows = [r for r in rows if r[0]]
untaught_rows = [r for r in rows if not r[0]]
code = rows[0][3]
thresholds = [code] + [float(t) for t in args.thresholds.split(",") if t]
print(f"{args.episodes} episodes, {args.ways}-way 1-shot, seed {args.seed}: "
      f"{len(taught_rows)} taught and {len(untaught_rows)} untaught queries; the most similar "
      f"class right for {100 * sum(r[1] == r[0] for r in taught_rows) / len(taught_rows):.1f} %")
for t in thresholds:
    right = sum(r[1] == r[0] and r[2] >= t for r in taught_rows) / len(taught_rows)
    accepted = sum(r[2] >= t for r in untaught_rows) / len(untaught_rows)
    name = " (the code's)" if t == code else ""
    print(f"threshold {t:.3f}{name}: answered right {100 * right:.1f} %, "
          f"untaught accepted {100 * accepted:.1f} %")
