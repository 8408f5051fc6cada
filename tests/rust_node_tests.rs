//! The Rust back end over the conformance list (issue 9: every model that
//! compiles to C also compiles to Rust): every test of
//! `tests/conformance/node-tests.txt`, at each listed precision, emits Rust
//! (none is refused), and its `infer`, built by rustc, gives the
//! interpreter's integers bit for bit on the test's own input and on
//! random rows over its domain (the conformance test holds C ==
//! interpreter on the same programs). The fixtures are `exec.rs`'s part.
//!
//! All snapshots go into one crate (a module each, a dispatch on the test
//! index), so rustc runs twice in all: the userspace harness, and the same
//! modules as one kernel object (the newest installed kernel's code
//! generation), which [`krust::check_object`] accepts: no undefined symbol
//! the kernel does not export (so no panic path), no symbol naming a
//! panic, no SSE/x87 or division instruction, no unwind table.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use lfc::back::interp;
use lfc::back::rust::userspace as rs;
use lfc::ir::InstrKind;
use lfc::kbuild::rust as krust;
use lfc::pipeline::{self, CompileOptions};

use crate::conformance::{all_tests, pass_list, read_flat, run_test_with, NodeTest};
use crate::models::Rng;

/// Random rows of a node test: uniform over its declared input range (the
/// min and max of its input), plus the two ends.
fn domain_rows(c: &pipeline::Compiled, n: usize, seed: u64) -> Vec<Vec<i64>> {
    let mut rng = Rng::new(seed);
    let is = c.program.input_scale as f64;
    let d = &c.domain;
    let mut rows: Vec<Vec<i64>> = (0..n)
        .map(|_| {
            (0..d.lo.len())
                .map(|i| ((d.lo[i] + rng.uniform() * (d.hi[i] - d.lo[i])) * is).round() as i64)
                .collect()
        })
        .collect();
    rows.push(d.lo.iter().map(|x| (x * is).round() as i64).collect());
    rows.push(d.hi.iter().map(|x| (x * is).round() as i64).collect());
    rows
}

/// The options the conformance test compiles `t` with.
fn options(t: &NodeTest, precision: lfc::ir::Precision) -> CompileOptions {
    let mut opts = None;
    run_test_with(t, precision, false, |o| {
        opts = Some(o.clone());
        o
    });
    opts.expect("the options are built before compiling")
}

struct Case {
    what: String,
    compiled: pipeline::Compiled,
    module: lfc::back::rust::RustModule,
    rows: Vec<Vec<i64>>,
}

