//! Linear maps of quantized tensors: Gemm, MatMul, Conv and average
//! pooling inside QDQ groups, and their QOperator forms (QGemm,
//! QLinearMatMul, MatMulInteger, QLinearConv, ConvInteger,
//! QLinearAveragePool, QLinearGlobalAveragePool). Each becomes a
//! [`QOpKind::Linear`] over the flattened batch-1 tensors, with the model's
//! integer weights (zero points subtracted) and one accumulator scale per
//! output element.

use super::consts::{ConstQuant, IntType, Konst};
use super::{qtype, Pending, Sym, Walk};
use crate::front::onnx::lower::Node;
use crate::front::onnx::ops::Window;
use crate::ir::qgraph::{QId, QOpKind, QType};
use crate::Result;

/// A constant `[K][N]` weight matrix: integers minus their zero points and
/// one scale per column `n`.
struct Weights {
    k: usize,
    n: usize,
    /// Row-major `[K][N]`.
    w: Vec<i64>,
    scale: Vec<f64>,
}

/// Per-channel zero point and scale of `q` for channel `c` of `count`.
fn channel(q: &ConstQuant, c: usize) -> (i64, f64) {
    if q.scale.len() == 1 {
        (q.zero_point[0], q.scale[0])
    } else {
        (q.zero_point[c], q.scale[c])
    }
}

/// The weights of a MatMul/Gemm `B` (`[K, N]`, or `[N, K]` with `trans`);
/// a per-axis quantization must be along N (output channels).
fn weights_2d(node: &Node, k: &Konst, trans: bool, what: &str) -> Result<Weights> {
    let Some(q) = &k.quant else {
        return Err(node.err(format!(
            "{what} is a float constant; lfc imports quantized weights (a DequantizeLinear of integers, or the QOperator integer input)"
        )));
    };
    if k.dims.len() != 2 {
        return Err(node.err(format!(
            "{what} has shape {:?}; lfc takes 2-D weights",
            k.dims
        )));
    }
    let (kk, n) = if trans {
        (k.dims[1], k.dims[0])
    } else {
        (k.dims[0], k.dims[1])
    };
    let n_axis = if trans { 0 } else { 1 };
    if q.scale.len() > 1 && q.axis != Some(n_axis) {
        return Err(node.err(format!(
            "{what} is quantized per axis {:?}, not along its output channels (axis {n_axis}): the scale would vary along the sum",
            q.axis
        )));
    }
    let mut w = vec![0i64; kk * n];
    for r in 0..kk {
        for c in 0..n {
            let i = if trans { c * kk + r } else { r * n + c };
            w[r * n + c] = q.ints[i] - channel(q, c).0;
        }
    }
    let scale = (0..n).map(|c| channel(q, c).1).collect();
    Ok(Weights { k: kk, n, w, scale })
}

/// `A [.., M, K] x B [K, N]` over the flattened A: row `m * N + c` of the
/// result reads row `m` of A.
fn matmul_matrix(
    node: &Node,
    a_shape: &[usize],
    b: &Weights,
) -> Result<(Vec<i64>, usize, Vec<usize>)> {
    let k = *a_shape.last().unwrap_or(&1);
    if k != b.k {
        return Err(node.err(format!(
            "input of shape {a_shape:?} has {k} columns, the weights {} rows",
            b.k
        )));
    }
    let m: usize = a_shape.iter().product::<usize>() / k.max(1);
    let (n_in, n_out) = (m * k, m * b.n);
    let mut weight = vec![0i64; n_out * n_in];
    for mi in 0..m {
        for c in 0..b.n {
            let row = (mi * b.n + c) * n_in;
            for r in 0..k {
                weight[row + mi * k + r] = b.w[r * b.n + c];
            }
        }
    }
    let mut out_shape = a_shape.to_vec();
    if out_shape.is_empty() {
        out_shape.push(1);
    }
    *out_shape.last_mut().unwrap() = b.n;
    Ok((weight, m, out_shape))
}

