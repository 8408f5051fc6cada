//! What the CLI's subcommands do, as library calls returning values (the
//! binary only parses arguments and prints).

mod imported;

use std::fmt;
use std::path::Path;

use crate::back::{c, interp};
use crate::data::{self, Matrix};
use crate::error::Error;
use crate::front::onnx::FloatModel;
use crate::pipeline::{self, Compiled};
use crate::Result;

/// Which implementation of the integer program runs the rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Engine {
    /// The emitted C, built for userspace with the system C compiler: the
    /// same source the kernel module gets.
    #[default]
    C,
    /// The Rust reference interpreter.
    Interp,
    /// The emitted Rust snapshot, built for userspace with rustc.
    Rust,
}

/// Runs `rows` (s64 at the input scale) through the compiled program.
pub fn run_fixed(compiled: &Compiled, rows: &[Vec<i64>], engine: Engine) -> Result<Vec<Vec<i64>>> {
    match engine {
        Engine::Interp => Ok(rows
            .iter()
            .map(|r| interp::run(&compiled.program, r))
            .collect()),
        Engine::C => {
            let module = compiled.emit_c()?;
            let runner = c::userspace::Runner::build(&module, &[])?;
            runner.run(rows)
        }
        Engine::Rust => {
            let module = compiled.emit_rust()?;
            crate::back::rust::userspace::Runner::build(&module)?.run(rows)
        }
    }
}

/// Reads an input file, checks it against the model, converts it to s64
/// at the input scale.
pub fn read_inputs(compiled: &Compiled, path: &Path) -> Result<Vec<Vec<i64>>> {
    let m = data::read_matrix(path)?;
    data::check_nonempty(path, &m)?;
    let g = &compiled.graph;
    let what = format!("the model's input `{}`", g.value(g.input).name);
    data::check_width(path, &m, g.input_len(), &what)?;
    data::check_finite(path, &m)?;
    pipeline::to_fixed(path, &m, compiled.program.input_scale)
}

/// What `lfc run` answers: every output (or the one selected), as real
/// values, with a column name per value.
#[derive(Clone, Debug)]
pub struct RunOutput {
    pub values: Matrix,
    /// The same outputs as the `s64` values the engine answered (labels
    /// at scale 1, the rest at their output scale): `lfc run --raw`.
    pub fixed: Vec<Vec<i64>>,
    pub columns: Vec<String>,
    /// The model has several outputs: CSV gets a header line of column
    /// names (a one-output model keeps the plain headerless format).
    pub several: bool,
    /// Rows outside the input domain (clamped by the snapshot).
    pub domain: DomainReport,
}

/// `lfc run`: real inputs in, real outputs out; `select` keeps one output
/// by its ONNX name.
pub fn run(
    compiled: &Compiled,
    input: &Path,
    engine: Engine,
    select: Option<&str>,
) -> Result<RunOutput> {
    let p = &compiled.program;
    let outputs: Vec<_> = match select {
        None => p.outputs.clone(),
        Some(name) => match p.outputs.iter().find(|o| o.name == name) {
            Some(o) => vec![o.clone()],
            None => {
                let names: Vec<String> =
                    p.outputs.iter().map(|o| format!("`{}`", o.name)).collect();
                return Err(Error::option(
                    "--output",
                    format!(
                        "the model has no output `{name}`; its outputs: {}",
                        names.join(", ")
                    ),
                ));
            }
        },
    };
    let rows = read_inputs(compiled, input)?;
    let domain = DomainReport::of(compiled, &rows);
    let out = run_fixed(compiled, &rows, engine)?;
    Ok(RunOutput {
        values: pipeline::from_fixed_outputs(&out, &outputs),
        fixed: pipeline::select_fixed_outputs(&out, &outputs),
        columns: pipeline::output_columns(&outputs),
        several: p.outputs.len() > 1,
        domain,
    })
}

