//! `lfc compile --backend rust -o X.ko`: the Rust snapshot compiled by
//! rustc into a relocatable object with the target kernel's code
//! generation, checked, and linked by kbuild with a C shell.
//!
//! The machine has the host's stable rustc only (no `rust-src`, no
//! `x86_64-unknown-none`), so there is no kernel `core` to link against:
//! the object must need nothing from `core` beyond what is inlined into it.
//! [`check_object`] proves that (every undefined symbol is one the kernel
//! exports) and that the code has no SSE/MMX/x87 or division instruction.
//!
//! The flags follow the kernel's own Rust build (top Makefile's
//! `KBUILD_RUSTFLAGS`, arch/x86/Makefile, scripts/generate_rust_target.rs)
//! for the `.config` of the kernel built for. Its `-Z` flags need a nightly
//! rustc or, as the kernel does, `RUSTC_BOOTSTRAP=1` on a stable one.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::back::c::userspace::run_tool;
use crate::back::c::ModuleMeta;
use crate::back::rust::{kernel, userspace, RustModule};
use crate::error::Error;
use crate::ir::Program;
use crate::Result;

/// The `CONFIG_*` options of a kernel build tree.
pub struct KernelConfig {
    options: BTreeMap<String, String>,
}

impl KernelConfig {
    /// Reads `kdir/.config` (Debian's headers ship it), else
    /// `kdir/include/config/auto.conf`.
    pub fn read(kdir: &Path) -> Result<KernelConfig> {
        let candidates = [kdir.join(".config"), kdir.join("include/config/auto.conf")];
        let Some(path) = candidates.iter().find(|p| p.is_file()) else {
            return Err(Error::Build {
                tool: "rustc".into(),
                output: format!(
                    "no .config in {} (nor include/config/auto.conf): the Rust object's \
                     code generation follows the kernel's configuration",
                    kdir.display()
                ),
            });
        };
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Ok(KernelConfig::parse(&text))
    }

    pub fn parse(text: &str) -> KernelConfig {
        let options = text
            .lines()
            .filter_map(|l| l.strip_prefix("CONFIG_"))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
            .collect();
        KernelConfig { options }
    }

    /// `CONFIG_<name>=y`
    pub fn has(&self, name: &str) -> bool {
        self.options.get(name).map(String::as_str) == Some("y")
    }

    pub fn value(&self, name: &str) -> Option<&str> {
        self.options.get(name).map(String::as_str)
    }
}

/// What rustc is run with for one kernel.
#[derive(Clone, Debug, Default)]
pub struct Codegen {
    pub flags: Vec<String>,
    /// The mitigations among them, in words (for the shell's comment).
    pub mitigations: Vec<String>,
}