/// Bias per output element (`m * N + c`) in accumulator units. An int32
/// DequantizeLinear whose scale is the accumulator's (as onnxruntime's
/// quantizer writes it) is taken as its integers; a float bias is divided
/// by the accumulator scale.
fn bias_acc(
    node: &Node,
    c: Option<&Konst>,
    acc_unit: &[f64],
    n: usize,
    m: usize,
    beta: f64,
) -> Result<Vec<f64>> {
    let Some(c) = c else {
        return Ok(vec![0.0; m * n]);
    };
    let len = c.len();
    if len != 1 && len != n && len != m * n {
        return Err(node.err(format!("bias has {len} values for {m} x {n} outputs")));
    }
    let at = |i: usize| {
        if len == 1 {
            0
        } else if len == n {
            i % n
        } else {
            i
        }
    };
    let exact = c.quant.as_ref().filter(|q| {
        beta == 1.0
            && q.elem == IntType::I32
            && q.zero_point.iter().all(|&z| z == 0)
            && (0..n).all(|col| {
                let s = channel(q, if q.scale.len() == 1 { 0 } else { col }).1;
                ((s - acc_unit[col]) / acc_unit[col]).abs() < 1e-6
            })
    });
    let reals = c.reals();
    Ok((0..m * n)
        .map(|i| match exact {
            Some(q) => q.ints[at(i)] as f64,
            None => beta * reals[at(i)] / acc_unit[i % n],
        })
        .collect())
}

/// Gemm/MatMul/Conv/pools between DequantizeLinear inputs: a pending
/// Linear the next QuantizeLinear types.
pub(super) fn qdq(w: &mut Walk, node: &Node) -> Result<()> {
    let (x, dq) = w.deq(node, 0)?;
    let sx = w.tensor(x).ty.scale;
    let a_shape = w.shape(node, 0)?;
    let mut fused = vec![dq, node.name.clone()];
    let (weight, bias, acc_scale, shape) = match node.op() {
        "Gemm" | "MatMul" => {
            let gemm = node.op() == "Gemm";
            if gemm && node.attr_i64_or("transA", 0)? != 0 {
                return Err(node.err("transA=1 is not supported"));
            }
            let trans = gemm && node.attr_i64_or("transB", 0)? != 0;
            let (alpha, beta) = if gemm {
                (
                    node.attr_f32_or("alpha", 1.0)? as f64,
                    node.attr_f32_or("beta", 1.0)? as f64,
                )
            } else {
                (1.0, 1.0)
            };
            let bk = w.konst(node, 1, "weight B")?;
            if let Some(n) = w.const_dq.get(node.required_input(1)?) {
                fused.insert(1, n.clone());
            }
            let b = weights_2d(node, &bk, trans, "weight B")?;
            let (weight, m, shape) = matmul_matrix(node, &a_shape, &b)?;
            let unit: Vec<f64> = b.scale.iter().map(|s| sx * s).collect();
            let c = if gemm {
                w.opt_konst(node, 2, "bias C")?
            } else {
                None
            };
            if gemm {
                if let Some(nm) = node.input(2).and_then(|i| w.const_dq.get(i)) {
                    fused.insert(1, nm.clone());
                }
            }
            let bias: Vec<f64> = bias_acc(node, c.as_ref(), &unit, b.n, m, beta / alpha)?;
            let acc_scale = (0..m * b.n).map(|i| alpha * unit[i % b.n]).collect();
            (weight, bias, acc_scale, shape)
        }
        "Conv" => {
            let wk = w.konst(node, 1, "weight W")?;
            if let Some(n) = w.const_dq.get(node.required_input(1)?) {
                fused.insert(1, n.clone());
            }
            let Some(wq) = wk.quant.clone() else {
                return Err(node.err("weight W is a float constant; lfc imports quantized weights"));
            };
            let b = w.opt_konst(node, 2, "bias B")?;
            conv(node, &a_shape, sx, &wk.dims, &wq, b.as_ref(), true)?
        }
        "AveragePool" | "GlobalAveragePool" => pool(node, &a_shape, sx)?,
        other => unreachable!("{other} is not a linear op"),
    };
    let p = Pending {
        kind: QOpKind::Linear {
            weight,
            bias,
            acc_scale,
            clamp: None,
            weight_scale: weight_scales(w, node),
        },
        inputs: vec![x],
        node: node.name.clone(),
        onnx_op: node.op().to_owned(),
        fused,
        len: shape.iter().product(),
    };
    w.bind(node, Sym::Pending(Box::new(p)), Some(shape))
}

