//! Element-wise ops of quantized models: float activations between a
//! DequantizeLinear and a QuantizeLinear (exact tables over the source's
//! integers), Add/Sub/Mul of two quantized tensors, their QOperator forms,
//! a Relu/Clip fused into the Linear before it, and the layout ops that
//! only rename a tensor.

use super::consts::{Data, Konst};
use super::{constop, qtype, Pending, Sym, Walk};
use crate::front::onnx::lower::Node;
use crate::ir::qgraph::{QId, QOpKind, QType};
use crate::ir::{Activation, BinaryOp, LutFunc};
use crate::Result;

use super::consts::IntType;

/// Float activations lfc imports between a DQ and a Q.
pub(super) const UNARY: &[&str] = &[
    "Clip",
    "Elu",
    "Erf",
    "Exp",
    "Gelu",
    "HardSigmoid",
    "HardSwish",
    "LeakyRelu",
    "Relu",
    "Selu",
    "Sigmoid",
    "Softplus",
    "Softsign",
    "Tanh",
];

pub(super) fn is_unary(op: &str) -> bool {
    UNARY.contains(&op)
}

pub(super) fn is_alias(op: &str) -> bool {
    matches!(
        op,
        "Identity" | "Dropout" | "Flatten" | "Reshape" | "Squeeze" | "Unsqueeze"
    )
}

fn bits(x: f32) -> u32 {
    x.to_bits()
}

/// The table function of an activation.
fn table_func(act: Activation) -> LutFunc {
    match act {
        Activation::Relu => LutFunc::Relu,
        Activation::Tanh => LutFunc::Tanh,
        Activation::Sigmoid => LutFunc::Sigmoid,
        Activation::LeakyRelu { alpha } => LutFunc::LeakyRelu { alpha: bits(alpha) },
        Activation::HardSigmoid { alpha, beta } => LutFunc::HardSigmoid {
            alpha: bits(alpha),
            beta: bits(beta),
        },
        Activation::Clip { min, max } => LutFunc::Clip {
            min: bits(min),
            max: bits(max),
        },
        Activation::Table(f) => f,
    }
}

/// The function of a unary op (Clip's bounds from its inputs or attributes).
fn activation(w: &Walk, node: &Node) -> Result<Activation> {
    Ok(match node.op() {
        "Relu" => Activation::Relu,
        "Tanh" => Activation::Tanh,
        "Sigmoid" => Activation::Sigmoid,
        "LeakyRelu" => Activation::LeakyRelu {
            alpha: node.attr_f32_or("alpha", 0.01)?,
        },
        "HardSigmoid" => Activation::HardSigmoid {
            alpha: node.attr_f32_or("alpha", 0.2)?,
            beta: node.attr_f32_or("beta", 0.5)?,
        },
        "Clip" => {
            let (mut min, mut max) = (f32::NEG_INFINITY, f32::INFINITY);
            if w.opset >= 11 {
                for (i, slot) in [(1, &mut min), (2, &mut max)] {
                    if let Some(k) = w.opt_konst(node, i, "Clip bound")? {
                        match k.reals().as_slice() {
                            [v] => *slot = *v as f32,
                            _ => return Err(node.err("a Clip bound must be one value")),
                        }
                    }
                }
            } else {
                min = node.attr_f32("min")?.unwrap_or(min);
                max = node.attr_f32("max")?.unwrap_or(max);
            }
            if min.is_nan() || max.is_nan() {
                return Err(node.err("a Clip bound is NaN"));
            }
            Activation::Clip { min, max }
        }
        "Elu" => Activation::Table(LutFunc::Elu {
            alpha: bits(node.attr_f32_or("alpha", 1.0)?),
        }),
        "Selu" => Activation::Table(LutFunc::Selu {
            alpha: bits(node.attr_f32_or("alpha", 1.673_263_2)?),
            gamma: bits(node.attr_f32_or("gamma", 1.050_701)?),
        }),
        "Softplus" => Activation::Table(LutFunc::Softplus),
        "Softsign" => Activation::Table(LutFunc::Softsign),
        "Erf" => Activation::Table(LutFunc::Erf),
        "Exp" => Activation::Table(LutFunc::Exponential),
        "HardSwish" => Activation::Table(LutFunc::HardSwish),
        "Gelu" => match node.attr_string_or("approximate", "none")?.as_str() {
            "none" => Activation::Table(LutFunc::Gelu),
            "tanh" => Activation::Table(LutFunc::GeluTanh),
            other => return Err(node.err(format!("approximate=`{other}` is not an ONNX value"))),
        },
        other => unreachable!("{other} is not a unary op"),
    })
}

