//! `lfc bench MODEL`: how fast the emitted snapshot is, as the kernel gets
//! it (the C built with the kernel's code-generation flags, see
//! [`crate::back::c::userspace::KERNEL_CFLAGS`]), on the given rows:
//!
//! - instructions per inference, in total and per layer (callgrind, when
//!   valgrind is installed; deterministic);
//! - warm ns per inference: the median of single timed inferences (less
//!   the timer's own cost), robust against a loaded machine's preemptions;
//! - cold ns per inference: the same, each inference after
//!   64 MiB of memory were written (more than the last-level cache), as a
//!   datapath sees it after other work;
//! - code (`.text`) and table (`.rodata`) bytes of the object;
//! - the float reference on the same rows, and the ratio: tract's f32
//!   plan, or lfc's own float graph (f64) for the ONNX-ML models tract
//!   cannot load (Scaler, TreeEnsembleRegressor, Binarizer...), as `lfc
//!   eval` chooses it ([`Reference::for_model`]).
//!
//! The outputs of the built snapshot are checked against the interpreter
//! on the rows first: a benchmark of wrong code is an error.

mod build;
mod callgrind;
pub mod rust;

use std::fmt;
use std::process::Command;
use std::time::Instant;

use crate::back::c::userspace::kernel_cflags;
use crate::back::c::Runner;
use crate::back::interp;
use crate::back::lower::{self, Form};
use crate::commands::Reference;
use crate::error::Error;
use crate::front::onnx::FloatModel;
use crate::ir::InstrKind;
use crate::pipeline::Compiled;
use crate::Result;

/// How long to measure.
#[derive(Clone, Copy, Debug)]
pub struct BenchOptions {
    /// Single inferences for the warm figure.
    pub warm_samples: u64,
    /// Single inferences for the cold figure.
    pub cold_samples: u64,
    /// Passes over the rows under callgrind.
    pub callgrind_passes: u64,
    /// Also build the Rust snapshot and count it in the same run.
    pub rust: bool,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            warm_samples: 20_000,
            cold_samples: 200,
            callgrind_passes: 5,
            rust: false,
        }
    }
}

/// One layer's share of the instructions.
#[derive(Clone, Debug)]
pub struct LayerCount {
    /// The layer's name in the emitted C (`lf_<name>`), or a bracketed
    /// part of the function (`(entry)`, `(helpers)`, `(other)`).
    pub name: String,
    pub op: String,
    pub macs: usize,
    pub form: Option<Form>,
    /// `--simd avx2` form (its scalar `form` is the fallback).
    pub simd: bool,
    pub instructions: f64,
}

/// What `lfc bench` measured.
#[derive(Clone, Debug)]
pub struct Report {
    pub model: String,
    pub rows: usize,
    pub inputs: usize,
    pub outputs: usize,
    pub macs: usize,
    /// `None` without valgrind.
    pub instructions: Option<f64>,
    pub layers: Vec<LayerCount>,
    pub warm_ns: f64,
    pub cold_ns: f64,
    pub code_bytes: u64,
    pub table_bytes: u64,
    /// ns per inference of the float reference (NaN: none runs the
    /// model, e.g. a QOperator model tract cannot load).
    pub float_ns: f64,
    /// Which reference `float_ns` timed ([`Reference::name`]).
    pub float_reference: &'static str,
    /// Compile + emit, in this process.
    pub compile_ms: f64,
    /// The Rust snapshot's figures (`--backend rust`).
    pub rust: Option<RustCost>,
}

/// The Rust-built object measured as the C one ([`rust::build`]).
#[derive(Clone, Debug)]
pub struct RustCost {
    /// Instructions per inference under callgrind (`None` without
    /// valgrind), the driver loop and the C shell's call included as for C.
    pub instructions: Option<f64>,
    /// `.text` and `.rodata` of the rustc object.
    pub code_bytes: u64,
    pub table_bytes: u64,
    /// Per layer (the emitted Rust's `// NAME - Op` blocks), as for C.
    pub layers: Vec<(String, f64)>,
}

