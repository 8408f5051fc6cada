//! The askama template structs, one per emitted construct. Everything they
//! print is computed by the writer: templates hold the shape of the C, never
//! arithmetic or decisions beyond "is this part present".
//!
//! An instruction's template has two blocks: `decls` (file-scope `#define`s
//! and `static const` tables, before the infer function) and `body` (its
//! code inside the infer function). Each block is rendered by its own struct.

use askama::Template;

/// `#define NAME VALUE /* comment */`
pub struct Define {
    pub name: String,
    pub value: String,
    pub comment: Option<String>,
}

#[derive(Template)]
#[template(path = "c/define.c", escape = "none")]
pub struct DefineT<'a> {
    pub d: &'a Define,
}

/// `static const CTYPE NAME DIMS = { lines };`
pub struct Array {
    pub ctype: String,
    pub name: String,
    pub dims: String,
    /// Fully indented lines between the braces.
    pub lines: Vec<String>,
}

#[derive(Template)]
#[template(path = "c/array.c", escape = "none")]
pub struct ArrayT<'a> {
    pub a: &'a Array,
}

/// Which `static inline` helpers the module uses (each emitted once).
#[derive(Default)]
pub struct Helpers {
    pub clamp: bool,
    /// `lf_clamp_flag`: the input clamp and the guardrail.
    pub clamp_flag: bool,
    pub rescale: bool,
    pub rescale_sum: bool,
    pub rescale_even: bool,
    pub rescale_odd: bool,
    pub fixmul: bool,
    pub softmax: Option<SoftmaxConsts>,
    /// `lf_layer_norm_rsqrt` (`ir::layer_norm`).
    pub layer_norm: Option<LayerNormConsts>,
}

/// The constants of `ir::layer_norm::rsqrt_q30`, for the helper.
pub struct LayerNormConsts {
    pub t_min_bits: u32,
    pub frac: u32,
    /// `frac + 1`: the Newton step's halving.
    pub frac1: u32,
    pub seed_c1: String,
    pub seed_c2: String,
    pub newton_steps: u32,
    /// `45 - Z_FRAC`: `z = c * r / 2^(z_shift + k)`.
    pub z_shift: u32,
    pub z_frac: u32,
}

impl Helpers {
    /// The helper a rescale rounding ties as `round` calls.
    pub fn note_round(&mut self, round: crate::ir::Round) {
        match round {
            crate::ir::Round::HalfUp => self.rescale = true,
            crate::ir::Round::HalfEven => self.rescale_even = true,
            crate::ir::Round::HalfOdd => self.rescale_odd = true,
        }
    }
}

/// The constants of `ir::program::softmax_group`, for the helper.
pub struct SoftmaxConsts {
    pub norm_bits: u32,
    /// `norm_bits + 1`: `s / 2^norm_shift` is in [0.5, 1).
    pub norm_shift: u32,
    pub recip_frac: u32,
    pub seed_c1: String,
    pub seed_c2: String,
    pub newton_steps: u32,
    /// `norm_shift + recip_frac`
    pub q: u32,
}

#[derive(Template)]
#[template(path = "c/helpers.c", escape = "none")]
pub struct HelpersT<'a> {
    pub h: &'a Helpers,
}

/// What every instruction prints: its title (layer name, ONNX op and node),
/// the real-number formula, notes on tensors and scales, and its rendered
/// declarations.
pub struct Common {
    pub title: String,
    pub doc: String,
    pub notes: Vec<String>,
    pub decls: String,
}

/// Renders an instruction's two blocks.
pub trait Construct {
    fn decls(&self) -> askama::Result<String>;
    fn body(&self) -> askama::Result<String>;
}

macro_rules! construct {
    ($data:ident, $decls:ident, $body:ident, $path:literal) => {
        #[derive(Template)]
        #[template(path = $path, block = "decls", escape = "none")]
        pub struct $decls<'a> {
            pub c: &'a Common,
            // Not every `decls` block prints from `l`.
            #[allow(dead_code)]
            pub l: &'a $data,
        }

        #[derive(Template)]
        #[template(path = $path, block = "body", escape = "none")]
        pub struct $body<'a> {
            pub c: &'a Common,
            pub l: &'a $data,
        }

        impl Construct for (&Common, &$data) {
            fn decls(&self) -> askama::Result<String> {
                $decls {
                    c: self.0,
                    l: self.1,
                }
                .render()
            }
            fn body(&self) -> askama::Result<String> {
                $body {
                    c: self.0,
                    l: self.1,
                }
                .render()
            }
        }
    };
}

