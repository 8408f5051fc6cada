//! lfc: ONNX → fixed-point IR → integer-only C snapshot kernel modules.
//!
//! Pipeline (one folder per stage):
//! `front::onnx` (ONNX → float [`ir::Graph`]) → `quant` (ranges, scales,
//! LUTs → integer [`ir::Program`]) → `valid` (proofs → [`valid::ModuleInfo`])
//! → `back::c` (kernel C) and `back::interp` (bit-exact reference).
//! [`pipeline`] strings them together for the CLI and the tests.

pub mod adapt;
pub mod back;
pub mod bench;
pub mod commands;
pub mod control;
pub mod data;
pub mod error;
pub mod front;
pub mod fsutil;
pub mod ir;
pub mod kbuild;
pub mod pipeline;
pub mod quant;
pub mod report;
pub mod valid;

pub use error::{Error, Result};

/// lfc's version, recorded in every emitted module.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