/// Measures `compiled` on `rows` (s64 at the input scale).
pub fn run(
    compiled: &Compiled,
    rows: &[Vec<i64>],
    compile_ms: f64,
    opts: &BenchOptions,
) -> Result<Report> {
    if rows.is_empty() {
        return Err(Error::Other("lfc bench: no rows to run".into()));
    }
    let module = compiled.emit_c()?;
    check_outputs(compiled, &module, rows)?;
    let built = build::build(&module)?;
    let input: Vec<u8> = rows
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let timed = |mode: &str, n: u64| -> Result<f64> {
        let out = build::run_with_input(
            Command::new(&built.exe).arg(mode).arg(n.to_string()),
            &input,
        )?;
        Ok(build::field(&out, "median")? - build::field(&out, "timer")?)
    };
    let warm_ns = timed("warm", opts.warm_samples)?;
    let cold_ns = timed("cold", opts.cold_samples)?;
    let (code_bytes, table_bytes) = build::section_bytes(&built.object)?;
    let (instructions, layers) = if callgrind::available() {
        let c = callgrind::count(&built, &input, rows.len(), opts.callgrind_passes)?;
        (
            Some(c.per_inference),
            layer_counts(compiled, &module.source, &c),
        )
    } else {
        (None, vec![])
    };
    let (float_ns, float_reference) = float_ns(compiled, rows)?;
    let rust = if opts.rust {
        Some(rust_cost(compiled, &module, rows, &input, opts)?)
    } else {
        None
    };
    Ok(Report {
        rust,
        model: compiled.meta.name.clone(),
        rows: rows.len(),
        inputs: compiled.program.input_len,
        outputs: compiled.program.output_len,
        macs: compiled.program.macs(),
        instructions,
        layers,
        warm_ns,
        cold_ns,
        code_bytes,
        table_bytes,
        float_ns,
        float_reference,
        compile_ms,
    })
}

/// The Rust snapshot, checked against the interpreter on `rows`, then
/// built as the kernel object and counted as the C.
fn rust_cost(
    compiled: &Compiled,
    c: &crate::back::c::CModule,
    rows: &[Vec<i64>],
    input: &[u8],
    opts: &BenchOptions,
) -> Result<RustCost> {
    let module = compiled.emit_rust()?;
    let runner = crate::back::rust::userspace::Runner::build(&module)?;
    for (k, (row, got)) in rows.iter().zip(runner.run(rows)?).enumerate() {
        if got != interp::run(&compiled.program, row) {
            return Err(Error::Other(format!(
                "lfc bench: the emitted Rust and the interpreter disagree on row {k}"
            )));
        }
    }
    let built = rust::build(compiled, &module, c)?;
    let (code_bytes, table_bytes) = rust::sizes(&built)?;
    let (instructions, layers) = if callgrind::available() {
        let c = callgrind::count(&built, input, rows.len(), opts.callgrind_passes)?;
        let sections = rust::line_sections(&module.source);
        let mut by_name: Vec<(String, f64)> = Vec::new();
        for (line, ir) in &c.per_line {
            let s = sections
                .get(*line as usize)
                .map_or("(other)", |s| s.as_str());
            match by_name.iter_mut().find(|(n, _)| n == s) {
                Some((_, v)) => *v += ir,
                None => by_name.push((s.to_string(), *ir)),
            }
        }
        by_name.push(("(outside the snapshot)".into(), c.elsewhere));
        (Some(c.per_inference), by_name)
    } else {
        (None, vec![])
    };
    Ok(RustCost {
        instructions,
        code_bytes,
        table_bytes,
        layers,
    })
}

/// The built snapshot answers as the interpreter does on every row.
fn check_outputs(
    compiled: &Compiled,
    module: &crate::back::c::CModule,
    rows: &[Vec<i64>],
) -> Result<()> {
    let runner = Runner::build(module, &kernel_cflags())?;
    for (k, (row, got)) in rows.iter().zip(runner.run(rows)?).enumerate() {
        if got != interp::run(&compiled.program, row) {
            return Err(Error::Other(format!(
                "lfc bench: the emitted C and the interpreter disagree on row {k}"
            )));
        }
    }
    Ok(())
}

