//! `lfc eval --report OUT.html`: one self-contained HTML file (inline CSS
//! and SVG, no external resources) with the fidelity plots. The figures
//! come from [`EvalRows`] and the compiled program; the page is the askama
//! template `templates/report/eval.html`.

use askama::Template;

use super::analysis::{self, EvalRows};
use super::plots;
use crate::commands::{self, ErrorStats};
use crate::ir::{InstrKind, Precision};
use crate::pipeline::Compiled;
use crate::Result;

/// Features plotted against the error.
pub const WORST_FEATURES: usize = 4;
/// Rows listed in the worst-rows table.
pub const WORST_ROWS: usize = 20;
const HISTOGRAM_BINS: usize = 40;

type Stat = (usize, String, String, String);
type LayerRow = (
    usize,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
);

#[derive(Template)]
#[template(path = "report/eval.html")]
struct Page {
    model: String,
    summary: String,
    warnings: Vec<String>,
    stats: Vec<Stat>,
    scatter: Vec<String>,
    histogram: String,
    features: Vec<String>,
    ranges: String,
    acc: String,
    layers: Vec<LayerRow>,
    tables: Vec<(String, String, usize, String)>,
    domain: Vec<(usize, String, String, String, String, usize)>,
    worst: Vec<(usize, String, String, String, String)>,
    version: &'static str,
}

fn num(v: f64) -> String {
    format!("{v:.6}")
}

fn list(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.5}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The report page for `rows` evaluated on `compiled`.
pub fn render(compiled: &Compiled, rows: &EvalRows) -> Result<String> {
    let p = &compiled.program;
    let n_out = p.output_len;
    let (clo, chi) = analysis::input_clamp(compiled);
    let is = p.input_scale as f64;
    let clamped = |r: usize| !rows.clamped[r].is_empty();
    let mut scatter = Vec::new();
    let mut stats = Vec::new();
    let mut all_errs = Vec::new();
    for o in 0..n_out {
        let pts: Vec<_> = (0..rows.len())
            .map(|r| (rows.float[r][o], rows.snapshot[r][o], clamped(r)))
            .collect();
        scatter.push(plots::scatter_vs_float(o, &pts, rows.reference)?);
        let errs: Vec<f64> = (0..rows.len()).map(|r| rows.err(r, o)).collect();
        all_errs.extend_from_slice(&errs);
        let s = ErrorStats::of(errs);
        stats.push((o, num(s.max), num(s.mean), num(s.p99)));
    }
    let histogram = plots::error_histogram(&analysis::histogram(&all_errs, HISTOGRAM_BINS))?;
    let mut features = Vec::new();
    for (i, corr) in rows.worst_features(WORST_FEATURES) {
        let pts: Vec<_> = (0..rows.len())
            .map(|r| (rows.inputs[r][i], rows.row_err(r), clamped(r)))
            .collect();
        let dom = (compiled.domain.lo[i], compiled.domain.hi[i]);
        features.push(plots::error_vs_feature(i, corr, dom, &pts)?);
    }
    let layers = commands::layers(compiled);
    let ranges = plots::layer_ranges(
        &layers
            .iter()
            .map(analysis::range_fraction)
            .collect::<Vec<_>>(),
    )?;
    let acc_width = match p.precision {
        Precision::Int16 => 64,
        Precision::Int8 => 32,
    };
    let acc = plots::accumulator_bits(
        &layers.iter().map(|l| l.acc_bits).collect::<Vec<_>>(),
        acc_width,
    )?;
    let layer_rows = layers
        .iter()
        .map(|l| {
            let st = l.stored.as_ref();
            let or_dash = |f: &dyn Fn(&commands::StoredRange) -> String| {
                st.map(f).unwrap_or_else(|| "-".into())
            };
            (
                l.index,
                l.op.clone(),
                l.node.clone(),
                or_dash(&|s| s.tensor.clone()),
                or_dash(&|s| s.bits.to_string()),
                or_dash(&|s| format!("[{}, {}]", s.lo, s.hi)),
                or_dash(&|s| format!("[{}, {}]", s.qmin, s.qmax)),
                or_dash(&|s| format!("[{:.4}, {:.4}]", s.real_lo, s.real_hi)),
                l.acc_bits.map(|b| b.to_string()).unwrap_or_default(),
            )
        })
        .collect();
    let tables = p
        .instrs
        .iter()
        .filter_map(|instr| match &instr.kind {
            InstrKind::Lut { lut, .. } => Some((
                lut.func.name().to_string(),
                instr.node.clone(),
                lut.table.len(),
                format!("{:.3e}", lut.max_error),
            )),
            _ => None,
        })
        .collect();
    let domain = (0..p.input_len)
        .map(|i| {
            let (dmin, dmax) = rows
                .inputs
                .iter()
                .map(|r| r[i])
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                    (a.min(x), b.max(x))
                });
            let n = rows.clamped.iter().filter(|c| c.contains(&i)).count();
            (
                i,
                format!("{:.5}", clo[i] as f64 / is),
                format!("{:.5}", chi[i] as f64 / is),
                format!("{dmin:.5}"),
                format!("{dmax:.5}"),
                n,
            )
        })
        .collect();
    let worst = rows
        .worst_rows(WORST_ROWS)
        .into_iter()
        .map(|r| {
            let cl = &rows.clamped[r];
            (
                r + 1,
                num(rows.row_err(r)),
                list(&rows.snapshot[r]),
                list(&rows.float[r]),
                cl.iter()
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        })
        .collect();
    let mut warnings = Vec::new();
    let n_cl = rows.rows_clamped();
    if n_cl > 0 {
        warnings.push(format!(
            "{n_cl} of {} rows had inputs outside the domain and were clamped to it (marked red).",
            rows.len()
        ));
    }
    let summary = format!(
        "{} rows; {} inputs → {} outputs, {}, {} MACs; error = |snapshot (emitted C) − float model ({})| in real output units.",
        rows.len(),
        p.input_len,
        n_out,
        p.precision.name(),
        compiled.info.macs,
        rows.reference
    );
    let page = Page {
        model: p.model_name.clone(),
        summary,
        warnings,
        stats,
        scatter,
        histogram,
        features,
        ranges,
        acc,
        layers: layer_rows,
        tables,
        domain,
        worst,
        version: crate::VERSION,
    };
    page.render()
        .map_err(|e| crate::Error::Other(format!("rendering the report: {e}")))
}
