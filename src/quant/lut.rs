//! Lookup tables: Tanh, Sigmoid, Softmax's exponential and every other
//! unary function (Exp, Log, Elu, Selu, Softplus, Softsign, Erf, Gelu,
//! HardSwish, x * sigmoid(x)): one mechanism.
//!
//! A table covers the source's reachable quantized values, cut where the
//! function has saturated to within a quarter of an output step (beyond
//! that the clamp in [`Lut::apply`] returns the end value, which is then
//! exact to the output's rounding). At most `2^LUT_STEPS_LOG2 + 2` entries (514);
//! between entries the value is interpolated linearly. For int8 sources the
//! range is at most 256 values, so the table is direct (one entry per input,
//! no interpolation) and exact.
//!
//! The maximum error of every table is measured exhaustively, over every
//! reachable source value, against the f64 function, and recorded in
//! [`Lut::max_error`] (printed in the C comments and by `lfc inspect`).

use super::fixed::{quantize_value, real};
use crate::ir::program::softmax_consts::EXP_FRAC;
use crate::ir::{Lut, LutFunc, QParams};

/// Tables cut at the saturation points have at most `2^LUT_STEPS_LOG2`
/// intervals.
pub const LUT_STEPS_LOG2: u32 = 9;
/// Tables over the whole reachable source range have at most
/// `2^LUT_FULL_STEPS_LOG2` intervals. They need no clamp in the emitted
/// code (the validator proves the source inside the table), which saves
/// two compares and two conditional moves per lookup; they are chosen when
/// their measured error is at most `FULL_RANGE_ERROR_RATIO` times the cut
/// table's, for interpolated (int16) tables only.
pub const LUT_FULL_STEPS_LOG2: u32 = 10;
pub const FULL_RANGE_ERROR_RATIO: f64 = 2.0;
/// Otherwise an interpolated table cut at saturation is extended, on its
/// own grid, over the whole reachable range, where that takes at most
/// this many entries and answers exactly as the cut table (with its
/// clamp) for every reachable source value: beyond saturation its entries
/// are the end value, so the clamp is dead and the emitted code drops it
/// (Aurora's fc0 Tanh: 2 compares and 2 conditional moves fewer for each
/// of 32 neurons, for 9.6 KB more table).
pub const LUT_EXTENDED_MAX_ENTRIES: usize = (1 << 11) + 2;

/// Where `func` has saturated to within `quarter` (in output real units):
/// returns `(x_lo, x_hi)` in real input units.
fn saturation(func: LutFunc, quarter: f64) -> (f64, f64) {
    let quarter = quarter.clamp(1e-12, 0.25);
    match func {
        // 1 - tanh(x) < q  <=>  x > atanh(1 - q)
        LutFunc::Tanh => {
            let t = (1.0 - quarter).atanh();
            (-t, t)
        }
        // 1 - sigmoid(x) < q  <=>  x > ln((1 - q) / q)
        LutFunc::Sigmoid => {
            let t = ((1.0 - quarter) / quarter).ln();
            (-t, t)
        }
        // exp(x) < q  <=>  x < ln(q); the Softmax input is <= 0.
        LutFunc::Exp => (quarter.ln(), 0.0),
        // 1 - erf(x) < q  <=>  x > erfc^-1(q); bracketed by bisection.
        LutFunc::Erf => {
            let (mut a, mut b) = (0.0f64, 10.0f64);
            for _ in 0..80 {
                let m = 0.5 * (a + b);
                if libm::erfc(m) < quarter {
                    b = m;
                } else {
                    a = m;
                }
            }
            (-b, b)
        }
        // Unbounded or non-saturating on a side: the table covers the
        // whole reachable range.
        _ => (f64::NEG_INFINITY, f64::INFINITY),
    }
}

