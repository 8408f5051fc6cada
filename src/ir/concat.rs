//! Concatenation as a multi-source block copy (ONNX Concat, and the
//! quantized import's QLinearConcat): the destination is cut into blocks,
//! each filled from a contiguous run of one source tensor, requantized into
//! the destination's scale, or from the instruction's constant table.
//!
//! A concatenation along axis `a` of tensors shaped `[d0, .., d(a-1), n_k,
//! ..]` is, for every index of the outer axes, one block per input of
//! `n_k * (inner dims)` elements; adjacent blocks of one source are merged.

use crate::ir::{Rescale, TensorId};

/// `dst[at .. at + len]` from `src[from .. from + len]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    pub from: usize,
    pub at: usize,
    pub len: usize,
}

/// Where a block of the integer instruction reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PieceSrc {
    /// `dst[at + i] = rescale(src[from + i] - zp_src) + zp_dst` (then the
    /// instruction's clamp), or a plain copy when [`Piece::is_copy`].
    Tensor { id: TensorId, rescale: Rescale },
    /// `dst[at + i] = consts[from + i]`: constants already in the
    /// destination's quantization.
    Const,
}

/// One block of an integer concatenation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    pub src: PieceSrc,
    pub block: Block,
}

impl Piece {
    /// The block is copied as it is: the identity rescale between equal
    /// zero points (then it is exact, and no back end computes anything).
    pub fn is_copy(&self, zp_src: i64, zp_dst: i64) -> bool {
        match self.src {
            PieceSrc::Tensor { rescale, .. } => rescale.is_identity() && zp_src == zp_dst,
            PieceSrc::Const => true,
        }
    }
}

/// The blocks of a concatenation along `axis` of inputs of `shapes` (all of
/// one rank, equal outside `axis`), in destination order: `(input, block)`.
/// Runs of one input that follow each other in both source and destination
/// are merged into one block.
pub fn concat_blocks(shapes: &[Vec<usize>], axis: usize) -> Vec<(usize, Block)> {
    let outer: usize = shapes
        .first()
        .map(|s| s[..axis].iter().product())
        .unwrap_or(1);
    let inner: Vec<usize> = shapes.iter().map(|s| s[axis..].iter().product()).collect();
    let mut out: Vec<(usize, Block)> = Vec::new();
    let mut at = 0;
    for o in 0..outer {
        for (k, &n) in inner.iter().enumerate() {
            if n == 0 {
                continue;
            }
            let from = o * n;
            match out.last_mut() {
                Some((last, b)) if *last == k && b.from + b.len == from && b.at + b.len == at => {
                    b.len += n
                }
                _ => out.push((k, Block { from, at, len: n })),
            }
            at += n;
        }
    }
    out
}

/// Checks that `blocks` write each of `dst_len` elements exactly once and
/// read inside their sources (`src_len(piece)` elements).
pub fn check_cover(
    blocks: impl Iterator<Item = (Block, usize)>,
    dst_len: usize,
) -> Result<(), String> {
    let mut written = vec![false; dst_len];
    for (b, src_len) in blocks {
        if b.from + b.len > src_len {
            return Err(format!(
                "block [{}, {}) reads past its source of {src_len}",
                b.from,
                b.from + b.len
            ));
        }
        if b.at + b.len > dst_len {
            return Err(format!(
                "block at [{}, {}) writes past the destination of {dst_len}",
                b.at,
                b.at + b.len
            ));
        }
        for w in &mut written[b.at..b.at + b.len] {
            if *w {
                return Err(format!(
                    "blocks overlap at element {} of the destination",
                    b.at
                ));
            }
            *w = true;
        }
    }
    match written.iter().position(|w| !w) {
        Some(i) => Err(format!("element {i} of the destination is never written")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_of_each_axis() {
        // [2, 3] ++ [2, 2] along axis 1: rows interleave.
        let b = concat_blocks(&[vec![2, 3], vec![2, 2]], 1);
        let want = [
            (
                0,
                Block {
                    from: 0,
                    at: 0,
                    len: 3,
                },
            ),
            (
                1,
                Block {
                    from: 0,
                    at: 3,
                    len: 2,
                },
            ),
            (
                0,
                Block {
                    from: 3,
                    at: 5,
                    len: 3,
                },
            ),
            (
                1,
                Block {
                    from: 2,
                    at: 8,
                    len: 2,
                },
            ),
        ];
        assert_eq!(b, want);
        // along axis 0: one block per input.
        let b = concat_blocks(&[vec![2, 3], vec![1, 3]], 0);
        assert_eq!(
            b,
            [
                (
                    0,
                    Block {
                        from: 0,
                        at: 0,
                        len: 6
                    }
                ),
                (
                    1,
                    Block {
                        from: 0,
                        at: 6,
                        len: 3
                    }
                )
            ]
        );
        // one input repeated: still one block per run.
        let b = concat_blocks(&[vec![2], vec![2]], 0);
        assert_eq!(b.len(), 2);
        check_cover(b.iter().map(|(_, b)| (*b, 2)), 4).unwrap();
    }

    #[test]
    fn cover_is_checked() {
        let blk = |from, at, len| (Block { from, at, len }, 4);
        assert!(check_cover([blk(0, 0, 2), blk(0, 2, 2)].into_iter(), 4).is_ok());
        assert!(check_cover([blk(0, 0, 2), blk(0, 1, 2)].into_iter(), 4)
            .unwrap_err()
            .contains("overlap"));
        assert!(check_cover([blk(0, 0, 2)].into_iter(), 4)
            .unwrap_err()
            .contains("never written"));
        assert!(check_cover([blk(3, 0, 2)].into_iter(), 2)
            .unwrap_err()
            .contains("reads past"));
    }
}
