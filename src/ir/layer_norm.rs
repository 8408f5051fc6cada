//! Integer layer normalisation (ONNX `LayerNormalization`): mean by a sum,
//! centred values `n * x - sum`, their sum of squares, an integer
//! reciprocal square root (linear seed + Newton steps, no division), then
//! scale and bias per element of the normalised axes. [`group`] is the
//! exact integer semantics every back end prints.
//!
//! For a group of `n` quantized values `q` (source scale `s_x`):
//!
//! - `c_i = n * q_i - sum(q)` is exactly `n * (q_i - mean)` (the zero point
//!   cancels), `ss = sum c_i^2 = n^3 * var_q`;
//! - `var + eps = s_x^2 * (ss + E) / n^3` with the constant
//!   `E = round(eps * n^3 / s_x^2)`, so with `T = ss + E`
//!   `(x_i - mean) / sqrt(var + eps) = sqrt(n) * c_i / sqrt(T)`;
//! - `T` is shifted by `2k` bits into `t` in `[2^28, 2^30)` (`T = t * 4^k`,
//!   `T = 0` read as 1: then every `c_i` is 0), `R ~= 2^45 / sqrt(t)` in
//!   `(2^30, 2^31]` by [`rsqrt_q30`], so `1 / sqrt(T) = R * 2^(-45 - k)`;
//! - `z_i = round(c_i * R / 2^(15 + k))` is `c_i / sqrt(T)` in Q30.
//!
//! **Output bound, from the maths.** Since `sum c = 0`,
//! `c_i = -sum_{j != i} c_j`, and by Cauchy-Schwarz
//! `c_i^2 <= (n - 1) * (ss - c_i^2)`, i.e. `c_i^2 <= (n - 1) / n * ss`: the
//! normalised value `sqrt(n) * c_i / sqrt(T)` lies in
//! `[-sqrt(n - 1), sqrt(n - 1)]` and `|z_i| <= sqrt((n - 1) / n) * 2^30`
//! (plus the rsqrt's error, [`Z_SLACK`]). No interval arithmetic over the
//! composed graph: that would give bounds in the hundreds.
//!
//! **64-bit widths.** `ss <= n^3 * d^2 / 4` (Popoviciu: a variance is at
//! most a quarter of the squared range `d` of the group's values); the
//! validator checks `T <= 2^62`. `|c_i| <= sqrt(T) < 2^(15 + k)` and
//! `R <= 2^31 + 2^8`, so `c_i * R < 2^(46 + k) <= 2^62`.

/// `t` is normalised into `[2^T_MIN_BITS, 2^(T_MIN_BITS + 2))`.
pub const T_MIN_BITS: u32 = 28;
/// `R` and the seed are Q`RSQRT_FRAC` of `1 / sqrt(t / 2^30)`.
pub const RSQRT_FRAC: u32 = 30;
/// Seed `r0 = C1 - C2 * y` for `y = t / 2^30` in `[0.25, 1)`: the minimax
/// linear fit of `1 / sqrt(y)` (largest relative error 0.0860).
pub const SEED_C1: i64 = 2_290_047_081; // round(2.132773 * 2^30)
pub const SEED_C2: i64 = 1_308_598_332; // round(1.218727 * 2^30)
/// Newton steps `r = r * (3 - y * r^2) / 2`; the relative error e becomes
/// `1.5 e^2 + 0.5 e^3`: 0.086, 1.1e-2, 2.0e-4, 5.7e-8, 5e-15.
pub const NEWTON_STEPS: u32 = 4;
/// `z` (the centred value over `sqrt(T)`) is Q`Z_FRAC`.
pub const Z_FRAC: u32 = 30;
/// How far `|z|` may exceed `sqrt((n - 1) / n) * 2^Z_FRAC`: the rsqrt's
/// relative error (below 2^-26 including every truncation, checked by
/// `rsqrt_error_is_below_2_to_minus_26`) times 2^30, plus the rounding.
pub const Z_SLACK: i64 = 32;

