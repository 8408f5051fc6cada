//! Exact integer bounds, instruction by instruction.
//!
//! Given `[min, max]` of every element of an instruction's sources, these
//! functions return the bounds of its destination and the widest
//! intermediate it computes, with every product and sum checked in `i128`
//! against the `i64` (or `i32` accumulator) it is computed in. Every formula
//! here is monotone in each input on the pieces it is split into, so
//! evaluating the ends of each piece gives exact bounds.
//!
//! The quantizer uses the same functions to choose scales, and the
//! validator re-runs them over the finished program: one definition of what
//! is safe.

use crate::ir::program::softmax_consts::{EXP_FRAC, NORM_BITS};
use crate::ir::{AccWidth, BinaryOp, InstrKind, Lut, QParams, Rescale, Tensor};

/// Per-element `[min, max]`.
pub type Bounds = Vec<(i64, i64)>;

/// The result of propagating one instruction.
#[derive(Clone, Debug)]
pub struct Facts {
    pub out: Bounds,
    /// Bits (sign included) of the widest intermediate.
    pub widest_bits: u32,
}

const I64_LIMIT: i128 = i64::MAX as i128;

/// Bits needed to hold `v` as a signed value.
pub fn signed_bits(v: i128) -> u32 {
    let m = if v < 0 { -(v + 1) } else { v };
    128 - (m.leading_zeros()) + 1
}

fn check64(what: &str, v: i128) -> Result<(), String> {
    if !(-I64_LIMIT..=I64_LIMIT).contains(&v) {
        return Err(format!("{what} can reach {v}, beyond 64 bits"));
    }
    Ok(())
}

/// Bounds of `rescale.apply(x)` for `x` in `[lo, hi]`; checks `x * mul + half`.
pub fn rescale_bounds(r: Rescale, lo: i64, hi: i64, what: &str) -> Result<(i64, i64), String> {
    if r.shift == 0 || r.shift > 62 {
        return Err(format!("{what}: shift {} outside 1..=62", r.shift));
    }
    let half = 1i128 << (r.shift - 1);
    for x in [lo, hi] {
        check64(what, x as i128 * r.mul as i128 + half)?;
    }
    let (a, b) = (r.apply(lo), r.apply(hi));
    Ok((a.min(b), a.max(b)))
}

/// Widest |x * mul + half| for `x` in `[lo, hi]`, as bits.
fn rescale_bits(r: Rescale, lo: i64, hi: i64) -> u32 {
    let half = 1i128 << (r.shift - 1);
    [lo, hi]
        .iter()
        .map(|&x| signed_bits(x as i128 * r.mul as i128 + half))
        .max()
        .unwrap_or(1)
}

/// Exact accumulator bounds of each Dense output (bias included), and the
/// bound on |any partial sum| (sum of |terms| + |bias|), in i128.
pub fn dense_acc_bounds(weight: &[i64], bias: &[i64], src: &Bounds) -> Vec<(i128, i128, i128)> {
    let n = src.len();
    bias.iter()
        .enumerate()
        .map(|(j, &b)| {
            let row = &weight[j * n..(j + 1) * n];
            let (mut lo, mut hi, mut abs) = (b as i128, b as i128, (b as i128).abs());
            for (&w, &(l, h)) in row.iter().zip(src) {
                let (p, q) = (w as i128 * l as i128, w as i128 * h as i128);
                lo += p.min(q);
                hi += p.max(q);
                abs += p.abs().max(q.abs());
            }
            (lo, hi, abs)
        })
        .collect()
}

fn check_range(
    what: &str,
    q: &QParams,
    b: &Bounds,
    clamp: Option<(i64, i64)>,
) -> Result<(), String> {
    if let Some((lo, hi)) = clamp {
        if lo > hi || lo < q.qmin || hi > q.qmax {
            return Err(format!(
                "{what}: clamp [{lo}, {hi}] outside [{}, {}]",
                q.qmin, q.qmax
            ));
        }
        return Ok(());
    }
    for (i, &(lo, hi)) in b.iter().enumerate() {
        if lo < q.qmin || hi > q.qmax {
            return Err(format!(
                "{what}: element {i} can reach [{lo}, {hi}], outside its {}-bit range [{}, {}] and no clamp is emitted",
                q.bits, q.qmin, q.qmax
            ));
        }
    }
    Ok(())
}

fn apply_clamp(b: Bounds, clamp: Option<(i64, i64)>) -> Bounds {
    match clamp {
        None => b,
        Some((lo, hi)) => b
            .into_iter()
            .map(|(l, h)| (l.clamp(lo, hi), h.clamp(lo, hi)))
            .collect(),
    }
}

