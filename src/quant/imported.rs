//! Imported scales (issue 8): a [`QGraph`] (a QDQ or QOperator model with
//! its own scales and zero points) → the integer [`Program`].
//!
//! Nothing is chosen here from data: every tensor keeps the model's type
//! and parameters, and each op becomes the instruction that computes its
//! real formula (see [`crate::ir::qgraph`]) in integers:
//! - Linear: a Dense with the model's integer weights; the input zero
//!   point folded into the bias; per output the multiplier
//!   `acc_scale / dst_scale` as a 31-bit fixed-point multiplier and shift;
//!   the clamp is the destination type's range (saturation), narrowed by a
//!   fused Relu/Clip;
//! - Unary: a direct table of the exact result for every integer of the
//!   source's type (onnxruntime's float function and round half to even);
//! - Binary: Add/Sub with one shared shift, Mul through one rescale;
//! - the input: `s64` at `--input-scale` rescaled to the model's input
//!   quantization, clamped to the interval that maps onto its type;
//! - each output: dequantized to `s64` at `--output-scale` (or, for an
//!   integer output, the integers themselves).
//!
//! The rounding is the program's one rounding step ([`Rescale::apply`]).
//! onnxruntime rounds half to even; lfc rounds half up, except in a Linear
//! op whose multiplier is a short binary fraction (a pool over 2^k
//! positions between equal scales), where exact half quanta are reachable:
//! that op rounds half to even ([`Round::HalfEven`], still integers only)
//! and gives onnxruntime's quanta. Elsewhere results differ only when the
//! exact real value lies within 2^-31 (relative) of a half-integer quantum.

use std::collections::HashMap;

use crate::error::Error;
use crate::ir::bounds::{self, Bounds};
use crate::ir::concat::{Piece, PieceSrc};
use crate::ir::qgraph::{QGraph, QId, QOp, QOpKind, QType};
use crate::ir::{
    AccWidth, BinaryOp, Instr, InstrKind, Lut, LutFunc, Precision, Program, ProgramOutput, QParams,
    Rescale, Round, Tensor, TensorId,
};
use crate::quant::fixed::rescale_for;
use crate::Result;

fn qerr(what: &str, reason: impl Into<String>) -> Error {
    Error::Quant {
        what: what.to_string(),
        reason: reason.into(),
    }
}

fn params(ty: &QType) -> QParams {
    QParams {
        bits: ty.bits,
        zero_point: ty.zero_point,
        qmin: ty.qmin,
        qmax: ty.qmax,
        scale: ty.scale,
    }
}

struct Builder<'a> {
    g: &'a QGraph,
    tensors: Vec<Tensor>,
    instrs: Vec<Instr>,
    bounds: Vec<Option<Bounds>>,
    map: HashMap<QId, TensorId>,
}

