//! What to compute, decided once for every back end: which Dense layers
//! apply the table after them themselves (fusion), which instructions are
//! straight-line code and which are loops. The C and Rust writers print
//! this [`Plan`]; neither decides it.

use crate::back::lower_simd::{self, Simd, SimdDense};
use crate::ir::bounds::{dense_acc_bounds, rescale_bounds};
use crate::ir::tree::TreeTable;
use crate::ir::{AccWidth, InstrKind, Program, Rescale, TensorId};
use crate::valid::{lanes, ModuleInfo};

/// Inputs up to this many are quantized by straight-line code.
pub const QUANTIZE_UNROLL: usize = 64;

/// Unroll factors a looped Dense layer's inner loop may use: any from 4
/// to 32 (not only powers of two: 31 inputs go as three iterations of 10
/// and one product after them, not three of 8 and seven after).
pub const INNER_UNROLLS: std::ops::RangeInclusive<usize> = 4..=32;

/// The instruction cost model of a looped Dense layer's inner loop over
/// `n` inputs unrolled by `u`, for `n_out` outputs: `n / u` iterations of
/// `3u + 4`, plus `n % u` products at constant indices written out after
/// it (all `n` at constant indices when gcc peels the loop, [`peeled`]),
/// at [`const_cost`] each.
///
/// Measured with `lfc bench` (callgrind, kernel CFLAGS, gcc 12 -O2) on the
/// LinnOS-shaped, 64-256-256-8 and Aurora fixtures: the rolled loop costs 6
/// instructions per multiply-add (load, multiply, add, increment,
/// compare, branch). Unrolled, each product is 3 (a load, a multiply with
/// the other operand folded in, an add: the scalar floor with both in
/// memory; the same for a packed pair of channels) and each iteration 4
/// more. 31 inputs by 8 (three iterations, seven after): 2.75 per
/// multiply-add on the packed LinnOS fc0; by 15 (peeled): 4.2; by 10
/// (three iterations, one after): 2.43. Several accumulators would
/// shorten the dependency chain but add instructions; the add's one-cycle
/// latency is not what limits these loops, so there is one.
pub fn inner_cost(n: usize, u: usize, n_out: usize) -> usize {
    let c = const_cost(n_out);
    if peeled(n, u) {
        return n * c;
    }
    (n / u) * (3 * u + 4) + (n % u) * c
}

/// A loop of two iterations of at most this many products is unrolled
/// completely by gcc -O2 (measured: 2 x 15 peeled; 2 x 16 and 2 x 32 not).
pub const PEEL_BODY: usize = 15;

/// Whether gcc unrolls the inner loop completely (every product then at
/// a constant index): one iteration, or two short ones ([`PEEL_BODY`]).
pub fn peeled(n: usize, u: usize) -> bool {
    let it = n / u;
    it < 2 || (it == 2 && u <= PEEL_BODY)
}

/// A product at a constant index: a loop-invariant load that gcc hoists
/// out of the loop over outputs and spills, 6 to 7.5 instructions (31
/// inputs fully at constant indices: 5.8 per multiply-add); with one
/// output there is no such loop: 2 (`imul` of the weight as an immediate
/// with the input in memory, `add`; Aurora's 16 -> 1 layer: 32 for 16).
pub fn const_cost(n_out: usize) -> usize {
    if n_out == 1 {
        2
    } else {
        6
    }
}

/// The cheapest unroll for `n` inputs and `n_out` outputs by
/// [`inner_cost`] (the smaller one on a tie).
pub fn inner_unroll(n: usize, n_out: usize) -> usize {
    INNER_UNROLLS
        .min_by_key(|&u| (inner_cost(n, u, n_out), u))
        .unwrap_or(1)
}

/// Straight-line packed Dense layers ([`Step::lanes`]) sum this many
/// pairs of channels together, input by input: each input is loaded once
/// per block, and the block's accumulators, the input and the product fit
/// x86-64's 15 usable registers. Measured on Aurora's fc0 (16 pairs,
/// `lfc bench`, gcc 12): one pair at a time 2,547 instructions (gcc keeps
/// the 30 inputs in registers and spill slots and reloads them), blocks
/// of 8: 2,266, 10: 2,241, 11: 2,333, 12: 2,336 (inputs spilled again).
pub const LANE_BLOCK: usize = 10;

