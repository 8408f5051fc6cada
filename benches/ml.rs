//! Instructions per inference of the ONNX-ML fixtures (`tests/fixtures/ml/`)
//! under callgrind: each compiled with `--calibration` only (trees at input
//! scale 10^6, as in the tests), the emitted C built with the kernel's
//! CFLAGS and run by the Aurora timing driver on the 300 held-out rows;
//! a run of N iterations minus a run of 0, divided by N * rows.
//!
//!     cargo bench --bench ml

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use lfc::back::c::userspace::{compile_object, compiler, kernel_cflags, run_tool, write_tree};
use lfc::pipeline::{self, CompileOptions};

const TIMING_C: &str = include_str!("aurora_timing.c");

const MODELS: &[(&str, &str, bool)] = &[
    ("skl_scaler_mlp_reg", "reg", false),
    ("skl_mlp_clf", "clf", false),
    ("skl_dtree_reg", "reg", true),
    ("skl_rf_reg", "reg", true),
    ("skl_scaler_linreg", "reg", false),
    ("skl_logreg", "clf", false),
    ("lgbm_reg", "reg", true),
    ("lgbm_clf", "clf", true),
    ("xgb_reg", "reg", true),
    ("xgb_clf", "clf", true),
    ("skl_rf_bin", "clf", true),
    ("skl_gb_bin", "clf", true),
    ("skl_logreg_bin", "clf", false),
    ("lgbm_bin", "clf", true),
    ("xgb_bin", "clf", true),
    ("skl_binarizer_linreg", "reg", true),
    ("lgbm_cat_reg", "cat", true),
    ("lgbm_cat_neq_reg", "cat", true),
];

fn fixture(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/ml")
        .join(p)
}

fn run(cmd: &mut Command, input: &[u8]) {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn driver");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn callgrind_ir(exe: &Path, iterations: u64, input: &[u8], dir: &Path) -> f64 {
    let f = dir.join(format!("cg.{iterations}.out"));
    run(
        Command::new("valgrind")
            .arg("--tool=callgrind")
            .arg(format!("--callgrind-out-file={}", f.display()))
            .arg(exe)
            .arg(iterations.to_string()),
        input,
    );
    std::fs::read_to_string(&f)
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("callgrind total")
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if !args.is_empty() && !args.iter().any(|a| "ml".contains(a.as_str())) {
        return;
    }
    if Command::new("valgrind")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        println!("ml: valgrind not installed, no instruction counts");
        return;
    }
    for &(name, task, trees) in MODELS {
        let opts = CompileOptions {
            calibration: Some(fixture(&format!("calib_{task}.csv"))),
            input_scale: if trees { 1_000_000 } else { 1000 },
            ..Default::default()
        };
        let c = pipeline::compile(&fixture(&format!("{name}.onnx")), &opts).expect("compile");
        let module = c.emit_c().expect("emit");
        let held = fixture(&format!("heldout_{task}.csv"));
        let m = lfc::data::read_matrix(&held).unwrap();
        let rows = pipeline::to_fixed(&held, &m, c.program.input_scale).unwrap();
        let input: Vec<u8> = rows
            .iter()
            .flatten()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let source = write_tree(&module, dir.path()).unwrap();
        let driver = dir.path().join("driver.c");
        std::fs::write(&driver, TIMING_C).unwrap();
        let (mo, dobj) = (dir.path().join("m.o"), dir.path().join("d.o"));
        let mut flags = kernel_cflags();
        flags.extend(["-Wall", "-Werror"]);
        compile_object(&source, &mo, &flags).expect("compile module");
        compile_object(&driver, &dobj, &["-O2"]).expect("compile driver");
        let exe = dir.path().join("driver");
        let mut link = compiler().unwrap();
        link.arg(&mo).arg(&dobj).arg("-o").arg(&exe);
        run_tool(link, "cc (link)").expect("link");
        let n = 20u64;
        let full = callgrind_ir(&exe, n, &input, dir.path());
        let base = callgrind_ir(&exe, 0, &input, dir.path());
        let per = (full - base) / (n as f64 * rows.len() as f64);
        println!(
            "{name:<20} {per:8.0} instructions/inference ({} MACs)",
            c.program.macs()
        );
    }
}
