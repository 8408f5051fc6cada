//! `--simd avx2` (issue 10 item 3): the AVX2 build answers byte for byte
//! what the scalar build and the interpreter answer, on the vector path
//! and on its scalar fallback (`irq_fpu_usable()` false), built with the
//! kernel's code-generation flags; the Rust back end refuses the option.

use std::path::Path;
use std::process::Command;

use lfc::back::c::userspace::{Runner, KERNEL_CFLAGS};
use lfc::back::interp;
use lfc::back::lower_simd;
use lfc::ir::Precision;
use lfc::pipeline::{self, CompileOptions, Simd};

use crate::exec::{cases, manifest, random_rows};

fn cflags() -> Vec<&'static str> {
    let mut f = KERNEL_CFLAGS.to_vec();
    f.extend([
        "-Wall",
        "-Werror",
        "-Wdeclaration-after-statement",
        "-Wframe-larger-than=1024",
    ]);
    f
}

/// Builds `opts` scalar and AVX2 and checks both paths of the AVX2 build
/// against the scalar build and the interpreter; returns how many Dense
/// layers took the AVX2 form.
fn check(name: &str, path: &Path, opts: &CompileOptions, rows: Option<Vec<Vec<i64>>>) -> usize {
    let source = check_source(name, path, opts, rows);
    // Dense layers only (a fused table has its own LF_AVX2 lookup).
    source.matches("_avx2(const s64 *x, s64 *y)").count()
}