/// A float activation: fused into the pending Linear before it (Relu,
/// Clip), or a table over the integers of the DequantizeLinear before it.
pub(super) fn unary(w: &mut Walk, node: &Node) -> Result<()> {
    let act = activation(w, node)?;
    let shape = w.shape(node, 0)?;
    match w.sym(node, 0)?.clone() {
        Sym::Pending(mut p) => {
            let QOpKind::Linear { clamp, .. } = &mut p.kind else {
                return Err(node.err(format!(
                    "follows the float result of node `{}` ({}) with no QuantizeLinear/DequantizeLinear pair between",
                    p.node, p.onnx_op
                )));
            };
            let bounds = match act {
                Activation::Relu => (0.0, f64::INFINITY),
                Activation::Clip { min, max } => (min as f64, max as f64),
                _ => {
                    return Err(node.err(format!(
                        "follows the float result of node `{}` ({}) with no QuantizeLinear/DequantizeLinear pair between; only Relu and Clip fuse into it",
                        p.node, p.onnx_op
                    )))
                }
            };
            let (lo, hi) = clamp.unwrap_or((f64::NEG_INFINITY, f64::INFINITY));
            *clamp = Some((lo.max(bounds.0), hi.min(bounds.1)));
            p.fused.push(node.name.clone());
            w.bind(node, Sym::Pending(p), Some(shape))
        }
        Sym::Deq(q, dq) => {
            let p = Pending {
                kind: QOpKind::Unary {
                    func: table_func(act),
                },
                inputs: vec![q],
                node: node.name.clone(),
                onnx_op: node.op().to_owned(),
                fused: vec![dq, node.name.clone()],
                len: w.tensor(q).len,
            };
            w.bind(node, Sym::Pending(Box::new(p)), Some(shape))
        }
        _ => {
            w.deq(node, 0)?;
            unreachable!("deq refuses every other operand")
        }
    }
}

/// Add/Sub/Mul: of two DequantizeLinear outputs (same shape), or a constant
/// added to a pending Linear (a MatMul's bias, as PyTorch exports it).
pub(super) fn binary(w: &mut Walk, node: &Node) -> Result<()> {
    let bop = match node.op() {
        "Add" => BinaryOp::Add,
        "Sub" => BinaryOp::Sub,
        _ => BinaryOp::Mul,
    };
    let (a, b) = (w.sym(node, 0)?.clone(), w.sym(node, 1)?.clone());
    let shape_a = w.shape(node, 0)?;
    match (a, b) {
        (Sym::Pending(p), Sym::Const(c)) if bop != BinaryOp::Mul => {
            fold_bias(w, node, *p, &c, bop == BinaryOp::Sub, shape_a)
        }
        (Sym::Const(c), Sym::Pending(p)) if bop == BinaryOp::Add => {
            let shape = w.shape(node, 1)?;
            fold_bias(w, node, *p, &c, false, shape)
        }
        (Sym::Deq(qa, da), Sym::Deq(qb, db)) => {
            let shape_b = w.shape(node, 1)?;
            if shape_a != shape_b {
                return Err(node.err(format!(
                    "operands of shapes {shape_a:?} and {shape_b:?}: lfc takes quantized operands of one shape (no broadcasting)"
                )));
            }
            let p = Pending {
                kind: QOpKind::Binary { op: bop },
                inputs: vec![qa, qb],
                node: node.name.clone(),
                onnx_op: node.op().to_owned(),
                fused: vec![da, db, node.name.clone()],
                len: w.tensor(qa).len,
            };
            w.bind(node, Sym::Pending(Box::new(p)), Some(shape_a))
        }
        (Sym::Deq(x, dq), Sym::Const(c)) | (Sym::Const(c), Sym::Deq(x, dq)) => {
            let first = matches!(w.sym(node, 0)?, Sym::Const(_));
            let shape = w.shape(node, if first { 1 } else { 0 })?;
            let mut fused = vec![dq];
            if let Some(nm) = node
                .input(if first { 0 } else { 1 })
                .and_then(|i| w.const_dq.get(i))
            {
                fused.push(nm.clone());
            }
            fused.push(node.name.clone());
            let reals = c.reals();
            let operand = constop::Operand {
                konst: &c,
                reals,
                first,
            };
            let p = constop::pending(w, node, bop, x, &shape, operand, fused)?;
            w.bind(node, Sym::Pending(Box::new(p)), Some(shape))
        }
        _ => {
            w.deq(node, 0)?;
            w.deq(node, 1)?;
            Err(node.err("unsupported operands"))
        }
    }
}