/// The model's weight scales (one per output channel, or one for a
/// per-tensor weight), for `lfc inspect`; none for a pool or an
/// integer-only op (MatMulInteger, ConvInteger).
fn weight_scales(w: &Walk, node: &Node) -> Vec<f64> {
    let konst = |i: usize| w.opt_konst(node, i, "weight").ok().flatten();
    match node.op() {
        "Gemm" | "MatMul" | "Conv" => konst(1)
            .and_then(|k| k.quant)
            .map(|q| q.scale)
            .unwrap_or_default(),
        "QGemm" | "QLinearMatMul" | "QLinearConv" => {
            konst(4).map(|k| k.reals()).unwrap_or_default()
        }
        _ => vec![],
    }
}

/// A scale/zero-point pair of a QOperator node (inputs `i`, `i + 1`).
fn pair(w: &Walk, node: &Node, i: usize, default: IntType) -> Result<QType> {
    let s = w.konst(node, i, "scale")?;
    let z = w.opt_konst(node, i + 1, "zero point")?;
    qtype(node, &s, z.as_ref(), default)
}

/// Integer weights given as separate QOperator inputs (`ints`, `scale`,
/// `zero point`); per-axis along `axis` when the scale has several values.
fn op_weights(
    w: &Walk,
    node: &Node,
    i: usize,
    s: Option<usize>,
    z: Option<usize>,
    axis: usize,
) -> Result<Konst> {
    let k = w.konst(node, i, "weight")?;
    let Some((elem, ints)) = k.ints() else {
        return Err(node.err("weight must be an integer constant"));
    };
    let scale = match s {
        Some(si) => w.konst(node, si, "weight scale")?.reals(),
        None => vec![1.0],
    };
    let zp: Vec<i64> = match z
        .map(|zi| w.opt_konst(node, zi, "weight zero point"))
        .transpose()?
        .flatten()
    {
        Some(zk) => match zk.ints() {
            Some((_, v)) => v.to_vec(),
            None => return Err(node.err("weight zero point must be an integer tensor")),
        },
        None => vec![0; scale.len()],
    };
    let n = scale.len().max(zp.len());
    let scale = if scale.len() == 1 {
        vec![scale[0]; n]
    } else {
        scale
    };
    let zp = if zp.len() == 1 { vec![zp[0]; n] } else { zp };
    if scale.len() != zp.len() || (n > 1 && k.dims.get(axis) != Some(&n)) {
        return Err(node.err(format!(
            "weight of shape {:?}: {} scales and {} zero points do not match axis {axis}",
            k.dims,
            scale.len(),
            zp.len()
        )));
    }
    let quant = ConstQuant {
        elem,
        ints: ints.to_vec(),
        scale,
        zero_point: zp,
        axis: if n > 1 { Some(axis) } else { None },
    };
    Ok(Konst {
        dims: k.dims.clone(),
        data: k.data.clone(),
        quant: Some(quant),
    })
}

/// The int32 type of MatMulInteger/ConvInteger results (scale 1).
fn int32() -> QType {
    let (qmin, qmax) = IntType::I32.range();
    QType {
        elem: "int32",
        bits: 32,
        qmin,
        qmax,
        scale: 1.0,
        zero_point: 0,
    }
}

