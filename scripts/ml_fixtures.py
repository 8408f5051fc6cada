#!/usr/bin/env python3
"""Regenerates tests/fixtures/ml/: small exporter-made ONNX-ML models and
onnxruntime's outputs on held-out rows (the reference `cargo test` pins lfc's
own float evaluation and compiled programs against; the tests need no Python).

Per model NAME: NAME.onnx, and shared per task: calib_{reg,clf}.csv (the
training rows, used as --calibration), heldout_{reg,clf}.csv (rows drawn 10 %
wider than the training box, so some lie slightly outside it), and
NAME.ort.csv: onnxruntime's outputs on the held-out rows, one column per
output element, headed `output[index]`.

normalizer_set(): Normalizer(l2) -> LinearRegression and Normalizer(l1) ->
LinearRegression pipelines, a plain Normalizer(l1), and MinMaxScaler(clip)
-> Normalizer(max) -> LinearRegression; normalizer_edges.csv: onnxruntime's
Normalizer MAX, L1 and L2 on edge rows (negative, zero, tied), with its
semantics asserted (MAX divides by the signed row maximum and copies a row
whose maximum is 0; L1 by sum |x|; a zero row gives zeros).

The second set (second_set()): binary classifiers with one score column,
a Binarizer pipeline, LightGBM categorical splits (BRANCH_EQ; and the
same model rewritten to BRANCH_NEQ), with calib_cat.csv/heldout_cat.csv.

Usage: python3 scripts/ml_fixtures.py [OUTDIR]   (needs numpy, scikit-learn,
skl2onnx, onnxmltools, lightgbm, xgboost, onnxruntime; seeded, deterministic)
"""
import os
import sys

import numpy as np
import onnxruntime as ort
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor
from sklearn.ensemble import RandomForestRegressor

N_FEAT = 4


def data(rng):
    # features on different physical scales, as real telemetry
    span = np.array([1.0, 10.0, 100.0, 0.5])
    x = rng.uniform(-1, 1, size=(200, N_FEAT)) * span
    y = np.sin(x[:, 0] * 2) + 0.05 * x[:, 1] + 0.0001 * x[:, 2] ** 2 - x[:, 3]
    cls = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    held = rng.uniform(-1.1, 1.1, size=(300, N_FEAT)) * span
    return x.astype(np.float32), y.astype(np.float32), cls, held.astype(np.float32)


def skl(model, name):
    opts = {id(model): {"zipmap": False}} if hasattr(model, "predict_proba") else None
    if isinstance(model, Pipeline) and hasattr(model, "predict_proba"):
        opts = {id(model.steps[-1][1]): {"zipmap": False}}
    return convert_sklearn(
        model, name, [("x", FloatTensorType([None, N_FEAT]))], target_opset={"": 15, "ai.onnx.ml": 3},
        options=opts,
    )


def lgbm(model, name):
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType as FT
    return convert_lightgbm(model, name, [("x", FT([None, N_FEAT]))],
                            target_opset=15, zipmap=False)


def xgb(model, name):
    from onnxmltools import convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType as FT
    return convert_xgboost(model, name, [("x", FT([None, N_FEAT]))], target_opset=15)


def strip_zipmap(onx):
    """onnxmltools' XGBoost converter has no zipmap option: drop the ZipMap
    node and expose its input, the probabilities tensor, as the output
    (what zipmap=False gives for the other converters)."""
    g = onx.graph
    for i, n in enumerate(list(g.node)):
        if n.op_type == "ZipMap":
            src = n.input[0]
            for o in g.output:
                if o.name == n.output[0]:
                    from onnx import helper, TensorProto
                    g.output.remove(o)
                    g.output.append(helper.make_tensor_value_info(src, TensorProto.FLOAT, [None, None]))
                    break
            del g.node[i]
    return onx


