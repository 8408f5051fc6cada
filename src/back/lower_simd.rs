//! `--simd avx2`: which Dense layers get an AVX2 form (decided once, for
//! every back end; see [`crate::back::lower`]).
//!
//! The AVX2 form computes `sum_i W[j][i] * x[i]` with `vpmaddwd` (16 s16
//! products per instruction, neighbours summed into 8 s32 lanes), sums
//! [`crate::valid::lanes::LaneProof::block`] chunks in s32 lanes, widens
//! them to s64 and finishes each row (bias, rescale, zero point, clamp,
//! table) in one of three ways, decided here: in scalar code after the
//! AVX2 function; in a second pass of 4 s64 lanes ([`vector_tail`]); or,
//! where 8 rows are reduced together by `vphaddd`, right after that
//! reduction in 8 s32 lanes, the s64 sums never stored ([`fused_tail`],
//! proven by [`crate::valid::lanes::tail_s32`]). x is copied to s16 16
//! values at a time (`lf_narrow16()`). It is bit-exact with the scalar
//! form because every lane sum is proven to stay in s32 and all other
//! arithmetic is the same integer arithmetic (the s32 tail: every
//! intermediate proven in s32, the products taken in s64 by `vpmuldq`).
//!
//! In the kernel it runs only between `kernel_fpu_begin()` and
//! `kernel_fpu_end()` when `irq_fpu_usable()`; otherwise the layer's
//! scalar form (looped) runs, so a SIMD layer carries both.

use crate::ir::{AccWidth, InstrKind, Lut, Program, Rescale, Round};
use crate::valid::lanes::{max_block, tail_s32, LaneProof, TailProof};
use crate::valid::ModuleInfo;

/// The vector instruction set a module may use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Simd {
    /// Scalar code only (the default).
    #[default]
    None,
    /// x86-64 AVX2 for Dense layers above [`MIN_MACS`].
    Avx2,
}

impl Simd {
    pub fn name(self) -> &'static str {
        match self {
            Simd::None => "none",
            Simd::Avx2 => "avx2",
        }
    }
}

/// Dense layers with fewer multiply-adds stay scalar: measured with `lfc
/// bench` (callgrind) on Aurora's 16 -> 1 output layer, the vector set-up
/// and the horizontal sum cost more than the 16 scalar products.
pub const MIN_MACS: usize = 64;

/// Layers need at least one full vector of inputs.
pub const MIN_INPUTS: usize = 16;

/// At most this many inputs: the s16 copy of x lives on the stack of the
/// AVX2 function (2 bytes each, the frame must stay under 1 KiB).
pub const MAX_INPUTS: usize = 256;

/// How a group of rows turns its lanes into one s64 sum per row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduce {
    /// 8 or 4 rows: their s32 lanes added across rows with `vphaddd` (the
    /// row totals proven in s32), widened once, stored together.
    Hadd,
    /// 4 rows: s64 lanes transposed and added, stored together.
    Quad,
    /// Each row on its own: widened, halves added, two scalar adds.
    Row,
}

/// Chunks written out instead of looped, up to this many.
pub const UNROLL_CHUNKS: usize = 4;

/// The AVX2 form of one Dense layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimdDense {
    /// Rows computed together (they share each load of x): 8, 4, 2 or 1.
    pub rows: usize,
    pub reduce: Reduce,
    /// Lanes widened after every chunk would cost more than summing them
    /// wrapping in s32 with their high halves apart and joining them
    /// once, exactly, at the end (`lf_join()`: block 1, 4 or more chunks).
    pub split: bool,
    /// Chunks of 16 inputs per row (x and the weights padded with zeros).
    pub chunks: usize,
    pub proof: LaneProof,
    /// Each output finished in the AVX2 function too, 4 s64 lanes at a
    /// time (bias, rescale, zero point, clamp; see [`vector_tail`]),
    /// instead of by the scalar code after it.
    pub tail: bool,
    /// With `tail`: each group of 8 rows finished right after its
    /// `vphaddd` reduction, in 8 s32 lanes (`lf_rescale8()`), its s64 sums
    /// never stored; proven by [`crate::valid::lanes::tail_s32`] (see
    /// [`fused_tail`]).
    pub fused: Option<TailProof>,
}

