#!/usr/bin/env python3
"""Regenerates tests/conformance/node/: the ONNX backend node tests for the
ops lfc covers (and the ops being added), from the `onnx` package's own
generators (`onnx.backend.test.case.node`, numpy seeded), as
`backend-test-tools generate-data` does. The wheel does not ship the data.

Dev-only (needs the `onnx` Python package); `cargo test` reads the checked-in
files and needs no Python.

Each kept test becomes tests/conformance/node/<name>/ with
  model.onnx     the test's model, with every graph input after the first
                 turned into an initializer holding the test's value (lfc
                 compiles one runtime input; the others are the constants the
                 "constant side" of Add/MatMul/Clip/Pow/... takes);
  input_0.pb     the first input (the runtime one; float32, an integer
                 input of the quantized ops converted exactly);
  output_K.pb    the expected outputs, in graph order (integer outputs, such
                 as ArgMax's, are stored as DOUBLE: exact for |v| < 2^53).

Kept: every test whose nodes all have op types in OPS (the `_expanded`
function-body forms included when their every node is), whose first input
and outputs are float32 tensors (ArgMax: int64 output allowed), with at
least one element, and whose data is at most MAX_BYTES. Usage:

    python3 scripts/gen-node-tests.py [OUT_DIR]   # default tests/conformance/node
"""
from __future__ import annotations

import os
import re
import shutil
import sys

import numpy as np

import onnx
from onnx import TensorProto, helper, numpy_helper

# Ops lfc lowers today, then the ops other work adds (issue 7 item 3 / ML).
OPS = {
    # today
    "Gemm", "MatMul", "Add", "Sub", "Mul", "Relu", "LeakyRelu", "Tanh",
    "Sigmoid", "HardSigmoid", "Clip", "Softmax", "Identity", "Flatten",
    "Reshape", "Cast", "Dropout", "Squeeze", "Unsqueeze",
    # being added
    "Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "Transpose",
    "Concat", "Slice", "Split", "Gather", "Div", "Pow", "ReduceMean",
    "ReduceSum", "ReduceMax", "LayerNormalization", "BatchNormalization",
    "PRelu", "Exp", "Log", "Elu", "Selu", "Softplus", "Softsign", "Erf",
    "Gelu", "HardSwish", "ArgMax",
    # quantized import (issue 8)
    "QuantizeLinear", "DequantizeLinear", "QLinearMatMul", "QLinearConv",
    "MatMulInteger", "ConvInteger",
}
# Quantized ops: their first input and outputs may be integer tensors
# (int8/uint8/int16/uint16 in, those or int32 out; stored as described below).
QUANT_OPS = {"QuantizeLinear", "DequantizeLinear", "QLinearMatMul", "QLinearConv",
             "MatMulInteger", "ConvInteger"}
INT_TYPES = {TensorProto.INT8, TensorProto.UINT8, TensorProto.INT16,
             TensorProto.UINT16, TensorProto.INT32}
# Nodes an expanded (function-body) form may also contain: tract folds them.
FOLDABLE = {"Constant"}
INT_OUTPUT_OPS = {"ArgMax"}
MAX_BYTES = 64 * 1024
SEED = 0


def tensor_type(vi):
    t = vi.type
    return t.tensor_type.elem_type if t.HasField("tensor_type") else None


def keep(case) -> str | None:
    """None when the test is kept, else why not."""
    g = case.model.graph
    types = {n.op_type for n in g.node}
    if any(n.domain not in ("", "ai.onnx") for n in g.node):
        return "non-default domain"
    if not types <= OPS | FOLDABLE or not types & OPS:
        return "ops " + ",".join(sorted(types - OPS - FOLDABLE))
    inputs, outputs = case.data_sets[0]
    quant = bool(types & QUANT_OPS)
    first = tensor_type(g.input[0]) if g.input else None
    if not inputs or not (first == TensorProto.FLOAT or (quant and first in INT_TYPES)):
        return "first input is not float32"
    for vi in g.output:
        et = tensor_type(vi)
        if et == TensorProto.FLOAT:
            continue
        if et == TensorProto.INT64 and types & INT_OUTPUT_OPS:
            continue
        if quant and et in INT_TYPES:
            continue
        return "non-float output"
    if not isinstance(inputs[0], np.ndarray) or inputs[0].size == 0:
        return "empty or non-array input"
    if any(not isinstance(o, np.ndarray) for o in outputs):
        return "non-array output"
    size = sum(a.nbytes for a in list(inputs) + list(outputs) if isinstance(a, np.ndarray))
    if size > MAX_BYTES:
        return f"{size} bytes of data"
    return None


def freeze_constant_inputs(model, inputs):
    """Graph inputs after the first become initializers with their values."""
    g = model.graph
    first = g.input[0]
    present = [x for x in g.input]
    for vi, value in zip(present[1:], inputs[1:]):
        g.initializer.append(numpy_helper.from_array(np.asarray(value), vi.name))
    del g.input[:]
    g.input.append(first)
    return model


def main() -> int:
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "tests", "conformance", "node")
    np.random.seed(SEED)
    from onnx.backend.test.case import node as node_cases

    cases = node_cases.collect_testcases()
    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    # An `_expanded` test is the function body of its op: kept only when
    # that op (of the unexpanded test) is one of OPS.
    op_of = {c.name: c.model.graph.node[0].op_type for c in cases
             if len(c.model.graph.node) == 1}
    kept, total = 0, 0
    for case in sorted(cases, key=lambda c: c.name):
        ops = {n.op_type for n in case.model.graph.node}
        base = re.sub(r"_expanded(_ver\d+)?$", "", case.name)
        if base != case.name and op_of.get(base) not in OPS:
            continue
        if not ops & OPS:
            continue
        total += 1
        why = keep(case)
        if why is not None:
            print(f"skip {case.name}: {why}", file=sys.stderr)
            continue
        inputs, outputs = case.data_sets[0]
        model = freeze_constant_inputs(onnx.ModelProto.FromString(
            case.model.SerializeToString()), inputs)
        d = os.path.join(out_dir, case.name)
        os.makedirs(d)
        with open(os.path.join(d, "model.onnx"), "wb") as f:
            f.write(model.SerializeToString())
        x = np.asarray(inputs[0], dtype=np.float32)
        with open(os.path.join(d, "input_0.pb"), "wb") as f:
            f.write(numpy_helper.from_array(x, model.graph.input[0].name).SerializeToString())
        for k, (vi, y) in enumerate(zip(model.graph.output, outputs)):
            y = np.asarray(y)
            if y.dtype != np.float32:
                y = y.astype(np.float64)
            with open(os.path.join(d, f"output_{k}.pb"), "wb") as f:
                f.write(numpy_helper.from_array(y, vi.name).SerializeToString())
        kept += 1
    print(f"kept {kept} of {total} node tests touching the ops (onnx {onnx.__version__}, seed {SEED})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
