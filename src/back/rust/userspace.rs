//! The emitted Rust built with rustc: for userspace (a harness speaking the
//! C driver's protocol, for `lfc run --engine rust`, tests and benchmarks),
//! or as a relocatable object, whose undefined symbols show whether any
//! panic path survived.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::RustModule;
use crate::back::c::userspace::{run_driver, run_tool};
use crate::error::Error;
use crate::Result;

/// rustc flags of every build of an emitted snapshot: optimised (so the
/// arithmetic the validator proved carries no overflow checks) and no
/// unwinding.
pub const RUSTC_FLAGS: &[&str] = &[
    "--edition",
    "2021",
    "-C",
    "opt-level=2",
    "-C",
    "panic=abort",
];

/// `$RUSTC`, else `rustc` from `PATH`.
pub fn rustc() -> Command {
    Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
}

/// Compiles the snapshot alone into an object file (`--crate-type lib
/// --emit obj`) with [`RUSTC_FLAGS`] and `extra` flags.
pub fn compile_object(module: &RustModule, dir: &Path, extra: &[&str]) -> Result<PathBuf> {
    let src = dir.join(format!("{}.rs", module.stem));
    std::fs::write(&src, &module.source).map_err(|e| Error::io(&src, e))?;
    let obj = dir.join(format!("{}_rust.o", module.stem));
    let mut cmd = rustc();
    cmd.args(RUSTC_FLAGS)
        .args(["--crate-type", "lib", "--emit", "obj", "--crate-name"])
        .arg(&module.stem)
        .args(extra)
        .arg("-o")
        .arg(&obj)
        .arg(&src);
    run_tool(cmd, "rustc")?;
    Ok(obj)
}

/// Undefined symbols of `obj` that name a panic (`core::panicking`,
/// `panic_bounds_check`, `rust_begin_unwind`, …): empty when no panic can
/// be reached.
pub fn panic_symbols(obj: &Path) -> Result<Vec<String>> {
    let out = Command::new("nm")
        .arg("-u")
        .arg(obj)
        .output()
        .map_err(|e| Error::io(obj, e))?;
    if !out.status.success() {
        return Err(Error::Other(format!(
            "nm -u {}: {}",
            obj.display(),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .filter(|s| s.contains("panic") || s.contains("unwind"))
        .map(str::to_string)
        .collect())
}

const HARNESS: &str = r#"//! lfc's userspace harness: rows in as little-endian i64 on stdin, outputs
//! and the LF_INFER_* flags back on stdout, the protocol of the C driver.
use std::io::{Read, Write};

fn main() {
    let mut inp = Vec::new();
    std::io::stdin().read_to_end(&mut inp).expect("stdin");
    let mut out = Vec::with_capacity(inp.len());
    SCRATCH_NEW
    for row in inp.chunks_exact(8 * lf_model::LF_INPUT_LEN) {
        let mut x = [0i64; lf_model::LF_INPUT_LEN];
        for (v, c) in x.iter_mut().zip(row.chunks_exact(8)) {
            *v = i64::from_le_bytes(c.try_into().expect("8 bytes"));
        }
        let mut y = [0i64; lf_model::LF_OUTPUT_LEN];
        let flags = lf_model::infer(&x, &mut y SCRATCH_ARG);
        for v in y {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&i64::from(flags).to_le_bytes());
    }
    std::io::stdout().write_all(&out).expect("stdout");
}
"#;

/// A Rust snapshot built for userspace with the harness.
pub struct Runner {
    _dir: tempfile::TempDir,
    exe: PathBuf,
    input_len: usize,
    output_len: usize,
}

impl Runner {
    pub fn build(module: &RustModule) -> Result<Runner> {
        let dir = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
        let src = dir.path().join("lf_model.rs");
        std::fs::write(&src, &module.source).map_err(|e| Error::io(&src, e))?;
        let rlib = dir.path().join("liblf_model.rlib");
        let mut cmd = rustc();
        cmd.args(RUSTC_FLAGS)
            .args(["--crate-type", "rlib", "--crate-name", "lf_model", "-o"])
            .arg(&rlib)
            .arg(&src);
        run_tool(cmd, "rustc (snapshot)")?;
        let (new, arg) = if module.scratch {
            (
                "let mut scratch = lf_model::Scratch::new();",
                ", &mut scratch",
            )
        } else {
            ("", "")
        };
        let main = dir.path().join("main.rs");
        let text = HARNESS
            .replace("SCRATCH_NEW", new)
            .replace(" SCRATCH_ARG", arg);
        std::fs::write(&main, text).map_err(|e| Error::io(&main, e))?;
        let exe = dir.path().join("lf_harness");
        let mut cmd = rustc();
        cmd.args(RUSTC_FLAGS)
            .arg("--extern")
            .arg(format!("lf_model={}", rlib.display()))
            .arg("-o")
            .arg(&exe)
            .arg(&main);
        run_tool(cmd, "rustc (harness)")?;
        Ok(Runner {
            _dir: dir,
            exe,
            input_len: module.input_len,
            output_len: module.output_len,
        })
    }

    /// Runs every row through the snapshot's `infer`.
    pub fn run(&self, rows: &[Vec<i64>]) -> Result<Vec<Vec<i64>>> {
        Ok(self.run_flags(rows)?.0)
    }

    /// [`Runner::run`], and the flags `infer` returned per row.
    pub fn run_flags(&self, rows: &[Vec<i64>]) -> Result<(Vec<Vec<i64>>, Vec<u32>)> {
        run_driver(&self.exe, self.input_len, self.output_len, rows)
    }
}
