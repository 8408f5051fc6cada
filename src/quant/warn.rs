//! Accuracy warnings on a finished program: losses the quantizer cannot
//! avoid at the chosen precision, stated with their bound, so that an
//! answer outside tolerance is never silent.

use std::fmt;

use crate::ir::{InstrKind, LutFunc, Program};

/// A Softmax whose input step moves a probability by more than this
/// (in probability units, the output range being [0, 1]) is reported.
pub const SOFTMAX_WARN_ERROR: f64 = 1e-3;

/// A lookup table whose measured error exceeds this fraction of its output
/// range (the span of its entries) is reported: 0.1 % at int16, where a
/// table is usually within 1e-5; 1 % at int8, where a direct table is
/// within half an output step (0.2 %).
pub fn lut_warn_frac(bits: u32) -> f64 {
    if bits > 8 {
        1e-3
    } else {
        1e-2
    }
}

/// One accuracy loss, at one node.
#[derive(Clone, Debug, PartialEq)]
pub struct Warning {
    pub node: String,
    /// Bound on the error this loss can cause, in the real units of the
    /// node's output.
    pub max_error: f64,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The warnings of `program`, in execution order.
pub fn warnings(program: &Program) -> Vec<Warning> {
    let mut out = Vec::new();
    for instr in &program.instrs {
        if let InstrKind::Lut { dst, lut, .. } = &instr.kind {
            out.extend(lut_warning(program, instr, *dst, lut));
        }
        if let InstrKind::Softmax { src, .. } = &instr.kind {
            let t = program.tensor(*src);
            // Every input of the group may be off by half a step d; then
            // p'/p and (1-p')/(1-p) lie in [e^-2d, e^2d], so |p' - p| <=
            // tanh(d) (reached at p = 1/(1 + e^2d)).
            let step = t.q.scale;
            let bound = (step / 2.0).tanh();
            if bound > SOFTMAX_WARN_ERROR {
                out.push(Warning {
                    node: instr.node.clone(),
                    max_error: bound,
                    message: format!(
                        "node `{}` ({}): its input `{}` is held at a step of {step:.3e} ({} bits over its range); \
                         half a step of input error moves a probability by up to {bound:.3e} = tanh(step/2) \
                         ({:.1} % of the output range): narrow the domain of the Softmax input",
                        instr.node,
                        instr.onnx_op,
                        t.name,
                        t.q.bits,
                        100.0 * bound
                    ),
                });
            }
        }
    }
    out
}

/// A table's error bound larger than [`lut_warn_frac`] of its output range:
/// the table's own measured error plus what half a step of its input can
/// move the function (`max |f(x +- step/2) - f(x)|` over the table's
/// inputs: Log near 0 at int8, where the function is steep).
fn lut_warning(
    program: &Program,
    instr: &crate::ir::Instr,
    dst: crate::ir::TensorId,
    lut: &crate::ir::Lut,
) -> Option<Warning> {
    let t = program.tensor(dst);
    let lo = lut.table.iter().copied().min()?;
    let hi = lut.table.iter().copied().max()?;
    let span = ((hi - lo).max(1)) as f64 * t.q.scale;
    let frac = lut_warn_frac(t.q.bits);
    let src = program.tensor(instr.kind.srcs()[0]);
    let (s, zp) = (src.q.scale, src.q.zero_point);
    let mut input_err: f64 = 0.0;
    for q in lut.lo..=lut.hi {
        let x = (q - zp) as f64 * s;
        let below = if lut.func == LutFunc::Log && x - s / 2.0 <= 0.0 {
            x / 2.0
        } else {
            x - s / 2.0
        };
        let fx = lut.func.eval(x);
        let d = (lut.func.eval(below) - fx)
            .abs()
            .max((lut.func.eval(x + s / 2.0) - fx).abs());
        if d.is_finite() {
            input_err = input_err.max(d);
        }
    }
    // The input-step term is reported in the message only: an imported
    // quantized model's input steps are its own semantics (not an error).
    let bound = lut.max_error;
    if !(bound > frac * span) {
        return None;
    }
    Some(Warning {
        node: instr.node.clone(),
        max_error: bound,
        message: format!(
            "node `{}` ({}): the {} table can be off by {bound:.3e} ({:.2} % of its output range {span:.3e}): \
             {:.3e} measured over every reachable input, plus {input_err:.3e} from half an input step ({s:.3e}) \
             where the function is steep; narrow the domain of its input `{}`",
            instr.node,
            instr.onnx_op,
            lut.func.name(),
            100.0 * bound / span,
            lut.max_error,
            src.name,
        ),
    })
}
