//! Accuracy warnings on a finished program: losses the quantizer cannot
//! avoid at the chosen precision, stated with their bound, so that an
//! answer outside tolerance is never silent.

use std::fmt;

use crate::ir::{InstrKind, Program};

/// A Softmax whose input step moves a probability by more than this
/// (in probability units, the output range being [0, 1]) is reported.
pub const SOFTMAX_WARN_ERROR: f64 = 1e-3;

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
