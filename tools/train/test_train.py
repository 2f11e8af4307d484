# SPDX-License-Identifier: MIT
"""Checks of the training tool: window labels and geometry, the class list, BN folding and
export, and an interrupted run resuming exactly. About a minute on two cores:

    /usr/bin/python3 -m unittest discover -s tools/train -p 'test_*.py' -v

The tests that train need the cache (data.py); they build it when it is missing.
"""

import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import data  # noqa: E402
import export  # noqa: E402
import train  # noqa: E402
from model import TrainNet  # noqa: E402
from windows import NO_BOX, Window, label_window, window_label  # noqa: E402

S = 100  # window side in these tests


class WindowLabelTest(unittest.TestCase):
    def label(self, *boxes, usable=None):
        return window_label(np.array(boxes, float), list(range(1, len(boxes) + 1)),
                            usable or [True] * len(boxes), S)

    def test_object_filling_the_window_is_positive(self):
        self.assertEqual(self.label([10, 10, 90, 90]), (1, 0))

    def test_window_inside_a_large_object_is_positive(self):
        self.assertEqual(self.label([-100, -100, 200, 200]), (1, 0))

    def test_tall_thin_object_is_positive(self):
        self.assertEqual(self.label([45, 5, 60, 95]), (1, 0))

    def test_small_or_far_objects_leave_background(self):
        self.assertEqual(self.label([10, 10, 25, 25], [150, 150, 250, 250]), (0, None))

    def test_half_visible_object_is_ambiguous(self):
        self.assertEqual(self.label([50, 0, 250, 100]), (None, None))

    def test_window_deep_inside_a_huge_object_is_not_background(self):
        # only 1 % of the object is in the window, but it covers the whole window
        self.assertEqual(self.label([-450, -450, 550, 550])[0], 1)

    def test_difficult_object_never_labels_but_can_make_ambiguous(self):
        self.assertEqual(self.label([10, 10, 90, 90], usable=[False]), (None, None))
        self.assertEqual(self.label([10, 10, 90, 90], [20, 20, 80, 80], usable=[False, True]),
                         (2, 1))

    def test_largest_intersection_wins(self):
        self.assertEqual(self.label([0, 0, 60, 100], [0, 0, 100, 100])[0], 2)


class WindowGeometryTest(unittest.TestCase):
    def test_cut_and_boxes_agree_with_and_without_mirror(self):
        image = np.zeros((200, 300, 3), np.uint8)
        image[50:100, 180:260] = 255  # an object at x 180..260, y 50..100
        for flip in (False, True):
            window = Window(150, 20, 120, 100, S, flip=flip)
            x1, y1, x2, y2 = window.map_boxes([[180, 50, 260, 100]])[0]
            pixels = window.cut(image)[..., 0] > 127
            ys, xs = np.nonzero(pixels)
            self.assertAlmostEqual(xs.min(), x1, delta=1.5)
            self.assertAlmostEqual(xs.max() + 1, x2, delta=1.5)
            self.assertAlmostEqual(ys.min(), y1, delta=1.5)
            self.assertAlmostEqual(ys.max() + 1, y2, delta=1.5)

    def test_whole_image_objects_give_no_box_target(self):
        record = {"objects": [{"label": 3, "box": [0, 0, 200, 150], "difficult": False,
                               "whole_image": True}]}
        label, box = label_window(record, Window(25, 0, 150, 150, S))
        self.assertEqual(label, 3)
        self.assertTrue(np.isnan(box).all() and box.shape == NO_BOX.shape)


