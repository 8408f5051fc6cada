//! Rust snapshots as kernel code: `lfc compile --backend rust -o X.ko`
//! against every installed Debian kernel's headers (6.1 and 6.12), and the
//! rustc object of every fixture checked as kbuild would link it: no
//! undefined symbol the kernel does not export, no SSE/MMX/x87 or division
//! instruction, the entry point the C shell calls. The checks are shown to
//! fail on objects that break them. Loading and running the modules is the
//! VM suite's part (tests/vm/guest.d/rust.sh).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use lfc::back::rust::kernel;
use lfc::kbuild::rust as krust;
use lfc::pipeline;

use crate::exec::{cases, manifest};

/// Every installed `/usr/src/linux-headers-*-amd64` (scripts/install-deps.sh
/// installs 6.1 and 6.12; fewer than two is a failure, not a skip).
fn kdirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/src")
        .expect("/usr/src")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with("linux-headers-") && n.ends_with("-amd64")
        })
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= 2,
        "want the 6.1 and 6.12 headers, found {dirs:?}: run scripts/install-deps.sh"
    );
    dirs
}

fn lfc(args: &[&str], cache: &Path) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_lfc"))
        .args(args)
        .env("LFC_CACHE", cache)
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    out
}

fn modinfo(ko: &Path) -> Vec<(String, String)> {
    let out = Command::new("modinfo").arg(ko).output().unwrap();
    assert!(out.status.success(), "modinfo {}", ko.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| k != "filename")
        .collect()
}

/// The C and the Rust `.ko` of Aurora for each kernel: both build with no
/// kbuild warning (objtool, modpost), and modinfo of the Rust one is the C
/// one's plus `backend: rust`.
#[test]
fn rust_ko_builds_for_each_kernel_with_c_modinfo_plus_backend() {
    let dir = tempfile::tempdir().unwrap();
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("lfc-cache");
    let model = manifest("examples/aurora/aurora.onnx");
    let calib = manifest("examples/aurora/representative_dataset.npy");
    for kdir in kdirs() {
        let mut info = Vec::new();
        for backend in ["c", "rust"] {
            let ko = dir.path().join(backend).join("lf_model_42.ko");
            std::fs::create_dir_all(ko.parent().unwrap()).unwrap();
            let out = lfc(
                &[
                    "compile",
                    model.to_str().unwrap(),
                    "--calibration",
                    calib.to_str().unwrap(),
                    "--backend",
                    backend,
                    "--kdir",
                    kdir.to_str().unwrap(),
                    "-o",
                    ko.to_str().unwrap(),
                ],
                &cache,
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success(),
                "{backend} {}: {stderr}",
                kdir.display()
            );
            assert!(
                !stderr.contains("kbuild:"),
                "{backend} {}: kbuild warnings:\n{stderr}",
                kdir.display()
            );
            if backend == "rust" {
                ko_is_kernel_code(&ko);
            }
            info.push(modinfo(&ko));
        }
        let (c, rust) = (&info[0], &info[1]);
        let mut want: Vec<(String, String)> = c
            .iter()
            .filter(|(k, _)| k != "description" && k != "srcversion")
            .cloned()
            .collect();
        want.push(("backend".into(), "rust".into()));
        let got: Vec<(String, String)> = rust
            .iter()
            .filter(|(k, _)| k != "description" && k != "srcversion")
            .cloned()
            .collect();
        let (want, got): (BTreeSet<_>, BTreeSet<_>) =
            (want.into_iter().collect(), got.into_iter().collect());
        assert_eq!(got, want, "{}: modinfo", kdir.display());
        assert!(rust.iter().any(|(k, v)| k == "uuid" && v == "42"));
    }
}

/// The linked Rust `.ko` (the rustc object, its C shell and kbuild's
/// `.mod.o`): no SSE/MMX/x87 or division instruction anywhere in its
/// disassembly, no symbol naming a panic or an unwinder, no `.eh_frame`.
fn ko_is_kernel_code(ko: &Path) {
    let bad = krust::forbidden_instructions(ko).unwrap();
    assert!(bad.is_empty(), "{}: {bad:#?}", ko.display());
    let panics = krust::panic_symbols(ko).unwrap();
    assert!(panics.is_empty(), "{}: {panics:?}", ko.display());
    let sections = krust::section_names(ko).unwrap();
    assert!(
        sections.iter().any(|s| s == ".text"),
        "{}: no .text in {sections:?}",
        ko.display()
    );
    assert!(
        !sections.iter().any(|s| s.contains("eh_frame")),
        "{}: {sections:?}",
        ko.display()
    );
    // The Rust function is in the .ko, and it was disassembled above.
    let nm = Command::new("nm").arg(ko).output().unwrap();
    assert!(
        String::from_utf8_lossy(&nm.stdout).contains("_rust_infer"),
        "{}: no Rust entry point",
        ko.display()
    );
}

