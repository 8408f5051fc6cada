//! `Lut`: `y = table(x)` with linear interpolation, through a `static
//! inline` lookup function (which a fused Dense layer calls itself).
//! [`parts`] also declares the exp table of `Softmax`.

use super::{wrong_kind, Cx};
use crate::back::c::expr::Expr;
use crate::back::c::namer::macro_name;
use crate::back::c::templates::{Array, LutAvx2, LutFn, LutFnT, LutL};
use crate::back::c::writer::{
    c_define_int, c_int, check_lut, ctype_for, fail, min_max, render, sci, wrap, Decls, Writer,
};
use crate::back::lower_lut::{deltas, lut_form, LutForm};
use crate::ir::{InstrKind, Lut};
use crate::Result;

pub(super) const SUFFIXES: &[&str] = &[
    "len",
    "lo",
    "hi",
    "range",
    "step_shift",
    "frac_mask",
    "table",
    "base",
    "delta",
];

pub(super) fn emit(w: &mut Writer, mut cx: Cx) -> Result<(String, String)> {
    let InstrKind::Lut { src, dst, lut } = &cx.instr.kind else {
        return wrong_kind(&cx, "Lut");
    };
    let (s, d) = (w.tensor(*src)?, w.tensor(*dst)?);
    if s.len != d.len {
        return fail(format!("Lut from {} into {} elements", s.len, d.len));
    }
    let k = cx.k;
    let fused = w.plan.steps[k].done_by_previous;
    // Fused: the Dense layer before reads nothing from here.
    let x = if fused {
        w.buf_name(*src)
    } else {
        w.buf(*src)?
    };
    let y = w.buf(*dst)?;
    let ident = cx.ident.clone();
    let len = cx
        .decls
        .define(macro_name(&ident, "len"), s.len.to_string(), None)?;
    let bounds = w.info.tensor_bounds[src.index()];
    let io = Io {
        len: len.to_string(),
        src: x.to_string(),
        dst: y.to_string(),
    };
    // Fused into a Dense layer that finishes its outputs in AVX2 lanes:
    // the table is looked up in lanes too (lower::plan_simd decided it).
    let vector = fused && w.plan.steps[k - 1].simd.is_some_and(|d| d.tail);
    let mut l = parts(
        w,
        &mut cx.decls,
        &ident,
        (ident.clone(), vector),
        lut,
        bounds,
        io,
    )?;
    if fused {
        l.fused_into = Some(w.idents[k - 1].trim_start_matches("lf_").to_string());
    }
    let notes = [vec![w.note("x", *src), w.note("y", *dst)], cx.acc_note].concat();
    let c = w.common(&ident, cx.instr, notes, cx.decls);
    w.construct(&(&c, &l))
}

/// The loop a table template prints: its length, source and destination.
pub(super) struct Io {
    pub len: String,
    pub src: String,
    pub dst: String,
}