/// The largest `R` can be (the seed's and the steps' overshoot included):
/// `2^31` at `t = 2^28` plus the error margin.
pub const R_MAX: i64 = (1 << 31) + (1 << 8);

/// `2^45 / sqrt(t)` in Q30 (so about `[2^30, 2^31]`) for `t` in
/// `[2^28, 2^30)`: the seed, then Newton steps, all products below 2^63.
pub fn rsqrt_q30(t: i64) -> i64 {
    let mut r = SEED_C1 - ((SEED_C2 * t) >> RSQRT_FRAC);
    for _ in 0..NEWTON_STEPS {
        let r2 = (r * r) >> RSQRT_FRAC; // r^2, Q30
        let yr2 = (t * r2) >> RSQRT_FRAC; // y * r^2, Q30
        r = (r * ((3 << RSQRT_FRAC) - yr2)) >> (RSQRT_FRAC + 1);
    }
    r
}

/// `T` (clamped below at 1) as `t * 4^k` with `t` in `[2^28, 2^30)`
/// (shifting right drops low bits: `t = floor(T / 4^k)`).
pub fn normalise(big_t: i64) -> (i64, i32) {
    let mut t = big_t.max(1);
    let mut k = 0i32;
    while t >= 1 << (T_MIN_BITS + 2) {
        t >>= 2;
        k += 1;
    }
    while t < 1 << T_MIN_BITS {
        t <<= 2;
        k -= 1;
    }
    (t, k)
}

/// What `T` is built from, before `eps`: every mode divides by `sqrt(T)`.
/// `c` are the centred values (`n * (x - zp)` when uncentred).
///
/// - `SumSquares`: `T = sum c^2` (LayerNormalization, the L2 Normalizer);
/// - `AbsSum`: `T = (sum |c|)^2`, so `1 / sqrt(T) = 1 / sum |c|` (the L1
///   Normalizer, `y = x / sum |x|`, a zero row gives zeros, as
///   onnxruntime);
/// - `MaxAbs`: `T = (max |c|)^2`, `1 / sqrt(T) = 1 / max |c|` (the MAX
///   Normalizer on a row proven non-negative, where onnxruntime's signed
///   maximum is the largest `|x|`; a zero row gives zeros, as onnxruntime).
///
/// In every mode `|c_i| <= sqrt(T)`, so the uncentred `|z_i| <= 2^30`.
/// The reciprocal is the same normalise-by-shift, seed and Newton steps
/// ([`rsqrt_q30`], relative error below 2^-26 over its whole input range).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Denom {
    #[default]
    SumSquares,
    AbsSum,
    MaxAbs,
}

impl Denom {
    /// `T - eps` of a group's centred values (exact; the validator proves
    /// it below 2^62).
    pub fn t(self, c: &[i64]) -> i64 {
        match self {
            Denom::SumSquares => c.iter().map(|&v| v * v).sum(),
            Denom::AbsSum => {
                let s: i64 = c.iter().map(|v| v.abs()).sum();
                s * s
            }
            Denom::MaxAbs => {
                let m = c.iter().map(|v| v.abs()).max().unwrap_or(0);
                m * m
            }
        }
    }

    /// The real-valued "variance" `T / n^3` of a group's centred reals
    /// `d` (so `1 / sqrt(var) / sqrt(n)` is the divisor's reciprocal).
    pub fn var(self, d: &[f64]) -> f64 {
        let n = d.len() as f64;
        match self {
            Denom::SumSquares => d.iter().map(|v| v * v).sum::<f64>() / n,
            Denom::AbsSum => d.iter().map(|v| v.abs()).sum::<f64>().powi(2) / n,
            Denom::MaxAbs => d.iter().map(|v| v.abs()).fold(0.0, f64::max).powi(2) / n,
        }
    }

