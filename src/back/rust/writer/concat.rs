//! `Concat` in the Rust back end: one loop per block, as the C back end
//! prints it (`back/c/emit/concat.rs`): a copy, a constant block, or
//! `clamp(rescale(x - zp_src) + zp_dst)`.

use super::{clamped, fail, Writer};
use crate::ir::concat::{Piece, PieceSrc};
use crate::ir::{Rescale, TensorId};
use crate::Result;

/// `i + at` (or `i`); `at` itself in a one-element block (`single`).
fn offset(at: usize, single: bool) -> String {
    match (single, at) {
        (true, _) => at.to_string(),
        (false, 0) => "i".into(),
        (false, _) => format!("i + {at}"),
    }
}

impl Writer<'_> {
    pub(super) fn concat(
        &mut self,
        ident: &str,
        dst: TensorId,
        pieces: &[Piece],
        consts: &[i64],
        clamp: Option<(i64, i64)>,
    ) -> Result<Vec<String>> {
        let zd = self.program.tensor(dst).q.zero_point;
        let mut requant: Vec<(TensorId, Rescale)> = Vec::new();
        for p in pieces {
            if let PieceSrc::Tensor { id, rescale } = p.src {
                let zs = self.program.tensor(id).q.zero_point;
                if !p.is_copy(zs, zd) && !requant.contains(&(id, rescale)) {
                    requant.push((id, rescale));
                }
            }
        }
        let y = self.buf(dst)?;
        let muls = if requant.is_empty() {
            None
        } else {
            self.helpers.rescale = true;
            let rs: Vec<Rescale> = requant.iter().map(|r| r.1).collect();
            Some(self.muls(ident, "", &rs, "s(source) / s(y), per requantized source")?)
        };
        let zs: Vec<i64> = requant
            .iter()
            .map(|(id, _)| self.program.tensor(*id).q.zero_point)
            .collect();
        let zps = if zs.iter().all(|&z| z == 0) {
            None
        } else {
            Some(self.per_elem(ident, "src_zp", &zs, "zero point per requantized source"))
        };
        let (zp, limits) = if requant.is_empty() {
            (None, None)
        } else {
            (self.zp(ident, "zp", zd), self.clamp_limits(ident, clamp)?)
        };
        let table = if pieces.iter().any(|p| p.src == PieceSrc::Const) {
            Some(self.per_elem(
                ident,
                "const",
                consts,
                "constant blocks, in y's quantization",
            ))
        } else {
            None
        };
        let mut out = Vec::new();
        for p in pieces {
            let b = p.block;
            let one = b.len == 1;
            let value = match p.src {
                PieceSrc::Const => match &table {
                    Some(t) => t.at(&offset(b.from, one)),
                    None => return fail("Concat: constant block without constants"),
                },
                PieceSrc::Tensor { id, rescale } => {
                    let x = format!("{}[{}]", self.buf(id)?, offset(b.from, one));
                    if p.is_copy(self.program.tensor(id).q.zero_point, zd) {
                        x
                    } else {
                        let k = requant.iter().position(|r| *r == (id, rescale)).unwrap();
                        let v = match &zps {
                            Some(z) => format!("{x} - {}", z.at(&k.to_string())),
                            None => x,
                        };
                        let mut r = muls.as_ref().unwrap().apply(&v, &k.to_string());
                        if let Some(z) = &zp {
                            r = format!("{r} + {z}");
                        }
                        clamped(r, &limits)
                    }
                }
            };
            let store = format!("{y}[{}] = {value};", offset(b.at, one));
            if one {
                out.push(store);
            } else {
                out.push(format!("for i in 0..{} {{", b.len));
                out.push(format!("    {store}"));
                out.push("}".into());
            }
        }
        Ok(out)
    }
}
