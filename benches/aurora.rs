//! Aurora benchmark (`cargo bench --bench aurora`; not a timed test).
//!
//! Compiles `examples/aurora/aurora.onnx` through `lfc::pipeline` (int16,
//! domain from the 60 representative rows), builds the emitted C exactly as
//! the kernel gets it with the kernel's code-generation flags plus a timing
//! driver, and reports on the 60 representative rows:
//! - ns per inference of the snapshot, and of tract's float plan on the same
//!   rows in the same run, and their ratio;
//! - with valgrind installed, instructions per inference under callgrind
//!   (a run of N iterations minus a run of 0, so start-up is not counted),
//!   against the target of 4,000 (LiteFlow's generated C: ~7,900).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use lfc::back::c::userspace::{compile_object, compiler, kernel_cflags, run_tool, write_tree};
use lfc::back::interp;
use lfc::front::onnx::FloatModel;
use lfc::pipeline::{self, CompileOptions};

const TIMING_C: &str = include_str!("aurora_timing.c");
/// Target instructions per inference.
const TARGET_INSNS: f64 = 4000.0;

fn manifest(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn rows_bytes(rows: &[Vec<i64>]) -> Vec<u8> {
    rows.iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect()
}

/// Runs the timing driver (optionally under a wrapper) and returns its
/// `key value` output.
fn run_driver(cmd: &mut Command, input: &[u8]) -> String {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn timing driver");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "timing driver failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn field(text: &str, key: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `{key}` in {text}"))
}

/// Total instructions (Ir) callgrind counted for one run.
fn callgrind_ir(exe: &Path, iterations: u64, input: &[u8], dir: &Path) -> Option<f64> {
    let out_file = dir.join(format!("callgrind.{iterations}.out"));
    let mut cmd = Command::new("valgrind");
    cmd.arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out_file.display()))
        .arg(exe)
        .arg(iterations.to_string());
    run_driver(&mut cmd, input);
    let text = std::fs::read_to_string(&out_file).ok()?;
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

fn main() {
    // `cargo bench` passes --bench; a filter that excludes us skips the run.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if !args.is_empty() && !args.iter().any(|a| "aurora".contains(a.as_str())) {
        return;
    }
    let model = manifest("examples/aurora/aurora.onnx");
    let data = manifest("examples/aurora/representative_dataset.npy");
    let opts = CompileOptions {
        calibration: Some(data.clone()),
        ..Default::default()
    };
    let compiled = pipeline::compile(&model, &opts).expect("compile aurora");
    let module = compiled.emit_c().expect("emit C");
    let matrix = lfc::data::read_matrix(&data).expect("read rows");
    let rows = pipeline::to_fixed(&data, &matrix, compiled.program.input_scale).expect("rows");
    let input = rows_bytes(&rows);
    println!(
        "aurora: {} rows, {} MACs, {} instructions in the program, frame {} bytes",
        rows.len(),
        compiled.program.macs(),
        compiled.program.instrs.len(),
        lfc::back::c::userspace::stack_usage(&module).expect("stack usage")
    );

    // Build: the module with the kernel's flags, the driver plainly.
    let dir = tempfile::tempdir().unwrap();
    let source = write_tree(&module, dir.path()).unwrap();
    let driver = dir.path().join("aurora_timing.c");
    std::fs::write(&driver, TIMING_C).unwrap();
    let module_o = dir.path().join("module.o");
    let driver_o = dir.path().join("driver.o");
    let mut flags = kernel_cflags();
    flags.extend(["-Wall", "-Werror"]);
    compile_object(&source, &module_o, &flags).expect("compile module");
    compile_object(&driver, &driver_o, &["-O2"]).expect("compile driver");
    let exe = dir.path().join("aurora_timing");
    let mut link = compiler().unwrap();
    link.arg(&module_o).arg(&driver_o).arg("-o").arg(&exe);
    run_tool(link, "cc (link)").expect("link");

    // The snapshot agrees with the interpreter on these rows (sanity: the
    // exec tests check this bit for bit on 1,000 more).
    let runner = lfc::back::c::Runner::build(&module, &kernel_cflags()).expect("runner");
    let c_out = runner.run(&rows).expect("run");
    for (row, got) in rows.iter().zip(&c_out) {
        assert_eq!(got, &interp::run(&compiled.program, row));
    }

    // Wall clock: C snapshot.
    let iterations: u64 = 20_000;
    let _ = run_driver(Command::new(&exe).arg("1000"), &input); // warm-up
    let t = run_driver(Command::new(&exe).arg(iterations.to_string()), &input);
    let n = field(&t, "rows") * field(&t, "iterations");
    let c_ns = field(&t, "ns") / n;

    // Wall clock: tract's float plan, same rows, same run.
    let float = FloatModel::load(&model).expect("tract model");
    let frows: Vec<Vec<f32>> = matrix
        .iter_rows()
        .map(|r| r.iter().map(|&v| v as f32).collect())
        .collect();
    let mut sink = 0f32;
    for r in &frows {
        sink += float.run(r).unwrap()[0];
    }
    let tract_iters = 200u64;
    let start = Instant::now();
    for _ in 0..tract_iters {
        for r in &frows {
            sink += float.run(r).unwrap()[0];
        }
    }
    let tract_ns = start.elapsed().as_nanos() as f64 / (tract_iters as f64 * frows.len() as f64);
    std::hint::black_box(sink);

    println!("C snapshot (kernel CFLAGS): {c_ns:9.1} ns/inference ({n} inferences)");
    println!("tract float plan:          {tract_ns:9.1} ns/inference");
    println!("speed-up:                  {:9.1}x", tract_ns / c_ns);

    // Instructions: callgrind, N iterations minus 0.
    let have_valgrind = Command::new("valgrind")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !have_valgrind {
        println!("instructions/inference: valgrind not installed, skipped");
        return;
    }
    let n_iter = 50u64;
    let full = callgrind_ir(&exe, n_iter, &input, dir.path());
    let base = callgrind_ir(&exe, 0, &input, dir.path());
    match (full, base) {
        (Some(full), Some(base)) => {
            let per = (full - base) / (n_iter as f64 * rows.len() as f64);
            println!(
                "instructions/inference:    {per:9.0} (callgrind, {} inferences, driver loop included; target <= {TARGET_INSNS})",
                n_iter as usize * rows.len()
            );
            if per > TARGET_INSNS {
                println!("  ABOVE TARGET by {:.0}", per - TARGET_INSNS);
            }
        }
        _ => println!("instructions/inference: could not read callgrind's totals"),
    }
}
