//! The Rust snapshot built for `lfc bench --backend rust` as the kernel
//! module gets it: the crate root and snapshot compiled by rustc with the
//! kernel object's code generation ([`crate::kbuild::rust::codegen`]), the
//! C shell that registers it (through the userspace shim, as the C
//! snapshot), and the same timing driver. Two differences from the `.ko`,
//! both forced by linking a userspace executable: the default code model
//! (`-Ccode-model=kernel` wants addresses in the top 2 GiB) and no
//! mitigation thunks (an empty `.config`: userspace has no
//! `__x86_return_thunk`; the C bench build has none either).

use std::path::Path;

use super::build::{link, Built};
use crate::back::c::userspace::{compile_object, kernel_cflags, write_tree};
use crate::back::c::CModule;
use crate::back::rust::{kernel, RustModule};
use crate::kbuild::rust::{codegen, compile_kernel_object, Codegen, KernelConfig};
use crate::pipeline::Compiled;
use crate::Result;

/// The kernel object's rustc flags for a `.config` without mitigations,
/// less the kernel code model.
pub fn bench_codegen() -> Codegen {
    let mut g = codegen(&KernelConfig::parse(""));
    g.flags.retain(|f| f != "-Ccode-model=kernel");
    // Line tables for the per-layer counts (no change to the code).
    g.flags.push("-Cdebuginfo=1".into());
    g
}

/// Builds the Rust snapshot of `compiled` (`module`) with its C shell and
/// the driver; `c` gives the shim headers.
pub fn build(compiled: &Compiled, module: &RustModule, c: &CModule) -> Result<Built> {
    let dir = tempfile::tempdir().map_err(|e| crate::Error::io(std::env::temp_dir(), e))?;
    write_tree(c, dir.path())?;
    let g = bench_codegen();
    let files = kernel::emit(&compiled.program, module, &compiled.meta, &g.flags, &[])?;
    let object = compile_kernel_object(module, &files, dir.path(), &g)?;
    let shell = dir.path().join(format!("{}_shell.c", module.stem));
    let shell_o = dir.path().join(format!("{}_shell.o", module.stem));
    let mut flags = kernel_cflags();
    flags.extend(["-g", "-fno-pie"]);
    compile_object(&shell, &shell_o, &flags)?;
    let source = dir.path().join(format!("{}.rs", module.stem));
    link(dir, &[&shell_o, &object], source, object.clone())
}

/// The layer each line of the emitted Rust belongs to (1-based): the
/// `    // NAME - Op ...` comment that opens each block inside `infer`, the
/// helpers before it, `(entry)` for its first lines.
pub fn line_sections(source: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut current = "(helpers)".to_string();
    for line in source.lines() {
        if line.starts_with("pub fn infer(") {
            current = "(entry)".into();
        } else if let Some(rest) = line.strip_prefix("    // ") {
            if let Some((name, _)) = rest.split_once(" - ") {
                if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    current = name.to_string();
                }
            }
        }
        out.push(current.clone());
    }
    out
}

/// `.text` and `.rodata` bytes of the rustc object alone (the shell is the
/// C registration, not the snapshot).
pub fn sizes(b: &Built) -> Result<(u64, u64)> {
    super::build::section_bytes(Path::new(&b.object))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_sections_follow_block_comments() {
        let src = "fn lf_clamp(x: i64) -> i64 {\n}\npub fn infer(\n) {\n    let mut acc: i64;\n\n    // fc0 - Gemm \"fc0\"\n    //     fc0[j] = ...\n    acc = 1;\n    // y - Output \"y\"\n    output[0] = acc;\n}\n";
        let s = line_sections(src);
        assert_eq!(s[1], "(helpers)");
        assert_eq!(s[3], "(entry)");
        assert_eq!(s[5], "(entry)");
        assert_eq!(s[7], "fc0");
        assert_eq!(s[8], "fc0");
        assert_eq!(s[9], "fc0");
        assert_eq!(s[11], "y");
    }
}
