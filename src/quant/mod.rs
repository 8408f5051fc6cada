//! Quantization: the float [`Graph`] and an input domain → the integer
//! [`Program`].
//!
//! One pass in execution order. For every op it quantizes the constants,
//! computes the *exact* integer bounds of what the op can produce from the
//! integer bounds of its sources ([`crate::ir::bounds`]), and only then
//! chooses the destination's scale from those bounds. Ranges are therefore
//! interval arithmetic over the declared input domain, carried out on the
//! integers the program really computes (weight rounding included): no
//! intermediate value can leave its type for any input inside the domain,
//! and the validator re-proves it on the finished program.
//!
//! Rounding: one rounding per requantization, half towards +infinity
//! ([`crate::ir::Rescale`]); weights and biases round half away from zero
//! (`f64::round`). Neither TFLite's double rounding nor ONNX's half-even.

mod concat;
pub mod fixed;
pub mod guard;
pub mod imported;
mod layer_norm;
pub mod lut;
mod tree_quant;
pub mod warn;
pub mod weight_bits;

use std::collections::HashMap;

use crate::error::Error;
use crate::ir::bounds::{self, Bounds};
use crate::ir::program::softmax_consts::EXP_FRAC;
use crate::ir::tree;
use crate::ir::{
    AccWidth, Activation, BinaryOp, Graph, Instr, InstrKind, LutFunc, OpKind, Precision, Program,
    ProgramOutput, QParams, Rescale, Tensor, TensorId, ValueId,
};
use crate::Result;
use fixed::{qparams, real, rescale_for};

/// The input domain, per feature, in real units: `lo[i] <= x[i] <= hi[i]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Domain {
    pub lo: Vec<f64>,
    pub hi: Vec<f64>,
}

#[derive(Clone, Debug)]
pub struct QuantOptions {
    pub precision: Precision,
    pub input_scale: i64,
    pub output_scale: i64,
    /// Per graph value, the [min, max] seen on the calibration rows. int8
    /// (TFLite's post-training scheme) takes activation scales from these
    /// when present, saturating outside them; int16 always uses the sound
    /// bounds and ignores them.
    pub observed: Option<Vec<(f64, f64)>>,
    /// Per calibration row, every graph value through the float graph
    /// ([`Graph::eval_all`]): what [`weight_bits`] measures a cut on.
    pub calib_values: Option<std::sync::Arc<Vec<Vec<Vec<f64>>>>>,
    /// `--weight-bits-auto`: fewer weight bits where that lets two channels
    /// share one multiply, within a measured fidelity budget (int16).
    pub weight_bits_auto: bool,
    /// Dense layers with at most this many weights are straight-line code
    /// (`--unroll-limit`, `lower::plan`'s rule): [`weight_bits`] leaves
    /// them uncut. Not `--simd`: a SIMD build computes the scalar build's
    /// program, to the bit.
    pub unroll_limit: usize,
}

/// Per-value [min, max] over `rows`, through the float graph.
pub fn observe(graph: &Graph, rows: impl Iterator<Item = Vec<f64>>) -> Vec<(f64, f64)> {
    let all: Vec<Vec<Vec<f64>>> = rows.map(|row| graph.eval_all(&row)).collect();
    observe_values(graph, &all)
}

/// [`observe`] of rows already evaluated ([`Graph::eval_all`] per row).
pub fn observe_values(graph: &Graph, rows: &[Vec<Vec<f64>>]) -> Vec<(f64, f64)> {
    let mut r = vec![(f64::INFINITY, f64::NEG_INFINITY); graph.values.len()];
    for row in rows {
        for (v, vals) in row.iter().enumerate() {
            for &x in vals {
                r[v].0 = r[v].0.min(x);
                r[v].1 = r[v].1.max(x);
            }
        }
    }
    r
}

struct Builder<'a> {
    graph: &'a Graph,
    opts: &'a QuantOptions,
    tensors: Vec<Tensor>,
    instrs: Vec<Instr>,
    bounds: Vec<Option<Bounds>>,
    /// Graph value → tensor holding it.
    map: HashMap<ValueId, TensorId>,
    /// The input tensor's per-feature factors `f_i`, when it has them
    /// ([`Builder::input_factors`]): element `i` holds `x_i / f_i`.
    input_factors: Option<(TensorId, Vec<f64>)>,
    /// Decisions `lfc compile` prints (weight bits per layer).
    notes: Vec<String>,
}

/// What an element-wise op reads (see `Builder::unary_source`).
struct Source {
    node: String,
    id: TensorId,
    q: QParams,
    bounds: Bounds,
    lo: i64,
    hi: i64,
}

fn qerr(what: &str, reason: impl Into<String>) -> Error {
    Error::Quant {
        what: what.to_string(),
        reason: reason.into(),
    }
}

impl<'a> Builder<'a> {
    fn add_tensor(&mut self, name: &str, len: usize, q: QParams) -> TensorId {
        self.tensors.push(Tensor {
            name: name.to_string(),
            len,
            q,
        });
        self.bounds.push(None);
        TensorId(self.tensors.len() as u32 - 1)
    }

    fn src(&self, v: ValueId, node: &str) -> Result<TensorId> {
        self.map
            .get(&v)
            .copied()
            .ok_or_else(|| qerr(node, format!("reads value {v} before it is computed")))
    }

    /// The real range to quantize value `v` over: the proven `[lo, hi]`,
    /// or for int8 with calibration, the range observed on it (clipped to
    /// the proven one).
    fn pick_range(&self, v: ValueId, lo: f64, hi: f64) -> Result<(f64, f64)> {
        // A chain of large factors can overflow f64 (issue 12: 40 Mul by
        // 1e10); no scale can represent that range.
        if !(lo.is_finite() && hi.is_finite()) {
            let name = &self.graph.value(v).name;
            return Err(qerr(
                name,
                format!("the real range of `{name}` overflows f64 ([{lo:e}, {hi:e}]): the model's values are out of any fixed-point scale"),
            ));
        }
        Ok(match (&self.opts.observed, self.opts.precision) {
            (Some(obs), Precision::Int8) => {
                let (a, b) = obs[v.index()];
                if a.is_finite() && b.is_finite() {
                    (a.max(lo), b.min(hi).max(a.max(lo)))
                } else {
                    (lo, hi)
                }
            }
            _ => (lo, hi),
        })
    }

