# SPDX-License-Identifier: MIT
"""One-shot figures of a model file from PyTorch, emulating the engine's embedding (issue 13):
each photograph at smaller side 133 (at most 532 px), the network run densely, a layer's
output averaged over the cells, cosine similarity to the mean of the normalized examples.
400 seeded 5-way episodes (1-shot and 5-shot, 2 queries per class, 5 untaught classes for the
false-accept threshold) on two groups: "trained" (the Caltech test photographs of categories the
model was trained on: choose settings with these) and "held-out" (the 20 categories no training
saw: only measure). Prints, per layer (and with a signed square root), the accuracy and the share
of queries answered right at 5 % and 10 % false accepts.

    /usr/bin/python3 tools/train/oneshot_probe.py resources/models/overfeat-studio.onnx

About two minutes on one core. The layer the engine uses by default is l19relu.
"""
import sys, json, numpy as np, torch, cv2
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from data import Cache, DEFAULT_CACHE, DEFAULT_DATA, cache_size
from model import TrainNet
from windows import to_input
torch.set_num_threads(1)
if len(sys.argv) != 2:
    sys.exit(__doc__)
model = sys.argv[1]
c = Cache(DEFAULT_CACHE)
net = TrainNet(len(c.classes), frozen_batch_norm=True); net.load_model_file(model); net.eval()
cls = list(net.classifier)
CUTS = {"pool5": 0, "l17": 2, "l18relu": 3, "l19": 6, "l19relu": 7, "logits": 9}
def fit(img):
    h, w = img.shape[:2]; s = 133 / min(h, w)
    W, H = min(round(w * s), 532), min(round(h * s), 532)
    return cv2.resize(img, (max(W,133), max(H,133)), interpolation=cv2.INTER_LINEAR)
@torch.no_grad()
def emb(img):
    x = net.trunk(torch.from_numpy(to_input(fit(img)))[None])
    outs = [x[0].mean((1, 2)).numpy()]
    for n, m in enumerate(cls[:9]):
        x = m(x)
        if n + 1 in CUTS.values(): outs.append(x[0].mean((1, 2)).numpy())
    return np.concatenate(outs)
# trained categories: caltech val(test) images in the cache, by category; training mean from caltech train
by_cat, train_feats = {}, []
rng = np.random.default_rng(0)
for i, r in enumerate(c.records):
    if r["source"] != "caltech" or r["category"] == "BACKGROUND_Google": continue
    if r["split"] == "val": by_cat.setdefault(r["category"], []).append(i)
    elif rng.random() < 0.15: train_feats.append(emb(c.image(i)))
mean = np.mean(train_feats, 0)
trained = {k: np.stack([emb(c.image(i)) for i in v[:30]]) for k, v in by_cat.items() if len(v) >= 6}
held = {}
for line in open(DEFAULT_DATA / "caltech101" / "annotations.jsonl"):
    r = json.loads(line)
    if r["class"] in c.index["held_out_categories"]:
        held.setdefault(r["class"], []).append(r)
held_f = {}
for k, rs in held.items():
    fs = []
    for r in rs[:30]:
        img = cv2.cvtColor(cv2.imread(str(DEFAULT_DATA / "caltech101" / r["file"])), cv2.COLOR_BGR2RGB)
        img = cv2.resize(img, cache_size(img.shape[1], img.shape[0]), interpolation=cv2.INTER_AREA)
        fs.append(emb(img))
    held_f[k] = np.stack(fs)

offs = {}; o = 0
for k, d in zip(CUTS, (256, 512, 512, 512, 512, 66)): offs[k] = (o, o + d); o += d
def sl(g, a, b): return {k: v[:, a:b] for k, v in g.items()}
def norm(x): return x / np.linalg.norm(x, axis=-1, keepdims=True)
def bench(groups, center, shots=1, episodes=400, seed=1):
    rng = np.random.default_rng(seed); keys = list(groups)
    right, taught_sims, untaught_sims, correct = 0, [], [], []
    n = 0
    for e in range(episodes):
        cls = rng.choice(len(keys), 10, replace=False)
        protos, queries = [], []
        for j, k in enumerate(cls[:5]):
            x = groups[keys[k]]; p = rng.permutation(len(x))
            s = x[p[:shots]]; q = x[p[shots:shots+2]]
            s = norm(s - center); protos.append(norm(s.mean(0)))
            queries += [(qq, j) for qq in q]
        protos = np.stack(protos)
        for k in cls[5:]:
            x = groups[keys[k]]; untaught_sims.append((protos @ norm(x[rng.integers(len(x))] - center)).max())
        for q, j in queries:
            s = protos @ norm(q - center); b = s.argmax()
            correct.append(b == j); taught_sims.append(s.max())
    correct = np.array(correct); taught_sims = np.array(taught_sims); u = np.sort(untaught_sims)
    out = {"acc": correct.mean()}
    for far in (0.05, 0.10):
        t = u[int(np.ceil((1 - far) * len(u))) - 1]
        out[f"right@{far}"] = (correct & (taught_sims > t)).mean()
    return out

for name, groups in (("trained", trained), ("held-out", held_f)):
    for k, (a, b) in offs.items():
        for tr_name, tr in (("", lambda x: x), ("sqrt", lambda x: np.sign(x) * np.sqrt(np.abs(x)))):
            g = {kk: tr(v) for kk, v in sl(groups, a, b).items()}
            r = bench(g, 0)
            print(name, k, tr_name, {kk: round(float(v), 3) for kk, v in r.items()}, "5-shot", round(float(bench(g, 0, 5)["acc"]), 3), flush=True)
