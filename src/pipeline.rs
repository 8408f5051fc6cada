//! The whole compile, as the CLI and the tests use it:
//! ONNX file → [`Graph`] → input domain → [`Program`] → [`ModuleInfo`] → C.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::back::c::{self, CModule, ModuleMeta};
pub use crate::back::lower_simd::Simd;
use crate::data::{self, Matrix};
use crate::error::Error;
use crate::front::onnx;
use crate::ir::{Graph, Precision, Program};
use crate::quant::guard::OutputRange;
use crate::quant::{self, Domain, QuantOptions};
use crate::valid::{self, ModuleInfo};
use crate::Result;

mod fidelity;
mod quantized;
pub use fidelity::{suggested_scale, tolerance};
pub use quantized::check_precision_option;

/// LiteFlow's INPUT_SCALE / OUTPUT_SCALE.
pub const DEFAULT_SCALE: i64 = 1000;
/// Dense layers with at most this many MACs are emitted straight-line.
pub const DEFAULT_UNROLL_LIMIT: usize = 4096;
/// `--domain-margin`: each feature's calibration range [lo, hi] is widened
/// by this fraction of its width on both sides (README, "Input domain":
/// chosen by measurement on sklearn MLPs, `scripts/measure-domain-margin.py`).
pub const DEFAULT_DOMAIN_MARGIN: f64 = 0.5;

/// `--input-range`: one interval for every feature, or a file of
/// per-feature bounds (any data format, one row `lo, hi` per feature).
#[derive(Clone, Debug, PartialEq)]
pub enum InputRange {
    All(f64, f64),
    File(PathBuf),
}

impl InputRange {
    /// Parses `LO:HI`, or else takes the text as a file path.
    pub fn parse(s: &str) -> Result<InputRange> {
        InputRange::parse_for(s, "--input-range")
    }

    /// [`InputRange::parse`] for the option `opt` (errors name it).
    pub fn parse_for(s: &str, opt: &str) -> Result<InputRange> {
        if let Some((a, b)) = s.split_once(':') {
            if let (Ok(lo), Ok(hi)) = (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
                if !(lo.is_finite() && hi.is_finite()) || lo > hi {
                    return Err(Error::option(opt, format!("`{s}`: need finite LO <= HI")));
                }
                return Ok(InputRange::All(lo, hi));
            }
        }
        let p = PathBuf::from(s);
        if !p.exists() {
            return Err(Error::option(
                opt,
                format!("`{s}` is neither LO:HI nor an existing file of per-element bounds"),
            ));
        }
        Ok(InputRange::File(p))
    }
}

#[derive(Clone, Debug)]
pub struct CompileOptions {
    pub calibration: Option<PathBuf>,
    pub input_range: Option<InputRange>,
    pub precision: Precision,
    pub uuid: u64,
    pub app: u32,
    pub input_scale: i64,
    pub output_scale: i64,
    pub unroll_limit: usize,
    /// Widening of the calibration rows' per-feature ranges (fraction of
    /// the width, each side); 0 takes them as they are.
    pub domain_margin: f64,
    /// `--simd avx2`: vector forms for large Dense layers (C back end).
    pub simd: Simd,
    /// `--output-range`: the guardrail the outputs are clamped to.
    pub output_range: Option<OutputRange>,
    /// `--weight-bits-auto` (default on): fewer weight bits per Dense
    /// layer where that packs two channels per multiply, within the
    /// measured budget of [`quant::weight_bits`].
    pub weight_bits_auto: bool,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            calibration: None,
            input_range: None,
            precision: Precision::Int16,
            uuid: 1,
            app: 1,
            input_scale: DEFAULT_SCALE,
            output_scale: DEFAULT_SCALE,
            unroll_limit: DEFAULT_UNROLL_LIMIT,
            domain_margin: DEFAULT_DOMAIN_MARGIN,
            simd: Simd::None,
            output_range: None,
            weight_bits_auto: true,
        }
    }
}

