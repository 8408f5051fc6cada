//! The integer program: what quantization produces and every back end
//! consumes. Nothing here is executed in floating point: the only `f64`
//! fields are documentation (scales and measured errors printed in comments
//! and `lfc inspect`), and the interpreter and C writer never read them to
//! compute.
//!
//! Arithmetic conventions shared by the interpreter and the C back end (they
//! must agree bit for bit):
//! - all intermediate arithmetic is in `i64`; `>>` on a negative value is an
//!   arithmetic (sign-propagating) shift, as gcc and clang do on every
//!   architecture the kernel supports;
//! - [`Rescale::apply`] is the single rounding step: `(x * mul + 2^(shift-1)) >> shift`,
//!   i.e. round half towards +infinity, once (not TFLite's double rounding);
//!   a rescale marked [`Round::HalfEven`] rounds an exact half to the even
//!   neighbour instead (an imported model's requantization where
//!   onnxruntime's ties are reachable), still in integers only;
//! - a quantized tensor holds `q` with `real = (q - zero_point) * scale`.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TensorId(pub u32);

impl TensorId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for TensorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t{}", self.0)
    }
}

/// Precision scheme chosen on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Precision {
    /// int16 symmetric activations, int16 per-channel weights, 64-bit accumulators.
    #[default]
    Int16,
    /// TFLite-style int8: asymmetric activations, symmetric per-channel
    /// weights, 32-bit accumulators.
    Int8,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Precision::Int16 => "int16",
            Precision::Int8 => "int8",
        }
    }
    pub fn bits(self) -> u32 {
        match self {
            Precision::Int16 => 16,
            Precision::Int8 => 8,
        }
    }
}

/// Quantization of one tensor: `real = (q - zero_point) * scale`, with
/// `qmin <= q <= qmax`.
#[derive(Clone, Debug, PartialEq)]
pub struct QParams {
    pub bits: u32,
    pub zero_point: i64,
    pub qmin: i64,
    pub qmax: i64,
    /// Documentation only (comments, inspect); never used to compute.
    pub scale: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub len: usize,
    pub q: QParams,
}

/// How a [`Rescale`] rounds a product that lies exactly half-way between
/// two integers (every other product rounds to the nearest either way).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Round {
    /// `(y + 2^(shift-1)) >> shift`: lfc's own rounding.
    #[default]
    HalfUp,
    /// `(y + 2^(shift-1) - 1 + ((y >> shift) & 1)) >> shift`: a tie goes to
    /// the even neighbour, as onnxruntime's float requantization rounds.
    /// Chosen for an imported model's op only where its multiplier is a
    /// short binary fraction, so that ties are reachable (a shift,
    /// an and and an add more per element).
    HalfEven,
    /// `(y + 2^(shift-1) - ((y >> shift) & 1)) >> shift`: a tie goes to the
    /// odd neighbour. With an odd zero point added after it, that is
    /// round half to even of the stored integer, as onnxruntime's kernels
    /// that add the zero point before rounding.
    HalfOdd,
}

/// A fixed-point multiplier: `apply(x) = (x * mul + 2^(shift-1)) >> shift`
/// in 64-bit arithmetic, approximating `x * mul / 2^shift` rounded half up
/// (or half to even: [`Round`]). `shift >= 1`. The validator proves
/// `x * mul + 2^(shift-1)` cannot overflow (the half-even form adds at
/// most that much).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rescale {
    pub mul: i64,
    pub shift: u32,
    pub round: Round,
}

impl Rescale {
    /// `apply(x) == x` for every x (`mul == 2^shift`).
    pub const IDENTITY: Rescale = Rescale::new(2, 1);

    /// `x * mul / 2^shift` rounded half up.
    pub const fn new(mul: i64, shift: u32) -> Rescale {
        Rescale {
            mul,
            shift,
            round: Round::HalfUp,
        }
    }

    /// The same multiplier, rounding ties as `round`.
    pub fn with_round(self, round: Round) -> Rescale {
        Rescale { round, ..self }
    }

    pub fn is_identity(self) -> bool {
        self.shift < 63 && self.mul == 1i64 << self.shift
    }

    #[inline]
    pub fn apply(self, x: i64) -> i64 {
        let y = x * self.mul;
        let half = 1i64 << (self.shift - 1);
        match self.round {
            Round::HalfUp => (y + half) >> self.shift,
            // The bias is at most half: never larger than half up's.
            Round::HalfEven => (y + (half - 1) + ((y >> self.shift) & 1)) >> self.shift,
            Round::HalfOdd => (y + half - ((y >> self.shift) & 1)) >> self.shift,
        }
    }

