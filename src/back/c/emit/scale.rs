//! `Scale`: element-wise `clamp(r(x - zp_src) + offset + zp_dst)` with a
//! multiplier for `x >= zp_src` and one below (affine ops, LeakyRelu,
//! HardSigmoid, requantizing Relu/Clip).

use super::{wrong_kind, Cx};
use crate::back::c::expr::Expr;
use crate::back::c::namer::macro_name;
use crate::back::c::templates::ScaleL;
use crate::back::c::writer::{comment, fail, Clamp, Writer};
use crate::ir::InstrKind;
use crate::Result;

pub(super) const SUFFIXES: &[&str] = &[
    "len",
    "src_zp",
    "shift",
    "mul",
    "rescale",
    "pos_shift",
    "pos_mul",
    "pos_rescale",
    "neg_shift",
    "neg_mul",
    "neg_rescale",
    "offset",
    "zp",
    "qmin",
    "qmax",
];

pub(super) fn emit(w: &mut Writer, mut cx: Cx) -> Result<(String, String)> {
    let InstrKind::Scale {
        src,
        dst,
        pos,
        neg,
        offset,
        clamp,
    } = &cx.instr.kind
    else {
        return wrong_kind(&cx, "Scale");
    };
    let (s, d) = (w.tensor(*src)?, w.tensor(*dst)?);
    if d.len != s.len || pos.len() != s.len || neg.len() != s.len || offset.len() != s.len {
        return fail(format!(
            "Scale of {} elements: dst {}, pos {}, neg {}, offset {}",
            s.len,
            d.len,
            pos.len(),
            neg.len(),
            offset.len()
        ));
    }
    w.helpers.rescale = true;
    let (decls, ident) = (&mut cx.decls, cx.ident.as_str());
    let x = w.buf(*src)?;
    let y = w.buf(*dst)?;
    let len = decls.define(macro_name(ident, "len"), s.len.to_string(), None)?;
    let zps = w.zp_term(decls, ident, "src_zp", s.q.zero_point, s)?;
    let i = Expr::var("i");
    let v = x.index(i.clone()).minus(zps);
    let what = format!("s(\"{}\") / s(\"{}\")", comment(&s.name), comment(&d.name));
    let pm = if pos == neg {
        w.rescales(decls, ident, "", pos, &what)?
    } else {
        let what = format!("{what} for x >= zero point");
        w.rescales(decls, ident, "pos", pos, &what)?
    };
    let neg_expr = if pos == neg {
        None
    } else {
        let what = format!("{what} for x < zero point");
        let nm = w.rescales(decls, ident, "neg", neg, &what)?;
        Some(nm.apply(Expr::var("v"), i.clone()))
    };
    let off = if offset.iter().all(|&o| o == 0) {
        None
    } else {
        let o = w.per_elem(
            decls,
            ident,
            "offset",
            offset,
            "offset, in steps of the output",
        )?;
        Some(o.at(i.clone()))
    };
    let zp = w.zp_term(decls, ident, "zp", d.q.zero_point, d)?;
    let limits = w.clamp_limits(decls, ident, *clamp)?;
    let value = Clamp::apply(&limits, Expr::var("v").plus(off).plus(zp));
    let notes = [vec![w.note("x", *src), w.note("y", *dst)], cx.acc_note].concat();
    let c = w.common(ident, cx.instr, notes, cx.decls);
    let l = ScaleL {
        len: len.to_string(),
        v: v.to_string(),
        pos: pm.apply(Expr::var("v"), i).to_string(),
        neg: neg_expr.map(|e| e.to_string()),
        dst: y.to_string(),
        value: value.to_string(),
    };
    w.construct(&(&c, &l))
}
