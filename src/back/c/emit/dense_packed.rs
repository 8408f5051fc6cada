//! `Dense` with two channels per 64-bit accumulator, where the plan says
//! so ([`crate::back::lower`], `Step::lanes`; proven by
//! [`crate::valid::lanes`]): channels `2p` and `2p + 1` are summed in one
//! `u64 pk` against `W[2p][i] + W[2p + 1][i] * 2^K`, so one multiply and
//! one add do two multiply-adds; the two lanes are read back into `acc`
//! and rescaled as the unpacked layer would. The arithmetic is `u64`
//! (wrapping, defined in C), the result exactly the unpacked sums.

use super::dense::{LineRescale, Parts};
use super::Cx;
use crate::back::c::expr::{BinOp, Expr};
use crate::back::c::namer::macro_name;
use crate::back::c::templates::{
    Array, DensePackedLoop, DensePackedUnrolled, InnerLoop, PackedBlock, PackedPair, PackedTerm,
    Store,
};
use crate::back::c::writer::{fail, wrap, Writer};
use crate::back::lower::LANE_BLOCK;
use crate::ir::{Rescale, Tensor};
use crate::valid::lanes;
use crate::Result;

/// A `u64` literal of the packed constant `v`.
fn hex(v: i64) -> String {
    format!("0x{:016x}ULL", v as u64)
}

/// How the two lanes of an accumulator are read back into `acc`.
struct LaneRead {
    /// The `#define` of the lane shift.
    k: Expr,
    shift: u32,
}

impl LaneRead {
    fn declare(cx: &mut Cx, shift: u32, notes: &mut Vec<String>) -> Result<LaneRead> {
        let k = cx.decls.define(
            macro_name(&cx.ident, "lane_shift"),
            shift.to_string(),
            Some("channel 2p in the low lane_shift bits, 2p + 1 above".into()),
        )?;
        notes.push(format!(
            "two channels per u64: W[2p][i] + W[2p + 1][i] * 2^{shift}, both lanes proven to fit ({shift} and {} bits)",
            64 - shift
        ));
        Ok(LaneRead { k, shift })
    }
    /// Channel 2p: the low lane, sign-extended.
    fn lo(&self, pk: &str) -> String {
        let k = &self.k;
        if self.shift == 32 {
            format!("(s32){pk}")
        } else {
            format!("(s64)({pk} << (64 - {k})) >> (64 - {k})")
        }
    }
    /// Channel 2p + 1, once `acc` holds channel 2p.
    fn hi(&self, pk: &str) -> String {
        format!("(s64)({pk} - (u64)acc) >> {}", self.k)
    }
}

/// Checks the plan's lane shift against the proven source bounds (the
/// validator's proof, repeated where the code is printed).
fn proven(
    w: &Writer,
    src: crate::ir::TensorId,
    weight: &[i64],
    bias: &[i64],
    k: u32,
) -> Result<()> {
    let srcb = w
        .info
        .elem_bounds
        .get(src.index())
        .map_or_else(|| fail("no bounds for a packed Dense source"), Ok)?;
    lanes::check(weight, bias, srcb, k).or_else(|e| fail(format!("packed Dense: {e}")))
}

/// Straight line: the packed weights and biases are immediates.
#[allow(clippy::too_many_arguments)]
pub(super) fn straight_line(
    w: &mut Writer,
    mut cx: Cx,
    mut notes: Vec<String>,
    mut parts: Parts,
    zp_dst: (i64, &Tensor),
    rescale: &[Rescale],
    weight: &[i64],
    bias: &[i64],
    src: crate::ir::TensorId,
    shift: u32,
) -> Result<(String, String)> {
    proven(w, src, weight, bias, shift)?;
    let n = weight.len() / bias.len().max(1);
    let packed = lanes::packed_weights(weight, n, shift).or_else(fail)?;
    let read = LaneRead::declare(&mut cx, shift, &mut notes)?;
    let decls = &mut cx.decls;
    let r = LineRescale::declare(w, decls, &cx.ident, rescale, &parts.what)?;
    parts.zp = w.zp_term(decls, &cx.ident, "zp", zp_dst.0, zp_dst.1)?;
    parts.clamp = w.clamp_limits(decls, &cx.ident, parts.clamp_range)?;
    w.uses_acc = true;
    let store = |j: usize| Store {
        dst: parts.y.clone().at(j).to_string(),
        value: parts.value(r.apply(Expr::var("acc"), j)).to_string(),
    };
    let rows: Vec<&[i64]> = packed.chunks(n.max(1)).collect();
    let mut blocks = Vec::new();
    for (bk, block) in rows.chunks(LANE_BLOCK).enumerate() {
        let first = bk * LANE_BLOCK;
        w.pk_locals = w.pk_locals.max(block.len());
        let pairs = (0..block.len())
            .map(|b| {
                let (p, acc) = (first + b, format!("pk{b}"));
                let pb = lanes::pack(bias[2 * p], bias[2 * p + 1], shift).unwrap_or_default();
                PackedPair {
                    bias: hex(pb),
                    lo_read: read.lo(&acc),
                    hi_read: read.hi(&acc),
                    acc,
                    lo: store(2 * p),
                    hi: store(2 * p + 1),
                }
            })
            .collect();
        let mut terms = Vec::new();
        for i in 0..n {
            for (b, row) in block.iter().enumerate() {
                if row[i] != 0 {
                    let xi = parts.x.clone().at(i).cast("u64");
                    terms.push(PackedTerm {
                        acc: format!("pk{b}"),
                        expr: xi.bin(BinOp::Mul, Expr::name(hex(row[i]))).to_string(),
                    });
                }
            }
        }
        blocks.push(PackedBlock { pairs, terms });
    }
    let c = w.common(&cx.ident, cx.instr, notes, cx.decls);
    let l = DensePackedUnrolled { blocks };
    w.construct(&(&c, &l))
}

