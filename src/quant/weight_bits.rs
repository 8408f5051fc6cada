//! Weight precision per Dense layer, chosen to make two channels share one
//! multiply (issue 10; `--weight-bits-auto`, on by default).
//!
//! At int16 a channel's weights use 15 or 16 bits, and a Dense layer's
//! accumulators often need 33 to 37 bits: two channels then do not fit one
//! s64 ([`crate::valid::lanes`]) and every multiply-add costs a multiply.
//! Dropping `k` low bits of every weight (the weight scale times `2^k`, so
//! the int16 requantization stays one rounding shift, `k` bits shorter)
//! narrows every accumulator by about `k` bits. [`narrow`] finds the
//! smallest `k` (at most [`MAX_CUT`]) for which every pair's lanes are
//! proven to fit, and takes it only when the fidelity cost measured on the
//! calibration rows stays within [`MAX_ERROR_GROWTH`]:
//!
//! ```text
//! err(W) = max over rows r and channels j of
//!          |clamp(acc_j(W, x_q(r)) * s_x * s_w[j]) - clamp(y_j(r))|
//! take the cut when err(W_cut) - err(W) <= MAX_ERROR_GROWTH * (output range)
//! ```
//!
//! with `x_q(r)` the layer's float input on row `r` quantized at the
//! layer's input scale, `y_j(r)` the float model's output (both clamped by
//! a fused Relu/Clip) and the output range that of the layer's int16
//! output tensor. Without calibration rows nothing is measured and no
//! weight is cut.
//!
//! Only where the packed form pays (`lfc bench`, callgrind): looped layers
//! (LinnOS-shaped 35,044 -> 20,836 instructions, 64-256-256-8 244,059 ->
//! 142,420; with `--simd avx2` the narrower s32 lanes of a cut layer sum
//! more 16-input chunks before widening: 64-256-256-8 33,009 -> 18,881).
//! Straight-line layers are left uncut: on Aurora the packed fc1 saved 71
//! instructions and cost the fc0 before it 121 (gcc's registers), 3,932
//! -> 3,982 in all. The choice does not depend on `--simd`: a SIMD build
//! answers as the scalar build, to the bit. The lanes
//! themselves are proven again from the finished program
//! (`lower::pair_lanes`); the interpreter, which computes the same cut
//! weights unpacked, stays the oracle.

use crate::ir::bounds::{dense_acc_bounds, Bounds};
use crate::ir::QParams;
use crate::valid::lanes;

/// At most this many low bits are dropped from a layer's weights.
pub const MAX_CUT: u32 = 6;

/// The largest growth of a layer's measured error a cut may cost, as a
/// fraction of the layer's output range (0.1 %: about 65 int16 output
/// quanta).
pub const MAX_ERROR_GROWTH: f64 = 1e-3;

/// One Dense layer as the quantizer holds it.
pub struct Layer<'a> {
    pub weight: &'a [f32],
    pub bias: &'a [f32],
    pub n_in: usize,
    /// Quantized weights, per-channel weight scales, accumulator biases.
    pub wq: &'a [i64],
    pub ws: &'a [f64],
    pub bq: &'a [i64],
    pub sq: &'a QParams,
    pub src: &'a Bounds,
    /// The output tensor's quantization.
    pub dq: &'a QParams,
    /// A fused Relu/Clip, in real units.
    pub clamp: Option<(f64, f64)>,
    /// Per calibration row: the layer's float input and float output
    /// (before any fused clamp).
    pub rows: &'a [(&'a [f64], &'a [f64])],
}

/// Weights, scales and biases at `k` fewer bits.
#[derive(Clone, Debug, PartialEq)]
pub struct Cut {
    pub k: u32,
    pub wq: Vec<i64>,
    pub ws: Vec<f64>,
    pub bq: Vec<i64>,
    /// The lane shift the cut makes provable.
    pub shift: u32,
    /// Measured max error before and after, in real units, and the
    /// layer's output range.
    pub err_before: f64,
    pub err_after: f64,
    pub range: f64,
    /// Calibration rows measured.
    pub rows: usize,
    /// Signed bits of the widest weight, before and after.
    pub bits_before: u32,
    pub bits_after: u32,
    /// The budget it was judged against (fraction of `range`).
    pub budget: f64,
}