    fn max_abs_centered(&self, t: TensorId) -> i64 {
        let z = self.tensors[t.index()].q.zero_point;
        self.bounds[t.index()]
            .as_ref()
            .unwrap()
            .iter()
            .map(|&(l, h)| (l - z).abs().max((h - z).abs()))
            .max()
            .unwrap_or(0)
    }

    /// The single source of element-wise op `op_index`: its tensor,
    /// quantization, per-element bounds and their overall `[lo, hi]`.
    fn unary_source(&self, op_index: usize) -> Result<Source> {
        let op = &self.graph.ops[op_index];
        let src = self.src(op.inputs[0], &op.node)?;
        let bounds = self.bounds[src.index()].clone().unwrap();
        Ok(Source {
            node: op.node.clone(),
            id: src,
            q: self.tensors[src.index()].q.clone(),
            lo: bounds.iter().map(|x| x.0).min().unwrap(),
            hi: bounds.iter().map(|x| x.1).max().unwrap(),
            bounds,
        })
    }

    /// Creates op `op_index`'s output tensor (`dq`, `len`), proves and
    /// appends the instruction `make(dst)`, and maps the op's output to it.
    fn finish(
        &mut self,
        op_index: usize,
        dq: QParams,
        len: usize,
        doc: String,
        make: impl FnOnce(TensorId) -> InstrKind,
    ) -> Result<()> {
        let op = &self.graph.ops[op_index];
        let (node, onnx_op, out) = (op.node.clone(), op.onnx_op.clone(), op.output);
        let name = self.graph.value(out).name.clone();
        let dst = self.add_tensor(&name, len, dq);
        self.push(&node, &onnx_op, doc, make(dst))?;
        self.map.insert(out, dst);
        Ok(())
    }

    /// Appends an instruction after proving it; records its output bounds.
    fn push(&mut self, node: &str, onnx_op: &str, doc: String, kind: InstrKind) -> Result<()> {
        let facts = bounds::propagate(&self.tensors, &kind, &self.bounds, node)
            .map_err(|r| qerr(node, r))?;
        if let Some(d) = kind.dst() {
            self.bounds[d.index()] = Some(facts.out);
        }
        self.instrs.push(Instr {
            node: node.to_string(),
            onnx_op: onnx_op.to_string(),
            doc,
            kind,
        });
        Ok(())
    }

    /// The index map (Slice, Gather) that is the only reader of the model
    /// input, if there is one: the Quantize reads through it (op index and
    /// map), so the unread features are never copied.
    fn input_pick(&self) -> Option<(usize, Vec<usize>)> {
        let g = self.graph;
        let readers: Vec<usize> = (0..g.ops.len())
            .filter(|&k| g.ops[k].inputs.contains(&g.input))
            .collect();
        match readers[..] {
            [k] if !g.is_output(g.input) => match &g.ops[k].kind {
                OpKind::Gather { map } if !map.is_empty() => Some((k, map.clone())),
                _ => None,
            },
            _ => None,
        }
    }