/// Tree ensembles with at most this many branches in all are straight-line
/// nested comparisons (each threshold and leaf value an immediate, no
/// table loads); larger ones walk the compact node table (`feature`,
/// `threshold`, `yes`, `no` arrays), whose code size does not grow with
/// the ensemble. Measured with `lfc bench` on the tree fixtures of
/// `tests/fixtures/ml/` (README, "ONNX-ML models and trees").
pub const TREE_UNROLL: usize = 256;

/// Straight-line trees nest one `if` per comparison: deeper trees walk the
/// table (kernel style keeps blocks shallow).
pub const TREE_NEST: usize = 8;

/// How `t` is emitted: straight-line when it has at most
/// [`TREE_UNROLL`] branches (and no more than `unroll_limit`, so
/// `--unroll-limit 0` keeps every ensemble a table walk) and no tree
/// deeper than [`TREE_NEST`].
pub fn tree_form(t: &TreeTable, unroll_limit: usize) -> Form {
    let deepest = t.depths.iter().copied().max().unwrap_or(0);
    if t.n_branches() <= TREE_UNROLL.min(unroll_limit) && deepest <= TREE_NEST {
        Form::StraightLine
    } else {
        Form::Loop
    }
}

/// A straight-line tree ([`Form::StraightLine`] ensembles) as the writers
/// print it: decided here once, so C and Rust nest the same tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TreeStmt {
    /// `y[target] += value` (a leaf's non-zero share).
    Add { target: usize, value: i64 },
    /// `if (x[feature] <= threshold) then else els`, or, when `leq` is
    /// false, `if (x[feature] > threshold) then` (the yes side added
    /// nothing, `els` is empty).
    If {
        feature: u32,
        threshold: i64,
        leq: bool,
        then: Vec<TreeStmt>,
        els: Vec<TreeStmt>,
    },
}

/// The statements of the tree rooted at node `n` of `t` (a branch index,
/// or `n_branches + leaf`): a leaf adds its non-zero values, a branch
/// tests; a side that adds nothing is left out (the test inverted when it
/// is the yes side), a branch whose two sides add nothing disappears.
pub fn tree_stmts(t: &TreeTable, n: u32) -> Vec<TreeStmt> {
    let nb = t.n_branches() as u32;
    if n >= nb {
        let leaf = (n - nb) as usize;
        let w = &t.leaf_w[leaf * t.n_targets..(leaf + 1) * t.n_targets];
        return w
            .iter()
            .enumerate()
            .filter(|(_, &v)| v != 0)
            .map(|(target, &value)| TreeStmt::Add { target, value })
            .collect();
    }
    let b = n as usize;
    let (yes, no) = (tree_stmts(t, t.yes[b]), tree_stmts(t, t.no[b]));
    let (feature, threshold) = (t.feature[b], t.threshold[b]);
    match (yes.is_empty(), no.is_empty()) {
        (true, true) => vec![],
        (true, false) => vec![TreeStmt::If {
            feature,
            threshold,
            leq: false,
            then: no,
            els: vec![],
        }],
        _ => vec![TreeStmt::If {
            feature,
            threshold,
            leq: true,
            then: yes,
            els: no,
        }],
    }
}

/// The form of every ensemble, and why, for `lfc compile` and `lfc
/// inspect`.
pub fn tree_notes(p: &Program, unroll_limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    for i in &p.instrs {
        let InstrKind::Trees { table, .. } = &i.kind else {
            continue;
        };
        let deepest = table.depths.iter().copied().max().unwrap_or(0);
        let what = match tree_form(table, unroll_limit) {
            Form::StraightLine => "straight-line comparisons",
            Form::Loop => "node-table walk",
        };
        out.push(format!(
            "trees `{}`: {what} ({} branches, limit TREE_UNROLL = {}{}; depth {deepest}, limit TREE_NEST = {TREE_NEST})",
            i.node,
            table.n_branches(),
            TREE_UNROLL,
            if unroll_limit < TREE_UNROLL {
                format!(", --unroll-limit {unroll_limit}")
            } else {
                String::new()
            },
        ));
    }
    out
}

