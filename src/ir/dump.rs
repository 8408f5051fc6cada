//! Human-readable dumps of both IR levels (golden-tested, printed by
//! `lfc inspect --ir`). Large constant arrays are summarised by length,
//! range and an FNV-1a digest so a golden file still pins every value.

use std::fmt::Write;

use super::graph::{Graph, OpKind};
use super::program::{InstrKind, Program};

fn fnv1a(values: impl Iterator<Item = i64>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in values {
        for b in v.to_le_bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

fn summary(v: &[i64]) -> String {
    let (lo, hi) = (
        v.iter().copied().min().unwrap_or(0),
        v.iter().copied().max().unwrap_or(0),
    );
    format!(
        "[{}] in [{lo}, {hi}] fnv {:016x}",
        v.len(),
        fnv1a(v.iter().copied())
    )
}

fn fsummary(v: &[f32]) -> String {
    let bits = v.iter().map(|x| x.to_bits() as i64);
    let (lo, hi) = v
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    format!(
        "[{}] in [{lo:.6e}, {hi:.6e}] fnv {:016x}",
        v.len(),
        fnv1a(bits)
    )
}

pub fn graph(g: &Graph) -> String {
    let mut s = String::new();
    let v = |id: super::ValueId| format!("{id} `{}` [{}]", g.value(id).name, g.value(id).len);
    let outs: Vec<String> = g.outputs.iter().map(|&o| v(o)).collect();
    let _ = writeln!(
        s,
        "graph: input {} -> output {}",
        v(g.input),
        outs.join(", ")
    );
    for op in &g.ops {
        let ins: Vec<String> = op.inputs.iter().map(|i| i.to_string()).collect();
        let (name, detail) = match &op.kind {
            OpKind::Dense { weight, bias } => (
                "dense".to_string(),
                format!(" weight {} bias {}", fsummary(weight), fsummary(bias)),
            ),
            OpKind::Affine { scale, offset } => (
                "affine".to_string(),
                format!(" scale {} offset {}", fsummary(scale), fsummary(offset)),
            ),
            OpKind::Binary { op } => (op.name().to_string(), String::new()),
            OpKind::Activation(a) => (a.name().to_string(), format!(" {a:?}")),
            OpKind::Softmax { axis_len } => {
                ("softmax".to_string(), format!(" axis_len {axis_len}"))
            }
            OpKind::Gather { map } => (
                "gather".to_string(),
                format!(
                    " map {}",
                    summary(&map.iter().map(|&i| i as i64).collect::<Vec<_>>())
                ),
            ),
            OpKind::Trees(e) => (
                "trees".to_string(),
                format!(
                    " {} trees, {} branches, {} leaves, {} targets, depths {:?}",
                    e.roots.len(),
                    e.branches.len(),
                    e.leaves.len(),
                    e.n_targets,
                    e.depths()
                ),
            ),
            OpKind::ArgMax { axis_len } => ("argmax".to_string(), format!(" axis_len {axis_len}")),
            OpKind::PRelu { slope } => ("prelu".to_string(), format!(" slope {slope:?}")),
            OpKind::GroupMax { axis_len } => ("max".to_string(), format!(" axis_len {axis_len}")),
            OpKind::Lookup { table } => ("lookup".to_string(), format!(" table {table:?}")),
            OpKind::LayerNorm {
                axis_len,
                epsilon,
                centred,
                denom,
                out,
            } => (
                match (centred, denom) {
                    (true, _) => "layer_norm",
                    (false, crate::ir::layer_norm::Denom::SumSquares) => "l2_norm",
                    (false, crate::ir::layer_norm::Denom::AbsSum) => "l1_norm",
                    (false, crate::ir::layer_norm::Denom::MaxAbs) => "max_norm",
                }
                .to_string(),
                match out {
                    crate::ir::graph::LayerNormOut::Normalized { scale, bias } => format!(
                        " axis_len {axis_len} epsilon {epsilon:e} scale {} bias {}",
                        fsummary(scale),
                        fsummary(bias)
                    ),
                    crate::ir::graph::LayerNormOut::InvStdDev => {
                        format!(" axis_len {axis_len} epsilon {epsilon:e} inv_std_dev")
                    }
                },
            ),
            OpKind::Concat { blocks, consts } => (
                "concat".to_string(),
                if consts.is_empty() {
                    format!(" {} blocks", blocks.len())
                } else {
                    format!(" {} blocks, consts {}", blocks.len(), fsummary(consts))
                },
            ),
        };
        let _ = writeln!(
            s,
            "  {} = {name}({}){detail}  # node `{}` ({})",
            v(op.output),
            ins.join(", "),
            op.node,
            op.onnx_op
        );
    }
    s
}

pub fn program(p: &Program) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "program `{}`: {}, {} -> {}, input scale {}, output scale {}",
        p.model_name,
        p.precision.name(),
        p.input_len,
        p.output_len,
        p.input_scale,
        p.output_scale
    );
    for (i, t) in p.tensors.iter().enumerate() {
        let _ = writeln!(
            s,
            "  t{i} `{}` [{}] int{} zp {} range [{}, {}] scale {:.6e}",
            t.name, t.len, t.q.bits, t.q.zero_point, t.q.qmin, t.q.qmax, t.q.scale
        );
    }
    for (k, instr) in p.instrs.iter().enumerate() {
        let body = match &instr.kind {
            InstrKind::Quantize {
                dst,
                in_lo,
                in_hi,
                rescale,
                pick,
            } => format!(
                "{dst} = quantize(in{}) rescale {} clamp lo {} hi {}",
                match pick {
                    Some(m) => format!(
                        "[pick {}]",
                        summary(&m.iter().map(|&j| j as i64).collect::<Vec<_>>())
                    ),
                    None => String::new(),
                },
                match &rescale[..] {
                    [r] => format!("{}/2^{}", r.mul, r.shift),
                    per => format!(
                        "per feature {}/2^{}",
                        summary(&per.iter().map(|r| r.mul).collect::<Vec<_>>()),
                        summary(&per.iter().map(|r| r.shift as i64).collect::<Vec<_>>())
                    ),
                },
                summary(in_lo),
                summary(in_hi)
            ),
            InstrKind::Dense {
                src,
                dst,
                weight,
                weight_bits,
                bias,
                acc,
                rescale,
                clamp,
            } => {
                let r: Vec<String> = rescale.iter().map(|r| format!("{}/2^{}", r.mul, r.shift)).collect();
                format!(
                    "{dst} = dense({src}) int{weight_bits} weight {} bias {} acc i{} clamp {clamp:?}\n      rescale {}",
                    summary(weight),
                    summary(bias),
                    acc.bits(),
                    r.join(" ")
                )
            }
            InstrKind::Scale {
                src,
                dst,
                pos,
                neg,
                offset,
                clamp,
            } => {
                let f = |v: &[crate::ir::Rescale]| {
                    let m: Vec<i64> = v.iter().map(|r| r.mul).collect();
                    let sh: Vec<i64> = v.iter().map(|r| r.shift as i64).collect();
                    format!("mul {} shift {}", summary(&m), summary(&sh))
                };
                format!(
                    "{dst} = scale({src}) pos {} neg {} offset {} clamp {clamp:?}",
                    f(pos),
                    f(neg),
                    summary(offset)
                )
            }
            InstrKind::Binary {
                op,
                a,
                b,
                dst,
                rescale_a,
                mul_b,
                clamp,
            } => format!(
                "{dst} = {}({a}, {b}) mul_a {} mul_b {mul_b} shift {} clamp {clamp:?}",
                op.name(),
                rescale_a.mul,
                rescale_a.shift
            ),
            InstrKind::Lut { src, dst, lut } => format!(
                "{dst} = {}({src}) table [{}, {}] step 2^{} {} max error {:.3e}",
                lut.func.name(),
                lut.lo,
                lut.hi,
                lut.step_shift,
                summary(&lut.table),
                lut.max_error
            ),
            InstrKind::Softmax {
                src,
                dst,
                axis_len,
                exp_lut,
                out_frac,
            } => format!(
                "{dst} = softmax({src}) axis {axis_len} out Q{out_frac} exp table [{}, {}] step 2^{} {} max error {:.3e}",
                exp_lut.lo,
                exp_lut.hi,
                exp_lut.step_shift,
                summary(&exp_lut.table),
                exp_lut.max_error
            ),
            InstrKind::Trees {
                src,
                dst,
                table,
                rescale,
            } => format!(
                "{dst} = trees({src}) {} trees, {} branches, {} leaves, {} targets, worst {} comparisons, thresholds {} leaves {} base {:?} rescale {}/2^{}",
                table.roots.len(),
                table.n_branches(),
                table.n_leaves(),
                table.n_targets,
                table.worst_comparisons(),
                summary(&table.threshold),
                summary(&table.leaf_w),
                table.base,
                rescale.mul,
                rescale.shift
            ),
            InstrKind::ArgMax { src, dst, axis_len } => {
                format!("{dst} = argmax({src}) axis {axis_len}")
            }
            InstrKind::GroupMax { src, dst, axis_len } => {
                format!("{dst} = max({src}) per group of {axis_len}")
            }
            InstrKind::Lookup { src, dst, table } => {
                format!("{dst} = lookup({src}) table {table:?}")
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
                let what = match out {
                    crate::ir::layer_norm::NormOut::Scaled { mul, add, shift } => format!(
                        "scaled mul {} add {} shift {shift}",
                        summary(mul),
                        summary(add)
                    ),
                    crate::ir::layer_norm::NormOut::InvStd { mul, shift } => {
                        format!("inv_std mul {mul} shift {shift}+k")
                    }
                };
                let c = match centre {
                    None => "mean".to_string(),
                    Some(z) => format!("zp {z}"),
                };
                let by = match denom {
                    crate::ir::layer_norm::Denom::SumSquares => String::new(),
                    d => format!(" T {}", d.name()),
                };
                format!("{dst} = layer_norm({src}) axis {axis_len} centre {c}{by} eps {eps} {what} clamp {clamp:?}")
            }
            InstrKind::Concat {
                dst,
                pieces,
                consts,
                clamp,
            } => {
                let parts: Vec<String> = pieces
                    .iter()
                    .map(|p| {
                        let b = p.block;
                        let src = match p.src {
                            crate::ir::concat::PieceSrc::Tensor { id, rescale } => {
                                format!("{id}[{}..] * {}/2^{}", b.from, rescale.mul, rescale.shift)
                            }
                            crate::ir::concat::PieceSrc::Const => format!("const[{}..]", b.from),
                        };
                        format!("[{}..{}] = {src}", b.at, b.at + b.len)
                    })
                    .collect();
                let consts = if consts.is_empty() {
                    String::new()
                } else {
                    format!(" consts {}", summary(consts))
                };
                format!("{dst} = concat({}){consts} clamp {clamp:?}", parts.join(", "))
            }
            InstrKind::Dequantize {
                src,
                rescale,
                offset,
            } => {
                let at = if *offset == 0 {
                    String::new()
                } else {
                    format!(" at out[{offset}]")
                };
                format!(
                    "out = dequantize({src}) rescale {}/2^{}{at}",
                    rescale.mul, rescale.shift
                )
            }
        };
        let even = match instr.kind.tie_rounding() {
            Some(crate::ir::Round::HalfEven) => " ties to even",
            Some(crate::ir::Round::HalfOdd) => " ties to odd",
            _ => "",
        };
        let _ = writeln!(
            s,
            "  {k}: {body}{even}  # `{}` ({})",
            instr.node, instr.onnx_op
        );
    }
    s
}
