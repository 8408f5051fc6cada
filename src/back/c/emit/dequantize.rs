//! `Dequantize`: the last tensor to the `s64` model output at the decimal
//! output scale.

use super::{wrong_kind, Cx};
use crate::back::c::expr::Expr;
use crate::back::c::templates::DequantizeL;
use crate::back::c::writer::{fail, sci, Writer};
use crate::ir::InstrKind;
use crate::Result;

pub(super) const SUFFIXES: &[&str] = &["src_zp", "shift", "mul", "rescale"];

pub(super) fn emit(w: &mut Writer, mut cx: Cx) -> Result<(String, String)> {
    let InstrKind::Dequantize { src, rescale } = &cx.instr.kind else {
        return wrong_kind(&cx, "Dequantize");
    };
    let s = w.tensor(*src)?;
    if s.len != w.program.output_len {
        return fail(format!(
            "Dequantize of {} elements for {} outputs",
            s.len, w.program.output_len
        ));
    }
    w.helpers.rescale = true;
    let (decls, ident) = (&mut cx.decls, cx.ident.as_str());
    let x = w.buf(*src)?;
    let zp = w.zp_term(decls, ident, "src_zp", s.q.zero_point, s)?;
    let what = format!("{} * LF_OUTPUT_SCALE", sci(s.q.scale));
    let m = w.rescales(decls, ident, "", &[*rescale], &what)?;
    let i = Expr::var("i");
    let value = m.apply(x.index(i.clone()).minus(zp), i);
    let notes = [vec![w.note("x", *src)], cx.acc_note].concat();
    let c = w.common(ident, cx.instr, notes, cx.decls);
    let l = DequantizeL {
        value: value.to_string(),
    };
    w.construct(&(&c, &l))
}
