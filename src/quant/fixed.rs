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
        return Ok(Rescale { mul: 0, shift: 1 });
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
    Ok(Rescale {
        mul: if factor < 0.0 { -mul } else { mul },
        shift: shift as u32,
    })
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
            let scale = span / (qmax - qmin) as f64;
            let zp = ((qmin as f64) - lo / scale).round() as i64;
            QParams {
                bits,
                zero_point: zp.clamp(qmin, qmax),
                qmin,
                qmax,
                scale,
            }
        }
    }
}

/// `round(x / q.scale) + zp`, clamped to the tensor's range.
pub fn quantize_value(q: &QParams, x: f64) -> i64 {
    ((x / q.scale).round() as i64 + q.zero_point).clamp(q.qmin, q.qmax)
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
    fn int8_zero_is_exact() {
        let q = qparams(Precision::Int8, -0.3, 2.1);
        assert_eq!(real(&q, q.zero_point), 0.0);
        assert!(quantize_value(&q, -0.3) >= -128 && quantize_value(&q, 2.1) <= 127);
    }
}