/// ns per inference of the float reference on the same rows (real
/// values), and its name: tract's f32 plan where tract loads the model,
/// else lfc's own float graph in f64 (the ONNX-ML ops tract lacks).
fn float_ns(compiled: &Compiled, rows: &[Vec<i64>]) -> Result<(f64, &'static str)> {
    let reference = match &compiled.imported {
        // A quantized model: the float model tract runs, if it can; a
        // QOperator model (com.microsoft ops) it cannot: NaN, printed as
        // "not available".
        Some(_) => match FloatModel::load(&compiled.model_path) {
            Ok(f) => Reference::Tract(f),
            Err(_) => return Ok((f64::NAN, "none")),
        },
        None => Reference::for_model(compiled)?,
    };
    let scale = compiled.program.input_scale as f64;
    let frows: Vec<Vec<f64>> = rows
        .iter()
        .map(|r| r.iter().map(|&v| v as f64 / scale).collect())
        .collect();
    let mut sink = 0f64;
    for r in &frows {
        sink += reference.run(compiled, r)?[0];
    }

    // The median of single timed runs (about 0.2 s, at least one pass),
    // as for the snapshot.
    let start = Instant::now();
    let mut times = Vec::new();
    while times.len() < frows.len() || start.elapsed().as_secs_f64() < 0.2 {
        let r = &frows[times.len() % frows.len()];
        let t = Instant::now();
        sink += reference.run(compiled, r)?[0];
        times.push(t.elapsed().as_nanos() as f64);
    }
    std::hint::black_box(sink);
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], reference.name()))
}

/// A line that opens a layer's block or its declarations in the emitted C:
/// `/* NAME - Op ...` or ` * NAME - Op ...` right after a `/*` line.
fn block_name(prev: &str, line: &str) -> Option<String> {
    let t = line.trim_start();
    let rest = t.strip_prefix("/* ").or_else(|| {
        (prev.trim() == "/*")
            .then(|| t.strip_prefix("* "))
            .flatten()
    })?;
    let (name, _) = rest.split_once(" - ")?;
    let ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    ok.then(|| name.to_string())
}

/// The layer each line of `source` belongs to (1-based line numbers).
fn line_sections(source: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut current = "(helpers)".to_string();
    let mut prev = "";
    for line in source.lines() {
        if line.starts_with("static int ") && line.contains("_infer(") {
            current = "(entry)".into();
        } else if line == "\treturn 0;" {
            current = "(return)".into();
        } else if let Some(n) = block_name(prev, line) {
            current = n;
        }
        out.push(current.clone());
        prev = line;
    }
    out
}

