//! The float graph: what the ONNX front end lowers a model into, before
//! quantization.
//!
//! Batch size is 1, so every tensor is a flat vector; the front end keeps the
//! ONNX shapes it needs (for Softmax's last axis, MatMul's inner dimension)
//! and records the flattened length here. Ops are stored in execution order:
//! an op only reads values that are graph inputs or outputs of earlier ops.
//! Every value is written exactly once.

use std::fmt;

/// Index of a value in [`Graph::values`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueId(pub u32);

impl ValueId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for ValueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// A flattened tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    /// The ONNX tensor name it came from (for messages and comments).
    pub name: String,
    /// Number of elements (the batch dimension is 1).
    pub len: usize,
    /// Holds integers (a class index or label), not reals: quantized at
    /// scale 1 and answered at the module boundary at scale 1.
    pub integer: bool,
}

/// Element-wise activations. The piecewise-linear ones are monotone
/// non-decreasing; [`Activation::Table`] functions go through one lookup
/// table mechanism (`quant/lut.rs`), whose output bounds come from the
/// table entries the reachable inputs can select (monotone or not).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    Relu,
    LeakyRelu {
        alpha: f32,
    },
    Tanh,
    Sigmoid,
    /// `max(0, min(1, alpha * x + beta))`
    HardSigmoid {
        alpha: f32,
        beta: f32,
    },
    /// `min(max(x, min), max)`; an absent ONNX bound is +-inf.
    Clip {
        min: f32,
        max: f32,
    },
    /// Any other unary function: a lookup table.
    Table(crate::ir::LutFunc),
}

impl Activation {
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::LeakyRelu { .. } => "leaky_relu",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
            Activation::HardSigmoid { .. } => "hard_sigmoid",
            Activation::Clip { .. } => "clip",
            Activation::Table(f) => f.name(),
        }
    }

    /// The real-valued function, in f64.
    pub fn eval(&self, x: f64) -> f64 {
        match *self {
            Activation::Relu => x.max(0.0),
            Activation::LeakyRelu { alpha } => {
                if x >= 0.0 {
                    x
                } else {
                    x * alpha as f64
                }
            }
            Activation::Tanh => x.tanh(),
            Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Activation::HardSigmoid { alpha, beta } => {
                (alpha as f64 * x + beta as f64).clamp(0.0, 1.0)
            }
            Activation::Clip { min, max } => x.max(min as f64).min(max as f64),
            Activation::Table(f) => f.eval(x),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
}

impl BinaryOp {
    pub fn name(&self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
        }
    }
}

/// One float operation.
#[derive(Clone, Debug, PartialEq)]
pub enum OpKind {
    /// `out[j] = bias[j] + sum_i weight[j * in_len + i] * in[i]`
    /// (weight is row-major `[out_len][in_len]`).
    Dense {
        weight: Vec<f32>,
        bias: Vec<f32>,
    },
    /// Element-wise `out[i] = in[i] * scale[i] + offset[i]` (an Add, Sub or
    /// Mul with a constant operand, constants broadcast to the full length).
    Affine {
        scale: Vec<f32>,
        offset: Vec<f32>,
    },
    /// Element-wise op on two runtime tensors of the same length.
    Binary {
        op: BinaryOp,
    },
    Activation(Activation),
    /// Softmax over consecutive groups of `axis_len` elements (the last axis).
    Softmax {
        axis_len: usize,
    },
    /// `out[k] = in[map[k]]`: a compile-time index map (Transpose, Slice,
    /// Gather with constant indices, Split). [`crate::ir::fold`] folds it
    /// into a neighbouring Dense where it can; what remains is quantized as
    /// a Dense of one-hot rows.
    Gather {
        map: Vec<usize>,
    },
    /// A tree ensemble: `n_targets` sums of leaf values.
    Trees(Box<crate::ir::tree::Ensemble>),
    /// Per group of `axis_len`, the index of its first maximum (an integer
    /// value).
    ArgMax {
        axis_len: usize,
    },
    /// Element-wise `out[i] = in[i] >= 0 ? in[i] : slope[i] * in[i]`
    /// (PRelu with a constant slope, broadcast to the full length).
    PRelu {
        slope: Vec<f32>,
    },
    /// Per group of `axis_len` consecutive elements, the maximum (ReduceMax
    /// and MaxPool, after an index map puts each group together).
    GroupMax {
        axis_len: usize,
    },
    /// Integer `out[i] = table[in[i]]` (a class index to its label).
    Lookup {
        table: Vec<i64>,
    },
    /// Concatenation: each block of the output copies `inputs[k]` (`Some(k)`)
    /// or `consts` (`None`); every output element is written once
    /// ([`crate::ir::concat`]).
    Concat {
        blocks: Vec<(Option<usize>, crate::ir::concat::Block)>,
        consts: Vec<f32>,
    },
    /// Layer normalisation over consecutive groups of `axis_len`
    /// (`LayerNormalization`'s trailing axes): `Y` or `InvStdDev`
    /// ([`LayerNormOut`]); the Mean output is a Dense. Not `centred`: the
    /// mean is taken as 0, `var = sum x^2 / n` (the L2 `Normalizer`, with
    /// scale `1 / sqrt(n)`: `y = x / sqrt(sum x^2)`). `denom` says what
    /// the variance is made of ([`crate::ir::layer_norm::Denom`]: squares,
    /// or for the L1 and MAX Normalizers the squared sum or maximum of
    /// `|x|`, so that `y = x / sum |x|` or `x / max |x|`).
    LayerNorm {
        axis_len: usize,
        epsilon: f32,
        centred: bool,
        denom: crate::ir::layer_norm::Denom,
        out: LayerNormOut,
    },
}