    /// `max(T - eps) / (n^2 a^2)` for `|c| <= n a`: how many times the
    /// largest squared `|c|` the sum can be (`n`, `n^2`, 1).
    fn t_factor(self, n: i128) -> i128 {
        match self {
            Denom::SumSquares => n,
            Denom::AbsSum => n * n,
            Denom::MaxAbs => 1,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Denom::SumSquares => "sum of squares",
            Denom::AbsSum => "squared sum of |c|",
            Denom::MaxAbs => "squared max |c|",
        }
    }
}

/// What the instruction writes: the scaled normalised values (`Y`), or one
/// `1 / sqrt(var + eps)` per group (`InvStdDev`).
#[derive(Clone, Debug, PartialEq)]
pub enum NormOut {
    /// `dst[i] = ((z_i * mul[j] + add[j] + 2^(shift-1)) >> shift) + zp`,
    /// `j = i mod n`: `mul[j] = round(sqrt(n) * scale[j] / s_y * 2^(shift - 30))`,
    /// `add[j] = round(bias[j] / s_y * 2^shift)`.
    Scaled {
        mul: Vec<i64>,
        add: Vec<i64>,
        shift: u32,
    },
    /// `dst[g] = ((R * mul + 2^(sh-1)) >> sh) + zp` with `sh = shift + k`
    /// (0 when `sh > 62`): `mul = round(n^1.5 / (s_x * s_y) * 2^(shift - 45))`.
    InvStd { mul: i64, shift: u32 },
}

/// `round(v / 2^sh)`, half up, for `sh` in `1..=62`.
fn round_shift(v: i64, sh: u32) -> i64 {
    (v + (1i64 << (sh - 1))) >> sh
}

/// One group of the instruction, exactly as every back end computes it:
/// `x` the group's quantized values, `eps` the integer `E`.
/// `centre`: `None` subtracts the mean (`sum = sum x`), `Some(zp)` the
/// source zero point (`sum = n * zp`: the L2 normalisation).
pub fn group(
    x: &[i64],
    eps: i64,
    centre: Option<i64>,
    denom: Denom,
    out: &NormOut,
    zp: i64,
    clamp: Option<(i64, i64)>,
) -> Vec<i64> {
    let n = x.len() as i64;
    let sum: i64 = match centre {
        None => x.iter().sum(),
        Some(z) => n * z,
    };
    let c: Vec<i64> = x.iter().map(|&v| n * v - sum).collect();
    let (t, k) = normalise(denom.t(&c) + eps);
    let r = rsqrt_q30(t);
    let fin = |v: i64| match clamp {
        Some((lo, hi)) => v.clamp(lo, hi),
        None => v,
    };
    match out {
        NormOut::Scaled { mul, add, shift } => c
            .iter()
            .enumerate()
            .map(|(j, &ci)| {
                let z = round_shift(ci * r, (15 + k) as u32);
                fin(round_shift(z * mul[j] + add[j], *shift) + zp)
            })
            .collect(),
        NormOut::InvStd { mul, shift } => {
            let sh = *shift as i64 + k as i64;
            let v = if sh > 62 {
                0
            } else {
                round_shift(r * mul, sh as u32)
            };
            vec![fin(v + zp)]
        }
    }
}

/// The normalisation range of `T` for groups whose values lie within `d`
/// of each other: `[max(E, 1), n^3 * d^2 / 4 + E]`, checked below 2^62
/// (so `k <= 16`).
///
/// Not centred on the mean (`centre = Some(zp)`): `|c| <= n * a` with
/// `a` the largest `|x - zp|` (pass `d = a` and `centred = false`), so
/// `T - eps <= n^2 a^2` times [`Denom::t_factor`] (`n^3 a^2` for squares).
pub fn t_range(
    n: usize,
    d: i64,
    eps: i64,
    centred: bool,
    denom: Denom,
) -> Result<(i128, i128), String> {
    let n = n as i128;
    let d2 = (d as i128) * (d as i128);
    let ss_max = if centred {
        n * n * n * d2 / 4
    } else {
        n * n * d2 * denom.t_factor(n)
    };
    let hi = ss_max + eps as i128;
    if hi >= 1i128 << 62 || eps < 0 {
        return Err(format!(
            "the sum of squares plus epsilon can reach {hi}, not below 2^62 (groups of {n} values, spread {d}, epsilon {eps})"
        ));
    }
    Ok(((eps as i128).max(1), hi))
}