/// Everything a compile produced.
#[derive(Clone, Debug)]
pub struct Compiled {
    pub model_path: PathBuf,
    pub graph: Graph,
    pub domain: Domain,
    pub program: Program,
    pub info: ModuleInfo,
    pub meta: ModuleMeta,
    /// The calibration rows, when given (for reports).
    pub calibration: Option<Matrix>,
    /// Accuracy losses the quantizer could not avoid, with their bounds
    /// ([`quant::warn`]); the CLI prints them on every command.
    pub warnings: Vec<quant::warn::Warning>,
    /// A quantized model's own graph (issue 8): the QDQ simulation `lfc
    /// eval` compares against, the imported scales `lfc inspect` shows.
    pub imported: Option<std::sync::Arc<crate::ir::qgraph::QGraph>>,
    /// The quantizer's decisions (weight bits per layer); the CLI prints
    /// them at compile.
    pub notes: Vec<String>,
}

impl Compiled {
    pub fn emit_c(&self) -> Result<CModule> {
        c::emit(&self.program, &self.info, &self.meta)
    }

    pub fn emit_rust(&self) -> Result<crate::back::rust::RustModule> {
        crate::back::rust::emit(&self.program, &self.info, &self.meta)
    }
}

/// Reads and checks a calibration file against the model's input width.
pub fn read_calibration(path: &Path, graph: &Graph) -> Result<Matrix> {
    let m = data::read_matrix(path)?;
    data::check_nonempty(path, &m)?;
    let what = format!("the model's input `{}`", graph.value(graph.input).name);
    data::check_width(path, &m, graph.input_len(), &what)?;
    data::check_finite(path, &m)?;
    Ok(m)
}

/// A calibration range widened by `margin` times its width on each side.
/// A constant column (zero width) is widened by `margin` times its
/// magnitude, at least `margin` (so `[0, 0]` becomes `[-margin, margin]`).
pub fn widen(lo: f64, hi: f64, margin: f64) -> (f64, f64) {
    let w = hi - lo;
    let w = if w > 0.0 { w } else { lo.abs().max(1.0) };
    (lo - margin * w, hi + margin * w)
}

/// The input domain: the declared `--input-range`, the calibration rows'
/// per-feature [min, max] widened by `--domain-margin`, or the hull of both.
pub fn domain(graph: &Graph, opts: &CompileOptions, calib: Option<&Matrix>) -> Result<Domain> {
    let n = graph.input_len();
    let mut lo = vec![f64::INFINITY; n];
    let mut hi = vec![f64::NEG_INFINITY; n];
    let margin = opts.domain_margin;
    if !(margin.is_finite() && margin >= 0.0) {
        return Err(Error::option(
            "--domain-margin",
            format!("{margin}: need a finite fraction >= 0"),
        ));
    }
    if let Some(m) = calib {
        for row in m.iter_rows() {
            for i in 0..n {
                lo[i] = lo[i].min(row[i]);
                hi[i] = hi[i].max(row[i]);
            }
        }
        if margin > 0.0 {
            for i in 0..n {
                (lo[i], hi[i]) = widen(lo[i], hi[i], margin);
            }
        }
    }
    match &opts.input_range {
        Some(InputRange::All(a, b)) => {
            for i in 0..n {
                lo[i] = lo[i].min(*a);
                hi[i] = hi[i].max(*b);
            }
        }
        Some(InputRange::File(p)) => {
            let m = data::read_matrix(p)?;
            data::check_finite(p, &m)?;
            if m.rows != n || m.cols != 2 {
                return Err(Error::data(
                    p,
                    format!(
                        "per-feature bounds must be {n} rows of `lo, hi` (one per input feature); found {} rows of {} columns",
                        m.rows, m.cols
                    ),
                ));
            }
            for i in 0..n {
                let (a, b) = (m.row(i)[0], m.row(i)[1]);
                if a > b {
                    return Err(Error::data(p, format!("row {}: lo {a} > hi {b}", i + 1)));
                }
                lo[i] = lo[i].min(a);
                hi[i] = hi[i].max(b);
            }
        }
        None => {}
    }
    if calib.is_none() && opts.input_range.is_none() {
        return Err(Error::option(
            "--calibration/--input-range",
            "give a calibration set or a declared input domain (or both): ranges are derived from them",
        ));
    }
    Ok(Domain { lo, hi })
}

