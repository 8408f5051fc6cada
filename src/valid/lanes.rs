//! Lane proofs: several sums kept in the fields ("lanes") of one wider
//! register, each exact only while its sums stay within the lane. One
//! vocabulary for both uses: a *lane* is a signed field of `bits` bits, and
//! a sum *fits* it when its proven interval does ([`fits`]).
//!
//! - **Two lanes in one s64** (scalar, every Dense layer whose lanes fit;
//!   [`pick_shift`], [`check`]): channels `2p` and `2p + 1` share one
//!   64-bit accumulator, so one multiply and one add do two multiply-adds.
//! - **Eight s32 lanes of `vpmaddwd`** (`--simd avx2`; [`max_block`]): 16
//!   s16 products per instruction, neighbours summed into s32 lanes that
//!   wrap silently, summed in s32 over a block of chunks before widening.
//!
//! A Dense layer gets one of the two forms, decided in
//! [`crate::back::lower`] (which says which and why).
//!
//! # Two lanes in one s64
//!
//! With `K` the lane shift, the packed weights are
//! `P[p][i] = W[2p][i] + W[2p + 1][i] * 2^K` and the packed bias
//! `B[p] = b[2p] + b[2p + 1] * 2^K`, so that
//!
//! ```text
//! A = B[p] + sum_i x[i] * P[p][i] = acc[2p] + acc[2p + 1] * 2^K
//! ```
//!
//! exactly (in u64, modulo 2^64: partial sums may wrap, the final value
//! does not matter as long as both lanes can be read back). The lanes are
//! read back as `lo = sign_extend_K(A mod 2^K)` and `hi = (A - lo) >> K`
//! (arithmetic), which is exact when `acc[2p]` fits a `K`-bit lane and
//! `acc[2p + 1]` a `(64 - K)`-bit one: [`check`] proves both from the
//! accumulator bounds over the input domain.
//!
//! # Eight s32 lanes (`vpmaddwd`)
//!
//! Lane `l` of chunk `c` (inputs `16c .. 16c + 15`) is
//! `w[16c + 2l] * x[16c + 2l] + w[16c + 2l + 1] * x[16c + 2l + 1]`, which
//! wraps silently when it leaves s32 (`-32768 * -32768` twice does). The
//! SIMD code adds the lanes of `block` consecutive chunks in s32 and then
//! widens them to s64; it is exact only if every partial lane sum of every
//! block, for every row and every input the bounds allow, fits a 32-bit
//! lane. [`max_block`] finds the largest block for which that is proven.

use crate::ir::bounds::{dense_acc_bounds, Bounds};
use crate::ir::Rescale;

/// Whether every value of `[lo, hi]` fits a signed lane of `bits` bits.
pub fn fits(lo: i128, hi: i128, bits: u32) -> bool {
    let lim = 1i128 << (bits - 1);
    lo >= -lim && hi < lim
}

/// Signed bits that hold every value of `[lo, hi]` (the narrowest lane).
pub fn signed_bits(lo: i128, hi: i128) -> u32 {
    (1..=127).find(|&b| fits(lo, hi, b)).unwrap_or(128)
}

// ---- Two lanes in one s64 ----

/// The lane shift for a Dense layer with these per-channel accumulator
/// bounds (`dense_acc_bounds`), if two channels fit one s64: 32 where both
/// lanes fit s32 (read back by a cast), else the bits of the widest low
/// lane. `None` for an odd number of channels.
pub fn pick_shift(accs: &[(i128, i128, i128)]) -> Option<u32> {
    if accs.len() < 2 || accs.len() % 2 != 0 {
        return None;
    }
    let bits = |par: usize| {
        accs.iter()
            .skip(par)
            .step_by(2)
            .map(|&(lo, hi, _)| signed_bits(lo, hi))
            .max()
            .unwrap_or(1)
    };
    let (lo, hi) = (bits(0), bits(1));
    if lo <= 32 && hi <= 32 {
        Some(32)
    } else if lo + hi <= 64 {
        Some(lo)
    } else {
        None
    }
}