/// The `k` of [`normalise`] over a range of `T`.
pub fn k_range(t_lo: i128, t_hi: i128) -> (i32, i32) {
    (normalise(t_lo as i64).1, normalise(t_hi as i64).1)
}

/// Per-element bounds of the destination (before any clamp) and the bits
/// of the widest intermediate, from the source bounds `s` (groups of
/// `axis_len`). Checks every product against 64 bits.
#[allow(clippy::too_many_arguments)]
pub fn bounds(
    s: &[(i64, i64)],
    axis_len: usize,
    eps: i64,
    centre: Option<i64>,
    denom: Denom,
    out: &NormOut,
    zp: i64,
    what: &str,
) -> Result<(Vec<(i64, i64)>, u32), String> {
    use crate::ir::bounds::signed_bits;
    let n = axis_len;
    if n == 0 || s.len() % n != 0 {
        return Err(format!("{what}: {} elements in groups of {n}", s.len()));
    }
    let lim = i64::MAX as i128;
    let mut res = Vec::new();
    let mut bits = 1;
    for g in s.chunks(n) {
        let lo = g.iter().map(|b| b.0).min().unwrap();
        let hi = g.iter().map(|b| b.1).max().unwrap();
        let ax = (lo as i128).abs().max((hi as i128).abs());
        // The spread: the range (mean-centred) or the largest |x - zp|.
        let d = match centre {
            None => hi as i128 - lo as i128,
            Some(z) => (lo as i128 - z as i128)
                .abs()
                .max((hi as i128 - z as i128).abs()),
        };
        if centre.is_none() && denom != Denom::SumSquares {
            return Err(format!(
                "{what}: only a sum of squares is centred on the mean"
            ));
        }
        if d > i64::MAX as i128 / 4 {
            return Err(format!("{what}: source range too wide"));
        }
        let (t_lo, t_hi) = t_range(n, d as i64, eps, centre.is_none(), denom)
            .map_err(|e| format!("{what}: {e}"))?;
        let (k_lo, k_hi) = k_range(t_lo, t_hi);
        // n * x and sum(x), c = n * x - sum, c * c summed (<= T), c * R.
        let c_max = match centre {
            None => (n as i128 - 1) * d,
            Some(_) => n as i128 * d,
        };
        let cr = c_max.min(1i128 << (15 + k_hi)) * R_MAX as i128 + (1i128 << (14 + k_hi));
        if cr > lim {
            return Err(format!("{what}: c * R can reach {cr}, beyond 64 bits"));
        }
        bits = bits
            .max(signed_bits(n as i128 * ax))
            .max(signed_bits(c_max))
            .max(signed_bits(t_hi))
            .max(signed_bits(cr));
        match out {
            NormOut::Scaled { mul, add, shift } => {
                if mul.len() != n || add.len() != n || *shift == 0 || *shift > 62 {
                    return Err(format!(
                        "{what}: {} multipliers, {} offsets and shift {shift} for groups of {n}",
                        mul.len(),
                        add.len()
                    ));
                }
                // Uncentred: |c| <= sqrt(T) itself (no sum c = 0).
                let z = match centre {
                    None => z_max(n) as i128,
                    Some(_) => (1i128 << Z_FRAC) + Z_SLACK as i128,
                };
                for (&m, &a) in mul.iter().zip(add) {
                    let half = 1i128 << (shift - 1);
                    let p = z * (m as i128).abs();
                    let (plo, phi) = (a as i128 - p + half, a as i128 + p + half);
                    if plo < -lim || phi > lim {
                        return Err(format!(
                            "{what}: z * mul + add can reach {phi}, beyond 64 bits"
                        ));
                    }
                    bits = bits.max(signed_bits(plo)).max(signed_bits(phi));
                    res.push((((plo >> shift) as i64) + zp, ((phi >> shift) as i64) + zp));
                }
            }
            NormOut::InvStd { mul, shift } => {
                let (sh_lo, sh_hi) = (*shift as i64 + k_lo as i64, *shift as i64 + k_hi as i64);
                let p = R_MAX as i128 * *mul as i128;
                if *mul < 0 || sh_lo < 1 || p + (1i128 << 61) > lim {
                    return Err(format!(
                        "{what}: inverse deviation multiplier {mul}, shifts {sh_lo}..={sh_hi}"
                    ));
                }
                bits = bits.max(signed_bits(p + (1i128 << (sh_lo.min(62) - 1))));
                // R * 2^-k <= (1 + 2^-25) * 2^45 / sqrt(T) for every T (the
                // rsqrt's error and the bits normalise drops), and 1 / sqrt(T)
                // falls with T: the ends are at T_lo and T_hi.
                let at = |t: i128, f: f64| {
                    (2f64.powi(45) / (t as f64).sqrt()) * f * *mul as f64 / 2f64.powi(*shift as i32)
                };
                let top = (at(t_lo, 1.0 + 2f64.powi(-24)).ceil() as i64 + 1)
                    .min(round_shift(p as i64, sh_lo.min(62) as u32));
                let bottom = if sh_hi > 62 {
                    0
                } else {
                    ((at(t_hi, 1.0 - 2f64.powi(-24)).floor() as i64) - 1).max(0)
                };
                res.push((bottom + zp, top + zp));
            }
        }
    }
    Ok((res, bits))
}

