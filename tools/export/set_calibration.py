# SPDX-License-Identifier: MIT
"""Stores a detection calibration in a model file, or removes it.

`overfeat eval DIR --fit-confidence cal.json` fits how a model's merged boxes' evidence becomes
the probability that a box is right; this writes that JSON into the file's
`overfeat.detection_calibration` property (docs/model-format.md), leaving every other byte of
meaning as it was (weights, their storage, the other metadata):

    /usr/bin/python3 tools/export/set_calibration.py MODEL.onnx cal.json
    /usr/bin/python3 tools/export/set_calibration.py MODEL.onnx --remove
"""

import argparse
import json
import math
import os
import sys

import onnx

KEY = "overfeat.detection_calibration"
FIELDS = ("bias", "w_peak", "w_mass")


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", help="model file to change (written in place, atomically)")
    p.add_argument("calibration", nargs="?", help="JSON written by overfeat eval --fit-confidence")
    p.add_argument("--remove", action="store_true", help="remove the calibration")
    args = p.parse_args(argv)
    if bool(args.calibration) == args.remove:
        p.error("give a calibration file or --remove")
    model = onnx.load(args.model)
    props = [q for q in model.metadata_props if q.key != KEY]
    if args.calibration:
        with open(args.calibration, encoding="utf-8") as f:
            c = json.load(f)
        bad = [k for k in FIELDS if not isinstance(c.get(k), (int, float))
               or not math.isfinite(c[k]) or abs(c[k]) > 1000]
        if bad:
            raise SystemExit(f"{args.calibration}: {', '.join(bad)} must be numbers between "
                             "-1000 and 1000 (write it with overfeat eval --fit-confidence)")
        value = json.dumps({k: c[k] for k in FIELDS} | {"fitted_on": str(c.get("fitted_on", ""))})
    del model.metadata_props[:]
    for q in props:
        model.metadata_props.add(key=q.key, value=q.value)
    if args.calibration:
        model.metadata_props.add(key=KEY, value=value)
    tmp = args.model + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, args.model)
    print(f"{args.model}: " + (f"detection calibration {value}" if args.calibration
                               else "detection calibration removed"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
