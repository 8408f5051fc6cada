#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# Writes aurora_unstable.onnx (checked in; dev-time only, needs onnx): the
# Aurora policy with 2.0 added to the output bias, so its action differs
# from Aurora's by exactly 2.0 on every input. `lfc adapt --shadow` must
# reject it on stability (default limit: mean change 1.0) in shadow.sh.
# Weights: see examples/aurora/ATTRIBUTION.md.
import sys
from pathlib import Path

import onnx
from onnx import numpy_helper

here = Path(__file__).resolve().parent
m = onnx.load(here.parent / "aurora.onnx")
for i, t in enumerate(m.graph.initializer):
    if t.name == "pi.bias":
        b = numpy_helper.to_array(t) + 2.0
        m.graph.initializer[i].CopyFrom(numpy_helper.from_array(b, "pi.bias"))
        break
else:
    sys.exit("no pi.bias in aurora.onnx")
onnx.checker.check_model(m)
onnx.save(m, here / "aurora_unstable.onnx")
