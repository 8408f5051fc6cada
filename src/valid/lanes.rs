//! Proofs for the SIMD form of a Dense layer (`--simd avx2`, see
//! [`crate::back::lower_simd`]): the s32 lanes of `vpmaddwd` sums cannot
//! overflow.
//!
//! `vpmaddwd` multiplies 16 pairs of s16 and adds each two neighbours into
//! one s32 lane: lane `l` of chunk `c` (inputs `16c .. 16c + 15`) is
//! `w[16c + 2l] * x[16c + 2l] + w[16c + 2l + 1] * x[16c + 2l + 1]`, which
//! wraps silently when it leaves s32 (`-32768 * -32768` twice does). The
//! SIMD code adds the lanes of `block` consecutive chunks in s32 and then
//! widens them to s64; it is exact only if every partial lane sum of every
//! block, for every row and every input the bounds allow, stays in s32.
//! [`max_block`] finds the largest block for which that is proven.

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

const LANE_MIN: i64 = i32::MIN as i64;
const LANE_MAX: i64 = i32::MAX as i64;

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
        if neg < LANE_MIN || pos > LANE_MAX {
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
                if lo < LANE_MIN || hi > LANE_MAX {
                    return None;
                }
                worst = worst.max(-lo).max(hi);
            }
        }
    }
    Some(worst)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
