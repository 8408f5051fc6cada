//! C back end: kernel-style C for a snapshot module, through askama
//! templates in `templates/` (templates print; everything is computed here).

use crate::ir::Program;
use crate::valid::ModuleInfo;
use crate::Result;

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
}

/// The emitted module source tree.
#[derive(Clone, Debug)]
pub struct CModule {
    /// File stem: `lf_model_<uuid>`.
    pub stem: String,
    /// `lf_model_<uuid>.c`
    pub source: String,
    /// `Kbuild`
    pub kbuild: String,
    /// `Makefile` (out-of-tree kbuild wrapper)
    pub makefile: String,
}

pub fn emit(program: &Program, info: &ModuleInfo, meta: &ModuleMeta) -> Result<CModule> {
    let _ = (program, info, meta);
    Err(crate::Error::Other("back::c::emit: not implemented yet".into()))
}
