//! Output guardrails and the drift flag (issue 11): `--output-range` clamps
//! every answer in the emitted C, the Rust back end and the interpreter
//! alike, bit for bit and flag for flag; the proven bounds, the guardrail
//! and the cost reach the snapshot descriptor and modinfo; bad ranges are
//! refused naming the option.

use lfc::back::c::userspace::Runner;
use lfc::back::interp;
use lfc::back::rust::userspace as rs;
use lfc::ir::program::{INFER_DRIFT, INFER_GUARD};
use lfc::pipeline::{self, CompileOptions, InputRange};
use lfc::quant::guard::OutputRange;

use crate::exec::manifest;

fn aurora(range: Option<OutputRange>) -> pipeline::Compiled {
    let opts = CompileOptions {
        calibration: Some(manifest("examples/aurora/representative_dataset.npy")),
        input_range: Some(InputRange::File(manifest(
            "examples/aurora/input_domain.csv",
        ))),
        output_range: range,
        ..CompileOptions::default()
    };
    pipeline::compile(&manifest("examples/aurora/aurora.onnx"), &opts).unwrap()
}

/// The 60 calibration rows (outputs -3.5 .. -1.25), each also with its first
/// feature pushed far outside the domain [-1, 10].
fn rows() -> Vec<Vec<i64>> {
    let m =
        lfc::data::read_matrix(&manifest("examples/aurora/representative_dataset.csv")).unwrap();
    let base = pipeline::to_fixed(std::path::Path::new("rows"), &m, 1000).unwrap();
    let mut all = base.clone();
    all.extend(base.into_iter().map(|mut r| {
        r[0] = 1_000_000;
        r
    }));
    all
}

#[test]
fn guardrail_is_bit_exact_in_c_rust_and_interpreter() {
    let plain = aurora(None);
    let c = aurora(Some(OutputRange::All(-3.0, 3.0)));
    assert_eq!(c.program.output_guard, Some(vec![(-3000, 3000)]));
    assert_ne!(
        c.meta.digest, plain.meta.digest,
        "the guardrail changes the code"
    );
    // The proven bounds reach below -3: the compile says so.
    assert!(
        c.warnings
            .iter()
            .any(|w| w.message.contains("the guardrail [-3, 3] clamps")),
        "{:?}",
        c.warnings
    );
    let rows = rows();
    let (cout, cflags) = Runner::build(&c.emit_c().unwrap(), &["-Wall", "-Werror"])
        .unwrap()
        .run_flags(&rows)
        .unwrap();
    let (rout, rflags) = rs::Runner::build(&c.emit_rust().unwrap())
        .unwrap()
        .run_flags(&rows)
        .unwrap();
    let mut hits = 0;
    for (k, row) in rows.iter().enumerate() {
        let (want, flags) = interp::run_flags(&c.program, row);
        assert_eq!((&cout[k], cflags[k]), (&want, flags), "row {k}: C");
        assert_eq!((&rout[k], rflags[k]), (&want, flags), "row {k}: Rust");
        // Independently of the code under test: the unguarded answer,
        // clamped by hand, and the flags from the row and that answer.
        let free = interp::run(&plain.program, row)[0];
        assert_eq!(want[0], free.clamp(-3000, 3000), "row {k}");
        assert_eq!(flags & INFER_GUARD != 0, !(-3000..=3000).contains(&free));
        assert_eq!(flags & INFER_DRIFT != 0, k >= 60, "row {k}: drift");
        hits += usize::from(flags & INFER_GUARD != 0);
    }
    assert!(hits > 0 && hits < rows.len(), "{hits} guardrail hits");
}

#[test]
fn guardrail_facts_reach_the_descriptor_and_modinfo() {
    let c = aurora(Some(OutputRange::All(-3.0, 3.0)));
    let m = c.emit_c().unwrap();
    let (lo, hi) = c.info.output_bounds[0];
    assert!(lo < -3000 && hi > lo, "proven [{lo}, {hi}]");
    assert!(m.source.contains(".guard_lo\t= lf_model_1_guard_lo,"));
    assert!(m.source.contains(&format!(
        "MODULE_INFO(output_bounds, \"{}:{}\");",
        lo as f64 / 1000.0,
        hi as f64 / 1000.0
    )));
    assert!(m.source.contains("MODULE_INFO(guardrail, \"-3:3\");"));
    assert!(m.source.contains(".macs\t\t= 1488,"));
    assert!(m
        .source
        .contains("MODULE_INFO(cost, \"macs=1488 cmps=0 stack="));
    let r = Runner::build(&m, &["-Wall", "-Werror"]).unwrap();
    assert_eq!(r.info.abi_version, 2);

    // A guardrail the proven bounds lie inside can never act: no clamp is
    // emitted, the facts still are, and no warning is printed.
    let wide = aurora(Some(OutputRange::All(-100.0, 100.0)));
    let w = wide.emit_c().unwrap();
    assert!(!w.source.contains("LF_INFER_GUARD);"), "clamp emitted");
    assert!(w.source.contains("MODULE_INFO(guardrail, \"-100:100\");"));
    assert!(wide.warnings.is_empty(), "{:?}", wide.warnings);
    let plain = aurora(None).emit_c().unwrap();
    assert!(plain.source.contains(".guard_lo\t= NULL,"));
    assert!(plain.source.contains("MODULE_INFO(guardrail, \"none\");"));
}

#[test]
fn bad_output_ranges_are_refused_naming_the_option() {
    let e = OutputRange::parse("3:-3").unwrap_err().to_string();
    assert!(
        e.contains("--output-range") && e.contains("LO <= HI"),
        "{e}"
    );
    let e = OutputRange::parse("nope").unwrap_err().to_string();
    assert!(e.contains("--output-range"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("g.csv");
    std::fs::write(&f, "lo,hi\n-1,1\n-2,2\n").unwrap();
    let opts = CompileOptions {
        calibration: Some(manifest("examples/aurora/representative_dataset.npy")),
        output_range: Some(OutputRange::File(f.clone())),
        ..CompileOptions::default()
    };
    let e = pipeline::compile(&manifest("examples/aurora/aurora.onnx"), &opts)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("g.csv") && e.contains("1 rows of `lo, hi`"),
        "{e}"
    );
    std::fs::write(&f, "lo,hi\n0.0001,0.0002\n").unwrap();
    let e = pipeline::compile(&manifest("examples/aurora/aurora.onnx"), &opts)
        .unwrap_err()
        .to_string();
    assert!(e.contains("holds no value at scale 1000"), "{e}");
}