pub struct Term {
    /// `+` or `-`
    pub op: &'static str,
    pub expr: String,
}

pub struct Channel {
    pub bias: String,
    pub terms: Vec<Term>,
    pub dst: String,
    pub value: String,
}

/// Dense, straight-line: weights as immediates.
pub struct DenseUnrolled {
    /// Accumulator variable (`acc` is s64, `acc32` s32).
    pub acc: String,
    pub channels: Vec<Channel>,
}
construct!(
    DenseUnrolled,
    DenseUnrolledDecls,
    DenseUnrolledBody,
    "c/dense_unrolled.c"
);

/// Dense, as loops over `static const` arrays.
pub struct DenseLoop {
    pub out_len: String,
    pub acc_type: String,
    pub bias: String,
    /// The inner loop, when there is one: `for (i = 0; i < blocked_len;
    /// i += unroll)` around the `block` products (at `i + 0 ..`).
    pub inner: Option<InnerLoop>,
    /// Products at constant indices after it (all of them when the inner
    /// loop is written out in full).
    pub rest: Vec<String>,
    pub dst: String,
    pub value: String,
}

/// The unrolled inner loop of a [`DenseLoop`].
pub struct InnerLoop {
    pub blocked_len: String,
    pub unroll: usize,
    pub block: Vec<String>,
}
construct!(DenseLoop, DenseLoopDecls, DenseLoopBody, "c/dense_loop.c");

/// Where one channel's value goes: `dst = value;` (`value` reads `acc`).
pub struct Store {
    pub dst: String,
    pub value: String,
}

/// Two channels of a straight-line packed Dense layer, summed in `acc`.
pub struct PackedPair {
    /// `pk<b>`, a `u64` local.
    pub acc: String,
    /// The packed bias, a `u64` literal.
    pub bias: String,
    /// Lane read-back expressions (from `acc`'s value, into `acc`).
    pub lo_read: String,
    pub hi_read: String,
    pub lo: Store,
    pub hi: Store,
}

/// `acc += expr;`
pub struct PackedTerm {
    pub acc: String,
    pub expr: String,
}

/// Pairs summed together, input by input: each input is loaded once for
/// the block and multiplied into every pair's accumulator.
pub struct PackedBlock {
    pub pairs: Vec<PackedPair>,
    pub terms: Vec<PackedTerm>,
}

/// Dense, straight-line, two channels per 64-bit accumulator
/// ([`crate::valid::lanes`]), in blocks of pairs.
pub struct DensePackedUnrolled {
    pub blocks: Vec<PackedBlock>,
}
construct!(
    DensePackedUnrolled,
    DensePackedUnrolledDecls,
    DensePackedUnrolledBody,
    "c/dense_packed_unrolled.c"
);

/// Dense, as loops over a packed weight table, two channels per
/// iteration of the loop over `j`.
pub struct DensePackedLoop {
    pub out_len: String,
    pub bias: String,
    pub inner: Option<InnerLoop>,
    pub rest: Vec<String>,
    pub lo: String,
    pub hi: String,
    pub lo_ch: Store,
    pub hi_ch: Store,
}
construct!(
    DensePackedLoop,
    DensePackedLoopDecls,
    DensePackedLoopBody,
    "c/dense_packed_loop.c"
);

/// A table's lookup function `static inline s64 lf_<layer>(s64 x)`.
pub struct LutFn {
    pub name: String,
    pub func: String,
    pub table: String,
    pub delta: String,
    pub lo: String,
    pub hi: String,
    pub range: String,
    pub interp: bool,
    /// Interpolated as `(base[k] + delta[k] * d) >> step_shift`
    /// (`lower_lut::LutForm::Folded`): no `table`, no `frac_mask`.
    pub folded: bool,
    pub base: String,
    /// The folded return is longer than a 100-column line: on two.
    pub wrap_return: bool,
    pub step_shift: String,
    pub frac_mask: String,
    /// The source can fall below `lo` / rise above `hi` (else the validator
    /// proved it cannot, and the clamp is left out).
    pub clamp_lo: bool,
    pub clamp_hi: bool,
}

