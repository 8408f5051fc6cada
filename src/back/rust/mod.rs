//! Rust back end: one self-contained `#![no_std]`, `#![forbid(unsafe_code)]`
//! Rust file per snapshot, printing the same [`crate::back::lower::Plan`]
//! as the C back end (same fusions, same straight-line/loop forms, same
//! names, same buffers), so the two compute the same integers.
//!
//! - [`writer`] prints the file (the module skeleton is `templates/rust/`);
//! - [`kernel`] prints the kernel entry point (a `#[no_mangle] extern "C"`
//!   function in its own crate root), the C shell that registers it with
//!   lf_kernel, and their Kbuild (`lfc compile --backend rust -o X.ko`);
//! - [`userspace`] builds it with rustc and runs it (`--engine rust`,
//!   tests, benchmarks), and checks the object for panic paths.

pub mod kernel;
pub mod userspace;
mod writer;

use crate::back::c::ModuleMeta;
use crate::ir::Program;
use crate::valid::ModuleInfo;
use crate::Result;

/// The emitted Rust snapshot.
#[derive(Clone, Debug)]
pub struct RustModule {
    /// `lf_model_<uuid>`, also the crate name.
    pub stem: String,
    /// The whole `.rs` file.
    pub source: String,
    /// Per-CPU scratch: `infer` takes a third argument `&mut Scratch`.
    pub scratch: bool,
    /// `i64` words of `Scratch` (0 without scratch): the C shell of a
    /// kernel module keeps one per CPU.
    pub scratch_words: usize,
    pub input_len: usize,
    pub output_len: usize,
    /// What the C shell of its kernel module declares in struct
    /// lf_snapshot: proven output bounds, guardrail, cost (its `rodata` are
    /// the bytes of its `static` tables and weights).
    pub facts: crate::back::c::SnapshotFacts,
}

/// Emits the Rust snapshot for `program`, laid out as `info` says.
pub fn emit(program: &Program, info: &ModuleInfo, meta: &ModuleMeta) -> Result<RustModule> {
    writer::write(program, info, meta)
}