/// Hex SHA-256 of the model file and every option that changes the code.
pub fn digest(
    model_bytes: &[u8],
    opts: &CompileOptions,
    domain: &Domain,
    guard: Option<&[(i64, i64)]>,
) -> String {
    let mut h = Sha256::new();
    h.update(model_bytes);
    h.update(
        format!(
            "precision={} input_scale={} output_scale={} unroll_limit={} domain=",
            opts.precision.name(),
            opts.input_scale,
            opts.output_scale,
            opts.unroll_limit
        )
        .as_bytes(),
    );
    // Only when off (the default is on), so digests stay what they were.
    if !opts.weight_bits_auto {
        h.update(b" weight_bits_auto=off");
    }
    // Only when on, so that scalar digests stay what they were.
    if opts.simd != Simd::None {
        h.update(format!(" simd={}", opts.simd.name()).as_bytes());
    }
    for (a, b) in domain.lo.iter().zip(&domain.hi) {
        h.update(a.to_le_bytes());
        h.update(b.to_le_bytes());
    }
    // Without a guardrail the digest stays what it was before there was one.
    if let Some(g) = guard {
        h.update(b" guard=");
        for (a, b) in g {
            h.update(a.to_le_bytes());
            h.update(b.to_le_bytes());
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

pub fn compile(model: &Path, opts: &CompileOptions) -> Result<Compiled> {
    let bytes = std::fs::read(model).map_err(|e| Error::io(model, e))?;
    if let Some(q) = onnx::load_quantized(&bytes, model)? {
        return quantized::compile(model, &bytes, q, opts);
    }
    let graph = onnx::load(model)?;
    compile_graph(model, &bytes, graph, opts)
}

/// [`compile`] of a model already in memory (`name` stands for the file;
/// external-data tensors cannot be resolved). The fuzz target's entry.
pub fn compile_bytes(bytes: &[u8], name: &str, opts: &CompileOptions) -> Result<Compiled> {
    if let Some(q) = onnx::load_quantized(bytes, Path::new(name))? {
        return quantized::compile(Path::new(name), bytes, q, opts);
    }
    let graph = onnx::load_bytes(bytes, name)?;
    compile_graph(Path::new(name), bytes, graph, opts)
}

fn compile_graph(
    model: &Path,
    bytes: &[u8],
    graph: Graph,
    opts: &CompileOptions,
) -> Result<Compiled> {
    let calibration = match &opts.calibration {
        Some(p) => Some(read_calibration(p, &graph)?),
        None => None,
    };
    let domain = domain(&graph, opts, calibration.as_ref())?;
    let calib_values = calibration
        .as_ref()
        .map(|m| std::sync::Arc::new(m.iter_rows().map(|r| graph.eval_all(r)).collect::<Vec<_>>()));
    let qopts = QuantOptions {
        precision: opts.precision,
        input_scale: opts.input_scale,
        output_scale: opts.output_scale,
        observed: calib_values
            .as_ref()
            .map(|v| quant::observe_values(&graph, v)),
        calib_values,
        weight_bits_auto: opts.weight_bits_auto,
        unroll_limit: opts.unroll_limit,
    };
    let (mut program, notes) = quant::quantize_noted(&graph, &domain, &qopts)?;
    let name = model
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    program.model_name = name.clone();
    if let Some(r) = &opts.output_range {
        program.output_guard = Some(quant::guard::output_guard(&program, r)?);
    }
    let info = valid::validate(&program)?;
    let mut warnings = quant::warn::warnings(&program);
    warnings.extend(fidelity::warnings(
        &graph,
        &program,
        &domain,
        calibration.as_ref(),
    ));
    warnings.extend(quant::guard::warnings(&program, &info.output_bounds));
    let meta = ModuleMeta {
        uuid: opts.uuid,
        app: opts.app,
        name,
        digest: digest(bytes, opts, &domain, program.output_guard.as_deref()),
        unroll_limit: opts.unroll_limit,
        simd: opts.simd,
    };
    Ok(Compiled {
        model_path: model.to_path_buf(),
        graph,
        domain,
        program,
        info,
        meta,
        calibration,
        warnings,
        imported: None,
        notes,
    })
}

/// Real values → `s64` at `scale`, as a datapath would hand them over
/// (`round(x * scale)`); refuses values that do not fit.
pub fn to_fixed(path: &Path, m: &Matrix, scale: i64) -> Result<Vec<Vec<i64>>> {
    let mut rows = Vec::with_capacity(m.rows);
    for (r, row) in m.iter_rows().enumerate() {
        let mut v = Vec::with_capacity(row.len());
        for (c, x) in row.iter().enumerate() {
            let y = (x * scale as f64).round();
            if !y.is_finite() || y.abs() >= 9.2e18 {
                return Err(Error::data(
                    path,
                    format!(
                        "row {}, column {}: {x} does not fit s64 at scale {scale}",
                        r + 1,
                        c + 1
                    ),
                ));
            }
            v.push(y as i64);
        }
        rows.push(v);
    }
    Ok(rows)
}

/// `s64` outputs → real values, each output at its own scale (an integer
/// output is at scale 1).
pub fn from_fixed_outputs(rows: &[Vec<i64>], outputs: &[crate::ir::ProgramOutput]) -> Matrix {
    let cols: usize = outputs.iter().map(|o| o.len).sum();
    let mut data = Vec::with_capacity(rows.len() * cols);
    for r in rows {
        for o in outputs {
            let s = o.scale as f64;
            data.extend(r[o.offset..o.offset + o.len].iter().map(|&v| v as f64 / s));
        }
    }
    Matrix::new(rows.len(), cols, data)
}

/// The `s64` values of `outputs` (a selection of the program's, in this
/// order) from whole output rows, unscaled.
pub fn select_fixed_outputs(
    rows: &[Vec<i64>],
    outputs: &[crate::ir::ProgramOutput],
) -> Vec<Vec<i64>> {
    rows.iter()
        .map(|r| {
            outputs
                .iter()
                .flat_map(|o| r[o.offset..o.offset + o.len].iter().copied())
                .collect()
        })
        .collect()
}

/// The CSV column names of `outputs`: `NAME` for a one-element output,
/// `NAME[j]` otherwise.
pub fn output_columns(outputs: &[crate::ir::ProgramOutput]) -> Vec<String> {
    outputs
        .iter()
        .flat_map(|o| {
            (0..o.len).map(move |j| {
                if o.len == 1 {
                    o.name.clone()
                } else {
                    format!("{}[{j}]", o.name)
                }
            })
        })
        .collect()
}

/// `s64` outputs at `scale` → real values.
pub fn from_fixed(rows: &[Vec<i64>], scale: i64) -> Matrix {
    let cols = rows.first().map(|r| r.len()).unwrap_or(0);
    let data = rows
        .iter()
        .flat_map(|r| r.iter().map(|&v| v as f64 / scale as f64))
        .collect();
    Matrix::new(rows.len(), cols, data)
}

/// Writes the emitted module: `OUT.c` → the C source alone; otherwise a
/// directory holding the module source tree (C, Kbuild, Makefile). Files
/// are written into a temporary sibling and renamed into place, so a
/// failure leaves nothing half-written.
pub fn write_c_output(module: &CModule, out: &Path) -> Result<Vec<PathBuf>> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if out.extension().map(|e| e == "c").unwrap_or(false) {
        write_atomic(out, module.source.as_bytes())?;
        return Ok(vec![out.to_path_buf()]);
    }
    let tmp = crate::fsutil::OwnedTempDir::new_in(&parent, ".lfc-tree-")?;
    let files = [
        (format!("{}.c", module.stem), &module.source),
        ("Kbuild".to_string(), &module.kbuild),
        ("Makefile".to_string(), &module.makefile),
    ];
    for (name, text) in &files {
        let p = tmp.path().join(name);
        std::fs::write(&p, text).map_err(|e| Error::io(&p, e))?;
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let mut written = Vec::new();
    for (name, _) in &files {
        let dst = out.join(name);
        std::fs::rename(tmp.path().join(name), &dst).map_err(|e| Error::io(&dst, e))?;
        written.push(dst);
    }
    Ok(written)
}

/// Writes `bytes` to `path` through a temporary file in the same directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::fsutil::write_atomic(path, bytes)
}
