//! Building `.ko` files: runs kbuild for an emitted snapshot tree against a
//! kernel build directory, building lf_kernel's Module.symvers first.

use std::path::{Path, PathBuf};

use crate::back::c::CModule;
use crate::Result;

pub fn build_ko(module: &CModule, out: &Path, kdir: Option<&Path>) -> Result<PathBuf> {
    let _ = (module, out, kdir);
    Err(crate::Error::Other("lfc compile -o *.ko: not implemented yet".into()))
}