/// Inputs outside the compiled input domain: the snapshot clamps each
/// feature to it before any arithmetic, so such rows are answered for the
/// nearest point of the domain. `lfc run` and `lfc eval` always say so.
#[derive(Clone, Debug, PartialEq)]
pub struct DomainReport {
    pub rows: usize,
    /// Rows with at least one feature outside.
    pub rows_outside: usize,
    /// Per feature, how many rows had it outside.
    pub per_feature: Vec<usize>,
    /// The value farthest outside, relative to its feature's width:
    /// (row, feature, value, lo, hi), real units.
    pub worst: Option<(usize, usize, f64, f64, f64)>,
}

impl DomainReport {
    /// Checks `rows` (s64 at the input scale) against the program's input
    /// clamp, the very bounds the snapshot enforces.
    pub fn of(compiled: &Compiled, rows: &[Vec<i64>]) -> DomainReport {
        let p = &compiled.program;
        let is = p.input_scale as f64;
        let (lo, hi) = crate::report::analysis::input_clamp(compiled);
        let mut r = DomainReport {
            rows: rows.len(),
            rows_outside: 0,
            per_feature: vec![0; p.input_len],
            worst: None,
        };
        let mut worst_dist = 0f64;
        for (k, row) in rows.iter().enumerate() {
            let mut out = false;
            for (i, &v) in row.iter().enumerate() {
                if v >= lo[i] && v <= hi[i] {
                    continue;
                }
                out = true;
                r.per_feature[i] += 1;
                let (v128, l, h) = (v as i128, lo[i] as i128, hi[i] as i128);
                let width = ((h - l) as f64).max(1.0);
                let dist = (l - v128).max(v128 - h) as f64 / width;
                if dist > worst_dist {
                    worst_dist = dist;
                    r.worst = Some((k, i, v as f64 / is, lo[i] as f64 / is, hi[i] as f64 / is));
                }
            }
            r.rows_outside += out as usize;
        }
        r
    }

    pub fn features_outside(&self) -> usize {
        self.per_feature.iter().filter(|&&n| n > 0).count()
    }
}

impl fmt::Display for DomainReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rows_outside == 0 {
            return writeln!(
                f,
                "input domain: all {} rows inside (nothing clamped)",
                self.rows
            );
        }
        write!(
            f,
            "input domain: {} of {} rows had inputs outside the domain and were clamped to it ({} of {} features; values clamped:",
            self.rows_outside,
            self.rows,
            self.features_outside(),
            self.per_feature.len()
        )?;
        let mut shown = 0;
        for (i, &n) in self.per_feature.iter().enumerate() {
            if n > 0 {
                if shown == 8 {
                    write!(f, " …")?;
                    break;
                }
                write!(f, " feature {i}: {n}")?;
                shown += 1;
            }
        }
        writeln!(f, ")")?;
        if let Some((row, i, v, lo, hi)) = self.worst {
            writeln!(
                f,
                "input domain: farthest outside: row {}, feature {i} = {v} (domain [{lo}, {hi}])",
                row + 1
            )?;
        }
        Ok(())
    }
}

/// Error statistics of one output column.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorStats {
    pub max: f64,
    pub mean: f64,
    pub p99: f64,
}

impl ErrorStats {
    pub fn of(mut errs: Vec<f64>) -> ErrorStats {
        if errs.is_empty() {
            return ErrorStats {
                max: 0.0,
                mean: 0.0,
                p99: 0.0,
            };
        }
        errs.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let n = errs.len();
        let idx = ((n as f64 * 0.99).ceil() as usize).clamp(1, n) - 1;
        ErrorStats {
            max: errs[n - 1],
            mean: errs.iter().sum::<f64>() / n as f64,
            p99: errs[idx],
        }
    }
}

