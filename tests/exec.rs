//! Compile-and-run: the emitted C (built for userspace through the kernel
//! shim, the same source the kernel gets) against the interpreter bit for
//! bit, and the interpreter against tract's float execution within a
//! tolerance stated per model.

use std::path::{Path, PathBuf};

use lfc::back::c::userspace::Runner;
use lfc::back::interp;
use lfc::front::onnx::FloatModel;
use lfc::ir::Precision;
use lfc::pipeline::{self, CompileOptions, InputRange};

use crate::models::{self, Rng};

/// Fidelity policy: the largest and the mean |fixed point - tract f32| a
/// model may show on random inputs drawn from its domain. One place, typed,
/// per model and precision; derived from measurement with headroom, and
/// each entry says what dominates it.
#[derive(Clone, Copy, Debug)]
pub struct Tolerance {
    pub max_abs: f64,
    pub mean_abs: f64,
}

/// `None`: not compared on random rows. Aurora in int8 is calibrated
/// (TFLite-style PTQ): its activation ranges are those seen on 60 rows, so
/// random rows from the whole box saturate by design (max error 3.2
/// measured); its fidelity is pinned on the calibration rows instead, in
/// `exec_aurora_int8_matches_tflite`.
pub fn tolerance(model: &str, precision: Precision) -> Option<Tolerance> {
    use Precision::*;
    let t = |max_abs, mean_abs| Some(Tolerance { max_abs, mean_abs });
    match (model, precision) {
        ("aurora", Int8) => None,
        // Output resolution is 1/output_scale = 0.001 (rounding 0.0005) plus
        // int16 quantization noise through two tanh tables.
        ("aurora", Int16) => t(0.01, 0.003),
        // int16 fixtures: wide interval-arithmetic ranges cost a few bits
        // in the deeper layers; still well under 1% of the output range.
        (_, Int16) => t(0.02, 0.005),
        // int8 over sound (unclipped) ranges: 8-bit activations; the
        // residual fixture (Mul of two runtime tensors) is the worst, 0.169
        // max / 0.030 mean measured.
        (_, Int8) => t(0.25, 0.05),
    }
}

pub fn manifest(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// The models every exec test runs: the fixtures on the domain [-2, 2],
/// Aurora on its calibration rows.
pub fn cases(dir: &Path) -> Vec<(String, PathBuf, CompileOptions)> {
    let mut v = Vec::new();
    v.push((
        "aurora".to_string(),
        manifest("examples/aurora/aurora.onnx"),
        CompileOptions {
            calibration: Some(manifest("examples/aurora/representative_dataset.npy")),
            ..Default::default()
        },
    ));
    for (name, bytes) in models::good_models() {
        let path = models::write_model(dir, name, &bytes);
        v.push((
            name.to_string(),
            path,
            CompileOptions {
                input_range: Some(InputRange::All(-2.0, 2.0)),
                ..Default::default()
            },
        ));
    }
    v
}

/// `n` random rows (s64 at the input scale) inside the domain, plus the
/// domain's corners and s64 extremes (which the input clamp must absorb).
fn random_rows(c: &pipeline::Compiled, n: usize, seed: u64) -> Vec<Vec<i64>> {
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
    let len = d.lo.len();
    rows.push(d.lo.iter().map(|x| (x * is).floor() as i64).collect());
    rows.push(d.hi.iter().map(|x| (x * is).ceil() as i64).collect());
    rows.push(vec![i64::MAX; len]);
    rows.push(vec![i64::MIN; len]);
    rows.push(
        (0..len)
            .map(|i| if i % 2 == 0 { i64::MAX } else { i64::MIN })
            .collect(),
    );
    rows
}

const ROWS: usize = 1000;

#[test]
fn exec_c_matches_interpreter_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    for precision in [Precision::Int16, Precision::Int8] {
        for (name, path, mut opts) in cases(dir.path()) {
            opts.precision = precision;
            let c = pipeline::compile(&path, &opts)
                .unwrap_or_else(|e| panic!("{name} ({}): {e}", precision.name()));
            let rows = random_rows(&c, ROWS, 7);
            let module = c.emit_c().unwrap();
            let runner = Runner::build(&module, &["-Wall", "-Werror"]).unwrap();
            let got = runner.run(&rows).unwrap();
            for (r, row) in rows.iter().enumerate() {
                let want = interp::run(&c.program, row);
                assert_eq!(
                    got[r],
                    want,
                    "{name} ({}): row {r} {row:?}: C {:?} != interpreter {want:?}",
                    precision.name(),
                    got[r]
                );
            }
        }
    }
}