/// The zero-point-only type of MatMulInteger/ConvInteger inputs.
fn check_zp_only(w: &Walk, node: &Node, x: QId, zi: usize) -> Result<()> {
    let t = &w.tensor(x).ty;
    let z = match w.opt_konst(node, zi, "input zero point")? {
        Some(k) => match k.ints() {
            Some((_, v)) if v.len() == 1 => v[0],
            _ => return Err(node.err("the input zero point must be one integer")),
        },
        None => 0,
    };
    if z != t.zero_point {
        return Err(node.err(format!(
            "the input zero point {z} differs from the one its tensor was quantized with ({}); lfc needs them equal",
            t.zero_point
        )));
    }
    Ok(())
}

pub(super) fn qoperator(w: &mut Walk, node: &Node) -> Result<()> {
    let x = w.quant(node, 0)?;
    let xt = w.tensor(x).ty.clone();
    let a_shape = w.shape(node, 0)?;
    let check_x = |t: &QType| -> Result<()> {
        if t.scale != xt.scale || t.zero_point != xt.zero_point {
            return Err(node.err(format!(
                "the input's scale/zero point ({:e}, {}) differ from the ones it was quantized with ({:e}, {})",
                t.scale, t.zero_point, xt.scale, xt.zero_point
            )));
        }
        Ok(())
    };
    let (weight, bias, acc_scale, shape, ty) = match node.op() {
        "QGemm" | "QLinearMatMul" | "MatMulInteger" => {
            let (b_at, s_at, z_at, y_at, c_at) = match node.op() {
                "QGemm" => (3, Some(4), Some(5), 7, Some(6)),
                "QLinearMatMul" => (3, Some(4), Some(5), 6, None),
                _ => (1, None, Some(3), usize::MAX, None),
            };
            match node.op() {
                "MatMulInteger" => check_zp_only(w, node, x, 2)?,
                _ => check_x(&pair(w, node, 1, IntType::U8)?)?,
            }
            let trans = node.op() == "QGemm" && node.attr_i64_or("transB", 0)? != 0;
            if node.op() == "QGemm" {
                if node.attr_i64_or("transA", 0)? != 0 {
                    return Err(node.err("transA=1 is not supported"));
                }
                let alpha = node.attr_f32_or("alpha", 1.0)?;
                if alpha != 1.0 {
                    return Err(node.err(format!("alpha {alpha} is not supported (only 1)")));
                }
                if node.input(y_at).is_none() {
                    return Err(node.err(
                        "QGemm without y_scale answers floats; lfc imports QGemm with a quantized output",
                    ));
                }
            }
            let bk = op_weights(w, node, b_at, s_at, z_at, if trans { 0 } else { 1 })?;
            let b = weights_2d(node, &bk, trans, "weight B")?;
            let (weight, m, shape) = matmul_matrix(node, &a_shape, &b)?;
            let bias = match c_at
                .map(|c| w.opt_konst(node, c, "bias C"))
                .transpose()?
                .flatten()
            {
                None => vec![0.0; m * b.n],
                Some(c) => {
                    let Some((IntType::I32, v)) = c.ints() else {
                        return Err(node.err("bias C must be int32"));
                    };
                    if v.len() != b.n && v.len() != 1 && v.len() != m * b.n {
                        return Err(node.err(format!(
                            "bias C has {} values for {} outputs",
                            v.len(),
                            b.n
                        )));
                    }
                    (0..m * b.n)
                        .map(|i| {
                            v[if v.len() == 1 {
                                0
                            } else if v.len() == b.n {
                                i % b.n
                            } else {
                                i
                            }] as f64
                        })
                        .collect()
                }
            };
            let (acc_scale, ty) = if node.op() == "MatMulInteger" {
                (vec![1.0; m * b.n], int32())
            } else {
                let ty = pair(w, node, y_at, IntType::U8)?;
                (
                    (0..m * b.n).map(|i| xt.scale * b.scale[i % b.n]).collect(),
                    ty,
                )
            };
            (weight, bias, acc_scale, shape, ty)
        }
        "QLinearConv" | "ConvInteger" => {
            let integer = node.op() == "ConvInteger";
            let wk = if integer {
                check_zp_only(w, node, x, 2)?;
                op_weights(w, node, 1, None, Some(3), 0)?
            } else {
                check_x(&pair(w, node, 1, IntType::U8)?)?;
                op_weights(w, node, 3, Some(4), Some(5), 0)?
            };
            let b = if integer {
                None
            } else {
                w.opt_konst(node, 8, "bias B")?
            };
            let wq = wk.quant.clone().expect("op_weights sets it");
            let sx = if integer { 1.0 } else { xt.scale };
            let (weight, bias, acc_scale, shape) =
                conv(node, &a_shape, sx, &wk.dims, &wq, b.as_ref(), false)?;
            let ty = if integer {
                int32()
            } else {
                pair(w, node, 6, IntType::U8)?
            };
            (weight, bias, acc_scale, shape, ty)
        }
        "QLinearAveragePool" | "QLinearGlobalAveragePool" => {
            if node.attr_i64_or("channels_last", 0)? != 0 {
                return Err(node.err("channels_last=1 is not supported"));
            }
            check_x(&pair(w, node, 1, IntType::U8)?)?;
            let ty = pair(w, node, 3, IntType::U8)?;
            let (weight, bias, acc_scale, shape) = pool(node, &a_shape, xt.scale)?;
            (weight, bias, acc_scale, shape, ty)
        }
        other => unreachable!("{other} is not a QOperator linear op"),
    };
    let p = Pending {
        kind: QOpKind::Linear {
            weight,
            bias,
            acc_scale,
            clamp: None,
            weight_scale: weight_scales(w, node),
        },
        inputs: vec![x],
        node: node.name.clone(),
        onnx_op: node.op().to_owned(),
        fused: vec![node.name.clone()],
        len: shape.iter().product(),
    };
    w.push_op(node, p, ty, shape).map(|_| ())
}