def categorical_data(rng):
    """Feature 0 a category 0..5 (LightGBM's categorical splits: onnxmltools
    exports them as BRANCH_EQ), the others as data()'s."""
    span = np.array([1.0, 10.0, 100.0, 0.5])
    x = rng.uniform(-1, 1, size=(400, N_FEAT)) * span
    x[:, 0] = rng.integers(0, 6, 400)
    y = np.where(np.isin(x[:, 0], [1, 4]), 3.0, 0.0) + 0.1 * x[:, 1] + x[:, 3]
    held = rng.uniform(-1.1, 1.1, size=(300, N_FEAT)) * span
    held[:, 0] = rng.integers(0, 6, 300)
    return x.astype(np.float32), y.astype(np.float32), held.astype(np.float32)


def eq_to_neq(onx):
    """BRANCH_EQ -> BRANCH_NEQ, children kept: another model (the category
    tests inverted), exercising BRANCH_NEQ, which no exporter writes.
    (Swapping the children too would give the same model, but onnxruntime
    requires a node's false child to be the next node.)"""
    from onnx import helper
    node = onx.graph.node[0]
    at = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    modes = [m.decode() for m in at["nodes_modes"]]
    modes = ["BRANCH_NEQ" if m == "BRANCH_EQ" else m for m in modes]
    keep = [a for a in node.attribute if a.name != "nodes_modes"]
    del node.attribute[:]
    node.attribute.extend(keep)
    node.attribute.append(helper.make_attribute("nodes_modes", modes))
    return onx


def write_rows(out, name, rows):
    fmt = lambda a: ",".join(repr(float(v)) for v in a)
    with open(os.path.join(out, name), "w") as f:
        f.write(",".join(f"x{i}" for i in range(N_FEAT)) + "\n")
        f.writelines(fmt(r) + "\n" for r in rows)


def write_ort(out, name, onx, held):
    """NAME.onnx and onnxruntime's outputs on the held-out rows."""
    fmt = lambda a: ",".join(repr(float(v)) for v in a)
    path = os.path.join(out, name + ".onnx")
    with open(path, "wb") as f:
        f.write(onx.SerializeToString())
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    res = sess.run(None, {"x": held})
    names = [o.name for o in sess.get_outputs()]
    cols, head = [], []
    for n, r in zip(names, res):
        r = np.asarray(r).reshape(len(held), -1)
        cols.append(r.astype(np.float64))
        head += [f"{n}[{j}]" for j in range(r.shape[1])]
    table = np.concatenate(cols, axis=1)
    with open(os.path.join(out, name + ".ort.csv"), "w") as f:
        f.write(",".join(head) + "\n")
        f.writelines(fmt(r) + "\n" for r in table)
    ops = sorted({(n.domain or "ai.onnx") + ":" + n.op_type for n in onx.graph.node})
    print(f"{name}: {os.path.getsize(path)} bytes, outputs {names}, ops {ops}")


def second_set(out):
    """Binary classifiers with one score column (skl2onnx, onnxmltools),
    a Binarizer pipeline (on the clf/reg rows), and LightGBM categorical
    splits (BRANCH_EQ, and the same model as BRANCH_NEQ) on calib_cat.csv."""
    import lightgbm
    import xgboost
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.preprocessing import Binarizer
    rng = np.random.default_rng(7)
    x, y, _, held = data(rng)
    binary = (y > np.median(y)).astype(int)
    models = {
        "skl_rf_bin": (skl, RandomForestClassifier(n_estimators=8, max_depth=5, random_state=0), binary),
        "skl_gb_bin": (skl, GradientBoostingClassifier(n_estimators=8, max_depth=3, random_state=0), binary),
        "skl_logreg_bin": (skl, LogisticRegression(max_iter=1000), binary),
        "lgbm_bin": (lgbm, lightgbm.LGBMClassifier(n_estimators=8, num_leaves=8, min_child_samples=5, verbose=-1), binary),
        "xgb_bin": (xgb, xgboost.XGBClassifier(n_estimators=8, max_depth=3), binary),
        "skl_binarizer_linreg": (skl, Pipeline([("b", Binarizer(threshold=0.0)), ("m", LinearRegression())]), y),
    }
    for name, (conv, model, target) in models.items():
        model.fit(x, target)
        write_ort(out, name, strip_zipmap(conv(model, name)), held)
    rng = np.random.default_rng(11)
    xc, yc, heldc = categorical_data(rng)
    write_rows(out, "calib_cat.csv", xc)
    write_rows(out, "heldout_cat.csv", heldc)
    m = lightgbm.LGBMRegressor(n_estimators=8, num_leaves=6, min_child_samples=5,
                               min_data_per_group=5, cat_smooth=1, verbose=-1)
    m.fit(xc, yc, categorical_feature=[0])
    write_ort(out, "lgbm_cat_reg", lgbm(m, "lgbm_cat_reg"), heldc)
    write_ort(out, "lgbm_cat_neq_reg", eq_to_neq(lgbm(m, "lgbm_cat_neq_reg")), heldc)