/// `lfc eval`: fidelity against the float model (tract's, or lfc's own
/// float graph for models with ops tract lacks), and C against the
/// interpreter.
#[derive(Clone, Debug)]
pub struct EvalReport {
    pub rows: usize,
    /// What the results were compared against: `tract f32`, or
    /// `lfc float graph (f64)`.
    pub reference: String,
    /// Per output column: |fixed-point result - reference|.
    pub per_output: Vec<ErrorStats>,
    /// `None` when the engine and the interpreter agree on every row;
    /// otherwise the first mismatch (row, output index, engine value,
    /// interpreter value).
    pub mismatch: Option<(usize, usize, i64, i64)>,
    /// What ran the rows (the emitted C or the emitted Rust).
    pub engine: Engine,
    /// Rows outside the input domain (clamped by the snapshot).
    pub domain: DomainReport,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::C => "C",
            Engine::Interp => "interpreter",
            Engine::Rust => "Rust",
        }
    }
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "rows: {}", self.rows)?;
        write!(f, "{}", self.domain)?;
        writeln!(
            f,
            "output  max_abs_err  mean_abs_err  p99_abs_err   (vs {})",
            self.reference
        )?;
        for (i, s) in self.per_output.iter().enumerate() {
            writeln!(
                f,
                "{i:>6}  {:>11.6}  {:>12.6}  {:>11.6}",
                s.max, s.mean, s.p99
            )?;
        }
        match self.mismatch {
            None => writeln!(
                f,
                "{} == interpreter: bit-exact on {} rows",
                self.engine.name(),
                self.rows
            ),
            Some((r, o, c, i)) => writeln!(
                f,
                "{e} != interpreter: first mismatch at row {}, output {o}: {e} {c}, interpreter {i}",
                r + 1,
                e = self.engine.name()
            ),
        }
    }
}

pub fn eval(compiled: &Compiled, data_path: &Path) -> Result<EvalReport> {
    eval_with(compiled, data_path, Engine::C)
}

/// `lfc eval --engine E`: fidelity of E's outputs, and E against the
/// interpreter bit for bit.
pub fn eval_with(compiled: &Compiled, data_path: &Path, engine: Engine) -> Result<EvalReport> {
    eval_against(compiled, data_path, engine, Reference::for_model(compiled)?)
}

/// [`eval_with`] against a given reference (`lfc eval --float-model`).
pub fn eval_against(
    compiled: &Compiled,
    data_path: &Path,
    engine: Engine,
    reference: Reference,
) -> Result<EvalReport> {
    let rows = read_inputs(compiled, data_path)?;
    let m = data::read_matrix(data_path)?;
    let c_out = run_fixed(compiled, &rows, engine)?;
    let i_out = run_fixed(compiled, &rows, Engine::Interp)?;
    let real = pipeline::from_fixed_outputs(&c_out, &compiled.program.outputs);
    let n_out = compiled.program.output_len;
    let mut errs = vec![Vec::with_capacity(rows.len()); n_out];
    let mut mismatch = None;
    for (r, row) in m.iter_rows().enumerate() {
        let y = reference.run(compiled, row)?;
        if y.len() != n_out {
            return Err(Error::Other(format!(
                "the reference returned {} outputs, the program has {n_out}",
                y.len()
            )));
        }
        for o in 0..n_out {
            errs[o].push((real.row(r)[o] - y[o]).abs());
            if mismatch.is_none() && c_out[r][o] != i_out[r][o] {
                mismatch = Some((r, o, c_out[r][o], i_out[r][o]));
            }
        }
    }
    Ok(EvalReport {
        domain: DomainReport::of(compiled, &rows),
        rows: rows.len(),
        reference: reference.name().to_string(),
        per_output: errs.into_iter().map(ErrorStats::of).collect(),
        mismatch,
        engine,
    })
}

