//! `Dense`: `acc = bias + W x` per output channel, rescaled, optionally
//! clamped, optionally passed through the table of the Lut after it (see
//! [`crate::back::lower`]). Straight-line (weights as immediates) or loops
//! over `static const` arrays, as the plan says.

use super::{dense_avx2, dense_packed, wrong_kind, Cx};
use crate::back::c::expr::{BinOp, Expr, Multipliers};
use crate::back::c::namer::macro_name;
use crate::back::c::templates::{Array, Channel, DenseLoop, DenseUnrolled, InnerLoop, Term};
use crate::back::c::writer::{
    c_int, check_rescale, comment, ctype_for, fail, min_max, uniform_round, wrap, Clamp, Decls,
    Writer,
};
use crate::back::lower::{dense_rescales, Form};
use crate::ir::{AccWidth, InstrKind, Rescale, Round, Tensor};
use crate::Result;

pub(super) const SUFFIXES: &[&str] = &[
    "in",
    "out",
    "weight",
    "bias",
    "shift",
    "mul",
    "rescale",
    "zp",
    "qmin",
    "qmax",
    "in_pad",
    "chunks",
    "block",
    "avx2",
    "lane_shift",
    "packed",
    "pbias",
    "pairs",
];

/// What the forms share: operands, output and the per-channel value.
pub(super) struct Parts {
    pub x: Expr,
    pub y: Expr,
    pub zp: Option<Expr>,
    pub clamp: Option<Clamp>,
    pub clamp_range: Option<(i64, i64)>,
    /// The lookup function of the fused Lut.
    pub lut: Option<String>,
    /// `(s32)` for a 32-bit accumulator.
    pub cast: Option<&'static str>,
    pub what: String,
}

impl Parts {
    /// `lut(clamp(rescale(acc) + zp))`
    pub fn value(&self, rescaled: Expr) -> Expr {
        let v = Clamp::apply(&self.clamp, rescaled.plus(self.zp.clone()));
        match &self.lut {
            Some(f) => Expr::call(f.clone(), vec![v]),
            None => v,
        }
    }
    fn x_at(&self, i: Expr) -> Expr {
        let x = self.x.clone().index(i);
        match self.cast {
            Some(ty) => x.cast(ty),
            None => x,
        }
    }
}

