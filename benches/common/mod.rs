//! What the benchmarks share: the timing driver around a snapshot built
//! with the kernel's flags, and callgrind's instruction counts.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use lfc::back::c::userspace::{compile_object, compiler, kernel_cflags, run_tool, write_tree};
use lfc::back::c::CModule;

const TIMING_C: &str = include_str!("../aurora_timing.c");

pub fn rows_bytes(rows: &[Vec<i64>]) -> Vec<u8> {
    rows.iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect()
}

/// Runs the timing driver (optionally under a wrapper) and returns its
/// `key value` output.
pub fn run_driver(cmd: &mut Command, input: &[u8]) -> String {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn timing driver");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "timing driver failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn field(text: &str, key: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `{key}` in {text}"))
}

/// Total instructions (Ir) callgrind counted for one run.
pub fn callgrind_ir(exe: &Path, iterations: u64, input: &[u8], dir: &Path) -> Option<f64> {
    let out_file = dir.join(format!("callgrind.{iterations}.out"));
    let mut cmd = Command::new("valgrind");
    cmd.arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out_file.display()))
        .arg(exe)
        .arg(iterations.to_string());
    run_driver(&mut cmd, input);
    let text = std::fs::read_to_string(&out_file).ok()?;
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// The module built with the kernel's flags, linked with the timing driver.
pub fn build_driver(module: &CModule, dir: &Path) -> PathBuf {
    let source = write_tree(module, dir).unwrap();
    let driver = dir.join("aurora_timing.c");
    std::fs::write(&driver, TIMING_C).unwrap();
    let module_o = dir.join("module.o");
    let driver_o = dir.join("driver.o");
    let mut flags = kernel_cflags();
    flags.extend(["-Wall", "-Werror"]);
    compile_object(&source, &module_o, &flags).expect("compile module");
    compile_object(&driver, &driver_o, &["-O2"]).expect("compile driver");
    let exe = dir.join("aurora_timing");
    let mut link = compiler().unwrap();
    link.arg(&module_o).arg(&driver_o).arg("-o").arg(&exe);
    run_tool(link, "cc (link)").expect("link");
    exe
}

/// Instructions per inference under callgrind: a run of 50 iterations over
/// the rows minus a run of 0 (start-up); `None` without valgrind.
pub fn callgrind_per_inference(exe: &Path, input: &[u8], rows: usize, dir: &Path) -> Option<f64> {
    let have = Command::new("valgrind")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !have {
        return None;
    }
    let n_iter = 50u64;
    let full = callgrind_ir(exe, n_iter, input, dir)?;
    let base = callgrind_ir(exe, 0, input, dir)?;
    Some((full - base) / (n_iter as f64 * rows as f64))
}