/// [`check`], returning the AVX2 module's source.
fn check_source(
    name: &str,
    path: &Path,
    opts: &CompileOptions,
    rows: Option<Vec<Vec<i64>>>,
) -> String {
    let scalar = pipeline::compile(path, opts).unwrap_or_else(|e| panic!("{name}: {e}"));
    let simd_opts = CompileOptions {
        simd: Simd::Avx2,
        ..opts.clone()
    };
    let simd = pipeline::compile(path, &simd_opts).unwrap();
    assert_ne!(
        scalar.meta.digest, simd.meta.digest,
        "{name}: --simd is in the digest"
    );
    let rows = rows.unwrap_or_else(|| random_rows(&scalar, 300, 11));
    let s = Runner::build(&scalar.emit_c().unwrap(), &cflags())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let module = simd.emit_c().unwrap();
    let v = Runner::build(&module, &cflags()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let want = s.run(&rows).unwrap();
    let got = v.run(&rows).unwrap();
    let fallback = v.run_without_fpu(&rows).unwrap();
    for (r, row) in rows.iter().enumerate() {
        assert_eq!(got[r], want[r], "{name}: row {r}: AVX2 != scalar");
        assert_eq!(fallback[r], want[r], "{name}: row {r}: fallback != scalar");
        assert_eq!(want[r], interp::run(&simd.program, row), "{name}: row {r}");
    }
    module.source
}

fn speed_fixture(name: &str) -> (std::path::PathBuf, CompileOptions) {
    let dir = manifest("tests/fixtures/speed");
    (
        dir.join(format!("{name}.onnx")),
        CompileOptions {
            calibration: Some(dir.join(format!("{name}_calib.csv"))),
            ..Default::default()
        },
    )
}

#[test]
fn simd_avx2_is_bit_exact_on_the_speed_models() {
    assert!(
        lower_simd::host_has(Simd::Avx2),
        "this test machine has no AVX2: only the fallback would be checked"
    );
    // Every layer the plan makes AVX2 is counted: Aurora's two hidden
    // layers (its 16 -> 1 output stays scalar), LinnOS's two, all three of
    // 64-256-256-8.
    // With int16 weights too (--weight-bits-auto off): the wider lanes
    // take the other row-group endings below.
    for (name, layers) in [("linnos", 2), ("mlp4", 3)] {
        let (path, opts) = speed_fixture(name);
        assert_eq!(check(name, &path, &opts, None), layers, "{name}");
        let full = CompileOptions {
            weight_bits_auto: false,
            ..opts
        };
        assert_eq!(
            check(name, &path, &full, None),
            layers,
            "{name} int16 weights"
        );
    }
    let aurora = manifest("examples/aurora/aurora.onnx");
    let opts = CompileOptions {
        calibration: Some(manifest("examples/aurora/representative_dataset.npy")),
        ..Default::default()
    };
    assert_eq!(check("aurora", &aurora, &opts, None), 2);
    // The three ways a row group ends, each run above: Aurora's fc0 adds
    // its 8 rows' s32 lanes with vphaddd (row totals proven in s32),
    // LinnOS's fc0 transposes 4 rows of s64 lanes, its 256 -> 2 output
    // layer sums each row alone.
    let src = |path: &Path, opts: &CompileOptions| {
        let o = CompileOptions {
            simd: Simd::Avx2,
            ..opts.clone()
        };
        pipeline::compile(path, &o)
            .unwrap()
            .emit_c()
            .unwrap()
            .source
    };
    // Aurora's fc0 finishes its 8 rows in s32 lanes right after vphaddd
    // (valid::lanes::tail_s32 holds), then looks its table up in lanes.
    let a = src(&aurora, &opts);
    assert!(
        a.contains("t = lf_hadd8(a0, a1, a2, a3, a4, a5, a6, a7) + lf_ld8_"),
        "{a}"
    );
    assert!(a.contains("t = lf_rescale8(t, lf_ld8_") && !a.contains("lf_sum8(&y[j]"));
    let full = |(p, o): (std::path::PathBuf, CompileOptions)| {
        let o = CompileOptions {
            weight_bits_auto: false,
            ..o
        };
        (p, o)
    };
    let (linnos, lopts) = full(speed_fixture("linnos"));
    let l = src(&linnos, &lopts);
    assert!(l.contains("lf_sum4q(&y[j], lf_widen(a0), lf_widen(a1), lf_widen(a2), lf_widen(a3));"));
    assert!(l.contains("y[j + 1] = lf_hsum(s1);"), "{l}");
    // 64-256-256-8's 256 -> 256 layer may sum one chunk per s32 lane only:
    // its lanes add wrapping with their high halves apart (lf_join()).
    let (mlp4, mopts) = full(speed_fixture("mlp4"));
    assert!(src(&mlp4, &mopts).contains("s3 = lf_join(a3, h3);"));
}

#[test]
fn simd_avx2_is_bit_exact_on_the_exec_models() {
    let dir = tempfile::tempdir().unwrap();
    // Row groups finished in s32 lanes after vphaddd, and those summed by
    // vphaddd but finished after (int8: s32 accumulators, no vector tail).
    let mut tails = [(0, 0); 2];
    for (p, precision) in [Precision::Int16, Precision::Int8].into_iter().enumerate() {
        for (name, path, mut opts) in cases(dir.path()) {
            opts.precision = precision;
            let name = format!("{name} {}", precision.name());
            let src = check_source(&name, &path, &opts, None);
            let (fused, kept) = (
                src.matches("t = lf_rescale8(t, ").count(),
                src.matches("lf_sum8(&y[j], ").count(),
            );
            tails[p].0 += fused;
            tails[p].1 += kept;
        }
    }
    assert!(tails[0].0 >= 2, "{tails:?}");
    assert!(tails[1].0 == 0 && tails[1].1 >= 2, "{tails:?}");
}

#[test]
fn simd_rust_back_end_refuses_with_the_reason() {
    let (path, opts) = speed_fixture("linnos");
    let c = pipeline::compile(
        &path,
        &CompileOptions {
            simd: Simd::Avx2,
            ..opts
        },
    )
    .unwrap();
    let Err(e) = c.emit_rust() else {
        panic!("the Rust back end accepted --simd avx2");
    };
    let e = e.to_string();
    assert!(e.contains("--simd avx2") && e.contains("core::arch"), "{e}");
}

#[test]
fn simd_cli_reports_each_layer() {
    let (path, _) = speed_fixture("linnos");
    let calib = manifest("tests/fixtures/speed/linnos_calib.csv");
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lfc"))
        .arg("compile")
        .arg(&path)
        .arg("--calibration")
        .arg(&calib)
        .args(["--simd", "avx2", "-o"])
        .arg(dir.path().join("lf_model_3.c"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("--simd avx2: fc0: vpmaddwd"), "{err}");
    let c = std::fs::read_to_string(dir.path().join("lf_model_3.c")).unwrap();
    assert!(c.contains("kernel_fpu_begin();") && c.contains("irq_fpu_usable()"));
}

/// The text of `static inline ... name(...) { ... }` in `src`: from its
/// first line to the first `}` at the start of a line after it.
fn function_text<'a>(src: &'a str, head: &str) -> &'a str {
    let start = src
        .find(head)
        .unwrap_or_else(|| panic!("{head} not in the module"));
    let end = start + src[start..].find("\n}\n").unwrap() + 3;
    &src[start..end]
}

