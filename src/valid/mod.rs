//! The validator: proves the integer program safe and returns the facts
//! every back end needs ([`ModuleInfo`]).
//!
//! It propagates exact integer bounds from the Quantize clamp (the input
//! domain) through every instruction, and refuses the program when an
//! accumulator or product could overflow its type, or when a value could
//! leave its tensor's range without an explicit clamp. It also assigns each
//! tensor to a storage buffer (in place where the op allows) and decides
//! whether the buffers fit the stack budget or go to per-CPU scratch.

use crate::ir::Program;
use crate::Result;

/// Stack bytes the emitted function may use for activations; above this the
/// buffers move to per-CPU scratch (the frame must stay well under 1 KiB).
pub const STACK_BUDGET_BYTES: usize = 768;

/// Bytes per stored activation in the emitted C (tensors are `s64` arrays:
/// on x86-64 a MAC against an immediate weight is then one `imul r64, m64, imm32`
/// and one `add`).
pub const ELEM_BYTES: usize = 8;

#[derive(Clone, Debug, PartialEq)]
pub struct ModuleInfo {
    pub macs: usize,
    /// Proven `[min, max]` of every tensor's stored values over the domain.
    pub tensor_bounds: Vec<(i64, i64)>,
    /// Per instruction: proven bound of |accumulator or widest intermediate|
    /// and the bits it needs (sign included), for reports.
    pub acc_bits: Vec<Option<u32>>,
    /// Buffer index of each tensor.
    pub tensor_buffer: Vec<usize>,
    /// Length (elements) of each buffer.
    pub buffers: Vec<usize>,
    /// Buffers live in per-CPU scratch instead of the stack.
    pub scratch: bool,
    /// Activation bytes on the stack (0 when `scratch`).
    pub stack_bytes: usize,
    /// Per-CPU scratch bytes (0 unless `scratch`).
    pub scratch_bytes: usize,
    /// Static const bytes of tables and (looped) weights.
    pub rodata_bytes: usize,
}

/// Validates `program`; see the module docs.
pub fn validate(program: &Program) -> Result<ModuleInfo> {
    let _ = program;
    Err(crate::Error::Other("valid::validate: not implemented yet".into()))
}