type LinearParts = (Vec<i64>, Vec<f64>, Vec<f64>, Vec<usize>);

/// Row-major multi-indices of `shape`.
fn indices(shape: &[usize]) -> Vec<Vec<usize>> {
    let mut out = vec![vec![]];
    for &d in shape {
        out = out
            .into_iter()
            .flat_map(|p| {
                (0..d).map(move |i| {
                    let mut q = p.clone();
                    q.push(i);
                    q
                })
            })
            .collect();
    }
    out
}

/// The image `[1, C, spatial..]` of a Conv or pool input.
fn image(node: &Node, shape: &[usize]) -> Result<(usize, Vec<usize>)> {
    if !(3..=4).contains(&shape.len()) || shape[0] != 1 {
        return Err(node.err(format!(
            "input of shape {shape:?}: lfc takes [1, C, L] or [1, C, H, W]"
        )));
    }
    Ok((shape[1], shape[2..].to_vec()))
}

/// Conv over integers: per output channel `m`, the accumulator unit is
/// `sx * w_scale[m]`; `qdq_bias` says the bias is a DequantizeLinear (or
/// float) constant rather than QLinearConv's raw int32.
fn conv(
    node: &Node,
    a_shape: &[usize],
    sx: f64,
    dims: &[usize],
    wq: &ConstQuant,
    bias: Option<&Konst>,
    qdq_bias: bool,
) -> Result<LinearParts> {
    let (c_in, spatial) = image(node, a_shape)?;
    let n = spatial.len();
    if dims.len() != n + 2 {
        return Err(node.err(format!(
            "weight of shape {dims:?} for an input with {n} spatial axes"
        )));
    }
    let (m_out, c_per) = (dims[0], dims[1]);
    if wq.scale.len() > 1 && wq.axis != Some(0) {
        return Err(
            node.err("weights are quantized per axis other than the output channels (axis 0)")
        );
    }
    let group = node.attr_i64_or("group", 1)?;
    if group < 1
        || c_in % group as usize != 0
        || m_out % group as usize != 0
        || c_per * group as usize != c_in
    {
        return Err(node.err(format!(
            "group {group}: weight {dims:?} does not fit {c_in} input channels"
        )));
    }
    let group = group as usize;
    let win = Window::read(node, &spatial, dims[2..].to_vec())?;
    let (in_sp, out_sp) = (win.in_len(), win.out_len());
    let n_in = c_in * in_sp;
    let k_len: usize = win.kernel.iter().product();
    let kidx = indices(&win.kernel);
    let outs = indices(&win.output);
    let mut weight = vec![0i64; m_out * out_sp * n_in];
    for m in 0..m_out {
        let g = m / (m_out / group);
        let z = channel(wq, m).0;
        for (oi, o) in outs.iter().enumerate() {
            let row = (m * out_sp + oi) * n_in;
            for cp in 0..c_per {
                let c = g * c_per + cp;
                for (ki, k) in kidx.iter().enumerate() {
                    if let Some(i) = win.tap(o, k) {
                        weight[row + c * in_sp + i] += wq.ints[(m * c_per + cp) * k_len + ki] - z;
                    }
                }
            }
        }
    }
    let unit: Vec<f64> = (0..m_out).map(|m| sx * channel(wq, m).1).collect();
    let per_m = match bias {
        None => vec![0.0; m_out],
        Some(b) if qdq_bias => bias_acc(node, Some(b), &unit, m_out, 1, 1.0)?,
        Some(b) => match b.ints() {
            Some((IntType::I32, v)) if v.len() == m_out => v.iter().map(|&x| x as f64).collect(),
            _ => return Err(node.err(format!("bias B must be {m_out} int32 values"))),
        },
    };
    let bias = (0..m_out * out_sp).map(|i| per_m[i / out_sp]).collect();
    let acc_scale = (0..m_out * out_sp).map(|i| unit[i / out_sp]).collect();
    let shape = [1, m_out].into_iter().chain(win.output.clone()).collect();
    Ok((weight, bias, acc_scale, shape))
}