/// What [`narrow`] decided, for the compile's notes.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    Cut(Cut),
    /// The smallest fitting cut costs more than the budget.
    OverBudget(Cut),
}

impl Decision {
    /// The cut measured, taken or not.
    pub fn cut(&self) -> &Cut {
        match self {
            Decision::Cut(c) | Decision::OverBudget(c) => c,
        }
    }

    /// The line `lfc compile` prints.
    pub fn note(&self, name: &str) -> String {
        let c = self.cut();
        let head = match self {
            Decision::Cut(_) => format!(
                "weights {} bits (was {}): two channels per multiply",
                c.bits_after, c.bits_before
            ),
            Decision::OverBudget(_) => format!(
                "weights kept at {} bits: {} would pack two channels per multiply, over the budget",
                c.bits_before, c.bits_after
            ),
        };
        let pct = |e: f64| 100.0 * e / c.range;
        format!(
            "{name}: {head}; max error {:.4} % -> {:.4} % of the output range (+{:.4} %, budget {:.2} %) on {} calibration rows",
            pct(c.err_before),
            pct(c.err_after),
            pct(c.err_after - c.err_before),
            100.0 * c.budget,
            c.rows
        )
    }
}

/// The smallest cut that lets the layer's channel pairs share one s64, and
/// whether its measured cost is within `budget` (a fraction of the
/// output range, [`MAX_ERROR_GROWTH`] in the quantizer); `None` when the layer
/// already packs, cannot pack (odd channels), or no cut up to
/// [`MAX_CUT`] fits, or there are no calibration rows.
pub fn narrow(l: &Layer, budget: f64) -> Option<Decision> {
    let n_out = l.bias.len();
    if l.rows.is_empty() || n_out < 2 || n_out % 2 != 0 {
        return None;
    }
    if lanes::pick_shift(&dense_acc_bounds(l.wq, l.bq, l.src)).is_some() {
        return None;
    }
    let before = max_error(l, l.wq, l.ws, l.bq);
    let range = (l.dq.qmax - l.dq.qmin) as f64 * l.dq.scale;
    let (k, wq, ws, bq, shift) = (1..=MAX_CUT).find_map(|k| {
        let (wq, ws, bq) = rescaled(l, k)?;
        let shift = lanes::pick_shift(&dense_acc_bounds(&wq, &bq, l.src))?;
        lanes::check(&wq, &bq, l.src, shift).ok()?;
        within_output(l, &wq, &ws, &bq).then_some((k, wq, ws, bq, shift))
    })?;
    let after = max_error(l, &wq, &ws, &bq);
    let bits_after = weight_bits(&wq);
    let cut = Cut {
        k,
        err_after: after,
        err_before: before,
        range,
        shift,
        wq,
        ws,
        bq,
        rows: l.rows.len(),
        bits_before: weight_bits(l.wq),
        bits_after,
        budget,
    };
    Some(if after - before <= budget * range {
        Decision::Cut(cut)
    } else {
        Decision::OverBudget(cut)
    })
}

/// The weights at scale `ws * 2^k`, and the biases at the new
/// accumulator scales; `None` if a bias leaves s64.
fn rescaled(l: &Layer, k: u32) -> Option<(Vec<i64>, Vec<f64>, Vec<i64>)> {
    let f = (k as f64).exp2();
    let ws: Vec<f64> = l.ws.iter().map(|s| s * f).collect();
    let mut wq = Vec::with_capacity(l.wq.len());
    let mut bq = Vec::with_capacity(ws.len());
    for (j, s) in ws.iter().enumerate() {
        let row = &l.weight[j * l.n_in..(j + 1) * l.n_in];
        let start = wq.len();
        wq.extend(row.iter().map(|w| (*w as f64 / s).round() as i64));
        let row_sum: i64 = wq[start..].iter().sum();
        let b = (l.bias[j] as f64 / (l.sq.scale * s)).round();
        if b.abs() >= 9.2e18 {
            return None;
        }
        bq.push((b as i64).checked_sub(l.sq.zero_point.checked_mul(row_sum)?)?);
    }
    Some((wq, ws, bq))
}

