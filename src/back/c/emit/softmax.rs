//! `Softmax` over groups of the last axis: exp table, normalised sum,
//! Newton reciprocal (the helper `lf_softmax_recip`), no division. The
//! exact semantics are `ir::program::softmax_group`.

use super::lut::{parts, Io};
use super::{wrong_kind, Cx};
use crate::back::c::expr::{BinOp, Expr};
use crate::back::c::namer::macro_name;
use crate::back::c::templates::{SoftmaxConsts, SoftmaxL};
use crate::back::c::writer::{c_define_int, c_int, fail, Writer};
use crate::ir::program::softmax_consts as k;
use crate::ir::InstrKind;
use crate::Result;

pub(super) const SUFFIXES: &[&str] = &[
    "len",
    "axis",
    "out_frac",
    "zp",
    "qmax",
    "lo",
    "hi",
    "range",
    "step_shift",
    "frac_mask",
    "table",
    "base",
    "delta",
    "exp",
];

pub(super) fn emit(w: &mut Writer, mut cx: Cx) -> Result<(String, String)> {
    let InstrKind::Softmax {
        src,
        dst,
        axis_len,
        exp_lut,
        out_frac,
    } = &cx.instr.kind
    else {
        return wrong_kind(&cx, "Softmax");
    };
    let (s, d) = (w.tensor(*src)?, w.tensor(*dst)?);
    if s.len != d.len || *axis_len == 0 || s.len % axis_len != 0 {
        return fail(format!(
            "Softmax from {} into {} elements in groups of {axis_len}",
            s.len, d.len
        ));
    }
    let q = k::NORM_BITS + 1 + k::RECIP_FRAC;
    if *out_frac + k::EXP_FRAC + 1 > q {
        return fail(format!("Softmax out_frac {out_frac} too large"));
    }
    w.uses_g = true;
    w.helpers.rescale = true;
    w.helpers.softmax = Some(SoftmaxConsts {
        norm_bits: k::NORM_BITS,
        norm_shift: k::NORM_BITS + 1,
        recip_frac: k::RECIP_FRAC,
        seed_c1: c_int(k::SEED_C1),
        seed_c2: c_int(k::SEED_C2),
        newton_steps: k::NEWTON_STEPS,
        q,
    });
    let ident = cx.ident.clone();
    let decls = &mut cx.decls;
    let x = w.buf(*src)?;
    let y = w.buf(*dst)?;
    let len = decls.define(macro_name(&ident, "len"), s.len.to_string(), None)?;
    let axis = decls.define(
        macro_name(&ident, "axis"),
        axis_len.to_string(),
        Some("elements per softmax group".into()),
    )?;
    let out_frac_m = decls.define(
        macro_name(&ident, "out_frac"),
        out_frac.to_string(),
        Some(format!("probabilities in Q{out_frac}")),
    )?;
    let zp = w.zp_term(decls, &ident, "zp", d.q.zero_point, d)?;
    let qmax = decls.define(macro_name(&ident, "qmax"), c_define_int(d.q.qmax), None)?;
    // x - max(x) over the source's proven range.
    let (l, h) = w.info.tensor_bounds[src.index()];
    let io = Io {
        len: len.to_string(),
        src: x.to_string(),
        dst: y.to_string(),
    };
    let lut = parts(
        w,
        decls,
        &ident,
        (format!("{ident}_exp"), false),
        exp_lut,
        (l - h, 0),
        io,
    )?;
    // p = e * r / 2^(Q - k - out_frac), rounded once, plus the zero point.
    let shift = Expr::name("LF_SOFTMAX_Q")
        .bin(BinOp::Sub, Expr::var("k"))
        .bin(BinOp::Sub, out_frac_m);
    let value = Expr::var("y")
        .index(Expr::var("i"))
        .rescale(Expr::var("r"), shift)
        .plus(zp);
    let notes = [vec![w.note("x", *src), w.note("y", *dst)], cx.acc_note].concat();
    let c = w.common(&ident, cx.instr, notes, cx.decls);
    let l = SoftmaxL {
        lut,
        exp_frac: k::EXP_FRAC,
        len: len.to_string(),
        axis: axis.to_string(),
        src: x.to_string(),
        dst: y.to_string(),
        value: value.to_string(),
        qmax: qmax.to_string(),
    };
    w.construct(&(&c, &l))
}
