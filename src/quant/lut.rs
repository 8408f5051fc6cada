//! Lookup tables for Tanh, Sigmoid and Softmax's exponential.
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
    let mut lo = l.max(zp_in + (sat_lo / src.scale).floor() as i64);
    let hi = h.min(zp_in + (sat_hi / src.scale).ceil() as i64);
    if lo > hi {
        lo = hi;
    }
    let cut = table_on(func, l, h, lo, hi, LUT_STEPS_LOG2, &f_q);
    let full = table_on(func, l, h, l, h, LUT_FULL_STEPS_LOG2, &f_q);
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
    cut
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
    f_q: &dyn Fn(i64) -> i64,
) -> Lut {
    let width = (hi - lo) as u64;
    let bits = 64 - width.leading_zeros();
    let step_shift = bits.saturating_sub(steps_log2);
    // Anchor the grid at `hi` (exp(0) must be an entry: Softmax relies on it).
    let steps = (width + (1u64 << step_shift) - 1) >> step_shift;
    let lo = hi - ((steps as i64) << step_shift);
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
