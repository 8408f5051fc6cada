#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets (fuzz/corpus/<target>/).

Dev-only (standard library); the seeds are checked in. The compile
target's inputs start with a byte choosing the precision (even: int16).
"""
import glob
import os
import struct

ROOT = os.path.join(os.path.dirname(__file__), "..")
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(p):
    with open(os.path.join(ROOT, p), "rb") as f:
        return f.read()


def nla(kind, payload):
    n = 4 + len(payload)
    return struct.pack("<HH", n, kind) + payload + b"\0" * ((4 - n % 4) % 4)


def nlmsg(mtype, flags, seq, payload):
    return struct.pack("<IHHII", 16 + len(payload), mtype, flags, seq, 0) + payload


def genl(cmd, attrs):
    return struct.pack("<BBH", cmd, 1, 0) + attrs


def s64s(v):
    return b"".join(struct.pack("<q", x) for x in v)


def main():
    put("compile", "aurora.onnx.seed", b"\0" + read("examples/aurora/aurora.onnx"))
    put("compile", "aurora_int8.onnx.seed", b"\1" + read("examples/aurora/aurora.onnx"))
    for p in sorted(glob.glob(os.path.join(ROOT, "tests/regressions/*.onnx"))):
        put("compile", os.path.basename(p) + ".seed", b"\0" + read(p))
    npy = read("examples/aurora/representative_dataset.npy")
    put("npy", "aurora_rows.npy", npy)
    for p in sorted(glob.glob(os.path.join(ROOT, "tests/regressions/*.npy"))):
        put("npy", os.path.basename(p), read(p))
    put("csv", "input_domain.csv", read("examples/aurora/input_domain.csv"))
    put("csv", "reference_output.csv", read("examples/aurora/reference_output.csv"))
    put("csv", "header_crlf.csv", b"a,b\r\n1,2\r\nnan,-inf\r\n\r\n")
    # TensorProto: dims [2, 2], FLOAT, raw_data.
    raw = struct.pack("<4f", 1, 2, 3, 4)
    tp = b"\x08\x02\x08\x02\x10\x01" + b"\x4a" + bytes([len(raw)]) + raw
    put("pb", "float_2x2.pb", tp)
    # nlctrl reply (family 0x20, version 1, records group 5), then ACK.
    grp = nla(1, nla(1, b"records\0") + nla(2, struct.pack("<I", 5)))
    ctrl = genl(1, nla(1, struct.pack("<H", 0x20)) + nla(2, b"liteflow\0")
                + nla(3, struct.pack("<I", 1)) + nla(7, grp))
    ack = nlmsg(2, 0x100, 1, struct.pack("<i", 0) + b"\0" * 16)
    d1 = nlmsg(16, 0, 1, ctrl) + ack
    slot = nla(8 | 0x8000, nla(1, struct.pack("<I", 0)) + nla(2, struct.pack("<Q", 7)))
    app = genl(1, nla(1, struct.pack("<I", 1)) + nla(2, b"aurora\0")
               + nla(3, struct.pack("<I", 3)) + nla(4, struct.pack("<I", 1))
               + nla(9, struct.pack("<Q", 10)) + nla(10, struct.pack("<Q", 0)) + slot)
    done = nlmsg(3, 2, 2, struct.pack("<i", 0))
    d2 = nlmsg(0x20, 2, 2, app) + done
    session = b"".join(struct.pack("<H", len(d)) + d for d in [d1, d2])
    put("netlink_replies", "family_then_dump", session)
    put("netlink_replies", "family_only", d1)
    rec = nla(12 | 0x8000, nla(1, struct.pack("<Q", 7)) + nla(2, struct.pack("<Q", 123))
              + nla(3, s64s([1, -2, 3])) + nla(4, s64s([5])))
    put("netlink_records", "one_record",
        nlmsg(0x20, 0, 0, genl(8, nla(1, struct.pack("<I", 1)) + rec)))
    put("netlink_records", "two_records",
        nlmsg(0x20, 0, 0, genl(8, nla(1, struct.pack("<I", 1)) + rec + rec)))


if __name__ == "__main__":
    main()