impl Builder<'_> {
    fn tensor_for(&mut self, q: QId) -> TensorId {
        let t = self.g.tensor(q);
        self.tensors.push(Tensor {
            name: t.name.clone(),
            len: t.len,
            q: params(&t.ty),
        });
        self.bounds.push(None);
        let id = TensorId(self.tensors.len() as u32 - 1);
        self.map.insert(q, id);
        id
    }

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

    fn src(&self, q: QId) -> TensorId {
        self.map[&q]
    }

    /// The `s64` input at `scale` → the model's input quantization. The
    /// clamp is the widest interval whose rescaled ends stay in the type:
    /// saturation, as QuantizeLinear's.
    fn input(&mut self, scale: i64) -> Result<()> {
        let g = self.g;
        let t = g.tensor(g.input);
        let ty = &t.ty;
        if g.input_integer {
            return self.integer_input(scale);
        }
        let factor = 1.0 / (scale as f64 * ty.scale);
        // |s64| reaching qmax - qmin quanta beyond the zero point, with room.
        let reach = ((ty.qmax - ty.qmin + 2) as f64 / factor).ceil();
        if !(reach.is_finite() && reach < 1e17) {
            return Err(qerr(
                &t.name,
                format!(
                    "input scale {:e} at --input-scale {scale} exceeds s64",
                    ty.scale
                ),
            ));
        }
        let reach = reach as i64;
        let r = rescale_for(factor, reach).map_err(|e| qerr(&t.name, e))?;
        let z = ty.zero_point;
        // Smallest x with r(x) + z >= qmin, largest with r(x) + z <= qmax
        // (r is monotone non-decreasing).
        let lo = search(-reach, reach, |x| r.apply(x) + z >= ty.qmin);
        let hi = search(-reach, reach, |x| r.apply(x) + z > ty.qmax) - 1;
        let dst = self.tensor_for(g.input);
        let n = t.len;
        let doc = format!(
            "{}_q = sat(round(in / {scale} / {:e}) + {z}): the model's QuantizeLinear `{}` (in clamped to [{lo}, {hi}], the s64 range that maps onto {})",
            t.name, ty.scale, g.input_node, ty.elem
        );
        self.push(
            &g.input_node,
            "QuantizeLinear",
            doc,
            InstrKind::Quantize {
                dst,
                in_lo: vec![lo; n],
                in_hi: vec![hi; n],
                rescale: vec![r],
                pick: None,
            },
        )
    }

    /// An integer graph input: `s64 / input_scale` rounded, clamped to the
    /// type, held first with zero point 0 and then (a Scale adding
    /// nothing) as the tensor with the model's zero point.
    fn integer_input(&mut self, scale: i64) -> Result<()> {
        let g = self.g;
        let t = g.tensor(g.input);
        let ty = t.ty.clone();
        let reach = (ty.qmax.abs().max(ty.qmin.abs()) + 1).saturating_mul(scale);
        let r = rescale_for(1.0 / scale as f64, reach).map_err(|e| qerr(&t.name, e))?;
        let lo = search(-reach, reach, |x| r.apply(x) >= ty.qmin);
        let hi = search(-reach, reach, |x| r.apply(x) > ty.qmax) - 1;
        let n = t.len;
        let doc = format!(
            "{}_q = round(in / {scale}): the integers of the {} input (in clamped to [{lo}, {hi}])",
            t.name, ty.elem
        );
        let z = ty.zero_point;
        let raw = if z == 0 {
            self.tensor_for(g.input)
        } else {
            self.tensors.push(Tensor {
                name: format!("{}_raw", t.name),
                len: n,
                q: QParams {
                    zero_point: 0,
                    ..params(&ty)
                },
            });
            self.bounds.push(None);
            TensorId(self.tensors.len() as u32 - 1)
        };
        self.push(
            &g.input_node,
            "Input",
            doc,
            InstrKind::Quantize {
                dst: raw,
                in_lo: vec![lo; n],
                in_hi: vec![hi; n],
                rescale: vec![r],
                pick: None,
            },
        )?;
        if z != 0 {
            let dst = self.tensor_for(g.input);
            self.push(
                &g.input_node,
                "Input",
                format!("{}[i] = {}_raw[i] (zero point {z})", t.name, t.name),
                InstrKind::Scale {
                    src: raw,
                    dst,
                    pos: vec![Rescale::IDENTITY; n],
                    neg: vec![Rescale::IDENTITY; n],
                    offset: vec![-z; n],
                    clamp: None,
                },
            )?;
        }
        Ok(())
    }

    fn op(&mut self, op: &QOp) -> Result<()> {
        match &op.kind {
            QOpKind::Linear {
                weight,
                bias,
                acc_scale,
                clamp,
                ..
            } => self.linear(op, weight, bias, acc_scale, *clamp),
            QOpKind::Unary { func } => self.unary(op, func),
            QOpKind::Binary { op: bop } => self.binary(op, *bop),
            QOpKind::Concat { outer } => self.concat(op, *outer),
            QOpKind::GroupMax { map, axis_len } => self.group_max(op, map, *axis_len),
        }
    }

    /// MaxPool: the windows laid out by a one-hot Dense (`acc = q - zp`,
    /// the identity rescale, `+ zp`: each tap copied exactly), then the
    /// program's GroupMax over each window, all in the source's type (the
    /// maximum of the integers is the integer of the maximum: see
    /// [`QOpKind::GroupMax`]).
    fn group_max(&mut self, op: &QOp, map: &[usize], axis_len: usize) -> Result<()> {
        let g = self.g;
        let (st, dt) = (g.tensor(op.inputs[0]), g.tensor(op.output));
        if st.ty != dt.ty {
            return Err(qerr(
                &op.node,
                "a group maximum keeps its source's type (the front end requantizes after it)",
            ));
        }
        let src = self.src(op.inputs[0]);
        let n_in = st.len;
        let mut weight = vec![0i64; map.len() * n_in];
        for (k, &i) in map.iter().enumerate() {
            weight[k * n_in + i] = 1;
        }
        let z = st.ty.zero_point;
        self.tensors.push(Tensor {
            name: format!("{}_windows", dt.name),
            len: map.len(),
            q: params(&st.ty),
        });
        self.bounds.push(None);
        let windows = TensorId(self.tensors.len() as u32 - 1);
        let doc = format!(
            "{}_windows[k] = {}[map[k]]: each window's {axis_len} taps side by side (a padded tap repeats a real one)",
            dt.name, st.name
        );
        self.push(
            &op.node,
            &op.onnx_op,
            doc,
            InstrKind::Dense {
                src,
                dst: windows,
                weight,
                weight_bits: 2,
                bias: vec![-z; map.len()],
                acc: AccWidth::I32,
                rescale: vec![Rescale::IDENTITY; map.len()],
                clamp: Some((st.ty.qmin, st.ty.qmax)),
            },
        )?;
        let dst = self.tensor_for(op.output);
        let doc = format!(
            "{}[g] = max of {}_windows over group g of {axis_len}: exact in the source's scale and zero point, as the maximum commutes with the monotone dequantization (fused: {})",
            dt.name,
            dt.name,
            op.fused.join(", ")
        );
        self.push(
            &op.node,
            &op.onnx_op,
            doc,
            InstrKind::GroupMax {
                src: windows,
                dst,
                axis_len,
            },
        )
    }

    /// Every input's blocks copied into the output: the program's one
    /// [`InstrKind::Concat`], every piece a plain copy (the front end gave
    /// each input the output's type, requantizing by table where needed).
    fn concat(&mut self, op: &QOp, outer: usize) -> Result<()> {
        let g = self.g;
        let pieces: Vec<Piece> = g
            .concat_layout(op, outer)
            .into_iter()
            .map(|(k, block)| Piece {
                src: PieceSrc::Tensor {
                    id: self.src(op.inputs[k]),
                    rescale: Rescale::IDENTITY,
                },
                block,
            })
            .collect();
        let names: Vec<&str> = op
            .inputs
            .iter()
            .map(|q| g.tensor(*q).name.as_str())
            .collect();
        let dst = self.tensor_for(op.output);
        let doc = format!(
            "{} = concat({}) in {} blocks: copies, every input holds the output's scale and zero point (fused: {})",
            g.tensor(op.output).name,
            names.join(", "),
            pieces.len(),
            op.fused.join(", ")
        );
        let kind = InstrKind::Concat {
            dst,
            pieces,
            consts: vec![],
            clamp: None,
        };
        self.push(&op.node, &op.onnx_op, doc, kind)
    }

    fn linear(
        &mut self,
        op: &QOp,
        weight: &[i64],
        bias: &[f64],
        acc_scale: &[f64],
        clamp: Option<(f64, f64)>,
    ) -> Result<()> {
        let g = self.g;
        let src = self.src(op.inputs[0]);
        let (sq, dq) = (&g.tensor(op.inputs[0]).ty, &g.tensor(op.output).ty);
        let n_in = g.tensor(op.inputs[0]).len;
        let mut b = Vec::with_capacity(bias.len());
        for (j, &v) in bias.iter().enumerate() {
            let row_sum: i64 = weight[j * n_in..(j + 1) * n_in].iter().sum();
            let r = v.round();
            if r.is_nan() || r.abs() >= 4e18 {
                return Err(qerr(
                    &op.node,
                    format!("bias of output {j} ({v:e} accumulator units) exceeds 64 bits"),
                ));
            }
            b.push(r as i64 - sq.zero_point * row_sum);
        }
        let accs = bounds::dense_acc_bounds(weight, &b, self.bounds[src.index()].as_ref().unwrap());
        let widest = accs.iter().map(|a| a.2).max().unwrap_or(0);
        let acc = if widest <= i32::MAX as i128 {
            AccWidth::I32
        } else {
            AccWidth::I64
        };
        let max_acc = accs
            .iter()
            .map(|a| a.0.abs().max(a.1.abs()))
            .max()
            .unwrap_or(1)
            .clamp(1, i64::MAX as i128) as i64;
        let round = tie_rounding(g, op);
        let rescale = acc_scale
            .iter()
            .map(|s| {
                rescale_for(s / dq.scale, max_acc)
                    .map(|r| r.with_round(round))
                    .map_err(|e| qerr(&op.node, e))
            })
            .collect::<Result<Vec<_>>>()?;
        let (mut lo, mut hi) = (dq.qmin, dq.qmax);
        if let Some((a, c)) = clamp {
            lo = lo.max(dq.quantize(a));
            hi = hi.min(dq.quantize(c));
        }
        let wmax = weight.iter().map(|w| w.abs()).max().unwrap_or(0);
        let weight_bits = 64 - wmax.leading_zeros() + 1;
        let dst = self.tensor_for(op.output);
        let integer = dq.scale == 1.0 && acc_scale.iter().all(|&s| s == 1.0);
        let doc = if integer {
            format!(
                "{}[j] = sum_i W[j][i] * ({}[i] - {}) (the model's integer weights; int32 result)",
                g.tensor(op.output).name,
                g.tensor(op.inputs[0]).name,
                sq.zero_point
            )
        } else {
            format!(
                "{}[j] = sat(round(s_acc[j] / {:e} * (B[j] + sum_i W[j][i] * ({}[i] - {}))) + {}){}: the model's integer weights and scales (fused: {})",
                g.tensor(op.output).name,
                dq.scale,
                g.tensor(op.inputs[0]).name,
                sq.zero_point,
                dq.zero_point,
                match clamp {
                    Some((a, c)) => format!(", clamped to [{a}, {c}]"),
                    None => String::new(),
                },
                op.fused.join(", ")
            )
        };
        let doc = match round {
            Round::HalfUp => doc,
            _ => format!(
                "{doc}; exact half quanta are reachable (the multiplier is a short binary fraction): {}, as onnxruntime",
                if op.rounds_with_zero_point() {
                    "the stored integer (zero point included) rounded half to even"
                } else {
                    "rounded half to even"
                }
            ),
        };
        self.push(
            &op.node,
            &op.onnx_op,
            doc,
            InstrKind::Dense {
                src,
                dst,
                weight: weight.to_vec(),
                weight_bits,
                bias: b,
                acc,
                rescale,
                clamp: Some((lo, hi)),
            },
        )
    }

    /// A direct table over every integer of the source's type.
    fn unary(&mut self, op: &QOp, func: &LutFunc) -> Result<()> {
        let g = self.g;
        let (sq, dq) = (&g.tensor(op.inputs[0]).ty, &g.tensor(op.output).ty);
        if sq.qmax - sq.qmin > 65535 {
            return Err(qerr(
                &op.node,
                format!("a table over {} is too large", sq.elem),
            ));
        }
        let mut table: Vec<i64> = (sq.qmin..=sq.qmax)
            .map(|q| dq.quantize(func.eval(sq.real(q))))
            .collect();
        table.push(*table.last().unwrap());
        let src = self.src(op.inputs[0]);
        let dst = self.tensor_for(op.output);
        let doc = format!(
            "{}[i] = sat(round({}(({}[i] - {}) * {:e}) / {:e}) + {}): exact {}-entry table (fused: {})",
            g.tensor(op.output).name,
            func.name(),
            g.tensor(op.inputs[0]).name,
            sq.zero_point,
            sq.scale,
            dq.scale,
            dq.zero_point,
            table.len() - 1,
            op.fused.join(", ")
        );
        self.push(
            &op.node,
            &op.onnx_op,
            doc,
            InstrKind::Lut {
                src,
                dst,
                lut: Lut {
                    func: *func,
                    lo: sq.qmin,
                    hi: sq.qmax,
                    step_shift: 0,
                    table,
                    max_error: 0.0,
                },
            },
        )
    }

    fn binary(&mut self, op: &QOp, bop: BinaryOp) -> Result<()> {
        let g = self.g;
        let (ta, tb, td) = (
            &g.tensor(op.inputs[0]).ty,
            &g.tensor(op.inputs[1]).ty,
            &g.tensor(op.output).ty,
        );
        let span = |t: &QType| (t.qmax - t.zero_point).max(t.zero_point - t.qmin).max(1);
        let (ma, mb) = (span(ta), span(tb));
        let (rescale_a, mul_b) = match bop {
            BinaryOp::Mul => (
                rescale_for(ta.scale * tb.scale / td.scale, ma * mb)
                    .map_err(|e| qerr(&op.node, e))?,
                0,
            ),
            _ => {
                let (fa, fb) = (ta.scale / td.scale, tb.scale / td.scale);
                let r = rescale_for(fa.max(fb), ma.max(mb) * 2).map_err(|e| qerr(&op.node, e))?;
                let k = (r.shift as f64).exp2();
                (
                    Rescale::new((fa * k).round() as i64, r.shift),
                    (fb * k).round() as i64,
                )
            }
        };
        let (a, b) = (self.src(op.inputs[0]), self.src(op.inputs[1]));
        let dst = self.tensor_for(op.output);
        let doc = format!(
            "{}[i] = sat(round(({:e} * ({}[i] - {}) {} {:e} * ({}[i] - {})) / {:e}) + {}) (fused: {})",
            g.tensor(op.output).name,
            ta.scale,
            g.tensor(op.inputs[0]).name,
            ta.zero_point,
            match bop {
                BinaryOp::Add => "+",
                BinaryOp::Sub => "-",
                BinaryOp::Mul => "*",
            },
            tb.scale,
            g.tensor(op.inputs[1]).name,
            tb.zero_point,
            td.scale,
            td.zero_point,
            op.fused.join(", ")
        );
        self.push(
            &op.node,
            &op.onnx_op,
            doc,
            InstrKind::Binary {
                op: bop,
                a,
                b,
                dst,
                rescale_a,
                mul_b,
                clamp: Some((td.qmin, td.qmax)),
            },
        )
    }

    fn outputs(&mut self, output_scale: i64) -> Result<Vec<ProgramOutput>> {
        let g = self.g;
        let mut outs = Vec::new();
        let mut offset = 0;
        for o in &g.outputs {
            let t = g.tensor(o.tensor);
            let mut src = self.src(o.tensor);
            let (scale, rescale, doc) = if o.real {
                let span = (t.ty.qmax - t.ty.zero_point).max(t.ty.zero_point - t.ty.qmin);
                let r = rescale_for(t.ty.scale * output_scale as f64, span.max(1))
                    .map_err(|e| qerr(&o.name, e))?;
                let doc = format!(
                    "out[{offset}..] = round(({}_q - {}) * {:e} * {output_scale}) (DequantizeLinear)",
                    t.name, t.ty.zero_point, t.ty.scale
                );
                (output_scale, r, doc)
            } else {
                if t.ty.zero_point != 0 {
                    src = self.zero_point_free(o.tensor)?;
                }
                let doc = format!(
                    "out[{offset}..] = {}_q (the integers of a quantized output, at scale 1)",
                    t.name
                );
                (1, Rescale::IDENTITY, doc)
            };
            self.push(
                &o.name,
                "Output",
                doc,
                InstrKind::Dequantize {
                    src,
                    rescale,
                    offset,
                },
            )?;
            outs.push(ProgramOutput {
                name: o.name.clone(),
                offset,
                len: t.len,
                integer: !o.real,
                scale,
            });
            offset += t.len;
        }
        Ok(outs)
    }

    /// A copy of `q` held with zero point 0 (the Dequantize subtracts a
    /// tensor's zero point; an integer output answers `q` itself).
    fn zero_point_free(&mut self, q: QId) -> Result<TensorId> {
        let t = self.g.tensor(q);
        let src = self.src(q);
        let z = t.ty.zero_point;
        self.tensors.push(Tensor {
            name: format!("{}_raw", t.name),
            len: t.len,
            q: QParams {
                bits: t.ty.bits,
                zero_point: 0,
                qmin: t.ty.qmin,
                qmax: t.ty.qmax,
                scale: t.ty.scale,
            },
        });
        self.bounds.push(None);
        let dst = TensorId(self.tensors.len() as u32 - 1);
        let n = t.len;
        self.push(
            &t.name,
            "Output",
            format!("{}_raw[i] = {}[i] (zero point {z} kept)", t.name, t.name),
            InstrKind::Scale {
                src,
                dst,
                pos: vec![Rescale::IDENTITY; n],
                neg: vec![Rescale::IDENTITY; n],
                offset: vec![z; n],
                clamp: None,
            },
        )?;
        Ok(dst)
    }
}

