//! `lfc inspect` of a quantized model (issue 8): the scales and zero
//! points imported per tensor, and which ONNX nodes each instruction fuses.

use std::fmt::Write;

use crate::ir::qgraph::QGraph;

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
