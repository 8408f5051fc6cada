//! Measured fidelity at compile time, so that an answer outside tolerance
//! is never silent (issue 7). Every compile of a float model measures two
//! losses against lfc's own float graph (f64 on the real row) and warns
//! when an output is off by more than [`tolerance`] of its range:
//!
//! - **the input scale**: the datapath hands features over as `s64` at
//!   `1 / input_scale`. On the calibration rows (the evidence of how fine
//!   the features really are) the float graph is run on each row and on the
//!   row rounded to the input scale. A tree ensemble whose thresholds fall
//!   between two input quanta next to a calibration value sends such a row
//!   to another leaf: the warning names the node, counts the rows and the
//!   thresholds, and names the smallest power-of-ten scale at which no
//!   calibration row changes leaf.
//! - **quantization**: the integer program (the interpreter, bit-exact with
//!   the emitted C) against the float graph on rows on the input grid: the
//!   calibration rows and random rows of the whole input domain (seeded,
//!   as many as a work budget allows).
//!
//! Integer outputs (labels) count as off when more than
//! [`LABEL_MISS_FRAC`] of the rows get another class.

use crate::back::interp;
use crate::data::Matrix;
use crate::ir::{Graph, OpKind, Precision, Program};
use crate::quant::warn::Warning;
use crate::quant::Domain;

/// The stated tolerance (README): 1 % of each output's range at int16;
/// 2 % at int8 (the node tests' policy, about five int8 steps).
pub fn tolerance(p: Precision) -> f64 {
    match p {
        Precision::Int16 => 0.01,
        Precision::Int8 => 0.02,
    }
}

/// A label output is off when more rows than this fraction get another
/// class (a near tie may flip; the ML fixtures allow 2 %).
pub const LABEL_MISS_FRAC: f64 = 0.02;

/// Interpreter work (roughly: MACs and values) spent on random rows.
const WORK_BUDGET: usize = 4_000_000;
const MAX_RANDOM_ROWS: usize = 1000;
const MIN_RANDOM_ROWS: usize = 16;
/// At most this many calibration rows are used (evenly spaced).
const MAX_CALIBRATION_ROWS: usize = 2000;

/// The warnings of both measurements, input scale first.
pub fn warnings(
    graph: &Graph,
    program: &Program,
    domain: &Domain,
    calib: Option<&Matrix>,
) -> Vec<Warning> {
    let calib_rows: Vec<Vec<f64>> = calib.map(subsample).unwrap_or_default();
    let mut out = Vec::new();
    if !calib_rows.is_empty() {
        let n = random_rows(graph, program);
        let mut rows = calib_rows.clone();
        rows.extend(resolution_rows(domain, &calib_rows, program.input_scale, n));
        out.extend(input_scale_warning(
            graph,
            program,
            domain,
            &rows,
            calib_rows.len(),
        ));
    }
    out.extend(quantization_warnings(graph, program, domain, &calib_rows));
    out
}

fn subsample(m: &Matrix) -> Vec<Vec<f64>> {
    let step = m.rows.div_ceil(MAX_CALIBRATION_ROWS).max(1);
    m.iter_rows()
        .step_by(step)
        .map(|r| r.iter().map(|&v| v as f32 as f64).collect())
        .collect()
}

fn to_grid(x: &[f64], scale: i64) -> Vec<i64> {
    x.iter()
        .map(|v| (v * scale as f64).round() as i64)
        .collect()
}

fn from_grid(q: &[i64], scale: i64) -> Vec<f64> {
    q.iter().map(|&v| v as f64 / scale as f64).collect()
}

/// How far one output is from its reference over a set of rows.
#[derive(Default)]
struct OutputError {
    /// Worst `|got - want| / range` over the output's columns and rows.
    frac: f64,
    err: f64,
    range: f64,
    row: usize,
    /// Integer outputs: rows with another value.
    misses: usize,
}