pub(super) fn emit(w: &mut Writer, mut cx: Cx) -> Result<(String, String)> {
    let InstrKind::Dense {
        src,
        dst,
        weight,
        weight_bits,
        bias,
        acc,
        rescale,
        clamp,
    } = &cx.instr.kind
    else {
        return wrong_kind(&cx, "Dense");
    };
    let (s, d) = (w.tensor(*src)?, w.tensor(*dst)?);
    if weight.len() != s.len * d.len || bias.len() != d.len || rescale.len() != d.len {
        return fail(format!(
            "Dense {}x{}: {} weights, {} biases, {} rescales",
            d.len,
            s.len,
            weight.len(),
            bias.len(),
            rescale.len()
        ));
    }
    if w.same_buffer(*src, *dst) {
        return fail("Dense src and dst share a buffer");
    }
    let wlimit = 1i64 << (weight_bits.clamp(&2, &63) - 1);
    if weight.iter().any(|&v| v < -wlimit || v >= wlimit) {
        return fail(format!("a weight does not fit weight_bits = {weight_bits}"));
    }
    w.helpers.rescale = true;
    let k = cx.k;
    let rescale = &dense_rescales(&w.plan.steps[k], rescale);
    let x = w.buf(*src)?;
    // Fused with the Lut after it: store lut(y) where the Lut would.
    let (y, lut) = match w.program.instrs.get(k + 1).map(|i| &i.kind) {
        Some(InstrKind::Lut { dst: ldst, .. }) if w.plan.steps[k].applies_next_lut => {
            (w.buf(*ldst)?, Some(w.idents[k + 1].clone()))
        }
        _ => (w.buf(*dst)?, None),
    };
    let what = format!(
        "s(\"{}\") * s_w[j] / s(\"{}\")",
        comment(&s.name),
        comment(&d.name)
    );
    let acc_t = if *acc == AccWidth::I32 { "s32" } else { "s64" };
    let mut notes = vec![w.note("x", *src), w.note("y", *dst)];
    notes.push(format!(
        "{} x {} = {} multiply-adds, {acc_t} accumulator, {weight_bits}-bit weights",
        d.len,
        s.len,
        weight.len(),
    ));
    notes.extend(std::mem::take(&mut cx.acc_note));
    if let Some(why) = &w.plan.steps[k].simd_refused {
        notes.push(format!("--simd avx2 not used here: {why}"));
    }
    if let Some(f) = &lut {
        notes.push(format!(
            "y is not stored: {y}[j] = {f}(y[j]) does the {} after this layer",
            comment(&w.program.instrs[k + 1].onnx_op)
        ));
    }
    let zp_dst = (d.q.zero_point, d);
    let mut parts = Parts {
        x,
        y,
        zp: None,
        clamp: None,
        clamp_range: *clamp,
        lut,
        cast: (*acc == AccWidth::I32).then_some("s32"),
        what,
    };
    let lanes = w.plan.steps[k].lanes;
    match (w.plan.steps[k].form, lanes) {
        (Form::StraightLine, Some(sh)) => dense_packed::straight_line(
            w, cx, notes, parts, zp_dst, rescale, weight, bias, *src, sh,
        ),
        (Form::Loop, Some(sh)) => {
            dense_packed::looped(w, cx, notes, parts, zp_dst, rescale, weight, bias, *src, sh)
        }
        (Form::StraightLine, None) => {
            straight_line(w, cx, notes, parts, zp_dst, rescale, weight, bias, *acc)
        }
        (Form::Loop, None) => {
            let (d_len, s_len) = (d.len, s.len);
            let decls = &mut cx.decls;
            w.uses_j = true;
            let in_len = decls.define(macro_name(&cx.ident, "in"), s_len.to_string(), None)?;
            let out_len = decls.define(macro_name(&cx.ident, "out"), d_len.to_string(), None)?;
            // --simd avx2: rows padded to whole vectors (lower_simd).
            let avx2 = match w.plan.steps[k].simd {
                Some(sd) => Some(dense_avx2::declare(
                    decls,
                    &cx.ident,
                    sd,
                    (s_len, in_len.to_string()),
                    out_len.to_string(),
                )?),
                None => None,
            };
            let row_len = avx2.as_ref().map_or(s_len, |a| 16 * a.d.chunks);
            let wtype = match weight_bits {
                // vpmaddwd reads s16 (the plan proved the weights fit).
                _ if avx2.is_some() => "s16",
                0..=8 => "s8",
                9..=16 => "s16",
                17..=32 => "s32",
                _ => "s64",
            };
            let mut lines = Vec::new();
            for row in weight.chunks(s_len.max(1)) {
                let mut items: Vec<String> = row.iter().map(|&v| c_int(v)).collect();
                items.resize(row_len, "0".into());
                lines.push("\t{".to_string());
                lines.extend(wrap(&items, "\t\t"));
                lines.push("\t},".to_string());
            }
            let wname = decls.array(
                Array {
                    ctype: wtype.into(),
                    name: format!("{}_weight", cx.ident),
                    dims: match &avx2 {
                        Some(a) => format!("[{out_len}][{}]", a.in_pad),
                        None => format!("[{out_len}][{in_len}]"),
                    },
                    lines,
                },
                d_len * row_len,
            )?;
            let (blo, bhi) = min_max(bias);
            let items: Vec<String> = bias.iter().map(|&b| c_int(b)).collect();
            let bname = decls.array(
                Array {
                    ctype: ctype_for(blo, bhi).into(),
                    name: format!("{}_bias", cx.ident),
                    dims: format!("[{out_len}]"),
                    lines: wrap(&items, "\t"),
                },
                bias.len(),
            )?;
            let m = w.rescales(decls, &cx.ident, "", rescale, &parts.what)?;
            parts.zp = w.zp_term(decls, &cx.ident, "zp", zp_dst.0, zp_dst.1)?;
            parts.clamp = w.clamp_limits(decls, &cx.ident, *clamp)?;
            let j = Expr::var("j");
            let value = parts.value(m.apply(Expr::var("acc"), j.clone()));
            let c = w.common(&cx.ident, cx.instr, notes, cx.decls);
            let product = |i: Expr| {
                parts
                    .x_at(i.clone())
                    .bin(BinOp::Mul, wname.clone().index(j.clone()).index(i))
                    .to_string()
            };
            let unroll = w.plan.steps[k].inner_unroll.clamp(1, s_len.max(1));
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
            let l = DenseLoop {
                out_len: out_len.to_string(),
                acc_type: acc_t.into(),
                bias: bname.clone().index(j.clone()).to_string(),
                inner,
                rest: (blocked..s_len)
                    .map(|i| product(Expr::Int(i as i64)))
                    .collect(),
                dst: parts.y.clone().index(j).to_string(),
                value: value.to_string(),
            };
            match avx2 {
                Some(a) => {
                    let muls: Vec<i64> = rescale.iter().map(|r| r.mul).collect();
                    let tail = dense_avx2::TailParts {
                        bias: (&bname, bias),
                        rescale: &m,
                        muls: &muls,
                        zp: parts.zp.as_ref(),
                        clamp: parts.clamp.as_ref(),
                    };
                    let ops = dense_avx2::Operands {
                        x: parts.x.to_string(),
                        y: parts.y.to_string(),
                        weight: wname.to_string(),
                        x_bounds: w.info.tensor_bounds[src.index()],
                        tail: match (a.d.tail, a.d.fused) {
                            (true, None) => Some(dense_avx2::tail_value(tail)?),
                            _ => None,
                        },
                        fused: match (a.d.tail, a.d.fused) {
                            (true, Some(_)) => Some(dense_avx2::fused_tail(tail)?),
                            _ => None,
                        },
                        lut_call: match (&parts.lut, a.d.tail) {
                            (Some(f), true) => Some(format!("{f}_avx2({}, {out_len});", parts.y)),
                            _ => None,
                        },
                    };
                    dense_avx2::construct(w, &cx.ident, (&c, &l), a, ops)
                }
                None => w.construct(&(&c, &l)),
            }
        }
    }
}

