# SPDX-License-Identifier: MIT
"""Training and validation windows cut from the cache (data.py).

A window is a rectangle of a cached image resized to the network's input, `size` x `size`
pixels: the input of exactly one output cell. Its label and box follow from where the objects'
boxes fall in it (window_label): the class of an object that is mostly in the window and fills
at least half of it, background when every object is clear of it, otherwise ambiguous (not
used). Its box target is that object's box relative to the window, in units of the window side
(edges left, top, right, bottom; the export multiplies by the window to give input pixels).

Every training window is a pure function of (seed, epoch, index in the epoch), so a resumed
run sees exactly the windows it would have seen, whatever happened before.
"""

import math

import cv2
import numpy as np

# Input normalization, as the engine does it with the model file's metadata: (v - MEAN) / STDDEV
# for v in 0..255 (the official networks' values, one scalar for the three channels).
MEAN = 118.380948
STDDEV = 61.896913

# window_label's thresholds (fractions of the object's box or of the window)
POS_BOX_COVER = 0.5      # positive: at least this much of the object is in the window ...
POS_EXTENT = 0.5         # ... and it spans at least this much of the window's side,
POS_WINDOW_COVER = 0.6   # or the object covers at least this much of the window
CLEAR_BOX_COVER = 0.1    # clear: at most this much of the object is in the window,
CLEAR_EXTENT = 0.2       # or its part in the window spans at most this much of its side;
CLEAR_WINDOW_COVER = 0.2  # and in any case it covers at most this much of the window

MAX_ZOOM = 2.5           # a window is never enlarged more than this from the cache
NO_BOX = np.full(4, np.nan, dtype=np.float32)


def window_label(boxes, labels, usable, size):
    """Label of a window given the objects' boxes in window pixels ([k, 4], window = [0, size]^2).
    Returns (label, index of the object that gives it or None), label 0 for background, or
    (None, None) when the window is ambiguous. `usable[k]` is False for objects that may not
    label a window (VOC "difficult"): they can still make it ambiguous."""
    if len(boxes) == 0:
        return 0, None
    boxes = np.asarray(boxes, dtype=np.float64)
    iw = np.clip(np.minimum(boxes[:, 2], size) - np.maximum(boxes[:, 0], 0), 0, None)
    ih = np.clip(np.minimum(boxes[:, 3], size) - np.maximum(boxes[:, 1], 0), 0, None)
    inter = iw * ih
    area = np.maximum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 1e-6)
    extent = np.maximum(iw, ih)
    positive = (((inter >= POS_BOX_COVER * area) & (extent >= POS_EXTENT * size))
                | (inter >= POS_WINDOW_COVER * size * size))
    candidates = np.flatnonzero(positive & np.asarray(usable, dtype=bool))
    if len(candidates):
        best = int(candidates[np.argmax(inter[candidates])])
        return int(labels[best]), best
    clear = (((inter <= CLEAR_BOX_COVER * area) | (extent <= CLEAR_EXTENT * size))
             & (inter <= CLEAR_WINDOW_COVER * size * size))
    return (0, None) if clear.all() else (None, None)