fn fold_bias(
    w: &mut Walk,
    node: &Node,
    mut p: Pending,
    c: &Konst,
    sub: bool,
    shape: Vec<usize>,
) -> Result<()> {
    let QOpKind::Linear {
        bias,
        acc_scale,
        clamp: None,
        ..
    } = &mut p.kind
    else {
        return Err(node.err(format!(
            "adds a constant to the float result of node `{}` ({}); lfc folds a constant only into a Gemm/MatMul/Conv bias before any activation",
            p.node, p.onnx_op
        )));
    };
    let v = c.reals();
    let n = bias.len();
    let last = *shape.last().unwrap_or(&1);
    let at = |j: usize| -> Option<usize> {
        match v.len() {
            1 => Some(0),
            l if l == n => Some(j),
            l if l == last => Some(j % last),
            _ => None,
        }
    };
    for j in 0..n {
        let Some(i) = at(j) else {
            return Err(node.err(format!(
                "constant of {} values does not broadcast to {n} outputs",
                v.len()
            )));
        };
        let add = if sub { -v[i] } else { v[i] };
        bias[j] += add / acc_scale[j];
    }
    if let Some(nm) = node.input(1).and_then(|i| w.const_dq.get(i)) {
        p.fused.push(nm.clone());
    }
    p.fused.push(node.name.clone());
    w.bind(node, Sym::Pending(Box::new(p)), Some(shape))
}

/// A QOperator node's scale/zero-point pair at inputs `i`, `i + 1`.
fn pair(w: &Walk, node: &Node, i: usize) -> Result<QType> {
    let s = w.konst(node, i, "scale")?;
    let z = w.opt_konst(node, i + 1, "zero point")?;
    qtype(node, &s, z.as_ref(), IntType::U8)
}

/// Checks that a QOperator node reads `q` with its own parameters.
fn same_params(w: &Walk, node: &Node, q: QId, t: &QType) -> Result<()> {
    let have = &w.tensor(q).ty;
    if have.scale != t.scale || have.zero_point != t.zero_point {
        return Err(node.err(format!(
            "an input's scale/zero point ({:e}, {}) differ from the ones it was quantized with ({:e}, {})",
            t.scale, t.zero_point, have.scale, have.zero_point
        )));
    }
    Ok(())
}

/// QLinearAdd/QLinearMul with a constant A or B (integers with their
/// scale and zero point): see [`constop`].
fn qlinear_const(w: &mut Walk, node: &Node, bop: BinaryOp) -> Result<()> {
    let first = matches!(w.sym(node, 0)?, Sym::Const(_));
    let (xi, ci) = if first { (3, 0) } else { (0, 3) };
    let x = w.quant(node, xi)?;
    same_params(w, node, x, &pair(w, node, xi + 1)?)?;
    let k = w.konst(node, ci, "the constant operand")?;
    let ct = pair(w, node, ci + 1)?;
    let Some((_, ints)) = k.ints() else {
        return Err(node.err(format!(
            "the constant operand `{}` must hold integers (it is dequantized with its scale and zero point)",
            node.required_input(ci)?
        )));
    };
    let reals = ints.iter().map(|&q| ct.real(q)).collect();
    let shape = w.shape(node, xi)?;
    let operand = constop::Operand {
        konst: &k,
        reals,
        first,
    };
    let p = constop::pending(w, node, bop, x, &shape, operand, vec![node.name.clone()])?;
    let ty = pair(w, node, 6)?;
    w.push_op(node, p, ty, shape).map(|_| ())
}

