//! Add, Sub, Mul: with a constant operand an [`OpKind::Affine`], between two
//! runtime tensors of one shape an [`OpKind::Binary`].

use crate::front::onnx::lower::{Const, Ctx, Node, Operand};
use crate::ir::concat::Block;
use crate::ir::{BinaryOp, OpKind, ValueId};
use crate::Result;

/// numpy broadcasting of two shapes; `None` when incompatible.
pub(super) fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    let dim = |s: &[usize], i: usize| {
        let pad = rank - s.len();
        if i < pad {
            1
        } else {
            s[i - pad]
        }
    };
    (0..rank)
        .map(|i| match (dim(a, i), dim(b, i)) {
            (x, y) if x == y => Some(x),
            (1, y) => Some(y),
            (x, 1) => Some(x),
            _ => None,
        })
        .collect()
}

/// `c` broadcast (numpy rules) to `target`, row-major; `None` if it does
/// not broadcast there.
pub(super) fn broadcast_to(c: &Const, target: &[usize]) -> Option<Vec<f32>> {
    if c.shape.len() > target.len() {
        // leading size-1 axes of the constant may be dropped
        let extra = c.shape.len() - target.len();
        if c.shape[..extra].iter().any(|&d| d != 1) {
            return None;
        }
        let c = Const {
            shape: c.shape[extra..].to_vec(),
            data: c.data.clone(),
        };
        return broadcast_to(&c, target);
    }
    let pad = target.len() - c.shape.len();
    let shape: Vec<usize> = std::iter::repeat_n(1, pad)
        .chain(c.shape.iter().copied())
        .collect();
    if shape.iter().zip(target).any(|(&s, &t)| s != t && s != 1) {
        return None;
    }
    // row-major strides of the constant, 0 on broadcast axes
    let mut strides = vec![0usize; shape.len()];
    let mut acc = 1;
    for i in (0..shape.len()).rev() {
        strides[i] = if shape[i] == 1 { 0 } else { acc };
        acc *= shape[i];
    }
    let len: usize = target.iter().product();
    let mut out = Vec::with_capacity(len);
    let mut index = vec![0usize; target.len()];
    for _ in 0..len {
        out.push(
            c.data[index
                .iter()
                .zip(&strides)
                .map(|(i, s)| i * s)
                .sum::<usize>()],
        );
        for axis in (0..target.len()).rev() {
            index[axis] += 1;
            if index[axis] < target[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
    Some(out)
}

fn elementwise(ctx: &mut Ctx, node: &Node, op: BinaryOp) -> Result<()> {
    let a = ctx.operand(node, node.required_input(0)?)?;
    let b = ctx.operand(node, node.required_input(1)?)?;
    match (a, b) {
        (Operand::Runtime { id: x, shape: sx }, Operand::Runtime { id: y, shape: sy }) => {
            let out = broadcast_shape(&sx, &sy).ok_or_else(|| {
                node.err(format!(
                    "runtime operands of shapes {sx:?} and {sy:?} do not broadcast"
                ))
            })?;
            let x = broadcast_runtime(ctx, node, 0, x, &sx, &out);
            let y = broadcast_runtime(ctx, node, 1, y, &sy, &out);
            ctx.emit(
                node,
                OpKind::Binary { op },
                vec![x, y],
                out.iter().product(),
            )?;
            Ok(())
        }
        (Operand::Runtime { id, shape }, Operand::Const(name, t)) => {
            let c = ctx.to_f32(node, name, &t, false)?;
            affine(ctx, node, op, id, &shape, name, &c, false)
        }
        (Operand::Const(name, t), Operand::Runtime { id, shape }) => {
            let c = ctx.to_f32(node, name, &t, false)?;
            affine(ctx, node, op, id, &shape, name, &c, true)
        }
        (Operand::Const(..), Operand::Const(..)) => {
            Err(node.err("both operands are constants but tract did not fold the node"))
        }
    }
}

/// A runtime operand of `shape` broadcast to `target` (numpy rules, already
/// checked): itself, or an index map repeating its elements.
fn broadcast_runtime(
    ctx: &mut Ctx,
    node: &Node,
    i: usize,
    x: crate::ir::ValueId,
    shape: &[usize],
    target: &[usize],
) -> crate::ir::ValueId {
    let len: usize = shape.iter().product();
    if len == target.iter().product::<usize>() {
        return x;
    }
    let pos = Const {
        shape: shape.to_vec(),
        data: (0..len).map(|k| k as f32).collect(),
    };
    let map = broadcast_to(&pos, target)
        .expect("broadcast checked")
        .iter()
        .map(|&k| k as usize)
        .collect::<Vec<_>>();
    let n = map.len();
    let name = format!("{}_broadcast{i}", node.name);
    ctx.emit_internal(node, &name, OpKind::Gather { map }, vec![x], n)
}

/// `x op c` (or `c op x` when `const_first`) as `x * scale + offset`.
#[allow(clippy::too_many_arguments)]
fn affine(
    ctx: &mut Ctx,
    node: &Node,
    op: BinaryOp,
    x: crate::ir::ValueId,
    shape: &[usize],
    name: &str,
    c: &Const,
    const_first: bool,
) -> Result<()> {
    let out_shape = broadcast_shape(shape, &c.shape);
    let len: usize = shape.iter().product();
    let values = match out_shape {
        Some(out) if out.iter().product::<usize>() == len => broadcast_to(c, &out),
        _ => None,
    }
    .ok_or_else(|| {
        node.err(format!(
            "constant `{name}` of shape {:?} does not broadcast to the runtime operand's shape {shape:?} (the result may not be larger than the runtime tensor)",
            c.shape
        ))
    })?;
    let (scale, offset) = match (op, const_first) {
        (BinaryOp::Add, _) => (vec![1.0; len], values),
        (BinaryOp::Sub, false) => (vec![1.0; len], values.iter().map(|v| -v).collect()),
        (BinaryOp::Sub, true) => (vec![-1.0; len], values),
        (BinaryOp::Mul, _) => (values, vec![0.0; len]),
    };
    ctx.emit(node, OpKind::Affine { scale, offset }, vec![x], len)?;
    Ok(())
}

pub fn add(ctx: &mut Ctx, node: &Node) -> Result<()> {
    elementwise(ctx, node, BinaryOp::Add)
}

pub fn sub(ctx: &mut Ctx, node: &Node) -> Result<()> {
    elementwise(ctx, node, BinaryOp::Sub)
}

pub fn mul(ctx: &mut Ctx, node: &Node) -> Result<()> {
    elementwise(ctx, node, BinaryOp::Mul)
}

/// `x / c` with a constant divisor: `x * (1 / c)`, an Affine. A runtime
/// divisor only as Softmax's function body ([`super::pattern`]).
pub fn div(ctx: &mut Ctx, node: &Node) -> Result<()> {
    if super::pattern::softmax_body(ctx, node)? {
        return Ok(());
    }
    let a = ctx.operand(node, node.required_input(0)?)?;
    let b = ctx.operand(node, node.required_input(1)?)?;
    match (a, b) {
        (Operand::Runtime { id, shape }, Operand::Const(name, t)) => {
            let mut c = ctx.to_f32(node, name, &t, false)?;
            if let Some(i) = c.data.iter().position(|v| *v == 0.0) {
                return Err(node.err(format!("divisor `{name}` is 0 at index {i}")));
            }
            c.data.iter_mut().for_each(|v| *v = 1.0 / *v);
            affine(ctx, node, BinaryOp::Mul, id, &shape, name, &c, false)
        }
        (_, Operand::Runtime { .. }) => {
            Err(node.err("the divisor is a runtime tensor; lfc divides by constants only (and lowers Softmax's function body, ReduceMax/Sub/Exp/ReduceSum/Div over one axis, as Softmax)"))
        }
        (Operand::Const(..), Operand::Const(..)) => {
            Err(node.err("both operands are constants but tract did not fold the node"))
        }
    }
}

/// Largest integer exponent [`pow`] multiplies out.
const MAX_POW: i64 = 16;

/// `x ^ p` for constant exponents that are integers in `0..=MAX_POW`
/// (broadcast to `x`, one per element or one for all): the powers
/// `x^2 .. x^max` by a chain of exact-rounded multiplications, then each
/// element taken from its own power by a block copy (`x^0` = 1).
pub fn pow(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let (x, shape) = ctx.runtime(node, 0)?;
    let name = node.required_input(1)?;
    let p = match ctx.operand(node, name)? {
        Operand::Const(name, t) => ctx.to_f32(node, name, &t, false)?,
        Operand::Runtime { .. } => {
            return Err(node.err(format!("exponent `{name}` must be a constant")))
        }
    };
    let len: usize = shape.iter().product();
    let exps = broadcast_to(&p, &shape)
        .filter(|e| e.len() == len)
        .ok_or_else(|| {
            node.err(format!(
                "exponent `{name}` of shape {:?} does not broadcast to the base's shape {shape:?}",
                p.shape
            ))
        })?;
    let exps: Vec<i64> = exps
        .iter()
        .map(|&e| {
            if e.fract() == 0.0 && (0.0..=MAX_POW as f32).contains(&e) {
                Ok(e as i64)
            } else {
                Err(node.err(format!(
                    "exponent `{name}` holds {e}; lfc raises to constant integer powers 0..={MAX_POW} only"
                )))
            }
        })
        .collect::<Result<_>>()?;
    let top = exps.iter().copied().max().unwrap_or(0);
    let uniform = exps.iter().all(|&e| e == top);
    if uniform && top == 1 {
        return ctx.alias(node, x);
    }
    if uniform && top == 0 {
        return Err(node.err("every exponent is 0: the output is the constant 1"));
    }
    let out = node.output()?.to_owned();
    // powers[k - 1] = x^k
    let mut powers = vec![x];
    for k in 2..=top {
        let prev = *powers.last().unwrap();
        let mul = OpKind::Binary { op: BinaryOp::Mul };
        let v = if uniform && k == top {
            ctx.emit(node, mul, vec![prev, x], len)?
        } else {
            ctx.emit_internal(node, &format!("{out}_pow{k}"), mul, vec![prev, x], len)
        };
        powers.push(v);
    }
    if uniform {
        return Ok(());
    }
    // Each element from its own power; runs of one power are one block.
    let mut inputs: Vec<ValueId> = Vec::new();
    let mut blocks: Vec<(Option<usize>, Block)> = Vec::new();
    let mut zeros = 0;
    for (i, &e) in exps.iter().enumerate() {
        let src = if e == 0 {
            None
        } else {
            let v = powers[e as usize - 1];
            Some(inputs.iter().position(|&u| u == v).unwrap_or_else(|| {
                inputs.push(v);
                inputs.len() - 1
            }))
        };
        let from = if src.is_none() { zeros } else { i };
        zeros += src.is_none() as usize;
        match blocks.last_mut() {
            Some((s, b)) if *s == src && b.from + b.len == from && b.at + b.len == i => b.len += 1,
            _ => blocks.push((
                src,
                Block {
                    from,
                    at: i,
                    len: 1,
                },
            )),
        }
    }
    let consts = vec![1.0; zeros];
    ctx.emit(node, OpKind::Concat { blocks, consts }, inputs, len)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasts_rows_and_columns() {
        let c = Const {
            shape: vec![3],
            data: vec![1.0, 2.0, 3.0],
        };
        assert_eq!(
            broadcast_to(&c, &[2, 3]).unwrap(),
            vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0]
        );
        let col = Const {
            shape: vec![2, 1],
            data: vec![1.0, 2.0],
        };
        assert_eq!(
            broadcast_to(&col, &[2, 3]).unwrap(),
            vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0]
        );
        let lead = Const {
            shape: vec![1, 1, 3],
            data: vec![4.0, 5.0, 6.0],
        };
        assert_eq!(broadcast_to(&lead, &[3]).unwrap(), vec![4.0, 5.0, 6.0]);
        assert!(broadcast_to(&c, &[4]).is_none());
        assert_eq!(broadcast_shape(&[1, 4], &[4]), Some(vec![1, 4]));
        assert_eq!(broadcast_shape(&[1, 4], &[3, 1]), Some(vec![3, 4]));
        assert_eq!(broadcast_shape(&[2], &[3]), None);
    }
}