#[test]
fn exec_interpreter_matches_tract_within_tolerance() {
    let dir = tempfile::tempdir().unwrap();
    for precision in [Precision::Int16, Precision::Int8] {
        for (name, path, mut opts) in cases(dir.path()) {
            opts.precision = precision;
            let c = pipeline::compile(&path, &opts).unwrap();
            let float = FloatModel::load(&path).unwrap();
            let Some(tol) = tolerance(&name, precision) else {
                continue;
            };
            let is = c.program.input_scale as f64;
            let os = c.program.output_scale as f64;
            let (mut max, mut sum, mut n) = (0f64, 0f64, 0usize);
            // Inside the domain only (the corners and extremes saturate).
            for row in random_rows(&c, ROWS, 11).iter().take(ROWS) {
                let x: Vec<f32> = row.iter().map(|&v| (v as f64 / is) as f32).collect();
                let want = float.run(&x).unwrap();
                let got = interp::run(&c.program, row);
                for (g, w) in got.iter().zip(&want) {
                    let e = (*g as f64 / os - *w as f64).abs();
                    max = max.max(e);
                    sum += e;
                    n += 1;
                }
            }
            let mean = sum / n as f64;
            eprintln!(
                "fidelity {name} {}: max {max:.5} mean {mean:.5} over {n} outputs",
                precision.name()
            );
            assert!(
                max <= tol.max_abs && mean <= tol.mean_abs,
                "{name} ({}): max {max} mean {mean} outside {tol:?}",
                precision.name()
            );
        }
    }
}

/// The Aurora targets of the compiler issue, on LiteFlow's 60 rows, against
/// onnxruntime's outputs shipped with the model (not computed by lfc).
#[test]
fn exec_aurora_fidelity_targets() {
    let refs: Vec<f64> = std::fs::read_to_string(manifest("examples/aurora/reference_output.csv"))
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    for opts in [
        CompileOptions {
            calibration: Some(manifest("examples/aurora/representative_dataset.npy")),
            ..Default::default()
        },
        CompileOptions {
            input_range: Some(InputRange::File(manifest(
                "examples/aurora/input_domain.csv",
            ))),
            ..Default::default()
        },
    ] {
        let c = pipeline::compile(&manifest("examples/aurora/aurora.onnx"), &opts).unwrap();
        let out = lfc::commands::run(
            &c,
            &manifest("examples/aurora/representative_dataset.npy"),
            lfc::commands::Engine::C,
            None,
        )
        .unwrap()
        .values;
        assert_eq!(out.rows, refs.len());
        let errs: Vec<f64> = out
            .data
            .iter()
            .zip(&refs)
            .map(|(a, b)| (a - b).abs())
            .collect();
        let max = errs.iter().cloned().fold(0.0, f64::max);
        let mean = errs.iter().sum::<f64>() / errs.len() as f64;
        eprintln!(
            "aurora vs onnxruntime ({:?}): max {max:.5} mean {mean:.5}",
            opts.input_range
        );
        assert!(max <= 0.01 && mean <= 0.003, "max {max} mean {mean}");
    }
}

/// int8 PTQ on Aurora's calibration rows must be at least as faithful as
/// LiteFlow's TFLite int8 snapshot (0.082 max / 0.021 mean, design notes).
#[test]
fn exec_aurora_int8_matches_tflite() {
    let refs: Vec<f64> = std::fs::read_to_string(manifest("examples/aurora/reference_output.csv"))
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    let opts = CompileOptions {
        calibration: Some(manifest("examples/aurora/representative_dataset.npy")),
        precision: Precision::Int8,
        ..Default::default()
    };
    let c = pipeline::compile(&manifest("examples/aurora/aurora.onnx"), &opts).unwrap();
    let out = lfc::commands::run(
        &c,
        &manifest("examples/aurora/representative_dataset.npy"),
        lfc::commands::Engine::C,
        None,
    )
    .unwrap()
    .values;
    let errs: Vec<f64> = out
        .data
        .iter()
        .zip(&refs)
        .map(|(a, b)| (a - b).abs())
        .collect();
    let max = errs.iter().cloned().fold(0.0, f64::max);
    let mean = errs.iter().sum::<f64>() / errs.len() as f64;
    eprintln!("aurora int8 vs onnxruntime: max {max:.5} mean {mean:.5}");
    // 0.021 is the published figure to three decimals: < 0.0215.
    assert!(max <= 0.082 && mean < 0.0215, "max {max} mean {mean}");
}

/// The emitted infer function's real frame, from gcc -fstack-usage with the
/// kernel's flags, stays within 1 KiB.
#[test]
fn exec_stack_frame_within_budget() {
    let dir = tempfile::tempdir().unwrap();
    for (name, path, opts) in cases(dir.path()) {
        let c = pipeline::compile(&path, &opts).unwrap();
        let frame = lfc::back::c::userspace::stack_usage(&c.emit_c().unwrap()).unwrap();
        eprintln!(
            "stack {name}: {frame} bytes (validator: {} activation bytes)",
            c.info.stack_bytes
        );
        assert!(frame <= 1024, "{name}: frame {frame} bytes");
    }
}
