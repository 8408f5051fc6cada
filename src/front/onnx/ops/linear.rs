//! Gemm and MatMul with one constant operand: [`OpKind::Dense`].
//!
//! With batch 1 the runtime operand is a vector. Either it is the left
//! operand (a `[1, K]` row times a constant `[K, N]`) or the right one (a
//! constant `[M, K]` times a `[K, 1]` column); both are one Dense layer.

use super::arith::broadcast_to;
use crate::front::onnx::lower::{Const, Ctx, Node, Operand};
use crate::ir::OpKind;
use crate::Result;

/// A 2-D constant matrix, optionally transposed on read.
struct Matrix<'a> {
    c: &'a Const,
    trans: bool,
}

impl Matrix<'_> {
    fn rows(&self) -> usize {
        self.c.shape[if self.trans { 1 } else { 0 }]
    }
    fn cols(&self) -> usize {
        self.c.shape[if self.trans { 0 } else { 1 }]
    }
    fn at(&self, r: usize, col: usize) -> f32 {
        if self.trans {
            self.c.data[col * self.c.shape[1] + r]
        } else {
            self.c.data[r * self.c.shape[1] + col]
        }
    }
}

/// `Y = alpha * A' * B' + beta * C`.
pub fn gemm(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let alpha = node.attr_f32_or("alpha", 1.0)?;
    let beta = node.attr_f32_or("beta", 1.0)?;
    let trans_a = node.attr_i64_or("transA", 0)? != 0;
    let trans_b = node.attr_i64_or("transB", 0)? != 0;
    let a = ctx.operand(node, node.required_input(0)?)?;
    let b = ctx.operand(node, node.required_input(1)?)?;
    let two_d = |name: &str, shape: &[usize]| {
        if shape.len() == 2 {
            Ok(())
        } else {
            Err(node.err(format!(
                "`{name}` has shape {shape:?}; Gemm takes 2-D operands"
            )))
        }
    };
    // (weight [out][in], in_len, out_len, output shape)
    let (x, weight, k, out_shape) = match (a, b) {
        (Operand::Runtime { id, shape }, Operand::Const(name, t)) => {
            two_d(node.required_input(0)?, &shape)?;
            // A' is [1, K]: with one row, transposing A does not move data.
            let (m, k) = if trans_a {
                (shape[1], shape[0])
            } else {
                (shape[0], shape[1])
            };
            if m != 1 {
                return Err(node.err(format!(
                    "runtime operand A has {m} rows (shape {shape:?}, transA={}); lfc needs batch 1",
                    trans_a as u8
                )));
            }
            let c = ctx.to_f32(node, name, &t, false)?;
            two_d(name, &c.shape)?;
            let bm = Matrix {
                c: &c,
                trans: trans_b,
            };
            if bm.rows() != k {
                return Err(node.err(format!(
                    "inner dimensions differ: A' is [1, {k}], B' (`{name}`) is [{}, {}]",
                    bm.rows(),
                    bm.cols()
                )));
            }
            let n = bm.cols();
            let mut w = Vec::with_capacity(n * k);
            for j in 0..n {
                w.extend((0..k).map(|i| alpha * bm.at(i, j)));
            }
            (id, w, k, vec![1, n])
        }
        (Operand::Const(name, t), Operand::Runtime { id, shape }) => {
            two_d(node.required_input(1)?, &shape)?;
            let (k, n) = if trans_b {
                (shape[1], shape[0])
            } else {
                (shape[0], shape[1])
            };
            if n != 1 {
                return Err(node.err(format!(
                    "runtime operand B has {n} columns (shape {shape:?}, transB={}); lfc needs a single column",
                    trans_b as u8
                )));
            }
            let c = ctx.to_f32(node, name, &t, false)?;
            two_d(name, &c.shape)?;
            let am = Matrix {
                c: &c,
                trans: trans_a,
            };
            if am.cols() != k {
                return Err(node.err(format!(
                    "inner dimensions differ: A' (`{name}`) is [{}, {}], B' is [{k}, 1]",
                    am.rows(),
                    am.cols()
                )));
            }
            let m = am.rows();
            let mut w = Vec::with_capacity(m * k);
            for r in 0..m {
                w.extend((0..k).map(|i| alpha * am.at(r, i)));
            }
            (id, w, k, vec![m, 1])
        }
        (Operand::Runtime { .. }, Operand::Runtime { .. }) => {
            return Err(node.err("both A and B are runtime tensors; one must be a constant"))
        }
        (Operand::Const(..), Operand::Const(..)) => {
            return Err(node.err("both operands are constants but tract did not fold the node"))
        }
    };
    let out_len: usize = out_shape.iter().product();
    let bias = match node.input(2) {
        None => vec![0.0; out_len],
        Some(name) => {
            let c = match ctx.operand(node, name)? {
                Operand::Const(name, t) => ctx.to_f32(node, name, &t, false)?,
                Operand::Runtime { .. } => {
                    return Err(node.err(format!("bias C (`{name}`) must be a constant")))
                }
            };
            let c = broadcast_to(&c, &out_shape).ok_or_else(|| {
                node.err(format!(
                    "bias C (`{name}`) of shape {:?} does not broadcast to {out_shape:?}",
                    c.shape
                ))
            })?;
            c.iter().map(|v| beta * v).collect()
        }
    };
    debug_assert_eq!(weight.len(), out_len * k);
    ctx.emit(node, OpKind::Dense { weight, bias }, vec![x], out_len)?;
    Ok(())
}