/// A table's `#define`s, arrays and lookup function `fn_name` (and its
/// AVX2 form `<fn_name>_avx2` when `vector`), and what the Lut template
/// prints. `src_bounds` are the proven bounds of what the function is
/// called on (the clamp is left out where they fit).
pub(super) fn parts(
    w: &mut Writer,
    decls: &mut Decls,
    ident: &str,
    (fn_name, vector): (String, bool),
    lut: &Lut,
    src_bounds: (i64, i64),
    io: Io,
) -> Result<LutL> {
    check_lut(lut)?;
    let interp = lut.step_shift > 0;
    let form = lut_form(lut, vector);
    let folded = matches!(form, LutForm::Folded { .. });
    w.helpers.rescale |= interp && !folded;
    let lo = decls.define(macro_name(ident, "lo"), c_define_int(lut.lo), None)?;
    let hi = decls.define(macro_name(ident, "hi"), c_define_int(lut.hi), None)?;
    let range = hi.clone().minus(Some(lo.clone()));
    let range = decls.define(macro_name(ident, "range"), format!("({range})"), None)?;
    let step_shift = macro_name(ident, "step_shift");
    let frac_mask = macro_name(ident, "frac_mask");
    if interp {
        decls.define(
            step_shift.clone(),
            lut.step_shift.to_string(),
            Some("entries are 2^step_shift inputs apart".into()),
        )?;
    }
    if interp && !folded {
        decls.define(
            frac_mask.clone(),
            format!("(((s64)1 << {step_shift}) - 1)"),
            None,
        )?;
    }
    let table = Expr::name(format!("{ident}_table"));
    let mut table_t = String::from("s64");
    let base = Expr::name(format!("{ident}_base"));
    match &form {
        LutForm::Plain => {
            let (tlo, thi) = min_max(&lut.table);
            let (a, n) = padded(ctype_for(tlo, thi), &lut.table, table.to_string(), vector);
            table_t = a.ctype.clone();
            decls.array(a, n)?;
        }
        LutForm::Folded { base: b } => {
            let (blo, bhi) = min_max(b);
            let (a, n) = padded(ctype_for(blo, bhi), b, base.to_string(), false);
            decls.array(a, n)?;
        }
    }
    let delta = Expr::name(format!("{ident}_delta"));
    let mut delta_t = String::from("s64");
    if interp {
        let d = deltas(lut);
        let (dlo, dhi) = min_max(&d);
        let (a, n) = padded(ctype_for(dlo, dhi), &d, delta.to_string(), vector);
        delta_t = a.ctype.clone();
        decls.array(a, n)?;
    }
    let f = LutFn {
        name: fn_name.clone(),
        func: lut.func.name().into(),
        table: table.to_string(),
        delta: delta.to_string(),
        lo: lo.to_string(),
        hi: hi.to_string(),
        range: range.to_string(),
        interp,
        folded,
        wrap_return: 8 + format!("return ({base}[k] + {delta}[k] * d) >> {step_shift};").len()
            > 100,
        base: base.to_string(),
        step_shift,
        frac_mask,
        clamp_lo: src_bounds.0 < lut.lo,
        clamp_hi: src_bounds.1 > lut.hi,
    };
    decls.push(render(LutFnT { f: &f })?);
    if vector {
        let idx = if interp { "k" } else { "d" };
        decls.push(render(LutAvx2 {
            f: &f,
            table_at: gather(&table_t, &f.table, idx)?,
            delta_at: gather(&delta_t, &f.delta, "k")?,
        })?);
    }
    Ok(LutL {
        func: lut.func.name().into(),
        lo_value: lut.lo,
        hi_value: lut.hi,
        entries: lut.table.len(),
        interp,
        step_shift_value: lut.step_shift,
        max_error: sci(lut.max_error),
        len: io.len,
        src: io.src,
        dst: io.dst,
        fn_name,
        fused_into: None,
    })
}

/// A table of `values` and its entry count. For a 32-bit gather
/// (`vector`), s8 entries are stored as s16 and an s16 table gets one
/// entry of padding.
fn padded(ctype: &str, values: &[i64], name: String, vector: bool) -> (Array, usize) {
    let ctype = if vector && ctype == "s8" {
        "s16"
    } else {
        ctype
    };
    let mut items: Vec<String> = values.iter().map(|&v| c_int(v)).collect();
    if vector && ctype == "s16" {
        items.push("0 /* padding: lf_gather4_s16() reads 32 bits */".into());
    }
    let n = items.len();
    let a = Array {
        ctype: ctype.into(),
        name,
        dims: format!("[{n}]"),
        lines: wrap(&items, "\t"),
    };
    (a, n)
}

/// `lf_gather4_<t>(table, idx)`: the AVX2 lanes' entries of a table of
/// type `ctype` (`lower_simd::vector_lut` allowed s16 and s32 only).
fn gather(ctype: &str, table: &str, idx: &str) -> Result<String> {
    match ctype {
        "s16" => Ok(format!("lf_gather4_s16({table}, {idx})")),
        "s32" => Ok(format!("lf_gather4_s32({table}, {idx})")),
        _ => fail(format!(
            "{table}: {ctype} entries cannot be gathered in AVX2 lanes"
        )),
    }
}
