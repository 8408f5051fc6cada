//! `Dense`, AVX2 form (`--simd avx2`, decided in
//! [`crate::back::lower_simd`]): an `LF_AVX2` function computes the row
//! sums `W x` with `vpmaddwd`, the body finishes each row (bias, rescale,
//! clamp, table) as the scalar form does, and runs the scalar loop instead
//! when `lf_simd` is false (no AVX2, or the FPU not usable here).

use crate::back::c::expr::{Expr, Multipliers, PerElem};
use crate::back::c::namer::macro_name;
use crate::back::c::templates::{Avx2Row, Avx2Tail, Common, DenseAvx2, DenseLoop, DenseLoopBody};
use crate::back::c::writer::{ctype_for, fail, min_max, render, Clamp, Decls, Writer};
use crate::back::lower_simd::{Reduce, SimdDense, UNROLL_CHUNKS};
use crate::ir::Round;
use crate::Result;

/// Names of the AVX2 form, declared before the layer's tables.
pub(super) struct Avx2Names {
    pub d: SimdDense,
    pub in_len: String,
    pub out_len: String,
    pub in_pad: String,
    n: usize,
    chunks: String,
    block: String,
}

/// Up to this many inputs, x is narrowed by straight-line `lf_narrow16()`
/// calls; above, by a loop of them (64 `lf_narrow4()` calls in a row made
/// gcc keep every vector live: a 2 KiB frame in LinnOS's 256 -> 2 layer).
/// The loop does two calls per iteration where that divides the inputs
/// (LinnOS's 256 -> 2 layer: 16 fewer loop steps). The last `n % 16`
/// inputs: `lf_narrow4()` calls, then one by one.
const NARROW_UNROLLED: usize = 32;

/// Declares the padded row length, chunks and block of `ident`.
pub(super) fn declare(
    decls: &mut Decls,
    ident: &str,
    d: SimdDense,
    (n, in_len): (usize, String),
    out_len: String,
) -> Result<Avx2Names> {
    let in_pad = decls.define(
        macro_name(ident, "in_pad"),
        (16 * d.chunks).to_string(),
        Some("row length: inputs padded to whole 16-lane vectors".into()),
    )?;
    let chunks = decls.define(
        macro_name(ident, "chunks"),
        d.chunks.to_string(),
        Some("vectors of 16 inputs per row".into()),
    )?;
    let block = decls.define(
        macro_name(ident, "block"),
        d.proof.block.to_string(),
        Some(format!(
            "vectors summed in s32 lanes before widening: |lane| <= {} < 2^31 (proven)",
            d.proof.lane_bound
        )),
    )?;
    Ok(Avx2Names {
        d,
        in_len,
        out_len,
        in_pad: in_pad.to_string(),
        n,
        chunks: chunks.to_string(),
        block: block.to_string(),
    })
}

/// The C names a layer's AVX2 form reads and writes.
pub(super) struct Operands {
    /// Input and output buffers.
    pub x: String,
    pub y: String,
    /// The (padded) weight table.
    pub weight: String,
    /// The proven range of x.
    pub x_bounds: (i64, i64),
    /// Outputs `j .. j + 3` finished in s64 lanes ([`tail_value`]), when
    /// the plan says so.
    pub tail: Option<Avx2Tail>,
    /// With the tail and a fused table: the call of its AVX2 lookup.
    pub lut_call: Option<String>,
    /// The tail fused into the row loop ([`fused_tail`]), when the plan
    /// says so: the statements finishing each group of 8 rows.
    pub fused: Option<Vec<String>>,
}

/// What the vector tail reads: the bias table and its values, the
/// rescale, the multipliers' values, zero point and clamp.
#[derive(Clone, Copy)]
pub(super) struct TailParts<'a> {
    pub bias: (&'a Expr, &'a [i64]),
    pub rescale: &'a Multipliers,
    pub muls: &'a [i64],
    pub zp: Option<&'a Expr>,
    pub clamp: Option<&'a Clamp>,
}

/// The multiplier operand of a vector tail (`SET(m)` for one multiplier,
/// `load` of its table otherwise) and the layer's one shift: the plan
/// (`lower_simd`) allowed vector tails only with one shift and rounding
/// half up.
fn vector_multipliers<'a>(
    t: &TailParts<'a>,
    what: &str,
    set: &str,
    load: impl Fn(&Expr, &[i64]) -> Result<String>,
) -> Result<(String, &'a Expr)> {
    let Multipliers::Split {
        mul,
        shift: PerElem::Uniform(shift),
        round: Round::HalfUp,
    } = t.rescale
    else {
        return fail(format!(
            "{what}: the plan allowed per-channel shifts or another rounding"
        ));
    };
    let mul = match mul {
        PerElem::Uniform(m) => format!("{set}({m})"),
        PerElem::Array(a) => load(a, t.muls)?,
    };
    Ok((mul, shift))
}

