#!/usr/bin/env python3
"""Regenerates tests/fixtures/speed/: the two larger models of the speed
benchmarks (issue 10), float MLPs with seeded random weights, and their
calibration rows (the tests and `lfc bench` need no Python).

- linnos.onnx: LinnOS-shaped 31 -> 256 Relu -> 2 (Gemm, transB = 1). LinnOS
  feeds the decimal digits of queue lengths and recent latencies, so the
  calibration rows are integers 0..9; linnos_calib.csv has 100 of them.
- mlp4.onnx: 64 -> 256 Relu -> 256 Relu -> 8, inputs uniform in [-1, 1];
  mlp4_calib.csv has 100 rows.

Weights are He-scaled normals (std sqrt(2 / fan_in)), biases small normals.

Usage: python3 scripts/gen-speed-fixtures.py [OUTDIR]  (needs numpy, onnx)
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def mlp(name, sizes, rng):
    inits, nodes = [], []
    prev = "x"
    for k, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        w = rng.normal(0, np.sqrt(2.0 / fan_in), size=(fan_out, fan_in)).astype(np.float32)
        b = rng.normal(0, 0.05, size=(fan_out,)).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"fc{k}.weight"),
                  numpy_helper.from_array(b, f"fc{k}.bias")]
        last = k == len(sizes) - 2
        out = "y" if last else f"h{k}"
        nodes.append(helper.make_node("Gemm", [prev, f"fc{k}.weight", f"fc{k}.bias"], [out],
                                      name=f"fc{k}", transB=1))
        if not last:
            nodes.append(helper.make_node("Relu", [out], [f"a{k}"], name=f"relu{k}"))
            prev = f"a{k}"
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, sizes[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, sizes[-1]])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="gen-speed-fixtures")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def write_rows(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(",".join(f"{v:.6g}" for v in r) + "\n")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "tests", "fixtures", "speed")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(10)
    onnx.save(mlp("linnos", [31, 256, 2], rng), os.path.join(out, "linnos.onnx"))
    write_rows(os.path.join(out, "linnos_calib.csv"), rng.integers(0, 10, size=(100, 31)))
    onnx.save(mlp("mlp4", [64, 256, 256, 8], rng), os.path.join(out, "mlp4.onnx"))
    write_rows(os.path.join(out, "mlp4_calib.csv"), rng.uniform(-1, 1, size=(100, 64)))


if __name__ == "__main__":
    main()
