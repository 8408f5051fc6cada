//! The speed benchmark of issue 10 (`cargo bench --bench speed`; not a
//! timed test): `lfc bench` (crate::bench) on each model of the table in
//! the README, in one run:
//! - Aurora (30-32-16-1 tanh), straight-line (the default) and looped
//!   (`--unroll-limit 0`), calibrated on its 60 representative rows;
//! - the LinnOS-shaped 31-256-2 relu and the 64-256-256-8 relu fixtures
//!   (tests/fixtures/speed, scripts/gen-speed-fixtures.py), calibrated on
//!   their checked-in rows;
//! - the same three models with `--simd avx2` (the AVX2 path when this
//!   CPU has AVX2; the report says so otherwise).
//!
//! Each prints instructions per inference in total and per layer
//! (callgrind, when valgrind is installed), warm and cold ns, code and
//! table bytes, the ratio to tract f32, and the compile time in process;
//! then the same model's Rust snapshot, built as the kernel object is
//! (`lfc bench --backend rust`): its instructions per inference, per
//! layer, and code and table bytes beside the C's (scalar rows only: the
//! Rust back end has no `--simd` form).

use std::path::{Path, PathBuf};
use std::time::Instant;

use lfc::bench::{self, BenchOptions};
use lfc::pipeline::{self, CompileOptions, Simd};

fn manifest(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if !args.is_empty() && !args.iter().any(|a| "speed".contains(a.as_str())) {
        return;
    }
    let aurora = (
        "examples/aurora/aurora.onnx",
        "examples/aurora/representative_dataset.npy",
    );
    let linnos = (
        "tests/fixtures/speed/linnos.onnx",
        "tests/fixtures/speed/linnos_calib.csv",
    );
    let mlp4 = (
        "tests/fixtures/speed/mlp4.onnx",
        "tests/fixtures/speed/mlp4_calib.csv",
    );
    let models = [
        ("aurora", aurora, None, Simd::None),
        ("aurora, --unroll-limit 0", aurora, Some(0), Simd::None),
        ("LinnOS-shaped 31-256-2", linnos, None, Simd::None),
        ("64-256-256-8", mlp4, None, Simd::None),
        ("aurora, --simd avx2", aurora, None, Simd::Avx2),
        (
            "LinnOS-shaped 31-256-2, --simd avx2",
            linnos,
            None,
            Simd::Avx2,
        ),
        ("64-256-256-8, --simd avx2", mlp4, None, Simd::Avx2),
    ];
    for (what, (model, rows), unroll, simd) in models {
        let rows_path = manifest(rows);
        let mut opts = CompileOptions {
            calibration: Some(rows_path.clone()),
            simd,
            ..Default::default()
        };
        if let Some(u) = unroll {
            opts.unroll_limit = u;
        }
        let start = Instant::now();
        let compiled = pipeline::compile(&manifest(model), &opts).expect("compile");
        compiled.emit_c().expect("emit C");
        let ms = start.elapsed().as_secs_f64() * 1e3;
        let matrix = lfc::data::read_matrix(&rows_path).expect("rows");
        let fixed = pipeline::to_fixed(&rows_path, &matrix, compiled.program.input_scale)
            .expect("fixed rows");
        // The Rust back end has no --simd form (lower_simd says why):
        // its figures are those of the scalar rows.
        let opts = BenchOptions {
            rust: simd == Simd::None,
            ..Default::default()
        };
        let report = bench::run(&compiled, &fixed, ms, &opts).expect("bench");
        println!("== {what}");
        print!("{report}");
        if simd != Simd::None {
            println!("rust: not measured (the Rust back end has no --simd form)");
        }
        println!();
    }
}