/// The float model results are compared against.
pub enum Reference {
    /// tract's optimized f32 execution of the ONNX file.
    Tract(FloatModel),
    /// lfc's own float graph in f64, for models with ops tract cannot run
    /// (Scaler, TreeEnsembleRegressor…); pinned against onnxruntime's
    /// outputs by the ONNX-ML tests.
    Graph,
    /// A quantized model's QDQ graph simulated exactly (real arithmetic,
    /// each quantization rounded half to even and saturated): what
    /// onnxruntime computes (issue 8).
    Qdq(std::sync::Arc<crate::ir::qgraph::QGraph>),
}

impl Reference {
    /// `--float-model F.onnx`: the float model a quantized one came from,
    /// run by tract.
    pub fn float_model(path: &Path) -> Result<Reference> {
        Ok(Reference::Tract(FloatModel::load(path)?))
    }

    /// tract when it can run the model, else lfc's float graph.
    pub fn for_model(compiled: &Compiled) -> Result<Reference> {
        if let Some(q) = &compiled.imported {
            return Ok(Reference::Qdq(q.clone()));
        }
        match FloatModel::load(&compiled.model_path) {
            Ok(f) => Ok(Reference::Tract(f)),
            Err(_) if crate::front::onnx::has_ml_ops(&compiled.model_path) => Ok(Reference::Graph),
            Err(e) => Err(e),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Reference::Tract(_) => "tract f32",
            Reference::Graph => "lfc float graph (f64)",
            Reference::Qdq(_) => "QDQ simulation (exact reals, round half to even)",
        }
    }

    /// Every output of one row of real inputs, concatenated.
    pub fn run(&self, compiled: &Compiled, row: &[f64]) -> Result<Vec<f64>> {
        match self {
            Reference::Tract(f) => {
                let x: Vec<f32> = row.iter().map(|&v| v as f32).collect();
                Ok(f.run(&x)?.into_iter().map(f64::from).collect())
            }
            // f32 inputs, as the ONNX model sees them
            Reference::Graph => {
                let x: Vec<f64> = row.iter().map(|&v| v as f32 as f64).collect();
                Ok(compiled.graph.eval(&x))
            }
            Reference::Qdq(q) => Ok(q.simulate(row)),
        }
    }
}

