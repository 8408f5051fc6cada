//! `Quantize`: the `s64` model input, clamped to the declared domain, to
//! the first tensor's quantization; through an index map (`pick`) when a
//! Slice or Gather of the input is read in place.

use super::{wrong_kind, Cx};
use crate::back::c::expr::Expr;
use crate::back::c::namer::macro_name;
use crate::back::c::templates::{InPlace, QuantizeL};
use crate::back::c::writer::{fail, sci, Writer};
use crate::back::lower::Form;
use crate::back::lower_input::{reads_input_in_place, INPUT_POINTER};
use crate::ir::InstrKind;
use crate::Result;

pub(super) const SUFFIXES: &[&str] = &[
    "in_lo", "in_hi", "shift", "mul", "rescale", "zp", "pick", "len",
];

pub(super) fn emit(w: &mut Writer, mut cx: Cx) -> Result<(String, String)> {
    let InstrKind::Quantize {
        dst,
        in_lo,
        in_hi,
        rescale,
        pick,
    } = &cx.instr.kind
    else {
        return wrong_kind(&cx, "Quantize");
    };
    let p = w.program;
    let t = w.tensor(*dst)?;
    let n = pick.as_ref().map_or(p.input_len, |m| m.len());
    if t.len != n
        || in_lo.len() != n
        || in_hi.len() != n
        || pick
            .as_ref()
            .is_some_and(|m| m.iter().any(|&j| j >= p.input_len))
    {
        return fail(format!(
            "Quantize of {} inputs: dst has {}, domain {}/{}, or an index past the input",
            p.input_len,
            t.len,
            in_lo.len(),
            in_hi.len()
        ));
    }
    if in_lo.iter().zip(in_hi).any(|(lo, hi)| lo > hi) {
        return fail("Quantize: empty input domain");
    }
    let form = w.plan.steps[cx.k].form;
    let in_place = reads_input_in_place(&cx.instr.kind, form, t.q.zero_point);
    w.helpers.clamp_flag = !in_place;
    w.helpers.clamp |= in_place;
    w.helpers.rescale = true;
    let (d, ident) = (&mut cx.decls, cx.ident.as_str());
    let dst_buf = w.buf(*dst)?;
    let lo = w.per_elem(d, ident, "in_lo", in_lo, "lowest input, input units")?;
    let hi = w.per_elem(d, ident, "in_hi", in_hi, "highest input, input units")?;
    let what = format!("1 / (LF_INPUT_SCALE * {})", sci(t.q.scale));
    if rescale.len() != 1 && rescale.len() != n {
        return fail(format!(
            "Quantize: {} rescales for {n} inputs",
            rescale.len()
        ));
    }
    let mul = w.rescales(d, ident, "", rescale, &what)?;
    let zp = w.zp_term(d, ident, "zp", t.q.zero_point, t)?;
    let picks: Vec<i64> = pick.iter().flatten().map(|&j| j as i64).collect();
    let pick_arr = match (pick, w.plan.steps[cx.k].form) {
        (Some(_), Form::Loop) => Some(w.per_elem(d, ident, "pick", &picks, "input index read")?),
        _ => None,
    };
    let len = match pick {
        Some(_) => d.define(macro_name(ident, "len"), n.to_string(), None)?,
        None => Expr::name("LF_INPUT_LEN"),
    };
    let input_at = |i: &Expr| -> Expr {
        match (pick, &pick_arr, i) {
            (Some(m), _, Expr::Int(k)) => Expr::var("in").at(m[*k as usize]),
            (Some(_), Some(a), _) => Expr::var("in").index(a.at(i.clone())),
            _ => Expr::var("in").index(i.clone()),
        }
    };
    let value = |i: Expr| {
        let x = Expr::call(
            "lf_clamp_flag",
            vec![
                input_at(&i),
                lo.at(i.clone()),
                hi.at(i.clone()),
                Expr::var("&flags"),
                Expr::var("LF_INFER_DRIFT"),
            ],
        );
        // An identity rescale (the inputs already fit) is left out.
        let x = if rescale.iter().all(|r| r.is_identity()) {
            x
        } else {
            mul.apply(x, i)
        };
        x.plus(zp.clone())
    };
    // In place: only the domain is checked, straight-line; the clamped
    // copy, a loop, only when an input was outside it.
    let in_place = in_place.then(|| InPlace {
        checks: (0..n)
            .map(|i| {
                let (x, i) = (input_at(&Expr::Int(i as i64)), Expr::Int(i as i64));
                format!(
                    "flags |= (({x} < {}) | ({x} > {})) * LF_INFER_DRIFT",
                    lo.at(i.clone()),
                    hi.at(i)
                )
            })
            .collect(),
        clamped: Expr::call(
            "lf_clamp",
            vec![
                input_at(&Expr::var("i")),
                lo.at(Expr::var("i")),
                hi.at(Expr::var("i")),
            ],
        )
        .to_string(),
        pointer: INPUT_POINTER.into(),
    });
    // Straight-line for short inputs: the bounds become immediates.
    let unrolled = match form {
        Form::StraightLine if in_place.is_none() => (0..n)
            .map(|i| format!("{} = {}", dst_buf.clone().at(i), value(Expr::Int(i as i64))))
            .collect(),
        _ => Vec::new(),
    };
    let notes = [vec![w.note("dst", *dst)], cx.acc_note].concat();
    let c = w.common(ident, cx.instr, notes, cx.decls);
    let l = QuantizeL {
        len: len.to_string(),
        dst: dst_buf.to_string(),
        value: value(Expr::var("i")).to_string(),
        unrolled,
        in_place,
    };
    let out = w.construct(&(&c, &l));
    if l.in_place.is_some() {
        w.input_in_place = Some(*dst);
    }
    out
}
