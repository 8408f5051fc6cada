#!/usr/bin/env python3
"""Measures the default of `--domain-margin` (dev-only: needs scikit-learn,
skl2onnx and onnxruntime; nothing in `cargo test` runs it).

For sklearn MLPRegressors on several datasets: calibrate on 200 training
rows, judge on held-out rows (a part of which lies outside the calibration
rows' per-feature range), for each margin: max and mean |lfc - onnxruntime|
as % of the output range of the held-out rows (int16, `lfc run --engine
interp`). Prints one table; the README's "Input domain" section quotes it.

    python3 scripts/measure-domain-margin.py [path/to/lfc]
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort
from skl2onnx import to_onnx
from sklearn import datasets
from sklearn.neural_network import MLPRegressor

MARGINS = [0.0, 0.05, 0.1, 0.25, 0.5, 1.0]
CALIB = 200


def sets():
    rng = np.random.RandomState(0)
    x, y = datasets.load_diabetes(return_X_y=True)
    yield "diabetes", (x - x.mean(0)) / x.std(0), y / y.std()
    x, y = datasets.load_breast_cancer(return_X_y=True)
    yield "breast_cancer", (x - x.mean(0)) / x.std(0), y.astype(float)
    # Pixels 0..16: several columns are constant (0) in 200 rows.
    x, y = datasets.load_digits(return_X_y=True)
    yield "digits", x / 16.0, y / 9.0
    x, y = datasets.make_friedman1(n_samples=1000, n_features=10, random_state=0)
    yield "friedman1", x, y / y.std()
    x, y = datasets.make_regression(n_samples=1000, n_features=20, noise=5.0, random_state=0)
    yield "regression20", x, y / y.std()
    # A constant feature (1.0) and a rare one (3.0 in 1 row of 97, else 0).
    x, y = datasets.load_diabetes(return_X_y=True)
    x = (x - x.mean(0)) / x.std(0)
    x[:, 3] = 1.0
    x[:, 5] = np.where(np.arange(len(x)) % 97 == 0, 3.0, 0.0)
    yield "diabetes_const", x, y / y.std()
    del rng


def main() -> int:
    lfc = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "target", "release", "lfc")
    tmp = tempfile.mkdtemp(prefix="lfc-margin-")
    print(f"{'model':<14} {'outside':>8}  " + "  ".join(f"m={m:<4} max/mean(out)" for m in MARGINS))
    for name, x, y in sets():
        x = x.astype(np.float32)
        perm = np.random.RandomState(1).permutation(len(x))
        x, y = x[perm], y[perm]
        n_train = int(len(x) * 0.7)
        xt, yt, xh = x[:n_train], y[:n_train], x[n_train:]
        m = MLPRegressor(hidden_layer_sizes=(32, 16), max_iter=800, random_state=0).fit(xt, yt)
        onx = to_onnx(m, xt[:1], target_opset=13)
        path = os.path.join(tmp, f"{name}.onnx")
        with open(path, "wb") as f:
            f.write(onx.SerializeToString())
        calib = xt[:CALIB]
        cal_p = os.path.join(tmp, f"{name}_calib.npy")
        hold_p = os.path.join(tmp, f"{name}_held.npy")
        np.save(cal_p, calib)
        np.save(hold_p, xh)
        lo, hi = calib.min(0), calib.max(0)
        outside = np.mean(np.any((xh < lo) | (xh > hi), axis=1)) * 100
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        ref = sess.run(None, {sess.get_inputs()[0].name: xh})[0].reshape(len(xh), -1)
        span = float(ref.max() - ref.min()) or 1.0
        cells = []
        for margin in MARGINS:
            out_p = os.path.join(tmp, f"{name}_{margin}.npy")
            r = subprocess.run(
                [lfc, "run", path, "--calibration", cal_p, "--input", hold_p,
                 "--engine", "interp", "--domain-margin", str(margin), "-o", out_p],
                capture_output=True, text=True)
            if r.returncode != 0:
                cells.append(f"{'refused':>19}")
                print(f"  {name} m={margin}: {r.stderr.strip()}", file=sys.stderr)
                continue
            got = np.load(out_p).reshape(len(xh), -1)
            err = np.abs(got - ref) / span * 100
            w = np.where(hi > lo, hi - lo, np.maximum(np.abs(lo), 1.0))
            out = np.mean(np.any((xh < lo - margin * w) | (xh > hi + margin * w), axis=1)) * 100
            cells.append(f"{err.max():>6.2f}/{err.mean():<5.3f}({out:>2.0f}%)")
        print(f"{name:<14} {outside:>7.0f}%  " + "  ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
