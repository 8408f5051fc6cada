//! Bad input through the real `lfc` binary: a message naming what is wrong,
//! a non-zero exit, no panic, and no partial (or clobbered) output file.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::models;

fn lfc(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lfc"))
        .args(args)
        .output()
        .expect("run lfc");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("panicked"),
        "lfc panicked on {args:?}:\n{stderr}"
    );
    (out.status.success(), stderr)
}

fn aurora() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/aurora/aurora.onnx")
}

fn calib() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/aurora/representative_dataset.npy")
}

/// Runs a compile that must fail; checks the message and that `out` (which
/// held "old" before) is untouched and no temporary files remain.
fn compile_fails(model: &Path, extra: &[&str], expect: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lf_model_1.c");
    std::fs::write(&out, "old").unwrap();
    let mut args = vec![
        "compile",
        model.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let (ok, stderr) = lfc(&args);
    assert!(!ok, "compile {args:?} should fail");
    for e in expect {
        assert!(
            stderr.contains(e),
            "message for {args:?} lacks `{e}`:\n{stderr}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "old",
        "output clobbered"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "stray files left: {left:?}");
}

#[test]
fn errors_truncated_and_non_onnx_files() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(aurora()).unwrap();
    let trunc = dir.path().join("truncated.onnx");
    std::fs::write(&trunc, &bytes[..bytes.len() / 3]).unwrap();
    compile_fails(&trunc, &["--input-range=0:1"], &["truncated.onnx"]);
    let text = dir.path().join("notes.onnx");
    std::fs::write(&text, "this is not a model\n").unwrap();
    compile_fails(&text, &["--input-range=0:1"], &["notes.onnx"]);
    let missing = dir.path().join("missing.onnx");
    compile_fails(&missing, &["--input-range=0:1"], &["missing.onnx"]);
}

#[test]
fn errors_unsupported_op_and_unknown_shape() {
    let dir = tempfile::tempdir().unwrap();
    let m = models::write_model(dir.path(), "conv", &models::unsupported_conv());
    compile_fails(
        &m,
        &["--input-range=0:1"],
        &["ConvTranspose", "unsupported", "Gemm"],
    );
    let m = models::write_model(dir.path(), "unknown", &models::unknown_shape_input());
    compile_fails(&m, &["--input-range=0:1"], &["shape"]);
    // Log of inputs that can reach 0 or below: refused, naming the node.
    let m = models::write_model(dir.path(), "log", &models::log_of_input());
    compile_fails(
        &m,
        &["--input-range=-1:2"],
        &["`ln`", "Log of inputs that can reach -1", "proven positive"],
    );
    // the same model on a positive domain compiles
    let out = dir.path().join("log.c");
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_lfc"))
        .args(["compile", m.to_str().unwrap(), "--input-range=0.5:2", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
}

#[test]
fn errors_bad_calibration() {
    let dir = tempfile::tempdir().unwrap();
    let narrow = dir.path().join("narrow.csv");
    std::fs::write(&narrow, "1,2,3\n4,5,6\n").unwrap();
    compile_fails(
        &aurora(),
        &["--calibration", narrow.to_str().unwrap()],
        &["narrow.csv", "3 columns", "30"],
    );
    let row = vec!["1"; 30].join(",");
    let mut nan_row = vec!["1"; 30];
    nan_row[4] = "nan";
    let nan = dir.path().join("nan.csv");
    std::fs::write(&nan, format!("{row}\n{}\n", nan_row.join(","))).unwrap();
    compile_fails(
        &aurora(),
        &["--calibration", nan.to_str().unwrap()],
        &["nan.csv", "row 2", "column 5", "NaN"],
    );
    let mut inf_row = vec!["1"; 30];
    inf_row[0] = "inf";
    let inf = dir.path().join("inf.csv");
    std::fs::write(&inf, format!("{}\n", inf_row.join(","))).unwrap();
    compile_fails(
        &aurora(),
        &["--calibration", inf.to_str().unwrap()],
        &["inf.csv", "row 1", "column 1"],
    );
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "").unwrap();
    compile_fails(
        &aurora(),
        &["--calibration", empty.to_str().unwrap()],
        &["empty.csv", "no data rows"],
    );
    compile_fails(&aurora(), &[], &["--calibration", "--input-range"]);
    compile_fails(&aurora(), &["--input-range=5:1"], &["--input-range"]);
}

#[test]
fn errors_unwritable_output() {
    let dir = tempfile::tempdir().unwrap();
    // A path below a regular file cannot be created, even by root.
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    let out = blocker.join("lf_model_1.c");
    let (ok, stderr) = lfc(&[
        "compile",
        aurora().to_str().unwrap(),
        "--calibration",
        calib().to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(!ok);
    // The message names the output path it could not write.
    assert!(stderr.contains(out.to_str().unwrap()), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "stray files: {left:?}");
}

#[test]
fn errors_run_input_width_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("rows.csv");
    std::fs::write(&bad, "1,2\n").unwrap();
    let out = dir.path().join("out.csv");
    let (ok, stderr) = lfc(&[
        "run",
        aurora().to_str().unwrap(),
        "--calibration",
        calib().to_str().unwrap(),
        "--input",
        bad.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--engine",
        "interp",
    ]);
    assert!(!ok);
    assert!(
        stderr.contains("rows.csv") && stderr.contains("2 columns"),
        "{stderr}"
    );
    assert!(!out.exists());
}

/// `-o X.ko` without kernel headers: the message says which package or
/// --kdir; nothing is left at the output path.
#[test]
fn errors_ko_without_headers() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lf_model_1.ko");
    let (ok, stderr) = lfc(&[
        "compile",
        aurora().to_str().unwrap(),
        "--calibration",
        calib().to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--kdir",
        dir.path().join("no-such-kernel").to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(
        stderr.contains("no-such-kernel")
            && stderr.contains("linux-headers")
            && stderr.contains("--kdir"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// A kbuild that fails shows the build's own error text and leaves no
/// `.ko` (an older one at the path survives).
#[test]
fn errors_ko_failed_kbuild() {
    let dir = tempfile::tempdir().unwrap();
    let kdir = dir.path().join("kdir");
    std::fs::create_dir(&kdir).unwrap();
    std::fs::write(
        kdir.join("Makefile"),
        "modules:\n\t@echo 'lf_main.c:1:1: error: fake compiler failure for the test' >&2; exit 1\n",
    )
    .unwrap();
    let out = dir.path().join("lf_model_1.ko");
    std::fs::write(&out, "old").unwrap();
    let cache = dir.path().join("cache");
    let output = Command::new(env!("CARGO_BIN_EXE_lfc"))
        .args([
            "compile",
            aurora().to_str().unwrap(),
            "--calibration",
            calib().to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--kdir",
            kdir.to_str().unwrap(),
        ])
        .env("LFC_CACHE", &cache)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("fake compiler failure for the test"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "old");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n.starts_with(".lfc-kbuild-")),
        "{names:?}"
    );
    // No half-built runtime is cached either.
    let cached: Vec<_> = std::fs::read_dir(&cache)
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(cached.is_empty(), "{cached:?}");
}

/// LayerNormalization whose Scale is a runtime tensor, and one with a
/// negative epsilon: refused, naming the node and the input.
#[test]
fn errors_layer_norm_runtime_scale_and_bad_epsilon() {
    use models::{attr_f, Builder, D};
    let dir = tempfile::tempdir().unwrap();
    let mut b = Builder::new("ln_runtime_scale", 5, 17);
    b.input("x", &[D::N(1), D::N(4)])
        .node("Relu", "relu", &["x"], &["s"], vec![])
        .node("LayerNormalization", "ln", &["x", "s"], &["y"], vec![])
        .output("y", &[D::N(1), D::N(4)]);
    let m = models::write_model(dir.path(), "ln_scale", &b.build());
    compile_fails(
        &m,
        &["--input-range=-1:1"],
        &["`ln`", "Scale (`s`) must be a constant"],
    );
    let mut b = Builder::new("ln_eps", 5, 17);
    b.input("x", &[D::N(1), D::N(4)])
        .init("w", &[4], &[1.0; 4])
        .node(
            "LayerNormalization",
            "ln",
            &["x", "w"],
            &["y"],
            vec![attr_f("epsilon", -1.0)],
        )
        .output("y", &[D::N(1), D::N(4)]);
    let m = models::write_model(dir.path(), "ln_eps", &b.build());
    compile_fails(&m, &["--input-range=-1:1"], &["`ln`", "epsilon -1"]);
}
