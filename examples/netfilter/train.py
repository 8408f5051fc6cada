#!/usr/bin/env python3
"""Trains lf_nf's example packet classifiers on a synthetic rule set and
writes, into this directory (or OUTDIR):

  lf_nf_v1.onnx, lf_nf_v2.onnx  RandomForestClassifier (skl2onnx,
                 zipmap=False): outputs `label` (0 accept, 1 drop) and
                 `probabilities` [2]; v2 is trained on a second rule set so
                 that the two snapshots decide differently
  calib.csv      400 of the training rows: `lfc compile --calibration`
  rows.csv       4000 fresh packets (the VM stream; lf_nf_send sends them)
  rows.expect.csv  per row: the rule set's label (v1, v2) and each
                 model's (v1, v2: onnxruntime's label, = sklearn's predict())

Features, in lf_nf's order (lf_nf.c's header): saddr >> 16, saddr & 0xffff,
daddr >> 16, daddr & 0xffff (host byte order), source port, destination
port, IP protocol (6 TCP, 17 UDP), IP total length in bytes. All integers;
lf_nf hands them to the snapshot at scale 1000 (lfc's default input scale).

Rules v1 (drop when any holds):
  a. UDP to destination ports 5000..5999
  b. from 10.66.0.0/16 to a port below 1024
  c. TCP longer than 1400 bytes to 10.11.0.0/16
Rules v2: a and c, plus d. any protocol to destination ports 8000..8999.

Usage: python3 examples/netfilter/train.py [OUTDIR]  (numpy, scikit-learn,
skl2onnx, onnxruntime; seeded, deterministic). Dev only: the tests read the
files it wrote, checked in.
"""
import os
import sys

import numpy as np
import onnxruntime as ort
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.ensemble import RandomForestClassifier

COLS = ["saddr_hi", "saddr_lo", "daddr_hi", "daddr_lo", "sport", "dport", "proto", "len"]
TCP, UDP = 6, 17


def packets(rng, n):
    """n packets: sources 10.64-71.x.x, destinations 10.8-11.x.x, half the
    destination ports well known, a quarter in 5000..9999, a quarter random."""
    saddr_hi = 10 * 256 + rng.integers(64, 72, n)
    saddr_lo = rng.integers(0, 65536, n)
    daddr_hi = 10 * 256 + rng.integers(8, 12, n)
    daddr_lo = rng.integers(0, 65536, n)
    sport = rng.integers(1024, 65536, n)
    kind = rng.integers(0, 4, n)
    dport = np.where(kind < 2, rng.integers(0, 1024, n),
                     np.where(kind == 2, rng.integers(5000, 10000, n),
                              rng.integers(0, 65536, n)))
    proto = np.where(rng.integers(0, 2, n) == 0, TCP, UDP)
    lo = np.where(proto == TCP, 40, 28)
    length = lo + (rng.integers(0, 1501, n) % (1501 - lo))
    return np.stack([saddr_hi, saddr_lo, daddr_hi, daddr_lo, sport, dport, proto, length], 1)


def rules(x, version):
    saddr_hi, dport, proto, length, daddr_hi = x[:, 0], x[:, 5], x[:, 6], x[:, 7], x[:, 2]
    a = (proto == UDP) & (dport >= 5000) & (dport <= 5999)
    b = (saddr_hi == 10 * 256 + 66) & (dport < 1024)
    c = (proto == TCP) & (length > 1400) & (daddr_hi == 10 * 256 + 11)
    d = (dport >= 8000) & (dport <= 8999)
    return (a | b | c) if version == 1 else (a | c | d)


def write_csv(path, rows, header):
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for r in rows:
            f.write(",".join(str(int(v)) for v in r) + "\n")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    rng = np.random.default_rng(2026)
    train = packets(rng, 20000)
    rows = packets(rng, 4000)
    write_csv(os.path.join(out, "calib.csv"), train[:400], COLS)
    write_csv(os.path.join(out, "rows.csv"), rows, COLS)
    expect = [rules(rows, 1).astype(int), rules(rows, 2).astype(int)]
    for v in (1, 2):
        y = rules(train, v).astype(int)
        clf = RandomForestClassifier(n_estimators=8, max_depth=10, random_state=v)
        clf.fit(train.astype(np.float32), y)
        onx = convert_sklearn(clf, f"lf_nf_v{v}",
                              [("features", FloatTensorType([None, len(COLS)]))],
                              target_opset={"": 15, "ai.onnx.ml": 3},
                              options={id(clf): {"zipmap": False}})
        x = {"features": rows.astype(np.float32)}
        path = os.path.join(out, f"lf_nf_v{v}.onnx")
        with open(path, "wb") as f:
            f.write(onx.SerializeToString())
        # skl2onnx writes a binary forest with one score column (class 1's
        # probability s; onnxruntime answers [1 - s, s] and label s > 0.5),
        # which lfc compiles as it is.
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        label, prob = sess.run(None, x)
        assert (label == clf.predict(x["features"])).all()
        assert np.abs(prob[:, 1] - clf.predict_proba(x["features"])[:, 1]).max() < 1e-6
        expect.append(label.astype(int))
        print(f"v{v}: {int(y.sum())} of {len(y)} training packets dropped by the rules; "
              f"held-out agreement with the rules {np.mean(label == expect[v - 1]) * 100:.2f} %")
    write_csv(os.path.join(out, "rows.expect.csv"), np.stack(expect, 1),
              ["rules_v1", "rules_v2", "ort_v1", "ort_v2"])


if __name__ == "__main__":
    main()
