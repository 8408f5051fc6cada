//! What to compute, decided once for every back end: which Dense layers
//! apply the table after them themselves (fusion), which instructions are
//! straight-line code and which are loops. The C and Rust writers print
//! this [`Plan`]; neither decides it.

use crate::ir::{InstrKind, Program, TensorId};
use crate::valid::ModuleInfo;

/// Inputs up to this many are quantized by straight-line code.
pub const QUANTIZE_UNROLL: usize = 64;

/// How an instruction's loop over its elements is emitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// One statement per element (Dense: weights as immediates).
    StraightLine,
    /// A loop over `static const` arrays.
    Loop,
}

/// The decisions for one instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub form: Form,
    /// This Dense applies the Lut right after it to its outputs and stores
    /// the result where the Lut would (`tanh(W x + b)` in one pass).
    pub applies_next_lut: bool,
    /// This Lut is computed by the Dense layer just before it.
    pub done_by_previous: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// One per instruction, in program order.
    pub steps: Vec<Step>,
}

/// Decides the [`Plan`]: Dense layers with more than `unroll_limit`
/// multiply-adds are loops, the Quantize is straight-line up to
/// [`QUANTIZE_UNROLL`] inputs, every other kind is a loop.
pub fn plan(p: &Program, info: &ModuleInfo, unroll_limit: usize) -> Plan {
    let fused = fusions(p, info);
    let steps = p
        .instrs
        .iter()
        .enumerate()
        .map(|(k, i)| Step {
            form: match &i.kind {
                InstrKind::Quantize { .. } if p.input_len <= QUANTIZE_UNROLL => Form::StraightLine,
                InstrKind::Dense { weight, .. } if weight.len() <= unroll_limit => {
                    Form::StraightLine
                }
                _ => Form::Loop,
            },
            applies_next_lut: fused[k],
            done_by_previous: k > 0 && fused[k - 1],
        })
        .collect();
    Plan { steps }
}

/// Which Dense layers apply the Lut right after them to their outputs
/// (without storing and reloading `W x + b`): the Lut reads the Dense
/// output and nothing else does, and the Lut's buffer is not the one the
/// Dense layer is still reading.
fn fusions(p: &Program, info: &ModuleInfo) -> Vec<bool> {
    let readers = |t: TensorId| {
        p.instrs
            .iter()
            .filter(|i| i.kind.srcs().contains(&t))
            .count()
    };
    let mut fused: Vec<bool> = p
        .instrs
        .windows(2)
        .map(|pair| match (&pair[0].kind, &pair[1].kind) {
            (
                InstrKind::Dense { src, dst, .. },
                InstrKind::Lut {
                    src: lsrc,
                    dst: ldst,
                    ..
                },
            ) => {
                lsrc == dst
                    && readers(*dst) == 1
                    && info.tensor_buffer.get(ldst.index()) != info.tensor_buffer.get(src.index())
            }
            _ => false,
        })
        .collect();
    fused.push(false);
    fused
}
