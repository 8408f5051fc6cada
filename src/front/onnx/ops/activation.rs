//! Element-wise activations and Softmax.

use crate::front::onnx::lower::{Ctx, Node, Operand};
use crate::ir::{Activation, OpKind};
use crate::Result;

fn activation(ctx: &mut Ctx, node: &Node, act: Activation) -> Result<()> {
    let (x, shape) = ctx.runtime(node, 0)?;
    ctx.emit(
        node,
        OpKind::Activation(act),
        vec![x],
        shape.iter().product(),
    )?;
    Ok(())
}

pub fn relu(ctx: &mut Ctx, node: &Node) -> Result<()> {
    activation(ctx, node, Activation::Relu)
}

pub fn tanh(ctx: &mut Ctx, node: &Node) -> Result<()> {
    activation(ctx, node, Activation::Tanh)
}

pub fn sigmoid(ctx: &mut Ctx, node: &Node) -> Result<()> {
    activation(ctx, node, Activation::Sigmoid)
}

pub fn leaky_relu(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let alpha = node.attr_f32_or("alpha", 0.01)?;
    activation(ctx, node, Activation::LeakyRelu { alpha })
}

/// PRelu with a constant slope (broadcast to the input, per element).
pub fn prelu(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let (x, shape) = ctx.runtime(node, 0)?;
    let name = node.required_input(1)?;
    let Operand::Const(name, t) = ctx.operand(node, name)? else {
        return Err(node.err(format!("slope `{name}` must be a constant")));
    };
    let c = ctx.to_f32(node, name, &t, false)?;
    let slope = super::arith::broadcast_to(&c, &shape).ok_or_else(|| {
        node.err(format!(
            "slope `{name}` of shape {:?} does not broadcast to the input {shape:?}",
            c.shape
        ))
    })?;
    let len = slope.len();
    ctx.emit(node, OpKind::PRelu { slope }, vec![x], len)?;
    Ok(())
}

pub fn hard_sigmoid(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let alpha = node.attr_f32_or("alpha", 0.2)?;
    let beta = node.attr_f32_or("beta", 0.5)?;
    activation(ctx, node, Activation::HardSigmoid { alpha, beta })
}

/// Bounds come from attributes before opset 11 and from optional constant
/// scalar inputs from opset 11 on; an absent bound is unbounded.
pub fn clip(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let (min, max) = if ctx.opset() != 0 && ctx.opset() < 11 {
        (
            node.attr_f32("min")?.unwrap_or(f32::NEG_INFINITY),
            node.attr_f32("max")?.unwrap_or(f32::INFINITY),
        )
    } else {
        (
            bound(ctx, node, 1, f32::NEG_INFINITY)?,
            bound(ctx, node, 2, f32::INFINITY)?,
        )
    };
    if min.is_nan() || max.is_nan() {
        return Err(node.err("a bound is NaN"));
    }
    // ONNX (and numpy.clip): with min > max every output is max.
    let min = min.min(max);
    activation(ctx, node, Activation::Clip { min, max })
}

fn bound(ctx: &Ctx, node: &Node, i: usize, absent: f32) -> Result<f32> {
    let Some(name) = node.input(i) else {
        return Ok(absent);
    };
    match ctx.operand(node, name)? {
        Operand::Const(name, t) => {
            let c = ctx.to_f32(node, name, &t, true)?;
            match c.data.as_slice() {
                [v] => Ok(*v),
                _ => Err(node.err(format!(
                    "bound `{name}` must be a scalar, it has shape {:?}",
                    c.shape
                ))),
            }
        }
        Operand::Runtime { .. } => Err(node.err(format!(
            "bound `{name}` is a runtime tensor; only constant bounds are supported"
        ))),
    }
}

/// Softmax over consecutive groups. Before opset 13 the input is coerced to
/// 2-D at `axis` (default 1), so any axis gives groups of
/// `prod(shape[axis..])`; from 13 on it is one axis (default -1), which is a
/// group of consecutive elements only when every later axis has size 1.
pub fn softmax(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let (x, shape) = ctx.runtime(node, 0)?;
    let legacy = ctx.opset() != 0 && ctx.opset() < 13;
    let axis = node.attr_i64_or("axis", if legacy { 1 } else { -1 })?;
    let rank = shape.len() as i64;
    let norm = if axis < 0 { axis + rank } else { axis };
    if norm < 0 || norm >= rank.max(1) {
        return Err(node.err(format!("axis {axis} is out of range for shape {shape:?}")));
    }
    softmax_over(ctx, node, x, &shape, norm as usize, legacy)
}

/// Softmax of `x` over axis `norm` of `shape` (`legacy`: the opset < 13
/// flattening of every axis from `norm` on), writing the node's output.
pub(super) fn softmax_over(
    ctx: &mut Ctx,
    node: &Node,
    x: crate::ir::ValueId,
    shape: &[usize],
    norm: usize,
    legacy: bool,
) -> Result<()> {
    let len = shape.iter().product();
    if legacy || shape[norm + 1..].iter().product::<usize>() == 1 {
        let axis_len = if legacy {
            shape[norm..].iter().product()
        } else {
            shape.get(norm).copied().unwrap_or(1)
        };
        ctx.emit(node, OpKind::Softmax { axis_len }, vec![x], len)?;
        return Ok(());
    }
    // Another axis: moved innermost by an index map, and back after.
    let map = super::index::group_map(shape, &[norm]);
    let name = node.output()?;
    let g = ctx.emit_internal(
        node,
        &format!("{name}_grouped"),
        OpKind::Gather { map: map.clone() },
        vec![x],
        len,
    );
    let axis_len = shape[norm];
    let p = ctx.emit_internal(
        node,
        &format!("{name}_grouped_softmax"),
        OpKind::Softmax { axis_len },
        vec![g],
        len,
    );
    let back = super::index::inverse(&map);
    ctx.emit(node, OpKind::Gather { map: back }, vec![p], len)?;
    Ok(())
}
