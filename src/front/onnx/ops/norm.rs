//! BatchNormalization (inference form, any fixed batch N): a per-channel
//! affine map, which the graph folding (`ir::fold`) merges into a preceding
//! Gemm, MatMul or Conv. LayerNormalization: its own integer instruction
//! (`ir::layer_norm`).

use crate::front::onnx::lower::{Const, Ctx, Node, Operand};
use crate::ir::graph::LayerNormOut;
use crate::ir::OpKind;
use crate::Result;

fn per_channel(ctx: &Ctx, node: &Node, i: usize, what: &str, c: usize) -> Result<Const> {
    let name = node.required_input(i)?;
    let k = match ctx.operand(node, name)? {
        Operand::Const(name, t) => ctx.to_f32(node, name, &t, false)?,
        Operand::Runtime { .. } => {
            return Err(node.err(format!("{what} (`{name}`) must be a constant")))
        }
    };
    if k.data.len() != c {
        return Err(node.err(format!(
            "{what} (`{name}`) has {} values for {c} channels",
            k.data.len()
        )));
    }
    Ok(k)
}

/// `y = (x - mean) / sqrt(var + epsilon) * scale + B`, channel axis 1.
pub fn batch_normalization(ctx: &mut Ctx, node: &Node) -> Result<()> {
    if node.attr_i64_or("training_mode", 0)? != 0 {
        return Err(node.err("training_mode=1 is not supported (inference only)"));
    }
    if let Some(o) = node.extra_outputs().first() {
        return Err(node.err(format!(
            "output `{o}` (running statistics) is used; only inference BatchNormalization is supported"
        )));
    }
    let (x, shape) = ctx.runtime(node, 0)?;
    if shape.len() < 2 {
        return Err(node.err(format!("input of shape {shape:?}: lfc takes [N, C, ...]")));
    }
    let (n, c) = (shape[0], shape[1]);
    let eps = node.attr_f32_or("epsilon", 1e-5)?;
    let scale = per_channel(ctx, node, 1, "scale", c)?;
    let bias = per_channel(ctx, node, 2, "bias B", c)?;
    let mean = per_channel(ctx, node, 3, "input_mean", c)?;
    let var = per_channel(ctx, node, 4, "input_var", c)?;
    if let Some(ch) = var
        .data
        .iter()
        .position(|v| (*v as f64 + eps as f64) <= 0.0)
    {
        return Err(node.err(format!(
            "input_var + epsilon is not positive in channel {ch}"
        )));
    }
    let inner: usize = shape[2..].iter().product();
    let len = n * c * inner;
    let (mut s, mut o) = (Vec::with_capacity(len), Vec::with_capacity(len));
    // A fixed batch of N (the flattened tensor holds N samples): the same
    // per-channel map for each.
    for _ in 0..n {
        for ch in 0..c {
            let k = scale.data[ch] as f64 / (var.data[ch] as f64 + eps as f64).sqrt();
            let off = bias.data[ch] as f64 - mean.data[ch] as f64 * k;
            s.extend(std::iter::repeat_n(k as f32, inner));
            o.extend(std::iter::repeat_n(off as f32, inner));
        }
    }
    ctx.emit(
        node,
        OpKind::Affine {
            scale: s,
            offset: o,
        },
        vec![x],
        len,
    )?;
    Ok(())
}

/// `Scale` or `B` of a LayerNormalization, broadcast to the normalised
/// shape (`None` for an absent optional input).
fn over_group(
    ctx: &Ctx,
    node: &Node,
    i: usize,
    what: &str,
    norm: &[usize],
) -> Result<Option<Vec<f32>>> {
    let Some(name) = node.input(i) else {
        return Ok(None);
    };
    let k = match ctx.operand(node, name)? {
        Operand::Const(name, t) => ctx.to_f32(node, name, &t, false)?,
        Operand::Runtime { .. } => {
            return Err(node.err(format!("{what} (`{name}`) must be a constant")))
        }
    };
    super::arith::broadcast_to(&k, norm)
        .map(Some)
        .ok_or_else(|| {
            node.err(format!(
            "{what} (`{name}`) of shape {:?} does not broadcast to the normalised shape {norm:?}",
            k.shape
        ))
        })
}

/// `Y = (X - mean) / sqrt(var + epsilon) * Scale + B` over the axes from
/// `axis` on; the optional `Mean` output is a Dense of `1/n` weights and
/// `InvStdDev` a second layer normalisation op that writes
/// `1 / sqrt(var + epsilon)` per group.
pub fn layer_normalization(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let (x, shape) = ctx.runtime(node, 0)?;
    let rank = shape.len();
    let a = super::index::axis(node, node.attr_i64_or("axis", -1)?, rank, "axis")?;
    let norm = &shape[a..];
    let axis_len: usize = norm.iter().product();
    let len: usize = shape.iter().product();
    if axis_len == 0 {
        return Err(node.err(format!("normalises an empty axis of shape {shape:?}")));
    }
    let groups = len / axis_len;
    let epsilon = node.attr_f32_or("epsilon", 1e-5)?;
    if !(epsilon.is_finite() && epsilon >= 0.0) {
        return Err(node.err(format!("epsilon {epsilon} must be finite and not negative")));
    }
    let scale = over_group(ctx, node, 1, "Scale", norm)?
        .ok_or_else(|| node.err("input 1 (Scale) is required"))?;
    let bias = over_group(ctx, node, 2, "bias B", norm)?.unwrap_or_else(|| vec![0.0; axis_len]);
    let out = LayerNormOut::Normalized { scale, bias };
    ctx.emit(
        node,
        OpKind::LayerNorm {
            axis_len,
            epsilon,
            centred: true,
            denom: Default::default(),
            out,
        },
        vec![x],
        len,
    )?;
    let outs: Vec<String> = node.proto.output.clone();
    if let Some(mean) = outs.get(1).filter(|s| !s.is_empty()) {
        let mut weight = vec![0f32; groups * len];
        for g in 0..groups {
            weight[g * len + g * axis_len..g * len + (g + 1) * axis_len]
                .fill(1.0 / axis_len as f32);
        }
        let kind = OpKind::Dense {
            weight,
            bias: vec![0.0; groups],
        };
        ctx.emit_to(node, mean, kind, vec![x], groups)?;
    }
    if let Some(inv) = outs.get(2).filter(|s| !s.is_empty()) {
        let kind = OpKind::LayerNorm {
            axis_len,
            epsilon,
            centred: true,
            denom: Default::default(),
            out: LayerNormOut::InvStdDev,
        };
        ctx.emit_to(node, inv, kind, vec![x], groups)?;
    }
    Ok(())
}
