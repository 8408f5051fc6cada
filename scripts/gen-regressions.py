#!/usr/bin/env python3
"""Writes the ONNX regression inputs of issue 12 into tests/regressions/.

Each file once crashed lfc (a panic in lfc or inside tract, an abort or a
hang); tests/regress.rs runs `lfc compile` on every one and checks the error
names what is at fault. Dev-only: needs the `onnx` Python package. The files
are checked in, so the tests do not need Python.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "regressions")


def model(name, nodes, inputs, outputs, inits=(), opset=13):
    g = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    with open(os.path.join(OUT, name + ".onnx"), "wb") as f:
        f.write(m.SerializeToString())


def vi(name, dims):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


def w(name, shape, seed=1):
    rng = np.random.default_rng(seed)
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


def relu(dims, name):
    model(name, [helper.make_node("Relu", ["x"], ["y"], name="relu")],
          [vi("x", dims)], [vi("y", dims)])


def main():
    os.makedirs(OUT, exist_ok=True)
    # zero-sized input dimensions
    relu([1, 0], "zero_dim_1x0")
    relu([0, 4], "zero_dim_0x4")
    # huge input dimensions
    relu([1, 1 << 62], "huge_dim_2p62")
    relu([1, 1 << 40], "huge_dim_2p40")
    relu([1, 1 << 31], "huge_dim_2p31")
    # a chain of Mul by 1e10 overflows the scale to infinity
    nodes, prev = [], "x"
    inits = [numpy_helper.from_array(np.array([1e10], np.float32), "k")]
    for i in range(40):
        out = "y" if i == 39 else f"m{i}"
        nodes.append(helper.make_node("Mul", [prev, "k"], [out], name=f"mul{i}"))
        prev = out
    model("mul_overflow_inf", nodes, [vi("x", [1, 2])], [vi("y", [1, 2])], inits)
    # a graph output naming an undefined tensor
    model("undefined_output", [helper.make_node("Relu", ["x"], ["y"], name="relu")],
          [vi("x", [1, 4])], [vi("nowhere", [1, 4])])
    # MatMul with a rank-0 constant
    model("matmul_rank0",
          [helper.make_node("MatMul", ["x", "s"], ["y"], name="mm")],
          [vi("x", [1, 4])], [vi("y", [1, 4])],
          [numpy_helper.from_array(np.array(2.0, np.float32), "s")])
    # out-of-range axes
    model("unsqueeze_axis_m100",
          [helper.make_node("Unsqueeze", ["x", "ax"], ["y"], name="unsq")],
          [vi("x", [1, 4])], [vi("y", [1, 1, 4])],
          [numpy_helper.from_array(np.array([-100], np.int64), "ax")])
    model("squeeze_axis_5",
          [helper.make_node("Squeeze", ["x", "ax"], ["y"], name="sq")],
          [vi("x", [1, 4])], [vi("y", [4])],
          [numpy_helper.from_array(np.array([5], np.int64), "ax")])
    model("flatten_axis_5",
          [helper.make_node("Flatten", ["x"], ["y"], name="flat", axis=5)],
          [vi("x", [1, 4])], [vi("y", [1, 4])])
    # a STRING initializer stored as raw_data
    s = TensorProto(name="s", data_type=TensorProto.STRING, dims=[1], raw_data=b"abcd")
    model("string_raw_data",
          [helper.make_node("Relu", ["x"], ["y"], name="relu")],
          [vi("x", [1, 4])], [vi("y", [1, 4])], [s])
    # DequantizeLinear with an empty zero point
    xs = numpy_helper.from_array(np.array([0.1], np.float32), "xs")
    zp = TensorProto(name="zp", data_type=TensorProto.INT8, dims=[0])
    q = numpy_helper.from_array(np.array([1, 2, 3, 4], np.int8).reshape(1, 4), "q")
    model("dequantize_empty_zero_point",
          [helper.make_node("DequantizeLinear", ["q", "xs", "zp"], ["d"], name="dq"),
           helper.make_node("Add", ["x", "d"], ["y"], name="add")],
          [vi("x", [1, 4])], [vi("y", [1, 4])], [xs, zp, q])
    # a bias so large against its weight scale that the folded int64 overflows
    wt = numpy_helper.from_array(np.array([[1e-30, 1e-30]], np.float32).T.copy(), "w")
    b = numpy_helper.from_array(np.array([3e38], np.float32), "b")
    model("bias_overflow",
          [helper.make_node("Gemm", ["x", "w", "b"], ["y"], name="gemm")],
          [vi("x", [1, 2])], [vi("y", [1, 1])], [wt, b])
    # .npy header nesting that made the header parser exponential
    for depth, ch in [(16, "{"), (16, "[")]:
        header = "{'descr': " + ch * depth
        raw = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode()
        name = "npy_nested_brace.npy" if ch == "{" else "npy_nested_bracket.npy"
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(raw)


if __name__ == "__main__":
    sys.exit(main())