/// Bounds of a table lookup over sources in `[lo, hi]`.
pub fn lut_bounds(lut: &Lut, lo: i64, hi: i64, what: &str) -> Result<(i64, i64), String> {
    if lut.lo > lut.hi {
        return Err(format!("{what}: empty table domain"));
    }
    let need = (((lut.hi - lut.lo) >> lut.step_shift) + 2) as usize;
    if lut.table.len() < need {
        return Err(format!(
            "{what}: table has {} entries, needs {need}",
            lut.table.len()
        ));
    }
    let (c0, c1) = (lo.clamp(lut.lo, lut.hi), hi.clamp(lut.lo, lut.hi));
    let (i0, i1) = (
        ((c0 - lut.lo) >> lut.step_shift) as usize,
        ((c1 - lut.lo) >> lut.step_shift) as usize,
    );
    let last = if lut.step_shift == 0 { i1 } else { i1 + 1 };
    let seg = &lut.table[i0..=last];
    // Linear interpolation stays between the two entries it joins.
    let (mn, mx) = (*seg.iter().min().unwrap(), *seg.iter().max().unwrap());
    for w in lut.table.windows(2) {
        check64(what, (w[1] as i128 - w[0] as i128) << lut.step_shift)?;
    }
    Ok((mn, mx))
}