    /// The Quantize of the model input; returns the index of the op it
    /// absorbed (an index map read in place), if any.
    fn quantize_input(&mut self, domain: &Domain) -> Result<Option<usize>> {
        let g = self.graph;
        let n_in = g.input_len();
        if domain.lo.len() != n_in || domain.hi.len() != n_in {
            return Err(qerr(
                "input",
                format!(
                    "domain has {} features, the model input has {n_in}",
                    domain.lo.len()
                ),
            ));
        }
        let pick = self.input_pick();
        let feats: Vec<usize> = match &pick {
            Some((_, m)) => m.clone(),
            None => (0..n_in).collect(),
        };
        let n = feats.len();
        let is = self.opts.input_scale as f64;
        let mut in_lo = Vec::with_capacity(n);
        let mut in_hi = Vec::with_capacity(n);
        for &i in &feats {
            let (lo, hi) = (domain.lo[i], domain.hi[i]);
            if !(lo.is_finite() && hi.is_finite()) || lo > hi {
                return Err(qerr(
                    "input",
                    format!("feature {i}: invalid domain [{lo}, {hi}]"),
                ));
            }
            let (a, b) = ((lo * is).floor(), (hi * is).ceil());
            if a.abs() > 1e17 || b.abs() > 1e17 {
                return Err(qerr(
                    "input",
                    format!("feature {i}: domain [{lo}, {hi}] at input scale {is} exceeds s64"),
                ));
            }
            in_lo.push(a as i64);
            in_hi.push(b as i64);
        }
        let (min_in, max_in_hi) = (
            in_lo.iter().copied().min().unwrap(),
            in_hi.iter().copied().max().unwrap(),
        );
        let (rlo, rhi) = (min_in as f64 / is, max_in_hi as f64 / is);
        let mut q = fixed::qparams_unclamped(self.opts.precision, rlo, rhi);
        let max_in = in_lo.iter().chain(&in_hi).map(|v| v.abs()).max().unwrap();
        // When the clamped s64 inputs already fit the tensor's type, keep
        // them as they are (scale 1 / input_scale): they carry no more
        // resolution than that, and the C is a clamp with no multiply.
        let identity = self.opts.precision == Precision::Int16 && max_in <= q.qmax;
        // Read only by tree ensembles: they compare, never multiply, so the
        // clamped s64 inputs are kept whole (a 64-bit tensor at scale
        // 1 / input_scale) and every threshold is exact at the input scale.
        let trees_only = g.ops.iter().any(|op| op.inputs.contains(&g.input))
            && g.ops
                .iter()
                .filter(|op| op.inputs.contains(&g.input))
                .all(|op| matches!(op.kind, OpKind::Trees(_)));
        if trees_only {
            q = QParams {
                bits: 64,
                zero_point: 0,
                qmin: -max_in,
                qmax: max_in,
                scale: 1.0 / is,
            };
        }
        let identity = identity || trees_only;
        let factors = match identity || pick.is_some() {
            true => None,
            false => self.input_factors(&in_lo, &in_hi),
        };
        let f = |i: usize| factors.as_ref().map_or(1.0, |f| f[i]);
        let (rlo, rhi) = match &factors {
            // The range of x_i / f_i over every feature.
            Some(fs) => (0..n).fold((0f64, 0f64), |(a, b), i| {
                (
                    a.min(in_lo[i] as f64 / is / fs[i]),
                    b.max(in_hi[i] as f64 / is / fs[i]),
                )
            }),
            None => (rlo, rhi),
        };
        if factors.is_some() {
            q = fixed::qparams_unclamped(self.opts.precision, rlo, rhi);
        }
        let rescale = if identity {
            q.scale = 1.0 / is;
            vec![Rescale::IDENTITY]
        } else {
            // Huge inputs leave the multiplier few bits (62 - bits of the
            // input), and its rounding can carry the ends a few steps past
            // the range: widen the range until the rescaled ends fit.
            let mut widen = 1.0 / 256.0;
            loop {
                let one = |i: usize, lo: i64, hi: i64| -> Result<(Rescale, bool)> {
                    let m = lo.abs().max(hi.abs());
                    let r = rescale_for(1.0 / (is * q.scale * f(i)), m)
                        .map_err(|r| qerr("input", r))?;
                    let (a, b) = (r.apply(lo) + q.zero_point, r.apply(hi) + q.zero_point);
                    Ok((r, a >= q.qmin && b <= q.qmax))
                };
                let rs: Vec<(Rescale, bool)> = match factors {
                    Some(_) => (0..n)
                        .map(|i| one(i, in_lo[i], in_hi[i]))
                        .collect::<Result<_>>()?,
                    None => vec![one(0, min_in, max_in_hi)?],
                };
                if rs.iter().all(|r| r.1) || widen > 0.5 {
                    break rs.into_iter().map(|r| r.0).collect::<Vec<_>>();
                }
                q = fixed::qparams_unclamped(
                    self.opts.precision,
                    rlo * (1.0 + widen),
                    rhi * (1.0 + widen),
                );
                widen *= 2.0;
            }
        };
        let name = g.value(g.input).name.clone();
        let doc = if trees_only {
            format!("{name}_q = in, clamped to the input domain (read only by tree ensembles: kept whole at scale 1/{is})")
        } else if identity {
            format!("{name}_q = in, clamped to the input domain (at scale 1/{is} the inputs already fit int16)")
        } else if let Some(fs) = &factors {
            format!(
                "{name}_q[i] = round(in[i] / {is} / ({:e} * f[i])) (in clamped to the input domain): per-feature scales, f[i] = |domain of i| / the widest, {:.3e} .. 1, folded into the weight columns of the Dense that reads it",
                q.scale,
                fs.iter().copied().fold(1.0, f64::min)
            )
        } else {
            format!(
                "{name}_q = round(in / {is} / {:e}) (in clamped to the input domain)",
                q.scale
            )
        };
        let (name, doc) = match &pick {
            Some((k, _)) => {
                let op = &g.ops[*k];
                (
                    g.value(op.output).name.clone(),
                    format!(
                        "{doc}; only the {n} of {n_in} inputs that node `{}` ({}) selects are read, in place",
                        op.node, op.onnx_op
                    ),
                )
            }
            None => (name, doc),
        };
        let t = self.add_tensor(&name, n, q);
        self.input_factors = factors.map(|f| (t, f));
        match &pick {
            Some((k, _)) => self.map.insert(g.ops[*k].output, t),
            None => self.map.insert(g.input, t),
        };
        self.push(
            &name,
            "Input",
            doc,
            InstrKind::Quantize {
                dst: t,
                in_lo,
                in_hi,
                rescale,
                pick: pick.as_ref().map(|(_, m)| m.clone()),
            },
        )?;
        Ok(pick.map(|(k, _)| k))
    }

    /// Per-feature input scales: when every reader of the model input is a
    /// Dense (int16) and some feature reaches at most half as far as the
    /// widest (`m_i = max |in_lo_i|, |in_hi_i|`), `f_i = m_i / max m`. The
    /// Quantize then stores `x_i / f_i` (one tensor scale, every feature
    /// using the full int16 range) and the Dense multiplies weight column
    /// `i` by `f_i`: the same real product, no cost at run time.
    fn input_factors(&self, in_lo: &[i64], in_hi: &[i64]) -> Option<Vec<f64>> {
        let g = self.graph;
        let mut readers = g.ops.iter().filter(|op| op.inputs.contains(&g.input));
        let dense_only = readers
            .by_ref()
            .all(|op| matches!(op.kind, OpKind::Dense { .. }) && op.inputs == [g.input]);
        let any = g.ops.iter().any(|op| op.inputs.contains(&g.input));
        if self.opts.precision != Precision::Int16 || !dense_only || !any || g.is_output(g.input) {
            return None;
        }
        let m: Vec<f64> = in_lo
            .iter()
            .zip(in_hi)
            .map(|(l, h)| l.unsigned_abs().max(h.unsigned_abs()) as f64)
            .collect();
        let top = m.iter().copied().fold(0.0, f64::max);
        if top <= 0.0 || !m.iter().any(|&v| v > 0.0 && 2.0 * v <= top) {
            return None;
        }
        Some(
            m.iter()
                .map(|&v| if v > 0.0 { v / top } else { 1.0 })
                .collect(),
        )
    }

    /// A Relu or Clip directly after `op_index` that only it reads can be
    /// fused into the Dense's requantization clamp.
    fn fusable_clamp(&self, op_index: usize, uses: &HashMap<ValueId, usize>) -> Option<(f32, f32)> {
        let op = &self.graph.ops[op_index];
        let next = self.graph.ops.get(op_index + 1)?;
        if next.inputs[0] != op.output
            || uses.get(&op.output) != Some(&1)
            || self.graph.is_output(op.output)
        {
            return None;
        }
        match next.kind {
            OpKind::Activation(Activation::Relu) => Some((0.0, f32::INFINITY)),
            OpKind::Activation(Activation::Clip { min, max }) => Some((min, max)),
            _ => None,
        }
    }