/// Builds the table for `dst = func(src)`, source values in `[l, h]`.
///
/// For `LutFunc::Exp` the source is a difference `x - max(x)` in the
/// source's quantization steps (zero point cancelled) and the output is
/// Q`EXP_FRAC`; `dst` is ignored.
pub fn build(func: LutFunc, src: &QParams, l: i64, h: i64, dst: &QParams) -> Lut {
    let (out_step, out_lo, out_hi) = match func {
        LutFunc::Exp => (1.0 / (EXP_FRAC as f64).exp2(), 0, 1i64 << EXP_FRAC),
        _ => (dst.scale, dst.qmin, dst.qmax),
    };
    let zp_in = if func == LutFunc::Exp {
        0
    } else {
        src.zero_point
    };
    let to_real = |x: i64| (x - zp_in) as f64 * src.scale;
    let f_q = |x: i64| -> i64 {
        let y = func.eval(to_real(x));
        match func {
            LutFunc::Exp => ((y / out_step).round() as i64).clamp(out_lo, out_hi),
            _ => quantize_value(dst, y).clamp(out_lo, out_hi),
        }
    };
    let (sat_lo, sat_hi) = saturation(func, out_step / 4.0);
    let mut lo = if sat_lo.is_finite() {
        l.max(zp_in.saturating_add((sat_lo / src.scale).floor() as i64))
    } else {
        l
    };
    let hi = if sat_hi.is_finite() {
        h.min(zp_in.saturating_add((sat_hi / src.scale).ceil() as i64))
    } else {
        h
    };
    if lo > hi {
        lo = hi;
    }
    // the lowest source value where the function is defined, if it has one
    let min_defined = (func == LutFunc::Log).then_some(zp_in + 1);
    let cut = table_on(func, l, h, lo, hi, LUT_STEPS_LOG2, min_defined, &f_q);
    let full = table_on(func, l, h, l, h, LUT_FULL_STEPS_LOG2, min_defined, &f_q);
    let measure = |lut: &mut Lut| {
        let out_real = |v: i64| match func {
            LutFunc::Exp => v as f64 * out_step,
            _ => real(dst, v),
        };
        let mut err: f64 = 0.0;
        for x in l..=h {
            err = err.max((out_real(lut.apply(x)) - func.eval(to_real(x))).abs());
        }
        lut.max_error = err;
    };
    let (mut cut, mut full) = (cut, full);
    measure(&mut cut);
    // Only for interpolated tables (int16): a direct (int8) table is exact
    // per input already, and cut at saturation it is smaller and does not
    // overshoot the function's asymptote by rounding (tanh -> 127 = 1.0039).
    if cut.step_shift > 0 && full.lo <= l && full.hi >= h {
        measure(&mut full);
        if full.max_error <= FULL_RANGE_ERROR_RATIO * cut.max_error {
            return full;
        }
    }
    if cut.step_shift > 0 && min_defined.is_none() {
        if let Some(ext) = extended(&cut, l, h, &f_q) {
            if (l..=h).all(|x| ext.apply(x) == cut.apply(x)) {
                return ext;
            }
        }
    }
    cut
}

/// `cut` on its own grid over `[l, h]` (entries `f_q` at every grid
/// point), or `None` when it covers it already or would take more than
/// [`LUT_EXTENDED_MAX_ENTRIES`]. Its answers are compared by the caller.
fn extended(cut: &Lut, l: i64, h: i64, f_q: &dyn Fn(i64) -> i64) -> Option<Lut> {
    let s = cut.step_shift;
    let step = 1i64 << s;
    let below = ((cut.lo - l).max(0) + step - 1) >> s;
    let above = ((h - cut.hi).max(0) + step - 1) >> s;
    if below == 0 && above == 0 {
        return None;
    }
    let (lo, hi) = (cut.lo - below * step, cut.hi + above * step);
    let n = ((hi - lo) >> s) as usize + 2;
    if n > LUT_EXTENDED_MAX_ENTRIES {
        return None;
    }
    Some(Lut {
        func: cut.func,
        lo,
        hi,
        step_shift: s,
        table: (0..n as i64).map(|k| f_q(lo + (k << s))).collect(),
        max_error: cut.max_error,
    })
}

