//! The emitted C in userspace: the unchanged module source, a kernel-compat
//! shim ([`SHIM_H`], reached through stub `<linux/*.h>` headers) and the
//! real `lf_kernel.h`, compiled with the system C compiler (found with the
//! `cc` crate at run time) together with a small driver ([`DRIVER_C`]).
//!
//! Used by the tests (C against the interpreter, bit for bit), by
//! benchmarks, and to measure the real stack frame of the infer function
//! ([`stack_usage`]).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::CModule;
use crate::{Error, Result};

/// The kernel-compat shim header.
pub const SHIM_H: &str = include_str!("lf_kernel_shim.h");
/// The driver `main()` (see its header comment for the protocol).
pub const DRIVER_C: &str = include_str!("lf_driver.c");
/// The snapshot ABI header, as the kernel build sees it.
pub const LF_KERNEL_H: &str = include_str!("../../../runtime-kmod/include/lf_kernel.h");

/// `<linux/...>` headers the emitted code (or lf_kernel.h) may include; in
/// userspace each is a stub that includes the shim.
const LINUX_STUBS: &[&str] = &[
    "types.h",
    "module.h",
    "kernel.h",
    "init.h",
    "build_bug.h",
    "percpu.h",
    "bottom_half.h",
];

/// `<asm/...>` headers of `--simd` modules, stubs likewise.
const ASM_STUBS: &[&str] = &["cpufeature.h", "fpu/api.h"];

/// The x86-64 kernel's code-generation flags that matter for the emitted
/// code (design.md): optimisation, no FPU/SIMD registers, no red zone.
pub const KERNEL_CFLAGS: &[&str] = &[
    "-O2",
    "-mno-sse",
    "-mno-mmx",
    "-mno-sse2",
    "-mno-avx",
    "-mno-red-zone",
    "-fno-strict-aliasing",
];

/// Warnings the kernel build enables (W=0 since 6.8 has
/// -Wmissing-prototypes) plus the frame limit of design.md, all as errors.
pub const WARN_CFLAGS: &[&str] = &[
    "-Wall",
    "-Werror",
    "-Wmissing-prototypes",
    "-Wstrict-prototypes",
    "-Wdeclaration-after-statement",
    "-Wvla",
    "-Wframe-larger-than=1024",
];

/// [`KERNEL_CFLAGS`] on x86-64, the portable subset elsewhere.
pub fn kernel_cflags() -> Vec<&'static str> {
    if std::env::consts::ARCH == "x86_64" {
        KERNEL_CFLAGS.to_vec()
    } else {
        vec!["-O2", "-fno-strict-aliasing"]
    }
}

/// The target triple lfc was built for (set by build.rs); `cc` wants one.
const TARGET: &str = env!("LFC_TARGET");

/// The system C compiler, as `cc` finds it (honours `CC`).
pub fn compiler() -> Result<Command> {
    let tool = cc::Build::new()
        .opt_level(2)
        .target(TARGET)
        .host(TARGET)
        .cargo_metadata(false)
        .cargo_warnings(false)
        .debug(false)
        .try_get_compiler()
        .map_err(|e| Error::Build {
            tool: "cc".into(),
            output: e.to_string(),
        })?;
    let mut cmd = Command::new(tool.path());
    // cc's own defaults (-O2, -fPIC, -m64, …); warnings and -O are ours.
    cmd.args(tool.args());
    Ok(cmd)
}

/// Writes `module` as the kernel gets it (`<stem>.c`, `Kbuild`, `Makefile`)
/// into `dir`, with `include/lf_kernel.h`, `include/lf_kernel_shim.h` and
/// the `include/linux/` stubs next to it. Returns the source path.
pub fn write_tree(module: &CModule, dir: &Path) -> Result<PathBuf> {
    let write = |path: PathBuf, text: &str| -> Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))
    };
    let source = dir.join(format!("{}.c", module.stem));
    write(source.clone(), &module.source)?;
    write(dir.join("Kbuild"), &module.kbuild)?;
    write(dir.join("Makefile"), &module.makefile)?;
    let inc = dir.join("include");
    write(inc.join("lf_kernel.h"), LF_KERNEL_H)?;
    write(inc.join("lf_kernel_shim.h"), SHIM_H)?;
    for stub in LINUX_STUBS {
        write(
            inc.join("linux").join(stub),
            "/* userspace stub: see lf_kernel_shim.h */\n#include \"../lf_kernel_shim.h\"\n",
        )?;
    }
    for stub in ASM_STUBS {
        write(
            inc.join("asm").join(stub),
            "/* userspace stub: see lf_kernel_shim.h */\n#include <lf_kernel_shim.h>\n",
        )?;
    }
    Ok(source)
}

