# SPDX-License-Identifier: MIT
"""The training cache: PASCAL VOC 2007 and Caltech-101 as one class list, resized once.

`build_cache()` reads the two data sets of ../shared/data (annotations.jsonl + JPEG files),
resizes every image that training or validation may use so that its smaller side is at most
SMALLER_SIDE pixels, and writes into the cache folder:

    images.u8    every image, RGB uint8 rows, one after the other (read back as a memmap)
    index.json   the class list, the Caltech categories held out, the merges, and one record per
                 image: where its pixels are, its split and its objects (boxes in cache pixels)

Classes: "background" (index 0), the 20 VOC classes in VOC order, then the Caltech-101
categories that are not merged into a VOC class (MERGES) and not held out, sorted.
BACKGROUND_Google images are background examples, not a class. HELD_OUT_COUNT categories,
drawn with HELD_OUT_SEED among the unmerged ones, are left out entirely (no class, no image in
the cache) for the later one-shot evaluation. VOC "val" and Caltech "test" images are stored
with split "val" and never used for training.

    /usr/bin/python3 tools/train/data.py --cache build/train-cache    # build (about 20 s)
    /usr/bin/python3 tools/train/data.py --cache build/train-cache --show   # print a summary
"""

import argparse
import json
import os
import random
import sys
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA = Path(os.environ.get("OVERFEAT_DATA", REPO.parent / "shared" / "data"))
DEFAULT_CACHE = REPO / "build" / "train-cache"

CACHE_VERSION = 1
SMALLER_SIDE = 192  # cached images: smaller side at most this many pixels
BACKGROUND = "background"
CALTECH_BACKGROUND = "BACKGROUND_Google"
HELD_OUT_COUNT = 20
HELD_OUT_SEED = 101

# Caltech-101 category -> the class it is merged into. VOC's annotation guidelines include
# faces (truncated people) in "person", ships and sailing boats in "boat", every bird in
# "bird" and armchairs in "chair"; helicopters are not aeroplanes, so "helicopter" stays a
# class. Part/whole pairs of one animal become one class.
MERGES = {
    "airplanes": "aeroplane",
    "Motorbikes": "motorbike",
    "car_side": "car",
    "Faces": "person",
    "Faces_easy": "person",
    "chair": "chair",
    "windsor_chair": "chair",
    "ferry": "boat",
    "ketch": "boat",
    "schooner": "boat",
    "flamingo": "bird",
    "flamingo_head": "bird",
    "ibis": "bird",
    "rooster": "bird",
    "cougar_body": "cougar",
    "cougar_face": "cougar",
    "crocodile": "crocodile",
    "crocodile_head": "crocodile",
}
# Categories whose boxes do not mean what the class's boxes mean elsewhere: Caltech's Faces
# boxes frame the face, VOC's person boxes the whole visible person. Their images count as
# whole-image examples (classification only, no box regression).
DROP_BOXES = {"Faces"}


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def class_list(voc_classes, caltech_categories, held_out_count=HELD_OUT_COUNT,
               held_out_seed=HELD_OUT_SEED):
    """Returns (classes, held_out, caltech_to_class). Held-out categories are drawn, with a
    fixed seed, among the Caltech categories that are not merged into anything."""
    objects = sorted(c for c in caltech_categories if c != CALTECH_BACKGROUND)
    unmerged = [c for c in objects if c not in MERGES]
    held_out = sorted(random.Random(held_out_seed).sample(unmerged, held_out_count))
    caltech_to_class = {c: MERGES.get(c, c) for c in objects if c not in held_out}
    extra = sorted(set(caltech_to_class.values()) - set(voc_classes), key=str.lower)
    classes = [BACKGROUND] + list(voc_classes) + extra
    return classes, held_out, caltech_to_class