/// Which output of a layer normalisation an op computes.
#[derive(Clone, Debug, PartialEq)]
pub enum LayerNormOut {
    /// `y[i] = (x[i] - mean) / sqrt(var + epsilon) * scale[j] + bias[j]`,
    /// `j = i mod axis_len` (the constants broadcast to the group).
    Normalized { scale: Vec<f32>, bias: Vec<f32> },
    /// One `1 / sqrt(var + epsilon)` per group.
    InvStdDev,
}

impl LayerNormOut {
    /// The real-valued op over one group.
    pub fn eval(
        &self,
        g: &[f64],
        epsilon: f32,
        centred: bool,
        denom: crate::ir::layer_norm::Denom,
    ) -> Vec<f64> {
        let n = g.len() as f64;
        let mean = if centred {
            g.iter().sum::<f64>() / n
        } else {
            0.0
        };
        let d: Vec<f64> = g.iter().map(|v| v - mean).collect();
        let var = denom.var(&d);
        // A zero vector (var + epsilon = 0) normalises to zeros.
        let inv = match var + epsilon as f64 {
            d if d > 0.0 => 1.0 / d.sqrt(),
            _ => 0.0,
        };
        match self {
            LayerNormOut::Normalized { scale, bias } => g
                .iter()
                .enumerate()
                .map(|(j, v)| (v - mean) * inv * scale[j] as f64 + bias[j] as f64)
                .collect(),
            LayerNormOut::InvStdDev => vec![inv],
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Op {
    /// ONNX node name (or `op_type#index` when the node is unnamed).
    pub node: String,
    /// ONNX op type it was lowered from (`Gemm`, `Tanh`, …).
    pub onnx_op: String,
    pub kind: OpKind,
    /// One input, or two for [`OpKind::Binary`].
    pub inputs: Vec<ValueId>,
    pub output: ValueId,
}

/// A lowered model: one input vector, one or more output vectors (in the
/// ONNX graph's output order; the module answers them concatenated).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Graph {
    pub values: Vec<Value>,
    pub ops: Vec<Op>,
    pub input: ValueId,
    pub outputs: Vec<ValueId>,
}

impl Graph {
    pub fn add_value(&mut self, name: impl Into<String>, len: usize) -> ValueId {
        self.values.push(Value {
            name: name.into(),
            len,
            integer: false,
        });
        ValueId(self.values.len() as u32 - 1)
    }

    pub fn value(&self, id: ValueId) -> &Value {
        &self.values[id.index()]
    }

    pub fn input_len(&self) -> usize {
        self.value(self.input).len
    }

    /// Total output elements (every output, concatenated).
    pub fn output_len(&self) -> usize {
        self.outputs.iter().map(|&o| self.value(o).len).sum()
    }

    /// Whether `v` is one of the graph outputs.
    pub fn is_output(&self, v: ValueId) -> bool {
        self.outputs.contains(&v)
    }

    /// Multiply-accumulates per inference (the non-zero weights of Dense
    /// layers: the straight-line writer skips zero weights).
    pub fn macs(&self) -> usize {
        self.ops
            .iter()
            .map(|op| match &op.kind {
                OpKind::Dense { weight, .. } => weight.iter().filter(|w| **w != 0.0).count(),
                _ => 0,
            })
            .sum()
    }

    /// Runs the graph in f64 on one input row; returns every value
    /// (indexed by [`ValueId`]). Used for calibration statistics and as the
    /// float side of unit tests; the fidelity reference is tract itself.
    pub fn eval_all(&self, input: &[f64]) -> Vec<Vec<f64>> {
        let mut vals: Vec<Vec<f64>> = vec![Vec::new(); self.values.len()];
        vals[self.input.index()] = input.to_vec();
        for op in &self.ops {
            let x = &vals[op.inputs[0].index()];
            let out = match &op.kind {
                OpKind::Dense { weight, bias } => {
                    let n = x.len();
                    bias.iter()
                        .enumerate()
                        .map(|(j, b)| {
                            let row = &weight[j * n..(j + 1) * n];
                            *b as f64 + row.iter().zip(x).map(|(w, v)| *w as f64 * v).sum::<f64>()
                        })
                        .collect()
                }
                OpKind::Affine { scale, offset } => x
                    .iter()
                    .zip(scale.iter().zip(offset))
                    .map(|(v, (s, o))| v * *s as f64 + *o as f64)
                    .collect(),
                OpKind::Binary { op: bop } => {
                    let y = &vals[op.inputs[1].index()];
                    x.iter()
                        .zip(y)
                        .map(|(a, b)| match bop {
                            BinaryOp::Add => a + b,
                            BinaryOp::Sub => a - b,
                            BinaryOp::Mul => a * b,
                        })
                        .collect()
                }
                OpKind::Activation(act) => x.iter().map(|v| act.eval(*v)).collect(),
                OpKind::Trees(e) => e.eval(x),
                OpKind::ArgMax { axis_len } => x
                    .chunks(*axis_len)
                    .map(|g| crate::ir::tree::first_argmax(g) as f64)
                    .collect(),
                OpKind::PRelu { slope } => x
                    .iter()
                    .zip(slope)
                    .map(|(&v, &s)| if v >= 0.0 { v } else { v * s as f64 })
                    .collect(),
                OpKind::GroupMax { axis_len } => x
                    .chunks(*axis_len)
                    .map(|g| g.iter().copied().fold(f64::NEG_INFINITY, f64::max))
                    .collect(),
                OpKind::Lookup { table } => x
                    .iter()
                    .map(|&i| table[(i.max(0.0) as usize).min(table.len() - 1)] as f64)
                    .collect(),
                OpKind::Softmax { axis_len } => {
                    let mut out = Vec::with_capacity(x.len());
                    for group in x.chunks(*axis_len) {
                        let m = group.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                        let e: Vec<f64> = group.iter().map(|v| (v - m).exp()).collect();
                        let s: f64 = e.iter().sum();
                        out.extend(e.iter().map(|v| v / s));
                    }
                    out
                }
                OpKind::Gather { map } => map.iter().map(|&i| x[i]).collect(),
                OpKind::LayerNorm {
                    axis_len,
                    epsilon,
                    centred,
                    denom,
                    out,
                } => x
                    .chunks(*axis_len)
                    .flat_map(|g| out.eval(g, *epsilon, *centred, *denom))
                    .collect(),
                OpKind::Concat { blocks, consts } => {
                    let len = self.value(op.output).len;
                    let mut out = vec![0.0; len];
                    for (k, b) in blocks {
                        let from: Vec<f64> = match k {
                            Some(k) => vals[op.inputs[*k].index()][b.from..b.from + b.len].to_vec(),
                            None => consts[b.from..b.from + b.len]
                                .iter()
                                .map(|&c| c as f64)
                                .collect(),
                        };
                        out[b.at..b.at + b.len].copy_from_slice(&from);
                    }
                    out
                }
            };
            vals[op.output.index()] = out;
        }
        vals
    }

    /// Every output of one row, concatenated in graph order.
    pub fn eval(&self, input: &[f64]) -> Vec<f64> {
        let all = self.eval_all(input);
        self.outputs
            .iter()
            .flat_map(|o| all[o.index()].iter().copied())
            .collect()
    }
}