    /// The Relu or Clip that is the only reader of `op_index`'s output,
    /// wherever it comes later (a layer normalisation's Y is followed by
    /// its InvStdDev op first): its index and bounds. Computing it at
    /// `op_index` is valid, as it reads nothing else.
    fn fusable_reader(
        &self,
        op_index: usize,
        uses: &HashMap<ValueId, usize>,
    ) -> Option<(usize, (f32, f32))> {
        let out = self.graph.ops[op_index].output;
        if uses.get(&out) != Some(&1) || self.graph.is_output(out) {
            return None;
        }
        let r = (op_index + 1..self.graph.ops.len())
            .find(|&k| self.graph.ops[k].inputs.contains(&out))?;
        let bounds = match self.graph.ops[r].kind {
            OpKind::Activation(Activation::Relu) => (0.0, f32::INFINITY),
            OpKind::Activation(Activation::Clip { min, max }) => (min, max),
            _ => return None,
        };
        Some((r, bounds))
    }

    fn dense(
        &mut self,
        op_index: usize,
        weight: &[f32],
        bias: &[f32],
        fused: Option<(f32, f32)>,
    ) -> Result<ValueId> {
        let op = &self.graph.ops[op_index];
        let node = op.node.clone();
        let src = self.src(op.inputs[0], &node)?;
        let sq = self.tensors[src.index()].q.clone();
        let n_in = self.tensors[src.index()].len;
        let n_out = bias.len();
        // A source with per-feature scales: column i times f_i.
        let folded: Vec<f32>;
        let factors: Option<Vec<f64>> = match &self.input_factors {
            Some((t, f)) if *t == src && f.len() == n_in => Some(f.clone()),
            _ => None,
        };
        let weight = match &factors {
            Some(f) => {
                folded = weight
                    .chunks(n_in)
                    .flat_map(|row| row.iter().zip(f).map(|(&w, &fi)| (w as f64 * fi) as f32))
                    .collect();
                &folded[..]
            }
            None => weight,
        };
        let prec = self.opts.precision;
        let wmax = ((1i64 << (prec.bits() - 1)) - 1) as f64;
        // Per-output-channel symmetric weight scales.
        let mut wq = Vec::with_capacity(weight.len());
        let mut ws = Vec::with_capacity(n_out);
        for j in 0..n_out {
            let row = &weight[j * n_in..(j + 1) * n_in];
            let m = row.iter().fold(0f64, |a, w| a.max((*w as f64).abs()));
            let s = if m > 0.0 { m / wmax } else { 1.0 };
            ws.push(s);
            wq.extend(row.iter().map(|w| (*w as f64 / s).round() as i64));
        }
        // Bias at the accumulator scale, the source zero point folded in.
        let mut bq: Vec<i64> = (0..n_out)
            .map(|j| {
                let row_sum: i64 = wq[j * n_in..(j + 1) * n_in].iter().sum();
                let b = (bias[j] as f64 / (sq.scale * ws[j])).round();
                // Checked: a bias far beyond its weights' scale (or an
                // infinite one) has no 64-bit accumulator value.
                sq.zero_point
                    .checked_mul(row_sum)
                    .filter(|_| b.abs() < 9.2e18)
                    .and_then(|zs| (b as i64).checked_sub(zs))
                    .ok_or_else(|| {
                        qerr(
                            &node,
                            format!(
                                "bias of output {j} ({:e}) at the accumulator scale {:e} does not fit 64 bits",
                                bias[j],
                                sq.scale * ws[j]
                            ),
                        )
                    })
            })
            .collect::<Result<_>>()?;
        let accs = bounds::dense_acc_bounds(&wq, &bq, self.bounds[src.index()].as_ref().unwrap());
        // Real range of the outputs, from the exact accumulator bounds.
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for (j, &(a, b, _)) in accs.iter().enumerate() {
            lo = lo.min(a as f64 * sq.scale * ws[j]);
            hi = hi.max(b as f64 * sq.scale * ws[j]);
        }
        if let Some((cmin, cmax)) = fused {
            lo = lo.max(cmin as f64);
            hi = hi.min(cmax as f64);
            if lo > hi {
                // The clamp pins every output to one end.
                lo = lo.min(hi);
            }
        }
        let out_v0 = if fused.is_some() {
            self.graph.ops[op_index + 1].output
        } else {
            op.output
        };
        let (lo, hi) = self.pick_range(out_v0, lo, hi)?;
        let dq = qparams(prec, lo, hi);
        let acc = match prec {
            Precision::Int16 => AccWidth::I64,
            Precision::Int8 => AccWidth::I32,
        };
        // int16: widen each channel's weight scale (by less than 2x) so that
        // s_in * s_w / s_out is exactly 2^-S: requantization is then a
        // rounding shift, no multiply, and the weights still use at least
        // 15 of their 16 bits. int8 keeps TFLite's 31-bit multipliers.
        let before = (wq.clone(), ws.clone(), bq.clone());
        if prec == Precision::Int16 {
            for (j, s) in ws.iter_mut().enumerate() {
                let f = sq.scale * *s / dq.scale;
                let shift = (-f.log2()).floor();
                if f > 0.0 && (1.0..=62.0).contains(&shift) {
                    *s = (-shift).exp2() * dq.scale / sq.scale;
                    let row = &weight[j * n_in..(j + 1) * n_in];
                    for (q, w) in wq[j * n_in..(j + 1) * n_in].iter_mut().zip(row) {
                        *q = (*w as f64 / *s).round() as i64;
                    }
                }
            }
            for j in 0..n_out {
                let row_sum: i64 = wq[j * n_in..(j + 1) * n_in].iter().sum();
                bq[j] =
                    (bias[j] as f64 / (sq.scale * ws[j])).round() as i64 - sq.zero_point * row_sum;
            }
            // The coarser weights round differently: when that pushes a
            // channel past the output range chosen from the first weights
            // (large inputs, few weights), keep the first weights.
            let widened =
                bounds::dense_acc_bounds(&wq, &bq, self.bounds[src.index()].as_ref().unwrap());
            let over = widened.iter().enumerate().any(|(j, &(a, b, _))| {
                let f = sq.scale * ws[j] / dq.scale;
                (a as f64 * f).abs().max((b as f64 * f).abs()) > (dq.qmax - 1) as f64
            });
            if over && fused.is_none() {
                (wq, ws, bq) = before;
            }
        }
        let mut weight_bits = prec.bits();
        // (Not with per-feature input scales: weight_bits measures the
        // float layer on the real calibration inputs, which the folded
        // columns do not take.)
        let cut = match factors {
            Some(_) => None,
            None => self.narrow_weights(op_index, weight, bias, (&wq, &ws, &bq), &dq, fused),
        };
        if let Some(c) = cut {
            weight_bits = c.bits_after;
            (wq, ws, bq) = (c.wq, c.ws, c.bq);
        }
        let accs = bounds::dense_acc_bounds(&wq, &bq, self.bounds[src.index()].as_ref().unwrap());
        let mut rescale = Vec::with_capacity(n_out);
        for (j, &(a, b, _)) in accs.iter().enumerate() {
            let max_abs = a.abs().max(b.abs()).min(i64::MAX as i128) as i64;
            let f = sq.scale * ws[j] / dq.scale;
            let pow2 = f.log2();
            rescale.push(
                if prec == Precision::Int16
                    && pow2 == pow2.round()
                    && (-62.0..=-1.0).contains(&pow2)
                {
                    Rescale::new(1, (-pow2) as u32)
                } else {
                    rescale_for(f, max_abs).map_err(|r| qerr(&node, r))?
                },
            );
        }
        let clamp = match (fused, prec) {
            (Some((cmin, cmax)), _) => Some((
                fixed::quantize_value(&dq, cmin.max(-1e30) as f64),
                fixed::quantize_value(&dq, cmax.min(1e30) as f64),
            )),
            // TFLite semantics: int8 requantization always saturates.
            (None, Precision::Int8) => Some((dq.qmin, dq.qmax)),
            (None, Precision::Int16) => None,
        };
        let out_v = if fused.is_some() {
            self.graph.ops[op_index + 1].output
        } else {
            op.output
        };
        let name = self.graph.value(out_v).name.clone();
        let mut doc = format!(
            "{name}[j] = bias[j] + sum_i W[j][i] * {}[i]   ({n_in} -> {n_out}, weights int{} per-channel)",
            self.tensors[src.index()].name,
            prec.bits()
        );
        if factors.is_some() {
            doc.push_str(", the source's per-feature scales folded into the weight columns");
        }
        if let Some((a, b)) = fused {
            doc.push_str(&format!(", clamped to [{a}, {b}]"));
        }
        let dst = self.add_tensor(&name, n_out, dq);
        let onnx_op = if fused.is_some() {
            format!("{}+{}", op.onnx_op, self.graph.ops[op_index + 1].onnx_op)
        } else {
            op.onnx_op.clone()
        };
        self.push(
            &node,
            &onnx_op,
            doc,
            InstrKind::Dense {
                src,
                dst,
                weight: wq,
                weight_bits,
                bias: bq,
                acc,
                rescale,
                clamp,
            },
        )?;
        self.map.insert(out_v, dst);
        Ok(out_v)
    }