    /// The real factor this represents (documentation and tests only).
    pub fn factor(self) -> f64 {
        self.mul as f64 / (self.shift as f64).exp2()
    }
}

/// Accumulator type of a Dense layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccWidth {
    I32,
    I64,
}

impl AccWidth {
    pub fn bits(self) -> u32 {
        match self {
            AccWidth::I32 => 32,
            AccWidth::I64 => 64,
        }
    }
}

/// The real function a lookup table approximates. Parameters are stored as
/// f32 bits (so the function stays `Eq`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LutFunc {
    Tanh,
    Sigmoid,
    /// `exp(x)` for `x <= 0` (Softmax numerators).
    Exp,
    /// `exp(x)` (the Exp op).
    Exponential,
    /// `ln(x)`, for inputs proven positive.
    Log,
    /// `x >= 0 ? x : alpha * (exp(x) - 1)`
    Elu {
        alpha: u32,
    },
    /// `gamma * (x > 0 ? x : alpha * (exp(x) - 1))`
    Selu {
        alpha: u32,
        gamma: u32,
    },
    /// `ln(1 + exp(x))`
    Softplus,
    /// `x / (1 + |x|)`
    Softsign,
    Erf,
    /// `x * (1 + erf(x / sqrt 2)) / 2`
    Gelu,
    /// `x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3))) / 2`
    GeluTanh,
    /// `x * max(0, min(1, x / 6 + 1 / 2))`
    HardSwish,
    /// `x * sigmoid(x)`
    Swish,
    /// The piecewise-linear activations, as tables over the integers of a
    /// quantized model's tensor (issue 8: a float op between a DQ and a Q).
    /// `max(x, 0)`
    Relu,
    /// `x >= 0 ? x : alpha * x`
    LeakyRelu {
        alpha: u32,
    },
    /// `min(max(x, min), max)`
    Clip {
        min: u32,
        max: u32,
    },
    /// `max(0, min(1, alpha * x + beta))`
    HardSigmoid {
        alpha: u32,
        beta: u32,
    },
    /// `x` (a requantization from one scale to another)
    Identity,
}

fn f(bits: u32) -> f64 {
    f32::from_bits(bits) as f64
}

impl LutFunc {
    pub fn name(self) -> &'static str {
        match self {
            LutFunc::Tanh => "tanh",
            LutFunc::Sigmoid => "sigmoid",
            LutFunc::Exp => "exp",
            LutFunc::Exponential => "exp",
            LutFunc::Log => "log",
            LutFunc::Elu { .. } => "elu",
            LutFunc::Selu { .. } => "selu",
            LutFunc::Softplus => "softplus",
            LutFunc::Softsign => "softsign",
            LutFunc::Erf => "erf",
            LutFunc::Gelu => "gelu",
            LutFunc::GeluTanh => "gelu_tanh",
            LutFunc::HardSwish => "hard_swish",
            LutFunc::Swish => "swish",
            LutFunc::Relu => "relu",
            LutFunc::LeakyRelu { .. } => "leaky_relu",
            LutFunc::Clip { .. } => "clip",
            LutFunc::HardSigmoid { .. } => "hard_sigmoid",
            LutFunc::Identity => "requant",
        }
    }

    /// Monotone non-decreasing: the output range is the image of the
    /// input range's ends. Otherwise it is found by evaluating every
    /// reachable input.
    pub fn monotone(self) -> bool {
        !matches!(
            self,
            LutFunc::Gelu | LutFunc::GeluTanh | LutFunc::HardSwish | LutFunc::Swish
        ) && !matches!(self, LutFunc::Elu { alpha } if f(alpha) < 0.0)
            && !matches!(self, LutFunc::Selu { alpha, gamma } if f(alpha) < 0.0 || f(gamma) < 0.0)
            && !matches!(self, LutFunc::LeakyRelu { alpha } if f(alpha) < 0.0)
            && !matches!(self, LutFunc::HardSigmoid { alpha, .. } if f(alpha) < 0.0)
    }

    pub fn eval(self, x: f64) -> f64 {
        let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
        match self {
            LutFunc::Tanh => x.tanh(),
            LutFunc::Sigmoid => sigmoid(x),
            LutFunc::Exp | LutFunc::Exponential => x.exp(),
            LutFunc::Log => x.ln(),
            LutFunc::Elu { alpha } => {
                if x >= 0.0 {
                    x
                } else {
                    f(alpha) * x.exp_m1()
                }
            }
            LutFunc::Selu { alpha, gamma } => {
                f(gamma) * if x > 0.0 { x } else { f(alpha) * x.exp_m1() }
            }
            // ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|), without overflow
            LutFunc::Softplus => x.max(0.0) + (-x.abs()).exp().ln_1p(),
            LutFunc::Softsign => x / (1.0 + x.abs()),
            LutFunc::Erf => libm::erf(x),
            LutFunc::Gelu => 0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2)),
            LutFunc::GeluTanh => {
                let k = (2.0 / std::f64::consts::PI).sqrt();
                0.5 * x * (1.0 + (k * (x + 0.044715 * x * x * x)).tanh())
            }
            LutFunc::HardSwish => x * (x / 6.0 + 0.5).clamp(0.0, 1.0),
            LutFunc::Swish => x * sigmoid(x),
            LutFunc::Relu => x.max(0.0),
            LutFunc::LeakyRelu { alpha } => {
                if x >= 0.0 {
                    x
                } else {
                    f(alpha) * x
                }
            }
            LutFunc::Clip { min, max } => x.max(f(min)).min(f(max)),
            LutFunc::HardSigmoid { alpha, beta } => (f(alpha) * x + f(beta)).clamp(0.0, 1.0),
            LutFunc::Identity => x,
        }
    }
}

