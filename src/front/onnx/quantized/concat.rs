//! Concat of quantized tensors: QDQ (`DQ, DQ… -> Concat -> Q`) and
//! QOperator (`QLinearConcat`, com.microsoft). onnxruntime runs both as
//! QLinearConcat: an input with the output's scale and zero point is
//! copied, any other goes through a 256-entry table (dequantize, then
//! quantize to the output's parameters). lfc does the same: a
//! requantization table (an identity [`QOpKind::Unary`]) for each input
//! whose type differs, then one [`QOpKind::Concat`] copy.

use super::{qtype, IntType, Pending, Sym, Walk};
use crate::front::onnx::lower::Node;
use crate::ir::qgraph::{QOp, QOpKind, QType};
use crate::ir::LutFunc;
use crate::Result;

/// The layout of a Concat along `axis`: the number of positions before
/// the axis (`outer`) and the output shape, from the inputs' shapes.
fn layout(node: &Node, shapes: &[Vec<usize>]) -> Result<(usize, Vec<usize>)> {
    let first = &shapes[0];
    let r = first.len() as i64;
    let a = node
        .attr_i64("axis")?
        .ok_or_else(|| node.err("Concat needs an `axis` attribute"))?;
    let a = if a < 0 { a + r } else { a };
    if a < 0 || a >= r {
        return Err(node.err(format!("axis {a} out of range for rank {r}")));
    }
    let a = a as usize;
    let mut out = first.clone();
    out[a] = 0;
    for (k, s) in shapes.iter().enumerate() {
        let same = s.len() == first.len()
            && s.iter()
                .zip(first)
                .enumerate()
                .all(|(d, (x, y))| d == a || x == y);
        if !same {
            return Err(node.err(format!(
                "input {k} has shape {s:?}, input 0 {first:?}: they must agree except on axis {a}"
            )));
        }
        out[a] += s[a];
    }
    if shapes.iter().any(|s| s.iter().product::<usize>() == 0) {
        return Err(node.err("an input is empty"));
    }
    Ok((first[..a].iter().product(), out))
}

/// `DQ, DQ… -> Concat`: pending until the QuantizeLinear that types it.
pub(super) fn qdq(w: &mut Walk, node: &Node) -> Result<()> {
    let n = node.proto.input.len();
    if n == 0 {
        return Err(node.err("Concat has no inputs"));
    }
    let mut inputs = Vec::with_capacity(n);
    let mut fused = Vec::with_capacity(n + 1);
    let mut shapes = Vec::with_capacity(n);
    for i in 0..n {
        let (q, dq) = w.deq(node, i)?;
        inputs.push(q);
        fused.push(dq);
        shapes.push(w.shape(node, i)?);
    }
    fused.push(node.name.clone());
    let (outer, shape) = layout(node, &shapes)?;
    let p = Pending {
        kind: QOpKind::Concat { outer },
        inputs,
        node: node.name.clone(),
        onnx_op: node.op().to_owned(),
        fused,
        len: shape.iter().product(),
    };
    w.bind(node, Sym::Pending(Box::new(p)), Some(shape))
}

/// QLinearConcat: `(Y_scale, Y_zero_point, (X, X_scale, X_zero_point)…)`.
pub(super) fn qoperator(w: &mut Walk, node: &Node) -> Result<()> {
    let n = node.proto.input.len();
    if n < 5 || (n - 2) % 3 != 0 {
        return Err(node.err(format!(
            "QLinearConcat takes Y_scale, Y_zero_point and (tensor, scale, zero point) triples; it has {n} inputs"
        )));
    }
    let pair = |w: &Walk, i: usize| -> Result<QType> {
        let s = w.konst(node, i, "scale")?;
        let z = w.opt_konst(node, i + 1, "zero point")?;
        qtype(node, &s, z.as_ref(), IntType::U8)
    };
    let ty = pair(w, 0)?;
    let mut inputs = Vec::new();
    let mut shapes = Vec::new();
    for i in (2..n).step_by(3) {
        let q = w.quant(node, i)?;
        let (have, said) = (w.tensor(q).ty.clone(), pair(w, i + 1)?);
        if have.scale != said.scale || have.zero_point != said.zero_point || have.elem != said.elem
        {
            return Err(node.err(format!(
                "input `{}` is given scale/zero point ({:e}, {}) but was quantized with ({:e}, {})",
                node.required_input(i)?,
                said.scale,
                said.zero_point,
                have.scale,
                have.zero_point
            )));
        }
        inputs.push(q);
        shapes.push(w.shape(node, i)?);
    }
    let (outer, shape) = layout(node, &shapes)?;
    let p = Pending {
        kind: QOpKind::Concat { outer },
        inputs,
        node: node.name.clone(),
        onnx_op: node.op().to_owned(),
        fused: vec![node.name.clone()],
        len: shape.iter().product(),
    };
    finish(w, node, p, ty, shape)
}

/// The Concat typed `ty` (by its QuantizeLinear, or QLinearConcat's
/// output pair): each input of another type is requantized into `ty` by
/// an exact table first, then all are copied into the output.
pub(super) fn finish(
    w: &mut Walk,
    node: &Node,
    mut p: Pending,
    ty: QType,
    shape: Vec<usize>,
) -> Result<()> {
    if ty.bits > 16 {
        return Err(node.err(format!("a Concat into {} is not supported", ty.elem)));
    }
    for k in 0..p.inputs.len() {
        let q = p.inputs[k];
        let t = w.tensor(q).clone();
        if t.ty == ty {
            continue;
        }
        if t.ty.bits > 16 {
            return Err(node.err(format!(
                "input {k} (`{}`) is {}: lfc requantizes 8- and 16-bit inputs only",
                t.name, t.ty.elem
            )));
        }
        let name = format!("{}_in{k}", node.output()?);
        let id = w.add_tensor(&name, t.len, ty.clone());
        w.graph.ops.push(QOp {
            node: p.node.clone(),
            onnx_op: p.onnx_op.clone(),
            fused: vec![format!("{} input {k} requantized", p.node)],
            kind: QOpKind::Unary {
                func: LutFunc::Identity,
            },
            inputs: vec![q],
            output: id,
        });
        p.inputs[k] = id;
    }
    w.push_op(node, p, ty, shape).map(|_| ())
}