    /// Fewer weight bits for Dense `op_index` where that lets its channel
    /// pairs share one multiply within the fidelity budget
    /// ([`weight_bits::narrow`]); records the decision either way.
    fn narrow_weights(
        &mut self,
        op_index: usize,
        weight: &[f32],
        bias: &[f32],
        (wq, ws, bq): (&[i64], &[f64], &[i64]),
        dq: &QParams,
        fused: Option<(f32, f32)>,
    ) -> Option<weight_bits::Cut> {
        if !self.opts.weight_bits_auto || self.opts.precision != Precision::Int16 {
            return None;
        }
        if weight.len() <= self.opts.unroll_limit {
            // Straight-line scalar: see weight_bits (Aurora's fc1).
            return None;
        }
        let calib = self.opts.calib_values.as_ref()?;
        let op = &self.graph.ops[op_index];
        let src = self.map.get(&op.inputs[0])?;
        let rows: Vec<(&[f64], &[f64])> = calib
            .iter()
            .map(|v| (&v[op.inputs[0].index()][..], &v[op.output.index()][..]))
            .collect();
        let layer = weight_bits::Layer {
            weight,
            bias,
            n_in: self.tensors[src.index()].len,
            wq,
            ws,
            bq,
            sq: &self.tensors[src.index()].q,
            src: self.bounds[src.index()].as_ref()?,
            dq,
            clamp: fused.map(|(a, b)| (a as f64, b as f64)),
            rows: &rows,
        };
        let decision = weight_bits::narrow(&layer, weight_bits::MAX_ERROR_GROWTH)?;
        self.notes.push(decision.note(&op.node));
        match decision {
            weight_bits::Decision::Cut(c) => Some(c),
            weight_bits::Decision::OverBudget(_) => None,
        }
    }

