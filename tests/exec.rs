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
        // The squared energy term spreads the output over ~50 units: the
        // int8 step is ~0.2 and x*x is bounded as a product of two
        // independent operands (one bit lost); 1.16 max / 0.29 mean measured.
        ("index_maps", Int8) => t(1.5, 0.4),
        // The inverse deviation output spans [0, 1/sqrt(1e-5) = 316] (the
        // variance can be 0 on [-2, 2]): one int8 step is 1.24, so up to
        // 0.62 off (0.632 max / 0.113 mean measured; the compile warns).
        ("layer_norm_mlp", Int8) => t(0.7, 0.15),
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
        // The calibration rows' own range (LiteFlow's and TFLite's
        // scheme), no domain margin: the golden files pin it. The default
        // margin is pinned by `exec_domain_margin_*` and the fidelity
        // targets.
        CompileOptions {
            calibration: Some(manifest("examples/aurora/representative_dataset.npy")),
            domain_margin: 0.0,
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
pub fn random_rows(c: &pipeline::Compiled, n: usize, seed: u64) -> Vec<Vec<i64>> {
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
            let (got, flags) = runner.run_flags(&rows).unwrap();
            for (r, row) in rows.iter().enumerate() {
                let (want, want_flags) = interp::run_flags(&c.program, row);
                assert_eq!(
                    got[r],
                    want,
                    "{name} ({}): row {r} {row:?}: C {:?} != interpreter {want:?}",
                    precision.name(),
                    got[r]
                );
                assert_eq!(flags[r], want_flags, "{name}: row {r}: C flags");
            }
            // The rows at i64::MIN / i64::MAX are outside every domain.
            assert!(
                flags.iter().rev().take(3).all(|f| f & 1 == 1),
                "{name}: drift"
            );
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
    // TFLite's post-training scheme takes the calibration range as it is:
    // no domain margin (with the default 0.5: max 0.104, mean 0.030, the
    // input steps being twice as coarse).
    let opts = CompileOptions {
        calibration: Some(manifest("examples/aurora/representative_dataset.npy")),
        precision: Precision::Int8,
        domain_margin: 0.0,
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

/// Issue 7's PyTorch-shaped models, compiled with `--calibration` only,
/// against tract f32 on held-out rows of the same distribution. Returns the
/// largest error as % of the float output range, on the held-out rows
/// inside the calibration rows' per-feature range and on all of them. Rows
/// outside are clamped to the calibration hull today (issue 7 item 4, the
/// domain margin, is not this test's subject), so only the first is pinned.
fn calibrated_fidelity(
    name: &str,
    bytes: &[u8],
    calibration: &[Vec<f64>],
    held_out: &[Vec<f64>],
) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let path = models::write_model(dir.path(), name, bytes);
    let csv = |rows: &[Vec<f64>], file: &str| {
        let p = dir.path().join(file);
        let text: String = rows
            .iter()
            .map(|r| {
                let cells: Vec<String> = r.iter().map(|v| format!("{v}")).collect();
                cells.join(",") + "\n"
            })
            .collect();
        std::fs::write(&p, text).unwrap();
        p
    };
    let opts = CompileOptions {
        calibration: Some(csv(calibration, "calibration.csv")),
        ..Default::default()
    };
    let c = pipeline::compile(&path, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
    let out = lfc::commands::run(
        &c,
        &csv(held_out, "held_out.csv"),
        lfc::commands::Engine::C,
        None,
    )
    .unwrap()
    .values;
    let float = FloatModel::load(&path).unwrap();
    let n_out = c.program.output_len;
    let inside = |row: &[f64]| {
        (0..row.len()).all(|i| {
            let col = calibration.iter().map(|r| r[i]);
            let (lo, hi) = col.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
            (lo..=hi).contains(&row[i])
        })
    };
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut max_in, mut max_all, mut n_in) = (0f64, 0f64, 0);
    for (r, row) in held_out.iter().enumerate() {
        let x: Vec<f32> = row.iter().map(|v| *v as f32).collect();
        let want = float.run(&x).unwrap();
        let is_in = inside(row);
        n_in += is_in as usize;
        for (j, w) in want.iter().enumerate() {
            let w = *w as f64;
            lo = lo.min(w);
            hi = hi.max(w);
            let e = (out.data[r * n_out + j] - w).abs();
            max_all = max_all.max(e);
            if is_in {
                max_in = max_in.max(e);
            }
        }
    }
    let pct = |e: f64| 100.0 * e / (hi - lo);
    eprintln!(
        "calibrated {name}: output range {lo:.3}..{hi:.3}; {n_in} of {} held-out rows inside the calibration range: max {max_in:.5} ({:.3} %); all rows: max {max_all:.5} ({:.3} %)",
        held_out.len(),
        pct(max_in),
        pct(max_all)
    );
    assert!(
        n_in >= held_out.len() / 4,
        "{name}: only {n_in} rows inside"
    );
    (pct(max_in), pct(max_all))
}

fn normal_rows(rng: &mut Rng, n: usize, len: usize, sd: f64) -> Vec<Vec<f64>> {
    (0..n)
        .map(|_| (0..len).map(|_| rng.normal() * sd).collect())
        .collect()
}

#[test]
fn exec_pytorch_models_with_calibration_only() {
    // Linear -> BatchNorm1d -> ReLU -> Linear: 200 calibration rows, 500
    // held-out rows from the same N(0, 1).
    let mut rng = Rng::new(70);
    let calib = normal_rows(&mut rng, 200, 10, 1.0);
    let held = normal_rows(&mut rng, 500, 10, 1.0);
    let (pct, _) = calibrated_fidelity("gemm_bn_relu", &models::gemm_bn_relu(), &calib, &held);
    assert!(pct <= 1.0, "gemm_bn_relu: {pct} % of the output range");

    // The Conv1d policy over Aurora's history, calibrated on LiteFlow's 60
    // rows; held out: 400 blends of two of those rows (inside their range)
    // and 100 rows scaled by 0.9..1.1 per feature (mostly outside).
    let aurora =
        lfc::data::read_matrix(&manifest("examples/aurora/representative_dataset.npy")).unwrap();
    let calib: Vec<Vec<f64>> = aurora
        .data
        .chunks(aurora.cols)
        .map(|r| r.to_vec())
        .collect();
    let n = calib.len();
    let mut held: Vec<Vec<f64>> = (0..400)
        .map(|k| {
            let (a, b, t) = (&calib[k % n], &calib[(k * 7 + 3) % n], rng.uniform());
            a.iter().zip(b).map(|(x, y)| x + t * (y - x)).collect()
        })
        .collect();
    held.extend((0..100).map(|k| {
        calib[k % n]
            .iter()
            .map(|v| v * (0.9 + 0.2 * rng.uniform()))
            .collect()
    }));
    let (pct, _) = calibrated_fidelity("conv1d_policy", &models::conv1d_policy(), &calib, &held);
    assert!(pct <= 1.0, "conv1d_policy: {pct} % of the output range");
}

/// The emitted Rust, built with rustc, against the emitted C and the
/// interpreter, bit for bit, on every fixture in both precisions (and
/// Aurora's loop form, and the speed fixtures); its object, built alone with `-C panic=abort`,
/// references no panic symbol.
#[test]
fn exec_rust_matches_c_and_interpreter_bit_for_bit() {
    use lfc::back::rust::userspace as rs;
    let dir = tempfile::tempdir().unwrap();
    let mut all = cases(dir.path());
    let (_, aurora, opts) = all[0].clone();
    all.push((
        "aurora_looped".into(),
        aurora,
        CompileOptions {
            unroll_limit: 100,
            ..opts
        },
    ));
    // The speed fixtures (LinnOS-shaped 31-256-2, 64-256-256-8).
    for name in ["linnos", "mlp4"] {
        all.push((
            name.into(),
            manifest(&format!("tests/fixtures/speed/{name}.onnx")),
            CompileOptions {
                calibration: Some(manifest(&format!("tests/fixtures/speed/{name}_calib.csv"))),
                ..Default::default()
            },
        ));
    }
    for precision in [Precision::Int16, Precision::Int8] {
        for (name, path, mut opts) in all.clone() {
            opts.precision = precision;
            let what = format!("{name} ({})", precision.name());
            let c = pipeline::compile(&path, &opts).unwrap_or_else(|e| panic!("{what}: {e}"));
            let rows = random_rows(&c, ROWS, 11);
            let module = c.emit_rust().unwrap();
            // rustc enforces it: the object below would not build otherwise.
            assert!(
                module.source.contains("#![forbid(unsafe_code)]"),
                "{what}: unsafe code not forbidden"
            );
            let obj = rs::compile_object(&module, dir.path(), &["-D", "warnings"])
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            let panics = rs::panic_symbols(&obj).unwrap();
            assert!(panics.is_empty(), "{what}: panic symbols {panics:?}");
            let (rust, rflags) = rs::Runner::build(&module)
                .unwrap()
                .run_flags(&rows)
                .unwrap();
            let cm = c.emit_c().unwrap();
            let (cout, cflags) = Runner::build(&cm, &["-Wall", "-Werror"])
                .unwrap()
                .run_flags(&rows)
                .unwrap();
            for (r, row) in rows.iter().enumerate() {
                let (want, want_flags) = interp::run_flags(&c.program, row);
                assert_eq!(cout[r], want, "{what}: row {r}: C != interpreter");
                assert_eq!(
                    rust[r], want,
                    "{what}: row {r} {row:?}: Rust != interpreter"
                );
                assert_eq!(
                    (cflags[r], rflags[r]),
                    (want_flags, want_flags),
                    "{what}: row {r}: flags"
                );
            }
        }
    }
}
