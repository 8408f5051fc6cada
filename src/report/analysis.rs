//! What `lfc eval --report` shows, computed: every row through the
//! snapshot (its emitted C built for userspace) and the float model, which
//! inputs the snapshot clamped to the domain, error histogram bins, and
//! which input features the error follows most.

use std::path::Path;

use crate::commands::{self, Engine, Layer};
use crate::data;
use crate::error::Error;
use crate::pipeline::Compiled;
use crate::Result;

/// Per data row: its real inputs, the snapshot's and the float model's
/// real outputs, and the features the snapshot clamped.
#[derive(Clone, Debug, Default)]
pub struct EvalRows {
    pub inputs: Vec<Vec<f64>>,
    pub snapshot: Vec<Vec<f64>>,
    pub float: Vec<Vec<f64>>,
    /// Features outside the domain (clamped before any arithmetic).
    pub clamped: Vec<Vec<usize>>,
    /// The float model's name ([`commands::Reference::name`]): tract f32,
    /// or lfc's float graph for ONNX-ML ops tract lacks.
    pub reference: &'static str,
}

impl EvalRows {
    /// Runs every row of `data_path` through the emitted C and the float
    /// reference `lfc eval` compares against.
    pub fn compute(compiled: &Compiled, data_path: &Path) -> Result<EvalRows> {
        let fixed = commands::read_inputs(compiled, data_path)?;
        let m = data::read_matrix(data_path)?;
        let float = commands::Reference::for_model(compiled)?;
        let out = commands::run_fixed(compiled, &fixed, Engine::C)?;
        let os = compiled.program.output_scale as f64;
        let (lo, hi) = input_clamp(compiled);
        let mut rows = EvalRows {
            reference: float.name(),
            ..Default::default()
        };
        for (r, row) in m.iter_rows().enumerate() {
            let y = float.run(compiled, row)?;
            if y.len() != out[r].len() {
                return Err(Error::Other(format!(
                    "{} returned {} outputs, the program has {}",
                    float.name(),
                    y.len(),
                    out[r].len()
                )));
            }
            rows.inputs.push(row.to_vec());
            rows.snapshot
                .push(out[r].iter().map(|&v| v as f64 / os).collect());
            rows.float.push(y);
            let clamped = (0..fixed[r].len())
                .filter(|&i| fixed[r][i] < lo[i] || fixed[r][i] > hi[i])
                .collect();
            rows.clamped.push(clamped);
        }
        Ok(rows)
    }

    pub fn len(&self) -> usize {
        self.inputs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }

    /// |snapshot - float| of output `o` on row `r`.
    pub fn err(&self, r: usize, o: usize) -> f64 {
        (self.snapshot[r][o] - self.float[r][o]).abs()
    }

    /// The largest error over the outputs of row `r`.
    pub fn row_err(&self, r: usize) -> f64 {
        (0..self.snapshot[r].len())
            .map(|o| self.err(r, o))
            .fold(0.0, f64::max)
    }

    pub fn rows_clamped(&self) -> usize {
        self.clamped.iter().filter(|c| !c.is_empty()).count()
    }

    /// Rows by decreasing error (the worst first).
    pub fn worst_rows(&self, n: usize) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..self.len()).collect();
        idx.sort_by(|&a, &b| self.row_err(b).total_cmp(&self.row_err(a)));
        idx.truncate(n);
        idx
    }

    /// The `n` input features whose value the row error follows most:
    /// largest |Pearson correlation| between feature and error (a constant
    /// feature or error counts 0), ties by feature index.
    pub fn worst_features(&self, n: usize) -> Vec<(usize, f64)> {
        let errs: Vec<f64> = (0..self.len()).map(|r| self.row_err(r)).collect();
        let width = self.inputs.first().map(Vec::len).unwrap_or(0);
        let mut scored: Vec<(usize, f64)> = (0..width)
            .map(|i| {
                let xs: Vec<f64> = self.inputs.iter().map(|r| r[i]).collect();
                (i, pearson(&xs, &errs))
            })
            .collect();
        scored.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
        scored.truncate(n);
        scored
    }
}

/// The snapshot's input clamp (s64 at the input scale), per feature.
pub fn input_clamp(compiled: &Compiled) -> (Vec<i64>, Vec<i64>) {
    compiled.program.input_clamp()
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    if x.len() < 2 {
        return 0.0;
    }
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if sxx <= 0.0 || syy <= 0.0 {
        return 0.0;
    }
    sxy / (sxx * syy).sqrt()
}

/// `bins` equal-width bins over [0, max]: (lo, hi, count).
pub fn histogram(values: &[f64], bins: usize) -> Vec<(f64, f64, usize)> {
    let max = values.iter().cloned().fold(0.0, f64::max);
    let width = if max > 0.0 { max / bins as f64 } else { 1.0 };
    let mut counts = vec![0usize; bins];
    for &v in values {
        let b = ((v / width) as usize).min(bins - 1);
        counts[b] += 1;
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(b, c)| (b as f64 * width, (b + 1) as f64 * width, c))
        .collect()
}

/// A layer's proven stored range as fractions of its type's range:
/// 0 = qmin, 1 = qmax.
pub fn range_fraction(l: &Layer) -> Option<(f64, f64)> {
    let s = l.stored.as_ref()?;
    let span = (s.qmax - s.qmin) as f64;
    Some(((s.lo - s.qmin) as f64 / span, (s.hi - s.qmin) as f64 / span))
}