/// The vector tail's helpers (`lf_rescale4()`, `lf_clamp4()`, the table
/// loads), taken from an emitted module as they are, against the scalar
/// `lf_rescale()` and `lf_clamp()` of the same module, on the values
/// where they could differ: exact halves (positive and negative),
/// neighbours of powers of two, s32 boundaries of the high and low
/// halves, multipliers 0 .. 2^31 - 1, shifts 1 .. 62, and a million
/// random operands, wherever `x * mul + 2^(shift - 1)` is in s64 (what
/// the validator proves for both forms); the table helpers (gathers of
/// s16 and s32 entries, the signed small rescale of a table step).
#[test]
fn simd_vector_tail_helpers_equal_the_scalar_ones() {
    assert!(
        lower_simd::host_has(Simd::Avx2),
        "this test machine has no AVX2: the vector helpers cannot run"
    );
    let (path, opts) = speed_fixture("linnos");
    let o = CompileOptions {
        simd: Simd::Avx2,
        ..opts
    };
    let src = pipeline::compile(&path, &o)
        .unwrap()
        .emit_c()
        .unwrap()
        .source;
    assert!(
        src.contains("lf_st8(&y[j], lf_clamp8(t, LF_FC0_QMIN, LF_FC0_QMAX));"),
        "fc0 has the s32 tail"
    );
    let start = src.find("#define LF_AVX2").unwrap();
    let end = src.find("static bool lf_simd_begin").unwrap();
    let helpers = &src[start..src[..end].rfind("/*").unwrap()];
    let scalar = [
        function_text(&src, "static inline s64 lf_clamp("),
        function_text(&src, "static inline s64 lf_rescale("),
    ];
    let harness = format!(
        "{}\n{}\n{}\n{}\n{}",
        "#include <stdio.h>\n\
         typedef signed char s8; typedef short s16; typedef int s32;\n\
         typedef long long s64; typedef unsigned int u32;\n\
         typedef unsigned long long u64;\n\
         #define __aligned(x) __attribute__((aligned(x)))",
        scalar.join("\n"),
        helpers,
        "",
        include_str!("simd/tail_check.c")
    );
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("tail_check.c");
    std::fs::write(&c, harness).unwrap();
    let exe = dir.path().join("tail_check");
    let mut cc = lfc::back::c::userspace::compiler().unwrap();
    let out = cc
        .args(cflags())
        .arg("-o")
        .arg(&exe)
        .arg(&c)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(&exe).output().unwrap();
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{text}");
    // The harness counts what it compared: every class above was reached.
    let count = |what: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(what))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{what} missing: {text}"))
    };
    assert!(count("rescale:") > 1_000_000, "{text}");
    assert!(count("ties:") > 1000, "{text}");
    assert!(count("negative ties:") > 1000, "{text}");
    assert!(count("clamp:") > 1000, "{text}");
    assert!(count("loads:") >= 4 * 256, "{text}");
    assert!(count("gathers:") >= 8 * 257, "{text}");
    assert!(count("small:") >= 30 * 80_000, "{text}");
    assert!(count("small negative ties:") > 100, "{text}");
    assert!(count("rescale8:") >= 8 * 32 * 40_000, "{text}");
    assert!(count("ties8:") > 10_000, "{text}");
    assert!(count("clamp8:") >= 5 * 400 * 8, "{text}");
    assert!(count("loads8:") >= 8 * 256 + 16 * 1000, "{text}");
    // Aurora's tables are looked up in lanes: its tanh tables padded.
    let aurora = manifest("examples/aurora/aurora.onnx");
    let a = pipeline::compile(
        &aurora,
        &CompileOptions {
            calibration: Some(manifest("examples/aurora/representative_dataset.npy")),
            simd: Simd::Avx2,
            ..Default::default()
        },
    )
    .unwrap()
    .emit_c()
    .unwrap()
    .source;
    assert!(a.contains("lf_tanh0_avx2(lf_b1, LF_FC0_OUT);"), "{a}");
    assert!(a.contains("0 /* padding: lf_gather4_s16() reads 32 bits */"));
}
