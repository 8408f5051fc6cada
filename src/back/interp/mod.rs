//! The reference interpreter: runs the integer [`Program`] exactly as the
//! emitted C does. It is the oracle the C is checked against bit for bit.

use crate::ir::Program;

/// Runs one input row (`s64` at the program's input scale); returns the
/// `s64` outputs at the output scale.
pub fn run(program: &Program, input: &[i64]) -> Vec<i64> {
    let _ = (program, input);
    unimplemented!("interp::run")
}
