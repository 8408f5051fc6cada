//! The input domain (issue 7 item 4): the calibration margin, the report of
//! inputs clamped to the domain, and domains that are points, constant
//! columns or huge.

use std::process::Command;

use lfc::back::c::userspace::Runner;
use lfc::back::interp;
use lfc::commands::DomainReport;
use lfc::data::{self, Matrix};
use lfc::front::onnx::FloatModel;
use lfc::ir::Precision;
use lfc::pipeline::{self, CompileOptions, InputRange};

use crate::exec::manifest;

fn aurora_calib() -> Matrix {
    data::read_matrix(&manifest("examples/aurora/representative_dataset.npy")).unwrap()
}

/// Aurora's 60 calibration rows, each feature moved `k` times its
/// calibration width beyond alternately its max and its min: rows just
/// outside the calibration rows, as a live flow produces.
fn rows_outside(k: f64) -> Matrix {
    let m = aurora_calib();
    let (mut lo, mut hi) = (vec![f64::INFINITY; m.cols], vec![f64::NEG_INFINITY; m.cols]);
    for r in m.iter_rows() {
        for i in 0..m.cols {
            lo[i] = lo[i].min(r[i]);
            hi[i] = hi[i].max(r[i]);
        }
    }
    let mut data = Vec::new();
    for (j, r) in m.iter_rows().enumerate() {
        for i in 0..m.cols {
            let w = hi[i] - lo[i];
            let x = if (i + j) % 2 == 0 {
                hi[i] + k * w
            } else {
                lo[i] - k * w
            };
            data.push(if (i + j) % 3 == 0 { r[i] } else { x });
        }
    }
    Matrix::new(m.rows, m.cols, data)
}

fn max_err_vs_tract(c: &pipeline::Compiled, m: &Matrix) -> f64 {
    let float = FloatModel::load(&c.model_path).unwrap();
    let rows = pipeline::to_fixed(&c.model_path, m, c.program.input_scale).unwrap();
    let os = c.program.output_scale as f64;
    let mut max = 0f64;
    for (row, x) in rows.iter().zip(m.iter_rows()) {
        let xf: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let want = float.run(&xf).unwrap();
        let got = interp::run(&c.program, row);
        for (g, w) in got.iter().zip(&want) {
            max = max.max((*g as f64 / os - *w as f64).abs());
        }
    }
    max
}

/// With only `--calibration`, rows 20 % of a width outside the calibration
/// rows are inside the default domain (margin 0.5) and answered within
/// the int16 tolerance; with `--domain-margin 0` they are clamped, and the
/// report says so.
#[test]
fn domain_default_margin_covers_rows_just_outside() {
    let rows = rows_outside(0.2);
    let calib = Some(manifest("examples/aurora/representative_dataset.npy"));
    let model = manifest("examples/aurora/aurora.onnx");
    let wide = pipeline::compile(
        &model,
        &CompileOptions {
            calibration: calib.clone(),
            ..Default::default()
        },
    )
    .unwrap();
    let tight = pipeline::compile(
        &model,
        &CompileOptions {
            calibration: calib,
            domain_margin: 0.0,
            ..Default::default()
        },
    )
    .unwrap();
    let fixed = pipeline::to_fixed(&model, &rows, 1000).unwrap();
    let r_wide = DomainReport::of(&wide, &fixed);
    let r_tight = DomainReport::of(&tight, &fixed);
    assert_eq!(r_wide.rows_outside, 0, "{r_wide}");
    assert_eq!(r_tight.rows_outside, 60, "{r_tight}");
    let (e_wide, e_tight) = (
        max_err_vs_tract(&wide, &rows),
        max_err_vs_tract(&tight, &rows),
    );
    eprintln!(
        "aurora, rows 0.2 widths outside: margin 0.5 max {e_wide:.5}, margin 0 max {e_tight:.5}"
    );
    assert!(e_wide <= 0.01, "default margin: max error {e_wide}");
    assert!(e_tight > 4.0 * e_wide, "margin 0: {e_tight} vs {e_wide}");
}

#[test]
fn domain_margin_widens_by_the_width_and_handles_constant_columns() {
    assert_eq!(pipeline::widen(1.0, 3.0, 0.5), (0.0, 4.0));
    assert_eq!(pipeline::widen(0.0, 0.0, 0.5), (-0.5, 0.5));
    assert_eq!(pipeline::widen(-4.0, -4.0, 0.25), (-5.0, -3.0));
    assert_eq!(pipeline::widen(1.0, 3.0, 0.0), (1.0, 3.0));
}