/// Per-layer instructions in program order, then the bracketed rest.
fn layer_counts(compiled: &Compiled, source: &str, c: &callgrind::Counts) -> Vec<LayerCount> {
    let sections = line_sections(source);
    let mut by_name: std::collections::BTreeMap<String, f64> = Default::default();
    for (line, ir) in &c.per_line {
        let s = sections
            .get(*line as usize)
            .cloned()
            .unwrap_or_else(|| "(other)".into());
        *by_name.entry(s).or_insert(0.0) += ir;
    }
    let p = &compiled.program;
    let plan = lower::plan_simd(
        p,
        &compiled.info,
        compiled.meta.unroll_limit,
        compiled.meta.simd,
    );
    let idents = crate::back::c::layer_idents(p, &compiled.info, &compiled.meta);
    let mut out = Vec::new();
    for (k, instr) in p.instrs.iter().enumerate() {
        let name = idents[k]
            .strip_prefix("lf_")
            .unwrap_or(&idents[k])
            .to_string();
        let macs = match &instr.kind {
            InstrKind::Dense { weight, .. } => weight.len(),
            _ => 0,
        };
        out.push(LayerCount {
            instructions: by_name.remove(&name).unwrap_or(0.0),
            name,
            op: instr.onnx_op.clone(),
            macs,
            form: Some(plan.steps[k].form),
            simd: plan.steps[k].simd.is_some(),
        });
    }
    by_name.insert("(outside the snapshot)".into(), c.elsewhere);
    for (name, instructions) in by_name {
        out.push(LayerCount {
            name,
            op: String::new(),
            macs: 0,
            form: None,
            simd: false,
            instructions,
        });
    }
    out
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        writeln!(
            f,
            "model: {} ({} -> {}, {} multiply-adds), {} rows",
            self.model, self.inputs, self.outputs, self.macs, self.rows
        )?;
        match self.instructions {
            Some(n) if self.macs == 0 => writeln!(
                f,
                "instructions/inference: {n:.0} (callgrind; no multiply-adds)"
            )?,
            Some(n) => writeln!(
                f,
                "instructions/inference: {n:.0} (callgrind; {:.2} per multiply-add)",
                n / self.macs as f64
            )?,
            None => writeln!(
                f,
                "instructions/inference: valgrind not installed, not counted"
            )?,
        }
        // ONNX-ML op names are long (TreeEnsembleClassifier)
        let w = self.layers.iter().map(|l| l.op.len()).fold(10, usize::max);
        if !self.layers.is_empty() {
            writeln!(
                f,
                "  {:<24} {:<w$} {:>7} {:<13} {:>12} {:>8}",
                "layer", "op", "MACs", "form", "instructions", "per MAC"
            )?;
        }
        for l in self.layers.iter().filter(|l| l.instructions >= 0.5) {
            let form = match l.form {
                _ if l.simd => "avx2",
                Some(Form::StraightLine) => "straight-line",
                Some(Form::Loop) => "loop",
                None => "",
            };
            let per = if l.macs > 0 {
                format!("{:.2}", l.instructions / l.macs as f64)
            } else {
                String::new()
            };
            writeln!(
                f,
                "  {:<24} {:<w$} {:>7} {:<13} {:>12.0} {:>8}",
                l.name, l.op, l.macs, form, l.instructions, per
            )?;
        }
        writeln!(
            f,
            "warm: {:.1} ns/inference (median of single inferences)",
            self.warm_ns
        )?;
        writeln!(
            f,
            "cold: {:.1} ns/inference (median; 64 MiB written between inferences)",
            self.cold_ns
        )?;
        writeln!(
            f,
            "code: {} bytes (.text), tables: {} bytes (.rodata)",
            self.code_bytes, self.table_bytes
        )?;
        if self.float_ns.is_nan() {
            writeln!(f, "tract f32: not available (tract cannot run this model)")?;
        } else {
            writeln!(
                f,
                "{}: {:.1} ns/inference (median of single rows); ratio float / snapshot (warm): {:.1}",
                self.float_reference,
                self.float_ns,
                self.float_ns / self.warm_ns
            )?;
        }
        if let Some(r) = &self.rust {
            self.fmt_rust(f, r)?;
        }
        writeln!(f, "compile: {:.1} ms (in process)", self.compile_ms)
    }
}

impl Report {
    /// The Rust lines: its figures beside the C ones of this run.
    fn fmt_rust(&self, f: &mut fmt::Formatter, r: &RustCost) -> fmt::Result {
        let vs = |rust: f64, c: f64| format!("{:+.1} % against C", (rust / c - 1.0) * 100.0);
        match (r.instructions, self.instructions) {
            (Some(n), Some(c)) => writeln!(
                f,
                "rust: instructions/inference: {n:.0} (callgrind; C {c:.0}, {})",
                vs(n, c)
            )?,
            _ => writeln!(
                f,
                "rust: instructions/inference: valgrind not installed, not counted"
            )?,
        }
        for (name, n) in r.layers.iter().filter(|l| l.1 >= 0.5) {
            let c = self.layers.iter().find(|l| &l.name == name);
            match c {
                Some(c) => writeln!(f, "  rust {name:<24} {n:>12.0} (C {:.0})", c.instructions)?,
                None => writeln!(f, "  rust {name:<24} {n:>12.0}")?,
            }
        }
        writeln!(
            f,
            "rust: code: {} bytes (.text), tables: {} bytes (.rodata) of the rustc object (C {} / {})",
            r.code_bytes, r.table_bytes, self.code_bytes, self.table_bytes
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_follow_block_comments() {
        let src = "static inline s64 lf_clamp(s64 x)\n{\n}\n/* fc0 - Gemm \"fc0\": weights */\n#define X 1\nstatic int lf_model_1_infer(const s64 *in)\n{\n\t/*\n\t * fc0 - Gemm \"fc0\"\n\t */\n\tacc = 1;\n\treturn 0;\n}\n";
        let s = line_sections(src);
        assert_eq!(s[1], "(helpers)");
        assert_eq!(s[5], "fc0");
        assert_eq!(s[6], "(entry)");
        assert_eq!(s[8], "(entry)");
        assert_eq!(s[11], "fc0");
        assert_eq!(s[12], "(return)");
    }
}