/// `lfc inspect`: layers, ranges, scales, MACs, stack bytes, code size.
pub fn inspect(compiled: &Compiled, with_ir: bool) -> Result<String> {
    use std::fmt::Write;
    let p = &compiled.program;
    let info = &compiled.info;
    let module = compiled.emit_c()?;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "model `{}`: {} -> {} ({}), {} MACs, input scale {}, output scale {}",
        p.model_name,
        p.input_len,
        p.output_len,
        p.precision.name(),
        info.macs,
        p.input_scale,
        p.output_scale
    );
    let dlo = compiled
        .domain
        .lo
        .iter()
        .cloned()
        .fold(f64::INFINITY, f64::min);
    let dhi = compiled
        .domain
        .hi
        .iter()
        .cloned()
        .fold(f64::NEG_INFINITY, f64::max);
    let _ = writeln!(
        s,
        "input domain: [{dlo}, {dhi}] over all features (per feature in the IR dump)"
    );
    let _ = writeln!(s, "\n#  op                 node                 tensor               len  real range                 scale        widest");
    for l in layers(compiled) {
        let (tname, range, scale) = match &l.stored {
            Some(st) => (
                st.tensor.clone(),
                format!("[{:.4}, {:.4}]", st.real_lo, st.real_hi),
                format!("{:.4e}", st.scale),
            ),
            None => ("out".into(), "-".into(), "-".into()),
        };
        let bits = l.acc_bits.map(|b| format!("{b} bits")).unwrap_or_default();
        let _ = writeln!(
            s,
            "{:<2} {:<18} {:<20} {:<20} {:>4}  {range:<26} {scale:<12} {bits}",
            l.index,
            l.op,
            trunc(&l.node, 20),
            trunc(&tname, 20),
            l.len
        );
    }
    let _ = writeln!(
        s,
        "\nstorage: {} buffers ({} values), {} stack bytes, {} per-CPU scratch bytes, {} bytes of tables",
        info.buffers.len(),
        info.buffers.iter().sum::<usize>(),
        info.stack_bytes,
        info.scratch_bytes,
        module.rodata_bytes
    );
    let _ = writeln!(
        s,
        "emitted C: {} lines, {} bytes ({}.c)",
        module.source.lines().count(),
        module.source.len(),
        module.stem
    );
    for instr in &p.instrs {
        if let crate::ir::InstrKind::Lut { lut, .. } = &instr.kind {
            let _ = writeln!(
                s,
                "table {} `{}`: {} entries, max error {:.3e}",
                lut.func.name(),
                instr.node,
                lut.table.len(),
                lut.max_error
            );
        }
        if let crate::ir::InstrKind::Trees { table, .. } = &instr.kind {
            let _ = writeln!(
                s,
                "trees `{}`: {} trees, {} branches, {} leaves, {} targets, depth {} (max), worst case {} comparisons per inference",
                instr.node,
                table.roots.len(),
                table.n_branches(),
                table.n_leaves(),
                table.n_targets,
                table.depths.iter().max().copied().unwrap_or(0),
                table.worst_comparisons()
            );
        }
    }
    for n in crate::back::lower::tree_notes(p, compiled.meta.unroll_limit) {
        let _ = writeln!(s, "{n}");
    }
    for n in &compiled.notes {
        let _ = writeln!(s, "{n}");
    }
    for o in p.outputs.iter().filter(|_| p.outputs.len() > 1) {
        let _ = writeln!(
            s,
            "output `{}`: out[{}..{}], {}",
            o.name,
            o.offset,
            o.offset + o.len,
            if o.integer {
                "integer, scale 1".to_string()
            } else {
                format!("real, scale {}", o.scale)
            }
        );
    }
    if let Some(q) = &compiled.imported {
        s.push_str(&imported::section(q));
    }
    if with_ir {
        let _ = writeln!(s, "\n{}", crate::ir::dump::graph(&compiled.graph));
        let _ = writeln!(s, "{}", crate::ir::dump::program(p));
    }
    Ok(s)
}

/// One instruction of the integer program as `lfc inspect` reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    pub index: usize,
    /// The ONNX op type it was lowered from.
    pub op: String,
    /// The ONNX node name.
    pub node: String,
    /// Elements written.
    pub len: usize,
    /// The tensor written (`None` for the final dequantization into `out`).
    pub stored: Option<StoredRange>,
    /// Bits the widest accumulator/intermediate needs (sign included).
    pub acc_bits: Option<u32>,
}

/// Proven range of a stored tensor, against the limits of its type.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredRange {
    pub tensor: String,
    /// Storage bits (8 or 16, or 32 for int8 biases).
    pub bits: u32,
    /// Proven [lo, hi] of the stored integers over the input domain.
    pub lo: i64,
    pub hi: i64,
    /// The type's limits.
    pub qmin: i64,
    pub qmax: i64,
    /// real = (q - zero_point) * scale.
    pub zero_point: i64,
    pub scale: f64,
    pub real_lo: f64,
    pub real_hi: f64,
}

/// The layers of `compiled`, with their proven ranges.
pub fn layers(compiled: &Compiled) -> Vec<Layer> {
    let p = &compiled.program;
    let info = &compiled.info;
    p.instrs
        .iter()
        .enumerate()
        .map(|(k, instr)| {
            let dst = instr.kind.dst();
            let stored = dst.map(|t| {
                let tq = &p.tensor(t).q;
                let (lo, hi) = info.tensor_bounds[t.index()];
                StoredRange {
                    tensor: p.tensor(t).name.clone(),
                    bits: tq.bits,
                    lo,
                    hi,
                    qmin: tq.qmin,
                    qmax: tq.qmax,
                    zero_point: tq.zero_point,
                    scale: tq.scale,
                    real_lo: (lo - tq.zero_point) as f64 * tq.scale,
                    real_hi: (hi - tq.zero_point) as f64 * tq.scale,
                }
            });
            Layer {
                index: k,
                op: instr.onnx_op.clone(),
                node: instr.node.clone(),
                len: dst.map(|t| p.tensor(t).len).unwrap_or(p.output_len),
                stored,
                acc_bits: info.acc_bits[k],
            }
        })
        .collect()
}