class ClassListTest(unittest.TestCase):
    def test_merges_held_out_and_order(self):
        voc = ["aeroplane", "bird", "boat", "car", "chair", "motorbike", "person"]
        caltech = sorted(data.MERGES) + ["BACKGROUND_Google"] + [f"cat{i:02d}" for i in range(40)]
        classes, held_out, mapping = data.class_list(voc, caltech)
        self.assertEqual(classes[0], data.BACKGROUND)
        self.assertEqual(classes[1:len(voc) + 1], voc)
        self.assertEqual(len(held_out), data.HELD_OUT_COUNT)
        self.assertFalse(set(held_out) & set(classes) or set(held_out) & set(mapping))
        self.assertFalse(set(held_out) & set(data.MERGES))
        self.assertNotIn("BACKGROUND_Google", classes)
        self.assertEqual(mapping["airplanes"], "aeroplane")
        self.assertEqual(mapping["cougar_face"], "cougar")
        self.assertEqual(data.class_list(voc, caltech)[1], held_out)  # seeded


def random_batch_norm_net(seed, affine=True, classes=5):
    """A TrainNet(classes) in eval mode whose BatchNorms have random statistics (and scales)."""
    torch.manual_seed(seed)
    net = TrainNet(classes)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            if affine:
                m.weight.data.uniform_(0.5, 2)
                m.bias.data.uniform_(-1, 1)
    return net.eval()


class ExportTest(unittest.TestCase):
    def test_folded_network_matches_and_exports(self):
        net = random_batch_norm_net(0)
        export.check_folding(net, net.to_export_model())
        self.assertEqual((net.window, net.stride, net.feature_layer()), (133, 16, 19))

    def test_model_file_loads_back_with_the_same_function(self):
        """load_model_file() inverts the export (folded BatchNorm, boxes in pixels), in float32
        and float16 files, and frozen BatchNorm keeps that function in train mode."""
        net = random_batch_norm_net(1, affine=False)
        x = torch.randn(1, 3, 133 + 16, 133)
        with torch.no_grad():
            want = net(x)
        for storage, tolerance in (("float32", 1e-4), ("float16", 2e-2)):
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "m.onnx"
                export.export_example.export(net.to_export_model(), str(path),
                                             [f"c{i}" for i in range(5)], background=0,
                                             weight_storage=storage)
                loaded = TrainNet(5, frozen_batch_norm=True)
                loaded.load_model_file(path)
                with self.assertRaises(ValueError):  # another class count
                    TrainNet(6).load_model_file(path)
            loaded.train()  # dropout on, BatchNorm still frozen
            self.assertFalse(any(m.training for m in loaded.modules()
                                 if isinstance(m, torch.nn.BatchNorm2d)))
            with torch.no_grad():
                got = loaded.eval()(x)
            for a, b in zip(want, got):
                scale = a.abs().max().item()
                self.assertLess((a - b).abs().max().item(), tolerance * scale, storage)


class DataChoicesTest(unittest.TestCase):
    def fake_cache(self, records):
        cache = data.Cache.__new__(data.Cache)
        cache.records = records
        return cache

    def test_voc_val_after_the_kept_slice_is_trained_on(self):
        records = [{"source": s, "split": split} for s, split in
                   [("voc", "val"), ("voc", "train"), ("voc", "val"), ("caltech", "val"),
                    ("voc", "val"), ("voc", "val")]]
        cache = self.fake_cache(records)
        self.assertEqual(cache.train_on_voc_val(2), 2)
        self.assertEqual([r["split"] for r in records],
                         ["val", "train", "val", "val", "train", "train"])

    def test_hard_negatives_stay_background(self):
        """A mined window, moved and rescaled, is still clear of the image's objects."""
        import windows
        record = {"width": 300, "height": 200, "objects": [
            {"box": [0.0, 0.0, 120.0, 200.0], "label": 3, "difficult": False,
             "whole_image": False}]}
        cache = self.fake_cache([record])
        cache.image = lambda i: np.zeros((200, 300, 3), np.uint8)
        w = windows.TrainWindows.__new__(windows.TrainWindows)
        w.cache, w.size = cache, 133
        w.hard = np.array([[0, 125.0, 60.0, 133.0, 133.0]])
        for seed in range(50):
            pixels, label, box = w._hard_negative(np.random.default_rng(seed))
            self.assertEqual((pixels.shape, label), ((133, 133, 3), 0))
            self.assertTrue(np.isnan(box).all())


