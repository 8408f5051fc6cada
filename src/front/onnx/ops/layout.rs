//! Ops that only rename a tensor: the flattened batch-1 layout is unchanged,
//! so the output becomes another name for the input's value.

use crate::front::onnx::lower::{Ctx, Node, Operand};
use crate::front::onnx::model::ONNX_FLOAT;
use crate::Result;

/// Identity, Flatten, Squeeze, Unsqueeze: the shape tract inferred for the
/// output is all that changes.
pub fn alias(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let (x, _) = ctx.runtime(node, 0)?;
    ctx.alias(node, x)
}

/// The target shape must be known statically (a constant, or computed by
/// tract from constants and static shapes).
pub fn reshape(ctx: &mut Ctx, node: &Node) -> Result<()> {
    ctx.constant_i64(node, 1)?;
    alias(ctx, node)
}

/// The constant `ratio` input (opset 12+), if given.
fn dropout_ratio(ctx: &Ctx, node: &Node) -> Result<Option<f32>> {
    let Some(name) = node.input(1) else {
        return Ok(None);
    };
    match ctx.operand(node, name)? {
        Operand::Const(name, t) => Ok(ctx.to_f32(node, name, &t, false)?.data.first().copied()),
        Operand::Runtime { .. } => Err(node.err(format!("ratio `{name}` must be a constant"))),
    }
}

/// float to float only.
pub fn cast(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let to = node
        .attr_i64("to")?
        .ok_or_else(|| node.err("attribute `to` is missing"))?;
    // An integer value (ArgMax, class label) cast to int64/int32/float
    // stays the same integers.
    let integer = matches!(ctx.runtime(node, 0), Ok((id, _)) if ctx.graph.value(id).integer);
    if integer && [6, 7, ONNX_FLOAT as i64].contains(&to) {
        return alias(ctx, node);
    }
    if to != ONNX_FLOAT as i64 {
        let ty = tract_onnx::pb::tensor_proto::DataType::try_from(to as i32)
            .map(|d| d.as_str_name().to_owned())
            .unwrap_or_else(|_| to.to_string());
        return Err(node.err(format!(
            "cast to {ty} is not supported (float to float only)"
        )));
    }
    alias(ctx, node)
}

/// Inference mode (or training mode with ratio 0, which keeps every
/// element): Identity. Its mask output must not be used.
pub fn dropout(ctx: &mut Ctx, node: &Node) -> Result<()> {
    if let Some(name) = node.input(2) {
        let training = match ctx.operand(node, name)? {
            Operand::Const(_, t) => t.cast_to::<bool>().ok().and_then(|b| {
                b.to_plain_array_view::<bool>()
                    .ok()
                    .map(|v| v.iter().any(|x| *x))
            }),
            Operand::Runtime { .. } => None,
        };
        // Training mode with ratio 0 keeps every element: the identity,
        // as ONNX defines it. Any other ratio draws random masks.
        if training == Some(true) && dropout_ratio(ctx, node)? != Some(0.0) {
            return Err(node.err(format!(
                "training_mode `{name}` is true with a non-zero ratio (random masks); lfc compiles inference (training_mode false, or ratio 0)"
            )));
        }
        if training.is_none() {
            return Err(node.err(format!("training_mode `{name}` must be a constant")));
        }
    }
    alias(ctx, node)
}