    /// Element-wise `y = r(x) + offset` with a separate factor for x < 0.
    #[allow(clippy::too_many_arguments)]
    fn scale_op(
        &mut self,
        op_index: usize,
        pos_f: &[f64],
        neg_f: &[f64],
        off_real: &[f64],
        clamp_real: Option<(f64, f64)>,
        doc: String,
    ) -> Result<()> {
        let x = self.unary_source(op_index)?;
        // Real output range per element (piecewise linear, monotone pieces).
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for (i, &(l, h)) in x.bounds.iter().enumerate() {
            let (xl, xh) = (real(&x.q, l), real(&x.q, h));
            for v in [xl, xh, 0.0f64.clamp(xl, xh)] {
                let f = if v >= 0.0 { pos_f[i] } else { neg_f[i] };
                lo = lo.min(v * f + off_real[i]);
                hi = hi.max(v * f + off_real[i]);
            }
        }
        if let Some((a, b)) = clamp_real {
            lo = lo.max(a).min(b);
            hi = hi.min(b).max(a);
        }
        let (lo, hi) = self.pick_range(self.graph.ops[op_index].output, lo, hi)?;
        let dq = qparams(self.opts.precision, lo, hi);
        let max_in = self.max_abs_centered(x.id);
        let mk = |f: &[f64]| -> Result<Vec<Rescale>> {
            f.iter()
                .map(|&f| {
                    rescale_for(f * x.q.scale / dq.scale, max_in).map_err(|r| qerr(&x.node, r))
                })
                .collect()
        };
        let pos = mk(pos_f)?;
        let neg = mk(neg_f)?;
        let offset: Vec<i64> = off_real
            .iter()
            .map(|o| (o / dq.scale).round() as i64)
            .collect();
        let clamp = match clamp_real {
            Some((a, b)) => Some((
                fixed::quantize_value(&dq, a.max(-1e30)),
                fixed::quantize_value(&dq, b.min(1e30)),
            )),
            None if self.opts.precision == Precision::Int8 => Some((dq.qmin, dq.qmax)),
            None => None,
        };
        self.finish(op_index, dq, x.bounds.len(), doc, |dst| InstrKind::Scale {
            src: x.id,
            dst,
            pos,
            neg,
            offset,
            clamp,
        })
    }

