//! BatchNormalization (inference form, any fixed batch N): a per-channel
//! affine map, which the graph folding (`ir::fold`) merges into a preceding
//! Gemm, MatMul or Conv.

use crate::front::onnx::lower::{Const, Ctx, Node, Operand};
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