/// Runs `cmd`; a failure is [`Error::Build`] with the compiler's own output.
pub fn run_tool(mut cmd: Command, what: &str) -> Result<()> {
    let out = cmd.output().map_err(|e| Error::Build {
        tool: what.into(),
        output: format!("{cmd:?}: {e}"),
    })?;
    if !out.status.success() {
        return Err(Error::Build {
            tool: what.into(),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&out.stdout)
            ),
        });
    }
    Ok(())
}

/// Compiles `source` to an object file with `cflags`, against the shim.
pub fn compile_object(source: &Path, object: &Path, cflags: &[&str]) -> Result<()> {
    let dir = source.parent().unwrap_or(Path::new("."));
    let mut cmd = compiler()?;
    cmd.arg("-std=gnu11")
        .args(cflags)
        .arg("-I")
        .arg(dir.join("include"))
        .arg("-c")
        .arg(source)
        .arg("-o")
        .arg(object);
    run_tool(cmd, "cc")
}

/// The fields a snapshot registers, as the driver read them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub abi_version: u32,
    pub app_id: u32,
    pub uuid: u64,
    pub input_len: usize,
    pub output_len: usize,
    pub input_scale: i64,
    pub output_scale: i64,
    pub owner_null: bool,
    pub name: String,
    pub digest: String,
}

/// A snapshot module built for userspace with the driver.
pub struct Runner {
    _dir: tempfile::TempDir,
    exe: PathBuf,
    pub info: SnapshotInfo,
}

impl Runner {
    /// Compiles `module` (with `cflags`, e.g. [`WARN_CFLAGS`]) and the
    /// driver in a temporary directory.
    pub fn build(module: &CModule, cflags: &[&str]) -> Result<Runner> {
        let dir = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
        let source = write_tree(module, dir.path())?;
        let driver = dir.path().join("lf_driver.c");
        std::fs::write(&driver, DRIVER_C).map_err(|e| Error::io(&driver, e))?;
        let module_o = dir.path().join(format!("{}.o", module.stem));
        let driver_o = dir.path().join("lf_driver.o");
        compile_object(&source, &module_o, cflags)?;
        compile_object(&driver, &driver_o, &["-O2", "-Wall"])?;
        let exe = dir.path().join("lf_driver");
        let mut link = compiler()?;
        link.arg(&module_o).arg(&driver_o).arg("-o").arg(&exe);
        run_tool(link, "cc (link)")?;
        let info = read_info(&exe)?;
        Ok(Runner {
            _dir: dir,
            exe,
            info,
        })
    }

    /// Runs every row through the module's infer; one output row per input.
    pub fn run(&self, rows: &[Vec<i64>]) -> Result<Vec<Vec<i64>>> {
        Ok(self.run_flags(rows)?.0)
    }

    /// [`Runner::run`], and the `LF_INFER_*` flags infer() returned per row.
    pub fn run_flags(&self, rows: &[Vec<i64>]) -> Result<(Vec<Vec<i64>>, Vec<u32>)> {
        run_driver(&self.exe, self.info.input_len, self.info.output_len, rows)
    }

    /// [`Runner::run`] with `irq_fpu_usable()` false: a `--simd` module
    /// runs its scalar fallback (`LF_SHIM_NO_FPU`, see the shim).
    pub fn run_without_fpu(&self, rows: &[Vec<i64>]) -> Result<Vec<Vec<i64>>> {
        let (ilen, olen) = (self.info.input_len, self.info.output_len);
        Ok(run_driver_env(&self.exe, ilen, olen, rows, &[("LF_SHIM_NO_FPU", "1")])?.0)
    }
}

/// Runs a snapshot driver executable: rows in as little-endian `i64` on
/// stdin, `olen` outputs and the `LF_INFER_*` flags per row back on stdout
/// (the C driver and the Rust harness speak the same protocol).
pub fn run_driver(
    exe: &Path,
    ilen: usize,
    olen: usize,
    rows: &[Vec<i64>],
) -> Result<(Vec<Vec<i64>>, Vec<u32>)> {
    run_driver_env(exe, ilen, olen, rows, &[])
}

