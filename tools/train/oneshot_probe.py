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
    /usr/bin/python3 tools/train/oneshot_probe.py --framings resources/models/overfeat-studio.onnx

About two minutes on one core. The layer the engine uses by default is l19relu.

--concat (about three minutes on one core) compares layers joined: each layer's embedding
normalized, then concatenated and normalized again.

--framings (about ten minutes on two cores) compares ways of making the embedding on the
layers after conv6: centred on the mean of Caltech training photographs (SimpleShot's CL2N),
averaged with the mirror image, averaged over smaller sides 133 and 177 (and all three), the
maximum over the cells instead of the mean, and a signed square root after centring. Beside the
closed-set accuracy it prints what a threshold fitted on the trained categories (10 % false
accepts there) gives on the held-out ones: the share answered right, and their false accepts.
"""
import argparse, sys, json, numpy as np, torch, cv2
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from data import Cache, DEFAULT_CACHE, DEFAULT_DATA, cache_size
from model import TrainNet
from windows import to_input

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("model")
parser.add_argument("--framings", action="store_true", help="compare embedding framings")
parser.add_argument("--concat", action="store_true",
                    help="compare layers joined (each normalized, then concatenated)")
args = parser.parse_args()
torch.set_num_threads(2 if args.framings else 1)
c = Cache(DEFAULT_CACHE)
net = TrainNet(len(c.classes), frozen_batch_norm=True); net.load_model_file(args.model); net.eval()
cls = list(net.classifier)
CUTS = {"pool5": 0, "l17": 2, "l18relu": 3, "l19": 6, "l19relu": 7, "logits": 9}
def fit(img, side=133):
    h, w = img.shape[:2]; s = side / min(h, w)
    W, H = min(round(w * s), 4 * side), min(round(h * s), 4 * side)
    return cv2.resize(img, (max(W,133), max(H,133)), interpolation=cv2.INTER_LINEAR)
@torch.no_grad()
def layers(img, side=133):
    """Every cut's output averaged over the cells, and its maximum over the cells."""
    x = net.trunk(torch.from_numpy(to_input(fit(img, side)))[None])
    mean, peak = [x[0].mean((1, 2)).numpy()], [x[0].amax((1, 2)).numpy()]
    for n, m in enumerate(cls[:9]):
        x = m(x)
        if n + 1 in CUTS.values():
            mean.append(x[0].mean((1, 2)).numpy()); peak.append(x[0].amax((1, 2)).numpy())
    return np.concatenate(mean), np.concatenate(peak)
def emb(img):
    """[framing][features]: 0 the default (side 133, mean over cells), 1 the mirror image, 2
    side 177, 3 side 133 with the maximum over cells (--framings only)."""
    plain, peak = layers(img)
    if not args.framings: return plain[None]
    return np.stack([plain, layers(img[:, ::-1].copy())[0], layers(img, 177)[0], peak])
# trained categories: caltech val(test) images in the cache, by category; training mean from caltech train
by_cat, train_feats = {}, []
rng = np.random.default_rng(0)
for i, r in enumerate(c.records):
    if r["source"] != "caltech" or r["category"] == "BACKGROUND_Google": continue
    if r["split"] == "val": by_cat.setdefault(r["category"], []).append(i)
    elif rng.random() < 0.15: train_feats.append(emb(c.image(i)))
train_feats = np.stack(train_feats)
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
def norm(x): return x / (np.linalg.norm(x, axis=-1, keepdims=True) + 1e-12)
def bench(groups, shots=1, episodes=400, seed=1, threshold=None):
    """groups: category -> normalized embeddings [n, d]."""
    rng = np.random.default_rng(seed); keys = list(groups)
    taught_sims, untaught_sims, correct = [], [], []
    for e in range(episodes):
        cls = rng.choice(len(keys), 10, replace=False)
        protos, queries = [], []
        for j, k in enumerate(cls[:5]):
            x = groups[keys[k]]; p = rng.permutation(len(x))
            protos.append(norm(x[p[:shots]].mean(0)))
            queries += [(qq, j) for qq in x[p[shots:shots+2]]]
        protos = np.stack(protos)
        for k in cls[5:]:
            x = groups[keys[k]]; untaught_sims.append((protos @ x[rng.integers(len(x))]).max())
        for q, j in queries:
            s = protos @ q; correct.append(s.argmax() == j); taught_sims.append(s.max())
    correct = np.array(correct); taught_sims = np.array(taught_sims); u = np.sort(untaught_sims)
    out = {"acc": correct.mean()}
    for far in (0.05, 0.10):
        out[f"right@{far}"] = (correct & (taught_sims > u[int(np.ceil((1 - far) * len(u))) - 1])).mean()
    out["thr@0.1"] = u[int(np.ceil(0.9 * len(u))) - 1]
    if threshold is not None:
        out["right@thr"] = (correct & (taught_sims >= threshold)).mean()
        out["fa@thr"] = (np.array(untaught_sims) >= threshold).mean()
    return out

def signed_sqrt(x): return np.sign(x) * np.sqrt(np.abs(x))
if args.concat:
    COMBOS = [["l19relu"], ["l17"], ["l17", "l19relu"], ["l18relu", "l19relu"],
              ["pool5", "l19relu"], ["pool5", "l17", "l19relu"], ["l17", "l18relu", "l19relu"]]
    def part(v, layer): a, b = offs[layer]; return norm(v[:, 0, a:b])
    print("layers | trained: 1-shot 5-shot right@10%FA | held-out: 1-shot 5-shot right@10%FA"
          " | the trained categories' 10 % threshold on held-out: right, false accepts")
    for ls in COMBOS:
        def make(groups): return {k: norm(np.concatenate([part(v, l) for l in ls], 1)) for k, v in groups.items()}
        t, h = make(trained), make(held_f)
        rt = bench(t); rh = bench(h, threshold=rt["thr@0.1"])
        print(f"{'+'.join(ls):22s} | {rt['acc']:.3f} {bench(t, 5)['acc']:.3f} {rt['right@0.1']:.3f}"
              f" | {rh['acc']:.3f} {bench(h, 5)['acc']:.3f} {rh['right@0.1']:.3f}"
              f" | {rh['right@thr']:.3f} {rh['fa@thr']:.3f}", flush=True)
    sys.exit()
if not args.framings:
    for name, groups in (("trained", trained), ("held-out", held_f)):
        for k, (a, b) in offs.items():
            for tr_name, tr in (("", lambda x: x), ("sqrt", signed_sqrt)):
                g = {kk: norm(tr(v[:, 0, a:b])) for kk, v in groups.items()}
                r = bench(g)
                print(name, k, tr_name, {kk: round(float(v), 3) for kk, v in r.items()}, "5-shot", round(float(bench(g, 5)["acc"]), 3), flush=True)
    sys.exit()

FRAMINGS = {  # name -> (features [n, framings, d] -> [n, d]), centred, square root
    "default": (lambda x: x[:, 0], False, False),
    "centred": (lambda x: x[:, 0], True, False),
    "mirror, centred": (lambda x: x[:, :2].mean(1), True, False),
    "sides 133+177, centred": (lambda x: x[:, [0, 2]].mean(1), True, False),
    "all three, centred": (lambda x: x[:, :3].mean(1), True, False),
    "max over cells, centred": (lambda x: x[:, 3], True, False),
    "sqrt, centred": (lambda x: x[:, 0], True, True),
}
print("layer framing | trained: 1-shot 5-shot right@10%FA | held-out: 1-shot 5-shot right@10%FA"
      " | the trained categories' 10 % threshold on held-out: right, false accepts")
for layer in ("l17", "l18relu", "l19", "l19relu"):
    a, b = offs[layer]
    for name, (pick, centred, root) in FRAMINGS.items():
        tr = (lambda x: signed_sqrt(x)) if root else (lambda x: x)
        centre = tr(pick(train_feats[:, :, a:b])).mean(0) if centred else 0
        def make(groups): return {k: norm(tr(pick(v[:, :, a:b])) - centre) for k, v in groups.items()}
        t, h = make(trained), make(held_f)
        rt = bench(t); rh = bench(h, threshold=rt["thr@0.1"])
        print(f"{layer:8s} {name:24s} | {rt['acc']:.3f} {bench(t, 5)['acc']:.3f} {rt['right@0.1']:.3f}"
              f" | {rh['acc']:.3f} {bench(h, 5)['acc']:.3f} {rh['right@0.1']:.3f}"
              f" | {rh['right@thr']:.3f} {rh['fa@thr']:.3f}", flush=True)
