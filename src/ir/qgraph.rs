//! The imported quantized graph (issue 8): what the ONNX front end reads
//! from a QDQ or QOperator model, before it becomes an integer [`Program`].
//!
//! Every tensor between ops holds integers with the model's own scale and
//! zero point (`real = (q - zero_point) * scale`); nothing is chosen by lfc.
//! Each op states, in real numbers, what onnxruntime computes for the
//! `DQ -> op -> Q` group (or the QOperator node) it came from, and
//! [`QGraph::simulate`] computes exactly that: real arithmetic, then one
//! quantization rounding half to even with saturation. That simulation is
//! the reference `lfc eval` compares a quantized model against; the integer
//! program reproduces it with fixed-point multipliers
//! ([`crate::quant::imported`]).
//!
//! [`Program`]: crate::ir::Program

use std::fmt;

use crate::ir::concat::{concat_blocks, Block};
use crate::ir::{Activation, BinaryOp, Graph, LutFunc, Op, OpKind, ValueId};

/// Index of a tensor in [`QGraph::tensors`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QId(pub u32);

impl QId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for QId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "q{}", self.0)
    }
}

/// An integer type and the model's quantization of a tensor:
/// `real = (q - zero_point) * scale`, `qmin <= q <= qmax`.
#[derive(Clone, Debug, PartialEq)]
pub struct QType {
    /// The ONNX element type (`int8`, `uint8`, `int32`…), for messages.
    pub elem: &'static str,
    pub bits: u32,
    pub qmin: i64,
    pub qmax: i64,
    /// The model's float32 scale, widened to f64 (exact).
    pub scale: f64,
    pub zero_point: i64,
}

impl QType {
    /// `sat(round_half_even(x / scale) + zero_point)`: ONNX QuantizeLinear.
    pub fn quantize(&self, x: f64) -> i64 {
        if x.is_nan() {
            return self.zero_point.clamp(self.qmin, self.qmax);
        }
        let v = (x / self.scale).round_ties_even() + self.zero_point as f64;
        v.clamp(self.qmin as f64, self.qmax as f64) as i64
    }

    /// `sat(round_half_even(x / scale + zero_point))`: the zero point added
    /// before the rounding, so an exact half goes to the even stored
    /// integer (onnxruntime's QLinearAveragePool kernel:
    /// `nearbyintf(y / y_scale + y_zero_point)`).
    pub fn quantize_zp_first(&self, x: f64) -> i64 {
        if x.is_nan() {
            return self.zero_point.clamp(self.qmin, self.qmax);
        }
        let v = (x / self.scale + self.zero_point as f64).round_ties_even();
        v.clamp(self.qmin as f64, self.qmax as f64) as i64
    }

    /// QuantizeLinear as onnxruntime computes it on a float32 input: the
    /// quotient `x / scale` in float32, then rounded half to even.
    pub fn quantize_f32(&self, x: f32) -> i64 {
        if x.is_nan() {
            return self.zero_point.clamp(self.qmin, self.qmax);
        }
        let v = ((x / self.scale as f32) as f64).round_ties_even() + self.zero_point as f64;
        v.clamp(self.qmin as f64, self.qmax as f64) as i64
    }

