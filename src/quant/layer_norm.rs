//! Quantization of a layer normalisation ([`crate::ir::layer_norm`]): the
//! destination range comes from the maths (`|normalised| <= sqrt(n - 1)`,
//! `1 / sqrt(var + eps)` between its values at the largest and smallest
//! possible variance), not from interval arithmetic on a composed graph.

use super::fixed::{qparams, quantize_value};
use super::{qerr, Builder};
use crate::ir::graph::LayerNormOut;
use crate::ir::layer_norm::{Denom, NormOut, Z_FRAC};
use crate::ir::{InstrKind, QParams};
use crate::Result;

/// Relative margin on the proven real ranges for the rsqrt's error (below
/// 2^-26, see `ir::layer_norm`).
const RANGE_SLACK: f64 = 1.0 / (1u64 << 20) as f64;

/// The largest `s` with `m * 2^s < 2^bits` (for `m > 0`), capped at `cap`.
fn frac_bits(m: f64, bits: i32, cap: i32) -> i32 {
    if m <= 0.0 {
        return cap;
    }
    let mut s = bits - 1 - m.log2().floor() as i32;
    while s > -64 && m * (s as f64).exp2() >= (bits as f64).exp2() {
        s -= 1;
    }
    s.min(cap)
}

/// The integer constants of `out` for source scale `sx`, destination
/// scale `sy` and groups of `n`.
fn fixed_out(out: &LayerNormOut, n: f64, sx: f64, sy: f64) -> std::result::Result<NormOut, String> {
    Ok(match out {
        LayerNormOut::Normalized { scale, bias } => {
            // mul[j] = sqrt(n) * scale[j] / s_y * 2^(shift - 30) below 2^31,
            // add[j] = bias[j] / s_y * 2^shift below 2^61.
            let mmax = scale
                .iter()
                .map(|&g| n.sqrt() * (g as f64).abs() / sy)
                .fold(0.0, f64::max);
            let amax = bias
                .iter()
                .map(|&b| (b as f64).abs() / sy)
                .fold(0.0, f64::max);
            let shift = (frac_bits(mmax, 31, 62) + Z_FRAC as i32)
                .min(frac_bits(amax, 61, 62))
                .min(62);
            if shift < 1 {
                return Err("scale or bias too large for the output scale".into());
            }
            let f = (shift as f64).exp2();
            NormOut::Scaled {
                mul: scale
                    .iter()
                    .map(|&g| {
                        (n.sqrt() * g as f64 / sy * f / (Z_FRAC as f64).exp2()).round() as i64
                    })
                    .collect(),
                add: bias
                    .iter()
                    .map(|&b| (b as f64 / sy * f).round() as i64)
                    .collect(),
                shift: shift as u32,
            }
        }
        LayerNormOut::InvStdDev => {
            // mul = n^1.5 / (s_x * s_y) * 2^(shift - 45), in [2^29, 2^30).
            let m = n.powf(1.5) / (sx * sy);
            let s = frac_bits(m, 30, 200) + 45;
            if s < 1 {
                return Err("the inverse deviation is too large for its scale".into());
            }
            NormOut::InvStd {
                mul: (m * ((s - 45) as f64).exp2()).round() as i64,
                shift: s as u32,
            }
        }
    })
}