/// Per program output, the error of `got` against `want` (rows of the
/// concatenated outputs in real units); ranges are `want`'s per column.
fn compare(program: &Program, want: &[Vec<f64>], got: &[Vec<f64>]) -> Vec<OutputError> {
    let mut out = Vec::with_capacity(program.outputs.len());
    for o in &program.outputs {
        let mut e = OutputError::default();
        if o.integer {
            e.misses = want
                .iter()
                .zip(got)
                .filter(|(w, g)| w[o.offset..o.offset + o.len] != g[o.offset..o.offset + o.len])
                .count();
            out.push(e);
            continue;
        }
        for col in o.offset..o.offset + o.len {
            let (lo, hi) = want
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), r| {
                    (l.min(r[col]), h.max(r[col]))
                });
            // a constant column: a 1 % error is at least one output quantum
            let range = (hi - lo).max(100.0 / o.scale as f64);
            for (r, (w, g)) in want.iter().zip(got).enumerate() {
                let d = (w[col] - g[col]).abs();
                if d / range > e.frac {
                    (e.frac, e.err, e.range, e.row) = (d / range, d, range, r);
                }
            }
        }
        out.push(e);
    }
    out
}

fn off(program: &Program, errs: &[OutputError], rows: usize) -> bool {
    let tol = tolerance(program.precision);
    program.outputs.iter().zip(errs).any(|(o, e)| {
        if o.integer {
            e.misses as f64 > LABEL_MISS_FRAC * rows as f64
        } else {
            e.frac > tol
        }
    })
}

/// "output `y` off by up to E (P % of its range R) at row N; labels …".
fn describe(program: &Program, errs: &[OutputError], rows: usize) -> String {
    let mut parts = Vec::new();
    for (o, e) in program.outputs.iter().zip(errs) {
        if o.integer {
            if e.misses > 0 {
                parts.push(format!(
                    "output `{}` differs on {} of {rows} rows",
                    o.name, e.misses
                ));
            }
        } else {
            parts.push(format!(
                "output `{}` is off by up to {:.3e} ({:.2} % of its range {:.3e}, at row {})",
                o.name,
                e.err,
                100.0 * e.frac,
                e.range,
                e.row + 1
            ));
        }
    }
    parts.join("; ")
}

/// The tree ensembles that test the model input directly.
fn input_trees(graph: &Graph) -> Vec<(&str, &str, &crate::ir::tree::Ensemble)> {
    graph
        .ops
        .iter()
        .filter(|op| op.inputs[0] == graph.input)
        .filter_map(|op| match &op.kind {
            OpKind::Trees(e) => Some((op.node.as_str(), op.onnx_op.as_str(), &**e)),
            _ => None,
        })
        .collect()
}

/// What rounding `rows` to `scale` does to the trees of `e`.
struct Flips {
    /// Rows that reach another leaf in some tree.
    rows: usize,
    /// Of those, rows with a feature exactly on a threshold it is tested
    /// against (XGBoost's thresholds are training values): no decimal step
    /// keeps such a row where it was.
    on_threshold: usize,
    /// Thresholds lying between a row's value and its rounding.
    between: usize,
}

fn tree_flips(e: &crate::ir::tree::Ensemble, rows: &[Vec<f64>], scale: i64) -> Flips {
    let mut f = Flips {
        rows: 0,
        on_threshold: 0,
        between: 0,
    };
    let mut between = vec![false; e.branches.len()];
    for x in rows {
        let g = from_grid(&to_grid(x, scale), scale);
        let mut on = false;
        for (b, br) in e.branches.iter().enumerate() {
            let t = br.threshold as f64;
            let (v, w) = (x[br.feature], g[br.feature]);
            let side = |u: f64| match br.cmp {
                crate::ir::tree::Cmp::Leq => u <= t,
                crate::ir::tree::Cmp::Lt => u < t,
            };
            between[b] |= side(v) != side(w);
            on |= v == t && side(v) != side(w) && !on_grid(v, scale);
        }
        if e.leaves_reached(x) != e.leaves_reached(&g) {
            f.rows += 1;
            f.on_threshold += on as usize;
        }
    }
    f.between = between.iter().filter(|b| **b).count();
    f
}