/// Propagates one instruction. `env[t]` holds the bounds of tensor `t`
/// once written; `input_len` is the model input length.
pub fn propagate(
    tensors: &[Tensor],
    kind: &InstrKind,
    env: &[Option<Bounds>],
    what: &str,
) -> Result<Facts, String> {
    let get = |id: crate::ir::TensorId| -> Result<&Bounds, String> {
        env[id.index()]
            .as_ref()
            .ok_or_else(|| format!("{what}: reads tensor {id} before it is written"))
    };
    let tq = |id: crate::ir::TensorId| &tensors[id.index()].q;
    match kind {
        InstrKind::Quantize {
            dst,
            in_lo,
            in_hi,
            rescale,
        } => {
            let q = tq(*dst);
            let mut out = Vec::new();
            let mut bits = 1;
            for (&l, &h) in in_lo.iter().zip(in_hi) {
                if l > h {
                    return Err(format!("{what}: empty input clamp [{l}, {h}]"));
                }
                let (a, b) = rescale_bounds(*rescale, l, h, what)?;
                bits = bits.max(rescale_bits(*rescale, l, h));
                out.push((a + q.zero_point, b + q.zero_point));
            }
            check_range(what, q, &out, None)?;
            Ok(Facts {
                out,
                widest_bits: bits,
            })
        }
        InstrKind::Dense {
            src,
            dst,
            weight,
            bias,
            acc,
            rescale,
            clamp,
            ..
        } => {
            let s = get(*src)?;
            if weight.len() != bias.len() * s.len() || rescale.len() != bias.len() {
                return Err(format!("{what}: weight/bias/rescale sizes disagree"));
            }
            let q = tq(*dst);
            let limit: i128 = match acc {
                AccWidth::I32 => i32::MAX as i128,
                AccWidth::I64 => I64_LIMIT,
            };
            let mut out = Vec::new();
            let mut bits = 1;
            for (j, (lo, hi, abs)) in dense_acc_bounds(weight, bias, s).into_iter().enumerate() {
                if abs > limit {
                    return Err(format!(
                        "{what}: accumulator of output {j} can reach {abs} in magnitude, beyond its {}-bit type",
                        acc.bits()
                    ));
                }
                bits = bits.max(signed_bits(abs));
                let (a, b) = rescale_bounds(rescale[j], lo as i64, hi as i64, what)?;
                bits = bits.max(rescale_bits(rescale[j], lo as i64, hi as i64));
                out.push((a + q.zero_point, b + q.zero_point));
            }
            check_range(what, q, &out, *clamp)?;
            Ok(Facts {
                out: apply_clamp(out, *clamp),
                widest_bits: bits,
            })
        }
        InstrKind::Scale {
            src,
            dst,
            pos,
            neg,
            offset,
            clamp,
        } => {
            let s = get(*src)?;
            let zs = tq(*src).zero_point;
            let q = tq(*dst);
            let mut out = Vec::new();
            let mut bits = 1;
            for (i, &(l, h)) in s.iter().enumerate() {
                let (dl, dh) = (l - zs, h - zs);
                let mut lo = i64::MAX;
                let mut hi = i64::MIN;
                if dh >= 0 {
                    let (a, b) = rescale_bounds(pos[i], dl.max(0), dh, what)?;
                    bits = bits.max(rescale_bits(pos[i], dl.max(0), dh));
                    lo = lo.min(a);
                    hi = hi.max(b);
                }
                if dl < 0 {
                    let (a, b) = rescale_bounds(neg[i], dl, dh.min(-1), what)?;
                    bits = bits.max(rescale_bits(neg[i], dl, dh.min(-1)));
                    lo = lo.min(a);
                    hi = hi.max(b);
                }
                let add = offset[i] as i128 + q.zero_point as i128;
                check64(what, lo as i128 + add)?;
                check64(what, hi as i128 + add)?;
                out.push((lo + offset[i] + q.zero_point, hi + offset[i] + q.zero_point));
            }
            check_range(what, q, &out, *clamp)?;
            Ok(Facts {
                out: apply_clamp(out, *clamp),
                widest_bits: bits,
            })
        }
        InstrKind::Binary {
            op,
            a,
            b,
            dst,
            rescale_a,
            mul_b,
            clamp,
        } => {
            let (ba, bb) = (get(*a)?, get(*b)?);
            let (za, zb) = (tq(*a).zero_point, tq(*b).zero_point);
            let q = tq(*dst);
            if rescale_a.shift == 0 || rescale_a.shift > 62 {
                return Err(format!("{what}: shift {} outside 1..=62", rescale_a.shift));
            }
            let half = 1i128 << (rescale_a.shift - 1);
            let mut out = Vec::new();
            let mut bits = 1;
            for (&(al, ah), &(bl, bh)) in ba.iter().zip(bb) {
                let mut vals = Vec::with_capacity(4);
                for da in [al - za, ah - za] {
                    for db in [bl - zb, bh - zb] {
                        let pre: i128 = match op {
                            BinaryOp::Add => {
                                da as i128 * rescale_a.mul as i128
                                    + db as i128 * *mul_b as i128
                                    + half
                            }
                            BinaryOp::Sub => {
                                da as i128 * rescale_a.mul as i128 - db as i128 * *mul_b as i128
                                    + half
                            }
                            BinaryOp::Mul => {
                                let p = da as i128 * db as i128;
                                check64(what, p)?;
                                p * rescale_a.mul as i128 + half
                            }
                        };
                        // Partial terms must fit too.
                        check64(what, da as i128 * rescale_a.mul as i128)?;
                        check64(what, db as i128 * *mul_b as i128)?;
                        check64(what, pre)?;
                        bits = bits.max(signed_bits(pre));
                        vals.push(((pre >> rescale_a.shift) as i64) + q.zero_point);
                    }
                }
                out.push((*vals.iter().min().unwrap(), *vals.iter().max().unwrap()));
            }
            check_range(what, q, &out, *clamp)?;
            Ok(Facts {
                out: apply_clamp(out, *clamp),
                widest_bits: bits,
            })
        }
        InstrKind::Lut { src, dst, lut } => {
            let s = get(*src)?;
            let q = tq(*dst);
            let mut out = Vec::new();
            for &(l, h) in s {
                out.push(lut_bounds(lut, l, h, what)?);
            }
            check_range(what, q, &out, None)?;
            Ok(Facts {
                out,
                widest_bits: 32,
            })
        }
        InstrKind::Softmax {
            src,
            dst,
            axis_len,
            exp_lut,
            out_frac,
        } => {
            let s = get(*src)?;
            let q = tq(*dst);
            if *axis_len == 0 || s.len() % axis_len != 0 {
                return Err(format!(
                    "{what}: axis length {axis_len} does not divide {}",
                    s.len()
                ));
            }
            // The normalised sum needs len * 2^EXP_FRAC < 2^(NORM_BITS + 1).
            if (*axis_len as i128) << EXP_FRAC >= 1i128 << (NORM_BITS + 1) {
                return Err(format!(
                    "{what}: softmax axis of {axis_len} is too long (max 65535)"
                ));
            }
            if *out_frac > 15 {
                return Err(format!("{what}: output fraction {out_frac} > 15"));
            }
            let (lo, hi) = (
                s.iter().map(|b| b.0).min().unwrap_or(0),
                s.iter().map(|b| b.1).max().unwrap_or(0),
            );
            let (emin, emax) = lut_bounds(exp_lut, lo - hi, 0, what)?;
            if emin < 0 || emax > 1 << EXP_FRAC || exp_lut.apply(0) != 1 << EXP_FRAC {
                return Err(format!(
                    "{what}: exp table outside [0, 2^{EXP_FRAC}] or exp(0) != 2^{EXP_FRAC}"
                ));
            }
            let out = vec![(q.zero_point, q.qmax); s.len()];
            check_range(what, q, &out, None)?;
            Ok(Facts {
                out,
                widest_bits: 63,
            })
        }
        InstrKind::Dequantize { src, rescale } => {
            let s = get(*src)?;
            let z = tq(*src).zero_point;
            let mut out = Vec::new();
            let mut bits = 1;
            for &(l, h) in s {
                out.push(rescale_bounds(*rescale, l - z, h - z, what)?);
                bits = bits.max(rescale_bits(*rescale, l - z, h - z));
            }
            Ok(Facts {
                out,
                widest_bits: bits,
            })
        }
    }
}