/// What the `s64` boundary costs a quantized model: the datapath's value
/// is rounded to a step of `1 / input_scale` before the model's own input
/// quantization rounds it to its quantum. An input within half a step of a
/// quantum's rounding boundary can land on the other side: for inputs
/// spread over many quanta, a fraction of about `step / quantum` of them.
/// Reported when that makes more than 1 % of rows hold a different input
/// integer (expected count `input_len * step / quantum > 0.01`).
pub fn warnings(g: &QGraph, input_scale: i64) -> Vec<crate::quant::warn::Warning> {
    let mut out = Vec::new();
    let t = g.tensor(g.input);
    let step = 1.0 / input_scale as f64;
    let per_row = t.len as f64 * step / t.ty.scale;
    if per_row <= 0.01 {
        return out;
    }
    out.push(crate::quant::warn::Warning {
        node: g.input_node.clone(),
        max_error: t.ty.scale,
        message: format!(
            "node `{}` (QuantizeLinear): the model quantizes its input `{}` at steps of {:.4e}, and --input-scale {input_scale} rounds the s64 inputs to {step:e} first: about {:.1} % of features ({:.2} per row) land one input quantum away from onnxruntime's; raise --input-scale (to {} for under 1 % of rows)",
            g.input_node,
            g.input_name,
            t.ty.scale,
            100.0 * step / t.ty.scale,
            per_row,
            suggest(t.len as f64 / t.ty.scale / 0.01)
        ),
    });
    out
}

