//! C back end: kernel-style C for a snapshot module, through askama
//! templates in `templates/c/` (templates print; everything is computed
//! here).
//!
//! - [`namer`] turns ONNX names into unique `lf_` identifiers ([`keywords`]
//!   lists what they must never be);
//! - [`writer`] holds the module being written and the helpers that declare
//!   constants; [`emit`] has one emitter per instruction kind, which builds
//!   typed [`expr`] C expressions and fills the template structs of
//!   [`templates`], one per emitted construct, printing the decisions of
//!   [`crate::back::lower`];
//! - [`userspace`] builds the very same source against a kernel-compat shim
//!   and runs it (tests, `lfc run --engine c`, benchmarks), or measures its
//!   stack frame.

mod emit;
mod expr;
pub mod keywords;
pub mod namer;
mod templates;
pub mod userspace;
mod writer;

#[cfg(test)]
mod tests;

use crate::ir::Program;
use crate::valid::ModuleInfo;
use crate::Result;

pub use templates::SnapshotFacts;
pub use userspace::{stack_usage, Runner, KERNEL_CFLAGS};
pub use writer::{c_int, c_string, ctype_for, layer_idents, snapshot_facts, stem};
pub(crate) use writer::{check_info as writer_check_info, check_lut as writer_check_lut};

/// What the emitted module is called and registers as.
#[derive(Clone, Debug)]
pub struct ModuleMeta {
    pub uuid: u64,
    pub app: u32,
    /// Model name (file stem), for status and dmesg.
    pub name: String,
    /// Hex SHA-256 of the ONNX file and compile options.
    pub digest: String,
    /// Dense layers with more MACs than this are emitted as loops over
    /// `static const` arrays instead of straight-line code.
    pub unroll_limit: usize,
    /// `--simd avx2`: Dense layers with a vector form (see
    /// [`crate::back::lower_simd`]).
    pub simd: crate::back::lower_simd::Simd,
}

/// The emitted module source tree.
#[derive(Clone, Debug)]
pub struct CModule {
    /// File stem and module name: `lf_model_<uuid>`, uuid in decimal (see [`stem`]).
    pub stem: String,
    /// `lf_model_<uuid>.c`
    pub source: String,
    /// `Kbuild`
    pub kbuild: String,
    /// `Makefile` (out-of-tree kbuild wrapper)
    pub makefile: String,
    /// Bytes of the `static const` tables and weights in `source`, each
    /// array counted by its C element type.
    pub rodata_bytes: usize,
}

/// Emits the snapshot module for `program`, laid out as `info` says.
pub fn emit(program: &Program, info: &ModuleInfo, meta: &ModuleMeta) -> Result<CModule> {
    writer::write(program, info, meta)
}
