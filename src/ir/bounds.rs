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
//! is safe. They live with the IR (not in `quant/` or `valid/`) because both
//! stages use them and neither may reach into the other.

use crate::ir::program::softmax_consts::{
    EXP_FRAC, NEWTON_STEPS, NORM_BITS, RECIP_FRAC, SEED_C1, SEED_C2,
};
use crate::ir::{AccWidth, BinaryOp, InstrKind, Lut, QParams, Rescale, Round, Tensor};

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

/// Bits (sign included) of the widest intermediate of a table lookup over
/// sources in `[lo, hi]`, exactly as the back ends compute it:
/// `d = x - lut.lo` (before the clamp), and with interpolation
/// `delta[k] * f + 2^(step_shift - 1)` for every step `k` the clamped
/// source can reach and every fraction `0 <= f < 2^step_shift`; the
/// entries and the result are table values. Call after [`lut_bounds`].
pub fn lut_widest_bits(lut: &Lut, lo: i64, hi: i64) -> u32 {
    let mut bits =
        signed_bits(lo as i128 - lut.lo as i128).max(signed_bits(hi as i128 - lut.lo as i128));
    let (c0, c1) = (lo.clamp(lut.lo, lut.hi), hi.clamp(lut.lo, lut.hi));
    let (i0, i1) = (
        ((c0 - lut.lo) >> lut.step_shift) as usize,
        ((c1 - lut.lo) >> lut.step_shift) as usize,
    );
    let last = if lut.step_shift == 0 { i1 } else { i1 + 1 };
    for &v in &lut.table[i0..=last] {
        bits = bits.max(signed_bits(v as i128));
    }
    if lut.step_shift > 0 {
        let fmax = (1i128 << lut.step_shift) - 1;
        let half = 1i128 << (lut.step_shift - 1);
        for w in lut.table[i0..=last].windows(2) {
            let delta = w[1] as i128 - w[0] as i128;
            bits = bits.max(signed_bits(delta * fmax + half));
            bits = bits.max(signed_bits(delta));
        }
    }
    bits
}

