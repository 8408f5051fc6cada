//! The reference interpreter: runs the integer [`Program`] exactly as the
//! emitted C does. It is the oracle the C is checked against bit for bit.
//!
//! Every value is held in `i64`; the validator has proven that no
//! intermediate overflows, so plain (wrapping-free) arithmetic is used and a
//! debug build would panic on any overflow the proof missed.

use crate::ir::concat::PieceSrc;
use crate::ir::program::{softmax_group, INFER_DRIFT, INFER_GUARD};
use crate::ir::{BinaryOp, InstrKind, Program};

/// Runs one input row (`s64` at the program's input scale); returns the
/// `s64` outputs at the output scale.
pub fn run(program: &Program, input: &[i64]) -> Vec<i64> {
    run_all(program, input).1
}

/// [`run`], and the `LF_INFER_*` flags the emitted code returns for the
/// row: [`INFER_DRIFT`] when an input was outside the declared domain,
/// [`INFER_GUARD`] when an output was clamped to the guardrail.
pub fn run_flags(program: &Program, input: &[i64]) -> (Vec<i64>, u32) {
    let (_, out, flags) = run_traced(program, input);
    (out, flags)
}

/// Runs one row and also returns every tensor's values (for `lfc inspect`
/// and tests).
pub fn run_all(program: &Program, input: &[i64]) -> (Vec<Vec<i64>>, Vec<i64>) {
    let (t, out, _) = run_traced(program, input);
    (t, out)
}

