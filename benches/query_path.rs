//! Query-path benchmark (`cargo bench --bench query_path`; not a timed
//! test): what the drift counter and shadow sampling add to a query, in
//! instructions (callgrind, deterministic), issue 11.
//!
//! lf_kernel's query path (lf_run() and lf_query_model() of
//! runtime-kmod/lf_main.c, lf_shadow_offer() of lf_internal.h and
//! lf_shadow_sample() of lf_shadow.c, copied verbatim from the sources
//! here) is built for userspace with `benches/query_path/lf_query_shim.h`
//! standing in for the kernel (one CPU; what it does not count is listed
//! there) and linked with the Aurora snapshot of the lf_tcp checks
//! (lf_model_1's options), built with the kernel's flags. callgrind counts
//! the instructions inside lf_query_model() (`--toggle-collect`, the
//! snapshot's infer() included) and inside infer() alone, per query, over
//! the 60 representative rows (all inside the domain) in four modes:
//! plain, drift (in[0] above the domain on every row), a shadow that
//! samples none of them, a shadow that samples every one. The snapshot's
//! own share of the drift counter (OR-ing the clamp's comparisons into
//! its flags) is measured on a copy of the module with that one statement
//! removed.

use std::path::{Path, PathBuf};
use std::process::Command;

use lfc::back::c::userspace::{compile_object, compiler, kernel_cflags, run_tool, write_tree};
use lfc::pipeline::{self, CompileOptions, InputRange};

mod common;
use common::{field, rows_bytes, run_driver};

const BENCH_C: &str = include_str!("query_path/lf_query_bench.c");
const SHIM_H: &str = include_str!("query_path/lf_query_shim.h");
/// The headers lf_internal.h includes, all reaching the query shim.
const LINUX_STUBS: &[&str] = &[
    "list.h",
    "mutex.h",
    "netlink.h",
    "percpu.h",
    "rcupdate.h",
    "xarray.h",
];
/// The statement of lf_clamp_flag() that notes a clamped value.
const FLAG_STMT: &str = "\t*flags |= ((x < lo) | (x > hi)) * flag;\n";
const QUERIES: u64 = 6000;