/// The AVX2 form of instruction `k`, or why it stays scalar (`None` for
/// every kind but Dense).
pub fn dense(
    p: &Program,
    info: &ModuleInfo,
    kind: &InstrKind,
) -> Option<Result<SimdDense, String>> {
    let InstrKind::Dense {
        src, dst, weight, ..
    } = kind
    else {
        return None;
    };
    let (n, m) = (p.tensor(*src).len, p.tensor(*dst).len);
    if n * m < MIN_MACS || n < MIN_INPUTS {
        return Some(Err(format!(
            "{m} x {n}: fewer than {MIN_INPUTS} inputs or {MIN_MACS} multiply-adds (scalar is cheaper)"
        )));
    }
    if n > MAX_INPUTS {
        return Some(Err(format!(
            "{n} inputs: the s16 copy of x would take {} bytes of stack (at most {MAX_INPUTS} inputs)",
            2 * n.div_ceil(16) * 16
        )));
    }
    let Some(&(lo, hi)) = info.tensor_bounds.get(src.index()) else {
        return Some(Err("no proven bounds for x".into()));
    };
    let Some(proof) = max_block(weight, n, lo, hi) else {
        return Some(Err(format!(
            "x in [{lo}, {hi}] with these weights: s16 operands not proven, or one vpmaddwd pair sum may leave s32"
        )));
    };
    let (rows, reduce) = match proof.row_total {
        Some(_) if m % 8 == 0 => (8, Reduce::Hadd),
        Some(_) if m % 4 == 0 => (4, Reduce::Hadd),
        _ if m % 4 == 0 => (4, Reduce::Quad),
        _ if m % 2 == 0 => (2, Reduce::Row),
        _ => (1, Reduce::Row),
    };
    let chunks = n.div_ceil(16);
    Some(Ok(SimdDense {
        rows,
        reduce,
        split: proof.block == 1 && (4..=1 << 16).contains(&chunks),
        chunks,
        proof,
        tail: false,
        fused: None,
    }))
}

/// Whether a SIMD Dense layer with `m` outputs, these rescales (at the
/// shifts its code uses), accumulator and fused table (if any) can finish
/// its outputs in AVX2 lanes (`lf_rescale4()` and `lf_clamp4()` in
/// `templates/c/simd.c`, then the table's `_avx2` lookup), or why not. The
/// vector rescale is the scalar one exactly where every multiplier is in
/// `[0, 2^31)` (`vpmuldq`/`vpmuludq` take 32-bit operands), the shift is
/// one for the layer and rounding is half up; the validator's proof that
/// `acc * mul + 2^(shift - 1)` stays in s64 covers both forms. A table is
/// looked up in lanes where [`vector_lut`] allows it.
pub fn vector_tail(
    m: usize,
    rescale: &[Rescale],
    fused_lut: Option<&Lut>,
    acc: AccWidth,
) -> Result<(), String> {
    let shift = rescale.first().map_or(0, |r| r.shift);
    if m % 4 != 0 {
        Err(format!("{m} outputs, not a multiple of 4"))
    } else if acc != AccWidth::I64 {
        Err("s32 accumulator".into())
    } else if !(1..=62).contains(&shift) || rescale.iter().any(|r| r.shift != shift) {
        Err("per-channel shifts".into())
    } else if rescale.iter().any(|r| r.round != Round::HalfUp) {
        Err("rounding other than half up".into())
    } else if rescale.iter().any(|r| !(0..1 << 31).contains(&r.mul)) {
        Err("a multiplier outside [0, 2^31)".into())
    } else if let Some(l) = fused_lut {
        vector_lut(l)
    } else {
        Ok(())
    }
}

/// Whether a layer `d` whose outputs [`vector_tail`] allows in lanes can
/// finish each group of 8 rows in s32 lanes right after its `vphaddd`
/// reduction (`lf_rescale8()`, `lf_clamp8()` in `templates/c/simd.c`),
/// or why not. `vpmuldq` multiplies the even and odd s32 lanes into s64
/// (exact: `|acc| < 2^31`, `0 <= mul < 2^31`), and a shift of at most 32
/// may be logical: bits `0 .. 31` of `v >> shift` are bits
/// `shift .. shift + 31` of `v` either way, and they are the whole result
/// where [`tail_s32`] proves `acc`, the rescaled value and it plus the
/// zero point in s32 for every row over x's proven range.
pub fn fused_tail(
    p: &Program,
    info: &ModuleInfo,
    d: &SimdDense,
    kind: &InstrKind,
    rescale: &[Rescale],
) -> Result<TailProof, String> {
    let InstrKind::Dense {
        src,
        dst,
        weight,
        bias,
        clamp,
        ..
    } = kind
    else {
        return Err("not a Dense layer".into());
    };
    if !d.tail || d.rows != 8 || d.reduce != Reduce::Hadd {
        return Err("rows not summed 8 at a time in s32 (vphaddd)".into());
    }
    if rescale.iter().any(|r| r.shift > 32) {
        return Err("a shift above 32".into());
    }
    let Some(&x) = info.tensor_bounds.get(src.index()) else {
        return Err("no proven bounds for x".into());
    };
    let zp = p.tensor(*dst).q.zero_point;
    tail_s32(weight, p.tensor(*src).len, x, bias, rescale, zp, *clamp)
}