def normalizer_set(out):
    """Normalizer L2 (sklearn's Normalizer, as skl2onnx exports it: the
    ai.onnx.ml Normalizer) before a linear model, on the reg rows."""
    from sklearn.preprocessing import Normalizer
    rng = np.random.default_rng(7)
    x, y, _, held = data(rng)
    m = Pipeline([("n", Normalizer(norm="l2")), ("m", LinearRegression())])
    m.fit(x, y)
    write_ort(out, "skl_l2norm_linreg", skl(m, "skl_l2norm_linreg"), held)
    m = Pipeline([("n", Normalizer(norm="l1")), ("m", LinearRegression())])
    m.fit(x, y)
    write_ort(out, "skl_l1norm_linreg", skl(m, "skl_l1norm_linreg"), held)
    write_ort(out, "skl_l1norm", skl(Normalizer(norm="l1").fit(x), "skl_l1norm"), held)
    # MAX after a clipping MinMaxScaler: the Normalizer's source is proven
    # in [0, 1], where onnxruntime's signed maximum is max |x|.
    from sklearn.preprocessing import MinMaxScaler
    m = Pipeline([("s", MinMaxScaler(clip=True)), ("n", Normalizer(norm="max")),
                  ("m", LinearRegression())])
    m.fit(x, y)
    write_ort(out, "skl_maxnorm_linreg", skl(m, "skl_maxnorm_linreg"), held)
    normalizer_edges(out)