/// How an instruction's loop over its elements is emitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// One statement per element (Dense: weights as immediates).
    StraightLine,
    /// A loop over `static const` arrays.
    Loop,
}

/// The decisions for one instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub form: Form,
    /// This Dense applies the Lut right after it to its outputs and stores
    /// the result where the Lut would (`tanh(W x + b)` in one pass).
    pub applies_next_lut: bool,
    /// This Lut is computed by the Dense layer just before it.
    pub done_by_previous: bool,
    /// Dense loops: multiply-adds per iteration of the inner loop (see
    /// [`inner_cost`]).
    pub inner_unroll: usize,
    /// Dense: every channel rescales at this one shift (its multiplier
    /// scaled up by 2^(common - own shift), the same result exactly), when
    /// the bounds prove the larger products still fit in s64. One shift is
    /// an immediate; per-channel shifts are a table and a variable shift.
    pub common_shift: Option<u32>,
    /// `--simd avx2`: this Dense layer's AVX2 form (its `form` is then the
    /// scalar fallback, looped; see [`lower_simd`]).
    pub simd: Option<SimdDense>,
    /// `--simd avx2`: why this Dense layer stays scalar.
    pub simd_refused: Option<String>,
    /// Dense: channels `2p` and `2p + 1` share one 64-bit accumulator,
    /// channel `2p` in the low `lanes` bits (two multiply-adds per
    /// multiply; see [`crate::valid::lanes`], which proves both lanes
    /// fit over the input domain). Never with `simd` (one form a layer).
    pub lanes: Option<u32>,
    /// This Dequantize clamps its outputs to the guardrail: there is one,
    /// and the proven bounds of some element reach outside it (else the
    /// clamp could never act and is left out).
    pub guarded: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// One per instruction, in program order.
    pub steps: Vec<Step>,
}

/// Decides the [`Plan`]: Dense layers with more than `unroll_limit`
/// multiply-adds are loops, the Quantize is straight-line up to
/// [`QUANTIZE_UNROLL`] inputs, tree ensembles by [`tree_form`], every
/// other kind is a loop.
pub fn plan(p: &Program, info: &ModuleInfo, unroll_limit: usize) -> Plan {
    plan_simd(p, info, unroll_limit, Simd::None)
}

/// [`plan`], with the Dense layers `simd` allows in their vector form
/// (see [`lower_simd::dense`]); their scalar fallback is looped.
pub fn plan_simd(p: &Program, info: &ModuleInfo, unroll_limit: usize, simd: Simd) -> Plan {
    let fused = fusions(p, info);
    let mut steps = p
        .instrs
        .iter()
        .enumerate()
        .map(|(k, i)| Step {
            form: match &i.kind {
                InstrKind::Quantize { in_lo, .. } if in_lo.len() <= QUANTIZE_UNROLL => {
                    Form::StraightLine
                }
                InstrKind::Dense { weight, .. } if weight.len() <= unroll_limit => {
                    Form::StraightLine
                }
                InstrKind::Trees { table, .. } => tree_form(table, unroll_limit),
                _ => Form::Loop,
            },
            applies_next_lut: fused[k],
            done_by_previous: k > 0 && fused[k - 1],
            inner_unroll: match &i.kind {
                InstrKind::Dense { src, bias, .. } => inner_unroll(p.tensor(*src).len, bias.len()),
                _ => 1,
            },
            common_shift: None,
            simd: None,
            simd_refused: None,
            lanes: None,
            guarded: guarded(p, info, &i.kind),
        })
        .collect::<Vec<Step>>();
    if simd == Simd::Avx2 {
        for (step, i) in steps.iter_mut().zip(&p.instrs) {
            match lower_simd::dense(p, info, &i.kind) {
                Some(Ok(d)) => {
                    step.form = Form::Loop;
                    step.simd = Some(d);
                }
                Some(Err(why)) => step.simd_refused = Some(why),
                None => {}
            }
        }
    }
    // One form per layer: the AVX2 form where `simd` allows it, else two
    // channels per multiply where their lanes fit.
    for (step, i) in steps.iter_mut().zip(&p.instrs) {
        if step.simd.is_none() {
            step.lanes = pair_lanes(info, &i.kind).and_then(|r| r.ok());
        }
    }
    // Straight-line code has its multipliers and shifts as immediates:
    // there, one shift saves nothing (and `mul = 2` costs an add).
    for (step, i) in steps.iter_mut().zip(&p.instrs) {
        if step.form == Form::Loop {
            step.common_shift = common_shift(p, info, &i.kind);
        }
    }
    // The AVX2 form finishes its outputs in vector lanes where it can.
    for (k, (step, i)) in steps.iter_mut().zip(&p.instrs).enumerate() {
        let InstrKind::Dense {
            dst, rescale, acc, ..
        } = &i.kind
        else {
            continue;
        };
        let rs = dense_rescales(step, rescale);
        let m = p.tensor(*dst).len;
        let lut = fused_lut(p, k, step);
        let ok = lower_simd::vector_tail(m, &rs, lut, *acc).is_ok();
        if let Some(d) = step.simd.as_mut() {
            d.tail = ok;
            d.fused = lower_simd::fused_tail(p, info, d, &i.kind, &rs).ok();
        }
    }
    Plan { steps }
}