fn trunc(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let t: String = s.chars().take(n - 1).collect();
        format!("{t}~")
    }
}

/// `lfc infer`: every row of `input` through the kernel's INFER command on
/// `app`'s active snapshot. Real inputs are converted at that snapshot's
/// input scale, outputs read back at the output scale of the snapshot that
/// answered (reported per reply, so a switch mid-file is handled).
pub fn infer_kernel(
    client: &mut crate::control::Client,
    app: u32,
    input: &Path,
) -> Result<InferOutput> {
    let find = |client: &mut crate::control::Client| -> Result<crate::control::AppStatus> {
        client
            .apps()?
            .into_iter()
            .find(|a| a.app == app)
            .ok_or_else(|| Error::Other(format!("lf_kernel has no app {app} (see `lfc status`)")))
    };
    let mut status = find(client)?;
    let active = status
        .slots
        .iter()
        .find(|s| s.active)
        .ok_or_else(|| Error::Other(format!("app {app} has no active snapshot")))?;
    let m = data::read_matrix(input)?;
    data::check_nonempty(input, &m)?;
    data::check_width(
        input,
        &m,
        status.input_len as usize,
        &format!("app {app}'s input"),
    )?;
    data::check_finite(input, &m)?;
    let rows = pipeline::to_fixed(input, &m, active.input_scale)?;
    let mut out = Vec::with_capacity(m.rows * status.output_len as usize);
    let mut fixed = Vec::with_capacity(m.rows);
    for row in &rows {
        let reply = client.infer(app, row)?;
        let scale = match status.slots.iter().find(|s| s.uuid == reply.uuid) {
            Some(s) => s.output_scale,
            None => {
                status = find(client)?;
                status
                    .slots
                    .iter()
                    .find(|s| s.uuid == reply.uuid)
                    .map(|s| s.output_scale)
                    .ok_or_else(|| {
                        Error::Other(format!(
                            "snapshot {} answered but is no longer in a slot",
                            reply.uuid
                        ))
                    })?
            }
        };
        out.extend(reply.output.iter().map(|&v| v as f64 / scale as f64));
        fixed.push(reply.output);
    }
    Ok(InferOutput {
        values: Matrix::new(rows.len(), status.output_len as usize, out),
        fixed,
    })
}

/// What `lfc infer` got: real values (every output at the answering
/// snapshot's output scale: the kernel ABI carries one scale, so a class
/// label reads as label / scale here) and the `s64` values as the kernel
/// answered them (`--raw`, exact for every output).
pub struct InferOutput {
    pub values: Matrix,
    pub fixed: Vec<Vec<i64>>,
}

/// `lfc collect -o -`: records streamed to stdout as they arrive (see
/// [`crate::control::sink`]). A closed stdout ends the collection normally
/// (recording is turned off again): SIGPIPE is ignored for that, so the
/// write fails with EPIPE instead of killing lfc.
pub fn collect_stdout(
    client: &mut crate::control::Client,
    stream: &mut crate::control::RecordStream,
    app: u32,
    limit: crate::control::CollectLimit,
    stop: &std::sync::atomic::AtomicBool,
    format: crate::control::sink::StreamFormat,
) -> Result<crate::control::Collected> {
    // SAFETY: changes a signal disposition; lfc starts no threads here.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let stdout = std::io::stdout();
    let mut sink = crate::control::sink::LineSink::new(stdout.lock(), format);
    crate::control::collect_to(client, stream, app, limit, Some(stop), Some(&mut sink))
}
