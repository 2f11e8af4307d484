# SPDX-License-Identifier: MIT
"""Converts a model file's weights to half precision (float16), about halving its size.

    /usr/bin/python3 tools/export/to_half.py IN.onnx OUT.onnx

Every float32 initializer that a Conv reads as its weights or bias becomes a FLOAT16 initializer
`<name>.fp16` (rounded to the nearest half, ties to even), read through a node
`Cast(to=FLOAT)` named `<name>.cast` whose output keeps the old name `<name>`: the graph stays
valid ONNX (onnx.checker accepts it, any runtime runs it) and the engine keeps computing in
float32 (docs/model-format.md, "Weights in half precision"). The metadata property
`overfeat.weight_storage` becomes `float16`. A weight that is not finite or too large for a half
(|x| >= 65520, which rounds to infinity) is an error naming the tensor.

As a library (export_example.export(..., weight_storage="float16") uses it)::

    from to_half import convert_to_float16
    proto = convert_to_float16(onnx.load("model.onnx"))

Needs only numpy and the onnx package (Debian's /usr/bin/python3 has python3-onnx), not torch.
"""

import argparse
import os
import sys

import numpy as np

WEIGHT_STORAGE_KEY = "overfeat.weight_storage"
HALF_SUFFIX = ".fp16"
CAST_SUFFIX = ".cast"


def set_weight_storage(proto, storage):
    """Sets the `overfeat.weight_storage` metadata property of `proto` to `storage`."""
    for entry in proto.metadata_props:
        if entry.key == WEIGHT_STORAGE_KEY:
            entry.value = storage
            return
    entry = proto.metadata_props.add()
    entry.key, entry.value = WEIGHT_STORAGE_KEY, storage


def convert_to_float16(proto):
    """Stores the Conv weights and biases of the ONNX ModelProto `proto` as float16, in place
    (FLOAT16 initializers `<name>.fp16`, each cast to FLOAT by a node `<name>.cast` whose output
    is `<name>`), and sets `overfeat.weight_storage` to `float16`. Returns `proto`.
    Raises ValueError naming the tensor when a value is not finite or overflows a half."""
    from onnx import TensorProto, helper, numpy_helper

    graph = proto.graph
    initializers = {t.name: t for t in graph.initializer}
    wanted = []  # float32 initializers read by a Conv as weights or bias, in graph order
    for node in graph.node:
        if node.op_type != "Conv" or node.domain not in ("", "ai.onnx"):
            continue
        for name in node.input[1:3]:
            tensor = initializers.get(name)
            if tensor is not None and tensor.data_type == TensorProto.FLOAT and name not in wanted:
                wanted.append(name)
    taken = {t.name for t in graph.initializer} | {n.name for n in graph.node}
    taken |= {v.name for v in graph.input} | {o for n in graph.node for o in n.output}
    casts = []
    for name in wanted:
        tensor = initializers[name]
        values = numpy_helper.to_array(tensor).astype(np.float32)
        if not np.all(np.isfinite(values)):
            raise ValueError(f"tensor '{name}' holds infinities or NaNs; weights must be finite")
        with np.errstate(over="ignore"):
            half = values.astype(np.float16)  # round to nearest, ties to even
        if np.any(np.isinf(half)):
            index = int(np.flatnonzero(np.isinf(half))[0])
            raise ValueError(f"tensor '{name}' holds {values.flat[index]!r} at index {index}, "
                             "which float16 cannot store (finite values below 65520 in "
                             "magnitude only); keep float32 weights")
        stored = unique(name + HALF_SUFFIX, taken)
        tensor.CopyFrom(numpy_helper.from_array(half, stored))
        cast_name = unique(name + CAST_SUFFIX, taken)
        casts.append(helper.make_node("Cast", [stored], [name], name=cast_name,
                                      to=TensorProto.FLOAT))
        # Initializers listed as graph inputs (keep_initializers_as_inputs): list the stored one.
        for value in graph.input:
            if value.name == name:
                value.name = stored
                value.type.tensor_type.elem_type = TensorProto.FLOAT16
    # The Casts come first, so that the node list stays topologically sorted.
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    set_weight_storage(proto, "float16")
    return proto


def unique(name, taken):
    """`name`, or `name_2`, `name_3`, ... if it is in `taken`; adds the result to `taken`."""
    result, i = name, 2
    while result in taken:
        result, i = f"{name}_{i}", i + 1
    taken.add(result)
    return result


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("input", help="model file to convert (.onnx)")
    parser.add_argument("output", help="model file to write (.onnx), with float16 weights")
    args = parser.parse_args(argv)
    import onnx

    proto = onnx.load(args.input)
    try:
        convert_to_float16(proto)
    except ValueError as e:
        print(f"to_half.py: {args.input}: {e}", file=sys.stderr)
        return 1
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, args.output)
    before, after = os.path.getsize(args.input), os.path.getsize(args.output)
    print(f"wrote {args.output}: {after:,} bytes ({args.input}: {before:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