/// The AVX2 form of a [`LutFn`] (`--simd avx2`, fused into a Dense
/// layer whose outputs are finished in lanes).
#[derive(Template)]
#[template(path = "c/lut_avx2.c", escape = "none")]
pub struct LutAvx2<'a> {
    pub f: &'a LutFn,
    /// The table's entries at the lanes' indices (`k`, or `d` without
    /// interpolation): `lf_gather4_s16(lf_tanh0_table, k)`.
    pub table_at: String,
    /// The steps' entries at `k`.
    pub delta_at: String,
}

#[derive(Template)]
#[template(path = "c/lut_fn.c", escape = "none")]
pub struct LutFnT<'a> {
    pub f: &'a LutFn,
}

pub struct LutL {
    pub func: String,
    pub lo_value: i64,
    pub hi_value: i64,
    pub entries: usize,
    pub interp: bool,
    pub step_shift_value: u32,
    pub max_error: String,
    pub len: String,
    pub src: String,
    pub dst: String,
    /// The lookup function.
    pub fn_name: String,
    /// The Dense layer that applies the function to its outputs itself.
    pub fused_into: Option<String>,
}
construct!(LutL, LutDecls, LutBody, "c/lut.c");

pub struct SoftmaxL {
    pub lut: LutL,
    pub exp_frac: u32,
    pub len: String,
    pub axis: String,
    pub src: String,
    pub dst: String,
    /// The probability `p` of element `i`, rescaled, plus the zero point.
    pub value: String,
    pub qmax: String,
}
construct!(SoftmaxL, SoftmaxDecls, SoftmaxBody, "c/softmax.c");

pub struct ScaleL {
    pub len: String,
    pub v: String,
    pub pos: String,
    pub neg: Option<String>,
    pub dst: String,
    pub value: String,
}
construct!(ScaleL, ScaleDecls, ScaleBody, "c/scale.c");

pub struct BinaryL {
    pub len: String,
    pub a: String,
    pub b: String,
    pub dst: String,
    pub value: String,
}
construct!(BinaryL, BinaryDecls, BinaryBody, "c/binary.c");

pub struct QuantizeL {
    /// `LF_INPUT_LEN`, or the number of inputs an index map reads.
    pub len: String,
    pub dst: String,
    pub value: String,
    /// Straight-line statements (without `;`), or empty for the loop.
    pub unrolled: Vec<String>,
    /// The layers read the input in place (`lower_input`).
    pub in_place: Option<InPlace>,
}

/// An input block that checks the domain and clamps only on drift.
pub struct InPlace {
    /// `flags |= (outside) * LF_INFER_DRIFT` per input (without `;`).
    pub checks: Vec<String>,
    /// `lf_clamp(in[i], lo[i], hi[i])`.
    pub clamped: String,
    /// The pointer the layers read (`x_in`).
    pub pointer: String,
}
construct!(QuantizeL, QuantizeDecls, QuantizeBody, "c/quantize.c");

pub struct DequantizeL {
    pub value: String,
    /// The guardrail note, when this output is clamped to one.
    pub guard_note: Option<String>,
    /// `LF_OUTPUT_LEN`, or this output's length when there are several.
    pub len: String,
    /// `out[i]`, or `out[OFFSET + i]`.
    pub target: String,
    pub scale_note: String,
}
construct!(
    DequantizeL,
    DequantizeDecls,
    DequantizeBody,
    "c/dequantize.c"
);

pub struct Scratch {
    pub bytes: usize,
    pub type_name: String,
    pub var: String,
    /// `b0[30]`, …
    pub fields: Vec<String>,
    /// (local pointer, field) pairs: `lf_b0 = s->b0;`
    pub bind: Vec<(String, String)>,
}

pub struct Module {
    pub stem: String,
    pub infer: String,
    pub snapshot: String,
    /// Lines of the header comment, each empty or starting with a space or tab.
    pub header: Vec<String>,
    pub uuid_literal: String,
    pub app: u32,
    pub input_len: usize,
    pub output_len: usize,
    pub input_scale: String,
    pub output_scale: String,
    pub helpers: String,
    /// AVX2 layers: `lf_simd_begin()` / `kernel_fpu_end()` around the body.
    pub simd: bool,
    pub decls: Vec<String>,
    pub scratch: Option<Scratch>,
    pub locals: Vec<String>,
    pub bodies: Vec<String>,
    pub name_literal: String,
    pub digest_literal: String,
    pub description_literal: String,
    pub uuid_string: String,
    pub app_string: String,
    pub version_literal: String,
    /// Some output is clamped to the guardrail.
    pub guarded: bool,
    pub facts: SnapshotFacts,
}