/// A table on `[lo, hi]` with at most `2^steps_log2` intervals, anchored at
/// `hi`; its error is measured by the caller.
fn table_on(
    func: LutFunc,
    _l: i64,
    _h: i64,
    lo: i64,
    hi: i64,
    steps_log2: u32,
    min_defined: Option<i64>,
    f_q: &dyn Fn(i64) -> i64,
) -> Lut {
    let width = (hi - lo) as u64;
    let bits = 64 - width.leading_zeros();
    let step_shift = bits.saturating_sub(steps_log2);
    // Anchor the grid at `hi` (exp(0) must be an entry: Softmax relies on
    // it), unless its first entry would fall where the function is
    // undefined (Log at or below 0): then the grid starts at `lo` and ends
    // above `hi`.
    let steps = (width + (1u64 << step_shift) - 1) >> step_shift;
    let below = hi - ((steps as i64) << step_shift);
    let (lo, hi) = match min_defined {
        Some(m) if below < m => (lo, lo + ((steps as i64) << step_shift)),
        _ => (below, hi),
    };
    let n = steps as usize + 2;
    let table: Vec<i64> = (0..n)
        .map(|k| f_q(lo + ((k as i64) << step_shift)))
        .collect();
    Lut {
        func,
        lo,
        hi,
        step_shift,
        table,
        max_error: 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Precision;
    use crate::quant::fixed::qparams;

    /// Every table function on int16 sources over [-6, 6] (Log over
    /// [0.5, 6]; near 0 its curvature 1/x^2 dominates: over [0.05, 6] the
    /// measured error is 0.026, 282 output steps, printed as such in the C
    /// comments and `lfc inspect`): the exhaustively measured error stays within 3 output
    /// steps, and for the non-monotone ones (Gelu's dip to -0.17, Swish's
    /// to -0.28) the output range found over every input holds the dip,
    /// which the end values alone would miss (the table would saturate).
    #[test]
    fn int16_tables_of_every_unary_function() {
        let b = |v: f32| v.to_bits();
        let funcs = [
            LutFunc::Exponential,
            LutFunc::Log,
            LutFunc::Elu { alpha: b(0.8) },
            LutFunc::Selu {
                alpha: b(1.673_263_2),
                gamma: b(1.050_701),
            },
            LutFunc::Softplus,
            LutFunc::Softsign,
            LutFunc::Erf,
            LutFunc::Gelu,
            LutFunc::GeluTanh,
            LutFunc::HardSwish,
            LutFunc::Swish,
        ];
        for func in funcs {
            let (xlo, xhi) = if func == LutFunc::Log {
                (0.5, 6.0)
            } else {
                (-6.0, 6.0)
            };
            let src = qparams(Precision::Int16, xlo, xhi);
            let (l, h) = (
                (xlo / src.scale).ceil() as i64,
                (xhi / src.scale).floor() as i64,
            );
            let ys = (l..=h).map(|q| func.eval(q as f64 * src.scale));
            let (ylo, yhi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
                (a.min(y), b.max(y))
            });
            if !func.monotone() {
                let ends = (
                    func.eval(l as f64 * src.scale),
                    func.eval(h as f64 * src.scale),
                );
                assert!(
                    ylo < ends.0.min(ends.1) - 0.1,
                    "{func:?}: no dip below the ends"
                );
            }
            let dst = qparams(Precision::Int16, ylo, yhi);
            let lut = build(func, &src, l, h, &dst);
            eprintln!(
                "{func:?}: {} entries, max error {:.3e} = {:.2} output steps",
                lut.table.len(),
                lut.max_error,
                lut.max_error / dst.scale
            );
            assert!(
                lut.max_error <= 3.0 * dst.scale,
                "{func:?}: max error {} is {} output steps",
                lut.max_error,
                lut.max_error / dst.scale
            );
        }
    }

    #[test]
    fn int16_tanh_error_is_small() {
        let src = qparams(Precision::Int16, -20.0, 20.0);
        let dst = qparams(Precision::Int16, -1.0, 1.0);
        let lut = build(LutFunc::Tanh, &src, -32765, 32765, &dst);
        assert!(lut.table.len() <= (1 << LUT_FULL_STEPS_LOG2) + 2);
        // h = 2^step * s_in; linear interpolation error <= h^2/8 * max|tanh''| (0.77)
        let h = (lut.step_shift as f64).exp2() * src.scale;
        let bound = h * h / 8.0 * 0.77 + dst.scale;
        assert!(lut.max_error <= bound, "{} > {bound}", lut.max_error);
        assert!(lut.max_error < 1e-3, "{}", lut.max_error);
    }

    /// Aurora's fc0 Tanh: the cut table (step 2^5) would need 2^11
    /// intervals over the whole range; extended on its grid it needs no
    /// clamp, answers the end values wherever tanh has saturated (what the
    /// clamp returned) and keeps the interpolation error of its step.
    #[test]
    fn saturated_table_is_extended_over_the_reachable_range() {
        let src = qparams(Precision::Int16, -32.6, 32.4);
        let dst = qparams(Precision::Int16, -1.0, 1.0);
        let (l, h) = (-32765, 32483);
        let lut = build(LutFunc::Tanh, &src, l, h, &dst);
        assert!(lut.lo <= l && lut.hi >= h, "[{}, {}]", lut.lo, lut.hi);
        assert!(lut.table.len() <= LUT_EXTENDED_MAX_ENTRIES);
        assert!(lut.step_shift <= 5, "step 2^{}", lut.step_shift);
        let exact = |x: i64| quantize_value(&dst, (x as f64 * src.scale).tanh());
        // tanh within a quarter output step of +/-1 beyond +/-6.3
        let sat = (6.3 / src.scale) as i64;
        let mut worst = 0;
        for x in l..=h {
            let y = lut.apply(x);
            if x.abs() > sat {
                assert_eq!(y, exact(x), "x = {x}: saturated");
            }
            worst = worst.max((y - exact(x)).abs());
        }
        assert!(worst <= 4, "{worst} output steps");
    }

    #[test]
    fn int8_sigmoid_is_direct() {
        let src = qparams(Precision::Int8, -6.0, 6.0);
        let dst = qparams(Precision::Int8, 0.0, 1.0);
        let lut = build(LutFunc::Sigmoid, &src, -128, 127, &dst);
        assert_eq!(lut.step_shift, 0);
        // Direct table: error is the output rounding only.
        assert!(
            lut.max_error <= dst.scale / 2.0 + 1e-12,
            "{}",
            lut.max_error
        );
    }

    #[test]
    fn exp_table_has_exact_one_at_zero() {
        let src = qparams(Precision::Int16, -8.0, 8.0);
        let lut = build(LutFunc::Exp, &src, -65530, 0, &src);
        assert_eq!(lut.apply(0), 1 << EXP_FRAC);
        assert!(lut.max_error < 2e-4, "{}", lut.max_error);
    }
}