/// Whether every channel's proven output stays inside the output tensor's
/// range (chosen from the uncut weights), or a fused clamp bounds it.
fn within_output(l: &Layer, wq: &[i64], ws: &[f64], bq: &[i64]) -> bool {
    if l.clamp.is_some() {
        return true;
    }
    dense_acc_bounds(wq, bq, l.src)
        .iter()
        .enumerate()
        .all(|(j, &(a, b, _))| {
            let f = l.sq.scale * ws[j] / l.dq.scale;
            (a as f64 * f).abs().max((b as f64 * f).abs()) <= (l.dq.qmax - 1) as f64
        })
}

/// The largest |integer layer - float layer| over the rows and channels,
/// in real units, both clamped by a fused clamp.
fn max_error(l: &Layer, wq: &[i64], ws: &[f64], bq: &[i64]) -> f64 {
    let clamp = |v: f64| match l.clamp {
        Some((a, b)) => v.max(a).min(b),
        None => v,
    };
    let mut worst = 0f64;
    for (x, y) in l.rows {
        let xq: Vec<i64> = x
            .iter()
            .zip(l.src.iter())
            .map(|(v, &(lo, hi))| ((v / l.sq.scale).round() as i64 + l.sq.zero_point).clamp(lo, hi))
            .collect();
        for (j, yj) in y.iter().enumerate() {
            let row = &wq[j * l.n_in..(j + 1) * l.n_in];
            let acc: i128 = bq[j] as i128
                + row
                    .iter()
                    .zip(&xq)
                    .map(|(&w, &v)| w as i128 * v as i128)
                    .sum::<i128>();
            let real = acc as f64 * l.sq.scale * ws[j];
            worst = worst.max((clamp(real) - clamp(*yj)).abs());
        }
    }
    worst
}

