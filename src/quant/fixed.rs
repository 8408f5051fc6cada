//! Fixed-point building blocks: choosing multipliers and tensor scales.

use crate::ir::{Precision, QParams, Rescale};

/// Bits of `|x|` (0 for 0).
pub fn bit_len(x: i64) -> u32 {
    64 - x.unsigned_abs().leading_zeros()
}

/// Largest multiplier width used (TFLite's is 31 too).
pub const MAX_MUL_BITS: u32 = 31;

/// The fixed-point multiplier closest to `factor` whose product with any
/// `|x| <= max_abs_in` cannot overflow 64 bits: `|mul| < 2^mul_bits` with
/// `mul_bits = min(31, 62 - bits(max_abs_in))`, and as many fraction bits as
/// that allows (shift capped at 62).
pub fn rescale_for(factor: f64, max_abs_in: i64) -> Result<Rescale, String> {
    if !factor.is_finite() {
        return Err(format!("scale factor {factor} is not finite"));
    }
    if factor == 0.0 {
        return Ok(Rescale::new(0, 1));
    }
    let in_bits = bit_len(max_abs_in.max(1));
    if in_bits >= 62 {
        return Err(format!(
            "input magnitude {max_abs_in} leaves no room for a multiplier"
        ));
    }
    let mul_bits = MAX_MUL_BITS.min(62 - in_bits);
    let e = factor.abs().log2().floor() as i64;
    let mut shift = mul_bits as i64 - 1 - e;
    if shift > 62 {
        shift = 62;
    }
    if shift < 1 {
        return Err(format!(
            "scale factor {factor:e} is too large for a {mul_bits}-bit multiplier"
        ));
    }
    let mut mul = (factor.abs() * (shift as f64).exp2()).round() as i64;
    if mul >= 1i64 << mul_bits {
        shift -= 1;
        if shift < 1 {
            return Err(format!("scale factor {factor:e} is too large"));
        }
        mul = (factor.abs() * (shift as f64).exp2()).round() as i64;
    }
    Ok(Rescale::new(
        if factor < 0.0 { -mul } else { mul },
        shift as u32,
    ))
}

/// Headroom, in quantization steps, left below the top of the range so
/// multiplier rounding cannot push a proven-in-range value over it.
pub const HEADROOM_Q: i64 = 2;

/// Quantization parameters for a tensor whose real values lie in `[lo, hi]`.
///
/// int16: symmetric, zero point 0, `scale = max(|lo|, |hi|) / (32767 - HEADROOM_Q)`.
/// int8: asymmetric over `[min(lo, 0), max(hi, 0)]` (0 exactly representable),
/// TFLite's `scale = (hi - lo) / 255`, `zp = round(-128 - lo / scale)`.
pub fn qparams(precision: Precision, lo: f64, hi: f64) -> QParams {
    qparams_with(precision, lo, hi, false)
}

/// [`qparams`] for a tensor written without a clamp: every real value of
/// `[lo, hi]` maps inside `[qmin, qmax]` before rounding (int8 may give up
/// one of its 255 steps for it; int16 always does, by its headroom).
pub fn qparams_unclamped(precision: Precision, lo: f64, hi: f64) -> QParams {
    qparams_with(precision, lo, hi, true)
}