/// The kernel's rustflags for `cfg`, each with the reason.
///
/// - Always: `panic=abort` (no unwinding in the kernel), no overflow
///   checks or debug assertions (the validator proved the arithmetic), one
///   codegen unit, no LTO or bitcode, no unwind tables, static relocation
///   model and kernel code model (modules live in the top 2 GiB), no red
///   zone (interrupts use the kernel stack below `%rsp`), and no
///   MMX/SSE/AVX with soft float, as the kernel's target.json and
///   arch/x86/Makefile say. rustc warns that the host target's ABI wants
///   SSE2: no float crosses any function boundary here (the snapshot has
///   no float type; [`check_object`] finds no SSE/x87 instruction).
/// - `-Zplt=yes`: the host target calls external functions through the
///   GOT (`R_X86_64_GOTPCREL`), which the x86 module loader does not
///   relocate; the kernel's own target spec calls them directly.
/// - `CONFIG_(MITIGATION_)RETPOLINE`: indirect branches through the
///   kernel's `__x86_indirect_thunk_*`. The host's `core` was built
///   without, hence `-Cunsafe-allow-abi-mismatch`: the object uses no
///   function of `core` (its undefined symbols are all kernel exports).
/// - `CONFIG_(MITIGATION_)RETHUNK`: every return through
///   `__x86_return_thunk` (objtool `--rethunk` rejects a bare `ret`).
/// - `CONFIG_(MITIGATION_)SLS`: `int3` after returns and indirect jumps.
/// - `CONFIG_X86_KERNEL_IBT`: `endbr64` landing pads, no jump tables.
/// - `CONFIG_CALL_PADDING`: the function padding the kernel patches for
///   call depth tracking and FineIBT.
pub fn codegen(cfg: &KernelConfig) -> Codegen {
    let mut g = Codegen::default();
    let mut add = |f: &str| g.flags.push(f.to_string());
    for f in [
        "--edition=2021",
        "-Cpanic=abort",
        "-Cembed-bitcode=n",
        "-Clto=n",
        "-Cforce-unwind-tables=n",
        "-Ccodegen-units=1",
        "-Csymbol-mangling-version=v0",
        "-Crelocation-model=static",
        "-Ccode-model=kernel",
        "-Cno-redzone=y",
        "-Zfunction-sections=n",
        "-Zplt=yes",
        "-Cdebug-assertions=n",
        "-Coverflow-checks=n",
    ] {
        add(f);
    }
    add(if cfg.has("CC_OPTIMIZE_FOR_SIZE") {
        "-Copt-level=s"
    } else {
        "-Copt-level=2"
    });
    let mut features =
        "-mmx,+soft-float,-sse,-sse2,-sse3,-ssse3,-sse4.1,-sse4.2,-avx,-avx2".to_string();
    let sls = cfg.has("MITIGATION_SLS") || cfg.has("SLS");
    if sls {
        features.push_str(",+harden-sls-ijmp,+harden-sls-ret");
    }
    add(&format!("-Ctarget-feature={features}"));
    if cfg.has("GENERIC_CPU") {
        add("-Ztune-cpu=generic");
    }
    if cfg.has("FRAME_POINTER") {
        add("-Cforce-frame-pointers=y");
    }
    let mut mitigations = Vec::new();
    if cfg.has("MITIGATION_RETPOLINE") || cfg.has("RETPOLINE") {
        add("-Zretpoline-external-thunk");
        add("-Zretpoline");
        add("-Cunsafe-allow-abi-mismatch=retpoline,retpoline-external-thunk");
        mitigations.push("retpolines".to_string());
    }
    if cfg.has("MITIGATION_RETHUNK") || cfg.has("RETHUNK") {
        add("-Zfunction-return=thunk-extern");
        mitigations.push("return thunks".to_string());
    }
    if sls {
        mitigations.push("SLS hardening".to_string());
    }
    if cfg.has("X86_KERNEL_IBT") {
        add("-Zcf-protection=branch");
        add("-Cjump-tables=n");
        mitigations.push("IBT landing pads".to_string());
    }
    if cfg.has("CALL_PADDING") {
        let n = cfg.value("FUNCTION_PADDING_BYTES").unwrap_or("16");
        add(&format!("-Zpatchable-function-entry={n},{n}"));
        mitigations.push(format!("{n} bytes of call padding"));
    }
    g.mitigations = mitigations;
    g
}

/// Compiles the module's crate root (`<stem>_kernel.rs`, with the
/// snapshot beside it) in `dir` into `<stem>_rust.o_shipped`.
pub fn compile_kernel_object(
    module: &RustModule,
    files: &kernel::KernelFiles,
    dir: &Path,
    g: &Codegen,
) -> Result<PathBuf> {
    for (name, text) in files.files(module) {
        let p = dir.join(&name);
        std::fs::write(&p, text).map_err(|e| Error::io(&p, e))?;
    }
    let obj = dir.join(files.object_name());
    let mut cmd = userspace::rustc();
    cmd.env("RUSTC_BOOTSTRAP", "1")
        .args(&g.flags)
        .args(["--crate-type", "lib", "--emit", "obj", "--crate-name"])
        .arg(format!("{}_kernel", module.stem))
        .arg("-o")
        .arg(&obj)
        .arg(dir.join(files.entry_name()));
    run_tool(cmd, "rustc (kernel object)")?;
    Ok(obj)
}