def normalizer_edges(out):
    """onnxruntime's Normalizer on edge rows, one model per norm
    (normalizer_{max,l1,l2}.onnx), written as normalizer_edges.csv: the
    row, then MAX, L1 and L2 outputs. The
    semantics lfc implements are asserted here."""
    from onnx import TensorProto, helper
    rows = np.array([
        [1, 2, 3, 4], [-1, -2, -3, -4], [0, 0, 0, 0], [-5, 1, 2, 0.5],
        [3, 3, -3, 3], [-1, 0, -2, -0.5], [0.5, -4, 0.25, 0], [2, 2, 2, 2],
        [0, 0, 0, 0.001], [0, 1, 0, 1],
    ], dtype=np.float32)
    res = {}
    for norm in ("MAX", "L1", "L2"):
        node = helper.make_node("Normalizer", ["x"], ["y"], domain="ai.onnx.ml", norm=norm)
        vi = lambda n: helper.make_tensor_value_info(n, TensorProto.FLOAT, [None, N_FEAT])
        g = helper.make_graph([node], "n", [vi("x")], [vi("y")])
        mdl = helper.make_model(g, opset_imports=[helper.make_opsetid("", 15),
                                                  helper.make_opsetid("ai.onnx.ml", 3)])
        sess = ort.InferenceSession(mdl.SerializeToString(), providers=["CPUExecutionProvider"])
        res[norm] = sess.run(None, {"x": rows})[0]
        with open(os.path.join(out, f"normalizer_{norm.lower()}.onnx"), "wb") as f:
            f.write(mdl.SerializeToString())
    for r, x in enumerate(rows.astype(np.float64)):
        m = x.max()
        want_max = x / m if m != 0 else x
        l1 = np.abs(x).sum()
        want_l1 = x / l1 if l1 != 0 else x
        assert np.allclose(res["MAX"][r], want_max, rtol=1e-6), (r, res["MAX"][r])
        assert np.allclose(res["L1"][r], want_l1, rtol=1e-6), (r, res["L1"][r])
    fmt = lambda a: ",".join(repr(float(v)) for v in a)
    with open(os.path.join(out, "normalizer_edges.csv"), "w") as f:
        f.write(",".join([f"x{i}" for i in range(N_FEAT)]
                         + [f"{n}[{i}]" for n in ("MAX", "L1", "L2") for i in range(N_FEAT)]) + "\n")
        for r in range(len(rows)):
            f.write(fmt(np.concatenate([rows[r], res["MAX"][r], res["L1"][r], res["L2"][r]])) + "\n")
    print("normalizer_edges.csv: MAX divides by the signed maximum (copies a 0-max row), L1 by sum |x|")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/ml"
    os.makedirs(out, exist_ok=True)
    second_set(out)
    normalizer_set(out)
    rng = np.random.default_rng(7)
    x, y, cls, held = data(rng)
    import lightgbm
    import xgboost
    models = {
        "skl_scaler_mlp_reg": ("reg", skl, Pipeline([("s", StandardScaler()), ("m", MLPRegressor(hidden_layer_sizes=(16,), activation="tanh", max_iter=3000, random_state=0))])),
        "skl_mlp_clf": ("clf", skl, MLPClassifier(hidden_layer_sizes=(16,), max_iter=3000, random_state=0)),
        "skl_dtree_reg": ("reg", skl, DecisionTreeRegressor(max_depth=5, random_state=0)),
        "skl_rf_reg": ("reg", skl, RandomForestRegressor(n_estimators=8, max_depth=5, random_state=0)),
        "skl_scaler_linreg": ("reg", skl, Pipeline([("s", StandardScaler()), ("m", LinearRegression())])),
        "skl_logreg": ("clf", skl, LogisticRegression(max_iter=1000)),
        "lgbm_reg": ("reg", lgbm, lightgbm.LGBMRegressor(n_estimators=16, num_leaves=8, min_child_samples=5, verbose=-1)),
        "lgbm_clf": ("clf", lgbm, lightgbm.LGBMClassifier(n_estimators=8, num_leaves=8, min_child_samples=5, verbose=-1)),
        "xgb_reg": ("reg", xgb, xgboost.XGBRegressor(n_estimators=16, max_depth=3)),
        "xgb_clf": ("clf", xgb, xgboost.XGBClassifier(n_estimators=8, max_depth=3)),
    }
    fmt = lambda a: ",".join(repr(float(v)) for v in a)
    for task, rows in (("reg", x), ("clf", x)):
        with open(os.path.join(out, f"calib_{task}.csv"), "w") as f:
            f.write(",".join(f"x{i}" for i in range(N_FEAT)) + "\n")
            f.writelines(fmt(r) + "\n" for r in rows)
        with open(os.path.join(out, f"heldout_{task}.csv"), "w") as f:
            f.write(",".join(f"x{i}" for i in range(N_FEAT)) + "\n")
            f.writelines(fmt(r) + "\n" for r in held)
    for name, (task, conv, model) in models.items():
        model.fit(x, y if task == "reg" else cls)
        onx = strip_zipmap(conv(model, name))
        path = os.path.join(out, name + ".onnx")
        with open(path, "wb") as f:
            f.write(onx.SerializeToString())
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        res = sess.run(None, {"x": held})
        names = [o.name for o in sess.get_outputs()]
        cols, head = [], []
        for n, r in zip(names, res):
            r = np.asarray(r).reshape(len(held), -1)
            cols.append(r.astype(np.float64))
            head += [f"{n}[{j}]" for j in range(r.shape[1])]
        table = np.concatenate(cols, axis=1)
        with open(os.path.join(out, name + ".ort.csv"), "w") as f:
            f.write(",".join(head) + "\n")
            f.writelines(fmt(r) + "\n" for r in table)
        ops = sorted({(n.domain or "ai.onnx") + ":" + n.op_type for n in onx.graph.node})
        print(f"{name}: {os.path.getsize(path)} bytes, outputs {names}, ops {ops}")


if __name__ == "__main__":
    main()