class Window:
    """A rectangle (x0, y0, width, height) of a cached image, optionally mirrored, mapped onto
    the [0, size]^2 input."""

    def __init__(self, x0, y0, width, height, size, flip=False):
        self.x0, self.y0, self.width, self.height = x0, y0, width, height
        self.size, self.flip = size, flip

    def map_boxes(self, boxes):
        """Boxes [k, 4] from image pixels to window pixels."""
        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        sx, sy = self.size / self.width, self.size / self.height
        x1, x2 = (b[:, 0] - self.x0) * sx, (b[:, 2] - self.x0) * sx
        y1, y2 = (b[:, 1] - self.y0) * sy, (b[:, 3] - self.y0) * sy
        if self.flip:
            x1, x2 = self.size - x2, self.size - x1
        return np.stack([x1, y1, x2, y2], axis=1)

    def cut(self, image):
        """The window's pixels, [size, size, 3] uint8 (bilinear)."""
        sx, sy = self.size / self.width, self.size / self.height
        if self.flip:
            m = [[-sx, 0, self.size + self.x0 * sx], [0, sy, -self.y0 * sy]]
        else:
            m = [[sx, 0, -self.x0 * sx], [0, sy, -self.y0 * sy]]
        return cv2.warpAffine(image, np.float32(m), (self.size, self.size),
                              flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def label_window(record, window):
    """(label, box target in window units or NO_BOX) of a window of `record`'s image, or
    (None, None) when ambiguous. Whole-image objects (no real box) give no box target."""
    objects = record["objects"]
    if not objects:
        return 0, NO_BOX
    boxes = window.map_boxes([o["box"] for o in objects])
    label, k = window_label(boxes, [o["label"] for o in objects],
                            [not o["difficult"] for o in objects], window.size)
    if label is None:
        return None, None
    if k is None or objects[k]["whole_image"]:
        return label, NO_BOX
    return label, (boxes[k] / window.size).astype(np.float32)


def to_input(pixels):
    """uint8 [..., H, W, 3] RGB -> float32 [..., 3, H, W] normalized as the engine does."""
    x = (np.asarray(pixels, dtype=np.float32) - MEAN) / STDDEV
    return np.ascontiguousarray(np.moveaxis(x, -1, -3))


def jitter_colours(pixels, rng, strength=0.25):
    """Random brightness, contrast and saturation of a uint8 RGB window (float32 out)."""
    x = pixels.astype(np.float32)
    grey = x @ np.float32([0.299, 0.587, 0.114])
    saturation, contrast, brightness = rng.uniform(1 - strength, 1 + strength, 3)
    x = grey[..., None] + saturation * (x - grey[..., None])
    x = grey.mean() + contrast * (x - grey.mean())
    return np.clip(x * brightness, 0, 255)


def _clamp_window(cx, cy, width, height, image_w, image_h, size):
    """A window of about (width, height) centred near (cx, cy), shrunk to fit the image and
    grown so it is not enlarged more than MAX_ZOOM."""
    shrink = min(1.0, image_w / width, image_h / height)
    width, height = width * shrink, height * shrink
    grow = max(1.0, size / MAX_ZOOM / width, size / MAX_ZOOM / height)
    width, height = min(width * grow, image_w), min(height * grow, image_h)
    x0 = float(np.clip(cx - width / 2, 0, image_w - width))
    y0 = float(np.clip(cy - height / 2, 0, image_h - height))
    return x0, y0, width, height


class TrainWindows:
    """Draws training windows: positives around objects (classes sampled with weights
    proportional to the square root of their number of objects, then each source of the class
    equally, then an object), background windows from BACKGROUND_Google images and from VOC
    windows clear of every object. Scale, aspect ratio, position, mirror and colours are
    random."""

    def __init__(self, cache, size, seed, background_fraction=0.25, max_images=None,
                 hard_negatives=None, hard_fraction=0.0):
        self.cache, self.size, self.seed = cache, size, seed
        self.background_fraction = background_fraction
        # mined windows (mine.py): [n, 5] image index, x0, y0, width, height in cache pixels
        self.hard = np.zeros((0, 5)) if hard_negatives is None else np.asarray(hard_negatives)
        self.hard_fraction = hard_fraction if len(self.hard) else 0.0
        train = [i for i, r in enumerate(cache.records) if r["split"] == "train"]
        if max_images:
            train = sorted(np.random.default_rng(seed).permutation(train)[:max_images].tolist())
        self.images = train
        min_side = 0.5 * size / MAX_ZOOM  # smaller objects never fill half a window
        by_class = {}
        for i in train:
            for k, o in enumerate(cache.records[i]["objects"]):
                x1, y1, x2, y2 = o["box"]
                if not o["difficult"] and max(x2 - x1, y2 - y1) >= min_side:
                    source = cache.records[i]["source"]
                    by_class.setdefault(o["label"], {}).setdefault(source, []).append((i, k))
        self.classes = sorted(by_class)
        self.instances = [list(by_class[c].values()) for c in self.classes]
        counts = np.array([sum(len(s) for s in groups) for groups in self.instances], float)
        self.class_weights = np.sqrt(counts) / np.sqrt(counts).sum()
        records = cache.records
        self.clutter = [i for i in train
                        if records[i]["background_ok"] and not records[i]["objects"]]
        self.scenes = [i for i in train
                       if records[i]["background_ok"] and records[i]["objects"]]
        if not self.classes or not (self.clutter or self.scenes):
            raise ValueError("the training images give no positive or no background window")

    def batch(self, epoch, start, count):
        """Windows start .. start+count-1 of `epoch`: (inputs [n, 3, S, S] float32,
        labels [n] int64, boxes [n, 4] float32, NaN where there is no box target)."""
        samples = [self.sample(np.random.default_rng([self.seed, epoch, start + j]))
                   for j in range(count)]
        pixels, labels, boxes = zip(*samples)
        return to_input(np.stack(pixels)), np.array(labels, np.int64), np.stack(boxes)

    def sample(self, rng):
        if rng.random() >= self.background_fraction:
            for _ in range(8):
                image, window = self._object_window(rng)
                label, box = label_window(self.cache.records[image], window)
                if label is not None:
                    return self._pixels(image, window, rng), label, box
        return self._background(rng)

    def _pixels(self, image, window, rng):
        return jitter_colours(window.cut(self.cache.image(image)), rng)

    def _object_window(self, rng):
        c = rng.choice(len(self.classes), p=self.class_weights)
        group = self.instances[c][rng.integers(len(self.instances[c]))]
        image, k = group[rng.integers(len(group))]
        record = self.cache.records[image]
        obj = record["objects"][k]
        x1, y1, x2, y2 = obj["box"]
        w, h = record["width"], record["height"]
        aspect = math.exp(rng.uniform(-1, 1) * math.log(1.25))  # window width / height
        if obj["whole_image"]:  # centred object of unknown extent: most of the image
            side = min(w, h) * rng.uniform(0.65, 1.0)
            jitter = 0.05
        else:  # the object's larger side is 45-120 % of the window's
            side = max(x2 - x1, y2 - y1) / rng.uniform(0.45, 1.2)
            jitter = 0.15
        width, height = side * math.sqrt(aspect), side / math.sqrt(aspect)
        cx = (x1 + x2) / 2 + rng.normal(0, jitter) * width
        cy = (y1 + y2) / 2 + rng.normal(0, jitter) * height
        window = Window(*_clamp_window(cx, cy, width, height, w, h, self.size), self.size,
                        flip=bool(rng.random() < 0.5))
        return image, window

    def _random_window(self, record, rng, min_fraction):
        w, h = record["width"], record["height"]
        smallest = max(min_fraction * min(w, h), self.size / MAX_ZOOM)
        side = math.exp(rng.uniform(math.log(min(smallest, min(w, h))), math.log(min(w, h))))
        aspect = math.exp(rng.uniform(-1, 1) * math.log(1.25))
        width, height = side * math.sqrt(aspect), side / math.sqrt(aspect)
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        return Window(*_clamp_window(cx, cy, width, height, w, h, self.size), self.size,
                      flip=bool(rng.random() < 0.5))

    def _hard_negative(self, rng):
        """A mined window (a background window the model scored as an object), moved by up to
        10 % of its side, rescaled by up to 10 % and mirrored at random; the mined window
        itself when the moved one is no longer background."""
        image, x0, y0, width, height = self.hard[rng.integers(len(self.hard))]
        image = int(image)
        record = self.cache.records[image]
        side = width * math.exp(rng.uniform(-0.1, 0.1))
        cx = x0 + width / 2 + rng.uniform(-0.1, 0.1) * width
        cy = y0 + height / 2 + rng.uniform(-0.1, 0.1) * height
        flip = bool(rng.random() < 0.5)
        window = Window(*_clamp_window(cx, cy, side, side * height / width, record["width"],
                                       record["height"], self.size), self.size, flip=flip)
        if label_window(record, window)[0] != 0:
            window = Window(x0, y0, width, height, self.size, flip=flip)
        return self._pixels(image, window, rng), 0, NO_BOX

    def _background(self, rng):
        """A background window: a mined hard negative with probability `hard_fraction`; else
        half of the time from a VOC image (clear of all its objects), else (or when none is
        found in a few tries) from a BACKGROUND_Google image."""
        if self.hard_fraction and rng.random() < self.hard_fraction:
            return self._hard_negative(rng)
        if self.scenes and (not self.clutter or rng.random() < 0.5):
            for _ in range(10):
                image = self.scenes[rng.integers(len(self.scenes))]
                window = self._random_window(self.cache.records[image], rng, 0.0)
                label, _ = label_window(self.cache.records[image], window)
                if label == 0:
                    return self._pixels(image, window, rng), 0, NO_BOX
        pool = self.clutter or self.scenes
        image = pool[rng.integers(len(pool))]
        window = self._random_window(self.cache.records[image], rng, 0.4)
        return self._pixels(image, window, rng), 0, NO_BOX  # may be ambiguous if no clutter


def validation_windows(cache, size, seed, limit=None):
    """Fixed windows of the images kept out of training (split "val"): one centred on every
    usable object (its larger side 80 % of the window), the centred largest square of every
    whole-image object and BACKGROUND_Google image, and one window clear of all objects per VOC
    image where a few seeded tries find one. Returns (pixels [n, S, S, 3] uint8, labels, boxes,
    groups), groups
    being "voc", "caltech" or "background"; `limit` keeps a seeded random subset."""
    rng = np.random.default_rng([seed, 7919])
    pixels, labels, boxes, groups = [], [], [], []

    def add(i, window, group):
        label, box = label_window(cache.records[i], window)
        if label is not None:
            pixels.append(window.cut(cache.image(i)))
            labels.append(label)
            boxes.append(box)
            groups.append("background" if label == 0 else group)
        return label

    for i, r in enumerate(cache.records):
        if r["split"] != "val":
            continue
        w, h = r["width"], r["height"]
        if not r["objects"]:
            side = min(w, h)
            add(i, Window((w - side) / 2, (h - side) / 2, side, side, size), "background")
            continue
        for o in r["objects"]:
            x1, y1, x2, y2 = o["box"]
            if o["difficult"]:
                continue
            if o["whole_image"]:
                side = min(w, h)
            elif max(x2 - x1, y2 - y1) >= 0.5 * size / MAX_ZOOM:  # as TrainWindows
                side = max(x2 - x1, y2 - y1) / 0.8
            else:
                continue
            add(i, Window(*_clamp_window((x1 + x2) / 2, (y1 + y2) / 2, side, side, w, h,
                                         size), size), r["source"])
        if r["background_ok"]:
            for _ in range(10):
                side = rng.uniform(size / MAX_ZOOM, min(w, h))
                x0, y0 = rng.uniform(0, w - side), rng.uniform(0, h - side)
                if window_label(Window(x0, y0, side, side, size).map_boxes(
                        [o["box"] for o in r["objects"]]), [o["label"] for o in r["objects"]],
                        [True] * len(r["objects"]), size)[0] == 0:
                    add(i, Window(x0, y0, side, side, size), "background")
                    break
    order = np.arange(len(labels))
    if limit and limit < len(order):
        order = np.sort(rng.permutation(order)[:limit])
    return (np.stack([pixels[j] for j in order]), np.array(labels)[order],
            np.stack([boxes[j] for j in order]), np.array(groups)[order])