class EvaluateTest(unittest.TestCase):
    """evaluate()'s figures from a stand-in network whose answers are fixed."""

    class Fixed(torch.nn.Module):
        def __init__(self, classes, boxes):
            super().__init__()
            self.classes, self.boxes = classes, boxes

        def forward(self, x):
            n = x.shape[0]
            logits = torch.nn.functional.one_hot(self.classes[:n], 3).float()
            self.classes, boxes, self.boxes = self.classes[n:], self.boxes[:n], self.boxes[n:]
            return logits[:, :, None, None], boxes[:, :, None, None]

    def test_accuracy_iou_and_localization(self):
        unit, half = [0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 0.5]  # IoU(unit, half) = 0.5
        labels = np.array([1, 1, 2, 2, 0])
        boxes = np.array([unit, unit, unit, unit, NO_BOX], np.float32)
        groups = np.array(["voc", "voc", "caltech", "caltech", "background"])
        pixels = np.zeros((5, 4, 4, 3), np.uint8)
        # right + IoU 1, right + IoU 0.5, wrong + IoU 1, right + IoU 0.25, right (background)
        net = self.Fixed(torch.tensor([1, 1, 1, 2, 0]),
                         torch.tensor([unit, half, unit, [0, 0, 0.5, 0.5], unit]))
        f = train.evaluate(net, (pixels, labels, boxes, groups), batch_size=2)
        self.assertAlmostEqual(f["accuracy"], 4 / 5)
        self.assertAlmostEqual(f["voc"], 1.0)
        self.assertAlmostEqual(f["caltech"], 0.5)
        self.assertAlmostEqual(f["box_iou"], (1 + 0.5 + 1 + 0.25) / 4)
        self.assertAlmostEqual(f["localization"], 2 / 4)
        self.assertAlmostEqual(f["localization_voc"], 1.0)
        self.assertAlmostEqual(f["localization_caltech"], 0.0)


class EmbeddingLossTest(unittest.TestCase):
    """The cosine-margin loss on the one-shot features (train.py --embedding-weight)."""

    def test_split_gives_the_relu_features_and_the_logits(self):
        torch.manual_seed(0)
        net = TrainNet(5).eval()
        split = net.embedding_split()
        x = net.trunk(torch.randn(2, 3, net.window + 16, net.window))
        features = net.classifier[:split](x)
        self.assertEqual(features.shape[1], 512)
        self.assertGreaterEqual(float(features.min()), 0.0)  # after the ReLU
        self.assertTrue(torch.allclose(net.classifier[split:](features), net.classifier(x)))
        # the features the engine's one-shot layer gives: feature_layer() is their conv
        tokens = [t for t in " ".join(net.specs[:2]).split() if not t.startswith("dropout")]
        self.assertEqual(tokens[net.feature_layer()], "relu")

    def test_loss_depends_on_directions_and_the_margin(self):
        conv = torch.nn.Conv2d(4, 3, 1)  # background + 2 classes over 4 features
        with torch.no_grad():
            conv.weight.copy_(torch.tensor([[9, 9, 9, 9], [1, 0, 0, 0], [0, 1, 0, 0]],
                                           dtype=torch.float32)[:, :, None, None])
        head = train.CosineHead(conv, scale=10.0, margin=0.0)
        self.assertTrue(torch.equal(head.weight, conv.weight.flatten(1)[1:]))  # no background
        f = torch.tensor([[2.0, 0.1, 0, 0], [0.1, 3.0, 0, 0]])
        right = head.loss(f, torch.tensor([1, 2]))
        wrong = head.loss(f, torch.tensor([2, 1]))
        self.assertLess(float(right), 0.01)
        self.assertGreater(float(wrong), 5.0)
        self.assertAlmostEqual(float(head.loss(7 * f, torch.tensor([1, 2]))), float(right), 5)
        head.margin = 0.3
        self.assertGreater(float(head.loss(f, torch.tensor([1, 2]))), float(right))