/// MatMul of a runtime vector and a constant matrix, either side.
pub fn matmul(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let a = ctx.operand(node, node.required_input(0)?)?;
    let b = ctx.operand(node, node.required_input(1)?)?;
    let only_ones = |s: &[usize]| s.iter().all(|&d| d == 1);
    let (x, weight, n) = match (a, b) {
        // [..1.., K] x [K, N] (or [K])
        (Operand::Runtime { id, shape }, Operand::Const(name, t)) => {
            let c = ctx.to_f32(node, name, &t, false)?;
            let k = shape.last().copied().unwrap_or(1);
            if shape.is_empty() || !only_ones(&shape[..shape.len() - 1]) {
                return Err(node.err(format!(
                    "runtime operand of shape {shape:?}: lfc needs a vector ([K] or [1, K])"
                )));
            }
            let m = match c.shape.as_slice() {
                [kk] if *kk == k => Matrix { c: &Const { shape: vec![k, 1], data: c.data.clone() }, trans: false }.to_dense_t(),
                [kk, _] if *kk == k => Matrix { c: &c, trans: false }.to_dense_t(),
                s => {
                    return Err(node.err(format!(
                        "constant `{name}` of shape {s:?} cannot multiply a runtime vector of {k} (needs [{k}, N])"
                    )))
                }
            };
            (id, m.0, m.1)
        }
        // [M, K] x [K] (or [..1.., K, 1])
        (Operand::Const(name, t), Operand::Runtime { id, shape }) => {
            let c = ctx.to_f32(node, name, &t, false)?;
            let k = match shape.as_slice() {
                [k] => *k,
                [lead @ .., k, 1] if only_ones(lead) => *k,
                _ => {
                    return Err(node.err(format!(
                        "runtime operand of shape {shape:?}: lfc needs a column ([K] or [K, 1])"
                    )))
                }
            };
            match c.shape.as_slice() {
                [m, kk] if *kk == k => (id, c.data.clone(), *m),
                s => {
                    return Err(node.err(format!(
                        "constant `{name}` of shape {s:?} cannot multiply a runtime column of {k} (needs [M, {k}])"
                    )))
                }
            }
        }
        (Operand::Runtime { .. }, Operand::Runtime { .. }) => {
            return Err(node.err("both operands are runtime tensors; one must be a constant"))
        }
        (Operand::Const(..), Operand::Const(..)) => {
            return Err(node.err("both operands are constants but tract did not fold the node"))
        }
    };
    ctx.emit(
        node,
        OpKind::Dense {
            weight,
            bias: vec![0.0; n],
        },
        vec![x],
        n,
    )?;
    Ok(())
}

impl Matrix<'_> {
    /// The matrix `[K, N]` as Dense weights `[N][K]`, and N.
    fn to_dense_t(&self) -> (Vec<f32>, usize) {
        let (k, n) = (self.rows(), self.cols());
        let mut w = Vec::with_capacity(n * k);
        for j in 0..n {
            w.extend((0..k).map(|i| self.at(i, j)));
        }
        (w, n)
    }
}