/// Bits (sign included) of the widest intermediate of the softmax
/// normalisation ([`crate::ir::program::softmax_group`]): the seed product
/// `SEED_C2 * s`, each Newton step's `s * r` and `r * (2^31 - y * r)`, and
/// the final `e * r + 2^(shift - 1)` with `0 <= e <= 2^EXP_FRAC`, for every
/// normalised sum `s` in `[2^NORM_BITS, 2^(NORM_BITS + 1))`.
///
/// Computed, not assumed: the range of `s` is cut into 2^12 pieces and the
/// reciprocal `r` is carried through the seed and the Newton steps by
/// interval arithmetic on each piece (every operation is monotone in each
/// operand, and `>>` is a floor, so each interval is sound). Also checks that
/// `r` stays positive, which the interval products rely on.
pub fn softmax_widest_bits() -> Result<u32, String> {
    const PIECES: i128 = 1 << 12;
    let (s_min, s_end) = (1i128 << NORM_BITS, 1i128 << (NORM_BITS + 1));
    let width = (s_end - s_min) / PIECES;
    let norm_shift = NORM_BITS + 1;
    let two = 2i128 << RECIP_FRAC;
    let mut bits = 1;
    let mut widest = |v: i128| bits = bits.max(signed_bits(v));
    for piece in 0..PIECES {
        let (s0, s1) = (s_min + piece * width, s_min + (piece + 1) * width - 1);
        widest(SEED_C2 as i128 * s1);
        let mut r = (
            SEED_C1 as i128 - ((SEED_C2 as i128 * s1) >> norm_shift),
            SEED_C1 as i128 - ((SEED_C2 as i128 * s0) >> norm_shift),
        );
        for _ in 0..NEWTON_STEPS {
            if r.0 <= 0 {
                return Err(format!(
                    "softmax reciprocal can reach {} (not positive)",
                    r.0
                ));
            }
            widest(s1 * r.1);
            let yr = ((s0 * r.0) >> norm_shift, (s1 * r.1) >> norm_shift);
            let t = (two - yr.1, two - yr.0);
            let p = [r.0 * t.0, r.0 * t.1, r.1 * t.0, r.1 * t.1];
            p.iter().for_each(|&v| widest(v));
            let (lo, hi) = (*p.iter().min().unwrap(), *p.iter().max().unwrap());
            r = (lo >> RECIP_FRAC, hi >> RECIP_FRAC);
        }
        if r.0 <= 0 {
            return Err(format!(
                "softmax reciprocal can reach {} (not positive)",
                r.0
            ));
        }
        // e * r + half, half < 2^62 (the final shift is at most 61).
        widest(((1i128 << EXP_FRAC) * r.1) + (1i128 << 60));
    }
    Ok(bits)
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
            pick,
        } => {
            let q = tq(*dst);
            if pick.as_ref().is_some_and(|m| m.len() != in_lo.len()) {
                return Err(format!(
                    "{what}: the input map and the clamp differ in length"
                ));
            }
            if rescale.len() != 1 && rescale.len() != in_lo.len() {
                return Err(format!(
                    "{what}: {} rescales for {} inputs",
                    rescale.len(),
                    in_lo.len()
                ));
            }
            let mut out = Vec::new();
            let mut bits = 1;
            for (i, (&l, &h)) in in_lo.iter().zip(in_hi).enumerate() {
                if l > h {
                    return Err(format!("{what}: empty input clamp [{l}, {h}]"));
                }
                let rescale = &crate::ir::program::quantize_rescale(rescale, i);
                let (a, b) = rescale_bounds(*rescale, l, h, what)?;
                // An identity rescale is not computed (the back ends leave it out).
                bits = bits.max(if rescale.is_identity() {
                    signed_bits(l as i128).max(signed_bits(h as i128))
                } else {
                    rescale_bits(*rescale, l, h)
                });
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
            if pos.len() != s.len() || neg.len() != s.len() || offset.len() != s.len() {
                return Err(format!(
                    "{what}: pos/neg/offset sizes disagree with the source"
                ));
            }
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
            if *op != BinaryOp::Mul && rescale_a.round != Round::HalfUp {
                return Err(format!(
                    "{what}: Add/Sub round half up only (one shared rounding of the sum)"
                ));
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
                        let v = match op {
                            // pre fits s64, so the product does.
                            BinaryOp::Mul => rescale_a.apply(da * db),
                            _ => (pre >> rescale_a.shift) as i64,
                        };
                        vals.push(v + q.zero_point);
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
            let mut bits = 1;
            for &(l, h) in s {
                out.push(lut_bounds(lut, l, h, what)?);
                bits = bits.max(lut_widest_bits(lut, l, h));
            }
            check_range(what, q, &out, None)?;
            Ok(Facts {
                out,
                widest_bits: bits,
            })
        }
        InstrKind::Trees {
            src,
            dst,
            table,
            rescale,
        } => {
            let s = get(*src)?;
            let q = tq(*dst);
            let (out, bits) = trees_bounds(table, *rescale, q.zero_point, s.len(), what)?;
            check_range(what, q, &out, None)?;
            Ok(Facts {
                out,
                widest_bits: bits,
            })
        }
        InstrKind::ArgMax { src, dst, axis_len } => {
            let s = get(*src)?;
            if *axis_len == 0 || s.len() % axis_len != 0 {
                return Err(format!(
                    "{what}: {} elements in groups of {axis_len}",
                    s.len()
                ));
            }
            let out = vec![(0, *axis_len as i64 - 1); s.len() / axis_len];
            check_range(what, tq(*dst), &out, None)?;
            Ok(Facts {
                out,
                widest_bits: 64 - (*axis_len as u64).leading_zeros() + 1,
            })
        }
        InstrKind::GroupMax { src, dst, axis_len } => {
            let s = get(*src)?;
            if *axis_len == 0 || s.len() % axis_len != 0 {
                return Err(format!(
                    "{what}: {} elements in groups of {axis_len}",
                    s.len()
                ));
            }
            if tq(*dst) != tq(*src) {
                return Err(format!(
                    "{what}: a group maximum keeps its source's quantization"
                ));
            }
            let out: Vec<(i64, i64)> = s
                .chunks(*axis_len)
                .map(|g| {
                    let lo = g.iter().map(|b| b.0).max().unwrap();
                    let hi = g.iter().map(|b| b.1).max().unwrap();
                    (lo, hi)
                })
                .collect();
            check_range(what, tq(*dst), &out, None)?;
            Ok(Facts {
                out,
                widest_bits: tq(*src).bits,
            })
        }
        InstrKind::Lookup { src, dst, table } => {
            let s = get(*src)?;
            let mut out = Vec::with_capacity(s.len());
            for &(l, h) in s {
                if l < 0 || h >= table.len() as i64 {
                    return Err(format!(
                        "{what}: index can reach [{l}, {h}], outside the {}-entry table",
                        table.len()
                    ));
                }
                let r = &table[l as usize..=h as usize];
                out.push((*r.iter().min().unwrap(), *r.iter().max().unwrap()));
            }
            check_range(what, tq(*dst), &out, None)?;
            Ok(Facts {
                out,
                widest_bits: 64,
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
            // x - max(x), the exp lookup, the sum, then the normalisation.
            let bits = signed_bits(lo as i128 - hi as i128)
                .max(lut_widest_bits(exp_lut, lo - hi, 0))
                .max(signed_bits((*axis_len as i128) << EXP_FRAC))
                .max(softmax_widest_bits().map_err(|e| format!("{what}: {e}"))?);
            Ok(Facts {
                out,
                widest_bits: bits,
            })
        }
        InstrKind::Concat {
            dst,
            pieces,
            consts,
            clamp,
        } => concat_bounds(tensors, *dst, pieces, consts, *clamp, env, what),
        InstrKind::LayerNorm {
            src,
            dst,
            axis_len,
            eps,
            centre,
            denom,
            out,
            clamp,
        } => {
            let s = get(*src)?;
            let q = tq(*dst);
            let dlen = tensors[dst.index()].len;
            if dlen != b_len(s.len(), *axis_len, out) {
                return Err(format!("{what}: writes {dlen} elements from {}", s.len()));
            }
            let (b, bits) = crate::ir::layer_norm::bounds(
                s,
                *axis_len,
                *eps,
                *centre,
                *denom,
                out,
                q.zero_point,
                what,
            )?;
            check_range(what, q, &b, *clamp)?;
            Ok(Facts {
                out: apply_clamp(b, *clamp),
                widest_bits: bits,
            })
        }
        InstrKind::Dequantize { src, rescale, .. } => {
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

/// The destination length of a layer normalisation of `n` elements.
fn b_len(n: usize, axis_len: usize, out: &crate::ir::layer_norm::NormOut) -> usize {
    match out {
        crate::ir::layer_norm::NormOut::Scaled { .. } => n,
        crate::ir::layer_norm::NormOut::InvStd { .. } => n / axis_len.max(1),
    }
}

/// Bounds of a concatenation: each piece's source bounds, through its
/// rescale unless it is a copy; every destination element written once.
fn concat_bounds(
    tensors: &[Tensor],
    dst: crate::ir::TensorId,
    pieces: &[crate::ir::concat::Piece],
    consts: &[i64],
    clamp: Option<(i64, i64)>,
    env: &[Option<Bounds>],
    what: &str,
) -> Result<Facts, String> {
    use crate::ir::concat::{check_cover, PieceSrc};
    let q = &tensors[dst.index()].q;
    let mut src_len = Vec::with_capacity(pieces.len());
    for p in pieces {
        src_len.push(match p.src {
            PieceSrc::Tensor { id, .. } => env
                .get(id.index())
                .and_then(|b| b.as_ref())
                .ok_or_else(|| format!("{what}: reads tensor {id} before it is written"))?
                .len(),
            PieceSrc::Const => consts.len(),
        });
    }
    check_cover(
        pieces.iter().map(|p| p.block).zip(src_len.iter().copied()),
        tensors[dst.index()].len,
    )
    .map_err(|e| format!("{what}: {e}"))?;
    let mut out = vec![(0i64, 0i64); tensors[dst.index()].len];
    let mut bits = 1;
    for p in pieces {
        let b = p.block;
        let zs = match p.src {
            PieceSrc::Tensor { id, .. } => tensors[id.index()].q.zero_point,
            PieceSrc::Const => q.zero_point,
        };
        let copy = p.is_copy(zs, q.zero_point);
        let mut vals = Vec::with_capacity(b.len);
        for i in 0..b.len {
            vals.push(match p.src {
                PieceSrc::Const => (consts[b.from + i], consts[b.from + i]),
                PieceSrc::Tensor { id, .. } if copy => {
                    env[id.index()].as_ref().unwrap()[b.from + i]
                }
                PieceSrc::Tensor { id, rescale } => {
                    let (l, h) = env[id.index()].as_ref().unwrap()[b.from + i];
                    let (a, c) = rescale_bounds(rescale, l - zs, h - zs, what)?;
                    bits = bits.max(rescale_bits(rescale, l - zs, h - zs));
                    check64(what, a as i128 + q.zero_point as i128)?;
                    check64(what, c as i128 + q.zero_point as i128)?;
                    (a + q.zero_point, c + q.zero_point)
                }
            });
        }
        // Copies and constants are not clamped: they must already fit.
        let clamp = if copy { None } else { clamp };
        check_range(what, q, &vals, clamp)?;
        for (i, v) in apply_clamp(vals, clamp).into_iter().enumerate() {
            bits = bits
                .max(signed_bits(v.0 as i128))
                .max(signed_bits(v.1 as i128));
            out[b.at + i] = v;
        }
    }
    Ok(Facts {
        out,
        widest_bits: bits,
    })
}

/// Bounds of a tree ensemble's outputs: per target, `base` plus the sum
/// over trees of the smallest and largest leaf that tree can reach, then the
/// rescale. Also checks the table's shape: every feature inside the source,
/// every child after its parent (so each walk ends), every leaf in range.
fn trees_bounds(
    t: &crate::ir::tree::TreeTable,
    rescale: Rescale,
    zp: i64,
    src_len: usize,
    what: &str,
) -> Result<(Bounds, u32), String> {
    let nb = t.n_branches();
    let nl = t.n_leaves();
    let nt = t.n_targets;
    if t.threshold.len() != nb || t.yes.len() != nb || t.no.len() != nb || t.base.len() != nt {
        return Err(format!("{what}: inconsistent node table"));
    }
    for b in 0..nb {
        if t.feature[b] as usize >= src_len {
            return Err(format!(
                "{what}: branch {b} tests feature {} of {src_len}",
                t.feature[b]
            ));
        }
        for c in [t.yes[b], t.no[b]] {
            if c as usize <= b || c as usize >= nb + nl {
                return Err(format!(
                    "{what}: branch {b} has child {c} (not after it, or past the table)"
                ));
            }
        }
    }
    // Per tree, the leaves reachable from its root.
    let mut lo: Vec<i128> = t.base.iter().map(|&v| v as i128).collect();
    let mut hi = lo.clone();
    let mut abs: i128 = t.base.iter().map(|&v| (v as i128).abs()).max().unwrap_or(0);
    for &root in &t.roots {
        if root as usize >= nb + nl {
            return Err(format!("{what}: root {root} past the table"));
        }
        let mut stack = vec![root];
        let mut leaves = Vec::new();
        while let Some(n) = stack.pop() {
            if (n as usize) < nb {
                stack.push(t.yes[n as usize]);
                stack.push(t.no[n as usize]);
            } else {
                leaves.push(n as usize - nb);
            }
        }
        for j in 0..nt {
            let vals = leaves.iter().map(|&l| t.leaf_w[l * nt + j] as i128);
            lo[j] += vals.clone().min().unwrap();
            hi[j] += vals.clone().max().unwrap();
            abs += vals.map(|v| v.abs()).max().unwrap();
        }
    }
    check64(what, abs)?;
    let mut out = Vec::with_capacity(nt);
    let mut bits = signed_bits(abs);
    for j in 0..nt {
        let (a, b) = rescale_bounds(rescale, lo[j] as i64, hi[j] as i64, what)?;
        bits = bits.max(rescale_bits(rescale, lo[j] as i64, hi[j] as i64));
        out.push((a + zp, b + zp));
    }
    Ok((out, bits))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::LutFunc;

    fn lut(step_shift: u32) -> Lut {
        let (lo, hi) = (-3000i64, 2000i64);
        let n = (((hi - lo) >> step_shift) + 2) as usize;
        let table = (0..n)
            .map(|k| {
                let x = (lo + ((k as i64) << step_shift)) as f64 / 1000.0;
                (x.tanh() * 32767.0).round() as i64
            })
            .collect();
        Lut {
            func: LutFunc::Tanh,
            lo,
            hi,
            step_shift,
            table,
            max_error: 0.0,
        }
    }

    /// The widest value the lookup really computes for any x in [lo, hi].
    fn measured_bits(l: &Lut, lo: i64, hi: i64) -> u32 {
        let mut bits = 1;
        for x in lo..=hi {
            let d = x - l.lo;
            bits = bits.max(signed_bits(d as i128));
            let c = d.clamp(0, l.hi - l.lo);
            let k = (c >> l.step_shift) as usize;
            bits = bits.max(signed_bits(l.table[k] as i128));
            if l.step_shift > 0 {
                let f = c & ((1 << l.step_shift) - 1);
                let delta = l.table[k + 1] - l.table[k];
                let p = delta as i128 * f as i128 + (1i128 << (l.step_shift - 1));
                bits = bits.max(signed_bits(p));
            }
            bits = bits.max(signed_bits(l.apply(x) as i128));
        }
        bits
    }

    #[test]
    fn lut_widest_bits_bounds_every_lookup_and_depends_on_the_table() {
        for step in [0, 3, 6] {
            let l = lut(step);
            for (lo, hi) in [(-5000, 5000), (-100, 100), (0, 1999)] {
                let proven = lut_widest_bits(&l, lo, hi);
                let seen = measured_bits(&l, lo, hi);
                assert!(
                    proven >= seen,
                    "step {step} [{lo}, {hi}]: {proven} < {seen}"
                );
                // Not a constant: at most one bit above what is computed.
                assert!(
                    proven <= seen + 1,
                    "step {step} [{lo}, {hi}]: {proven} vs {seen}"
                );
            }
        }
    }

    #[test]
    fn softmax_normalisation_fits_63_bits() {
        // The seed product SEED_C2 * s with s < 2^31 is the widest.
        let bits = softmax_widest_bits().unwrap();
        assert_eq!(bits, signed_bits(SEED_C2 as i128 * ((1i128 << 31) - 1)));
        assert!(bits <= 64);
        // Every s the pieces cover: a sample run agrees with the bound.
        for s in [1i64 << 30, (1i64 << 30) + 12345, (1i64 << 31) - 1] {
            let r0 = SEED_C1 - ((SEED_C2 * s) >> 31);
            assert!(signed_bits(SEED_C2 as i128 * s as i128) <= bits);
            assert!(r0 > 0);
        }
    }
}
