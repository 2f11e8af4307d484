# SPDX-License-Identifier: MIT
"""Stores a model's detection settings in its file: calibrations and its own scale list.

`overfeat eval DIR --fit-confidence cal.json` fits how a model's merged boxes' evidence becomes
the probability that a box is right, for the number of maps (scales and mirrors) it evaluated;
this adds that JSON to the file's `overfeat.detection_calibration` array (docs/model-format.md),
replacing one fitted on the same number of maps, and leaves every other byte of meaning as it
was (weights, their storage, the other metadata). A still's six scales and a live frame's one
each get their own:

    overfeat eval DIR --limit 150 --fit-confidence still.json
    overfeat eval DIR --limit 150 --scales window --fit-confidence live.json
    /usr/bin/python3 tools/export/set_calibration.py MODEL.onnx still.json live.json
    /usr/bin/python3 tools/export/set_calibration.py MODEL.onnx --remove
    /usr/bin/python3 tools/export/set_calibration.py MODEL.onnx --scales 133,150,177

`--scales` sets `overfeat.detection_scales`, the list the scale set `model` (the default of
`overfeat detect`, `eval` and the app's stills) means for this model; choose it with `overfeat
eval --scales LIST` on images that the figures you report leave out.
"""

import argparse
import json
import math
import os
import sys

import onnx

KEY = "overfeat.detection_calibration"
SCALES_KEY = "overfeat.detection_scales"
FIELDS = ("bias", "w_peak", "w_mass")


def read_calibration(path):
    with open(path, encoding="utf-8") as f:
        c = json.load(f)
    bad = [k for k in FIELDS if not isinstance(c.get(k), (int, float))
           or not math.isfinite(c[k]) or abs(c[k]) > 1000]
    if bad or not isinstance(c.get("maps", 0), int) or not 0 <= c.get("maps", 0) <= 4096:
        raise SystemExit(f"{path}: {', '.join(bad) or 'maps'} out of range (write it with "
                         "overfeat eval --fit-confidence)")
    return {k: c[k] for k in FIELDS} | {"maps": c.get("maps", 0),
                                        "fitted_on": str(c.get("fitted_on", ""))}


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", help="model file to change (written in place, atomically)")
    p.add_argument("calibrations", nargs="*",
                   help="JSON files written by overfeat eval --fit-confidence")
    p.add_argument("--remove", action="store_true", help="remove the calibrations")
    p.add_argument("--scales", help="the model's own scale list (e.g. 133,150,177); '' removes it")
    args = p.parse_args(argv)
    if args.calibrations and args.remove:
        p.error("give calibration files or --remove, not both")
    if not args.calibrations and not args.remove and args.scales is None:
        p.error("nothing to do: give calibration files, --remove or --scales")
    model = onnx.load(args.model)
    kept = []
    for q in model.metadata_props:
        if q.key == KEY and not args.remove:
            old = json.loads(q.value)
            kept = old if isinstance(old, list) else [old]
    for path in args.calibrations:
        c = read_calibration(path)
        kept = [k for k in kept if k.get("maps", 0) != c["maps"]] + [c]
    scales = next((q.value for q in model.metadata_props if q.key == SCALES_KEY), "")
    if args.scales is not None:
        scales = args.scales
    props = [q for q in model.metadata_props if q.key not in (KEY, SCALES_KEY)]
    del model.metadata_props[:]
    for q in props:
        model.metadata_props.add(key=q.key, value=q.value)
    value = json.dumps(kept)
    if kept:
        model.metadata_props.add(key=KEY, value=value)
    if scales:
        model.metadata_props.add(key=SCALES_KEY, value=scales)
    tmp = args.model + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, args.model)
    print(f"{args.model}: " + (f"detection calibrations {value}" if kept
                               else "no detection calibration")
          + f"; detection scales {scales or 'the paper' + chr(39) + 's'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
