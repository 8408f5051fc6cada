//! Gemm and MatMul with one constant operand: [`OpKind::Dense`].
//!
//! The runtime operand is a fixed-size matrix (batch 1 makes it a vector in
//! the common case). Either it is the left operand (`[M, K]` times a
//! constant `[K, N]`) or the right one (a constant `[M, K]` times
//! `[K, N]`); both are one Dense layer over the flattened operand, with the
//! constant matrix repeated block-wise (the zero weights cost nothing in
//! straight-line code).

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
            let (m, k) = if trans_a {
                (shape[1], shape[0])
            } else {
                (shape[0], shape[1])
            };
            let c = ctx.to_f32(node, name, &t, false)?;
            two_d(name, &c.shape)?;
            let bm = Matrix {
                c: &c,
                trans: trans_b,
            };
            if bm.rows() != k {
                return Err(node.err(format!(
                    "inner dimensions differ: A' is [{m}, {k}], B' (`{name}`) is [{}, {}]",
                    bm.rows(),
                    bm.cols()
                )));
            }
            let n = bm.cols();
            // Y[r][j] reads A'[r][i], stored at r*K+i (or i*M+r transposed).
            let at = |r: usize, i: usize| if trans_a { i * m + r } else { r * k + i };
            let mut w = vec![0f32; m * n * m * k];
            for r in 0..m {
                for j in 0..n {
                    let row = (r * n + j) * m * k;
                    for i in 0..k {
                        w[row + at(r, i)] = alpha * bm.at(i, j);
                    }
                }
            }
            (id, w, m * k, vec![m, n])
        }
        (Operand::Const(name, t), Operand::Runtime { id, shape }) => {
            two_d(node.required_input(1)?, &shape)?;
            let (k, n) = if trans_b {
                (shape[1], shape[0])
            } else {
                (shape[0], shape[1])
            };
            let c = ctx.to_f32(node, name, &t, false)?;
            two_d(name, &c.shape)?;
            let am = Matrix {
                c: &c,
                trans: trans_a,
            };
            if am.cols() != k {
                return Err(node.err(format!(
                    "inner dimensions differ: A' (`{name}`) is [{}, {}], B' is [{k}, {n}]",
                    am.rows(),
                    am.cols()
                )));
            }
            let m = am.rows();
            // Y[r][j] reads B'[i][j], stored at i*N+j (or j*K+i transposed).
            let at = |i: usize, j: usize| if trans_b { j * k + i } else { i * n + j };
            let mut w = vec![0f32; m * n * k * n];
            for r in 0..m {
                for j in 0..n {
                    let row = (r * n + j) * k * n;
                    for i in 0..k {
                        w[row + at(i, j)] = alpha * am.at(r, i);
                    }
                }
            }
            (id, w, k * n, vec![m, n])
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

/// MatMul of a runtime tensor and a constant matrix, either side: each row
/// (`[.., M, K] x [K, N]`) or each column block (`[M, K] x [.., K, N]`) of
/// the runtime operand is multiplied by the same constant.
pub fn matmul(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let a = ctx.operand(node, node.required_input(0)?)?;
    let b = ctx.operand(node, node.required_input(1)?)?;
    let (x, weight, n_in, n_out) = match (a, b) {
        // [.., K] x [K, N] (or [K])
        (Operand::Runtime { id, shape }, Operand::Const(name, t)) => {
            let c = ctx.to_f32(node, name, &t, false)?;
            let Some(&k) = shape.last() else {
                return Err(node.err("runtime operand is a scalar; MatMul needs rank >= 1"));
            };
            let rows: usize = shape[..shape.len() - 1].iter().product();
            let (wt, n) = match c.shape.as_slice() {
                [kk] if *kk == k => Matrix { c: &Const { shape: vec![k, 1], data: c.data.clone() }, trans: false }.to_dense_t(),
                [kk, _] if *kk == k => Matrix { c: &c, trans: false }.to_dense_t(),
                s => {
                    return Err(node.err(format!(
                        "constant `{name}` of shape {s:?} cannot multiply a runtime tensor of shape {shape:?} (needs [{k}, N])"
                    )))
                }
            };
            // Block-diagonal: row r of the output reads row r of the input.
            let mut w = vec![0f32; rows * n * rows * k];
            for r in 0..rows {
                for j in 0..n {
                    let dst = (r * n + j) * rows * k + r * k;
                    w[dst..dst + k].copy_from_slice(&wt[j * k..(j + 1) * k]);
                }
            }
            (id, w, rows * k, rows * n)
        }
        // [M, K] x [.., K, N] (or [K])
        (Operand::Const(name, t), Operand::Runtime { id, shape }) => {
            let c = ctx.to_f32(node, name, &t, false)?;
            let (batch, k, n) = match shape.as_slice() {
                [k] => (1, *k, 1),
                [lead @ .., k, n] => (lead.iter().product(), *k, *n),
                [] => return Err(node.err("runtime operand is a scalar; MatMul needs rank >= 1")),
            };
            let m = match c.shape.as_slice() {
                [m, kk] if *kk == k => *m,
                s => {
                    return Err(node.err(format!(
                        "constant `{name}` of shape {s:?} cannot multiply a runtime tensor of shape {shape:?} (needs [M, {k}])"
                    )))
                }
            };
            let (n_in, n_out) = (batch * k * n, batch * m * n);
            let mut w = vec![0f32; n_out * n_in];
            for bi in 0..batch {
                for r in 0..m {
                    for j in 0..n {
                        let row = (bi * m * n + r * n + j) * n_in;
                        for i in 0..k {
                            w[row + bi * k * n + i * n + j] = c.data[r * k + i];
                        }
                    }
                }
            }
            (id, w, n_in, n_out)
        }
        (Operand::Runtime { .. }, Operand::Runtime { .. }) => {
            return Err(node.err("both operands are runtime tensors; one must be a constant"))
        }
        (Operand::Const(..), Operand::Const(..)) => {
            return Err(node.err("both operands are constants but tract did not fold the node"))
        }
    };
    debug_assert_eq!(weight.len(), n_in * n_out);
    ctx.emit(
        node,
        OpKind::Dense {
            weight,
            bias: vec![0.0; n_out],
        },
        vec![x],
        n_out,
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