impl Builder<'_> {
    /// `fused`: the index and bounds of a Relu or Clip that only reads it,
    /// applied as the instruction's output clamp; its output is then the
    /// clamp's.
    pub(super) fn layer_norm(
        &mut self,
        op_index: usize,
        (axis_len, epsilon, centred, denom): (usize, f32, bool, Denom),
        out: &LayerNormOut,
        fused: Option<(usize, (f32, f32))>,
    ) -> Result<()> {
        let x = self.unary_source(op_index)?;
        let centre = (!centred).then_some(x.q.zero_point);
        // onnxruntime's MAX divides by the signed maximum; it is max |x|
        // only on a row that cannot go below 0.
        if denom == Denom::MaxAbs {
            if let Some(&(lo, _)) = x.bounds.iter().find(|b| b.0 < x.q.zero_point) {
                return Err(qerr(
                    &x.node,
                    format!(
                        "Normalizer MAX needs a source proven non-negative (onnxruntime divides by the signed row maximum); its domain reaches {:e}",
                        (lo - x.q.zero_point) as f64 * x.q.scale
                    ),
                ));
            }
        }
        if !centred && matches!(out, LayerNormOut::InvStdDev) {
            return Err(qerr(
                &x.node,
                "an uncentred inverse deviation is not lowered",
            ));
        }
        let out_v = match fused {
            Some((r, _)) => self.graph.ops[r].output,
            None => self.graph.ops[op_index].output,
        };
        let name = self.graph.value(out_v).name.clone();
        let len = self.graph.value(out_v).len;
        let n = axis_len as f64;
        let sx = x.q.scale;
        let eps_real = epsilon as f64 * n * n * n / (sx * sx);
        if !(eps_real.is_finite() && eps_real >= 0.0 && eps_real < 2f64.powi(62)) {
            return Err(qerr(
                &x.node,
                format!(
                    "epsilon {epsilon:e} at the source scale {sx:e} is {eps_real:e}: beyond 2^62"
                ),
            ));
        }
        let eps = eps_real.round() as i64;
        let prec = self.opts.precision;
        let (lo, hi, kind_doc) = match out {
            LayerNormOut::Normalized { scale, bias } => {
                // |normalised| <= sqrt(n - 1) about the mean, sqrt(n) about 0.
                let m = if centred { n - 1.0 } else { n };
                let yb = m.sqrt() * (1.0 + RANGE_SLACK);
                let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
                for (&g, &b) in scale.iter().zip(bias) {
                    let r = (g as f64).abs() * yb;
                    lo = lo.min(b as f64 - r);
                    hi = hi.max(b as f64 + r);
                }
                (lo, hi, "* scale[j] + bias[j]")
            }
            LayerNormOut::InvStdDev => {
                let d = x.hi as f64 - x.lo as f64;
                let t_hi = n * n * n * d * d / 4.0 + eps as f64;
                let inv = |t: f64| n.powf(1.5) / (sx * t.max(1.0).sqrt());
                (
                    inv(t_hi) * (1.0 - RANGE_SLACK),
                    inv(eps as f64) * (1.0 + RANGE_SLACK),
                    "(InvStdDev)",
                )
            }
        };
        let (lo, hi) = match fused {
            Some((_, (a, b))) => {
                let (lo, hi) = (lo.max(a as f64), hi.min(b as f64));
                (lo.min(hi), hi)
            }
            None => (lo, hi),
        };
        let (plo, phi) = self.pick_range(out_v, lo, hi)?;
        let clamped = (plo, phi) != (lo, hi) || fused.is_some();
        // The integer ends can pass the real ones by the rounding of the
        // constants: widen the range (by 1/256 of the span, doubling) until
        // the proven bounds fit, unless a calibrated range clamps anyway.
        let mut widen = 0.0;
        let (dq, norm_out) = loop {
            let w = (phi - plo).max(f64::MIN_POSITIVE) * widen;
            let dq: QParams = qparams(prec, plo - w, phi + w);
            let norm_out = fixed_out(out, n, sx, dq.scale).map_err(|r| qerr(&x.node, r))?;
            let (b, _) = crate::ir::layer_norm::bounds(
                &x.bounds,
                axis_len,
                eps,
                centre,
                denom,
                &norm_out,
                dq.zero_point,
                &x.node,
            )
            .map_err(|r| qerr(&x.node, r))?;
            let fits = b.iter().all(|&(l, h)| l >= dq.qmin && h <= dq.qmax);
            if clamped || fits || widen >= 1.0 / 16.0 {
                break (dq, norm_out);
            }
            widen = if widen == 0.0 {
                1.0 / 256.0
            } else {
                widen * 2.0
            };
        };
        let clamp = match fused {
            Some((_, (a, b))) => {
                let end = |v: f32| quantize_value(&dq, (v as f64).clamp(-1e30, 1e30));
                Some((end(a).max(dq.qmin), end(b).min(dq.qmax)))
            }
            None => ((plo, phi) != (lo, hi)).then_some((dq.qmin, dq.qmax)),
        };
        let src_name = self.tensors[x.id.index()].name.clone();
        let doc = format!(
            "{name} = ({src_name} - mean) / sqrt(var + {epsilon:e}) {kind_doc} over groups of {axis_len}: centred n * x - sum, sum of squares + {eps}, reciprocal square root by Newton steps (no division)"
        );
        let doc = match out {
            _ if !centred && denom == Denom::SumSquares => format!(
                "{name} = {src_name} / sqrt(sum of squares) over groups of {axis_len} (L2): n * (x - zp), sum of squares, reciprocal square root by Newton steps (no division)"
            ),
            _ if !centred => format!(
                "{name} = {src_name} / {} over groups of {axis_len}: c = n * (x - zp), T = {}, reciprocal square root of T by Newton steps (no division)",
                if denom == Denom::AbsSum { "sum |x| (L1)" } else { "max |x| (MAX)" },
                denom.name()
            ),
            LayerNormOut::InvStdDev => format!(
                "{name} = 1 / sqrt(var({src_name}) + {epsilon:e}) per group of {axis_len}: sum of squares of n * x - sum, + {eps}, reciprocal square root by Newton steps (no division)"
            ),
            _ => doc,
        };
        let kind = |dst| InstrKind::LayerNorm {
            src: x.id,
            dst,
            axis_len,
            eps,
            centre,
            denom,
            out: norm_out,
            clamp,
        };
        let Some((r, (a, b))) = fused else {
            return self.finish(op_index, dq, len, doc, kind);
        };
        let (op, next) = (&self.graph.ops[op_index], &self.graph.ops[r]);
        let (node, onnx_op) = (op.node.clone(), format!("{}+{}", op.onnx_op, next.onnx_op));
        let dst = self.add_tensor(&name, len, dq);
        let doc = format!(
            "{doc}, clamped to [{a}, {b}] ({} `{}` fused)",
            next.onnx_op, next.node
        );
        self.push(&node, &onnx_op, doc, kind(dst))?;
        self.map.insert(out_v, dst);
        Ok(())
    }
}