    fn lut_op(&mut self, op_index: usize, func: LutFunc) -> Result<()> {
        let x = self.unary_source(op_index)?;
        if func == LutFunc::Log && real(&x.q, x.lo) <= 0.0 {
            return Err(qerr(
                &x.node,
                format!(
                    "Log of inputs that can reach {} (the logarithm needs inputs proven positive)",
                    real(&x.q, x.lo)
                ),
            ));
        }
        // Monotone: the ends; otherwise every reachable input.
        let (ylo, yhi) = if func.monotone() {
            (func.eval(real(&x.q, x.lo)), func.eval(real(&x.q, x.hi)))
        } else {
            (x.lo..=x.hi)
                .map(|q| func.eval(real(&x.q, q)))
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
                    (a.min(y), b.max(y))
                })
        };
        let dq = qparams(self.opts.precision, ylo, yhi);
        let table = lut::build(func, &x.q, x.lo, x.hi, &dq);
        let name = self
            .graph
            .value(self.graph.ops[op_index].output)
            .name
            .clone();
        let doc = format!(
            "{name} = {}({}): {}-entry table, linear interpolation every 2^{} steps, max error {:.3e}",
            func.name(),
            self.tensors[x.id.index()].name,
            table.table.len(),
            table.step_shift,
            table.max_error
        );
        self.finish(op_index, dq, x.bounds.len(), doc, |dst| InstrKind::Lut {
            src: x.id,
            dst,
            lut: table,
        })
    }

    fn binary(&mut self, op_index: usize, bop: BinaryOp) -> Result<()> {
        let op = &self.graph.ops[op_index];
        let node = op.node.clone();
        let a = self.src(op.inputs[0], &node)?;
        let b = self.src(op.inputs[1], &node)?;
        let (qa, qb) = (
            self.tensors[a.index()].q.clone(),
            self.tensors[b.index()].q.clone(),
        );
        let (ba, bb) = (
            self.bounds[a.index()].clone().unwrap(),
            self.bounds[b.index()].clone().unwrap(),
        );
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for (&(al, ah), &(bl, bh)) in ba.iter().zip(&bb) {
            for x in [real(&qa, al), real(&qa, ah)] {
                for y in [real(&qb, bl), real(&qb, bh)] {
                    let v = match bop {
                        BinaryOp::Add => x + y,
                        BinaryOp::Sub => x - y,
                        BinaryOp::Mul => x * y,
                    };
                    lo = lo.min(v);
                    hi = hi.max(v);
                }
            }
        }
        let (lo, hi) = self.pick_range(op.output, lo, hi)?;
        let dq = qparams(self.opts.precision, lo, hi);
        let (ma, mb) = (self.max_abs_centered(a), self.max_abs_centered(b));
        let (rescale_a, mul_b) = match bop {
            BinaryOp::Mul => (
                rescale_for(qa.scale * qb.scale / dq.scale, ma.saturating_mul(mb).max(1))
                    .map_err(|r| qerr(&node, r))?,
                0,
            ),
            _ => {
                // One shift for both terms: size it for the larger factor and
                // the larger operand, and leave one bit for the sum.
                let fa = qa.scale / dq.scale;
                let fb = qb.scale / dq.scale;
                let r =
                    rescale_for(fa.max(fb), ma.max(mb).max(1) * 2).map_err(|r| qerr(&node, r))?;
                let k = (r.shift as f64).exp2();
                let (mul_a, mul_b) = ((fa * k).round() as i64, (fb * k).round() as i64);
                (Rescale::new(mul_a, r.shift), mul_b)
            }
        };
        let clamp = match self.opts.precision {
            Precision::Int8 => Some((dq.qmin, dq.qmax)),
            Precision::Int16 => None,
        };
        let name = self.graph.value(op.output).name.clone();
        let sym = match bop {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
        };
        let doc = format!(
            "{name}[i] = {}[i] {sym} {}[i]",
            self.tensors[a.index()].name,
            self.tensors[b.index()].name
        );
        self.finish(op_index, dq, ba.len(), doc, |dst| InstrKind::Binary {
            op: bop,
            a,
            b,
            dst,
            rescale_a,
            mul_b,
            clamp,
        })
    }

    fn softmax(&mut self, op_index: usize, axis_len: usize) -> Result<()> {
        let x = self.unary_source(op_index)?;
        let exp_lut = lut::build(LutFunc::Exp, &x.q, x.lo - x.hi, 0, &x.q);
        let prec = self.opts.precision;
        let (out_frac, dq) = match prec {
            // prob in Q15, symmetric int16 (1.0 saturates to 32767).
            Precision::Int16 => (
                15,
                QParams {
                    bits: 16,
                    zero_point: 0,
                    qmin: -32767,
                    qmax: 32767,
                    scale: 1.0 / 32768.0,
                },
            ),
            // TFLite: scale 1/256, zero point -128.
            Precision::Int8 => (
                8,
                QParams {
                    bits: 8,
                    zero_point: -128,
                    qmin: -128,
                    qmax: 127,
                    scale: 1.0 / 256.0,
                },
            ),
        };
        let name = self
            .graph
            .value(self.graph.ops[op_index].output)
            .name
            .clone();
        let doc = format!(
            "{name} = softmax({}) over groups of {axis_len}: exp by a {}-entry table (max error {:.3e}, Q{EXP_FRAC}), reciprocal of the sum by Newton steps",
            self.tensors[x.id.index()].name,
            exp_lut.table.len(),
            exp_lut.max_error
        );
        self.finish(op_index, dq, x.bounds.len(), doc, |dst| {
            InstrKind::Softmax {
                src: x.id,
                dst,
                axis_len,
                exp_lut,
                out_frac,
            }
        })
    }

    fn activation(&mut self, op_index: usize, act: Activation) -> Result<()> {
        let n = self.graph.value(self.graph.ops[op_index].output).len;
        let name = self
            .graph
            .value(self.graph.ops[op_index].output)
            .name
            .clone();
        let ones = vec![1.0; n];
        let zeros = vec![0.0; n];
        match act {
            Activation::Tanh => self.lut_op(op_index, LutFunc::Tanh),
            Activation::Sigmoid => self.lut_op(op_index, LutFunc::Sigmoid),
            Activation::Table(func) => self.lut_op(op_index, func),
            Activation::Relu => self.scale_op(
                op_index,
                &ones,
                &ones,
                &zeros,
                Some((0.0, f64::INFINITY)),
                format!("{name} = max(x, 0)"),
            ),
            Activation::Clip { min, max } => self.scale_op(
                op_index,
                &ones,
                &ones,
                &zeros,
                Some((min as f64, max as f64)),
                format!("{name} = min(max(x, {min}), {max})"),
            ),
            Activation::LeakyRelu { alpha } => self.scale_op(
                op_index,
                &ones,
                &vec![alpha as f64; n],
                &zeros,
                None,
                format!("{name} = x >= 0 ? x : {alpha} * x"),
            ),
            Activation::HardSigmoid { alpha, beta } => self.scale_op(
                op_index,
                &vec![alpha as f64; n],
                &vec![alpha as f64; n],
                &vec![beta as f64; n],
                Some((0.0, 1.0)),
                format!("{name} = min(max({alpha} * x + {beta}, 0), 1)"),
            ),
        }
    }

    /// A tree ensemble: thresholds moved exactly into the tested tensor's
    /// integers, leaves summed at `2^-TREE_ACC_SHIFT` of the output step.
    fn trees(&mut self, op_index: usize, e: &tree::Ensemble) -> Result<()> {
        let x = self.unary_source(op_index)?;
        let op = &self.graph.ops[op_index];
        let name = self.graph.value(op.output).name.clone();
        let (lo, hi) = tree_quant::real_range(e);
        let dq = qparams(self.opts.precision, lo, hi);
        let table = tree_quant::table(e, &x.q, &dq, &x.node).map_err(|r| qerr(&x.node, r))?;
        let doc = format!(
            "{name}[j] = base[j] + sum over {} trees of the leaf reached (x <= t tests on {}; worst case {} comparisons)",
            e.roots.len(),
            self.tensors[x.id.index()].name,
            table.worst_comparisons()
        );
        let len = e.n_targets;
        self.finish(op_index, dq, len, doc, |dst| InstrKind::Trees {
            src: x.id,
            dst,
            table: Box::new(table),
            rescale: Rescale::new(1, tree_quant::TREE_ACC_SHIFT),
        })
    }

    /// The maximum of each group: in the source's quantization (the maximum
    /// of quantized values is the quantized maximum, exactly).
    fn group_max(&mut self, op_index: usize, axis_len: usize) -> Result<()> {
        let x = self.unary_source(op_index)?;
        let op = &self.graph.ops[op_index];
        let len = self.graph.value(op.output).len;
        let name = self.graph.value(op.output).name.clone();
        let doc = format!(
            "{name}[g] = max of {} over group g of {axis_len} (exact: the source's quantization)",
            self.tensors[x.id.index()].name
        );
        self.finish(op_index, x.q.clone(), len, doc, |dst| InstrKind::GroupMax {
            src: x.id,
            dst,
            axis_len,
        })
    }

    /// ArgMax, Lookup: integers at scale 1, zero point 0.
    fn integer_op(
        &mut self,
        op_index: usize,
        make: impl FnOnce(TensorId, TensorId) -> InstrKind,
    ) -> Result<()> {
        let x = self.unary_source(op_index)?;
        let op = &self.graph.ops[op_index];
        let len = self.graph.value(op.output).len;
        let name = self.graph.value(op.output).name.clone();
        let qmax = (1i64 << (self.opts.precision.bits() - 1)) - 1;
        let dq = QParams {
            bits: self.opts.precision.bits(),
            zero_point: 0,
            qmin: -qmax,
            qmax,
            scale: 1.0,
        };
        let doc = match &self.graph.ops[op_index].kind {
            OpKind::ArgMax { axis_len } => format!(
                "{name} = index of the first maximum of {} per group of {axis_len} (ties: lowest index)",
                self.tensors[x.id.index()].name
            ),
            _ => format!("{name} = label of class {}", self.tensors[x.id.index()].name),
        };
        self.finish(op_index, dq, len, doc, |dst| make(x.id, dst))
    }

    /// One `Dequantize` per graph output, at consecutive offsets; an
    /// integer output is answered at scale 1 (its tensor already is).
    fn dequantize(&mut self) -> Result<Vec<ProgramOutput>> {
        let g = self.graph;
        let mut outputs = Vec::with_capacity(g.outputs.len());
        let mut offset = 0;
        for &v in &g.outputs {
            let value = g.value(v);
            let t = self.src(v, "output")?;
            let q = self.tensors[t.index()].q.clone();
            let scale = if value.integer {
                1
            } else {
                self.opts.output_scale
            };
            let os = scale as f64;
            let max_in = self.max_abs_centered(t);
            let rescale = if value.integer {
                if q.scale != 1.0 || q.zero_point != 0 {
                    return Err(qerr(
                        &value.name,
                        "an integer output must be held at scale 1, zero point 0",
                    ));
                }
                Rescale::IDENTITY
            } else {
                rescale_for(q.scale * os, max_in).map_err(|r| qerr("output", r))?
            };
            let name = value.name.clone();
            let at = if offset == 0 {
                "out".to_string()
            } else {
                format!("out[{offset}..]")
            };
            let doc = if value.integer {
                format!("{at} = {name}_q (an integer output, at scale 1)")
            } else {
                format!(
                    "{at} = round(({name}_q - {}) * {:e} * {os})",
                    q.zero_point, q.scale
                )
            };
            self.push(
                &name,
                "Output",
                doc,
                InstrKind::Dequantize {
                    src: t,
                    rescale,
                    offset,
                },
            )?;
            outputs.push(ProgramOutput {
                name,
                offset,
                len: value.len,
                integer: value.integer,
                scale,
            });
            offset += value.len;
        }
        Ok(outputs)
    }
}

