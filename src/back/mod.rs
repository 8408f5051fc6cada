//! Back ends: every one receives the [`crate::ir::Program`] and the
//! validator's [`crate::valid::ModuleInfo`].

pub mod c;
pub mod interp;
pub mod lower;
pub mod lower_input;
pub mod lower_lut;
pub mod lower_simd;
pub mod rust;