/// Signed bits of the widest weight.
pub fn weight_bits(wq: &[i64]) -> u32 {
    let lo = wq.iter().copied().min().unwrap_or(0);
    let hi = wq.iter().copied().max().unwrap_or(0);
    lanes::signed_bits(lo as i128, hi as i128)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 8 inputs in [-32767, 32767] at scale 1e-3 -> 2 outputs, weights
    /// of about 1: 34-bit accumulators, two do not fit one s64.
    struct Fixture {
        weight: Vec<f32>,
        bias: Vec<f32>,
        wq: Vec<i64>,
        ws: Vec<f64>,
        bq: Vec<i64>,
        sq: QParams,
        dq: QParams,
        src: Bounds,
        rows: Vec<(Vec<f64>, Vec<f64>)>,
    }

    fn q(scale: f64) -> QParams {
        QParams {
            bits: 16,
            zero_point: 0,
            qmin: -32768,
            qmax: 32767,
            scale,
        }
    }

    fn fixture(x_max: i64) -> Fixture {
        let n = 8;
        let weight: Vec<f32> = (0..2 * n)
            .map(|k| ((k * 37 % 19) as f32 - 9.0) / 9.0 + 0.013 * k as f32)
            .collect();
        let bias = vec![0.25f32, -0.5];
        let (mut wq, mut ws) = (Vec::new(), Vec::new());
        for row in weight.chunks(n) {
            let m = row.iter().fold(0f64, |a, w| a.max((*w as f64).abs()));
            ws.push(m / 32767.0);
            wq.extend(
                row.iter()
                    .map(|w| (*w as f64 / (m / 32767.0)).round() as i64),
            );
        }
        let sq = q(1e-3);
        let bq = (0..2)
            .map(|j| (bias[j] as f64 / (sq.scale * ws[j])).round() as i64)
            .collect();
        let real_max = 8.0 * 1.2 * x_max as f64 * 1e-3;
        let rows = (0..20)
            .map(|r| {
                let x: Vec<f64> = (0..n)
                    .map(|i| (((r * 7 + i * 13) % 23) as f64 - 11.0) / 11.0 * x_max as f64 * 1e-3)
                    .collect();
                let y = (0..2)
                    .map(|j| {
                        bias[j] as f64
                            + (0..n).map(|i| weight[j * n + i] as f64 * x[i]).sum::<f64>()
                    })
                    .collect();
                (x, y)
            })
            .collect();
        Fixture {
            weight,
            bias,
            wq,
            ws,
            bq,
            sq,
            dq: q(real_max / 32767.0),
            src: vec![(-x_max, x_max); n],
            rows,
        }
    }

    /// The fixture's 8-input layer over `rows`.
    fn layer<'a>(f: &'a Fixture, rows: &'a [(&'a [f64], &'a [f64])]) -> Layer<'a> {
        Layer {
            weight: &f.weight,
            bias: &f.bias,
            n_in: 8,
            wq: &f.wq,
            ws: &f.ws,
            bq: &f.bq,
            sq: &f.sq,
            src: &f.src,
            dq: &f.dq,
            clamp: None,
            rows,
        }
    }

    fn decide(f: &Fixture, rows: usize, budget: f64) -> Option<Decision> {
        let rows: Vec<(&[f64], &[f64])> = f.rows[..rows]
            .iter()
            .map(|(x, y)| (&x[..], &y[..]))
            .collect();
        narrow(&layer(f, &rows), budget)
    }

    fn packs(wq: &[i64], bq: &[i64], src: &Bounds) -> bool {
        lanes::pick_shift(&dense_acc_bounds(wq, bq, src)).is_some()
    }

    #[test]
    fn cuts_the_fewest_bits_that_pack_within_budget() {
        let f = fixture(32767);
        assert!(
            !packs(&f.wq, &f.bq, &f.src),
            "the fixture must not pack uncut"
        );
        let Some(Decision::Cut(c)) = decide(&f, 20, MAX_ERROR_GROWTH) else {
            panic!("expected a cut");
        };
        assert!(c.k >= 1 && c.bits_after < c.bits_before);
        lanes::check(&c.wq, &c.bq, &f.src, c.shift).unwrap();
        let layer_at = |k: u32| {
            let rows: Vec<(&[f64], &[f64])> = Vec::new();
            rescaled(&layer(&f, &rows), k).unwrap()
        };
        let (wq, _, bq) = layer_at(c.k - 1);
        assert!(!packs(&wq, &bq, &f.src), "k - 1 bits would have packed too");
        // The weights are the float ones at the coarser scale.
        for (j, s) in c.ws.iter().enumerate() {
            assert_eq!(*s, f.ws[j] * (c.k as f64).exp2());
            for i in 0..8 {
                let w = f.weight[j * 8 + i] as f64;
                assert!((c.wq[j * 8 + i] as f64 * s - w).abs() <= s / 2.0 + 1e-12);
            }
        }
        assert!(c.err_after > 0.0 && c.err_after - c.err_before <= MAX_ERROR_GROWTH * c.range);
        assert_eq!(c.rows, 20);
    }

    #[test]
    fn over_budget_keeps_the_weights() {
        let f = fixture(32767);
        match decide(&f, 20, 0.0) {
            Some(d @ Decision::OverBudget(_)) => {
                let c = d.cut();
                assert!(c.err_after > c.err_before);
                let n = d.note("fc1");
                assert!(n.contains("weights kept at 16 bits: "), "{n}");
                assert!(n.contains("budget 0.00 %)"), "{n}");
            }
            d => panic!("expected over budget, got {d:?}"),
        }
    }

    #[test]
    fn nothing_to_decide_without_rows_or_when_it_packs() {
        assert_eq!(decide(&fixture(32767), 0, MAX_ERROR_GROWTH), None);
        let small = fixture(1000);
        assert!(packs(&small.wq, &small.bq, &small.src));
        assert_eq!(decide(&small, 20, MAX_ERROR_GROWTH), None);
    }

    #[test]
    fn the_note_names_bits_cost_and_rows() {
        let f = fixture(32767);
        let d = decide(&f, 20, MAX_ERROR_GROWTH).unwrap();
        let n = d.note("fc1");
        assert!(n.starts_with("fc1: weights "), "{n}");
        assert!(n.contains("(was 16): two channels per multiply"), "{n}");
        assert!(n.contains("budget 0.10 %) on 20 calibration rows"), "{n}");
    }
}