/// The float graph on `rows` rounded to `scale`, compared with it on the
/// rows themselves.
fn rounding_errors(
    graph: &Graph,
    program: &Program,
    rows: &[Vec<f64>],
    want: &[Vec<f64>],
    scale: i64,
) -> Vec<OutputError> {
    let got: Vec<Vec<f64>> = rows
        .iter()
        .map(|x| graph.eval(&from_grid(&to_grid(x, scale), scale)))
        .collect();
    compare(program, want, &got)
}

/// Whether `v` lies on the grid of `1/scale` (within f32 rounding).
fn on_grid(v: f64, scale: i64) -> bool {
    let x = v * scale as f64;
    (x - x.round()).abs() <= 4e-7 * x.abs().max(1.0)
}

/// `n` random rows of the domain at the calibration rows' resolution: a
/// feature whose calibration values all lie on the input grid (integers
/// such as ports) stays on it; the others are drawn continuous. None when
/// every feature is on the grid (then rounding changes nothing).
fn resolution_rows(domain: &Domain, calib: &[Vec<f64>], scale: i64, n: usize) -> Vec<Vec<f64>> {
    let fine: Vec<bool> = (0..domain.lo.len())
        .map(|i| calib.iter().any(|r| !on_grid(r[i], scale)))
        .collect();
    if !fine.iter().any(|f| *f) {
        return Vec::new();
    }
    let mut rng = Rng(0x6c66_6301 ^ domain.lo.len() as u64);
    (0..n)
        .map(|_| {
            (0..domain.lo.len())
                .map(|i| {
                    let (lo, hi) = (domain.lo[i], domain.hi[i]);
                    let v = (lo + rng.uniform() * (hi - lo)) as f32 as f64;
                    if fine[i] {
                        v
                    } else {
                        (v * scale as f64).round() / scale as f64
                    }
                })
                .collect()
        })
        .collect()
}

/// The `--input-scale` an input-scale warning's message suggests.
pub fn suggested_scale(message: &str) -> Option<i64> {
    let rest = message.split("with --input-scale ").nth(1)?;
    rest.split(' ').next()?.parse().ok()
}

