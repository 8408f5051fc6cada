//! Quantization of a concatenation: one destination scale over the union
//! of the pieces' ranges. When every runtime source already has one
//! quantization and the constants fit it, the destination keeps it and
//! every block is an exact copy; otherwise each source is requantized
//! (one rounding, at most half a destination step).

use super::fixed::{qparams, quantize_value, real, rescale_for};
use super::{qerr, Builder};
use crate::ir::concat::{Block, Piece, PieceSrc};
use crate::ir::{InstrKind, Precision, QParams, Rescale, TensorId};
use crate::Result;

impl Builder<'_> {
    pub(super) fn concat(
        &mut self,
        op_index: usize,
        blocks: &[(Option<usize>, Block)],
        consts: &[f32],
    ) -> Result<()> {
        let op = &self.graph.ops[op_index];
        let node = op.node.clone();
        let len = self.graph.value(op.output).len;
        let srcs: Vec<TensorId> = op
            .inputs
            .iter()
            .map(|&v| self.src(v, &node))
            .collect::<Result<_>>()?;
        // The real range of everything the destination holds.
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for (k, b) in blocks {
            match k {
                Some(k) => {
                    let t = srcs[*k];
                    let q = &self.tensors[t.index()].q;
                    let bounds = self.bounds[t.index()].as_ref().unwrap();
                    for &(l, h) in &bounds[b.from..b.from + b.len] {
                        lo = lo.min(real(q, l));
                        hi = hi.max(real(q, h));
                    }
                }
                None => {
                    for &c in &consts[b.from..b.from + b.len] {
                        lo = lo.min(c as f64);
                        hi = hi.max(c as f64);
                    }
                }
            }
        }
        let used: Vec<TensorId> = blocks
            .iter()
            .filter_map(|(k, _)| k.map(|k| srcs[k]))
            .collect();
        if used.is_empty() {
            return Err(qerr(&node, "a concatenation of constants only"));
        }
        let shared = self.tensors[used[0].index()].q.clone();
        let exact = used.iter().all(|t| self.tensors[t.index()].q == shared)
            && consts.iter().all(|&c| fits(&shared, c as f64));
        let dq = if exact {
            shared
        } else {
            let (lo, hi) = self.pick_range(op.output, lo, hi)?;
            qparams(self.opts.precision, lo, hi)
        };
        let mut pieces = Vec::with_capacity(blocks.len());
        for (k, b) in blocks {
            let src = match k {
                None => PieceSrc::Const,
                Some(k) => {
                    let t = srcs[*k];
                    let sq = &self.tensors[t.index()].q;
                    let rescale = if *sq == dq {
                        Rescale::IDENTITY
                    } else {
                        rescale_for(sq.scale / dq.scale, self.max_abs_centered(t).max(1))
                            .map_err(|r| qerr(&node, r))?
                    };
                    PieceSrc::Tensor { id: t, rescale }
                }
            };
            pieces.push(Piece { src, block: *b });
        }
        let consts: Vec<i64> = consts
            .iter()
            .map(|&c| quantize_value(&dq, c as f64))
            .collect();
        let clamp = match self.opts.precision {
            Precision::Int8 => Some((dq.qmin, dq.qmax)),
            Precision::Int16 => None,
        };
        let name = self.graph.value(op.output).name.clone();
        let parts: Vec<String> = op
            .inputs
            .iter()
            .map(|&v| self.graph.value(v).name.clone())
            .collect();
        let how = if exact {
            "copies, exact: one quantization"
        } else {
            "requantized into one scale"
        };
        let doc = format!(
            "{name} = concat({}{}) in {} blocks ({how})",
            parts.join(", "),
            if consts.is_empty() { "" } else { ", constants" },
            pieces.len()
        );
        self.finish(op_index, dq, len, doc, |dst| InstrKind::Concat {
            dst,
            pieces,
            consts,
            clamp,
        })
    }
}

/// `x` is represented in `q` without leaving its range.
fn fits(q: &QParams, x: f64) -> bool {
    let v = (x / q.scale).round() + q.zero_point as f64;
    v >= q.qmin as f64 && v <= q.qmax as f64
}