fn manifest(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// Lines `from` (a line starting so) up to `to` (included, or excluded
/// when `to_excluded`) of a runtime-kmod source: its real text.
fn cut(file: &str, from: &str, to: &str, to_excluded: bool) -> String {
    let text = std::fs::read_to_string(manifest(file)).expect("read runtime-kmod source");
    let start = text
        .find(&format!("\n{from}"))
        .unwrap_or_else(|| panic!("{file}: no line starting `{from}`: update the bench"));
    let rest = &text[start + 1..];
    let end = rest
        .find(&format!("\n{to}"))
        .unwrap_or_else(|| panic!("{file}: no line `{to}` after `{from}`: update the bench"));
    let end = if to_excluded {
        end + 1
    } else {
        end + 1
            + rest[end + 1..]
                .find('\n')
                .map_or(rest.len() - end - 1, |e| e + 1)
    };
    format!(
        "#line {} \"{file}\"\n{}",
        line_of(&text, start + 1),
        &rest[..end]
    )
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count() + 1
}

/// Builds the bench executable around `source` (an lfc module's C) in `dir`.
fn build(source: &str, stem: &str, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let module_c = dir.join(format!("{stem}.c"));
    std::fs::write(&module_c, source).unwrap();
    let inc = dir.join("include");
    let qinc = dir.join("qinc");
    std::fs::create_dir_all(qinc.join("linux")).unwrap();
    std::fs::write(qinc.join("lf_query_shim.h"), SHIM_H).unwrap();
    for stub in LINUX_STUBS {
        std::fs::write(
            qinc.join("linux").join(stub),
            "/* userspace stub: see lf_query_shim.h */\n#include <lf_query_shim.h>\n",
        )
        .unwrap();
    }
    let inc_text = [
        cut(
            "runtime-kmod/lf_shadow.c",
            "#define LF_SHADOW_RING",
            "/* Move the oldest sample",
            true,
        ),
        cut(
            "runtime-kmod/lf_main.c",
            "static __always_inline int lf_run(",
            "EXPORT_SYMBOL_GPL(lf_query_model);",
            false,
        ),
    ]
    .concat();
    std::fs::write(dir.join("lf_query_path.inc"), inc_text).unwrap();
    let bench_c = dir.join("lf_query_bench.c");
    std::fs::write(&bench_c, BENCH_C).unwrap();

    let mut flags = kernel_cflags();
    flags.extend(["-g", "-Wall", "-Werror"]);
    let module_o = dir.join("module.o");
    compile_object(&module_c, &module_o, &flags).expect("compile module");
    let bench_o = dir.join("bench.o");
    let mut cc = compiler().unwrap();
    cc.arg("-std=gnu11")
        .args(&flags)
        .arg("-Wno-unused-parameter")
        .arg("-I")
        .arg(&qinc)
        .arg("-I")
        .arg(&inc)
        .arg("-I")
        .arg(manifest("runtime-kmod"))
        .arg("-I")
        .arg(dir)
        .arg("-c")
        .arg(&bench_c)
        .arg("-o")
        .arg(&bench_o);
    run_tool(cc, "cc (query bench)").expect("compile the query path");
    let exe = dir.join("lf_query_bench");
    let mut link = compiler().unwrap();
    link.arg(&module_o).arg(&bench_o).arg("-o").arg(&exe);
    run_tool(link, "cc (link)").expect("link");
    exe
}

/// Instructions per call of `func` (inclusive) in `exe MODE QUERIES`.
fn per_call(exe: &Path, mode: &str, func: &str, input: &[u8], dir: &Path) -> (f64, String) {
    let out = dir.join(format!("callgrind.{mode}.{func}.out"));
    let mut cmd = Command::new("valgrind");
    cmd.arg("--tool=callgrind")
        .arg(format!("--toggle-collect={func}"))
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(exe)
        .arg(mode)
        .arg(QUERIES.to_string());
    let text = run_driver(&mut cmd, input);
    let prof = std::fs::read_to_string(&out).expect("callgrind profile");
    let total: f64 = prof
        .lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("callgrind totals");
    assert_eq!(field(&text, "queries"), QUERIES as f64, "{text}");
    assert_eq!(field(&text, "failed"), 0.0, "{text}");
    (total / QUERIES as f64, text)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if !args.is_empty() && !args.iter().any(|a| "query_path".contains(a.as_str())) {
        return;
    }
    let valgrind = Command::new("valgrind").arg("--version").output();
    if !valgrind.is_ok_and(|o| o.status.success()) {
        println!("query_path: valgrind not installed, skipped");
        return;
    }
    let data = manifest("examples/aurora/representative_dataset.npy");
    let opts = CompileOptions {
        calibration: Some(data.clone()),
        input_range: Some(InputRange::File(manifest(
            "examples/aurora/input_domain.csv",
        ))),
        uuid: 1,
        ..Default::default()
    };
    let compiled =
        pipeline::compile(&manifest("examples/aurora/aurora.onnx"), &opts).expect("compile");
    let module = compiled.emit_c().expect("emit C");
    let matrix = lfc::data::read_matrix(&data).expect("rows");
    let rows = pipeline::to_fixed(&data, &matrix, compiled.program.input_scale).expect("rows");
    let input = rows_bytes(&rows);
    let infer = module
        .source
        .lines()
        .find_map(|l| {
            l.strip_prefix("static int ")?
                .strip_suffix("(const s64 *in, s64 *out)")
        })
        .expect("the module's infer()")
        .to_string();
    assert_eq!(
        module.source.matches(FLAG_STMT).count(),
        1,
        "lf_clamp_flag()'s statement changed: update the bench"
    );
    let dir = tempfile::tempdir().unwrap();
    // write_tree: the module's include/ (lf_kernel.h, the snapshot shim).
    write_tree(&module, dir.path()).unwrap();
    let exe = build(&module.source, &module.stem, dir.path());
    let bare = dir.path().join("noflag");
    write_tree(&module, &bare).unwrap();
    let exe_bare = build(
        &module
            .source
            .replace(FLAG_STMT, "\t(void)flags; (void)flag;\n"),
        &module.stem,
        &bare,
    );

    println!(
        "query_path: Aurora (lf_model_1's options), {} rows cycled, {QUERIES} queries per run, instructions per query (callgrind)",
        rows.len()
    );
    let mut table = Vec::new();
    for mode in ["plain", "drift", "skip", "sample"] {
        let (q, text) = per_call(&exe, mode, "lf_query_model", &input, dir.path());
        let (i, _) = per_call(&exe, mode, &infer, &input, dir.path());
        let want_drift = if mode == "drift" { QUERIES } else { 0 };
        assert_eq!(field(&text, "drift"), want_drift as f64, "{mode}: {text}");
        let want_sampled = if mode == "sample" { QUERIES } else { 0 };
        assert_eq!(
            field(&text, "sampled"),
            want_sampled as f64,
            "{mode}: {text}"
        );
        println!(
            "  {mode:7} lf_query_model {q:8.1}  infer {i:8.1}  query path without infer {:6.1}",
            q - i
        );
        table.push((q, i));
    }
    let (bi, _) = per_call(&exe_bare, "plain", &infer, &input, &bare);
    let (plain, drift, skip, sample) = (table[0], table[1], table[2], table[3]);
    println!(
        "  drift flag in the snapshot (OR of the clamp's comparisons, {} inputs): {:+.1} (infer {bi:.1} without it)",
        compiled.program.input_len,
        plain.1 - bi
    );
    println!(
        "  drift counter in lf_kernel, a drifting query: {:+.1}",
        (drift.0 - drift.1) - (plain.0 - plain.1)
    );
    println!(
        "  shadow on, query not sampled: {:+.1}; sampled: {:+.1} (lock, copy of {} values, queue_work's pending test)",
        (skip.0 - skip.1) - (plain.0 - plain.1),
        (sample.0 - sample.1) - (plain.0 - plain.1),
        compiled.program.input_len + compiled.program.output_len
    );
}