fn input_scale_warning(
    graph: &Graph,
    program: &Program,
    domain: &Domain,
    rows: &[Vec<f64>],
    n_calib: usize,
) -> Option<Warning> {
    let s = program.input_scale;
    let want: Vec<Vec<f64>> = rows.iter().map(|x| graph.eval(x)).collect();
    let errs = rounding_errors(graph, program, rows, &want, s);
    if !off(program, &errs, rows.len()) {
        return None;
    }
    let trees = input_trees(graph);
    let mut nodes = Vec::new();
    for &(node, op, e) in &trees {
        let f = tree_flips(e, rows, s);
        if f.rows > 0 {
            let exact = if f.on_threshold > 0 {
                format!(
                    ", {} of these rows have a feature exactly on a threshold",
                    f.on_threshold
                )
            } else {
                String::new()
            };
            nodes.push(format!(
                "node `{node}` ({op}): {} of the {} rows reach another leaf ({} of its {} thresholds lie between a row's value and its rounding{exact})",
                f.rows,
                rows.len(),
                f.between,
                e.branches.len()
            ));
        }
    }
    // The smallest power of ten above the scale that keeps every row on its
    // leaves (but those exactly on a threshold, which no decimal step
    // keeps) and every output within tolerance (and the domain within s64).
    let max_abs = domain
        .lo
        .iter()
        .chain(&domain.hi)
        .fold(0f64, |m, v| m.max(v.abs()));
    // Rows with a feature exactly on a threshold are left out of the search
    // (counted in the advice): no decimal step keeps them where they were.
    let on_threshold = |x: &Vec<f64>| {
        trees.iter().any(|&(_, _, e)| {
            e.branches.iter().any(|br| {
                let v = x[br.feature];
                v == br.threshold as f64 && !on_grid(v, s)
            })
        })
    };
    let (exact, rest): (Vec<Vec<f64>>, Vec<Vec<f64>>) =
        rows.iter().cloned().partition(on_threshold);
    let want_rest: Vec<Vec<f64>> = rest.iter().map(|x| graph.eval(x)).collect();
    let mut better = None;
    let mut s2 = s;
    for _ in 0..9 {
        s2 = match s2.checked_mul(10) {
            Some(v) if v <= 1_000_000_000_000 && max_abs * (v as f64) < 1e17 => v,
            _ => break,
        };
        let e2 = rounding_errors(graph, program, &rest, &want_rest, s2);
        let moved = trees
            .iter()
            .any(|&(_, _, e)| tree_flips(e, &rest, s2).rows > 0);
        if !moved && !off(program, &e2, rest.len()) {
            better = Some((s2, exact.len()));
            break;
        }
    }
    let advice = match better {
        Some((v, 0)) => format!(
            "with --input-scale {v} every one of these rows is within it and on its leaves"
        ),
        Some((v, k)) => format!(
            "with --input-scale {v} every one of these rows is within it and on its leaves, but the {k} with a feature exactly on a threshold"
        ),
        None => "no --input-scale up to 10^12 keeps every one of these rows within it".into(),
    };
    let tol = 100.0 * tolerance(program.precision);
    let what = if nodes.is_empty() {
        String::new()
    } else {
        format!("{}; ", nodes.join("; "))
    };
    let node = trees
        .first()
        .map(|t| t.0.to_string())
        .unwrap_or_else(|| graph.value(graph.input).name.clone());
    Some(Warning {
        node,
        max_error: errs.iter().map(|e| e.err).fold(0.0, f64::max),
        message: format!(
            "the calibration rows' features are finer than the input step 1/{s} (--input-scale {s}); \
             rounded to it as a datapath hands them over, {what}{} (tolerance {tol} % of the range; \
             measured by lfc's float graph on {} rows, the {n_calib} calibration rows and {} random rows of the domain \
             at their resolution, and on them rounded); {advice}",
            describe(program, &errs, rows.len()),
            rows.len(),
            rows.len() - n_calib,
        ),
    })
}

struct Rng(u64);

