#!/usr/bin/env python3
"""onnxruntime's outputs for the PyTorch-shaped fixtures of tests/kinds.rs
(issue 7, per-model-kind figures): the graphs are built in Rust with prost
(tests/models.rs and tests/kinds.rs) and written to tests/fixtures/kinds/ by

    LFC_WRITE_KIND_FIXTURES=1 cargo test --test lfc_tests kinds_fixtures_are_current

then, per NAME.onnx there, this script writes (seeded, deterministic):

- calib_NAME.csv: 200 calibration rows, every input element uniform in
  [-1, 1] (the `--calibration` file);
- heldout_NAME.csv: 300 held-out rows drawn 10 % wider, uniform in
  [-1.1, 1.1], so most rows have some element slightly outside the
  calibration rows' range;
- NAME.ort.csv: onnxruntime's outputs on the held-out rows, every output
  flattened and concatenated in graph order, headed `output[index]`;
  NAME.reference names what computed them: onnxruntime, on the model
  itself or, where onnxruntime refuses a dilated Conv with auto_pad
  SAME_UPPER/SAME_LOWER, on the same model with those pads written out
  (the note says which node). (The onnx package's reference evaluator is
  no alternative: it runs opset-9..13 BatchNormalization in training mode,
  on the batch's own statistics.)

The tests read these files; they need no Python.

Usage: python3 scripts/kind_fixtures.py [DIR]   (needs numpy, onnx, onnxruntime)
"""
import os
import sys
import zlib

import numpy as np
import onnx
import onnxruntime as ort


def fmt(a):
    return ",".join(repr(float(v)) for v in a)


def write_rows(path, rows):
    with open(path, "w") as f:
        f.write(",".join(f"x{i}" for i in range(rows.shape[1])) + "\n")
        f.writelines(fmt(r) + "\n" for r in rows)


def explicit_same_pads(model):
    """A copy of `model` whose dilated Conv nodes with auto_pad SAME_UPPER
    or SAME_LOWER have explicit pads instead (ONNX: output = ceil(in /
    stride), total pad = (out - 1) * stride + (k - 1) * dilation + 1 - in,
    the odd one at the end for SAME_UPPER); and what was rewritten."""
    from onnx import helper, shape_inference
    m = shape_inference.infer_shapes(model)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in list(m.graph.value_info) + list(m.graph.input)}
    init = {i.name: list(i.dims) for i in m.graph.initializer}
    notes = []
    for n in m.graph.node:
        at = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        pad = at.get("auto_pad", b"NOTSET").decode()
        dil = at.get("dilations", [])
        if n.op_type != "Conv" or pad not in ("SAME_UPPER", "SAME_LOWER") or all(d == 1 for d in dil):
            continue
        spatial = shapes[n.input[0]][2:]
        kernel = at.get("kernel_shape", init[n.input[1]][2:])
        strides = at.get("strides", [1] * len(spatial))
        head, tail = [], []
        for x, k, s, d in zip(spatial, kernel, strides, dil):
            o = (x + s - 1) // s
            total = max(0, (o - 1) * s + (k - 1) * d + 1 - x)
            small = total // 2
            head.append(small if pad == "SAME_UPPER" else total - small)
            tail.append(total - head[-1])
        keep = [a for a in n.attribute if a.name != "auto_pad"]
        del n.attribute[:]
        n.attribute.extend(keep + [helper.make_attribute("pads", head + tail)])
        notes.append(f"Conv `{n.name}`: auto_pad {pad} given as pads {head + tail}, "
                     "onnxruntime refuses dilations with SAME_*")
    return m, notes


def one(out, name):
    path = os.path.join(out, name + ".onnx")
    model = onnx.load(path)
    inp = model.graph.input[0]
    dims = [d.dim_value for d in inp.type.tensor_type.shape.dim]
    n = int(np.prod(dims))
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    calib = rng.uniform(-1, 1, size=(200, n)).astype(np.float32)
    held = rng.uniform(-1.1, 1.1, size=(300, n)).astype(np.float32)
    write_rows(os.path.join(out, f"calib_{name}.csv"), calib)
    write_rows(os.path.join(out, f"heldout_{name}.csv"), held)
    reference = "onnxruntime " + ort.__version__
    explicit, notes = explicit_same_pads(model)
    if notes:
        # onnxruntime refuses dilations with auto_pad SAME_*: the same
        # model with those pads written out (the spec's formula), named.
        reference += " (" + "; ".join(notes) + ")"
        sess = ort.InferenceSession(explicit.SerializeToString(), providers=["CPUExecutionProvider"])
    else:
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    run = lambda feed: sess.run(None, feed)
    with open(os.path.join(out, name + ".reference"), "w") as f:
        f.write(reference + "\n")
    table, head = [], None
    for r in held:
        res = run({inp.name: r.reshape(dims)})
        flat = [np.asarray(v, dtype=np.float64).reshape(-1) for v in res]
        if head is None:
            head = [f"{o}[{j}]" for o, v in zip(names, flat) for j in range(len(v))]
        table.append(np.concatenate(flat))
    with open(os.path.join(out, name + ".ort.csv"), "w") as f:
        f.write(",".join(head) + "\n")
        f.writelines(fmt(r) + "\n" for r in table)
    ops = sorted({n.op_type for n in model.graph.node})
    print(f"{name}: input {dims}, outputs {names}, ops {ops}; {reference}")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/kinds"
    for f in sorted(os.listdir(out)):
        if f.endswith(".onnx"):
            one(out, f[: -len(".onnx")])


if __name__ == "__main__":
    main()