/// `lf_clamp4(lf_rescale4(y + bias, mul, SHIFT) + zp, QMIN, QMAX)` of
/// outputs `j .. j + 3`: the scalar tail's arithmetic in four s64 lanes
/// (`lower_simd::vector_tail` proved the two agree).
pub(super) fn tail_value(t: TailParts) -> Result<Avx2Tail> {
    let load = |table: &Expr, values: &[i64]| {
        let (lo, hi) = min_max(values);
        format!("lf_ld4_{}(&{table}[j])", ctype_for(lo, hi))
    };
    let (mul, shift) = vector_multipliers(&t, "AVX2 tail", "lf_set4", |a, v| Ok(load(a, v)))?;
    let acc = format!("lf_ld4_s64(&y[j]) + {}", load(t.bias.0, t.bias.1));
    let mut v = format!("lf_rescale4(acc, {mul}, {shift})");
    if let Some(zp) = t.zp {
        v = format!("{v} + lf_set4({zp})");
    }
    if let Some(c) = t.clamp {
        v = format!("lf_clamp4({v}, {}, {})", c.lo, c.hi);
    }
    Ok(Avx2Tail { acc, value: v })
}

/// The statements finishing rows `j .. j + 7` from their lanes `a0..a7`
/// in 8 s32 lanes (`lower_simd::fused_tail` proved every intermediate in
/// s32): `t = row sums + bias`, `t = lf_rescale8(t, mul, SHIFT)`, then
/// `lf_clamp8(t + zp, QMIN, QMAX)` stored as s64.
pub(super) fn fused_tail(t: TailParts) -> Result<Vec<String>> {
    let load = |table: &Expr, values: &[i64]| {
        let (lo, hi) = min_max(values);
        match ctype_for(lo, hi) {
            "s64" => fail("AVX2 s32 tail: a table outside s32"),
            ty => Ok(format!("lf_ld8_{ty}(&{table}[j])")),
        }
    };
    let (mul, shift) = vector_multipliers(&t, "AVX2 s32 tail", "lf_set8", load)?;
    let lanes = (0..8)
        .map(|r| format!("a{r}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut v = "t".to_string();
    if let Some(zp) = t.zp {
        v = format!("{v} + lf_set8({zp})");
    }
    if let Some(c) = t.clamp {
        v = format!("lf_clamp8({v}, {}, {})", c.lo, c.hi);
    }
    Ok(vec![
        format!("t = lf_hadd8({lanes}) + {};", load(t.bias.0, t.bias.1)?),
        format!("t = lf_rescale8(t, {mul}, {shift});"),
        format!("lf_st8(&y[j], {v});"),
    ])
}

/// Renders the layer: the AVX2 function, its call and the fallback `l`.
pub(super) fn construct(
    w: &mut Writer,
    ident: &str,
    (c, l): (&Common, &DenseLoop),
    names: Avx2Names,
    ops: Operands,
) -> Result<(String, String)> {
    let Operands {
        x,
        y,
        weight,
        x_bounds: (x_lo, x_hi),
        tail,
        lut_call,
        fused,
    } = ops;
    w.uses_simd = true;
    let d = names.d;
    let fallback = render(DenseLoopBody { c, l })?;
    // The scalar loop, one level deeper and without its comment block
    // (the AVX2 form's comment above says the same).
    let fallback = strip_comment(&fallback)
        .lines()
        .map(|line| {
            if line.is_empty() {
                String::new()
            } else {
                format!("\t{line}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let rows = (0..d.rows)
        .map(|r| {
            let j = if r == 0 {
                "j".to_string()
            } else {
                format!("j + {r}")
            };
            Avx2Row {
                lanes: format!("a{r}"),
                sum: format!("s{r}"),
                high: format!("h{r}"),
                weight: format!("{weight}[{j}]"),
            }
        })
        .collect();
    let one_block = d.proof.block >= d.chunks;
    let unrolled: Vec<String> = if one_block && d.chunks <= UNROLL_CHUNKS {
        (0..d.chunks).map(|c| (16 * c).to_string()).collect()
    } else {
        vec![]
    };
    let finished = tail.is_some() || fused.is_some();
    let finish = match fused {
        Some(lines) if one_block && d.reduce == Reduce::Hadd && d.rows == 8 => lines,
        Some(_) => return fail("AVX2 s32 tail: the plan fused a layer not summed by vphaddd"),
        None => finish(d, one_block),
    };
    let ints = match (one_block, unrolled.is_empty(), d.split) {
        (true, false, _) => "i, j",
        (false, _, false) => "i, j, c, k",
        _ => "i, j, k",
    };
    let block_note = if d.split {
        format!(
            "Every vpmaddwd pair sum is within +/-{} < 2^31 (proven); the lanes add them wrapping in s32 and their >> 16 apart, and lf_join() rebuilds the exact s64 sums once ({} chunks, at most 2^16).",
            d.proof.lane_bound, d.chunks
        )
    } else if one_block {
        format!(
            "All {} chunks are summed in s32 lanes: every partial lane sum is within +/-{} < 2^31 (proven), then widened to s64 once.",
            d.chunks, d.proof.lane_bound
        )
    } else {
        format!(
            "Lanes are summed in s32 over {} chunks (every partial lane sum within +/-{} < 2^31, proven), then widened to s64 and added.",
            d.proof.block, d.proof.lane_bound
        )
    };
    let block_cond = if d.chunks % d.proof.block.max(1) == 0 {
        format!("k < c + {}", names.block)
    } else {
        format!("k < c + {} && k < {}", names.block, names.chunks)
    };
    let n16 = names.n / 16 * 16;
    let a = DenseAvx2 {
        func: format!("{ident}_avx2"),
        in_len: names.in_len,
        narrow16: (0..n16)
            .step_by(16)
            .filter(|_| names.n <= NARROW_UNROLLED)
            .collect(),
        narrow_loop: names.n > NARROW_UNROLLED,
        narrow_pairs: names.n > NARROW_UNROLLED && n16 % 32 == 0,
        narrow16_end: n16,
        narrow4: (n16..names.n / 4 * 4).step_by(4).collect(),
        narrow_rest: names.n / 4 * 4,
        out_len: names.out_len,
        in_pad: names.in_pad,
        in_pad_value: 16 * d.chunks,
        padded: 16 * d.chunks != names.n,
        x_lo,
        x_hi,
        chunks: names.chunks,
        block: names.block,
        block_cond,
        one_block,
        split: d.split,
        block_note: words(&block_note, 72),
        unrolled,
        finish,
        ints: ints.into(),
        rows,
        x,
        y,
        acc_type: l.acc_type.clone(),
        bias: l.bias.clone(),
        dst: l.dst.clone(),
        value: l.value.clone(),
        fused: finished && tail.is_none(),
        finished,
        tail,
        lut_call,
        fallback,
    };
    w.construct(&(c, &a))
}

/// The statements storing a group's row sums: `a<r>` are the s32 lanes
/// (one block), `s<r>` the s64 sums (several blocks).
fn finish(d: SimdDense, one_block: bool) -> Vec<String> {
    let lanes = |r: usize| {
        if one_block {
            format!("lf_widen(a{r})")
        } else {
            format!("s{r}")
        }
    };
    let all = |f: &dyn Fn(usize) -> String| (0..d.rows).map(f).collect::<Vec<_>>().join(", ");
    match d.reduce {
        Reduce::Hadd => vec![format!(
            "lf_sum{}(&y[j], {});",
            d.rows,
            all(&|r| format!("a{r}"))
        )],
        Reduce::Quad => vec![format!("lf_sum4q(&y[j], {});", all(&lanes))],
        Reduce::Row => (0..d.rows)
            .map(|r| {
                let y = if r == 0 {
                    "y[j]".to_string()
                } else {
                    format!("y[j + {r}]")
                };
                format!("{y} = lf_hsum({});", lanes(r))
            })
            .collect(),
    }
}

/// `text` in lines of at most `width` characters (at spaces).
fn words(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = vec![];
    for word in text.split(' ') {
        match lines.last_mut() {
            Some(l) if l.len() + 1 + word.len() <= width => {
                l.push(' ');
                l.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

/// `body` without its leading `/* ... */` block.
fn strip_comment(body: &str) -> &str {
    let t = body.trim_start_matches('\n');
    match (t.trim_start().starts_with("/*"), t.find("*/\n")) {
        (true, Some(end)) => &t[end + 3..],
        _ => t,
    }
}