impl Rng {
    /// splitmix64: a uniform f64 in [0, 1).
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn row_work(graph: &Graph, program: &Program) -> usize {
    let values: usize = program.tensors.iter().map(|t| t.len).sum();
    program.macs() + graph.macs() + values + 1
}

/// How many random rows the work budget allows.
fn random_rows(graph: &Graph, program: &Program) -> usize {
    (WORK_BUDGET / row_work(graph, program)).clamp(MIN_RANDOM_ROWS, MAX_RANDOM_ROWS)
}

fn quantization_warnings(
    graph: &Graph,
    program: &Program,
    domain: &Domain,
    calib_rows: &[Vec<f64>],
) -> Option<Warning> {
    let s = program.input_scale;
    let n_random = random_rows(graph, program);
    let mut rng = Rng(0x6c66_6300 ^ program.input_len as u64);
    let mut grid: Vec<Vec<i64>> = calib_rows.iter().map(|x| to_grid(x, s)).collect();
    for _ in 0..n_random {
        let x: Vec<f64> = domain
            .lo
            .iter()
            .zip(&domain.hi)
            .map(|(&lo, &hi)| lo + rng.uniform() * (hi - lo))
            .collect();
        grid.push(to_grid(&x, s));
    }
    let scales: Vec<f64> = program
        .outputs
        .iter()
        .flat_map(|o| std::iter::repeat_n(o.scale as f64, o.len))
        .collect();
    let mut want = Vec::with_capacity(grid.len());
    let mut got = Vec::with_capacity(grid.len());
    for q in &grid {
        want.push(graph.eval(&from_grid(q, s)));
        let y = interp::run(program, q);
        got.push(y.iter().zip(&scales).map(|(&v, k)| v as f64 / k).collect());
    }
    let errs = compare(program, &want, &got);
    if !off(program, &errs, grid.len()) {
        return None;
    }
    let tol = 100.0 * tolerance(program.precision);
    let worst = program
        .outputs
        .iter()
        .zip(&errs)
        .max_by(|a, b| a.1.frac.total_cmp(&b.1.frac))
        .map(|(o, _)| o.name.clone())
        .unwrap_or_default();
    Some(Warning {
        node: worst,
        max_error: errs.iter().map(|e| e.err).fold(0.0, f64::max),
        message: format!(
            "measured on {} rows of the input domain ({} calibration rows and {n_random} random rows, on the input grid), \
             the {} program against lfc's float graph: {} (tolerance {tol} % of the range); \
             a narrower domain (--input-range, --domain-margin) gives finer steps",
            grid.len(),
            calib_rows.len(),
            program.precision.name(),
            describe(program, &errs, grid.len()),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::tree::{Branch, Cmp, Ensemble, NodeRef};
    use crate::ir::Op;
    use crate::quant::{quantize, QuantOptions};

    /// One stump `x <= 0.0002 ? 0 : 1` on one feature.
    fn stump() -> Graph {
        let mut g = Graph::default();
        g.input = g.add_value("x", 1);
        let y = g.add_value("y", 1);
        g.ops.push(Op {
            node: "stump".into(),
            onnx_op: "TreeEnsembleRegressor".into(),
            kind: OpKind::Trees(Box::new(Ensemble {
                n_targets: 1,
                branches: vec![Branch {
                    feature: 0,
                    threshold: 0.0002,
                    cmp: Cmp::Leq,
                    yes: NodeRef::Leaf(0),
                    no: NodeRef::Leaf(1),
                }],
                leaves: vec![vec![0.0], vec![1.0]],
                roots: vec![NodeRef::Branch(0)],
                base: vec![0.0],
            })),
            inputs: vec![g.input],
            output: y,
        });
        g.outputs = vec![y];
        g
    }

    fn compile(g: &Graph, input_scale: i64) -> Program {
        let opts = QuantOptions {
            precision: Precision::Int16,
            input_scale,
            output_scale: 1000,
            observed: None,
            calib_values: None,
            weight_bits_auto: false,
            unroll_limit: 0,
        };
        let d = Domain {
            lo: vec![-0.01],
            hi: vec![0.01],
        };
        quantize(g, &d, &opts).unwrap()
    }

    /// A threshold between the quanta 0.000 and 0.001: the calibration
    /// values 0.0004 and 0.0003 (above it) round to 0 (below it); 0.0007
    /// and -0.002 keep their side. Warned at scale 1000 with the node, the
    /// rows, and 10^4; silent at 10^4. On the input grid the program is
    /// exact (no quantization warning).
    #[test]
    fn threshold_between_input_quanta_is_warned_with_the_scale() {
        let g = stump();
        let rows = Matrix::new(4, 1, vec![0.0004, 0.0003, -0.002, 0.0007]);
        let d = Domain {
            lo: vec![-0.01],
            hi: vec![0.01],
        };
        let w = warnings(&g, &compile(&g, 1000), &d, Some(&rows));
        assert_eq!(w.len(), 1, "{w:?}");
        let m = &w[0].message;
        assert_eq!(w[0].node, "stump");
        for part in [
            "finer than the input step 1/1000",
            "node `stump` (TreeEnsembleRegressor): ",
            " rows reach another leaf (1 of its 1 thresholds",
            "on 1004 rows, the 4 calibration rows and 1000 random rows of the domain",
            "every one of these rows is within it and on its leaves",
        ] {
            assert!(m.contains(part), "{part}: {m}");
        }
        let better = suggested_scale(m).unwrap();
        assert!(better > 1000, "{m}");
        assert!(warnings(&g, &compile(&g, better), &d, Some(&rows)).is_empty());
        // features on the grid (integers): rounding changes nothing
        let ints = Matrix::new(3, 1, vec![0.0, 0.001, -0.002]);
        assert!(warnings(&g, &compile(&g, 1000), &d, Some(&ints)).is_empty());
        // no calibration rows: nothing to tell the features' resolution by
        assert!(warnings(&g, &compile(&g, 1000), &d, None).is_empty());
    }
}