/// The lane shift at which a Dense layer's channels pair up in one
/// accumulator ([`crate::valid::lanes`]), when both lanes of every pair
/// fit: always cheaper (one multiply and one add per two multiply-adds,
/// and two to four instructions per pair to read the lanes back), or why
/// not (`None` for every kind but Dense). 64-bit accumulators only (the
/// int8 scheme's s32 accumulators are TFLite's).
pub fn pair_lanes(info: &ModuleInfo, kind: &InstrKind) -> Option<Result<u32, String>> {
    let InstrKind::Dense {
        src,
        weight,
        bias,
        acc,
        ..
    } = kind
    else {
        return None;
    };
    if *acc != AccWidth::I64 {
        return Some(Err("s32 accumulator (int8 scheme)".into()));
    }
    let Some(srcb) = info.elem_bounds.get(src.index()) else {
        return Some(Err("no proven bounds for x".into()));
    };
    let accs = dense_acc_bounds(weight, bias, srcb);
    let Some(shift) = lanes::pick_shift(&accs) else {
        if bias.len() % 2 != 0 {
            return Some(Err(format!("{} channels (odd)", bias.len())));
        }
        let bits = accs.iter().map(|&(lo, hi, _)| lanes::signed_bits(lo, hi));
        return Some(Err(format!(
            "accumulators need up to {} bits: two do not fit 64",
            bits.max().unwrap_or(0)
        )));
    };
    Some(lanes::check(weight, bias, srcb, shift).map(|()| shift))
}

/// The table instruction `k + 1` that the Dense layer `k` of `step`
/// applies itself ([`Step::applies_next_lut`]).
pub fn fused_lut<'a>(p: &'a Program, k: usize, step: &Step) -> Option<&'a crate::ir::Lut> {
    match p.instrs.get(k + 1).map(|i| &i.kind) {
        Some(InstrKind::Lut { lut, .. }) if step.applies_next_lut => Some(lut),
        _ => None,
    }
}

/// Whether a Dequantize must clamp to the guardrail (see [`Step::guarded`]).
fn guarded(p: &Program, info: &ModuleInfo, kind: &InstrKind) -> bool {
    let (InstrKind::Dequantize { src, offset, .. }, Some(guard)) = (kind, &p.output_guard) else {
        return false;
    };
    let range = *offset..*offset + p.tensor(*src).len;
    match (guard.get(range.clone()), info.output_bounds.get(range)) {
        (Some(g), Some(b)) => g.iter().zip(b).any(|(g, b)| b.0 < g.0 || b.1 > g.1),
        // Lengths the validator would refuse: keep the clamp.
        _ => true,
    }
}

