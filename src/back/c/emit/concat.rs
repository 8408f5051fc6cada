//! `Concat`: a multi-source block copy. Each piece is one loop over a
//! contiguous block: a copy, a constant block, or a requantization
//! `clamp(rescale(x - zp_src) + zp_dst)` into the destination's scale.

use super::{wrong_kind, Cx};
use crate::back::c::expr::{Expr, PerElem};
use crate::back::c::templates::{ConcatL, ConcatPiece};
use crate::back::c::writer::{comment, fail, Clamp, Writer};
use crate::ir::concat::PieceSrc;
use crate::ir::{InstrKind, Rescale, TensorId};
use crate::Result;

pub(super) const SUFFIXES: &[&str] = &[
    "shift", "mul", "rescale", "src_zp", "zp", "qmin", "qmax", "const",
];

/// `i + at` (or `i`; `at` itself for a one-element block, `i` = 0).
fn offset(i: &Expr, at: usize) -> Expr {
    match i {
        Expr::Int(v) => Expr::Int(v + at as i64),
        _ if at == 0 => i.clone(),
        _ => i.clone().plus(Some(Expr::Int(at as i64))),
    }
}

pub(super) fn emit(w: &mut Writer, mut cx: Cx) -> Result<(String, String)> {
    let InstrKind::Concat {
        dst,
        pieces,
        consts,
        clamp,
    } = &cx.instr.kind
    else {
        return wrong_kind(&cx, "Concat");
    };
    let d = w.tensor(*dst)?;
    let zd = d.q.zero_point;
    // The requantized sources, in order of first use: their rescale and
    // zero point are indexed by position.
    let mut requant: Vec<(TensorId, Rescale)> = Vec::new();
    for p in pieces {
        if let PieceSrc::Tensor { id, rescale } = p.src {
            if w.same_buffer(id, *dst) {
                return fail("Concat: a source shares the destination's buffer");
            }
            let zs = w.tensor(id)?.q.zero_point;
            if !p.is_copy(zs, zd) && !requant.contains(&(id, rescale)) {
                requant.push((id, rescale));
            }
        }
    }
    let (decls, ident) = (&mut cx.decls, cx.ident.as_str());
    let y = w.buf(*dst)?;
    let (rs, zps) = if requant.is_empty() {
        (None, None)
    } else {
        w.helpers.rescale = true;
        let rs: Vec<Rescale> = requant.iter().map(|r| r.1).collect();
        let what = format!(
            "s(source) / s(\"{}\"), per requantized source",
            comment(&d.name)
        );
        let m = w.rescales(decls, ident, "", &rs, &what)?;
        let zs: Vec<i64> = requant
            .iter()
            .map(|(id, _)| w.tensor(*id).map(|t| t.q.zero_point))
            .collect::<Result<_>>()?;
        let z = if zs.iter().all(|&z| z == 0) {
            None
        } else {
            Some(w.per_elem(
                decls,
                ident,
                "src_zp",
                &zs,
                "zero point per requantized source",
            )?)
        };
        (Some(m), z)
    };
    let (zp, limits) = if requant.is_empty() {
        (None, None)
    } else {
        (
            w.zp_term(decls, ident, "zp", zd, d)?,
            w.clamp_limits(decls, ident, *clamp)?,
        )
    };
    let table = if pieces.iter().any(|p| p.src == PieceSrc::Const) {
        Some(w.per_elem(
            decls,
            ident,
            "const",
            consts,
            &format!(
                "constant blocks, in the quantization of \"{}\"",
                comment(&d.name)
            ),
        )?)
    } else {
        None
    };
    let mut out = Vec::with_capacity(pieces.len());
    let mut notes = vec![w.note("y", *dst)];
    for p in pieces {
        let b = p.block;
        let i = if b.len == 1 {
            Expr::Int(0)
        } else {
            Expr::var("i")
        };
        let value = match p.src {
            PieceSrc::Const => match &table {
                Some(PerElem::Array(a)) => a.clone().index(offset(&i, b.from)),
                Some(PerElem::Uniform(u)) => u.clone(),
                None => return fail("Concat: constant block without constants"),
            },
            PieceSrc::Tensor { id, rescale } => {
                let x = w.buf(id)?.index(offset(&i, b.from));
                let zs = w.tensor(id)?.q.zero_point;
                if p.is_copy(zs, zd) {
                    x
                } else {
                    let k = requant.iter().position(|r| *r == (id, rescale)).unwrap();
                    let ke = Expr::Int(k as i64);
                    let v = x.minus(zps.as_ref().map(|z| z.at(ke.clone())));
                    let r = rs.as_ref().unwrap().apply(v, ke);
                    Clamp::apply(&limits, r.plus(zp.clone()))
                }
            }
        };
        if let PieceSrc::Tensor { id, .. } = p.src {
            let n = w.note("src", id);
            if !notes.contains(&n) {
                notes.push(n);
            }
        }
        out.push(ConcatPiece {
            len: (b.len > 1).then(|| b.len.to_string()),
            dst: y.clone().index(offset(&i, b.at)).to_string(),
            value: value.to_string(),
        });
    }
    let notes = [notes, cx.acc_note].concat();
    let c = w.common(ident, cx.instr, notes, cx.decls);
    w.construct(&(&c, &ConcatL { pieces: out }))
}