/// A table with linear interpolation over the source's quantized values.
///
/// `c = clamp(x, lo, hi); d = c - lo; i = d >> step_shift; f = d & (2^step_shift - 1);`
/// `y = table[i] + ((table[i+1] - table[i]) * f + 2^(step_shift-1)) >> step_shift`
/// (when `step_shift == 0`, `y = table[i]`: a direct table). The table has
/// `((hi - lo) >> step_shift) + 2` entries so `i + 1` is always in range.
#[derive(Clone, Debug, PartialEq)]
pub struct Lut {
    pub func: LutFunc,
    pub lo: i64,
    pub hi: i64,
    pub step_shift: u32,
    pub table: Vec<i64>,
    /// Documentation: the largest |table result - exact quantized function|
    /// over every input in `[lo, hi]`, in output real units, measured by the
    /// quantizer exhaustively.
    pub max_error: f64,
}

impl Lut {
    #[inline]
    pub fn apply(&self, x: i64) -> i64 {
        let c = x.clamp(self.lo, self.hi);
        let d = c - self.lo;
        let i = (d >> self.step_shift) as usize;
        if self.step_shift == 0 {
            return self.table[i];
        }
        let f = d & ((1i64 << self.step_shift) - 1);
        let a = self.table[i];
        let b = self.table[i + 1];
        a + (((b - a) * f + (1i64 << (self.step_shift - 1))) >> self.step_shift)
    }
}