/// Every tensor's values, the outputs and the flags.
pub fn run_traced(program: &Program, input: &[i64]) -> (Vec<Vec<i64>>, Vec<i64>, u32) {
    assert_eq!(
        input.len(),
        program.input_len,
        "interp::run: input has {} values, the program takes {}",
        input.len(),
        program.input_len
    );
    let mut t: Vec<Vec<i64>> = program.tensors.iter().map(|x| vec![0; x.len]).collect();
    let mut out = vec![0i64; program.output_len];
    let mut flags = 0u32;
    let zp = |id: crate::ir::TensorId| program.tensor(id).q.zero_point;
    for instr in &program.instrs {
        match &instr.kind {
            InstrKind::Quantize {
                dst,
                in_lo,
                in_hi,
                rescale,
                pick,
            } => {
                let z = zp(*dst);
                for i in 0..in_lo.len() {
                    let v = input[pick.as_ref().map_or(i, |m| m[i])];
                    let c = v.clamp(in_lo[i], in_hi[i]);
                    if c != v {
                        flags |= INFER_DRIFT;
                    }
                    t[dst.index()][i] =
                        crate::ir::program::quantize_rescale(rescale, i).apply(c) + z;
                }
            }
            InstrKind::Dense {
                src,
                dst,
                weight,
                bias,
                rescale,
                clamp,
                ..
            } => {
                let x = &t[src.index()];
                let n = x.len();
                let z = zp(*dst);
                let y: Vec<i64> = bias
                    .iter()
                    .enumerate()
                    .map(|(j, b)| {
                        let row = &weight[j * n..(j + 1) * n];
                        let acc = b + row.iter().zip(x).map(|(w, v)| w * v).sum::<i64>();
                        clamp_opt(rescale[j].apply(acc) + z, *clamp)
                    })
                    .collect();
                t[dst.index()] = y;
            }
            InstrKind::Scale {
                src,
                dst,
                pos,
                neg,
                offset,
                clamp,
            } => {
                let zs = zp(*src);
                let zd = zp(*dst);
                let y: Vec<i64> = t[src.index()]
                    .iter()
                    .enumerate()
                    .map(|(i, &q)| {
                        let d = q - zs;
                        let r = if d >= 0 { pos[i] } else { neg[i] };
                        clamp_opt(r.apply(d) + offset[i] + zd, *clamp)
                    })
                    .collect();
                t[dst.index()] = y;
            }
            InstrKind::Binary {
                op,
                a,
                b,
                dst,
                rescale_a,
                mul_b,
                clamp,
            } => {
                let (za, zb, zd) = (zp(*a), zp(*b), zp(*dst));
                let y: Vec<i64> = t[a.index()]
                    .iter()
                    .zip(&t[b.index()])
                    .map(|(&qa, &qb)| {
                        let (da, db) = (qa - za, qb - zb);
                        let half = 1i64 << (rescale_a.shift - 1);
                        let v = match op {
                            BinaryOp::Add => {
                                (da * rescale_a.mul + db * mul_b + half) >> rescale_a.shift
                            }
                            BinaryOp::Sub => {
                                (da * rescale_a.mul - db * mul_b + half) >> rescale_a.shift
                            }
                            BinaryOp::Mul => rescale_a.apply(da * db),
                        };
                        clamp_opt(v + zd, *clamp)
                    })
                    .collect();
                t[dst.index()] = y;
            }
            InstrKind::Lut { src, dst, lut } => {
                let y: Vec<i64> = t[src.index()].iter().map(|&q| lut.apply(q)).collect();
                t[dst.index()] = y;
            }
            InstrKind::Softmax {
                src,
                dst,
                axis_len,
                exp_lut,
                out_frac,
            } => {
                let q = &program.tensor(*dst).q;
                let mut y = Vec::with_capacity(t[src.index()].len());
                for group in t[src.index()].chunks(*axis_len) {
                    y.extend(softmax_group(
                        group,
                        exp_lut,
                        *out_frac,
                        q.zero_point,
                        q.qmax,
                    ));
                }
                t[dst.index()] = y;
            }
            InstrKind::Trees {
                src,
                dst,
                table,
                rescale,
            } => {
                let z = zp(*dst);
                let acc = table.accumulate(&t[src.index()]);
                t[dst.index()] = acc.iter().map(|&a| rescale.apply(a) + z).collect();
            }
            InstrKind::ArgMax { src, dst, axis_len } => {
                let y: Vec<i64> = t[src.index()]
                    .chunks(*axis_len)
                    .map(|g| crate::ir::tree::first_argmax(g) as i64)
                    .collect();
                t[dst.index()] = y;
            }
            InstrKind::GroupMax { src, dst, axis_len } => {
                let y: Vec<i64> = t[src.index()]
                    .chunks(*axis_len)
                    .map(|g| g.iter().copied().max().unwrap_or(0))
                    .collect();
                t[dst.index()] = y;
            }
            InstrKind::LayerNorm {
                src,
                dst,
                axis_len,
                eps,
                centre,
                denom,
                out,
                clamp,
            } => {
                let z = zp(*dst);
                let y: Vec<i64> = t[src.index()]
                    .chunks(*axis_len)
                    .flat_map(|g| {
                        crate::ir::layer_norm::group(g, *eps, *centre, *denom, out, z, *clamp)
                    })
                    .collect();
                t[dst.index()] = y;
            }
            InstrKind::Lookup { src, dst, table } => {
                let y: Vec<i64> = t[src.index()].iter().map(|&i| table[i as usize]).collect();
                t[dst.index()] = y;
            }
            InstrKind::Concat {
                dst,
                pieces,
                consts,
                clamp,
            } => {
                let zd = zp(*dst);
                let mut y = vec![0i64; program.tensor(*dst).len];
                for p in pieces {
                    let b = p.block;
                    let out = &mut y[b.at..b.at + b.len];
                    match p.src {
                        PieceSrc::Const => out.copy_from_slice(&consts[b.from..b.from + b.len]),
                        PieceSrc::Tensor { id, .. } if p.is_copy(zp(id), zd) => {
                            out.copy_from_slice(&t[id.index()][b.from..b.from + b.len])
                        }
                        PieceSrc::Tensor { id, rescale } => {
                            let zs = zp(id);
                            for (o, &q) in out.iter_mut().zip(&t[id.index()][b.from..]) {
                                *o = clamp_opt(rescale.apply(q - zs) + zd, *clamp);
                            }
                        }
                    }
                }
                t[dst.index()] = y;
            }
            InstrKind::Dequantize {
                src,
                rescale,
                offset,
            } => {
                let z = zp(*src);
                for (o, q) in out[*offset..].iter_mut().zip(&t[src.index()]) {
                    *o = rescale.apply(q - z);
                }
            }
        }
    }
    if let Some(guard) = &program.output_guard {
        for (o, &(lo, hi)) in out.iter_mut().zip(guard) {
            let c = (*o).clamp(lo, hi);
            if c != *o {
                flags |= INFER_GUARD;
                *o = c;
            }
        }
    }
    (t, out, flags)
}

fn clamp_opt(v: i64, c: Option<(i64, i64)>) -> i64 {
    match c {
        Some((lo, hi)) => v.clamp(lo, hi),
        None => v,
    }
}