    pub fn real(&self, q: i64) -> f64 {
        (q - self.zero_point) as f64 * self.scale
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct QTensor {
    /// The ONNX tensor name (of the quantized tensor).
    pub name: String,
    pub len: usize,
    pub ty: QType,
}

/// What one imported op computes, per output element `j`, from its
/// sources' real values `x = (q - zero_point) * scale`; the result `v` is
/// then stored as `dst.quantize(v)`.
#[derive(Clone, Debug, PartialEq)]
pub enum QOpKind {
    /// `v[j] = acc_scale[j] * (bias[j] + sum_i weight[j][i] * (q[i] - zp))`,
    /// then clamped to `clamp` (a fused Relu/Clip) when given. Weights are
    /// the model's integers with their zero points subtracted, row-major
    /// `[dst.len][src.len]`; `bias` is in accumulator units (an int32 bias
    /// exactly; a float bias divided by `acc_scale`). Gemm, MatMul, Conv,
    /// pooling, QGemm, QLinearMatMul, QLinearConv, MatMulInteger and
    /// ConvInteger all take this form.
    Linear {
        weight: Vec<i64>,
        bias: Vec<f64>,
        acc_scale: Vec<f64>,
        clamp: Option<(f64, f64)>,
        /// The model's weight scales, one per output channel (one for a
        /// per-tensor weight, none for a pool or an integer op): what
        /// `lfc inspect` lists; `acc_scale` already holds them.
        weight_scale: Vec<f64>,
    },
    /// `v[j] = f(x[j])` for a float op between a DQ and a Q (Tanh, Relu…)
    /// or a QLinear activation: an exact table over the source's integers.
    Unary { func: LutFunc },
    /// `v[j] = a[j] op b[j]` (QDQ Add/Sub/Mul, QLinearAdd/QLinearMul).
    Binary { op: BinaryOp },
    /// The inputs' integers side by side along an axis with `outer`
    /// positions before it (QDQ Concat, QLinearConcat): per outer index,
    /// each input's row in input order. Every input holds the output's
    /// type (the front end requantizes one with other parameters into it
    /// first, as onnxruntime's QLinearConcat does by table), so this is a
    /// copy.
    Concat { outer: usize },
    /// `v[j] = max_k x[map[j * axis_len + k]]` (MaxPool: each window's
    /// taps side by side, a padded tap repeating a real one). The maximum
    /// commutes with the monotone map `q -> (q - zp) * scale` (scale > 0),
    /// and with onnxruntime's float32 rounding of it (rounding is monotone
    /// too), so the max of the integers is the integer of the float max:
    /// the output holds the source's type exactly (the front end
    /// requantizes it by table when the model's Q has other parameters).
    GroupMax { map: Vec<usize>, axis_len: usize },
}

#[derive(Clone, Debug, PartialEq)]
pub struct QOp {
    /// The ONNX node that computes it (the central one of a QDQ group).
    pub node: String,
    pub onnx_op: String,
    /// Every ONNX node this op stands for (DQs, the op, fused activations,
    /// the Q), in file order: what `lfc inspect` lists as fused.
    pub fused: Vec<String>,
    pub kind: QOpKind,
    pub inputs: Vec<QId>,
    pub output: QId,
}

impl QOp {
    /// onnxruntime rounds this op's result with the zero point already
    /// added ([`QType::quantize_zp_first`]): an AveragePool, QDQ (which
    /// onnxruntime fuses into QLinearAveragePool) or QOperator. Its kernel
    /// averages in float32 and computes `nearbyintf(y / y_scale +
    /// y_zero_point)`; every other op rounds `y / y_scale` and then adds the
    /// zero point, as QuantizeLinear. The two differ only on an exact half
    /// with an odd zero point.
    pub fn rounds_with_zero_point(&self) -> bool {
        matches!(self.onnx_op.as_str(), "AveragePool" | "QLinearAveragePool")
    }
}

/// One model output: `tensor`, dequantized (`real`) or answered as the
/// integers themselves (a quantized or int32 graph output).
#[derive(Clone, Debug, PartialEq)]
pub struct QOutput {
    pub name: String,
    pub tensor: QId,
    pub real: bool,
}

/// The whole imported model. The float input goes through one
/// QuantizeLinear into [`QGraph::input`]; ops are in execution order.
#[derive(Clone, Debug, PartialEq)]
pub struct QGraph {
    pub tensors: Vec<QTensor>,
    pub ops: Vec<QOp>,
    /// The ONNX name of the float graph input.
    pub input_name: String,
    /// The quantized input tensor (its length is the input's).
    pub input: QId,
    /// The QuantizeLinear node(s) reading the graph input.
    pub input_node: String,
    /// The graph input holds the integers themselves (an int8/uint8…
    /// input read by a DequantizeLinear or QOperator node, as in the ONNX
    /// node tests): the boundary passes them at scale 1.
    pub input_integer: bool,
    pub outputs: Vec<QOutput>,
}

impl QGraph {
    pub fn tensor(&self, id: QId) -> &QTensor {
        &self.tensors[id.index()]
    }

    pub fn input_len(&self) -> usize {
        self.tensor(self.input).len
    }

    pub fn output_len(&self) -> usize {
        self.outputs.iter().map(|o| self.tensor(o.tensor).len).sum()
    }

    /// The model's integers for one float input row: every tensor.
    pub fn simulate_all(&self, input: &[f64]) -> Vec<Vec<i64>> {
        let mut t: Vec<Vec<i64>> = vec![Vec::new(); self.tensors.len()];
        let qi = &self.tensor(self.input).ty;
        // onnxruntime divides the float32 input by the float32 scale.
        t[self.input.index()] = input.iter().map(|&x| qi.quantize_f32(x as f32)).collect();
        for op in &self.ops {
            let out = self.eval_op(op, &t);
            t[op.output.index()] = out;
        }
        t
    }

    /// The real value onnxruntime computes for `op` before quantization.
    pub fn op_reals(&self, op: &QOp, t: &[Vec<i64>]) -> Vec<f64> {
        let src = self.tensor(op.inputs[0]);
        let xs = &t[op.inputs[0].index()];
        match &op.kind {
            QOpKind::Linear {
                weight,
                bias,
                acc_scale,
                clamp,
                ..
            } => {
                let n = xs.len();
                let z = src.ty.zero_point;
                bias.iter()
                    .enumerate()
                    .map(|(j, b)| {
                        let row = &weight[j * n..(j + 1) * n];
                        let acc: i64 = row.iter().zip(xs).map(|(w, q)| w * (q - z)).sum();
                        let v = acc_scale[j] * (b + acc as f64);
                        match clamp {
                            Some((lo, hi)) => v.max(*lo).min(*hi),
                            None => v,
                        }
                    })
                    .collect()
            }
            QOpKind::Unary { func } => xs.iter().map(|&q| func.eval(src.ty.real(q))).collect(),
            QOpKind::Concat { outer } => {
                let mut y = vec![0.0; self.tensor(op.output).len];
                for (k, b) in self.concat_layout(op, *outer) {
                    let q = op.inputs[k];
                    let ty = &self.tensor(q).ty;
                    for i in 0..b.len {
                        y[b.at + i] = ty.real(t[q.index()][b.from + i]);
                    }
                }
                y
            }
            QOpKind::GroupMax { map, axis_len } => map
                .chunks(*axis_len)
                .map(|g| {
                    let q = g.iter().map(|&i| xs[i]).max().expect("non-empty window");
                    src.ty.real(q)
                })
                .collect(),
            QOpKind::Binary { op: bop } => {
                let b = self.tensor(op.inputs[1]);
                xs.iter()
                    .zip(&t[op.inputs[1].index()])
                    .map(|(&qa, &qb)| {
                        let (x, y) = (src.ty.real(qa), b.ty.real(qb));
                        match bop {
                            BinaryOp::Add => x + y,
                            BinaryOp::Sub => x - y,
                            BinaryOp::Mul => x * y,
                        }
                    })
                    .collect()
            }
        }
    }

    /// The blocks of a [`QOpKind::Concat`] with `outer` positions before
    /// its axis: `(input, block)` in output order ([`concat_blocks`], the
    /// layout the integer instruction uses too).
    pub fn concat_layout(&self, op: &QOp, outer: usize) -> Vec<(usize, Block)> {
        let shapes: Vec<Vec<usize>> = op
            .inputs
            .iter()
            .map(|q| vec![outer, self.tensor(*q).len / outer])
            .collect();
        concat_blocks(&shapes, 1)
    }

    fn eval_op(&self, op: &QOp, t: &[Vec<i64>]) -> Vec<i64> {
        if let QOpKind::Concat { outer } = op.kind {
            let mut y = vec![0; self.tensor(op.output).len];
            for (k, b) in self.concat_layout(op, outer) {
                let x = &t[op.inputs[k].index()];
                y[b.at..b.at + b.len].copy_from_slice(&x[b.from..b.from + b.len]);
            }
            return y;
        }
        let dst = &self.tensor(op.output).ty;
        let zp_first = op.rounds_with_zero_point();
        self.op_reals(op, t)
            .into_iter()
            .map(|v| {
                if zp_first {
                    dst.quantize_zp_first(v)
                } else {
                    dst.quantize(v)
                }
            })
            .collect()
    }

    /// The dequantized float graph (weights and biases as reals, no
    /// rounding between ops): what `lfc inspect --ir` shows as the float
    /// level, and the input's name and width for data checks.
    pub fn float_graph(&self) -> Graph {
        let mut g = Graph::default();
        let mut map: Vec<Option<ValueId>> = vec![None; self.tensors.len()];
        g.input = g.add_value(&self.input_name, self.input_len());
        map[self.input.index()] = Some(g.input);
        for op in &self.ops {
            let src = self.tensor(op.inputs[0]);
            let x = map[op.inputs[0].index()].expect("ops are in execution order");
            let out = self.tensor(op.output);
            let push = |g: &mut Graph, kind: OpKind, inputs: Vec<ValueId>, name: &str| {
                let id = g.add_value(name, out.len);
                g.ops.push(Op {
                    node: op.node.clone(),
                    onnx_op: op.onnx_op.clone(),
                    kind,
                    inputs,
                    output: id,
                });
                id
            };
            let id = match &op.kind {
                QOpKind::Linear {
                    weight,
                    bias,
                    acc_scale,
                    clamp,
                    ..
                } => {
                    let n = src.len;
                    let sx = src.ty.scale;
                    let w = weight
                        .iter()
                        .enumerate()
                        .map(|(k, &v)| (v as f64 * acc_scale[k / n.max(1)] / sx) as f32)
                        .collect();
                    let b = bias
                        .iter()
                        .zip(acc_scale)
                        .map(|(b, s)| (b * s) as f32)
                        .collect();
                    let dense = OpKind::Dense { weight: w, bias: b };
                    match clamp {
                        None => push(&mut g, dense, vec![x], &out.name),
                        Some((lo, hi)) => {
                            let pre = push(&mut g, dense, vec![x], &format!("{}_pre", out.name));
                            let clip = Activation::Clip {
                                min: *lo as f32,
                                max: *hi as f32,
                            };
                            push(&mut g, OpKind::Activation(clip), vec![pre], &out.name)
                        }
                    }
                }
                QOpKind::Unary { func } => push(
                    &mut g,
                    OpKind::Activation(Activation::Table(*func)),
                    vec![x],
                    &out.name,
                ),
                QOpKind::Binary { op: bop } => {
                    let y = map[op.inputs[1].index()].expect("ops are in execution order");
                    push(&mut g, OpKind::Binary { op: *bop }, vec![x, y], &out.name)
                }
                QOpKind::GroupMax { map, axis_len } => {
                    let n = map.len();
                    let win = g.add_value(format!("{}_windows", out.name), n);
                    g.ops.push(Op {
                        node: op.node.clone(),
                        onnx_op: op.onnx_op.clone(),
                        kind: OpKind::Gather { map: map.clone() },
                        inputs: vec![x],
                        output: win,
                    });
                    let kind = OpKind::GroupMax {
                        axis_len: *axis_len,
                    };
                    push(&mut g, kind, vec![win], &out.name)
                }
                QOpKind::Concat { outer } => {
                    let blocks = self
                        .concat_layout(op, *outer)
                        .into_iter()
                        .map(|(k, b)| (Some(k), b))
                        .collect();
                    let xs = op
                        .inputs
                        .iter()
                        .map(|q| map[q.index()].expect("ops are in execution order"))
                        .collect();
                    let kind = OpKind::Concat {
                        blocks,
                        consts: vec![],
                    };
                    push(&mut g, kind, xs, &out.name)
                }
            };
            map[op.output.index()] = Some(id);
        }
        for o in &self.outputs {
            let id = map[o.tensor.index()].expect("outputs are computed");
            g.values[id.index()].integer = !o.real;
            g.values[id.index()].name = o.name.clone();
            g.outputs.push(id);
        }
        g
    }

    /// Every output of one row, concatenated: dequantized reals, or the
    /// integers of an integer output.
    pub fn simulate(&self, input: &[f64]) -> Vec<f64> {
        let t = self.simulate_all(input);
        self.outputs
            .iter()
            .flat_map(|o| {
                let ty = &self.tensor(o.tensor).ty;
                t[o.tensor.index()]
                    .iter()
                    .map(move |&q| if o.real { ty.real(q) } else { q as f64 })
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int8(scale: f64, zp: i64) -> QType {
        QType {
            elem: "int8",
            bits: 8,
            qmin: -128,
            qmax: 127,
            scale,
            zero_point: zp,
        }
    }

    #[test]
    fn quantize_rounds_half_to_even_and_saturates() {
        let q = int8(0.5, 3);
        assert_eq!(q.quantize(0.25), 3); // 0.5 -> 0
        assert_eq!(q.quantize(0.75), 5); // 1.5 -> 2
        assert_eq!(q.quantize(-0.25), 3); // -0.5 -> -0
        assert_eq!(q.quantize(-0.75), 1); // -1.5 -> -2
        assert_eq!(q.quantize(1e9), 127);
        assert_eq!(q.quantize(-1e9), -128);
        assert_eq!(q.quantize(f64::NAN), 3);
        // With the zero point first, the tie goes to the even stored value.
        assert_eq!(q.quantize_zp_first(0.25), 4); // 3.5 -> 4
        assert_eq!(q.quantize_zp_first(0.75), 4); // 4.5 -> 4
        assert_eq!(q.quantize_zp_first(-0.25), 2); // 2.5 -> 2
        assert_eq!(q.quantize_zp_first(1e9), 127);
    }
}
