//! The snapshot built as the kernel gets it (kernel code-generation flags,
//! plus `-g` for the per-layer attribution), linked with the timing driver
//! `lf_bench.c`, and its sizes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::back::c::userspace::{compile_object, compiler, kernel_cflags, run_tool, write_tree};
use crate::back::c::CModule;
use crate::error::Error;
use crate::Result;

const BENCH_C: &str = include_str!("lf_bench.c");

/// The timing driver linked with one snapshot, in a temporary directory.
pub struct Built {
    pub dir: tempfile::TempDir,
    pub exe: PathBuf,
    pub source: PathBuf,
    pub object: PathBuf,
}

/// Builds `module` with the kernel's flags and the driver (not PIE, so
/// callgrind's addresses are the executable's own).
pub fn build(module: &CModule) -> Result<Built> {
    let dir = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let source = write_tree(module, dir.path())?;
    let object = dir.path().join(format!("{}.o", module.stem));
    let mut flags = kernel_cflags();
    flags.extend(["-g", "-fno-pie"]);
    compile_object(&source, &object, &flags)?;
    link(dir, &[&object], source, object.clone())
}

/// Links `objects` (the snapshot, registered through its module_init)
/// with the driver in `dir`, not PIE.
pub fn link(
    dir: tempfile::TempDir,
    objects: &[&Path],
    source: PathBuf,
    object: PathBuf,
) -> Result<Built> {
    let driver = dir.path().join("lf_bench.c");
    std::fs::write(&driver, BENCH_C).map_err(|e| Error::io(&driver, e))?;
    let driver_o = dir.path().join("lf_bench.o");
    compile_object(&driver, &driver_o, &["-O2", "-fno-pie"])?;
    let exe = dir.path().join("lf_bench");
    let mut link = compiler()?;
    link.arg("-no-pie")
        .args(objects)
        .arg(&driver_o)
        .arg("-o")
        .arg(&exe);
    run_tool(link, "cc (link)")?;
    Ok(Built {
        dir,
        exe,
        source,
        object,
    })
}

/// Runs `cmd` with `input` on stdin; its stdout.
pub fn run_with_input(cmd: &mut Command, input: &[u8]) -> Result<String> {
    use std::io::Write;
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Build {
            tool: what.clone(),
            output: e.to_string(),
        })?;
    // Written from a thread while this one reads the output: a child that
    // answers as it reads (addr2line) fills its stdout pipe long before a
    // large input is written, and both would wait for ever (`lfc bench
    // conv_qdq --unroll-limit 20000`: ~3,000 addresses, hung).
    let writer = child.stdin.take().map(|mut stdin| {
        let input = input.to_vec();
        std::thread::spawn(move || {
            // A driver that exits early closes the pipe: its status says why.
            let _ = stdin.write_all(&input);
        })
    });
    let out = child.wait_with_output();
    if let Some(w) = writer {
        let _ = w.join();
    }
    let out = out.map_err(|e| Error::Build {
        tool: what.clone(),
        output: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(Error::Build {
            tool: what,
            output: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The value of `key` in the driver's `key value` lines.
pub fn field(text: &str, key: &str) -> Result<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| Error::Other(format!("bench driver: no `{key}` in its output: {text}")))
}

/// Code (`.text*`) and table (`.rodata*`) bytes of the snapshot's object
/// file, as `size -A` reports its sections.
pub fn section_bytes(object: &Path) -> Result<(u64, u64)> {
    let out = Command::new("size")
        .arg("-A")
        .arg(object)
        .output()
        .map_err(|e| Error::Build {
            tool: "size".into(),
            output: e.to_string(),
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let (mut code, mut tables) = (0, 0);
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(name), Some(bytes)) = (f.next(), f.next().and_then(|b| b.parse::<u64>().ok()))
        else {
            continue;
        };
        if name.starts_with(".text") {
            code += bytes;
        } else if name.starts_with(".rodata") {
            tables += bytes;
        }
    }
    Ok((code, tables))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A child that answers while it reads (as addr2line does) gets an
    /// input far larger than a pipe's buffer back whole, without both
    /// sides waiting on each other.
    #[test]
    fn run_with_input_streams_large_answers() {
        let input: Vec<u8> = (0..2_000_000u32)
            .map(|i| b"0123456789abcdef\n"[(i % 17) as usize])
            .collect();
        let out = run_with_input(&mut Command::new("cat"), &input).unwrap();
        assert_eq!(out.as_bytes(), &input[..]);
    }
}