/// `W[2p][i] + W[2p + 1][i] * 2^shift` for every pair and input, row by
/// row (pair p, then input i), or why not.
pub fn packed_weights(weight: &[i64], n_in: usize, shift: u32) -> Result<Vec<i64>, String> {
    let mut out = Vec::with_capacity(weight.len() / 2);
    for rows in weight.chunks(2 * n_in.max(1)) {
        let (lo, hi) = rows.split_at(n_in.min(rows.len()));
        if hi.len() != lo.len() {
            return Err("an odd number of channels cannot be packed in pairs".into());
        }
        for (&a, &b) in lo.iter().zip(hi) {
            out.push(pack(a, b, shift).ok_or("a packed weight leaves s64")?);
        }
    }
    Ok(out)
}

/// `lo + hi * 2^shift`, if it is an s64.
pub fn pack(lo: i64, hi: i64, shift: u32) -> Option<i64> {
    let v = lo as i128 + ((hi as i128) << shift);
    i64::try_from(v).ok()
}

/// Proves that channels `2p` and `2p + 1` of this Dense layer can share
/// one accumulator at lane shift `shift` for every input inside `src`
/// (see the module docs).
pub fn check(weight: &[i64], bias: &[i64], src: &Bounds, shift: u32) -> Result<(), String> {
    if !(2..=62).contains(&shift) {
        return Err(format!("lane shift {shift} outside 2..=62"));
    }
    if bias.len() % 2 != 0 || weight.len() != bias.len() * src.len() {
        return Err("an odd number of channels cannot be packed in pairs".into());
    }
    packed_weights(weight, src.len(), shift)?;
    for (j, &(lo, hi, _)) in dense_acc_bounds(weight, bias, src).iter().enumerate() {
        let bits = if j % 2 == 0 { shift } else { 64 - shift };
        if !fits(lo, hi, bits) {
            return Err(format!(
                "channel {j}'s accumulator [{lo}, {hi}] does not fit its {bits}-bit lane"
            ));
        }
    }
    for p in bias.chunks(2) {
        pack(p[0], p[1], shift).ok_or("a packed bias leaves s64")?;
    }
    Ok(())
}

// ---- Eight s32 lanes (vpmaddwd) ----

/// A lane proof: `block` chunks of 16 inputs may be summed in s32 lanes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LaneProof {
    /// Chunks of 16 inputs summed in s32 before widening to s64.
    pub block: usize,
    /// The largest |partial lane sum| the bounds allow at that block.
    pub lane_bound: i64,
    /// When one block holds every chunk: the largest |sum of any subset
    /// of a row's 8 lanes|, if it is in s32 (the lanes of a row may then
    /// be added to each other in s32, `vphaddd`).
    pub row_total: Option<i64>,
}

/// The width of a `vpmaddwd` lane.
const S32_LANE: u32 = 32;

/// Whether `[lo, hi]` fits an s32 lane.
fn fits_s32(lo: i64, hi: i64) -> bool {
    fits(lo as i128, hi as i128, S32_LANE)
}

/// `[min, max]` of `w * x` over `x` in `[lo, hi]`.
fn product(w: i64, lo: i64, hi: i64) -> (i64, i64) {
    let (a, b) = (w * lo, w * hi);
    (a.min(b), a.max(b))
}

/// The largest block (in chunks of 16 inputs: `chunks`, or a power of two
/// below it) for which every partial s32 lane sum of every row of
/// `weight` (`rows` x `n`, row-major) stays in s32, with every input in
/// `[lo, hi]` (both within s16, as every weight). `None` when even one
/// chunk's pair sums may wrap, or an operand does not fit s16.
pub fn max_block(weight: &[i64], n: usize, lo: i64, hi: i64) -> Option<LaneProof> {
    let s16 = i16::MIN as i64..=i16::MAX as i64;
    if n == 0 || weight.len() % n != 0 || !s16.contains(&lo) || !s16.contains(&hi) || lo > hi {
        return None;
    }
    if weight.iter().any(|w| !s16.contains(w)) {
        return None;
    }
    let chunks = n.div_ceil(16);
    // Per row, lane and chunk: [min, max] of the lane's pair sum.
    let pairs: Vec<Vec<(i64, i64)>> = weight
        .chunks(n)
        .flat_map(|row| {
            (0..8).map(move |l| {
                (0..chunks)
                    .map(|c| {
                        [16 * c + 2 * l, 16 * c + 2 * l + 1]
                            .iter()
                            .filter(|&&i| i < n)
                            .map(|&i| product(row[i], lo, hi))
                            .fold((0, 0), |(a, b), (c, d)| (a + c, b + d))
                    })
                    .collect()
            })
        })
        .collect();
    let mut candidates = vec![chunks];
    let mut b = chunks.next_power_of_two() / 2;
    while b >= 1 {
        if b < chunks {
            candidates.push(b);
        }
        b /= 2;
    }
    let (block, lane_bound) = candidates
        .into_iter()
        .find_map(|block| lanes_fit(&pairs, block).map(|b| (block, b)))?;
    let row_total = (block >= chunks).then(|| row_totals(&pairs)).flatten();
    Some(LaneProof {
        block,
        lane_bound,
        row_total,
    })
}