/// The report counts rows, features and names the value farthest out.
#[test]
fn domain_report_counts_rows_and_features_outside() {
    let c = pipeline::compile(
        &manifest("examples/aurora/aurora.onnx"),
        &CompileOptions {
            input_range: Some(InputRange::All(-1.0, 1.0)),
            ..Default::default()
        },
    )
    .unwrap();
    let mut rows = vec![vec![0i64; 30]; 4];
    rows[1][3] = 1001; // just outside
    rows[1][7] = -5000;
    rows[3][7] = 1000; // on the edge: inside
    rows[2][29] = i64::MAX;
    let r = DomainReport::of(&c, &rows);
    assert_eq!(r.rows, 4);
    assert_eq!(r.rows_outside, 2);
    assert_eq!(r.features_outside(), 3);
    assert_eq!(
        (r.per_feature[3], r.per_feature[7], r.per_feature[29]),
        (1, 1, 1)
    );
    let (row, feature, ..) = r.worst.unwrap();
    assert_eq!((row, feature), (2, 29));
    let text = r.to_string();
    assert!(text.contains("2 of 4 rows"), "{text}");
}

/// `lfc run` says on stderr how many rows were clamped, and `lfc eval`
/// in its report; both also when nothing was.
#[test]
fn domain_cli_run_and_eval_report_clamping() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("outside.csv");
    data::write_matrix(&input, &rows_outside(2.0)).unwrap();
    let model = manifest("examples/aurora/aurora.onnx");
    let calib = manifest("examples/aurora/representative_dataset.npy");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_lfc"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let m = model.to_str().unwrap();
    let c = calib.to_str().unwrap();
    let i = input.to_str().unwrap();
    let o = dir.path().join("o.csv");
    let (_, err) = run(&[
        "run",
        m,
        "--calibration",
        c,
        "--input",
        i,
        "--engine",
        "interp",
        "-o",
        o.to_str().unwrap(),
    ]);
    assert!(
        err.contains("60 of 60 rows had inputs outside the domain and were clamped"),
        "{err}"
    );
    let (out, _) = run(&["eval", m, "--calibration", c, "--data", i]);
    assert!(
        out.contains("60 of 60 rows had inputs outside the domain"),
        "{out}"
    );
    let (_, err) = run(&[
        "run",
        m,
        "--calibration",
        c,
        "--input",
        c,
        "--engine",
        "interp",
        "-o",
        o.to_str().unwrap(),
    ]);
    assert!(
        err.contains("all 60 rows inside (nothing clamped)"),
        "{err}"
    );
}

/// Constant calibration columns, a calibration set of one repeated row,
/// point domains, and huge ranges compile in both precisions, and the
/// emitted C agrees with the interpreter on rows inside and outside.
#[test]
fn domain_degenerate_and_huge_ranges_compile() {
    let dir = tempfile::tempdir().unwrap();
    let model = manifest("examples/aurora/aurora.onnx");
    let calib = aurora_calib();
    let mut constant_cols = calib.data.clone();
    for r in 0..calib.rows {
        for c in [0, 5, 17] {
            constant_cols[r * calib.cols + c] = [0.0, 1.0, -2.5][c % 3];
        }
    }
    let one_row: Vec<f64> = (0..calib.rows)
        .flat_map(|_| calib.row(7).to_vec())
        .collect();
    let mut cases: Vec<(String, CompileOptions)> = Vec::new();
    for (name, d) in [("constant_cols", constant_cols), ("one_row", one_row)] {
        let p = dir.path().join(format!("{name}.npy"));
        data::write_matrix(&p, &Matrix::new(calib.rows, calib.cols, d)).unwrap();
        for margin in [0.0, pipeline::DEFAULT_DOMAIN_MARGIN] {
            cases.push((
                format!("{name} margin {margin}"),
                CompileOptions {
                    calibration: Some(p.clone()),
                    domain_margin: margin,
                    ..Default::default()
                },
            ));
        }
    }
    for (lo, hi) in [
        (0.0, 0.0),
        (5.0, 5.0),
        (-1e6, 1e6),
        (-1e12, 1e12),
        (-1e14, 1e14),
        (-1e-9, 1e-9),
    ] {
        cases.push((
            format!("range {lo}:{hi}"),
            CompileOptions {
                input_range: Some(InputRange::All(lo, hi)),
                ..Default::default()
            },
        ));
    }
    let mut rows = pipeline::to_fixed(&model, &calib, 1000).unwrap();
    rows.truncate(8);
    rows.push(vec![i64::MAX; 30]);
    rows.push(vec![i64::MIN; 30]);
    rows.push(vec![0; 30]);
    for (name, opts) in cases {
        for precision in [Precision::Int16, Precision::Int8] {
            let opts = CompileOptions {
                precision,
                ..opts.clone()
            };
            let c = pipeline::compile(&model, &opts)
                .unwrap_or_else(|e| panic!("{name} ({}): {e}", precision.name()));
            let got = Runner::build(&c.emit_c().unwrap(), &[])
                .unwrap()
                .run(&rows)
                .unwrap();
            for (row, g) in rows.iter().zip(&got) {
                assert_eq!(
                    g,
                    &interp::run(&c.program, row),
                    "{name} ({})",
                    precision.name()
                );
            }
        }
    }
}