def cache_size(width, height, smaller_side=SMALLER_SIDE):
    """(width, height) of an image in the cache: the smaller side at most `smaller_side`."""
    scale = min(1.0, smaller_side / min(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _voc_records(data_dir, class_index):
    root = data_dir / "voc2007"
    for r in read_jsonl(root / "annotations.jsonl"):
        objects = [{"label": class_index[o["class"]], "box": o["bbox"],
                    "difficult": o["difficult"] == 1, "whole_image": False}
                   for o in r["objects"]]
        yield {"id": "voc/" + r["id"], "path": str(root / "images" / f"{r['id']}.jpg"),
               "source": "voc", "category": None,
               "split": "train" if r["split"] == "train" else "val",
               # images that miss some boxes must not give background windows
               "background_ok": not r["incomplete"], "objects": objects}


def _caltech_records(data_dir, class_index, caltech_to_class):
    root = data_dir / "caltech101"
    for r in read_jsonl(root / "annotations.jsonl"):
        category = r["class"]
        record = {"id": "caltech/" + r["id"], "path": str(root / r["file"]),
                  "source": "caltech", "category": category,
                  "split": "train" if r["split"] == "train" else "val"}
        if category == CALTECH_BACKGROUND:
            yield dict(record, background_ok=True, objects=[])
            continue
        if category not in caltech_to_class:
            continue  # held out: not even in the cache
        label = class_index[caltech_to_class[category]]
        boxes = [] if category in DROP_BOXES else [o["bbox"] for o in r["objects"]]
        objects = [{"label": label, "box": b, "difficult": False, "whole_image": False}
                   for b in boxes]
        if not objects:  # the object fills the image: the whole image is its box
            objects = [{"label": label, "box": [0.0, 0.0, float(r["width"]),
                                                float(r["height"])],
                        "difficult": False, "whole_image": True}]
        yield dict(record, background_ok=False, objects=objects)


def build_cache(cache_dir, data_dir=DEFAULT_DATA, smaller_side=SMALLER_SIDE, progress=True):
    """Writes images.u8 and index.json into `cache_dir` (each written to a temporary name first
    and renamed, so an interrupted build leaves no half cache). Returns the index."""
    from tqdm import tqdm

    data_dir, cache_dir = Path(data_dir), Path(cache_dir)
    voc_classes = (data_dir / "voc2007" / "classes.txt").read_text().split()
    caltech_categories = (data_dir / "caltech101" / "classes.txt").read_text().split()
    classes, held_out, caltech_to_class = class_list(voc_classes, caltech_categories)
    class_index = {c: i for i, c in enumerate(classes)}
    records = list(_voc_records(data_dir, class_index))
    records += list(_caltech_records(data_dir, class_index, caltech_to_class))

    cache_dir.mkdir(parents=True, exist_ok=True)
    pixels_tmp = cache_dir / "images.u8.tmp"
    offset = 0
    with open(pixels_tmp, "wb") as out:
        for r in tqdm(records, desc="caching images", unit="img", disable=not progress):
            bgr = cv2.imread(r.pop("path"), cv2.IMREAD_COLOR)
            if bgr is None:
                raise IOError(f"cannot read the image of {r['id']}")
            h, w = bgr.shape[:2]
            cw, ch = cache_size(w, h, smaller_side)
            if (cw, ch) != (w, h):
                bgr = cv2.resize(bgr, (cw, ch), interpolation=cv2.INTER_AREA)
            rgb = np.ascontiguousarray(bgr[:, :, ::-1])
            out.write(rgb.tobytes())
            sx, sy = cw / w, ch / h
            for o in r["objects"]:
                x1, y1, x2, y2 = o["box"]
                o["box"] = [round(x1 * sx, 2), round(y1 * sy, 2),
                            round(x2 * sx, 2), round(y2 * sy, 2)]
            r.update(offset=offset, width=cw, height=ch)
            offset += rgb.nbytes

    index = {
        "version": CACHE_VERSION,
        "data_dir": str(data_dir),
        "smaller_side": smaller_side,
        "classes": classes,
        "background": 0,
        "held_out_categories": held_out,
        "held_out_seed": HELD_OUT_SEED,
        "merges": {c: MERGES[c] for c in sorted(MERGES) if c in caltech_to_class},
        "boxes_dropped": sorted(DROP_BOXES),
        "splits_kept_out_of_training": ["voc2007 val", "caltech101 test"],
        "pixels_bytes": offset,
        "images": records,
    }
    index_tmp = cache_dir / "index.json.tmp"
    index_tmp.write_text(json.dumps(index), encoding="utf-8")
    os.replace(pixels_tmp, cache_dir / "images.u8")
    os.replace(index_tmp, cache_dir / "index.json")
    return index


class Cache:
    """A built cache, read-only: `classes`, `records` (the index's images) and `image(i)`."""

    def __init__(self, cache_dir):
        cache_dir = Path(cache_dir)
        self.index = json.loads((cache_dir / "index.json").read_text(encoding="utf-8"))
        if self.index.get("version") != CACHE_VERSION:
            raise ValueError(f"{cache_dir}: cache version {self.index.get('version')}, "
                             f"expected {CACHE_VERSION}; rebuild it with data.py --force")
        self.dir = cache_dir
        self.classes = self.index["classes"]
        self.records = self.index["images"]
        self.pixels = np.memmap(cache_dir / "images.u8", dtype=np.uint8, mode="r",
                                shape=(self.index["pixels_bytes"],))

    @staticmethod
    def exists(cache_dir):
        return (Path(cache_dir) / "index.json").is_file()

    @classmethod
    def open_or_build(cls, cache_dir, data_dir=DEFAULT_DATA, log=print):
        if not cls.exists(cache_dir):
            log(f"building the training cache in {cache_dir} from {data_dir}")
            build_cache(cache_dir, data_dir)
        return cls(cache_dir)

    def train_on_voc_val(self, kept):
        """Moves the VOC `val` images after the first `kept` (in annotations.jsonl's order, the
        order of `overfeat eval`'s --skip and --limit) into training, in memory only. The first
        `kept` stay out of everything: they choose settings and give the model card's
        figures. Returns how many images moved."""
        ordinal, moved = 0, 0
        for r in self.records:
            if r["source"] == "voc" and r["split"] == "val":
                if ordinal >= kept:
                    r["split"] = "train"
                    moved += 1
                ordinal += 1
        return moved

    def image(self, i):
        """Image `i` as an [H, W, 3] RGB uint8 array (a view of the memmap)."""
        r = self.records[i]
        n = r["height"] * r["width"] * 3
        return self.pixels[r["offset"]:r["offset"] + n].reshape(r["height"], r["width"], 3)

    def summary(self):
        counts = Counter((r["source"], r["split"]) for r in self.records)
        lines = [f"{len(self.classes)} classes (background + {len(self.classes) - 1}), "
                 f"{len(self.records)} images, {self.index['pixels_bytes'] / 2**20:.0f} MiB "
                 f"of pixels, smaller side <= {self.index['smaller_side']}"]
        lines += [f"  {source} {split}: {n} images"
                  for (source, split), n in sorted(counts.items())]
        lines.append("held-out Caltech categories: " + " ".join(self.index["held_out_categories"]))
        lines.append("classes: " + " ".join(self.classes))
        return "\n".join(lines)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", default=str(DEFAULT_CACHE), help="cache folder to write")
    parser.add_argument("--data", default=str(DEFAULT_DATA),
                        help="folder with voc2007/ and caltech101/ (default: %(default)s)")
    parser.add_argument("--smaller-side", type=int, default=SMALLER_SIDE,
                        help="largest smaller side of a cached image (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="rebuild an existing cache")
    parser.add_argument("--show", action="store_true", help="print the summary of the cache")
    args = parser.parse_args(argv)
    if args.show:
        print(Cache(args.cache).summary())
        return 0
    if Cache.exists(args.cache) and not args.force:
        print(f"{args.cache} already holds a cache (use --force to rebuild it)")
        print(Cache(args.cache).summary())
        return 0
    build_cache(args.cache, args.data, args.smaller_side)
    print(Cache(args.cache).summary())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
