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

/// A runtime `[.., M, K]` times a constant `[.., K, N]` (numpy matmul:
/// a 1-D operand gains a unit axis that the result drops; the batch axes
/// broadcast): one Dense over the flattened runtime operand, each output
/// row reading the row of its own batch. Returns (weight, in, out).
fn batched_right(
    node: &Node,
    name: &str,
    shape: &[usize],
    c: &Const,
) -> Result<(Vec<f32>, usize, usize)> {
    let xs: Vec<usize> = match shape {
        [] => return Err(node.err("runtime operand is a scalar; MatMul needs rank >= 1")),
        [k] => vec![1, *k],
        s => s.to_vec(),
    };
    let cs: Vec<usize> = match c.shape.as_slice() {
        [] => {
            return Err(node.err(format!(
                "constant `{name}` is a scalar; MatMul needs rank >= 1"
            )))
        }
        [k] => vec![*k, 1],
        s => s.to_vec(),
    };
    let (m, k) = (xs[xs.len() - 2], xs[xs.len() - 1]);
    let (kk, n) = (cs[cs.len() - 2], cs[cs.len() - 1]);
    let (xb, cb) = (&xs[..xs.len() - 2], &cs[..cs.len() - 2]);
    let ob = super::arith::broadcast_shape(xb, cb).filter(|_| kk == k).ok_or_else(|| {
        node.err(format!(
            "constant `{name}` of shape {:?} cannot multiply a runtime tensor of shape {shape:?} (needs [.., {k}, N] with broadcastable batch axes)",
            c.shape
        ))
    })?;
    // The flat batch index of each operand for each output batch index.
    let flat = |b: &[usize], idx: &[usize]| -> usize {
        let pad = idx.len() - b.len();
        b.iter().enumerate().fold(0, |acc, (a, &d)| {
            acc * d + if d == 1 { 0 } else { idx[pad + a] }
        })
    };
    let x_batches: usize = xb.iter().product();
    let (n_in, n_out) = (x_batches * m * k, ob.iter().product::<usize>() * m * n);
    let mut w = vec![0f32; n_out * n_in];
    for (o, idx) in super::index::indices(&ob).iter().enumerate() {
        let (bx, bc) = (flat(xb, idx), flat(cb, idx));
        for r in 0..m {
            for j in 0..n {
                let row = ((o * m + r) * n + j) * n_in;
                for i in 0..k {
                    w[row + (bx * m + r) * k + i] = c.data[(bc * k + i) * n + j];
                }
            }
        }
    }
    Ok((w, n_in, n_out))
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
        // [.., M, K] x [.., K, N] (or [K]), batch axes broadcast
        (Operand::Runtime { id, shape }, Operand::Const(name, t)) => {
            let c = ctx.to_f32(node, name, &t, false)?;
            let (w, n_in, n_out) = batched_right(node, name, &shape, &c)?;
            (id, w, n_in, n_out)
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
