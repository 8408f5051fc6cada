//! `LayerNorm` in the Rust back end, as the C back end prints it
//! (`back/c/emit/layer_norm.rs`): sum, centred values, sum of squares plus
//! epsilon, `lf_layer_norm_rsqrt`, then the scaled values or the inverse
//! deviation. The exact semantics are `ir::layer_norm::group`.

use super::{clamped, fail, lit, Writer};
use crate::back::c;
use crate::ir::layer_norm::{self as ln, NormOut};
use crate::ir::TensorId;
use crate::Result;

/// The helper, with the constants of `ir::layer_norm`.
pub(super) fn helper() -> String {
    format!(
        "/// Layer normalisation's reciprocal square root without division (see the C
/// snapshot's lf_layer_norm_rsqrt): T (0 read as 1) = t * 4^k, t in [2^{b}, 2^{b2}),
/// r ~= 2^45 / sqrt(t) in Q{f} from the minimax linear seed and {steps} Newton steps.
#[inline(always)]
fn lf_layer_norm_rsqrt(t: i64) -> (i64, i32) {{
    let mut t = if t < 1 {{ 1 }} else {{ t }};
    let mut k = 0i32;
    while t >= 1i64 << {b2} {{
        t >>= 2;
        k += 1;
    }}
    while t < 1i64 << {b} {{
        t <<= 2;
        k -= 1;
    }}
    let mut r = {c1} - (({c2} * t) >> {f});
    for _ in 0..{steps} {{
        let r2 = (r * r) >> {f}; // r^2, Q{f}
        let yr2 = (t * r2) >> {f}; // y * r^2, Q{f}
        r = (r * ((3i64 << {f}) - yr2)) >> {f1};
    }}
    (r, k)
}}",
        b = ln::T_MIN_BITS,
        b2 = ln::T_MIN_BITS + 2,
        f = ln::RSQRT_FRAC,
        f1 = ln::RSQRT_FRAC + 1,
        c1 = ln::SEED_C1,
        c2 = ln::SEED_C2,
        steps = ln::NEWTON_STEPS,
    )
}

impl Writer<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn layer_norm(
        &mut self,
        ident: &str,
        src: TensorId,
        dst: TensorId,
        axis_len: usize,
        (eps, centre, denom): (i64, Option<i64>, ln::Denom),
        out: &NormOut,
        clamp: Option<(i64, i64)>,
    ) -> Result<Vec<String>> {
        let n = self.len(src);
        let per_group = matches!(out, NormOut::InvStd { .. });
        let want = if per_group { n / axis_len.max(1) } else { n };
        if axis_len == 0 || n % axis_len != 0 || self.len(dst) != want {
            return fail("LayerNorm: lengths disagree");
        }
        if self.info.tensor_buffer[src.index()] == self.info.tensor_buffer[dst.index()] {
            return fail("LayerNorm src and dst share a buffer");
        }
        self.helpers.layer_norm = true;
        self.helpers.rescale = true;
        let (x, y) = (self.buf(src)?, self.buf(dst)?);
        let name = |s: &str| c::namer::macro_name(ident, s);
        let e = self.konst(
            name("eps"),
            "i64",
            lit(eps),
            Some("epsilon * n^3 / s_x^2, added to the sum of squares".into()),
        );
        let zp = self
            .zp(ident, "zp", self.program.tensor(dst).q.zero_point)
            .map(|z| format!(" + {z}"))
            .unwrap_or_default();
        let limits = self.clamp_limits(ident, clamp)?;
        let groups = n / axis_len;
        // `next()` on chunks and plain loops, not `enumerate`, `zip` or
        // `sum`: see `Helpers::render` (no unwind table).
        let mut lines = vec![
            format!("// per group of {axis_len}: c = n * x - sum, T = sum c^2 + eps, r = 2^45 / sqrt(T / 4^k)."),
            format!("let mut xs = {x}[..{n}].chunks_exact({axis_len});"),
            if per_group {
                format!("let mut ys = {y}[..{groups}].iter_mut();")
            } else {
                format!("let mut ys = {y}[..{n}].chunks_exact_mut({axis_len});")
            },
            "while let (Some(x), Some(y)) = (xs.next(), ys.next()) {".into(),
            format!("    let n = {axis_len}i64;"),
        ];
        match centre {
            None => lines.extend([
                "    let mut sum = 0i64;".to_string(),
                "    for &v in x {".into(),
                "        sum += v;".into(),
                "    }".into(),
            ]),
            Some(z) => {
                let c = self.konst(
                    name("centre"),
                    "i64",
                    lit(axis_len as i64 * z),
                    Some("n * the source zero point: centred on the real 0 (L2)".into()),
                );
                lines.push(format!("    let sum: i64 = {c};"));
            }
        }
        lines.push("    let mut ss = 0i64;".to_string());
        lines.extend(match denom {
            ln::Denom::SumSquares => vec![
                "    for &v in x {".to_string(),
                "        ss += (n * v - sum) * (n * v - sum);".into(),
                "    }".into(),
            ],
            // (sum |c|)^2 or (max |c|)^2 (L1, MAX): no `abs()` call.
            d => vec![
                "    for &v in x {".to_string(),
                "        let c = n * v - sum;".into(),
                "        let a = if c < 0 { -c } else { c };".into(),
                if d == ln::Denom::AbsSum {
                    "        ss += a;".into()
                } else {
                    "        if a > ss { ss = a; }".into()
                },
                "    }".into(),
                "    ss *= ss;".into(),
            ],
        });
        lines.push(format!("    let (r, k) = lf_layer_norm_rsqrt(ss + {e});"));
        match out {
            NormOut::Scaled { mul, add, shift } => {
                self.helpers.rescale_sum = true;
                let sh = self.konst(name("shift"), "u32", shift.to_string(), None);
                let m = self.per_elem(ident, "mul", mul, "sqrt(n) * scale / s_y * 2^(shift - 30)");
                let a = self.per_elem(ident, "add", add, "bias / s_y * 2^shift");
                let v = format!(
                    "lf_rescale_sum(z, {}, {}, 1, {sh}){zp}",
                    m.at("j"),
                    a.at("j")
                );
                lines.extend([
                    format!("    for j in 0..{axis_len} {{"),
                    format!(
                        "        let z = lf_rescale(n * x[j] - sum, r, ({} + k) as u32);",
                        45 - ln::Z_FRAC
                    ),
                    format!("        y[j] = {};", clamped(v, &limits)),
                    "    }".into(),
                ]);
            }
            NormOut::InvStd { mul, shift } => {
                let m = self.konst(
                    name("mul"),
                    "i64",
                    lit(*mul),
                    Some("n^1.5 / (s_x * s_y) * 2^(shift - 45)".into()),
                );
                let sh = self.konst(name("shift"), "i32", shift.to_string(), None);
                lines.extend([
                    format!("    let sh = {sh} + k;"),
                    format!(
                        "    let v = if sh > 62 {{ 0 }} else {{ lf_rescale(r, {m}, sh as u32) }};"
                    ),
                    format!("    *y = {};", clamped(format!("v{zp}"), &limits)),
                ]);
            }
        }
        lines.push("}".into());
        Ok(lines)
    }
}
