//! Issue 12's crash inputs (`tests/regressions/`, written by
//! `scripts/gen-regressions.py`; the fuzzers' finds are added beside them):
//! each once made lfc panic, abort or hang. Through the real binary, each
//! now fails within seconds with a message naming the file and the thing at
//! fault, a non-zero exit, no panic and no output left behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn regression(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/regressions")
        .join(name)
}

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/aurora")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Runs lfc with `args` (`OUT` is replaced by a fresh output path), kills it
/// after 60 s; checks it failed, did not panic, named every `expect` and
/// left nothing at the output path.
fn fails(args: &[&str], expect: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.c");
    let out_s = out.to_string_lossy().into_owned();
    let args: Vec<&str> = args
        .iter()
        .map(|a| if *a == "OUT" { out_s.as_str() } else { a })
        .collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lfc"))
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("lfc {args:?} still running after 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "lfc {args:?} succeeded");
    assert_eq!(status.code(), Some(1), "lfc {args:?}: {status}\n{stderr}");
    assert!(
        !stderr.contains("panicked"),
        "lfc {args:?} panicked:\n{stderr}"
    );
    for e in expect {
        assert!(
            stderr.contains(e),
            "lfc {args:?}: message lacks `{e}`:\n{stderr}"
        );
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "lfc {args:?} left {left:?}");
}

fn compile_fails(model: &str, extra: &[&str], expect: &[&str]) {
    let m = regression(model);
    let mut args = vec!["compile", m.to_str().unwrap(), "-o", "OUT"];
    args.extend_from_slice(extra);
    fails(&args, expect);
}

/// Front-end refusals name the model file too.
fn load_fails(model: &str, expect: &[&str]) {
    let mut expect = expect.to_vec();
    expect.push(model);
    compile_fails(model, &[RANGE], &expect);
}

const RANGE: &str = "--input-range=-1:1";

#[test]
fn regress_zero_sized_input_dimension() {
    load_fails("zero_dim_1x0.onnx", &["input `x`", "dimension 1 is 0"]);
    load_fails("zero_dim_0x4.onnx", &["input `x`", "dimension 0 is 0"]);
}

#[test]
fn regress_huge_input_dimensions() {
    for (f, d) in [
        ("huge_dim_2p62.onnx", "4611686018427387904"),
        ("huge_dim_2p40.onnx", "1099511627776"),
        ("huge_dim_2p31.onnx", "2147483648"),
    ] {
        load_fails(f, &["input `x`", d, "more than 16777216 elements"]);
    }
}

#[test]
fn regress_scale_overflow_to_infinity() {
    compile_fails(
        "mul_overflow_inf.onnx",
        &[RANGE],
        &["overflows f64", "`m30`"],
    );
}

#[test]
fn regress_bias_overflow() {
    for p in ["int8", "int16"] {
        compile_fails(
            "bias_overflow.onnx",
            &["--input-range=0:1", "--precision", p],
            &["`gemm`", "bias of output 0", "does not fit 64 bits"],
        );
    }
}

#[test]
fn regress_tract_panics_refused_before_tract() {
    let cases: [(&str, &[&str]); 8] = [
        (
            "undefined_output.onnx",
            &["graph output `nowhere`", "not produced"],
        ),
        (
            "matmul_rank0.onnx",
            &["node `mm` (MatMul)", "`s`", "rank 0"],
        ),
        (
            "unsqueeze_axis_m100.onnx",
            &["node `unsq` (Unsqueeze)", "axis -100"],
        ),
        (
            "squeeze_axis_5.onnx",
            &["node `sq` (Squeeze)", "axis 5", "rank-2"],
        ),
        (
            "flatten_axis_5.onnx",
            &["node `flat` (Flatten)", "axis 5", "rank-2"],
        ),
        (
            "string_raw_data.onnx",
            &["initializer `s`", "STRING", "raw_data"],
        ),
        (
            "dequantize_empty_zero_point.onnx",
            &[
                "node `dq` (DequantizeLinear)",
                "zero point `zp`",
                "0 values",
            ],
        ),
        ("huge_dim_2p31.onnx", &["input `x`"]),
    ];
    for (f, expect) in cases {
        load_fails(f, expect);
    }
}

/// The nested-bracket `.npy` headers, through every command that reads a
/// data file: each fails fast naming the file.
#[test]
fn regress_npy_header_nesting_every_reader() {
    let model = example("aurora.onnx");
    let calib = example("representative_dataset.npy");
    for f in ["npy_nested_brace.npy", "npy_nested_bracket.npy"] {
        let p = regression(f);
        let p = p.to_str().unwrap();
        let expect = [f, "not a readable .npy file", "header byte"];
        fails(
            &["compile", &model, "--calibration", p, "-o", "OUT"],
            &expect,
        );
        fails(
            &["compile", &model, "--input-range", p, "-o", "OUT"],
            &expect,
        );
        fails(
            &[
                "run",
                &model,
                "--calibration",
                &calib,
                "--input",
                p,
                "--engine",
                "interp",
                "-o",
                "OUT",
            ],
            &expect,
        );
        fails(
            &["eval", &model, "--calibration", &calib, "--data", p],
            &expect,
        );
    }
}

/// Every file in tests/regressions/ is covered by a test above.
#[test]
fn regress_every_input_is_tested() {
    let src = include_str!("regress.rs");
    for e in std::fs::read_dir(regression("")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(src.contains(&format!("\"{name}\"")), "{name} has no test");
    }
}