/// One crate root: `pub mod tK` per case, and (for the harness) a `main`
/// that runs case `argv[1]` on the rows of stdin.
fn crate_root(cases: &[Case], harness: bool) -> String {
    let mut s = String::from("#![allow(dead_code)]\n");
    if !harness {
        s.push_str("#![no_std]\n");
    }
    for (k, c) in cases.iter().enumerate() {
        s.push_str(&format!(
            "// {}\n#[allow(unused_attributes)]\n#[path = \"t{k}.rs\"]\npub mod t{k};\n",
            c.what
        ));
    }
    if !harness {
        return s;
    }
    s.push_str(
        r#"
use std::io::{Read, Write};

fn rows<const I: usize, const O: usize>(inp: &[u8], mut f: impl FnMut(&[i64; I], &mut [i64; O]) -> u32) -> Vec<u8> {
    let mut out = Vec::new();
    for row in inp.chunks_exact(8 * I) {
        let mut x = [0i64; I];
        for (v, c) in x.iter_mut().zip(row.chunks_exact(8)) {
            *v = i64::from_le_bytes(c.try_into().unwrap());
        }
        let mut y = [0i64; O];
        // The LF_INFER_* flags (ABI 2) are compared with C's by the exec
        // tests; here the outputs.
        let _flags = f(&x, &mut y);
        for v in y {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

fn main() {
    let k: usize = std::env::args().nth(1).unwrap().parse().unwrap();
    let mut inp = Vec::new();
    std::io::stdin().read_to_end(&mut inp).unwrap();
    let out = match k {
"#,
    );
    for (k, c) in cases.iter().enumerate() {
        let call = if c.module.scratch {
            format!(
                "{{ let mut s = t{k}::Scratch::new(); rows(&inp, |x, y| t{k}::infer(x, y, &mut s)) }}"
            )
        } else {
            format!("rows(&inp, t{k}::infer)")
        };
        s.push_str(&format!("        {k} => {call},\n"));
    }
    s.push_str("        _ => panic!(\"no case {k}\"),\n    };\n    std::io::stdout().write_all(&out).unwrap();\n}\n");
    s
}

fn rustc(dir: &Path, root: &str, name: &str, args: &[String]) {
    let src = dir.join(format!("{name}.rs"));
    std::fs::write(&src, root).unwrap();
    let out = rs::rustc()
        .env("RUSTC_BOOTSTRAP", "1")
        .args(args)
        .arg("-o")
        .arg(dir.join(name))
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rustc {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run_case(exe: &Path, k: usize, c: &Case) -> Vec<Vec<i64>> {
    let mut child = Command::new(exe)
        .arg(k.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let bytes: Vec<u8> = c
        .rows
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}: harness {}", c.what, out.status);
    let n = c.module.output_len;
    out.stdout
        .chunks_exact(8 * n)
        .map(|r| {
            r.chunks_exact(8)
                .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
                .collect()
        })
        .collect()
}

/// The newest installed kernel's headers, for the kernel object's code
/// generation and exports (rust_kernel.rs requires both 6.1 and 6.12).
fn newest_kdir() -> std::path::PathBuf {
    let mut dirs: Vec<_> = std::fs::read_dir("/usr/src")
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with("linux-headers-") && n.ends_with("-amd64")
        })
        .collect();
    dirs.sort();
    dirs.pop()
        .expect("linux headers: run scripts/install-deps.sh")
}

#[test]
fn rust_node_tests_match_the_interpreter_and_are_kernel_code() {
    let list = pass_list();
    let mut cases = Vec::new();
    for t in all_tests() {
        let Some(precisions) = list.get(&t.name) else {
            continue;
        };
        for &precision in precisions {
            let what = format!("{} ({})", t.name, precision.name());
            let opts = options(&t, precision);
            let compiled = pipeline::compile(&t.dir.join("model.onnx"), &opts)
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            let module = compiled
                .emit_rust()
                .unwrap_or_else(|e| panic!("{what}: the Rust back end refuses it: {e}"));
            let x = read_flat(&t.dir.join("input_0.pb"));
            let mut rows = pipeline::to_fixed(
                &t.dir,
                &lfc::data::Matrix::new(1, x.len(), x),
                opts.input_scale,
            )
            .unwrap();
            rows.extend(domain_rows(&compiled, 30, 7));
            cases.push(Case {
                what,
                compiled,
                module,
                rows,
            });
        }
    }
    assert!(cases.len() >= 300, "only {} listed cases", cases.len());
    let dir = tempfile::tempdir().unwrap();
    for (k, c) in cases.iter().enumerate() {
        std::fs::write(dir.path().join(format!("t{k}.rs")), &c.module.source).unwrap();
    }
    let mut user: Vec<String> = rs::RUSTC_FLAGS.iter().map(|s| s.to_string()).collect();
    user.extend(["--crate-name", "lf_nodes"].map(String::from));
    rustc(dir.path(), &crate_root(&cases, true), "harness", &user);
    let exe = dir.path().join("harness");
    let mut group_max = 0;
    for (k, c) in cases.iter().enumerate() {
        let got = run_case(&exe, k, c);
        assert_eq!(got.len(), c.rows.len(), "{}", c.what);
        for (r, row) in c.rows.iter().enumerate() {
            let want = interp::run(&c.compiled.program, row);
            assert_eq!(
                got[r], want,
                "{}: row {r} {row:?}: Rust != interpreter",
                c.what
            );
        }
        let has = |f: fn(&InstrKind) -> bool| c.compiled.program.instrs.iter().any(|i| f(&i.kind));
        group_max += has(|k| matches!(k, InstrKind::GroupMax { .. })) as usize;
    }
    // MaxPool and ReduceMax lower to GroupMax, which the Rust back end
    // refused before.
    assert!(group_max >= 20, "only {group_max} GroupMax cases");

    let kdir = newest_kdir();
    let g = krust::codegen(&krust::KernelConfig::read(&kdir).unwrap());
    let mut kflags = g.flags.clone();
    kflags.extend(
        [
            "--crate-type",
            "lib",
            "--emit",
            "obj",
            "--crate-name",
            "lf_nodes",
        ]
        .map(String::from),
    );
    rustc(dir.path(), &crate_root(&cases, false), "kernel.o", &kflags);
    let exports = krust::kernel_exports(&kdir).unwrap();
    if let Err(e) = krust::check_object(&dir.path().join("kernel.o"), &exports) {
        // Name the functions that carry a personality (the unwind table's
        // cause) from the same build's LLVM IR.
        let mut ir = g.flags.clone();
        ir.extend(
            [
                "--crate-type",
                "lib",
                "--emit",
                "llvm-ir",
                "--crate-name",
                "lf_nodes",
            ]
            .map(String::from),
        );
        rustc(dir.path(), &crate_root(&cases, false), "kernel.ll", &ir);
        let text = std::fs::read_to_string(dir.path().join("kernel.ll")).unwrap();
        let with: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("define") && l.contains("personality"))
            .take(10)
            .collect();
        panic!("{} cases as one kernel object: {e}\n{with:#?}", cases.len());
    }
    eprintln!(
        "{} listed node-test cases: Rust == interpreter, one kernel object ({}) clean",
        cases.len(),
        kdir.display()
    );
}
