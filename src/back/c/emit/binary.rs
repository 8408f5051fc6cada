//! `Binary`: Add/Sub of two tensors with one rounding
//! (`lf_rescale_sum`), or Mul rescaled once.

use super::{wrong_kind, Cx};
use crate::back::c::expr::Expr;
use crate::back::c::namer::macro_name;
use crate::back::c::templates::BinaryL;
use crate::back::c::writer::{c_define_int, check_rescale, comment, fail, Clamp, Writer};
use crate::ir::{BinaryOp, InstrKind, Round};
use crate::Result;

pub(super) const SUFFIXES: &[&str] = &[
    "len", "a_zp", "b_zp", "shift", "mul", "mul_a", "mul_b", "zp", "qmin", "qmax",
];

pub(super) fn emit(w: &mut Writer, mut cx: Cx) -> Result<(String, String)> {
    let InstrKind::Binary {
        op,
        a,
        b,
        dst,
        rescale_a,
        mul_b,
        clamp,
    } = &cx.instr.kind
    else {
        return wrong_kind(&cx, "Binary");
    };
    let (ta, tb, td) = (w.tensor(*a)?, w.tensor(*b)?, w.tensor(*dst)?);
    if ta.len != td.len || tb.len != td.len {
        return fail(format!(
            "Binary on {} and {} elements into {}",
            ta.len, tb.len, td.len
        ));
    }
    check_rescale(*rescale_a, "Binary")?;
    let (decls, ident) = (&mut cx.decls, cx.ident.as_str());
    let (ba, bb, bd) = (w.buf(*a)?, w.buf(*b)?, w.buf(*dst)?);
    let len = decls.define(macro_name(ident, "len"), td.len.to_string(), None)?;
    let za = w.zp_term(decls, ident, "a_zp", ta.q.zero_point, ta)?;
    let zb = w.zp_term(decls, ident, "b_zp", tb.q.zero_point, tb)?;
    let shift = decls.define(
        macro_name(ident, "shift"),
        rescale_a.shift.to_string(),
        None,
    )?;
    let scale_of = |t: &crate::ir::Tensor| format!("s(\"{}\")", comment(&t.name));
    let sh = rescale_a.shift;
    let (va, vb) = (Expr::var("a"), Expr::var("b"));
    let value = match op {
        BinaryOp::Add | BinaryOp::Sub => {
            if rescale_a.round != Round::HalfUp {
                return fail("Add/Sub: lf_rescale_sum rounds half up only");
            }
            w.helpers.rescale_sum = true;
            let ma = decls.define(
                macro_name(ident, "mul_a"),
                c_define_int(rescale_a.mul),
                Some(format!("{} / {} * 2^{sh}", scale_of(ta), scale_of(td))),
            )?;
            let mb = decls.define(
                macro_name(ident, "mul_b"),
                c_define_int(*mul_b),
                Some(format!("{} / {} * 2^{sh}", scale_of(tb), scale_of(td))),
            )?;
            let mb = if *op == BinaryOp::Sub { mb.neg() } else { mb };
            Expr::call("lf_rescale_sum", vec![va, ma, vb, mb, shift])
        }
        BinaryOp::Mul => {
            w.helpers.rescale = true;
            let m = decls.define(
                macro_name(ident, "mul"),
                c_define_int(rescale_a.mul),
                Some(format!(
                    "{} * {} / {} * 2^{sh}",
                    scale_of(ta),
                    scale_of(tb),
                    scale_of(td)
                )),
            )?;
            w.helpers.note_round(rescale_a.round);
            va.mul(vb).rescale_as(m, shift, rescale_a.round)
        }
    };
    let zp = w.zp_term(decls, ident, "zp", td.q.zero_point, td)?;
    let limits = w.clamp_limits(decls, ident, *clamp)?;
    let value = Clamp::apply(&limits, value.plus(zp));
    let notes = [
        vec![w.note("a", *a), w.note("b", *b), w.note("y", *dst)],
        cx.acc_note,
    ]
    .concat();
    let c = w.common(ident, cx.instr, notes, cx.decls);
    let i = Expr::var("i");
    let l = BinaryL {
        len: len.to_string(),
        a: ba.index(i.clone()).minus(za).to_string(),
        b: bb.index(i).minus(zb).to_string(),
        dst: bd.to_string(),
        value: value.to_string(),
    };
    w.construct(&(&c, &l))
}