/// The kernel object of every fixture (the ONNX-ML ones included), int16
/// and int8, for each kernel's
/// code generation: only kernel-exported undefined symbols, no SSE/x87 or
/// division instruction, and the entry point the C shell calls is defined.
#[test]
fn rust_kernel_objects_of_every_fixture_are_kernel_code() {
    let dir = tempfile::tempdir().unwrap();
    let targets: Vec<(PathBuf, krust::Codegen, _)> = kdirs()
        .into_iter()
        .map(|k| {
            let g = krust::codegen(&krust::KernelConfig::read(&k).unwrap());
            let exports = krust::kernel_exports(&k).unwrap();
            (k, g, exports)
        })
        .collect();
    let mut built = 0;
    for precision in [lfc::ir::Precision::Int16, lfc::ir::Precision::Int8] {
        let mut all = cases(dir.path());
        all.extend(crate::ml::ml_cases());
        for (name, path, mut opts) in all {
            opts.precision = precision;
            let what = format!("{name} ({})", precision.name());
            let c = pipeline::compile(&path, &opts).unwrap_or_else(|e| panic!("{what}: {e}"));
            let module = c.emit_rust().unwrap_or_else(|e| panic!("{what}: {e}"));
            for (kdir, g, exports) in &targets {
                let files = kernel::emit(&c.program, &module, &c.meta, &g.flags, &[]).unwrap();
                let sub = tempfile::tempdir_in(dir.path()).unwrap();
                let obj = krust::compile_kernel_object(&module, &files, sub.path(), g)
                    .unwrap_or_else(|e| panic!("{what} {}: {e}", kdir.display()));
                krust::check_object(&obj, exports)
                    .unwrap_or_else(|e| panic!("{what} {}: {e}", kdir.display()));
                let nm = Command::new("nm").arg(&obj).output().unwrap();
                let entry = kernel::entry_symbol(&module.stem);
                assert!(
                    String::from_utf8_lossy(&nm.stdout)
                        .lines()
                        .any(|l| l.ends_with(&format!(" T {entry}"))),
                    "{what}: {entry} not defined"
                );
                built += 1;
            }
        }
    }
    assert!(built >= 2 * 2 * 10, "only {built} objects");
}

/// The object checks reject a division, floating point, a call into
/// `core`'s panic (a symbol the kernel does not export) and an unwind
/// table.
#[test]
fn rust_kernel_object_check_rejects_what_kernel_code_must_not_hold() {
    let kdir = &kdirs()[kdirs().len() - 1];
    let g = krust::codegen(&krust::KernelConfig::read(kdir).unwrap());
    let exports = krust::kernel_exports(kdir).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bad = [
        (
            "div",
            "pub extern \"C\" fn f(a: i64, b: i64) -> i64 { a.wrapping_div(b | 1) }",
            "forbidden in kernel code",
        ),
        (
            "float",
            "pub extern \"C\" fn f(a: &mut [f64; 4]) { for x in a.iter_mut() { *x = *x * 1.5 + 0.25; } }",
            "",
        ),
        (
            "panic",
            "pub extern \"C\" fn f(a: &[i64; 4], i: usize) -> i64 { a[i] }",
            "panic symbols",
        ),
        // `Ord::max`/`min` come from core's MIR with a cleanup block: the
        // function gets a personality, so an `.eh_frame` entry (the Rust
        // writer prints `lf_clamp` instead).
        (
            "unwind",
            "pub extern \"C\" fn f(a: &[i64; 4]) -> i64 { (a[0] - a[1]).max(0).min(a[2]) }",
            "unwind tables",
        ),
    ];
    for (name, body, want) in bad {
        let src = dir.path().join(format!("{name}.rs"));
        std::fs::write(&src, format!("#![no_std]\n#[no_mangle]\n{body}\n")).unwrap();
        let obj = dir.path().join(format!("{name}.o"));
        let out = lfc::back::rust::userspace::rustc()
            .env("RUSTC_BOOTSTRAP", "1")
            .args(&g.flags)
            .args(["--crate-type", "lib", "--emit", "obj", "-o"])
            .arg(&obj)
            .arg(&src)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let err = krust::check_object(&obj, &exports)
            .expect_err(name)
            .to_string();
        assert!(err.contains(want), "{name}: {err}");
    }
}