/// AveragePool/GlobalAveragePool: window sums with the accumulator unit
/// `sx / count` (padding counted only with `count_include_pad`).
fn pool(node: &Node, a_shape: &[usize], sx: f64) -> Result<LinearParts> {
    let (c, spatial) = image(node, a_shape)?;
    let global = node.op().contains("Global");
    let kernel: Vec<usize> = if global {
        spatial.clone()
    } else {
        if node.attr_i64_or("ceil_mode", 0)? != 0 {
            return Err(node.err("ceil_mode=1 is not supported"));
        }
        match node.attr_ints("kernel_shape")? {
            Some(k) if k.len() == spatial.len() && k.iter().all(|&v| v >= 1) => {
                k.iter().map(|&v| v as usize).collect()
            }
            k => {
                return Err(node.err(format!(
                    "attribute `kernel_shape` is {k:?}; expected {} values >= 1",
                    spatial.len()
                )))
            }
        }
    };
    let include_pad = node.attr_i64_or("count_include_pad", 0)? != 0;
    let win = if global {
        None
    } else {
        Some(Window::read(node, &spatial, kernel.clone())?)
    };
    let in_sp: usize = spatial.iter().product();
    let out_spatial = match &win {
        Some(wn) => wn.output.clone(),
        None => vec![1; spatial.len()],
    };
    let out_sp: usize = out_spatial.iter().product();
    let kidx = indices(&kernel);
    let outs = indices(&out_spatial);
    let mut weight = vec![0i64; c * out_sp * c * in_sp];
    let mut acc_scale = Vec::with_capacity(c * out_sp);
    for ch in 0..c {
        for (oi, o) in outs.iter().enumerate() {
            let taps: Vec<usize> = match &win {
                Some(wn) => kidx.iter().filter_map(|k| wn.tap(o, k)).collect(),
                None => (0..in_sp).collect(),
            };
            let count = if include_pad { kidx.len() } else { taps.len() };
            let row = (ch * out_sp + oi) * c * in_sp;
            for i in taps {
                weight[row + ch * in_sp + i] += 1;
            }
            acc_scale.push(sx / count as f64);
        }
    }
    let shape = [1, c].into_iter().chain(out_spatial).collect();
    Ok((weight, vec![0.0; c * out_sp], acc_scale, shape))
}
