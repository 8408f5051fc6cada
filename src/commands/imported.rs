//! `lfc inspect` of a quantized model (issue 8): the scales and zero
//! points imported per tensor, and which ONNX nodes each instruction fuses.

use std::fmt::Write;

use crate::ir::qgraph::{QGraph, QOpKind};

/// The imported-quantization section of `lfc inspect`.
pub fn section(q: &QGraph) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\nimported quantization (the model's own scales; no calibration):"
    );
    let _ = writeln!(
        s,
        "  {:<32} {:>6} {:>6} {:>14} {:>6}",
        "tensor", "len", "type", "scale", "zp"
    );
    for t in &q.tensors {
        let _ = writeln!(
            s,
            "  {:<32} {:>6} {:>6} {:>14.7e} {:>6}",
            t.name, t.len, t.ty.elem, t.ty.scale, t.ty.zero_point
        );
    }
    weight_scales(&mut s, q);
    let _ = writeln!(s, "fused nodes:");
    let _ = writeln!(s, "  input: {} (QuantizeLinear)", q.input_node);
    for op in &q.ops {
        let _ = writeln!(
            s,
            "  {} ({}) -> {}: {}",
            op.node,
            op.onnx_op,
            q.tensor(op.output).name,
            op.fused.join(", ")
        );
    }
    s
}

/// The model's weight scales of every linear op: one per output channel
/// (per-axis weights, onnxruntime's `per_channel=True`), or one.
fn weight_scales(s: &mut String, q: &QGraph) {
    let ops: Vec<(&str, &str, &[f64])> = q
        .ops
        .iter()
        .filter_map(|op| match &op.kind {
            QOpKind::Linear { weight_scale, .. } if !weight_scale.is_empty() => {
                Some((op.node.as_str(), op.onnx_op.as_str(), &weight_scale[..]))
            }
            _ => None,
        })
        .collect();
    if ops.is_empty() {
        return;
    }
    let _ = writeln!(s, "weight scales (the model's):");
    for (node, onnx_op, scales) in ops {
        let what = match scales.len() {
            1 => "per tensor".to_string(),
            n => format!("per channel, {n} channels"),
        };
        let _ = writeln!(s, "  {node} ({onnx_op}): {what}");
        for row in scales.chunks(6) {
            let v: Vec<String> = row.iter().map(|x| format!("{x:.7e}")).collect();
            let _ = writeln!(s, "    {}", v.join(" "));
        }
    }
}
