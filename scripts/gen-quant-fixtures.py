#!/usr/bin/env python3
"""Regenerates tests/fixtures/quant/: quantized ONNX models and onnxruntime's
outputs on them, for lfc's quantized-import tests (issue 8).

Dev-only (needs onnx, onnxruntime, numpy); `cargo test` reads the checked-in
files and needs no Python.

Models:
  aurora_qdq.onnx   examples/aurora/aurora.onnx through onnxruntime's
                    quantize_static, QDQ format, per-channel int8 weights,
                    int8 activations, MinMax calibration on the 60
                    representative rows. Tanh stays float between a DQ and a Q.
  aurora_qop.onnx   the same in QOperator format (QGemm, com.microsoft).
  conv_qdq.onnx, conv_qop.onnx
                    a small image model (Conv, LeakyRelu, AveragePool,
                    Sigmoid, Mul, Add, GlobalAveragePool, Gemm) through
                    quantize_static, QDQ and QOperator (QLinearConv,
                    QLinearLeakyRelu, QLinearAveragePool, QLinearSigmoid,
                    QLinearMul, QLinearAdd, QLinearGlobalAveragePool,
                    QGemm), uint8 activations, per-channel int8 weights.
  concat_qdq.onnx, concat_qop.onnx
                    Concat in QDQ and QOperator (QLinearConcat) form: inputs
                    with their own scales requantized into the Concat's, a
                    Concat on the last axis of [1, 2, k] tensors (rows
                    interleaved), uint8 activations, per-channel int8 weights.
  torch_qdq.onnx    a PyTorch-style QDQ MLP in the shape torch.onnx.export
                    gives a quantized model, built in Rust with prost
                    (tests/quant_models.rs; this script only adds the
                    saturating rows and onnxruntime's outputs): uint8
                    activations with zero points, symmetric per-channel
                    int8 weights (zero point 0), float biases, Linear+ReLU
                    as Gemm -> Relu -> QuantizeLinear, a MatMul + Add
                    layer, DequantizeLinear at the output.
  maxpool_qdq.onnx, maxpool_qop.onnx
                    MaxPool through quantize_static: DQ -> MaxPool -> Q
                    (QDQ) and MaxPool on uint8 (QOperator).
  constop_qdq.onnx, constop_qop.onnx
                    Add/Mul with a constant operand through quantize_static
                    (QDQ: DQ of the constant's integers; QOperator:
                    QLinearAdd/QLinearMul with a uint8 initializer as A or
                    B): per-channel, scalar and full-shape constants.

Data (CSV, no header; one row per line):
  <model>.calib.csv        inputs: the calibration rows
  <model>.sat.csv          inputs: rows on which onnxruntime saturates (at
                           least one input or intermediate quantization
                           clamps at the end of its type)
  <model>.calib.ort.csv, <model>.sat.ort.csv
                           onnxruntime 's float outputs on them (default
                           session options, i.e. with its QDQ fusions), as
                           float32 printed with repr (exact).

Usage: python3 scripts/gen-quant-fixtures.py [OUT_DIR [aurora|torch|conv|concat|maxpool|constop ...]]
(aurora and conv are made together: they share one random generator; torch
runs `cargo test` to have the Rust builder write its model first)
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import (CalibrationDataReader, QuantFormat,
                                      QuantType, quantize_static)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AURORA = os.path.join(ROOT, "examples", "aurora")
SEED = 8
# The PCG64 state of the shared generator before conv_net (see main).
CONV_RNG_STATE = {
    "bit_generator": "PCG64",
    "state": {"state": 177196723204891093161139441828122508741,
              "inc": 60804517828637344299932890193562703917},
    "has_uint32": 0, "uinteger": 1898331574,
}


class Rows(CalibrationDataReader):
    def __init__(self, name, rows):
        self.it = iter([{name: r.reshape(1, -1).astype(np.float32)} for r in rows])

    def get_next(self):
        return next(self.it, None)


def run(path, rows):
    opts = ort.SessionOptions()
    s = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    shape = [d if isinstance(d, int) else 1 for d in s.get_inputs()[0].shape]
    return np.stack([s.run(None, {name: r.reshape(shape).astype(np.float32)})[0].reshape(-1)
                     for r in rows])


def write_csv(path, m):
    with open(path, "w") as f:
        for row in m:
            f.write(",".join(repr(float(np.float32(v))) for v in row) + "\n")


def intermediates(path, rows):
    """Every QuantizeLinear input and its (scale, zero point, type), per row."""
    m = onnx.load(path)
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    qs = [n for n in m.graph.node if n.op_type == "QuantizeLinear"]
    extra = [n.input[0] for n in qs]
    for name in extra:
        m.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"],
                             sess_options=_no_opt())
    iname = s.get_inputs()[0].name
    shape = [d if isinstance(d, int) else 1 for d in s.get_inputs()[0].shape]
    out = []
    for r in rows:
        vals = s.run(extra, {iname: r.reshape(shape).astype(np.float32)})
        sat = False
        for n, v in zip(qs, vals):
            sc = inits[n.input[1]]
            zp = inits[n.input[2]]
            info = np.iinfo(zp.dtype)
            q = np.rint(v / sc) + zp.astype(np.int64)
            if (q < info.min).any() or (q > info.max).any():
                sat = True
        out.append(sat)
    return np.array(out)


def _no_opt():
    o = ort.SessionOptions()
    o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return o


def saturating_rows(path, calib, n, rng, spread):
    """Rows built from calibration rows stretched away from their mean, kept
    when some quantization in the QDQ graph saturates."""
    mean = calib.mean(axis=0)
    lo, hi = calib.min(axis=0), calib.max(axis=0)
    width = np.maximum(hi - lo, 0.1)
    kept = []
    while len(kept) < n:
        base = calib[rng.integers(len(calib), size=64)]
        k = rng.uniform(1.0, spread, size=(64, 1))
        cand = mean + (base - mean) * k + rng.normal(0, 0.3, size=base.shape) * width
        cand = cand.astype(np.float32)
        sat = intermediates(path, cand)
        kept.extend(cand[sat])
    return np.array(kept[:n])


def emit(out, stem, path, calib, sat, write_calib=True):
    if write_calib:  # (torch's are the Rust builder's)
        write_csv(os.path.join(out, f"{stem}.calib.csv"), calib)
    write_csv(os.path.join(out, f"{stem}.calib.ort.csv"), run(path, calib))
    write_csv(os.path.join(out, f"{stem}.sat.csv"), sat)
    write_csv(os.path.join(out, f"{stem}.sat.ort.csv"), run(path, sat))


def aurora(out, rng):
    calib = np.load(os.path.join(AURORA, "representative_dataset.npy")).astype(np.float32)
    calib = calib.reshape(len(calib), -1)
    src = os.path.join(AURORA, "aurora.onnx")
    paths = {}
    for stem, fmt in (("aurora_qdq", QuantFormat.QDQ), ("aurora_qop", QuantFormat.QOperator)):
        p = os.path.join(out, f"{stem}.onnx")
        quantize_static(src, p, Rows("obs", calib), quant_format=fmt, per_channel=True,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
        paths[stem] = p
    # Saturation is judged on the QDQ graph (same scales in both forms).
    sat = saturating_rows(paths["aurora_qdq"], calib, 200, rng, 4.0)
    for stem, p in paths.items():
        emit(out, stem, p, calib, sat)


def torch_qdq(out, rng):
    """The PyTorch-style QDQ MLP is built in Rust with prost
    (tests/quant_models.rs, `torch_qdq`): that builder writes
    torch_qdq.onnx and torch_qdq.calib.csv, and a test checks it still
    writes the checked-in bytes. Here: the saturating rows and
    onnxruntime's outputs on both sets."""
    fixtures = os.path.join(ROOT, "tests", "fixtures", "quant")
    env = dict(os.environ, LFC_WRITE_QUANT_FIXTURES="1")
    subprocess.run(["cargo", "test", "--test", "lfc_tests", "quantized_fixture_builders"],
                   cwd=ROOT, env=env, check=True)
    p = os.path.join(out, "torch_qdq.onnx")
    if os.path.abspath(out) != os.path.abspath(fixtures):
        shutil.copy(os.path.join(fixtures, "torch_qdq.onnx"), p)
    calib = np.loadtxt(os.path.join(fixtures, "torch_qdq.calib.csv"), delimiter=",",
                       dtype=np.float32, ndmin=2)
    sat = saturating_rows(p, calib, 200, rng, 3.0)
    if os.path.abspath(out) != os.path.abspath(fixtures):
        shutil.copy(os.path.join(fixtures, "torch_qdq.calib.csv"), out)
    emit(out, "torch_qdq", p, calib, sat, write_calib=False)