/// The largest |sum of a subset of one row's lanes| over every row (each
/// lane over all its chunks), if within s32: a subset sum lies between
/// the sum of the negative lane minima and that of the positive maxima.
fn row_totals(pairs: &[Vec<(i64, i64)>]) -> Option<i64> {
    let mut worst = 0i64;
    for row in pairs.chunks(8) {
        let (mut neg, mut pos) = (0i64, 0i64);
        for lane in row {
            let lo: i64 = lane.iter().map(|p| p.0).sum();
            let hi: i64 = lane.iter().map(|p| p.1).sum();
            neg += lo.min(0);
            pos += hi.max(0);
        }
        if !fits_s32(neg, pos) {
            return None;
        }
        worst = worst.max(-neg).max(pos);
    }
    Some(worst)
}

/// The largest |partial sum| of every lane over blocks of `block` chunks,
/// if all stay in s32.
fn lanes_fit(pairs: &[Vec<(i64, i64)>], block: usize) -> Option<i64> {
    let mut worst = 0i64;
    for lane in pairs {
        for blk in lane.chunks(block) {
            let (mut lo, mut hi) = (0i64, 0i64);
            for &(a, b) in blk {
                lo += a;
                hi += b;
                if !fits_s32(lo, hi) {
                    return None;
                }
                worst = worst.max(-lo).max(hi);
            }
        }
    }
    Some(worst)
}

/// What [`tail_s32`] proved: the widest |acc| (`bias + sum`) and
/// rescaled output (before the zero point and clamp) of any row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TailProof {
    pub acc_bound: i64,
    pub value_bound: i64,
}