/// `|z|` bound for groups of `n`: `sqrt((n - 1) / n) * 2^30 + Z_SLACK`.
pub fn z_max(n: usize) -> i64 {
    let f = ((n as f64 - 1.0) / n as f64).sqrt();
    (f * (1u64 << Z_FRAC) as f64).ceil() as i64 + Z_SLACK
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(t: i64) -> f64 {
        (1u64 << 45) as f64 / (t as f64).sqrt()
    }

    /// Relative error of the integer rsqrt against f64 on a dense sample
    /// (every 997th t, and both ends of the range).
    #[test]
    fn rsqrt_error_is_below_2_to_minus_26() {
        let (lo, hi) = (1i64 << 28, (1i64 << 30) - 1);
        let mut worst = 0f64;
        let mut t = lo;
        while t <= hi {
            for v in [t, hi] {
                let r = rsqrt_q30(v);
                assert!(((1 << 30) - 128..=R_MAX).contains(&r), "t {v}: R {r}");
                worst = worst.max(((r as f64 - exact(v)) / exact(v)).abs());
            }
            t += 997;
        }
        assert!(worst < (-26f64).exp2(), "worst relative error {worst:e}");
    }

    #[test]
    fn normalise_covers_one_to_2_to_62() {
        assert_eq!(normalise(0), (1 << 28, -14));
        assert_eq!(normalise(1), (1 << 28, -14));
        assert_eq!(normalise(1 << 62), (1 << 28, 17));
        let (t, k) = normalise(123_456_789_012);
        assert!((1 << 28..1 << 30).contains(&t));
        assert_eq!(t << (2 * k), 123_456_789_012 & !((1 << (2 * k)) - 1));
    }

    /// Against the real formula on random groups; |z| within its bound.
    #[test]
    fn group_matches_the_real_layer_norm() {
        let mut seed = 12345u64;
        let mut rnd = |m: i64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as i64 % (2 * m + 1)) - m
        };
        for n in [2usize, 3, 5, 16, 120] {
            for _ in 0..50 {
                let x: Vec<i64> = (0..n).map(|_| rnd(32767)).collect();
                let out = NormOut::Scaled {
                    mul: vec![1 << 20; n],
                    add: vec![0; n],
                    shift: 20,
                };
                // mul = 2^20 at shift 20: dst = z (Q30 of c / sqrt(T)).
                let z = group(&x, 0, None, Denom::SumSquares, &out, 0, None);
                let mean = x.iter().sum::<i64>() as f64 / n as f64;
                let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n as f64;
                for (i, &zi) in z.iter().enumerate() {
                    assert!(zi.abs() <= z_max(n), "n {n}: z {zi} > {}", z_max(n));
                    if var > 0.0 {
                        let want = (x[i] as f64 - mean) / var.sqrt() / (n as f64).sqrt();
                        let got = zi as f64 / (1u64 << 30) as f64;
                        assert!((got - want).abs() < 1e-7, "n {n} i {i}: {got} vs {want}");
                    }
                }
            }
        }
    }

    /// L1 and MAX (uncentred, `T = (sum |c|)^2`, `(max |c|)^2`) against
    /// `x / sum |x|` and `x / max |x|` on random groups (negative values,
    /// ties and zero rows included), |z| within 2^30 + Z_SLACK; the
    /// validator's `T` bound holds at the extreme group.
    #[test]
    fn l1_and_max_groups_match_the_real_divisions() {
        let mut seed = 777u64;
        let mut rnd = |m: i64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as i64 % (2 * m + 1)) - m
        };
        let out = |n| NormOut::Scaled {
            mul: vec![1 << 20; n],
            add: vec![0; n],
            shift: 20,
        };
        for denom in [Denom::AbsSum, Denom::MaxAbs] {
            for n in [1usize, 2, 4, 16, 100] {
                for trial in 0..60 {
                    let zp = rnd(100);
                    let m = [0, 1, 3, 32767][trial % 4];
                    let x: Vec<i64> = (0..n).map(|_| zp + rnd(m)).collect();
                    let z = group(&x, 0, Some(zp), denom, &out(n), 0, None);
                    // dst = z * 2^20 / 2^20 (Q30); the real factor
                    // sqrt(n) * (1 / sqrt(n)) is folded into mul by quant.
                    let d: Vec<f64> = x.iter().map(|&v| (v - zp) as f64).collect();
                    let div = match denom {
                        Denom::AbsSum => d.iter().map(|v| v.abs()).sum::<f64>(),
                        _ => d.iter().map(|v| v.abs()).fold(0.0, f64::max),
                    };
                    for (i, &zi) in z.iter().enumerate() {
                        assert!(
                            zi.abs() <= (1 << Z_FRAC) + Z_SLACK,
                            "{denom:?} n {n}: z {zi}"
                        );
                        let want = if div > 0.0 { d[i] / div } else { 0.0 };
                        let got = zi as f64 / (1u64 << 30) as f64;
                        assert!(
                            (got - want).abs() < 1e-7,
                            "{denom:?} n {n} i {i}: {got} vs {want}"
                        );
                    }
                }
            }
            // the validator's bound: |c| <= n * a, T - eps <= n^2 a^2 * factor
            let (n, a) = (100usize, 65535i64);
            let x = vec![a; n];
            let c: Vec<i64> = x.iter().map(|&v| n as i64 * v).collect();
            let (_, hi) = t_range(n, a, 0, false, denom).unwrap();
            assert_eq!(denom.t(&c) as i128, hi, "{denom:?}");
        }
    }

    /// The extreme group (one value at each end): |normalised| reaches
    /// sqrt(n - 1) and z stays inside z_max.
    #[test]
    fn extreme_groups_reach_sqrt_n_minus_1() {
        for n in [2usize, 7, 1024] {
            let mut x = vec![-32767i64; n];
            x[0] = 32767;
            let (_, hi) = t_range(n, 65534, 0, true, Denom::SumSquares).unwrap();
            assert!(hi <= 1 << 62);
            let out = NormOut::Scaled {
                mul: vec![1 << 20; n],
                add: vec![0; n],
                shift: 20,
            };
            let z = group(&x, 0, None, Denom::SumSquares, &out, 0, None);
            let want = ((n as f64 - 1.0) / n as f64).sqrt() * (1u64 << 30) as f64;
            assert!(
                (z[0] as f64 - want).abs() < 64.0,
                "n {n}: {} vs {want}",
                z[0]
            );
            assert!(z[0] <= z_max(n));
        }
    }
}