/// A Linear op whose multiplier `acc_scale / dst_scale` is a short binary
/// fraction `m / 2^e` for some channel: an accumulator that is an odd
/// multiple of `2^(e-1)` lands exactly on a half quantum, where
/// onnxruntime rounds to even (a 2x2 average pool between equal scales:
/// every sum that is 2 mod 4). Such an op is lowered with
/// [`Round::HalfEven`]; calibrated scales make `e` far too large for any
/// reachable accumulator, and those ops keep the cheaper half-up rounding
/// (their exact halves in integers are not onnxruntime's).
/// How `op`'s rescale rounds ties: half up unless exact halves are
/// reachable; then to even, of the rescaled value or (an op onnxruntime
/// rounds with the zero point added, [`QOp::rounds_with_zero_point`]) of
/// the stored integer: to odd before an odd zero point.
fn tie_rounding(g: &QGraph, op: &QOp) -> Round {
    if !exact_halves_reachable(g, op) {
        return Round::HalfUp;
    }
    let zp = g.tensor(op.output).ty.zero_point;
    if op.rounds_with_zero_point() && zp % 2 != 0 {
        Round::HalfOdd
    } else {
        Round::HalfEven
    }
}

fn exact_halves_reachable(g: &QGraph, op: &QOp) -> bool {
    let QOpKind::Linear {
        weight, acc_scale, ..
    } = &op.kind
    else {
        return false;
    };
    let src = &g.tensor(op.inputs[0]).ty;
    let dst = &g.tensor(op.output).ty;
    let n = g.tensor(op.inputs[0]).len.max(1);
    let span = (src.qmax - src.qmin) as f64;
    acc_scale.iter().enumerate().any(|(j, s)| {
        let max_acc: f64 = weight[j * n..(j + 1) * n]
            .iter()
            .map(|w| w.abs() as f64 * span)
            .sum();
        let e = binary_denominator(s / dst.scale);
        (1..62).contains(&e) && ((1u64 << (e - 1)) as f64) <= max_acc
    })
}

