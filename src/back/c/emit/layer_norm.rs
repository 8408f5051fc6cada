//! `LayerNorm`: per group, the sum, the centred values `n * x - sum`, their
//! sum of squares plus epsilon, the reciprocal square root by the helper
//! `lf_layer_norm_rsqrt` (seed and Newton steps, no division), then the
//! scaled values or `1 / sqrt(var + eps)`. The exact semantics are
//! `ir::layer_norm::group`.

use super::{wrong_kind, Cx};
use crate::back::c::expr::{BinOp, Expr};
use crate::back::c::namer::macro_name;
use crate::back::c::templates::{LayerNormConsts, LayerNormL};
use crate::back::c::writer::{c_define_int, c_int, fail, Clamp, Writer};
use crate::ir::layer_norm::{self as ln, NormOut, Z_FRAC};
use crate::ir::InstrKind;
use crate::Result;

pub(super) const SUFFIXES: &[&str] = &[
    "groups", "axis", "eps", "centre", "shift", "mul", "add", "zp", "qmin", "qmax",
];

pub(super) fn emit(w: &mut Writer, mut cx: Cx) -> Result<(String, String)> {
    let InstrKind::LayerNorm {
        src,
        dst,
        axis_len,
        eps,
        centre,
        denom,
        out,
        clamp,
    } = &cx.instr.kind
    else {
        return wrong_kind(&cx, "LayerNorm");
    };
    let (s, d) = (w.tensor(*src)?, w.tensor(*dst)?);
    let per_group = matches!(out, NormOut::InvStd { .. });
    let want = if per_group {
        s.len / (*axis_len).max(1)
    } else {
        s.len
    };
    if *axis_len == 0 || s.len % axis_len != 0 || d.len != want || w.same_buffer(*src, *dst) {
        return fail("LayerNorm: lengths or buffers do not match");
    }
    w.uses_g = true;
    w.helpers.rescale = true;
    w.helpers.layer_norm = Some(LayerNormConsts {
        t_min_bits: ln::T_MIN_BITS,
        frac: ln::RSQRT_FRAC,
        frac1: ln::RSQRT_FRAC + 1,
        seed_c1: c_int(ln::SEED_C1),
        seed_c2: c_int(ln::SEED_C2),
        newton_steps: ln::NEWTON_STEPS,
        z_shift: 45 - ln::Z_FRAC,
        z_frac: ln::Z_FRAC,
    });
    let ident = cx.ident.clone();
    let decls = &mut cx.decls;
    let x = w.buf(*src)?;
    let y = w.buf(*dst)?;
    let groups = decls.define(
        macro_name(&ident, "groups"),
        (s.len / axis_len).to_string(),
        None,
    )?;
    let axis = decls.define(
        macro_name(&ident, "axis"),
        axis_len.to_string(),
        Some("elements per normalised group (n)".into()),
    )?;
    let eps_m = decls.define(
        macro_name(&ident, "eps"),
        c_define_int(*eps),
        Some("epsilon * n^3 / s_x^2, added to the sum of squares".into()),
    )?;
    let centre_m = match centre {
        Some(z) => Some(decls.define(
            macro_name(&ident, "centre"),
            c_define_int(*axis_len as i64 * z),
            Some("n * the source zero point: centred on the real 0 (L2)".into()),
        )?),
        None => None,
    };
    let zp = w.zp_term(decls, &ident, "zp", d.q.zero_point, d)?;
    let limits = w.clamp_limits(decls, &ident, *clamp)?;
    let (v, note) = match out {
        NormOut::Scaled { mul, add, shift } => {
            w.helpers.rescale_sum = true;
            let sh = decls.define(macro_name(&ident, "shift"), shift.to_string(), None)?;
            let m = w.per_elem(
                decls,
                &ident,
                "mul",
                mul,
                "sqrt(n) * scale / s_y * 2^(shift - 30)",
            )?;
            let a = w.per_elem(decls, &ident, "add", add, "bias / s_y * 2^shift")?;
            let i = Expr::var("i");
            let v = Expr::call(
                "lf_rescale_sum",
                vec![Expr::var("z"), m.at(i.clone()), a.at(i), Expr::Int(1), sh],
            );
            (v, format!("z = (n * x - sum) / sqrt(T) in Q{Z_FRAC}"))
        }
        NormOut::InvStd { mul, shift } => {
            decls.define(
                macro_name(&ident, "mul"),
                c_define_int(*mul),
                Some("n^1.5 / (s_x * s_y) * 2^(shift - 45)".into()),
            )?;
            decls.define(
                macro_name(&ident, "shift"),
                shift.to_string(),
                Some("plus k, the normalising shift of T".into()),
            )?;
            (
                Expr::var("v"),
                "1 / sqrt(T) = r * 2^(-45 - k); 0 once the shift passes 62".into(),
            )
        }
    };
    let value = Clamp::apply(&limits, v.plus(zp)).to_string();
    let inv = |suffix| macro_name(&ident, suffix);
    let (inv_mul, inv_shift) = (inv("mul"), inv("shift"));
    let centred = Expr::var("n")
        .mul(Expr::var("x").index(Expr::var("i")))
        .bin(BinOp::Sub, Expr::var("sum"));
    let notes = [
        vec![w.note("x", *src), w.note("y", *dst), note],
        cx.acc_note,
    ]
    .concat();
    let c = w.common(&ident, cx.instr, notes, cx.decls);
    let l = LayerNormL {
        groups: groups.to_string(),
        axis: axis.to_string(),
        eps: eps_m.to_string(),
        src: x.to_string(),
        dst: y.to_string(),
        centred: centred.to_string(),
        sum: match centre_m {
            Some(c) => format!("sum = {c};"),
            None => "for (i = 0; i < n; i++)\n\t\t\tsum += x[i];".into(),
        },
        denom: match denom {
            ln::Denom::SumSquares => "squares",
            ln::Denom::AbsSum => "abs_sum",
            ln::Denom::MaxAbs => "max_abs",
        },
        per_group,
        inv_mul,
        inv_shift,
        value,
    };
    w.construct(&(&c, &l))
}
