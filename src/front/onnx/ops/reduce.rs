//! ReduceMean and ReduceSum over constant axes: linear maps, one
//! [`OpKind::Dense`] of 0 and 1/n (or 1) weights; ReduceMax: an index map
//! and [`OpKind::GroupMax`].

use crate::front::onnx::lower::{Ctx, Node};
use crate::ir::OpKind;
use crate::Result;

use super::index::{axis, indices, strides};

/// The reduced axes: the `axes` input (ReduceSum from opset 13, the others
/// from 18) or attribute; none given means all, unless
/// `noop_with_empty_axes`.
pub(super) fn reduced_axes(
    ctx: &Ctx,
    node: &Node,
    rank: usize,
    input_from: i64,
) -> Result<Option<Vec<usize>>> {
    let raw = if ctx.opset() >= input_from {
        match node.input(1) {
            Some(_) => Some(ctx.constant_i64(node, 1)?),
            None => None,
        }
    } else {
        node.attr_ints("axes")?
    };
    let raw = match raw {
        Some(v) if !v.is_empty() => v,
        _ if node.attr_i64_or("noop_with_empty_axes", 0)? != 0 => return Ok(None),
        _ => (0..rank as i64).collect(),
    };
    let mut axes = raw
        .iter()
        .map(|&a| axis(node, a, rank, "axis"))
        .collect::<Result<Vec<_>>>()?;
    axes.sort_unstable();
    axes.dedup();
    Ok(Some(axes))
}

fn reduce(ctx: &mut Ctx, node: &Node, mean: bool, input_from: i64) -> Result<()> {
    let (x, shape) = ctx.runtime(node, 0)?;
    let Some(axes) = reduced_axes(ctx, node, shape.len(), input_from)? else {
        return ctx.alias(node, x);
    };
    let out_shape: Vec<usize> = shape
        .iter()
        .enumerate()
        .map(|(a, &d)| if axes.contains(&a) { 1 } else { d })
        .collect();
    let n_in: usize = shape.iter().product();
    let n_out: usize = out_shape.iter().product();
    let count: usize = axes.iter().map(|&a| shape[a]).product();
    let w = if mean { 1.0 / count as f32 } else { 1.0 };
    let (st_in, st_out) = (strides(&shape), strides(&out_shape));
    let mut weight = vec![0f32; n_out * n_in];
    for idx in indices(&shape) {
        let i: usize = idx.iter().zip(&st_in).map(|(a, b)| a * b).sum();
        let o: usize = idx
            .iter()
            .enumerate()
            .map(|(a, &v)| if axes.contains(&a) { 0 } else { v * st_out[a] })
            .sum();
        weight[o * n_in + i] = w;
    }
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

/// ReduceMax: the reduced axes moved innermost by an index map, then the
/// maximum of each group, in the source's own quantization (exact).
pub fn reduce_max(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let (x, shape) = ctx.runtime(node, 0)?;
    let Some(axes) = reduced_axes(ctx, node, shape.len(), 18)? else {
        return ctx.alias(node, x);
    };
    let axis_len: usize = axes.iter().map(|&a| shape[a]).product();
    if axis_len == 0 {
        return Err(node.err(format!("ReduceMax over an empty axis of shape {shape:?}")));
    }
    let g = super::index::grouped(ctx, node, x, &shape, &axes, false);
    let n_out = shape.iter().product::<usize>() / axis_len;
    ctx.emit(node, OpKind::GroupMax { axis_len }, vec![g], n_out)?;
    Ok(())
}

pub fn reduce_mean(ctx: &mut Ctx, node: &Node) -> Result<()> {
    reduce(ctx, node, true, 18)
}

pub fn reduce_sum(ctx: &mut Ctx, node: &Node) -> Result<()> {
    reduce(ctx, node, false, 13)
}