@unittest.skipUnless(data.DEFAULT_CACHE.exists() or data.DEFAULT_DATA.exists(),
                     f"needs the training cache or the photographs in {data.DEFAULT_DATA}")
class ResumeTest(unittest.TestCase):
    """An interrupted run (--max-steps in the middle of an epoch) resumed twice ends with
    exactly the weights of an uninterrupted run."""

    OPTIONS = ["--max-images", "120", "--epochs", "2", "--epoch-size", "48", "--batch-size",
               "16", "--val-size", "40", "--threads", "2", "--no-check-engine"]

    def run_train(self, *argv):
        self.assertEqual(train.main(list(argv)), 0)
        for handler in list(train.log.handlers):  # one log file per run
            train.log.removeHandler(handler)
            handler.close()

    def test_resume_is_exact(self):
        self.check_resume_is_exact(self.OPTIONS)

    def test_resume_is_exact_with_the_embedding_loss(self):
        self.check_resume_is_exact(self.OPTIONS + ["--embedding-weight", "0.3"])

    def test_frozen_trunk_keeps_the_files_trunk_and_trains_the_heads(self):
        cache = data.Cache.open_or_build(data.DEFAULT_CACHE)
        start = random_batch_norm_net(3, classes=len(cache.classes))  # no two tensors alike
        with tempfile.TemporaryDirectory() as tmp:
            model = Path(tmp) / "start.onnx"
            export.export_example.export(start.to_export_model(), str(model), cache.classes,
                                         background=0)
            args, _ = train.parse_args(["--freeze-trunk", *self.OPTIONS])
            with self.assertRaises(SystemExit):  # nothing to keep without --init-from
                train.Trainer(args, Path(tmp) / "x")
            run_dir = Path(tmp) / "frozen"
            self.run_train("--run-dir", str(run_dir), *self.OPTIONS, "--init-from", str(model),
                           "--freeze-trunk", "--embedding-weight", "0.5", "--lr", "0.01",
                           "--no-export")
            got = torch.load(run_dir / "last.pt")["model"]
            loaded = TrainNet(len(cache.classes), frozen_batch_norm=True)
            loaded.load_model_file(model)
            want = loaded.state_dict()
            for key, value in want.items():
                if key.startswith("trunk."):
                    self.assertTrue(torch.equal(value, got[key]), key)
            self.assertFalse(all(torch.equal(want[k], got[k]) for k in want
                                 if k.startswith("classifier.") and k.endswith("weight")))

    def check_resume_is_exact(self, options):
        data.Cache.open_or_build(data.DEFAULT_CACHE)
        with tempfile.TemporaryDirectory() as tmp:
            straight, interrupted = Path(tmp) / "straight", Path(tmp) / "interrupted"
            self.run_train("--run-dir", str(straight), *options)
            self.run_train("--run-dir", str(interrupted), *options, "--max-steps", "2")
            self.run_train("--run-dir", str(interrupted), "--resume", "--max-steps", "4")
            self.run_train("--run-dir", str(interrupted), "--resume")
            a = torch.load(straight / "last.pt")
            b = torch.load(interrupted / "last.pt")
            self.assertEqual((a["epoch"], a["global_step"]), (b["epoch"], b["global_step"]))
            for key, value in a["model"].items():
                self.assertTrue(torch.equal(value, b["model"][key]), key)
            self.assertEqual(a["embedding"] is None, "--embedding-weight" not in options)
            for key, value in (a["embedding"] or {}).items():
                self.assertTrue(torch.equal(value, b["embedding"][key]), key)
            self.assertEqual(a["history"][-1]["figures"], b["history"][-1]["figures"])


if __name__ == "__main__":
    unittest.main()
