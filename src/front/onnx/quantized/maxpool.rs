//! MaxPool of quantized tensors, in the two shapes onnxruntime's
//! `quantize_static` emits: QDQ (`DQ -> MaxPool -> Q`, the Q with the
//! DequantizeLinear's scale and zero point) and QOperator (MaxPool on the
//! int8/uint8 tensor itself, opset 12 and later).
//!
//! The maximum commutes with the monotone map `q -> (q - zp) * scale`
//! (scale > 0; float32 rounding of it is monotone too), so the maximum of
//! the integers is the integer of onnxruntime's float maximum: the op is a
//! [`QOpKind::GroupMax`] in the source's type. A Q with other parameters
//! then requantizes that maximum by the exact table Concat uses (an
//! identity [`QOpKind::Unary`], dequantize and quantize per integer).

use super::{Pending, Sym, Walk};
use crate::front::onnx::lower::Node;
use crate::front::onnx::ops::{pool_kernel, Window};
use crate::ir::qgraph::{QOp, QOpKind, QType};
use crate::ir::LutFunc;
use crate::Result;

/// The window map and output shape of a MaxPool over `[1, C, spatial..]`.
fn windows(node: &Node, shape: &[usize]) -> Result<(QOpKind, Vec<usize>)> {
    if !(3..=5).contains(&shape.len()) || shape[0] != 1 {
        return Err(node.err(format!(
            "input of shape {shape:?}: lfc takes [1, C, L], [1, C, H, W] or [1, C, D, H, W]"
        )));
    }
    if let Some(extra) = node.extra_outputs().first() {
        return Err(node.err(format!(
            "output `{extra}` (the Indices of the maxima) is used; lfc answers the values only"
        )));
    }
    let (c, spatial) = (shape[1], &shape[2..]);
    let win = Window::read(node, spatial, pool_kernel(node, spatial)?)?;
    let map = win.max_map(node, c)?;
    let axis_len = map.len() / (c * win.out_len()).max(1);
    let out = [1, c].into_iter().chain(win.output.clone()).collect();
    Ok((QOpKind::GroupMax { map, axis_len }, out))
}

/// MaxPool: on a DequantizeLinear output (QDQ, pending until its Q), or
/// on a quantized tensor directly (QOperator: the output keeps its type).
pub(super) fn max_pool(w: &mut Walk, node: &Node) -> Result<()> {
    let shape = w.shape(node, 0)?;
    let (kind, out_shape) = windows(node, &shape)?;
    let len = out_shape.iter().product();
    match w.sym(node, 0)?.clone() {
        Sym::Quant(x) => {
            let ty = w.tensor(x).ty.clone();
            let p = Pending {
                kind,
                inputs: vec![x],
                node: node.name.clone(),
                onnx_op: node.op().to_owned(),
                fused: vec![node.name.clone()],
                len,
            };
            w.push_op(node, p, ty, out_shape).map(|_| ())
        }
        Sym::Deq(x, dq) => {
            let p = Pending {
                kind,
                inputs: vec![x],
                node: node.name.clone(),
                onnx_op: node.op().to_owned(),
                fused: vec![dq, node.name.clone()],
                len,
            };
            w.bind(node, Sym::Pending(Box::new(p)), Some(out_shape))
        }
        _ => {
            w.deq(node, 0)?;
            Err(node.err("MaxPool reads a quantized tensor or its DequantizeLinear"))
        }
    }
}

/// The Q ending `DQ -> MaxPool -> Q` (`node`, typing it `ty`): the maximum
/// in the source's type, then, when `ty` differs, the table requantizing
/// it (onnxruntime keeps such a MaxPool in float between the DQ and the
/// Q; the maximum of the dequantized values is the dequantized maximum).
pub(super) fn finish(
    w: &mut Walk,
    node: &Node,
    mut p: Pending,
    ty: QType,
    shape: Vec<usize>,
) -> Result<()> {
    let src = w.tensor(p.inputs[0]).clone();
    if src.ty == ty {
        return w.push_op(node, p, ty, shape).map(|_| ());
    }
    if src.ty.bits > 16 || ty.bits > 16 {
        return Err(node.err(format!(
            "requantizes the maximum of `{}` ({}) into {}: lfc requantizes 8- and 16-bit tensors only",
            src.name, src.ty.elem, ty.elem
        )));
    }
    let name = format!("{}_max", node.output()?);
    let max = w.add_tensor(&name, p.len, src.ty.clone());
    let requant = format!("{} requantized", p.node);
    w.graph.ops.push(QOp {
        node: p.node.clone(),
        onnx_op: p.onnx_op.clone(),
        fused: std::mem::take(&mut p.fused),
        kind: p.kind,
        inputs: p.inputs,
        output: max,
    });
    let table = Pending {
        kind: QOpKind::Unary {
            func: LutFunc::Identity,
        },
        inputs: vec![max],
        node: p.node,
        onnx_op: p.onnx_op,
        fused: vec![requant],
        len: p.len,
    };
    w.push_op(node, table, ty, shape).map(|_| ())
}
