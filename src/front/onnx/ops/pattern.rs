//! Op patterns recognised as one op: Softmax's ONNX function body
//! (`ReduceMax → Sub → Exp → ReduceSum → Div`, the `_expanded` form
//! exporters and the ONNX node tests write) is lowered as the Softmax it
//! defines. Lowered op by op it would divide by a runtime sum: sound
//! interval bounds cannot see that `x - max(x) <= 0` or that each term is
//! part of the sum, so the quotient's range (and its scale) would be
//! orders of magnitude too wide.

use super::activation::softmax_over;
use super::reduce::reduced_axes;
use crate::front::onnx::lower::{Ctx, Node, Operand};
use crate::Result;
use tract_onnx::pb;

/// The node that writes `name`, and its index (for its message name).
fn producer<'m>(ctx: &Ctx<'m>, name: &str) -> Option<(usize, &'m pb::NodeProto)> {
    ctx.model
        .graph()
        .node
        .iter()
        .enumerate()
        .find(|(_, n)| n.output.iter().any(|o| o == name))
}

/// How many nodes read `name`.
fn readers(ctx: &Ctx, name: &str) -> usize {
    ctx.model
        .graph()
        .node
        .iter()
        .filter(|n| n.input.iter().any(|i| i == name))
        .count()
}

/// The one reduced axis of a ReduceMax/ReduceSum node with `keepdims` 1.
fn one_axis(ctx: &Ctx, index: usize, proto: &pb::NodeProto, rank: usize) -> Option<usize> {
    let node = Node {
        proto,
        name: format!("{}#{index}", proto.op_type),
    };
    if node.attr_i64_or("keepdims", 1).ok()? != 1 {
        return None;
    }
    let from = if proto.op_type == "ReduceSum" { 13 } else { 18 };
    match reduced_axes(ctx, &node, rank, from).ok()??.as_slice() {
        [a] => Some(*a),
        _ => None,
    }
}

/// `Div(Exp(Sub(x, ReduceMax(x, a))), ReduceSum(Exp(..), a))`, keepdims 1,
/// one axis `a`, each intermediate read only inside the pattern: lowered
/// as `Softmax(x, axis = a)`. `Ok(false)` when `node` is not that Div.
pub fn softmax_body(ctx: &mut Ctx, node: &Node) -> Result<bool> {
    let (Some(num), Some(den)) = (node.input(0), node.input(1)) else {
        return Ok(false);
    };
    let Some((si, sum)) = producer(ctx, den) else {
        return Ok(false);
    };
    let Some((_, exp)) = producer(ctx, num) else {
        return Ok(false);
    };
    if sum.op_type != "ReduceSum" || sum.input.first().map(String::as_str) != Some(num) {
        return Ok(false);
    }
    let Some(sub_out) = exp.input.first().filter(|_| exp.op_type == "Exp") else {
        return Ok(false);
    };
    let Some((_, sub)) = producer(ctx, sub_out) else {
        return Ok(false);
    };
    let (Some(x), Some(m)) = (sub.input.first(), sub.input.get(1)) else {
        return Ok(false);
    };
    let Some((mi, max)) = producer(ctx, m) else {
        return Ok(false);
    };
    if sub.op_type != "Sub" || max.op_type != "ReduceMax" || max.input.first() != Some(x) {
        return Ok(false);
    }
    let Ok(Operand::Runtime { id, shape }) = ctx.operand(node, x) else {
        return Ok(false);
    };
    let rank = shape.len();
    let (Some(a), Some(b)) = (one_axis(ctx, mi, max, rank), one_axis(ctx, si, sum, rank)) else {
        return Ok(false);
    };
    // Only this Div reads the body's values (else they are needed as such).
    let private = readers(ctx, m) == 1
        && readers(ctx, sub_out) == 1
        && readers(ctx, num) == 2
        && readers(ctx, den) == 1
        && !ctx
            .model
            .io
            .outputs
            .iter()
            .any(|o| [m, sub_out, num, den].contains(&o.as_str()));
    if a != b || !private {
        return Ok(false);
    }
    softmax_over(ctx, node, id, &shape, a, false)?;
    Ok(true)
}
