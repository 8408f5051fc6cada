//! Nonlinear unary functions beyond Tanh and Sigmoid: each becomes one
//! [`Activation::Table`], a lookup table built and measured by
//! `quant/lut.rs` (the one table mechanism).

use crate::front::onnx::lower::{Ctx, Node};
use crate::ir::{Activation, LutFunc, OpKind};
use crate::Result;

fn table(ctx: &mut Ctx, node: &Node, func: LutFunc) -> Result<()> {
    let (x, shape) = ctx.runtime(node, 0)?;
    ctx.emit(
        node,
        OpKind::Activation(Activation::Table(func)),
        vec![x],
        shape.iter().product(),
    )?;
    Ok(())
}

pub fn exp(ctx: &mut Ctx, node: &Node) -> Result<()> {
    table(ctx, node, LutFunc::Exponential)
}

pub fn log(ctx: &mut Ctx, node: &Node) -> Result<()> {
    table(ctx, node, LutFunc::Log)
}

pub fn elu(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let alpha = node.attr_f32_or("alpha", 1.0)?.to_bits();
    table(ctx, node, LutFunc::Elu { alpha })
}

pub fn selu(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let alpha = node.attr_f32_or("alpha", 1.673_263_2)?.to_bits();
    let gamma = node.attr_f32_or("gamma", 1.050_701)?.to_bits();
    table(ctx, node, LutFunc::Selu { alpha, gamma })
}

pub fn softplus(ctx: &mut Ctx, node: &Node) -> Result<()> {
    table(ctx, node, LutFunc::Softplus)
}

pub fn softsign(ctx: &mut Ctx, node: &Node) -> Result<()> {
    table(ctx, node, LutFunc::Softsign)
}

pub fn erf(ctx: &mut Ctx, node: &Node) -> Result<()> {
    table(ctx, node, LutFunc::Erf)
}

/// Opset 20 Gelu: `approximate` is "none" (the erf form) or "tanh".
pub fn gelu(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let func = match node.attr_str("approximate")?.as_deref() {
        None | Some("none") => LutFunc::Gelu,
        Some("tanh") => LutFunc::GeluTanh,
        Some(other) => {
            return Err(node.err(format!(
                "approximate `{other}` is not an ONNX value (none, tanh)"
            )))
        }
    };
    table(ctx, node, func)
}

/// HardSwish: `x * max(0, min(1, x / 6 + 1 / 2))`.
pub fn hard_swish(ctx: &mut Ctx, node: &Node) -> Result<()> {
    table(ctx, node, LutFunc::HardSwish)
}