/// What struct lf_snapshot declares besides the code (see
/// [`super::writer::snapshot_facts`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotFacts {
    /// The proven output bounds and the guardrail as `static const`
    /// arrays for struct lf_snapshot (read by lf_kernel, not by infer).
    pub decls: String,
    pub out_lo: String,
    pub out_hi: String,
    /// The guardrail arrays, or `NULL`.
    pub guard_lo: String,
    pub guard_hi: String,
    pub cost: Cost,
    /// modinfo strings: real-valued `lo:hi` per output, the guardrail
    /// (or `none`), and the cost figures.
    pub output_bounds_string: String,
    pub guardrail_string: String,
    pub cost_string: String,
}

/// struct lf_cost, as the validator proved it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cost {
    pub macs: usize,
    pub cmps: usize,
    pub stack_bytes: usize,
    pub rodata_bytes: usize,
    pub scratch_bytes: usize,
}

#[derive(Template)]
#[template(path = "c/module.c", escape = "none")]
pub struct ModuleT<'a> {
    pub m: &'a Module,
}

/// Kbuild and Makefile.
pub struct KbuildInfo {
    pub stem: String,
    pub version: String,
    pub name: String,
}

#[derive(Template)]
#[template(path = "c/Kbuild", escape = "none")]
pub struct KbuildT<'a> {
    pub k: &'a KbuildInfo,
}

#[derive(Template)]
#[template(path = "c/Makefile", escape = "none")]
pub struct MakefileT<'a> {
    pub k: &'a KbuildInfo,
}

pub struct TreesL {
    pub src: String,
    pub dst: String,
    pub trees: String,
    pub branches: String,
    pub targets: String,
    pub roots: String,
    pub feature: String,
    pub threshold: String,
    pub yes: String,
    pub no: String,
    pub leaf: String,
    pub base: String,
    /// `y[i]` rounded once into the destination.
    pub value: String,
}
construct!(TreesL, TreesDecls, TreesBody, "c/trees.c");

/// A tree ensemble as straight-line nested comparisons
/// ([`crate::back::lower::tree_form`]): every line computed in Rust.
pub struct TreesUnrolledL {
    /// `y[j] = base;` per target.
    pub base: Vec<String>,
    pub trees: Vec<TreeLines>,
    pub dst: String,
    pub targets: String,
    /// `y[i]` rounded once into the destination.
    pub value: String,
}

/// One tree: a comment and its nested `if` lines (indented below the
/// block's own tab).
pub struct TreeLines {
    pub title: String,
    pub lines: Vec<String>,
}
construct!(
    TreesUnrolledL,
    TreesUnrolledDecls,
    TreesUnrolledBody,
    "c/trees_unrolled.c"
);

pub struct ArgMaxL {
    pub src: String,
    pub dst: String,
    pub len: String,
    pub axis: String,
}
construct!(ArgMaxL, ArgMaxDecls, ArgMaxBody, "c/argmax.c");

pub struct GroupMaxL {
    pub src: String,
    pub dst: String,
    pub len: String,
    pub axis: String,
}
construct!(GroupMaxL, GroupMaxDecls, GroupMaxBody, "c/group_max.c");

pub struct LayerNormL {
    /// Number of groups.
    pub groups: String,
    pub axis: String,
    pub eps: String,
    pub src: String,
    pub dst: String,
    /// `n * x[i] - sum`
    pub centred: String,
    /// The statement(s) computing `sum`: `sum x`, or the constant
    /// `n * zp` (the L2 form), already indented after the first line.
    pub sum: String,
    /// What `T` is made of: `squares` (`sum c^2`), `abs_sum`
    /// (`(sum |c|)^2`, L1) or `max_abs` (`(max |c|)^2`, MAX).
    pub denom: &'static str,
    /// One `1 / sqrt(var + eps)` per group (InvStdDev), not per element.
    pub per_group: bool,
    pub inv_mul: String,
    pub inv_shift: String,
    /// The stored value of element `i` (or of the group), zero point and
    /// any clamp included.
    pub value: String,
}
construct!(LayerNormL, LayerNormDecls, LayerNormBody, "c/layer_norm.c");