/// Loops over the packed weight table, two channels per iteration.
#[allow(clippy::too_many_arguments)]
pub(super) fn looped(
    w: &mut Writer,
    mut cx: Cx,
    mut notes: Vec<String>,
    mut parts: Parts,
    zp_dst: (i64, &Tensor),
    rescale: &[Rescale],
    weight: &[i64],
    bias: &[i64],
    src: crate::ir::TensorId,
    shift: u32,
) -> Result<(String, String)> {
    proven(w, src, weight, bias, shift)?;
    let (d_len, s_len) = (bias.len(), weight.len() / bias.len().max(1));
    let packed = lanes::packed_weights(weight, s_len, shift).or_else(fail)?;
    let read = LaneRead::declare(&mut cx, shift, &mut notes)?;
    let decls = &mut cx.decls;
    w.uses_j = true;
    w.uses_acc = true;
    w.pk_locals = w.pk_locals.max(1);
    let in_len = decls.define(macro_name(&cx.ident, "in"), s_len.to_string(), None)?;
    let out_len = decls.define(macro_name(&cx.ident, "out"), d_len.to_string(), None)?;
    let pairs = decls.define(
        macro_name(&cx.ident, "pairs"),
        (d_len / 2).to_string(),
        Some("channels 2p and 2p + 1 share row p of the packed tables".into()),
    )?;
    let mut lines = Vec::new();
    for row in packed.chunks(s_len.max(1)) {
        let items: Vec<String> = row.iter().map(|&v| hex(v)).collect();
        lines.push("\t{".to_string());
        lines.extend(wrap(&items, "\t\t"));
        lines.push("\t},".to_string());
    }
    let wname = decls.array(
        Array {
            ctype: "u64".into(),
            name: format!("{}_packed", cx.ident),
            dims: format!("[{pairs}][{in_len}]"),
            lines,
        },
        packed.len(),
    )?;
    let pb: Vec<String> = bias
        .chunks(2)
        .map(|p| hex(lanes::pack(p[0], p[1], shift).unwrap_or_default()))
        .collect();
    let bname = decls.array(
        Array {
            ctype: "u64".into(),
            name: format!("{}_pbias", cx.ident),
            dims: format!("[{pairs}]"),
            lines: wrap(&pb, "\t"),
        },
        pb.len(),
    )?;
    let m = w.rescales(decls, &cx.ident, "", rescale, &parts.what)?;
    parts.zp = w.zp_term(decls, &cx.ident, "zp", zp_dst.0, zp_dst.1)?;
    parts.clamp = w.clamp_limits(decls, &cx.ident, parts.clamp_range)?;
    let c = w.common(&cx.ident, cx.instr, notes, cx.decls);
    let j = Expr::var("j");
    let j1 = j.clone().plus(Some(Expr::Int(1)));
    let half = Expr::name("j >> 1");
    let product = |i: Expr| {
        parts
            .x
            .clone()
            .index(i.clone())
            .cast("u64")
            .bin(BinOp::Mul, wname.clone().index(half.clone()).index(i))
            .to_string()
    };
    let unroll = w.plan.steps[cx.k].inner_unroll.clamp(1, s_len.max(1));
    let blocked = if s_len / unroll >= 2 {
        s_len - s_len % unroll
    } else {
        0
    };
    let inner = (blocked > 0).then(|| InnerLoop {
        blocked_len: blocked.to_string(),
        unroll,
        block: (0..unroll)
            .map(|u| product(Expr::var("i").plus((u > 0).then_some(Expr::Int(u as i64)))))
            .collect(),
    });
    let ch = |j: Expr| Store {
        dst: parts.y.clone().index(j.clone()).to_string(),
        value: parts.value(m.apply(Expr::var("acc"), j)).to_string(),
    };
    let l = DensePackedLoop {
        out_len: out_len.to_string(),
        bias: bname.index(half.clone()).to_string(),
        inner,
        rest: (blocked..s_len)
            .map(|i| product(Expr::Int(i as i64)))
            .collect(),
        lo: read.lo("pk0"),
        hi: read.hi("pk0"),
        lo_ch: ch(j),
        hi_ch: ch(j1),
    };
    w.construct(&(&c, &l))
}