pub fn quantize(graph: &Graph, domain: &Domain, opts: &QuantOptions) -> Result<Program> {
    quantize_noted(graph, domain, opts).map(|(p, _)| p)
}

/// [`quantize`], with the decisions to print at compile (one line each).
pub fn quantize_noted(
    graph: &Graph,
    domain: &Domain,
    opts: &QuantOptions,
) -> Result<(Program, Vec<String>)> {
    if opts.input_scale <= 0 || opts.output_scale <= 0 {
        return Err(Error::option(
            "--input-scale/--output-scale",
            "scales must be positive integers",
        ));
    }
    let mut b = Builder {
        graph,
        opts,
        tensors: Vec::new(),
        instrs: Vec::new(),
        bounds: Vec::new(),
        map: HashMap::new(),
        input_factors: None,
        notes: Vec::new(),
    };
    let mut uses: HashMap<ValueId, usize> = HashMap::new();
    for op in &graph.ops {
        for v in &op.inputs {
            *uses.entry(*v).or_default() += 1;
        }
    }
    let absorbed = b.quantize_input(domain)?;
    // Ops computed early by an instruction that fused them.
    let mut done: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < graph.ops.len() {
        let op = &graph.ops[i];
        if Some(i) == absorbed || done.contains(&i) {
            i += 1;
            continue;
        }
        match &op.kind {
            OpKind::Dense { weight, bias } => {
                let fused = b.fusable_clamp(i, &uses);
                b.dense(i, weight, bias, fused)?;
                if fused.is_some() {
                    i += 1;
                }
            }
            OpKind::Affine { scale, offset } => {
                let s: Vec<f64> = scale.iter().map(|&v| v as f64).collect();
                let o: Vec<f64> = offset.iter().map(|&v| v as f64).collect();
                let name = graph.value(op.output).name.clone();
                b.scale_op(
                    i,
                    &s,
                    &s,
                    &o,
                    None,
                    format!(
                        "{name}[i] = x[i] * c[i] + d[i] (constants of node {})",
                        op.node
                    ),
                )?;
            }
            OpKind::Binary { op: bop } => b.binary(i, *bop)?,
            OpKind::Activation(act) => b.activation(i, *act)?,
            OpKind::Softmax { axis_len } => b.softmax(i, *axis_len)?,
            // An index map no Dense could absorb: one-hot rows (exact, the
            // output range is the source's).
            OpKind::Gather { map } => {
                let n_in = graph.value(op.inputs[0]).len;
                let mut weight = vec![0f32; map.len() * n_in];
                for (k, &src) in map.iter().enumerate() {
                    weight[k * n_in + src] = 1.0;
                }
                let fused = b.fusable_clamp(i, &uses);
                b.dense(i, &weight, &vec![0.0; map.len()], fused)?;
                if fused.is_some() {
                    i += 1;
                }
            }
            OpKind::Trees(e) => b.trees(i, e)?,
            OpKind::ArgMax { axis_len } => {
                let axis_len = *axis_len;
                b.integer_op(i, move |src, dst| InstrKind::ArgMax { src, dst, axis_len })?
            }
            OpKind::GroupMax { axis_len } => b.group_max(i, *axis_len)?,
            OpKind::PRelu { slope } => {
                let neg: Vec<f64> = slope.iter().map(|&v| v as f64).collect();
                let name = graph.value(op.output).name.clone();
                b.scale_op(
                    i,
                    &vec![1.0; neg.len()],
                    &neg,
                    &vec![0.0; neg.len()],
                    None,
                    format!(
                        "{name}[i] = x[i] >= 0 ? x[i] : slope[i] * x[i] (slopes of node {})",
                        op.node
                    ),
                )?;
            }
            OpKind::Lookup { table } => {
                let table = table.clone();
                b.integer_op(i, move |src, dst| InstrKind::Lookup { src, dst, table })?
            }
            OpKind::Concat { blocks, consts } => b.concat(i, blocks, consts)?,
            OpKind::LayerNorm {
                axis_len,
                epsilon,
                centred,
                denom,
                out,
            } => {
                // A Relu or Clip reading only it is its output clamp.
                let fused = b.fusable_reader(i, &uses);
                b.layer_norm(i, (*axis_len, *epsilon, *centred, *denom), out, fused)?;
                done.extend(fused.map(|f| f.0));
            }
        }
        i += 1;
    }
    let outputs = b.dequantize()?;
    let notes = std::mem::take(&mut b.notes);
    let program = Program {
        model_name: String::new(),
        precision: opts.precision,
        tensors: b.tensors,
        instrs: b.instrs,
        input_len: graph.input_len(),
        output_len: graph.output_len(),
        outputs,
        input_scale: opts.input_scale,
        output_scale: opts.output_scale,
        input_domain: domain
            .lo
            .iter()
            .copied()
            .zip(domain.hi.iter().copied())
            .collect(),
        output_guard: None,
    };
    Ok((program, notes))
}