def conv_net(out, rng):
    """A small image model through quantize_static (QDQ and QOperator):
    Conv -> LeakyRelu -> AveragePool -> Mul(x, Sigmoid(x)) -> Add(x, .) ->
    GlobalAveragePool -> Flatten -> Gemm, input [1, 2, 6, 6]."""
    inits, nodes = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(arr.astype(np.float32), name))
        return name

    nodes.append(helper.make_node("Conv", ["x", const("cw", rng.normal(0, 0.4, (4, 2, 3, 3))),
                                           const("cb", rng.normal(0, 0.1, 4))], ["c"],
                                  pads=[1, 1, 1, 1], name="conv"))
    nodes.append(helper.make_node("LeakyRelu", ["c"], ["l"], alpha=0.1, name="leaky"))
    nodes.append(helper.make_node("AveragePool", ["l"], ["p"], kernel_shape=[2, 2],
                                  strides=[2, 2], name="pool"))
    nodes.append(helper.make_node("Sigmoid", ["p"], ["s"], name="sig"))
    nodes.append(helper.make_node("Mul", ["p", "s"], ["m"], name="mul"))
    nodes.append(helper.make_node("Add", ["p", "m"], ["a"], name="add"))
    nodes.append(helper.make_node("GlobalAveragePool", ["a"], ["g"], name="gap"))
    nodes.append(helper.make_node("Flatten", ["g"], ["f"], name="flat"))
    nodes.append(helper.make_node("Gemm", ["f", const("fw", rng.normal(0, 0.5, (3, 4))),
                                           const("fb", rng.normal(0, 0.1, 3))], ["y"],
                                  transB=1, name="fc"))
    graph = helper.make_graph(
        nodes, "conv_net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    src = os.path.join(out, "conv_float.onnx")
    onnx.save(model, src)
    calib = rng.normal(0, 1, size=(100, 72)).astype(np.float32)
    paths = {}
    for stem, fmt in (("conv_qdq", QuantFormat.QDQ), ("conv_qop", QuantFormat.QOperator)):
        p = os.path.join(out, f"{stem}.onnx")
        quantize_static(src, p, RowsShaped("x", calib, (1, 2, 6, 6)), quant_format=fmt,
                        per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8)
        paths[stem] = p
    os.remove(src)
    sat = saturating_rows(paths["conv_qdq"], calib, 100, rng, 3.0)
    for stem, p in paths.items():
        emit(out, stem, p, calib, sat)


def concat_net(out, rng):
    """Concat in both forms: two branches of the input and the input itself
    joined on axis 1 (three scales, requantized into the Concat's), and
    the branches reshaped to [1, 2, k] joined on their last axis (rows
    interleaved), then a Gemm:
      a = Relu(Gemm(x, 8 -> 6)), b = Tanh(Gemm(x, 8 -> 4)),
      c = Concat(a, b, x, axis=1)                              [1, 18]
      d = Flatten(Concat(Reshape(a, [1,2,3]), Reshape(b, [1,2,2]), axis=2))  [1, 10]
      y = Gemm(Concat(c, d, axis=1), 28 -> 3)."""
    inits, nodes = [], []

    def const(name, arr, dtype=np.float32):
        inits.append(numpy_helper.from_array(np.asarray(arr).astype(dtype), name))
        return name

    nodes.append(helper.make_node("Gemm", ["x", const("w1", rng.normal(0, 0.5, (6, 8))),
                                           const("b1", rng.normal(0, 0.2, 6))], ["g1"],
                                  transB=1, name="fc_a"))
    nodes.append(helper.make_node("Relu", ["g1"], ["a"], name="relu_a"))
    nodes.append(helper.make_node("Gemm", ["x", const("w2", rng.normal(0, 0.5, (4, 8))),
                                           const("b2", rng.normal(0, 0.2, 4))], ["g2"],
                                  transB=1, name="fc_b"))
    nodes.append(helper.make_node("Tanh", ["g2"], ["b"], name="tanh_b"))
    nodes.append(helper.make_node("Concat", ["a", "b", "x"], ["c"], axis=1, name="cat_c"))
    nodes.append(helper.make_node("Reshape", ["a", const("sa", [1, 2, 3], np.int64)], ["ra"],
                                  name="reshape_a"))
    nodes.append(helper.make_node("Reshape", ["b", const("sb", [1, 2, 2], np.int64)], ["rb"],
                                  name="reshape_b"))
    nodes.append(helper.make_node("Concat", ["ra", "rb"], ["d3"], axis=2, name="cat_d"))
    nodes.append(helper.make_node("Flatten", ["d3"], ["d"], name="flat_d"))
    nodes.append(helper.make_node("Concat", ["c", "d"], ["e"], axis=1, name="cat_e"))
    nodes.append(helper.make_node("Gemm", ["e", const("w3", rng.normal(0, 0.4, (3, 28))),
                                           const("b3", rng.normal(0, 0.1, 3))], ["y"],
                                  transB=1, name="fc_y"))
    graph = helper.make_graph(
        nodes, "concat_net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    src = os.path.join(out, "concat_float.onnx")
    onnx.save(model, src)
    calib = rng.normal(0, 1, size=(100, 8)).astype(np.float32)
    paths = {}
    for stem, fmt in (("concat_qdq", QuantFormat.QDQ), ("concat_qop", QuantFormat.QOperator)):
        p = os.path.join(out, f"{stem}.onnx")
        quantize_static(src, p, Rows("x", calib), quant_format=fmt, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        paths[stem] = p
    os.remove(src)
    sat = saturating_rows(paths["concat_qdq"], calib, 100, rng, 3.0)
    for stem, p in paths.items():
        emit(out, stem, p, calib, sat)


def maxpool_net(out, rng):
    """MaxPool in both forms quantize_static emits it: a small image model
    Conv -> Relu -> MaxPool (2x2, stride 2, and a 3x3 stride-1 pool with
    padding) -> Flatten -> Gemm, input [1, 2, 8, 8]. QDQ: DQ -> MaxPool ->
    Q with the input's scale and zero point; QOperator: MaxPool on the
    uint8 tensor itself (opset >= 12)."""
    inits, nodes = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr).astype(np.float32), name))
        return name

    nodes.append(helper.make_node("Conv", ["x", const("cw", rng.normal(0, 0.4, (3, 2, 3, 3))),
                                           const("cb", rng.normal(0, 0.1, 3))], ["c"],
                                  pads=[1, 1, 1, 1], name="conv"))
    nodes.append(helper.make_node("Relu", ["c"], ["r"], name="relu"))
    nodes.append(helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2],
                                  strides=[2, 2], name="pool"))
    nodes.append(helper.make_node("MaxPool", ["p"], ["p2"], kernel_shape=[3, 3],
                                  pads=[1, 1, 1, 1], name="pool2"))
    nodes.append(helper.make_node("Flatten", ["p2"], ["f"], name="flat"))
    nodes.append(helper.make_node("Gemm", ["f", const("fw", rng.normal(0, 0.3, (4, 48))),
                                           const("fb", rng.normal(0, 0.1, 4))], ["y"],
                                  transB=1, name="fc"))
    graph = helper.make_graph(
        nodes, "maxpool_net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    src = os.path.join(out, "maxpool_float.onnx")
    onnx.save(model, src)
    calib = rng.normal(0, 1, size=(100, 128)).astype(np.float32)
    paths = {}
    for stem, fmt in (("maxpool_qdq", QuantFormat.QDQ), ("maxpool_qop", QuantFormat.QOperator)):
        p = os.path.join(out, f"{stem}.onnx")
        quantize_static(src, p, RowsShaped("x", calib, (1, 2, 8, 8)), quant_format=fmt,
                        per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8)
        paths[stem] = p
    os.remove(src)
    sat = saturating_rows(paths["maxpool_qdq"], calib, 100, rng, 3.0)
    for stem, p in paths.items():
        emit(out, stem, p, calib, sat)


def constop_net(out, rng):
    """Add and Mul with a constant operand (an initializer), as
    quantize_static writes them (QDQ: DQ(constant integers) -> Add/Mul;
    QOperator: QLinearAdd/QLinearMul with a uint8 initializer):
    Conv -> Add(c [1, C, 1, 1]) -> Mul(x, c [1, C, 1, 1]) -> Mul(c scalar,
    x) -> Add(x, c [C, H, W]) -> GlobalAveragePool -> Flatten -> Gemm,
    input [1, 2, 5, 5]."""
    inits, nodes = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr).astype(np.float32), name))
        return name

    nodes.append(helper.make_node("Conv", ["x", const("cw", rng.normal(0, 0.4, (3, 2, 3, 3))),
                                           const("cb", rng.normal(0, 0.1, 3))], ["c"],
                                  pads=[1, 1, 1, 1], name="conv"))
    nodes.append(helper.make_node("Add", ["c", const("k_add", rng.normal(0.3, 0.5, (1, 3, 1, 1)))],
                                  ["a"], name="add_c"))
    nodes.append(helper.make_node("Mul", ["a", const("k_mul", rng.uniform(-1.5, 1.5, (1, 3, 1, 1)))],
                                  ["m"], name="mul_c"))
    nodes.append(helper.make_node("Mul", [const("k_s", np.array(0.7)), "m"], ["m2"],
                                  name="mul_s"))
    nodes.append(helper.make_node("Add", ["m2", const("k_full", rng.normal(0, 0.4, (3, 5, 5)))],
                                  ["a2"], name="add_full"))
    nodes.append(helper.make_node("GlobalAveragePool", ["a2"], ["g"], name="gap"))
    nodes.append(helper.make_node("Flatten", ["g"], ["f"], name="flat"))
    nodes.append(helper.make_node("Gemm", ["f", const("fw", rng.normal(0, 0.5, (3, 3))),
                                           const("fb", rng.normal(0, 0.1, 3))], ["y"],
                                  transB=1, name="fc"))
    graph = helper.make_graph(
        nodes, "constop_net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 5, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    src = os.path.join(out, "constop_float.onnx")
    onnx.save(model, src)
    calib = rng.normal(0, 1, size=(100, 50)).astype(np.float32)
    paths = {}
    for stem, fmt in (("constop_qdq", QuantFormat.QDQ), ("constop_qop", QuantFormat.QOperator)):
        p = os.path.join(out, f"{stem}.onnx")
        quantize_static(src, p, RowsShaped("x", calib, (1, 2, 5, 5)), quant_format=fmt,
                        per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8)
        paths[stem] = p
    os.remove(src)
    sat = saturating_rows(paths["constop_qdq"], calib, 100, rng, 3.0)
    for stem, p in paths.items():
        emit(out, stem, p, calib, sat)


class RowsShaped(CalibrationDataReader):
    def __init__(self, name, rows, shape):
        self.it = iter([{name: r.reshape(shape).astype(np.float32)} for r in rows])

    def get_next(self):
        return next(self.it, None)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "fixtures", "quant")
    only = set(sys.argv[2:])
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(SEED)
    # One generator for the first three (their files depend on its order);
    # later models have their own seed, so adding one changes no other file.
    if not only or only & {"aurora", "conv"}:
        aurora(out, rng)
        # conv's generator starts where the shared one stood after the
        # Python-built torch_qdq of earlier versions (that model is now
        # built in Rust): conv's files stay as they were.
        rng.bit_generator.state = CONV_RNG_STATE
        conv_net(out, rng)
    if not only or "torch" in only:
        torch_qdq(out, np.random.default_rng(SEED + 4))
    if not only or "concat" in only:
        concat_net(out, np.random.default_rng(SEED + 1))
    if not only or "maxpool" in only:
        maxpool_net(out, np.random.default_rng(SEED + 2))
    if not only or "constop" in only:
        constop_net(out, np.random.default_rng(SEED + 3))


if __name__ == "__main__":
    main()