/// Straight line: weights and biases are immediates, one statement per
/// non-zero weight.
#[allow(clippy::too_many_arguments)]
fn straight_line(
    w: &mut Writer,
    mut cx: Cx,
    notes: Vec<String>,
    mut parts: Parts,
    zp_dst: (i64, &Tensor),
    rescale: &[Rescale],
    weight: &[i64],
    bias: &[i64],
    acc: AccWidth,
) -> Result<(String, String)> {
    let decls = &mut cx.decls;
    let r = LineRescale::declare(w, decls, &cx.ident, rescale, &parts.what)?;
    parts.zp = w.zp_term(decls, &cx.ident, "zp", zp_dst.0, zp_dst.1)?;
    let accv = if acc == AccWidth::I32 {
        w.uses_acc32 = true;
        "acc32"
    } else {
        w.uses_acc = true;
        "acc"
    };
    parts.clamp = w.clamp_limits(decls, &cx.ident, parts.clamp_range)?;
    let n = if bias.is_empty() {
        0
    } else {
        weight.len() / bias.len()
    };
    let mut channels = Vec::with_capacity(bias.len());
    for (j, &b) in bias.iter().enumerate() {
        let row = &weight[j * n..(j + 1) * n];
        let terms = row
            .iter()
            .enumerate()
            .filter(|(_, &v)| v != 0)
            .map(|(i, &v)| {
                let (op, mag) = if v < 0 && v != i64::MIN {
                    ("-", -v)
                } else {
                    ("+", v)
                };
                let xi = parts.x_at(Expr::Int(i as i64));
                let expr = if mag == 1 {
                    xi
                } else {
                    xi.bin(BinOp::Mul, Expr::Int(mag))
                };
                Term {
                    op,
                    expr: expr.to_string(),
                }
            })
            .collect();
        let rescaled = r.apply(Expr::var(accv), j);
        channels.push(Channel {
            bias: c_int(b),
            terms,
            dst: parts.y.clone().at(j).to_string(),
            value: parts.value(rescaled).to_string(),
        });
    }
    let c = w.common(&cx.ident, cx.instr, notes, cx.decls);
    let l = DenseUnrolled {
        acc: accv.to_string(),
        channels,
    };
    w.construct(&(&c, &l))
}

/// How straight-line code rescales channel `j`: at one shift (a `#define`)
/// with the multipliers as immediates, or from the tables of per-channel
/// multipliers and shifts.
pub(super) enum LineRescale {
    Shift(Expr, Vec<i64>, Round),
    Tables(Multipliers),
}

impl LineRescale {
    pub fn declare(
        w: &mut Writer,
        decls: &mut Decls,
        ident: &str,
        rescale: &[Rescale],
        what: &str,
    ) -> Result<LineRescale> {
        let shifts: Vec<u32> = rescale.iter().map(|r| r.shift).collect();
        if shifts.is_empty() || shifts.iter().any(|&sh| sh != shifts[0]) {
            return Ok(LineRescale::Tables(
                w.rescales(decls, ident, "", rescale, what)?,
            ));
        }
        for r in rescale {
            check_rescale(*r, "Dense")?;
        }
        let round = uniform_round(rescale, "Dense")?;
        w.helpers.note_round(round);
        let shift = decls.define(
            macro_name(ident, "shift"),
            shifts[0].to_string(),
            Some(format!("{what} = mul[j] / 2^{}", shifts[0])),
        )?;
        Ok(LineRescale::Shift(
            shift,
            rescale.iter().map(|r| r.mul).collect(),
            round,
        ))
    }

    /// `lf_rescale(acc, mul[j], shift[j])` of channel `j`.
    pub fn apply(&self, acc: Expr, j: usize) -> Expr {
        match self {
            LineRescale::Shift(shift, muls, round) => {
                acc.rescale_as(Expr::Int(muls[j]), shift.clone(), *round)
            }
            LineRescale::Tables(m) => m.apply(acc, Expr::Int(j as i64)),
        }
    }
}