fn qparams_with(precision: Precision, lo: f64, hi: f64, exact: bool) -> QParams {
    let bits = precision.bits();
    let qmax = (1i64 << (bits - 1)) - 1;
    let qmin = -qmax - 1;
    match precision {
        Precision::Int16 => {
            let m = lo.abs().max(hi.abs());
            let m = if m > 0.0 { m } else { 1.0 };
            QParams {
                bits,
                zero_point: 0,
                qmin: -qmax,
                qmax,
                scale: m / (qmax - HEADROOM_Q) as f64,
            }
        }
        Precision::Int8 => {
            let (lo, hi) = (lo.min(0.0), hi.max(0.0));
            let span = if hi - lo > 0.0 { hi - lo } else { 1.0 };
            let (qlo, qhi) = (qmin as f64, qmax as f64);
            let mut scale = span / (qhi - qlo);
            let mut zp = (qlo - lo / scale).round();
            // TFLite rounds the zero point and lets the end that moved out
            // saturate (for [-1, 1]: zp -1, and -1.0 maps to -128.5), as
            // every int8 requantization here does. A tensor with no clamp
            // (the input's) must hold the whole range: then give up one
            // step, so that [qmin - lo/s, qmax - hi/s] is one step wide
            // and holds an integer zero point. (Ends within 0.5 - 1e-6 of a
            // step outside still round inside: kept as TFLite has them.)
            let tol = 0.5 - 1e-6;
            if exact && (lo / scale + zp < qlo - tol || hi / scale + zp > qhi + tol) {
                scale = span / (qhi - qlo - 1.0);
                zp = (qlo - lo / scale).ceil();
            }
            QParams {
                bits,
                zero_point: (zp as i64).clamp(qmin, qmax),
                qmin,
                qmax,
                scale,
            }
        }
    }
}

/// `round(x / q.scale) + zp`, clamped to the tensor's range. The clamp is
/// taken in f64, before any conversion: an infinite or huge `x` (a Clip
/// without bounds) saturates to the end of the range it lies beyond.
pub fn quantize_value(q: &QParams, x: f64) -> i64 {
    if x.is_nan() {
        return q.zero_point;
    }
    ((x / q.scale).round() + q.zero_point as f64).clamp(q.qmin as f64, q.qmax as f64) as i64
}

/// Real value of a quantized one.
pub fn real(q: &QParams, v: i64) -> f64 {
    (v - q.zero_point) as f64 * q.scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rescale_is_accurate_and_bounded() {
        for &(f, m) in &[
            (0.001234, 40_000i64),
            (3.5, 1 << 20),
            (1e-9, 1 << 40),
            (-0.75, 100),
        ] {
            let r = rescale_for(f, m).unwrap();
            assert!(r.mul.unsigned_abs() < 1 << 31, "{r:?}");
            assert!((r.mul as i128 * m as i128).abs() < 1i128 << 62);
            if f.abs() > 1e-6 {
                assert!(((r.factor() - f) / f).abs() < 1e-6, "{f} -> {r:?}");
            }
        }
    }

    #[test]
    fn int8_symmetric_domains_stay_representable() {
        // Issue 7: -1:1, -3:3, -6:6, -10:10 gave zero point -1 and a low
        // end at -128.5 (then -129 after rounding).
        for m in [1.0, 3.0, 6.0, 10.0, 1e6, 0.1] {
            let q = qparams_unclamped(Precision::Int8, -m, m);
            for x in [-m, m] {
                let v = x / q.scale + q.zero_point as f64;
                assert!(v > -128.5 && v < 127.5, "±{m}: {x} -> {v} ({q:?})");
            }
            assert_eq!(real(&q, q.zero_point), 0.0);
        }
    }

    #[test]
    fn quantize_value_saturates_infinite_and_huge_values() {
        // Issue 7: the saturating f64 -> i64 cast plus a zero point wrapped
        // around, so an unbounded Clip became a constant.
        let q = qparams(Precision::Int8, -1.0, 3.0);
        assert_ne!(q.zero_point, 0);
        assert_eq!(quantize_value(&q, f64::NEG_INFINITY), -128);
        assert_eq!(quantize_value(&q, -1e30), -128);
        assert_eq!(quantize_value(&q, f64::INFINITY), 127);
        assert_eq!(quantize_value(&q, 1e30), 127);
        assert_eq!(quantize_value(&q, 10.0), 127);
    }

    #[test]
    fn int8_zero_is_exact() {
        let q = qparams(Precision::Int8, -0.3, 2.1);
        assert_eq!(real(&q, q.zero_point), 0.0);
        assert!(quantize_value(&q, -0.3) >= -128 && quantize_value(&q, 2.1) <= 127);
    }
}