/// Which Dense layers apply the Lut right after them to their outputs
/// (without storing and reloading `W x + b`): the Lut reads the Dense
/// output and nothing else does, and the Lut's buffer is not the one the
/// Dense layer is still reading.
fn fusions(p: &Program, info: &ModuleInfo) -> Vec<bool> {
    let readers = |t: TensorId| {
        p.instrs
            .iter()
            .filter(|i| i.kind.srcs().contains(&t))
            .count()
    };
    let mut fused: Vec<bool> = p
        .instrs
        .windows(2)
        .map(|pair| match (&pair[0].kind, &pair[1].kind) {
            (
                InstrKind::Dense { src, dst, .. },
                InstrKind::Lut {
                    src: lsrc,
                    dst: ldst,
                    ..
                },
            ) => {
                lsrc == dst
                    && readers(*dst) == 1
                    && info.tensor_buffer.get(ldst.index()) != info.tensor_buffer.get(src.index())
            }
            _ => false,
        })
        .collect();
    fused.push(false);
    fused
}

/// The one shift every channel of a Dense layer can rescale at (see
/// [`Step::common_shift`]): the largest of its shifts, if `x * (mul <<
/// d) + 2^(shift - 1)` stays within s64 for every accumulator value the
/// bounds allow (the tensor's proven envelope for each input).
fn common_shift(p: &Program, info: &ModuleInfo, kind: &InstrKind) -> Option<u32> {
    let InstrKind::Dense {
        src,
        weight,
        bias,
        rescale,
        ..
    } = kind
    else {
        return None;
    };
    let top = rescale.iter().map(|r| r.shift).max()?;
    if rescale.iter().all(|r| r.shift == top) {
        return None;
    }
    let env = *info.tensor_bounds.get(src.index())?;
    let srcb = vec![env; p.tensor(*src).len];
    let accs = dense_acc_bounds(weight, bias, &srcb);
    for (r, (lo, hi, _)) in rescale.iter().zip(accs) {
        let wide = at_shift(*r, top)?;
        let (lo, hi) = (i64::try_from(lo).ok()?, i64::try_from(hi).ok()?);
        rescale_bounds(wide, lo, hi, "").ok()?;
    }
    Some(top)
}

/// `r` at the larger shift `shift` (`mul` times 2^(shift - r.shift)):
/// `(x * mul * 2^d + 2^(s + d - 1)) >> (s + d)` is `(x * mul + 2^(s - 1))
/// >> s` for every x. `None` if the multiplier would leave 63 bits.
pub fn at_shift(r: Rescale, shift: u32) -> Option<Rescale> {
    let d = shift.checked_sub(r.shift)?;
    let mul = r.mul.checked_mul(1i64.checked_shl(d)?)?;
    (mul.unsigned_abs() < 1 << 62).then_some(Rescale { mul, shift, ..r })
}

/// The rescales a Dense layer's code uses: its own, or all at the
/// step's common shift.
pub fn dense_rescales(step: &Step, rescale: &[Rescale]) -> Vec<Rescale> {
    match step.common_shift {
        Some(s) => rescale
            .iter()
            .map(|r| at_shift(*r, s).unwrap_or(*r))
            .collect(),
        None => rescale.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_larger_shift_gives_the_same_result() {
        let r = Rescale::new(12345, 17);
        let w = at_shift(r, 21).unwrap();
        assert_eq!(w.mul, 12345 << 4);
        for x in [
            -1_000_000_007i64,
            -65536,
            -3,
            -1,
            0,
            1,
            2,
            65535,
            987_654_321,
        ] {
            assert_eq!(r.apply(x), w.apply(x), "{x}");
        }
        assert!(at_shift(r, 16).is_none());
        assert!(at_shift(Rescale::new(1 << 40, 1), 40).is_none());
    }

    #[test]
    fn unroll_follows_the_cost_model() {
        assert_eq!(inner_unroll(31, 256), 10);
        assert_eq!(inner_unroll(30, 32), 10);
        assert_eq!(inner_unroll(256, 256), 32);
        assert_eq!(inner_unroll(64, 256), 32);
        assert_eq!(inner_unroll(32, 16), 16);
        // One output: peeled (Aurora's 16 -> 1: 32 instructions for 16).
        assert!(peeled(16, inner_unroll(16, 1)));
        assert!(peeled(16, 8) && peeled(30, 15) && !peeled(32, 16));
        assert_eq!(inner_unroll(3, 4), 4);
    }
}