/// Whether a table can be looked up in AVX2 lanes (`vpgatherqd`, 32 bits
/// per entry, then sign-extended): entries and steps within s16 or s32,
/// the interpolation's `delta * fraction` as one `vpmuldq` of two s32
/// operands (step shift at most 30). Its s16 tables get one entry of
/// padding (a 32-bit gather of the last entry reads two bytes more).
pub fn vector_lut(l: &Lut) -> Result<(), String> {
    let s32 = i32::MIN as i64..=i32::MAX as i64;
    let deltas = l.table.windows(2).map(|p| p[1] - p[0]);
    if l.table.iter().any(|v| !s32.contains(v)) {
        Err("a table entry outside s32".into())
    } else if l.step_shift > 30 {
        Err(format!("table step 2^{} (at most 2^30)", l.step_shift))
    } else if deltas.clone().any(|d| !s32.contains(&d)) {
        Err("a table step outside s32".into())
    } else {
        Ok(())
    }
}

/// Why the Rust back end refuses `--simd`. Checked with rustc 1.95 and the
/// flags of `kbuild::rust::codegen`: a `#[target_feature(enable = "avx2")]`
/// function using core::arch intrinsics in the `+soft-float` object stops
/// LLVM ("Do not know how to split the result of this operator"); `asm!`
/// naming ymm registers explicitly does assemble there, so a Rust form
/// would have to be hand-written assembly (not done).
pub const RUST_REFUSAL: &str = "a kernel Rust object is built +soft-float, and core::arch's \
     AVX2 intrinsics (#[target_feature(enable = \"avx2\")]) do not compile there \
     (LLVM: \"Do not know how to split the result of this operator\"); use the C back end";

/// One line per Dense layer under `simd`: its vector form, or why it stays
/// scalar; and a line when this machine cannot run the vector form (the
/// userspace build then runs the scalar fallback; it never faults).
pub fn notes(p: &Program, info: &ModuleInfo, simd: Simd) -> Vec<String> {
    if simd == Simd::None {
        return vec![];
    }
    let plan = crate::back::lower::plan_simd(p, info, 0, simd);
    let mut out: Vec<String> = p
        .instrs
        .iter()
        .zip(&plan.steps)
        .enumerate()
        .filter_map(|(k, (i, step))| {
            // The plan's form (with its tail), or why there is none.
            let r = match (dense(p, info, &i.kind)?, step.simd) {
                (Ok(_), Some(d)) => Ok(d),
                (r, _) => r,
            };
            let tail = |d: &SimdDense| match (d.tail, tail_refusal(p, k, step, &i.kind)) {
                (true, _) if d.fused.is_some() => "; outputs finished 8 at a time in s32 lanes after vphaddd (bias, rescale, clamp, table; proven in s32)".to_string(),
                (true, _) => "; outputs finished in s64 lanes (bias, rescale, clamp, table)".to_string(),
                (false, Some(why)) => format!("; outputs finished in scalar code: {why}"),
                (false, None) => String::new(),
            };
            Some(match r {
                Ok(d) if d.proof.block >= d.chunks => format!(
                    "--simd {}: {}: vpmaddwd, {} chunks of 16 inputs in s32 lanes (proven), {} rows at a time{}{}",
                    simd.name(),
                    i.node,
                    d.chunks,
                    d.rows,
                    if d.reduce == Reduce::Hadd {
                        ", row totals in s32 (proven, vphaddd)"
                    } else {
                        ""
                    },
                    tail(&d)
                ),
                Ok(d) => format!(
                    "--simd {}: {}: vpmaddwd, lanes widened to s64 every {} of {} chunks (proven), {} rows at a time{}",
                    simd.name(),
                    i.node,
                    d.proof.block,
                    d.chunks,
                    d.rows,
                    tail(&d)
                ),
                Err(why) => format!(
                    "--simd {}: {}: scalar: {why}; {}",
                    simd.name(),
                    i.node,
                    match step.lanes {
                        Some(k) => format!(
                            "two channels per multiply instead (lanes of {k} and {} bits, proven)",
                            64 - k
                        ),
                        None => match crate::back::lower::pair_lanes(info, &i.kind) {
                            Some(Err(e)) => format!("one channel per multiply ({e})"),
                            _ => "one channel per multiply".into(),
                        },
                    }
                ),
            })
        })
        .collect();
    if !host_has(simd) {
        out.push(format!(
            "--simd {}: this CPU has no {}: code run here (lfc run/eval/bench) takes the scalar fallback",
            simd.name(),
            simd.name().to_uppercase()
        ));
    }
    out
}

/// Why [`vector_tail`] refuses the layer of `step`, if it does.
fn tail_refusal(
    p: &Program,
    k: usize,
    step: &crate::back::lower::Step,
    kind: &InstrKind,
) -> Option<String> {
    let InstrKind::Dense {
        dst, rescale, acc, ..
    } = kind
    else {
        return None;
    };
    let rs = crate::back::lower::dense_rescales(step, rescale);
    let lut = crate::back::lower::fused_lut(p, k, step);
    vector_tail(p.tensor(*dst).len, &rs, lut, *acc).err()
}

/// Whether this machine executes `simd` code.
pub fn host_has(simd: Simd) -> bool {
    match simd {
        Simd::None => true,
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
        #[cfg(not(target_arch = "x86_64"))]
        Simd::Avx2 => false,
    }
}