fn tool_output(cmd: &mut Command, what: &str) -> Result<String> {
    let out = cmd.output().map_err(|e| Error::Build {
        tool: what.into(),
        output: format!("{cmd:?}: {e} (apt-get install binutils)"),
    })?;
    if !out.status.success() {
        return Err(Error::Build {
            tool: what.into(),
            output: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Symbols the kernel exports (`Module.symvers` of the tree).
pub fn kernel_exports(kdir: &Path) -> Result<HashSet<String>> {
    let p = kdir.join("Module.symvers");
    let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
    Ok(text
        .lines()
        .filter_map(|l| l.split('\t').nth(1))
        .map(str::to_string)
        .collect())
}

/// Symbols of `obj`, defined or not (`nm`), that name a panic or an
/// unwinder (`core::panicking::*`, `panic_bounds_check`,
/// `rust_begin_unwind`, `_Unwind_Resume`, `rust_eh_personality`): a
/// reachable panic path, or one inlined into the object.
pub fn panic_symbols(obj: &Path) -> Result<Vec<String>> {
    let text = tool_output(Command::new("nm").arg(obj), "nm")?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .filter(|s| {
            let s = s.to_ascii_lowercase();
            s.contains("panic") || s.contains("unwind") || s.contains("eh_personality")
        })
        .map(str::to_string)
        .collect())
}

/// `nm -u`: the undefined symbols of `obj`.
pub fn undefined_symbols(obj: &Path) -> Result<Vec<String>> {
    let text = tool_output(Command::new("nm").arg("-u").arg(obj), "nm")?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .map(str::to_string)
        .collect())
}

/// Instructions of `obj` (objdump's disassembly) that kernel code must not
/// hold: any MMX/SSE/AVX register, an x87 instruction (`f…`), vector state
/// (`emms`, `ldmxcsr`, …) or a division. One line each, as objdump prints
/// it.
pub fn forbidden_instructions(obj: &Path) -> Result<Vec<String>> {
    let text = tool_output(
        Command::new("objdump")
            .args(["-d", "--no-show-raw-insn", "-M", "att"])
            .arg(obj),
        "objdump",
    )?;
    Ok(text
        .lines()
        .filter(|l| is_forbidden(l))
        .map(|l| l.trim().to_string())
        .collect())
}

fn is_forbidden(line: &str) -> bool {
    // "  1a:\tmov    %rdi,%rax" -> the instruction after the address.
    let Some((addr, insn)) = line.split_once(":\t") else {
        return false;
    };
    if !addr.trim().chars().all(|c| c.is_ascii_hexdigit()) {
        return false;
    }
    let insn = insn.trim();
    let mnemonic = insn
        .split_whitespace()
        .find(|w| {
            !matches!(
                *w,
                "lock" | "rep" | "repz" | "repnz" | "notrack" | "bnd" | "cs" | "ds"
            )
        })
        .unwrap_or("");
    let vector = ["%xmm", "%ymm", "%zmm", "%mm", "%st", "%k"]
        .iter()
        .any(|r| insn.contains(r));
    vector
        || mnemonic.starts_with('f')
        || mnemonic.starts_with("div")
        || mnemonic.starts_with("idiv")
        || [
            "emms",
            "ldmxcsr",
            "stmxcsr",
            "xsave",
            "xrstor",
            "vzeroupper",
        ]
        .iter()
        .any(|m| mnemonic.starts_with(m))
}

/// Section names of `obj` (`readelf -SW`), in section order.
pub fn section_names(obj: &Path) -> Result<Vec<String>> {
    let text = tool_output(Command::new("readelf").arg("-SW").arg(obj), "readelf")?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let rest = l.trim_start().strip_prefix('[')?;
            let (n, rest) = rest.split_once(']')?;
            n.trim().parse::<usize>().ok()?;
            rest.split_whitespace().next().map(str::to_string)
        })
        .collect())
}

/// Refuses an object that needs a symbol the kernel does not export,
/// names a panic ([`panic_symbols`]), holds an instruction kernel code
/// must not, or carries an unwind table
/// (`.eh_frame`: the kernel unwinds with objtool's ORC tables, and its C
/// is built with `-fno-asynchronous-unwind-tables`; the writer emits no
/// code that gives rustc a reason for one, see `back::rust::writer`).
pub fn check_object(obj: &Path, exports: &HashSet<String>) -> Result<()> {
    let missing: Vec<String> = undefined_symbols(obj)?
        .into_iter()
        .filter(|s| !exports.contains(s))
        .collect();
    let bad = forbidden_instructions(obj)?;
    let unwind: Vec<String> = section_names(obj)?
        .into_iter()
        .filter(|s| s.contains("eh_frame"))
        .collect();
    let panics = panic_symbols(obj)?;
    if missing.is_empty() && bad.is_empty() && unwind.is_empty() && panics.is_empty() {
        return Ok(());
    }
    let mut output = String::new();
    if !panics.is_empty() {
        output.push_str(&format!(
            "{} has panic symbols: {}\n",
            obj.display(),
            panics.join(", ")
        ));
    }
    if !unwind.is_empty() {
        output.push_str(&format!(
            "{} has unwind tables ({}): kernel code has none\n",
            obj.display(),
            unwind.join(", ")
        ));
    }
    if !missing.is_empty() {
        output.push_str(&format!(
            "{} needs symbols the kernel does not export: {}\n",
            obj.display(),
            missing.join(", ")
        ));
    }
    for l in bad.iter().take(20) {
        output.push_str(&format!("forbidden in kernel code: {l}\n"));
    }
    Err(Error::Build {
        tool: "rustc (kernel object check)".into(),
        output,
    })
}

