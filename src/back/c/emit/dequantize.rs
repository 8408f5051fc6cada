//! `Dequantize`: one output tensor to the `s64` model output at its
//! offset, at the decimal output scale (scale 1 for an integer output).

use super::{wrong_kind, Cx};
use crate::back::c::expr::Expr;
use crate::back::c::templates::DequantizeL;
use crate::back::c::writer::{fail, sci, Writer};
use crate::ir::InstrKind;
use crate::Result;

pub(super) const SUFFIXES: &[&str] = &["src_zp", "shift", "mul", "rescale", "guard_lo", "guard_hi"];

pub(super) fn emit(w: &mut Writer, mut cx: Cx) -> Result<(String, String)> {
    let InstrKind::Dequantize {
        src,
        rescale,
        offset,
    } = &cx.instr.kind
    else {
        return wrong_kind(&cx, "Dequantize");
    };
    let p = w.program;
    let s = w.tensor(*src)?;
    if offset + s.len > p.output_len {
        return fail(format!(
            "Dequantize of {} elements at {offset} for {} outputs",
            s.len, p.output_len
        ));
    }
    let integer = p
        .outputs
        .iter()
        .any(|o| o.offset == *offset && o.len == s.len && o.integer);
    let (decls, ident) = (&mut cx.decls, cx.ident.as_str());
    let x = w.buf(*src)?;
    let i = Expr::var("i");
    let value = if integer && rescale.is_identity() && s.q.zero_point == 0 {
        x.index(i.clone())
    } else {
        w.helpers.rescale = true;
        let zp = w.zp_term(decls, ident, "src_zp", s.q.zero_point, s)?;
        let what = format!("{} * LF_OUTPUT_SCALE", sci(s.q.scale));
        let m = w.rescales(decls, ident, "", &[*rescale], &what)?;
        m.apply(x.index(i.clone()).minus(zp), i.clone())
    };
    let (value, guard_note) = match (&p.output_guard, w.plan.steps[cx.k].guarded) {
        (Some(g), true) => {
            let g = g.get(*offset..*offset + s.len).ok_or_else(|| {
                crate::error::Error::Other("guardrail shorter than the outputs".into())
            })?;
            let lo: Vec<i64> = g.iter().map(|b| b.0).collect();
            let hi: Vec<i64> = g.iter().map(|b| b.1).collect();
            let glo = w.per_elem(decls, ident, "guard_lo", &lo, "guardrail, lowest output")?;
            let ghi = w.per_elem(decls, ident, "guard_hi", &hi, "guardrail, highest output")?;
            w.helpers.clamp_flag = true;
            let v = Expr::call(
                "lf_clamp_flag",
                vec![
                    value,
                    glo.at(i.clone()),
                    ghi.at(i.clone()),
                    Expr::var("&flags"),
                    Expr::var("LF_INFER_GUARD"),
                ],
            );
            let note = "The guardrail (--output-range): a value outside it is clamped,\n * and the query returns LF_INFER_GUARD (lf_kernel counts it).";
            (v, Some(note.to_string()))
        }
        _ => (value, None),
    };
    let whole = *offset == 0 && s.len == p.output_len;
    let len = if whole {
        "LF_OUTPUT_LEN".to_string()
    } else {
        s.len.to_string()
    };
    let target = match *offset {
        0 => Expr::var("out").index(i),
        o => Expr::var("out").index(Expr::Int(o as i64).plus(Some(i))),
    };
    let last = offset + s.len - 1;
    let scale_note = match (integer, whole) {
        (true, _) => format!(
            "An integer output at scale 1: out[{offset}..{last}] are the values themselves."
        ),
        (false, true) => "To the output scale: out[i] / LF_OUTPUT_SCALE is the real output.".into(),
        (false, false) => format!(
            "To the output scale: out[{offset}..{last}] / LF_OUTPUT_SCALE are the real output."
        ),
    };
    let notes = [vec![w.note("x", *src)], cx.acc_note].concat();
    let c = w.common(ident, cx.instr, notes, cx.decls);
    let l = DequantizeL {
        value: value.to_string(),
        guard_note,
        len,
        target: target.to_string(),
        scale_note,
    };
    w.construct(&(&c, &l))
}
