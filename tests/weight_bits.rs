//! Weight precision per Dense layer (`--weight-bits-auto`, issue 10): the
//! cut the compile prints, the packed form it makes provable, the flag
//! that turns it off, and its fidelity cost on the speed fixtures,
//! measured against the float graph on random rows of the calibration box.

use std::process::Command;

use lfc::back::interp;
use lfc::pipeline::{self, CompileOptions};

use crate::exec::{manifest, random_rows};

fn speed(name: &str, auto: bool) -> (std::path::PathBuf, CompileOptions) {
    let dir = manifest("tests/fixtures/speed");
    (
        dir.join(format!("{name}.onnx")),
        CompileOptions {
            calibration: Some(dir.join(format!("{name}_calib.csv"))),
            weight_bits_auto: auto,
            ..Default::default()
        },
    )
}

fn compile_c(auto: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lf_model_3.c");
    let o = Command::new(env!("CARGO_BIN_EXE_lfc"))
        .args([
            "compile",
            "tests/fixtures/speed/linnos.onnx",
            "--calibration",
        ])
        .arg("tests/fixtures/speed/linnos_calib.csv")
        .args(["--weight-bits-auto", auto, "-o"])
        .arg(&out)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (
        String::from_utf8_lossy(&o.stderr).into_owned(),
        std::fs::read_to_string(&out).unwrap(),
    )
}

/// The fc0 block of the emitted C (its comment and loop).
fn block<'a>(c: &'a str, layer: &str) -> &'a str {
    let start = c.find(&format!(" * {layer} - Gemm")).unwrap();
    &c[start..start + 1200.min(c.len() - start)]
}

#[test]
fn weight_bits_cut_is_printed_packed_and_can_be_turned_off() {
    let (err, c) = compile_c("on");
    assert!(
        err.contains("lfc: fc0: weights 15 bits (was 16): two channels per multiply; max error "),
        "{err}"
    );
    assert!(
        err.contains("budget 0.10 %) on 100 calibration rows"),
        "{err}"
    );
    let fc0 = block(&c, "fc0");
    assert!(fc0.contains("15-bit weights"), "{fc0}");
    assert!(fc0.contains("two channels per u64"), "{fc0}");

    let (err, c) = compile_c("off");
    assert!(!err.contains("weights"), "{err}");
    let fc0 = block(&c, "fc0");
    assert!(fc0.contains("16-bit weights"), "{fc0}");
    assert!(!fc0.contains("two channels per u64"), "{fc0}");
}

/// Max |interpreter - float graph| over all outputs of `rows`, in real
/// units, and the outputs' real range.
fn max_error(name: &str, auto: bool) -> (f64, f64, usize) {
    let (path, opts) = speed(name, auto);
    let c = pipeline::compile(&path, &opts).unwrap();
    let is = c.program.input_scale as f64;
    let os = c.program.output_scale as f64;
    let rows = random_rows(&c, 300, 5);
    let (mut worst, mut lo, mut hi, mut n) = (0f64, f64::MAX, f64::MIN, 0);
    // Inside the domain only (random_rows appends corners and extremes).
    for row in rows.iter().take(300) {
        let x: Vec<f64> = row.iter().map(|&v| v as f64 / is).collect();
        let want = c.graph.eval(&x);
        let got = interp::run(&c.program, row);
        for (g, w) in got.iter().zip(&want) {
            worst = worst.max((*g as f64 / os - w).abs());
            lo = lo.min(*w);
            hi = hi.max(*w);
            n += 1;
        }
    }
    (worst, hi - lo, n)
}

/// The cut costs the whole model at most 0.1 % of its output range more
/// (the per-layer budget), on rows the calibration set does not hold.
#[test]
fn weight_bits_fidelity_cost_on_the_speed_fixtures() {
    for name in ["linnos", "mlp4"] {
        let (off, range, n) = max_error(name, false);
        let (on, _, _) = max_error(name, true);
        eprintln!(
            "weight bits {name}: max error {off:.5} -> {on:.5} ({:+.4} % of the output range {range:.3}) over {n} outputs",
            100.0 * (on - off) / range
        );
        assert!(on - off <= 1e-3 * range, "{name}: {off} -> {on} of {range}");
    }
}