/// The `e` of `x = m / 2^e` with `m` an odd integer (0 for an integer,
/// 64 when `x` has no short form).
fn binary_denominator(x: f64) -> u32 {
    if !x.is_finite() || x == 0.0 {
        return 0;
    }
    for e in 0..62u32 {
        let y = x * (e as f64).exp2();
        if y.fract() == 0.0 {
            return e;
        }
    }
    64
}

/// `x` rounded up to a power of ten.
fn suggest(x: f64) -> i64 {
    10f64.powi(x.log10().ceil().clamp(0.0, 18.0) as i32) as i64
}

/// The smallest `x` in `[lo, hi]` with `pred(x)` (`hi + 1` if none), for
/// a monotone `pred`.
fn search(mut lo: i64, mut hi: i64, pred: impl Fn(i64) -> bool) -> i64 {
    hi += 1;
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// Lowers an imported quantized graph to the integer program.
pub fn lower(g: &QGraph, input_scale: i64, output_scale: i64) -> Result<Program> {
    if input_scale <= 0 || output_scale <= 0 {
        return Err(Error::option(
            "--input-scale/--output-scale",
            "scales must be positive integers",
        ));
    }
    let mut b = Builder {
        g,
        tensors: Vec::new(),
        instrs: Vec::new(),
        bounds: Vec::new(),
        map: HashMap::new(),
    };
    b.input(input_scale)?;
    for op in &g.ops {
        b.op(op)?;
    }
    let outputs = b.outputs(output_scale)?;
    let (lo, hi) = match &b.instrs[0].kind {
        InstrKind::Quantize { in_lo, in_hi, .. } => (in_lo[0], in_hi[0]),
        _ => unreachable!("the first instruction is the Quantize"),
    };
    let is = input_scale as f64;
    Ok(Program {
        model_name: String::new(),
        precision: Precision::Int8,
        tensors: b.tensors,
        instrs: b.instrs,
        input_len: g.input_len(),
        output_len: g.output_len(),
        outputs,
        input_scale,
        output_scale,
        input_domain: vec![(lo as f64 / is, hi as f64 / is); g.input_len()],
        output_guard: None,
    })
}