fn run_driver_env(
    exe: &Path,
    ilen: usize,
    olen: usize,
    rows: &[Vec<i64>],
    env: &[(&str, &str)],
) -> Result<(Vec<Vec<i64>>, Vec<u32>)> {
    {
        let mut input = Vec::with_capacity(rows.len() * ilen * 8);
        for (r, row) in rows.iter().enumerate() {
            if row.len() != ilen {
                return Err(Error::Other(format!(
                    "row {r} has {} values, the model takes {ilen}",
                    row.len()
                )));
            }
            for v in row {
                input.extend_from_slice(&v.to_le_bytes());
            }
        }
        let mut child = Command::new(exe)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::io(exe, e))?;
        let mut stdin = child.stdin.take().expect("piped stdin");
        // Feed stdin from a thread so a full stdout pipe cannot deadlock us.
        let feeder = std::thread::spawn(move || stdin.write_all(&input));
        let mut output = Vec::new();
        child
            .stdout
            .take()
            .expect("piped stdout")
            .read_to_end(&mut output)
            .map_err(|e| Error::io(exe, e))?;
        let status = child.wait().map_err(|e| Error::io(exe, e))?;
        let fed = feeder.join().expect("stdin feeder");
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut stderr);
        }
        if !status.success() {
            return Err(Error::Other(format!(
                "snapshot driver failed ({status}): {stderr}"
            )));
        }
        fed.map_err(|e| Error::io(exe, e))?;
        let stride = olen + 1;
        if output.len() != rows.len() * stride * 8 {
            return Err(Error::Other(format!(
                "snapshot driver wrote {} bytes for {} rows of {olen}",
                output.len(),
                rows.len()
            )));
        }
        let values: Vec<i64> = output
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        let rows_out = values.chunks(stride).take(rows.len());
        Ok((
            rows_out.clone().map(|c| c[..olen].to_vec()).collect(),
            rows_out.map(|c| c[olen] as u32).collect(),
        ))
    }
}

fn read_info(exe: &Path) -> Result<SnapshotInfo> {
    let out = Command::new(exe)
        .arg("info")
        .output()
        .map_err(|e| Error::io(exe, e))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(Error::Other(format!(
            "snapshot driver info failed ({}): {}{text}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let field = |key: &str| -> Result<String> {
        text.lines()
            .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(' ')))
            .map(str::to_string)
            .ok_or_else(|| Error::Other(format!("snapshot driver info: no `{key}`")))
    };
    let num = |key: &str| -> Result<i64> {
        field(key)?
            .parse()
            .map_err(|_| Error::Other(format!("snapshot driver info: bad `{key}`")))
    };
    let uuid = u64::from_str_radix(&field("uuid")?, 16)
        .map_err(|_| Error::Other("snapshot driver info: bad uuid".into()))?;
    Ok(SnapshotInfo {
        abi_version: num("abi_version")? as u32,
        app_id: num("app_id")? as u32,
        uuid,
        input_len: num("input_len")? as usize,
        output_len: num("output_len")? as usize,
        input_scale: num("input_scale")?,
        output_scale: num("output_scale")?,
        owner_null: num("owner_null")? != 0,
        name: field("name")?,
        digest: field("digest")?,
    })
}

/// The stack frame, in bytes, of the module's infer function compiled with
/// [`kernel_cflags`] (gcc's `-fstack-usage`).
pub fn stack_usage(module: &CModule) -> Result<usize> {
    let dir = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let source = write_tree(module, dir.path())?;
    let object = dir.path().join(format!("{}.o", module.stem));
    let mut flags = kernel_cflags();
    flags.push("-fstack-usage");
    compile_object(&source, &object, &flags)?;
    let su = object.with_extension("su");
    let text = std::fs::read_to_string(&su).map_err(|e| Error::io(&su, e))?;
    let func = format!(":{}_infer", module.stem);
    // `lf_model_….c:LINE:COL:lf_model_…_infer<TAB>BYTES<TAB>static`
    text.lines()
        .find_map(|l| {
            let (loc, rest) = l.split_once('\t')?;
            if !loc.ends_with(&func) {
                return None;
            }
            rest.split('\t').next()?.trim().parse().ok()
        })
        .ok_or_else(|| {
            Error::Other(format!(
                "{}: no entry for {}_infer",
                su.display(),
                module.stem
            ))
        })
}