pub struct LookupL {
    pub src: String,
    pub dst: String,
    pub len: String,
    pub table: String,
}
construct!(LookupL, LookupDecls, LookupBody, "c/lookup.c");

/// The AVX2 helpers (`--simd avx2`), once per module that uses them.
#[derive(Template)]
#[template(path = "c/simd.c", escape = "none")]
pub struct SimdHelpersT;

/// One row of a [`DenseAvx2`] pass.
pub struct Avx2Row {
    /// Its s32 lane vector (`a0`).
    pub lanes: String,
    /// Its s64 sum vector (`s0`), when lanes are widened per block.
    pub sum: String,
    /// Its sum of pair sums >> 16 (`h0`), split form.
    pub high: String,
    /// `lf_fc0_weight[j + 1]`
    pub weight: String,
}

/// Outputs `j .. j + 3` of an AVX2 Dense layer finished in s64 lanes.
pub struct Avx2Tail {
    /// `y + bias`
    pub acc: String,
    /// `lf_clamp4(lf_rescale4(acc, ...), ...)`
    pub value: String,
}

/// Dense, AVX2 form with its scalar fallback (`--simd avx2`).
pub struct DenseAvx2 {
    pub func: String,
    pub in_len: String,
    /// The offsets `lf_narrow16()` copies x to s16 at, 16 inputs each,
    /// below `narrow16_end`; then `lf_narrow4()` at `narrow4`, four each;
    /// the inputs from `narrow_rest` on are copied one by one.
    pub narrow16: Vec<usize>,
    /// A loop of `lf_narrow16()` instead (long rows).
    pub narrow_loop: bool,
    /// That loop does two calls per step (`narrow16_end` divides by 32).
    pub narrow_pairs: bool,
    pub narrow16_end: usize,
    pub narrow4: Vec<usize>,
    pub narrow_rest: usize,
    pub out_len: String,
    pub in_pad: String,
    pub in_pad_value: usize,
    pub padded: bool,
    pub x_lo: i64,
    pub x_hi: i64,
    pub chunks: String,
    pub block: String,
    /// `k < c + BLOCK`, and `k < CHUNKS` when the last block is short.
    pub block_cond: String,
    /// Every chunk in one block: no per-block widening.
    pub one_block: bool,
    /// Lanes summed wrapping, with their high halves apart (`lf_join()`).
    pub split: bool,
    /// Comment lines: how the lanes are summed, and the proof.
    pub block_note: Vec<String>,
    pub rows: Vec<Avx2Row>,
    /// One block of at most 4 chunks: the chunks written out, at these
    /// offsets into x (else a loop).
    pub unrolled: Vec<String>,
    /// Statements storing a row group's sums into y.
    pub finish: Vec<String>,
    /// The function's int locals (`i, j, k`).
    pub ints: String,
    /// The layer's input and output buffers.
    pub x: String,
    pub y: String,
    pub acc_type: String,
    pub bias: String,
    pub dst: String,
    pub value: String,
    /// The value of outputs `j .. j + 3` when the AVX2 function finishes
    /// them itself (four s64 lanes).
    pub tail: Option<Avx2Tail>,
    /// Each group of 8 rows finished in s32 lanes in the row loop (its
    /// `finish` statements; a local `t`).
    pub fused: bool,
    /// The AVX2 function finishes the outputs (`tail` or `fused`).
    pub finished: bool,
    /// `lf_tanh0_avx2(lf_b1, LF_FC0_OUT);` after the call, when the
    /// tail leaves a fused table to look up.
    pub lut_call: Option<String>,
    /// The scalar form's body, indented one more level.
    pub fallback: String,
}
construct!(DenseAvx2, DenseAvx2Decls, DenseAvx2Body, "c/dense_avx2.c");

/// One block of a concatenation: `dst = value` for `i` in `0..len`, or
/// one statement (`len` absent: a one-element block).
pub struct ConcatPiece {
    pub len: Option<String>,
    pub dst: String,
    pub value: String,
}

pub struct ConcatL {
    pub pieces: Vec<ConcatPiece>,
}
construct!(ConcatL, ConcatDecls, ConcatBody, "c/concat.c");