/// Proves that a Dense layer's outputs can be finished in s32 lanes
/// (`lf_rescale8()` in `templates/c/simd.c`): for every row `j` and every
/// input in `[lo, hi]`, `acc = bias[j] + sum_i W[j][i] * x[i]`,
/// `r = (acc * mul[j] + 2^(shift[j] - 1)) >> shift[j]` and `r + zp` are
/// in s32, and so are the bias and clamp limits. `acc` ranges over
/// `bias[j] + sum_i [min, max] of W[j][i] * x` (as [`max_block`]); `r`
/// is monotone in `acc` for `mul >= 0`, so its ends are those of `acc`.
/// (The products `acc * mul` themselves need s64: the vector form
/// multiplies in widened halves, `vpmuldq`.)
pub fn tail_s32(
    weight: &[i64],
    n: usize,
    (lo, hi): (i64, i64),
    bias: &[i64],
    rescale: &[Rescale],
    zp: i64,
    clamp: Option<(i64, i64)>,
) -> Result<TailProof, String> {
    let s32 = |v: i64| fits_s32(v, v);
    if n == 0 || weight.len() != n * bias.len() || rescale.len() != bias.len() {
        return Err("weight, bias and rescale lengths disagree".into());
    }
    if !s32(zp) || clamp.is_some_and(|(a, b)| !s32(a) || !s32(b)) {
        return Err("zero point or clamp limits outside s32".into());
    }
    let mut proof = TailProof {
        acc_bound: 0,
        value_bound: 0,
    };
    for (j, (row, (&b, r))) in weight.chunks(n).zip(bias.iter().zip(rescale)).enumerate() {
        let (alo, ahi) = row
            .iter()
            .map(|&w| product(w, lo, hi))
            .fold((b, b), |(a, c), (d, e)| (a + d, c + e));
        if !s32(b) || !fits_s32(alo, ahi) {
            return Err(format!("row {j}: acc in [{alo}, {ahi}] leaves s32"));
        }
        if !(0..1 << 31).contains(&r.mul) || !(1..=62).contains(&r.shift) {
            return Err(format!(
                "row {j}: multiplier {} or shift {} not in range",
                r.mul, r.shift
            ));
        }
        let (vlo, vhi) = (r.apply(alo), r.apply(ahi));
        if !fits_s32(vlo, vhi) || !fits_s32(vlo + zp, vhi + zp) {
            return Err(format!(
                "row {j}: rescaled value in [{vlo}, {vhi}] (+ zero point {zp}) leaves s32"
            ));
        }
        proof.acc_bound = proof.acc_bound.max(-alo).max(ahi);
        proof.value_bound = proof.value_bound.max(-vlo).max(vhi);
    }
    Ok(proof)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The packed sum read back gives both channels' sums, on every
    /// corner of the domain and on random points inside it, at every
    /// shift [`check`] accepts (and [`pick_shift`] picks one of them).
    #[test]
    fn two_lanes_read_back_exactly() {
        let src: Bounds = vec![(-32768, 32767), (0, 1000), (-5, 7)];
        let weight = vec![32767, -32768, 12, -300, 32767, -3];
        let bias = vec![-7, 1 << 20];
        let accs = dense_acc_bounds(&weight, &bias, &src);
        let picked = pick_shift(&accs).unwrap();
        let ok: Vec<u32> = (0..70)
            .filter(|&k| check(&weight, &bias, &src, k).is_ok())
            .collect();
        assert!(ok.contains(&picked) && ok.len() >= 3, "{ok:?}");
        for k in ok {
            read_back(&weight, &bias, &src, k);
        }
    }

    fn read_back(weight: &[i64], bias: &[i64], src: &Bounds, k: u32) {
        let n = src.len();
        let pw = packed_weights(weight, n, k).unwrap();
        let pb = pack(bias[0], bias[1], k).unwrap();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for t in 0..500 {
            let x: Vec<i64> = src
                .iter()
                .enumerate()
                .map(|(i, &(lo, hi))| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    match (t + i) % 3 {
                        0 => lo,
                        1 => hi,
                        _ => lo + (seed >> 33) as i64 % (hi - lo + 1),
                    }
                })
                .collect();
            let mut a = pb as u64;
            for (xi, pi) in x.iter().zip(&pw) {
                a = a.wrapping_add((*xi as u64).wrapping_mul(*pi as u64));
            }
            let lo = ((a << (64 - k)) as i64) >> (64 - k);
            let hi = (a.wrapping_sub(lo as u64) as i64) >> k;
            let want = |j: usize| bias[j] + (0..n).map(|i| weight[j * n + i] * x[i]).sum::<i64>();
            assert_eq!((lo, hi), (want(0), want(1)), "k = {k}, x = {x:?}");
        }
    }

    #[test]
    fn lanes_that_do_not_fit_are_refused() {
        let src: Bounds = vec![(-32768, 32767); 4];
        let weight = vec![32767; 8];
        // Each channel needs 33 bits: 66 > 64.
        let bias = vec![0, 0];
        let accs = dense_acc_bounds(&weight, &bias, &src);
        assert_eq!(pick_shift(&accs), None);
        let e = check(&weight, &bias, &src, 32).unwrap_err();
        assert!(e.contains("channel 0"), "{e}");
        assert_eq!(pick_shift(&accs[..1]), None);
        assert_eq!(signed_bits(-128, 127), 8);
        assert_eq!(signed_bits(-129, 0), 9);
        assert_eq!(signed_bits(0, 128), 9);
    }

    #[test]
    fn a_pair_of_minimum_products_wraps() {
        // -32768 * -32768 twice is 2^31: one lane wraps.
        assert_eq!(max_block(&[-32768, -32768], 2, -32768, 0), None);
        let p = max_block(&[-32768, 32767], 2, -32768, 0).unwrap();
        assert_eq!(p.block, 1);
        assert_eq!(p.lane_bound, 1 << 30);
        // One chunk is every chunk: the lanes' total is bounded too.
        assert_eq!(p.row_total, Some(1 << 30));
    }

    #[test]
    fn the_block_shrinks_until_the_lanes_fit() {
        // 64 inputs (4 chunks), all weights 20000, inputs in [0, 30000]:
        // one pair sums to at most 1.2e9, two to 2.4e9 > 2^31 - 1.
        let w = vec![20000; 64];
        let p = max_block(&w, 64, 0, 30000).unwrap();
        assert_eq!(p.block, 1);
        assert_eq!(p.lane_bound, 1_200_000_000);
        // Small inputs: all four chunks in s32, and the row's 8 lanes
        // summed too (64 * 20000 * 100 = 1.28e8).
        let p = max_block(&w, 64, -100, 100).unwrap();
        assert_eq!(p.block, 4);
        assert_eq!(p.lane_bound, 4 * 2 * 20000 * 100);
        assert_eq!(p.row_total, Some(64 * 20000 * 100));
        // Every lane fits but not their total: 8 lanes of 2.72e8.
        let p = max_block(&w, 64, 0, 1700).unwrap();
        assert_eq!((p.block, p.row_total), (4, None));
        assert_eq!(p.lane_bound, 8 * 20000 * 1700);
    }

    #[test]
    fn signs_are_tracked_not_just_magnitudes() {
        // Lane 0 of each chunk: +30000 and -30000 on inputs in [0, 30000]:
        // each pair is in [-9e8, 9e8], so two chunks fit (1.8e9) but not
        // three; a magnitude bound would allow one.
        let mut w = vec![0; 48];
        for c in 0..3 {
            w[16 * c] = 30000;
            w[16 * c + 1] = -30000;
        }
        assert_eq!(max_block(&w, 48, 0, 30000).unwrap().block, 2);
    }

    #[test]
    fn operands_outside_s16_are_refused() {
        assert_eq!(max_block(&[40000, 1], 2, 0, 1), None);
        assert_eq!(max_block(&[1, 1], 2, 0, 40000), None);
        assert_eq!(max_block(&[1, 1, 1], 2, 0, 1), None);
    }

    #[test]
    fn the_s32_tail_is_proven_per_row_at_its_edges() {
        // One row of 16 weights 1000, x in [0, 134217]: sum <= 2,147,472,000.
        let w = vec![1000; 16];
        let r = [Rescale::new(1 << 15, 16)];
        let p = tail_s32(&w, 16, (0, 134_217), &[11_647], &r, 0, Some((0, 32767))).unwrap();
        // 2,147,472,000 + 11,647 = 2^31 - 1: still s32; rescaled by 1/2.
        assert_eq!(p.acc_bound, i32::MAX as i64);
        assert_eq!(p.value_bound, (i32::MAX as i64 + 1) / 2);
        // One more in the bias leaves s32.
        let e = tail_s32(&w, 16, (0, 134_217), &[11_648], &r, 0, None).unwrap_err();
        assert!(e.contains("row 0: acc"), "{e}");
        // The rescaled value leaves s32 when the multiplier grows it.
        let up = [Rescale::new(1 << 17, 16)];
        let e = tail_s32(&w, 16, (0, 100_000), &[0], &up, 0, None).unwrap_err();
        assert!(e.contains("rescaled"), "{e}");
        // ... and so does it plus the zero point, at the edge.
        let one = [Rescale::IDENTITY];
        let top = i32::MAX as i64 - 16_000;
        assert!(tail_s32(&w, 16, (0, 1), &[top], &one, 0, None).is_ok());
        assert!(tail_s32(&w, 16, (0, 1), &[top], &one, 1, None).is_err());
        // Negative multipliers are refused (the ends would swap).
        let neg = [Rescale::new(-3, 2)];
        assert!(tail_s32(&w, 16, (0, 1), &[0], &neg, 0, None).is_err());
        // Signs: x in [-5, 3] with weights -1000: acc in [-48000, 80000].
        let p = tail_s32(&vec![-1000; 16], 16, (-5, 3), &[0], &one, 0, None).unwrap();
        assert_eq!(p.acc_bound, 80_000);
    }
}