/// A built Rust snapshot module.
pub struct RustKo {
    pub path: PathBuf,
    /// kbuild's warnings (objtool, modpost), one per line; none expected.
    pub warnings: Vec<String>,
}

/// Compiles `module` for `kdir` (default: the running kernel's), checks the
/// object, and links it with its C shell into `out`. Nothing is left at
/// `out` on failure.
pub fn build_ko(
    program: &Program,
    module: &RustModule,
    meta: &ModuleMeta,
    out: &Path,
    kdir: Option<&Path>,
    sign: Option<&super::sign::SigningKey>,
) -> Result<RustKo> {
    let kdir = kdir
        .map(Path::to_path_buf)
        .unwrap_or_else(super::default_kdir);
    super::check_kdir(&kdir)?;
    let g = codegen(&KernelConfig::read(&kdir)?);
    let files = kernel::emit(program, module, meta, &g.flags, &g.mitigations)?;
    let dir = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let obj = compile_kernel_object(module, &files, dir.path(), &g)?;
    check_object(&obj, &kernel_exports(&kdir)?)?;
    let object = std::fs::read(&obj).map_err(|e| Error::io(&obj, e))?;
    let mut tree: Vec<(String, Vec<u8>)> = files
        .files(module)
        .into_iter()
        .map(|(n, t)| (n, t.as_bytes().to_vec()))
        .collect();
    tree.push((files.object_name(), object));
    let (path, log) = super::build_tree(&module.stem, &tree, out, Some(&kdir), sign)?;
    Ok(RustKo {
        path,
        warnings: kbuild_warnings(&log),
    })
}

/// The warning lines of a kbuild log (compiler, objtool, modpost).
pub fn kbuild_warnings(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.to_ascii_lowercase().contains("warning"))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_instruction_lines() {
        for l in [
            "  1a:\tdivq   %rcx",
            "  1a:\tidiv   %rsi",
            "  20:\tmovaps %xmm0,(%rsp)",
            "  20:\tfldt   0x10(%rsp)",
            "  20:\tpxor   %mm0,%mm0",
        ] {
            assert!(is_forbidden(l), "{l}");
        }
        for l in [
            "  1a:\tmov    %rdi,%rax",
            "  1a:\timul   %rcx,%rax",
            "0000000000000010 <lf_t>:",
            "  2c:\tjmp    31 <__x86_return_thunk>",
            "  1a:\tendbr64",
        ] {
            assert!(!is_forbidden(l), "{l}");
        }
    }

    #[test]
    fn codegen_follows_the_config() {
        let g = codegen(&KernelConfig::parse(
            "CONFIG_MITIGATION_RETPOLINE=y\nCONFIG_MITIGATION_RETHUNK=y\n\
             CONFIG_X86_KERNEL_IBT=y\nCONFIG_CALL_PADDING=y\nCONFIG_FUNCTION_PADDING_BYTES=16\n",
        ));
        for f in [
            "-Zretpoline-external-thunk",
            "-Zfunction-return=thunk-extern",
            "-Zcf-protection=branch",
            "-Zpatchable-function-entry=16,16",
            "-Ccode-model=kernel",
            "-Cno-redzone=y",
        ] {
            assert!(g.flags.iter().any(|x| x == f), "{f} missing: {:?}", g.flags);
        }
        let g = codegen(&KernelConfig::parse("# CONFIG_X86_KERNEL_IBT is not set\n"));
        assert!(!g.flags.iter().any(|x| x.starts_with("-Zcf-protection")));
        assert!(!g.flags.iter().any(|x| x.starts_with("-Zretpoline")));
    }
}