/// QLinearAdd, QLinearMul, QLinearSigmoid, QLinearLeakyRelu (com.microsoft).
pub(super) fn qoperator(w: &mut Walk, node: &Node) -> Result<()> {
    if let Some(bop) = match node.op() {
        "QLinearAdd" => Some(BinaryOp::Add),
        "QLinearMul" => Some(BinaryOp::Mul),
        _ => None,
    } {
        let konst = |i| matches!(w.sym(node, i), Ok(Sym::Const(_)));
        if konst(0) || konst(3) {
            return qlinear_const(w, node, bop);
        }
    }
    let x = w.quant(node, 0)?;
    let shape = w.shape(node, 0)?;
    let pair = |w: &Walk, i: usize| pair(w, node, i);
    let same = |w: &Walk, q, t: &QType| same_params(w, node, q, t);
    same(w, x, &pair(w, 1)?)?;
    let (kind, inputs, ty) = match node.op() {
        "QLinearAdd" | "QLinearMul" => {
            let y = match w.sym(node, 3)? {
                Sym::Quant(q) => *q,
                _ => {
                    return Err(
                        node.err("operand B must be a quantized runtime tensor or a constant")
                    )
                }
            };
            same(w, y, &pair(w, 4)?)?;
            if w.shape(node, 3)? != shape {
                return Err(node.err("operands of different shapes (no broadcasting)"));
            }
            let op = if node.op() == "QLinearAdd" {
                BinaryOp::Add
            } else {
                BinaryOp::Mul
            };
            (QOpKind::Binary { op }, vec![x, y], pair(w, 6)?)
        }
        _ => {
            let func = if node.op() == "QLinearSigmoid" {
                LutFunc::Sigmoid
            } else {
                LutFunc::LeakyRelu {
                    alpha: bits(node.attr_f32_or("alpha", 0.01)?),
                }
            };
            (QOpKind::Unary { func }, vec![x], pair(w, 3)?)
        }
    };
    let p = Pending {
        kind,
        inputs,
        node: node.name.clone(),
        onnx_op: node.op().to_owned(),
        fused: vec![node.name.clone()],
        len: w.tensor(x).len,
    };
    w.push_op(node, p, ty, shape).map(|_| ())
}

/// Identity, Dropout, Flatten, Reshape, Squeeze, Unsqueeze: the same
/// values under a new shape.
pub(super) fn alias(w: &mut Walk, node: &Node) -> Result<()> {
    let sym = w.sym(node, 0)?.clone();
    if matches!(sym, Sym::Const(_)) {
        return Err(node.err(
            "reshapes a constant at run time; lfc's quantized import takes weights in their final shape",
        ));
    }
    if node.op() == "Dropout" && !node.extra_outputs().is_empty() {
        return Err(node.err("the Dropout mask output is used"));
    }
    let shape = w.shape(node, 0)?;
    let len: usize = shape.iter().product();
    let out = match node.op() {
        "Flatten" => {
            let r = shape.len() as i64;
            let a = node.attr_i64_or("axis", 1)?;
            let a = if a < 0 { a + r } else { a };
            if a < 0 || a > r {
                return Err(node.err(format!("axis {a} out of range for rank {r}")));
            }
            let head: usize = shape[..a as usize].iter().product();
            vec![head, len / head.max(1)]
        }
        "Reshape" => {
            let k = w.konst(node, 1, "shape")?;
            let Data::Ints(_, v) = &k.data else {
                return Err(node.err("shape must be integers"));
            };
            let mut dims: Vec<i64> = v
                .iter()
                .enumerate()
                .map(|(i, &d)| {
                    if d == 0 {
                        shape.get(i).map_or(0, |&s| s as i64)
                    } else {
                        d
                    }
                })
                .collect();
            let known: i64 = dims.iter().filter(|&&d| d > 0).product();
            if let Some(m) = dims.iter_mut().find(|d| **d == -1) {
                *m = if known > 0 { len as i64 / known } else { 0 };
            }
            if dims.iter().any(|&d| d < 0) || dims.iter().product::<i64>() != len as i64 {
                return Err(node.err(format!("cannot reshape {shape:?} to {v:?}")));
            }
            dims.iter().map(|&d| d as usize).collect()
        }
        "Squeeze" | "Unsqueeze" => {
            let axes = if w.opset >= 13 {
                match w.opt_konst(node, 1, "axes")? {
                    Some(k) => k.reals().iter().map(|&a| a as i64).collect(),
                    None => vec![],
                }
            } else {
                node.attr_ints_list("axes")?
            };
            squeeze(node, &shape, &axes)?
        }
        _ => shape.clone(),
    };
    w.bind(node, sym, Some(out))
}

fn squeeze(node: &Node, shape: &[usize], axes: &[i64]) -> Result<Vec<usize>> {
    if node.op() == "Squeeze" {
        let r = shape.len() as i64;
        let norm: Vec<i64> = axes
            .iter()
            .map(|&a| if a < 0 { a + r } else { a })
            .collect();
        Ok(shape
            .iter()
            .enumerate()
            .filter(|(i, &d)| !(d == 1 && (norm.is_empty() || norm.contains(&(*i as i64)))))
            .map(|(_, &d)| d)
            .collect())
    } else {
        let r = (shape.len() + axes.len()) as i64;
        let mut norm: Vec<i64> = axes
            .iter()
            .map(|&a| if a < 0 { a + r } else { a })
            .collect();
        norm.sort();
        let mut out = shape.to_vec();
        for a in norm {
            if a < 0 || a as usize > out.len() {
                return Err(node.err(format!("axis {a} out of range")));
            }
            out.insert(a as usize, 1);
        }
        Ok(out)
    }
}