/// Element `i`'s rescale of a Quantize: its own, or the shared one.
pub fn quantize_rescale(rescale: &[Rescale], i: usize) -> Rescale {
    match rescale {
        [one] => *one,
        per => per[i],
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum InstrKind {
    /// From the `s64` model input at the decimal input scale:
    /// `dst[i] = rescale[i](clamp(in[j], in_lo[i], in_hi[i])) + zp_dst` with
    /// `j = pick[i]` (or `i` without `pick`). The clamp is the declared input
    /// domain: nothing outside it reaches the arithmetic. `pick` is an index
    /// map on the input (a Slice or Gather of the model input) read in
    /// place: the unread features are never copied.
    ///
    /// `rescale` has one entry (every element) or one per element
    /// (per-feature input scales, quant's choice where every reader of the
    /// input is a Dense: element `i` holds `x_i / f_i` at the tensor's
    /// scale, and the Dense's weight column `i` carries `f_i`).
    Quantize {
        dst: TensorId,
        in_lo: Vec<i64>,
        in_hi: Vec<i64>,
        rescale: Vec<Rescale>,
        pick: Option<Vec<usize>>,
    },
    /// `acc[j] = bias[j] + sum_i weight[j][i] * src[i]` (any source zero
    /// point is folded into `bias`), then
    /// `dst[j] = clamp(rescale[j](acc[j]) + zp_dst, clamp_lo, clamp_hi)`.
    Dense {
        src: TensorId,
        dst: TensorId,
        /// Row-major `[dst.len][src.len]`.
        weight: Vec<i64>,
        weight_bits: u32,
        bias: Vec<i64>,
        acc: AccWidth,
        rescale: Vec<Rescale>,
        /// A fused activation clamp (Relu, Clip), or `None` when the
        /// validator must prove the result already in range.
        clamp: Option<(i64, i64)>,
    },
    /// Element-wise `dst[i] = clamp(r(src[i] - zp_src) + offset[i] + zp_dst)`
    /// where `r = pos[i]` for `src[i] >= zp_src` and `neg[i]` otherwise.
    /// (Affine ops, LeakyRelu, HardSigmoid, requantizing Relu/Clip.)
    Scale {
        src: TensorId,
        dst: TensorId,
        pos: Vec<Rescale>,
        neg: Vec<Rescale>,
        offset: Vec<i64>,
        clamp: Option<(i64, i64)>,
    },
    /// Element-wise on two tensors:
    /// Add/Sub: `dst = clamp(((a - za) * mul_a ± (b - zb) * mul_b + 2^(shift-1)) >> shift + zp_dst)`
    /// Mul: `dst = clamp(rescale((a - za) * (b - zb)) + zp_dst)` (mul_b unused).
    Binary {
        op: crate::ir::graph::BinaryOp,
        a: TensorId,
        b: TensorId,
        dst: TensorId,
        rescale_a: Rescale,
        mul_b: i64,
        clamp: Option<(i64, i64)>,
    },
    /// `dst[i] = lut(src[i])` (output already in dst's quantization).
    Lut {
        src: TensorId,
        dst: TensorId,
        lut: Lut,
    },
    /// Softmax over groups of `axis_len`; the exact integer semantics are
    /// [`softmax_group`] (exp table, normalised sum, Newton reciprocal, no
    /// division).
    Softmax {
        src: TensorId,
        dst: TensorId,
        axis_len: usize,
        exp_lut: Lut,
        /// dst = round(prob * 2^out_frac) + zp_dst
        out_frac: u32,
    },
    /// A tree ensemble walked as a node table ([`crate::ir::tree::TreeTable`]):
    /// `dst[j] = rescale(acc[j]) + zp_dst` with `acc[j] = base[j] + sum of
    /// the leaves reached`.
    Trees {
        src: TensorId,
        dst: TensorId,
        table: Box<crate::ir::tree::TreeTable>,
        rescale: Rescale,
    },
    /// Integer: per group of `axis_len`, the index of the first maximum.
    ArgMax {
        src: TensorId,
        dst: TensorId,
        axis_len: usize,
    },
    /// Per group of `axis_len`, the maximum: `dst[g] = max(src[g * axis_len
    /// .. (g + 1) * axis_len])`. `dst` holds `src`'s quantization, so the
    /// result is exact (ReduceMax, MaxPool over a window map).
    GroupMax {
        src: TensorId,
        dst: TensorId,
        axis_len: usize,
    },
    /// Integer: `dst[i] = table[src[i]]` (the validator proves every index
    /// in range).
    Lookup {
        src: TensorId,
        dst: TensorId,
        table: Vec<i64>,
    },
    /// Concatenation ([`crate::ir::concat`]): every element of `dst` is
    /// written by exactly one piece, from a source tensor (a copy, or
    /// `clamp(rescale(src - zp_src) + zp_dst)`: only requantized pieces
    /// are clamped) or from `consts` (already in dst's quantization).
    Concat {
        dst: TensorId,
        pieces: Vec<crate::ir::concat::Piece>,
        consts: Vec<i64>,
        clamp: Option<(i64, i64)>,
    },
    /// Layer normalisation per group of `axis_len`; the exact integer
    /// semantics are [`crate::ir::layer_norm::group`] (sum, centred
    /// values, sum of squares plus `eps`, Newton reciprocal square root, no
    /// division). `out` says whether it writes the scaled values (one per
    /// element) or `1 / sqrt(var + eps)` (one per group); `clamp` is set
    /// only when the destination range is narrower than the proven one.
    LayerNorm {
        src: TensorId,
        dst: TensorId,
        axis_len: usize,
        eps: i64,
        /// `None`: centred on the group's mean (LayerNormalization);
        /// `Some(zp)`: on the source zero point, the real 0 (the L2
        /// Normalizer): `c = n * (x - zp)`.
        centre: Option<i64>,
        /// What `T` is made of ([`crate::ir::layer_norm::Denom`]).
        denom: crate::ir::layer_norm::Denom,
        out: crate::ir::layer_norm::NormOut,
        clamp: Option<(i64, i64)>,
    },
    /// To the `s64` model output at the decimal output scale (scale 1 for
    /// an integer output): `out[offset + i] = rescale(src[i] - zp_src)`.
    /// One per graph output, in graph order, at consecutive offsets.
    Dequantize {
        src: TensorId,
        rescale: Rescale,
        offset: usize,
    },
}

impl InstrKind {
    /// The tensor this instruction writes (`None` for `Dequantize`, which
    /// writes the model output). The one definition of "what it writes":
    /// the validator, the buffer assignment and every back end use it.
    pub fn dst(&self) -> Option<TensorId> {
        match self {
            InstrKind::Quantize { dst, .. }
            | InstrKind::Dense { dst, .. }
            | InstrKind::Scale { dst, .. }
            | InstrKind::Binary { dst, .. }
            | InstrKind::Lut { dst, .. }
            | InstrKind::Softmax { dst, .. }
            | InstrKind::Trees { dst, .. }
            | InstrKind::ArgMax { dst, .. }
            | InstrKind::GroupMax { dst, .. }
            | InstrKind::Lookup { dst, .. }
            | InstrKind::Concat { dst, .. }
            | InstrKind::LayerNorm { dst, .. } => Some(*dst),
            InstrKind::Dequantize { .. } => None,
        }
    }

    /// The tensors this instruction reads, in operand order (`Quantize`
    /// reads the model input, no tensor).
    pub fn srcs(&self) -> Vec<TensorId> {
        match self {
            InstrKind::Quantize { .. } => vec![],
            InstrKind::Dense { src, .. }
            | InstrKind::Scale { src, .. }
            | InstrKind::Lut { src, .. }
            | InstrKind::Softmax { src, .. }
            | InstrKind::Trees { src, .. }
            | InstrKind::ArgMax { src, .. }
            | InstrKind::GroupMax { src, .. }
            | InstrKind::Lookup { src, .. }
            | InstrKind::LayerNorm { src, .. }
            | InstrKind::Dequantize { src, .. } => vec![*src],
            InstrKind::Binary { a, b, .. } => vec![*a, *b],
            InstrKind::Concat { pieces, .. } => {
                let mut v: Vec<TensorId> = Vec::new();
                for p in pieces {
                    if let crate::ir::concat::PieceSrc::Tensor { id, .. } = p.src {
                        if !v.contains(&id) {
                            v.push(id);
                        }
                    }
                }
                v
            }
        }
    }

    /// The rounding of ties of this instruction's rescales when one is not
    /// [`Round::HalfUp`] (`None` when all round half up).
    pub fn tie_rounding(&self) -> Option<Round> {
        let rs: Vec<Rescale> = match self {
            InstrKind::Trees { rescale, .. } | InstrKind::Dequantize { rescale, .. } => {
                vec![*rescale]
            }
            InstrKind::Dense { rescale, .. } | InstrKind::Quantize { rescale, .. } => {
                rescale.clone()
            }
            InstrKind::Scale { pos, neg, .. } => [&pos[..], &neg[..]].concat(),
            InstrKind::Binary { rescale_a, .. } => vec![*rescale_a],
            InstrKind::Concat { pieces, .. } => pieces
                .iter()
                .filter_map(|p| match p.src {
                    crate::ir::concat::PieceSrc::Tensor { rescale, .. } => Some(rescale),
                    crate::ir::concat::PieceSrc::Const => None,
                })
                .collect(),
            InstrKind::Lut { .. }
            | InstrKind::Softmax { .. }
            | InstrKind::ArgMax { .. }
            | InstrKind::GroupMax { .. }
            | InstrKind::LayerNorm { .. }
            | InstrKind::Lookup { .. } => vec![],
        };
        rs.iter().map(|r| r.round).find(|&r| r != Round::HalfUp)
    }

    /// Element-wise: element `i` of the result reads only element `i` of
    /// each source, so it may be written in place over a source.
    pub fn is_elementwise(&self) -> bool {
        matches!(
            self,
            InstrKind::Scale { .. } | InstrKind::Lut { .. } | InstrKind::Binary { .. }
        )
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Instr {
    /// ONNX node(s) this implements, for comments.
    pub node: String,
    pub onnx_op: String,
    /// The real-number formula, for the comment above the emitted code.
    pub doc: String,
    pub kind: InstrKind,
}

/// One model output at the module boundary: `len` values at
/// `out[offset..offset + len]`, real = value / `scale`.
#[derive(Clone, Debug, PartialEq)]
pub struct ProgramOutput {
    /// The ONNX output name (CSV column names, `--output NAME`).
    pub name: String,
    pub offset: usize,
    pub len: usize,
    /// An integer output (a class label or index): answered at scale 1.
    pub integer: bool,
    /// The decimal scale of this output: the program's output scale, or 1
    /// for an integer output.
    pub scale: i64,
}

impl ProgramOutput {
    /// The outputs of a one-output program of `len` real values.
    pub fn single(name: &str, len: usize, scale: i64) -> Vec<ProgramOutput> {
        vec![ProgramOutput {
            name: name.to_string(),
            offset: 0,
            len,
            integer: false,
            scale,
        }]
    }
}

/// What the emitted `infer` returns besides 0 (`LF_INFER_*` in
/// `runtime-kmod/include/lf_kernel.h`): an input was outside the declared
/// domain and clamped to it (the drift counter)...
pub const INFER_DRIFT: u32 = 0x1;
/// ... an output was clamped to the guardrail (`--output-range`).
pub const INFER_GUARD: u32 = 0x2;

#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    pub model_name: String,
    pub precision: Precision,
    pub tensors: Vec<Tensor>,
    /// Execution order; the first is the `Quantize`, the last ones the
    /// `Dequantize`s (one per output, in graph order).
    pub instrs: Vec<Instr>,
    pub input_len: usize,
    /// Sum of the outputs' lengths.
    pub output_len: usize,
    /// The outputs, concatenated in graph order at the boundary.
    pub outputs: Vec<ProgramOutput>,
    /// `real = s64 / input_scale` at the module boundary.
    pub input_scale: i64,
    pub output_scale: i64,
    /// Declared (or calibrated) input domain, per feature, in real units
    /// (documentation; the enforced form is the Quantize clamp).
    pub input_domain: Vec<(f64, f64)>,
    /// The output guardrail (`--output-range`): per output element, the
    /// `[lo, hi]` its `s64` value is clamped to after the Dequantize (at
    /// that output's scale), or `None`. A query it clamps is counted as a
    /// guardrail hit (`LF_INFER_GUARD`).
    pub output_guard: Option<Vec<(i64, i64)>>,
}

impl Program {
    pub fn tensor(&self, id: TensorId) -> &Tensor {
        &self.tensors[id.index()]
    }

    /// The input clamp per model input feature (s64 at the input scale):
    /// the Quantize's, through its `pick` map; a feature no instruction
    /// reads is unclamped.
    pub fn input_clamp(&self) -> (Vec<i64>, Vec<i64>) {
        let (mut lo, mut hi) = (
            vec![i64::MIN; self.input_len],
            vec![i64::MAX; self.input_len],
        );
        for i in &self.instrs {
            if let InstrKind::Quantize {
                in_lo, in_hi, pick, ..
            } = &i.kind
            {
                for (k, (&l, &h)) in in_lo.iter().zip(in_hi).enumerate() {
                    let j = pick.as_ref().map_or(k, |m| m[k]);
                    if j < self.input_len {
                        (lo[j], hi[j]) = (l, h);
                    }
                }
                break;
            }
        }
        (lo, hi)
    }

    /// Worst-case table comparisons per inference: every tree walk at its
    /// depth.
    pub fn worst_comparisons(&self) -> usize {
        self.instrs
            .iter()
            .map(|i| match &i.kind {
                InstrKind::Trees { table, .. } => table.worst_comparisons(),
                _ => 0,
            })
            .sum()
    }

    pub fn macs(&self) -> usize {
        self.instrs
            .iter()
            .map(|i| match &i.kind {
                InstrKind::Dense { weight, .. } => weight.len(),
                _ => 0,
            })
            .sum()
    }
}

/// Softmax normalisation constants (see [`softmax_group`]).
pub mod softmax_consts {
    /// Exp table entries are `exp(x)` in Q`EXP_FRAC` (so `exp(0) = 2^15`).
    pub const EXP_FRAC: u32 = 15;
    /// The sum is normalised into `[2^NORM_BITS, 2^(NORM_BITS+1))`.
    pub const NORM_BITS: u32 = 30;
    /// Reciprocals are Q`RECIP_FRAC`: `r = 2^31 / s_norm` in `(1, 2]`.
    pub const RECIP_FRAC: u32 = 30;
    /// Newton seed `r0 = 48/17 - 32/17 * y` for `y` in `[0.5, 1)`, Q30.
    pub const SEED_C1: i64 = 3_031_741_621; // round(48/17 * 2^30)
    pub const SEED_C2: i64 = 2_021_161_081; // round(32/17 * 2^30)
    /// Newton steps: the seed's error 1/17 squares each step (1/17, 3.5e-3,
    /// 1.2e-5, 1.5e-10), so three reach Q30's resolution.
    pub const NEWTON_STEPS: u32 = 3;
}

/// Integer softmax of one group, the exact semantics the C back end emits:
///
/// 1. `m = max(x)`, `e[i] = exp_lut(x[i] - m)` (Q15, `e = 2^15` at the max);
/// 2. `s = sum e` (`2^15 <= s <= len * 2^15`), shifted left by `k` until
///    `2^30 <= s << k < 2^31` (no division anywhere);
/// 3. `r ~= 2^61 / (s << k)` in Q30 by the seed above and Newton steps
///    `r = r * (2 - y * r)`;
/// 4. `dst[i] = min(round(e[i] * r * 2^k / 2^(61 - out_frac)) + zp, qmax)`:
///    the probability in Q`out_frac`.
pub fn softmax_group(x: &[i64], exp_lut: &Lut, out_frac: u32, zp: i64, qmax: i64) -> Vec<i64> {
    use softmax_consts::*;
    let m = x.iter().copied().max().unwrap_or(0);
    let e: Vec<i64> = x.iter().map(|&v| exp_lut.apply(v - m)).collect();
    let mut s: i64 = e.iter().sum();
    let mut k: u32 = 0;
    while s < (1i64 << NORM_BITS) {
        s <<= 1;
        k += 1;
    }
    // y = s / 2^31 in [0.5, 1); r ~= 1 / y in Q30.
    let mut r = SEED_C1 - ((SEED_C2 * s) >> 31);
    for _ in 0..NEWTON_STEPS {
        let yr = (s * r) >> 31; // y * r in Q30, ~2^30
        r = (r * ((2i64 << RECIP_FRAC) - yr)) >> RECIP_FRAC;
    }
    let shift = 61 - k - out_frac;
    e.iter()
        .map(|&v| (((v * r) + (1i64 << (shift - 1))) >> shift) + zp)
        .map(|v| v.min(qmax))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every rounding against the exact quotient `x * mul / 2^shift`
    /// (rationals in i128): nearest always, ties as named.
    #[test]
    fn rescale_rounds_ties_as_told() {
        for (mul, shift) in [(1i64, 2u32), (3, 3), (12345, 17), (-5, 4)] {
            for x in -300i64..=300 {
                let num = x as i128 * mul as i128;
                let den = 1i128 << shift;
                let floor = num.div_euclid(den);
                let rem = num.rem_euclid(den);
                for round in [Round::HalfUp, Round::HalfEven, Round::HalfOdd] {
                    let want = if 2 * rem < den {
                        floor
                    } else if 2 * rem > den {
                        floor + 1
                    } else {
                        match round {
                            Round::HalfUp => floor + 1,
                            Round::HalfEven => floor + (floor & 1),
                            Round::HalfOdd => floor + 1 - (floor & 1),
                        }
                    };
                    let r = Rescale::new(mul, shift).with_round(round);
                    assert_eq!(
                        r.apply(x) as i128,
                        want,
                        "{x} * {mul} / 2^{shift} {round:?}"
                    );
                }
            }
        }
        // 2x2 average: 0.5 -> 0, 1.5 -> 2, -0.5 -> 0, -1.5 -> -2 (even);
        // 0.5 -> 1, 1.5 -> 1, -0.5 -> -1 (odd).
        let even = Rescale::new(1, 2).with_round(Round::HalfEven);
        let odd = Rescale::new(1, 2).with_round(Round::HalfOdd);
        assert_eq!([2, 6, -2, -6].map(|x| even.apply(x)), [0, 2, 0, -2]);
        assert_eq!([2, 6, -2, -6].map(|x| odd.apply(x)), [1, 1, -1, -1]);
    }
}
