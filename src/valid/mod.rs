//! The validator: proves the integer program safe and returns the facts
//! every back end needs ([`ModuleInfo`]).
//!
//! It propagates exact integer bounds from the Quantize clamp (the input
//! domain) through every instruction, and refuses the program when an
//! accumulator or product could overflow its type, or when a value could
//! leave its tensor's range without an explicit clamp. It also assigns each
//! tensor to a storage buffer (in place where the op allows) and decides
//! whether the buffers fit the stack budget or go to per-CPU scratch.

pub mod lanes;

use crate::error::Error;
use crate::ir::bounds;
use crate::ir::{InstrKind, Program};
use crate::Result;

/// Stack bytes the emitted function may use for activations; above this the
/// buffers move to per-CPU scratch (the frame must stay well under 1 KiB).
pub const STACK_BUDGET_BYTES: usize = 768;

/// Bytes per stored activation in the emitted C (tensors are `s64` arrays:
/// on x86-64 a MAC against an immediate weight is then one `imul r64, m64, imm32`
/// and one `add`).
pub const ELEM_BYTES: usize = 8;

/// Longest input or output vector lf_kernel accepts (`LF_MAX_IO_LEN`).
pub const MAX_IO_LEN: usize = crate::control::uapi::MAX_IO_LEN as usize;

/// Static per-CPU bytes a module may define (`PERCPU_MODULE_RESERVE`,
/// 8 KiB on x86-64 with SMP, shared by every loaded module).
pub const PERCPU_RESERVE_BYTES: usize = 8 << 10;

/// Why a program cannot become a kernel module, if it cannot: its input or
/// output is longer than lf_kernel's ABI takes, or its per-CPU scratch is
/// larger than a module may reserve. (The interpreter runs it regardless.)
pub fn kernel_limits(program: &Program, info: &ModuleInfo) -> Option<String> {
    for (what, len) in [("input", program.input_len), ("output", program.output_len)] {
        if len > MAX_IO_LEN {
            return Some(format!(
                "the model's {what} has {len} values; lf_kernel takes at most {MAX_IO_LEN} (LF_MAX_IO_LEN)"
            ));
        }
    }
    if info.scratch_bytes > PERCPU_RESERVE_BYTES {
        return Some(format!(
            "its activations need {} bytes of per-CPU scratch; a module may reserve at most {PERCPU_RESERVE_BYTES} (PERCPU_MODULE_RESERVE)",
            info.scratch_bytes
        ));
    }
    None
}

#[derive(Clone, Debug, PartialEq)]
pub struct ModuleInfo {
    pub macs: usize,
    /// Worst-case table comparisons per inference (tree walks).
    pub cmps: usize,
    /// Proven `[min, max]` of every `s64` model output over the domain,
    /// before any guardrail (`out[i]`, at that output's scale).
    pub output_bounds: Vec<(i64, i64)>,
    /// Proven `[min, max]` of every tensor's stored values over the domain.
    pub tensor_bounds: Vec<(i64, i64)>,
    /// Proven `[min, max]` of each element of every tensor.
    pub elem_bounds: Vec<bounds::Bounds>,
    /// Per instruction: proven bound of |accumulator or widest intermediate|
    /// and the bits it needs (sign included), for reports.
    pub acc_bits: Vec<Option<u32>>,
    /// Buffer index of each tensor.
    pub tensor_buffer: Vec<usize>,
    /// Length (elements) of each buffer.
    pub buffers: Vec<usize>,
    /// Buffers live in per-CPU scratch instead of the stack.
    pub scratch: bool,
    /// Activation bytes on the stack (0 when `scratch`).
    pub stack_bytes: usize,
    /// Per-CPU scratch bytes (0 unless `scratch`).
    pub scratch_bytes: usize,
}

/// Validates `program`; see the module docs.
pub fn validate(program: &Program) -> Result<ModuleInfo> {
    let fail = |what: &str, reason: String| Error::Validate {
        what: what.to_string(),
        reason,
    };
    let first_ok = matches!(
        program.instrs.first().map(|i| &i.kind),
        Some(InstrKind::Quantize { .. })
    );
    let last_ok = matches!(
        program.instrs.last().map(|i| &i.kind),
        Some(InstrKind::Dequantize { .. })
    );
    if !first_ok || !last_ok {
        return Err(fail(
            "program",
            "must start with Quantize and end with Dequantize".into(),
        ));
    }
    let mut env: Vec<Option<bounds::Bounds>> = vec![None; program.tensors.len()];
    let mut acc_bits = Vec::with_capacity(program.instrs.len());
    let mut output_bounds = vec![(0i64, 0i64); program.output_len];
    for instr in &program.instrs {
        let dst = instr.kind.dst();
        if let Some(id) = dst {
            if id.index() >= env.len() {
                return Err(fail(&instr.node, format!("tensor {id} does not exist")));
            }
            if env[id.index()].is_some() {
                return Err(fail(&instr.node, format!("tensor {id} is written twice")));
            }
        }
        if let Some(id) = instr
            .kind
            .srcs()
            .into_iter()
            .find(|t| t.index() >= env.len())
        {
            return Err(fail(&instr.node, format!("tensor {id} does not exist")));
        }
        let facts = bounds::propagate(&program.tensors, &instr.kind, &env, &instr.node)
            .map_err(|r| fail(&instr.node, r))?;
        if let Some(dst) = dst {
            // Quantize, Dense and Scale carry per-element vectors that
            // `propagate` walks: their lengths show in `facts.out`.
            if facts.out.len() != program.tensor(dst).len {
                return Err(fail(&instr.node, format!("tensor {dst} length mismatch")));
            }
            env[dst.index()] = Some(facts.out);
        }
        if let InstrKind::Dequantize {
            src,
            rescale,
            offset,
        } = &instr.kind
        {
            let zp = program.tensor(*src).q.zero_point;
            let src_bounds = env[src.index()].as_ref().ok_or_else(|| {
                fail(
                    &instr.node,
                    format!("tensor {src} is read before it is written"),
                )
            })?;
            let slots = output_bounds.get_mut(*offset..*offset + src_bounds.len());
            let slots = slots.ok_or_else(|| {
                fail(
                    &instr.node,
                    format!("output {offset} is beyond the outputs"),
                )
            })?;
            for (o, &(lo, hi)) in slots.iter_mut().zip(src_bounds) {
                let (a, b) = (rescale.apply(lo - zp), rescale.apply(hi - zp));
                *o = (a.min(b), a.max(b));
            }
        }
        acc_bits.push(Some(facts.widest_bits));
    }
    if let Some(g) = &program.output_guard {
        if g.len() != program.output_len {
            return Err(fail(
                "--output-range",
                format!("{} bounds for {} outputs", g.len(), program.output_len),
            ));
        }
        if let Some(i) = g.iter().position(|(lo, hi)| lo > hi) {
            return Err(fail("--output-range", format!("output {i}: lo > hi")));
        }
    }
    let tensor_bounds = env
        .iter()
        .zip(&program.tensors)
        .map(|(b, t)| match b {
            Some(b) => Ok((
                b.iter().map(|x| x.0).min().unwrap_or(0),
                b.iter().map(|x| x.1).max().unwrap_or(0),
            )),
            None => Err(fail(&t.name, "tensor is never written".into())),
        })
        .collect::<Result<Vec<_>>>()?;
    let elem_bounds = env.into_iter().map(Option::unwrap_or_default).collect();
    let (tensor_buffer, buffers) = assign_buffers(program);
    let bytes: usize = buffers.iter().sum::<usize>() * ELEM_BYTES;
    let scratch = bytes > STACK_BUDGET_BYTES;
    Ok(ModuleInfo {
        macs: program.macs(),
        cmps: program.worst_comparisons(),
        output_bounds,
        tensor_bounds,
        elem_bounds,
        acc_bits,
        tensor_buffer,
        buffers,
        scratch,
        stack_bytes: if scratch { 0 } else { bytes },
        scratch_bytes: if scratch { bytes } else { 0 },
    })
}

/// Greedy buffer assignment by liveness. Element-wise ops (Scale, Lut,
/// Binary) write in place over a source that dies there; Dense and Softmax
/// read their whole source while writing, so they never do.
fn assign_buffers(program: &Program) -> (Vec<usize>, Vec<usize>) {
    let n = program.tensors.len();
    let mut last_use = vec![0usize; n];
    for (k, instr) in program.instrs.iter().enumerate() {
        for t in instr.kind.srcs() {
            last_use[t.index()] = k;
        }
    }
    let mut tensor_buffer = vec![usize::MAX; n];
    let mut buffers: Vec<usize> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    for (k, instr) in program.instrs.iter().enumerate() {
        let srcs = instr.kind.srcs();
        if let Some(dst) = instr.kind.dst() {
            let len = program.tensor(dst).len;
            let elementwise = instr.kind.is_elementwise();
            let in_place = srcs.iter().find(|s| {
                elementwise && last_use[s.index()] == k && program.tensor(**s).len == len
            });
            let buf = if let Some(s) = in_place {
                tensor_buffer[s.index()]
            } else if let Some(pos) = free
                .iter()
                .position(|&b| buffers[b] >= len)
                .or(if free.is_empty() { None } else { Some(0) })
            {
                let b = free.remove(pos);
                buffers[b] = buffers[b].max(len);
                b
            } else {
                buffers.push(len);
                buffers.len() - 1
            };
            tensor_buffer[dst.index()] = buf;
        }
        for s in srcs {
            let b = tensor_buffer[s.index()];
            let still_used = program
                .tensors
                .iter()
                .enumerate()
                .any(|(t, _)| tensor_buffer[t] == b && last_use[t] > k && t != s.index())
                || instr
                    .kind
                    .dst()
                    .map(|d| tensor_buffer[d.index()] == b)
                    .unwrap_or(false);
            if last_use[s.index()] == k && !still_used && !free.contains(&b) {
                free.push(b);
            }
        }
    }
    (tensor_buffer, buffers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Activation, Graph, OpKind, Precision, ValueId};
    use crate::quant::{quantize, Domain, QuantOptions};

    /// 4 -> 3 Dense -> Tanh -> 3 -> 2 Dense, quantized over [-1, 1].
    fn program(precision: Precision) -> Program {
        let mut g = Graph::default();
        g.input = g.add_value("x", 4);
        let h = g.add_value("h", 3);
        let t = g.add_value("t", 3);
        let y = g.add_value("y", 2);
        g.outputs = vec![y];
        let dense = |w: Vec<f32>, b: Vec<f32>| OpKind::Dense { weight: w, bias: b };
        let op = |kind, input: ValueId, output: ValueId| crate::ir::Op {
            node: format!("n{}", output.0),
            onnx_op: "Test".into(),
            kind,
            inputs: vec![input],
            output,
        };
        g.ops.push(op(
            dense(
                (0..12).map(|i| (i as f32 - 6.0) / 7.0).collect(),
                vec![0.1, -0.2, 0.3],
            ),
            g.input,
            h,
        ));
        g.ops.push(op(OpKind::Activation(Activation::Tanh), h, t));
        g.ops.push(op(
            dense(vec![0.5, -0.25, 1.0, 0.75, 0.125, -1.0], vec![0.0, 0.5]),
            t,
            y,
        ));
        let domain = Domain {
            lo: vec![-1.0; 4],
            hi: vec![1.0; 4],
        };
        let opts = QuantOptions {
            precision,
            input_scale: 1000,
            output_scale: 1000,
            observed: None,
            calib_values: None,
            weight_bits_auto: false,
            unroll_limit: 0,
        };
        quantize(&g, &domain, &opts).unwrap()
    }

    fn dense_mut(p: &mut Program, n: usize) -> &mut InstrKind {
        p.instrs
            .iter_mut()
            .filter(|i| matches!(i.kind, InstrKind::Dense { .. }))
            .nth(n)
            .map(|i| &mut i.kind)
            .unwrap()
    }

    #[test]
    fn accepts_quantized_programs_and_reports_costs() {
        for precision in [Precision::Int16, Precision::Int8] {
            let p = program(precision);
            let info = validate(&p).unwrap();
            assert_eq!(info.macs, 12 + 6);
            assert!(!info.scratch);
            // Two buffers suffice: x, then h/t in place, then y in x's.
            assert_eq!(info.buffers.len(), 2, "{info:?}");
            assert_eq!(
                info.stack_bytes,
                info.buffers.iter().sum::<usize>() * ELEM_BYTES
            );
        }
    }

    #[test]
    fn rejects_an_accumulator_that_can_overflow() {
        let mut p = program(Precision::Int8);
        if let InstrKind::Dense { weight, .. } = dense_mut(&mut p, 0) {
            weight[0] = 1 << 26; // times |x| <= 255 overflows s32
        }
        let e = validate(&p).unwrap_err().to_string();
        assert!(e.contains("accumulator") && e.contains("32-bit"), "{e}");
    }

    #[test]
    fn rejects_a_value_leaving_its_type_without_a_clamp() {
        let mut p = program(Precision::Int16);
        if let InstrKind::Dense { rescale, .. } = dense_mut(&mut p, 1) {
            rescale[0].shift -= 4; // 16x too large
        }
        let e = validate(&p).unwrap_err().to_string();
        assert!(e.contains("no clamp") && e.contains("element 0"), "{e}");
    }

    #[test]
    fn rejects_a_product_beyond_64_bits() {
        let mut p = program(Precision::Int16);
        if let InstrKind::Dense { rescale, .. } = dense_mut(&mut p, 1) {
            rescale[1] = crate::ir::Rescale::new(i64::MAX / 2, 62);
        }
        let e = validate(&p).unwrap_err().to_string();
        assert!(e.contains("beyond 64 bits"), "{e}");
    }

    #[test]
    fn stack_budget_moves_buffers_to_scratch() {
        // 4 -> 120 -> 2: 124 live values of 8 bytes > STACK_BUDGET_BYTES.
        let mut g = Graph::default();
        g.input = g.add_value("x", 4);
        let h = g.add_value("h", 120);
        let y = g.add_value("y", 2);
        g.outputs = vec![y];
        let mk = |node: &str, w: Vec<f32>, b: Vec<f32>, i, o| crate::ir::Op {
            node: node.into(),
            onnx_op: "Gemm".into(),
            kind: OpKind::Dense { weight: w, bias: b },
            inputs: vec![i],
            output: o,
        };
        g.ops
            .push(mk("a", vec![0.25; 480], vec![0.0; 120], g.input, h));
        g.ops.push(mk("b", vec![-0.125; 240], vec![0.5; 2], h, y));
        let opts = QuantOptions {
            precision: Precision::Int16,
            input_scale: 1000,
            output_scale: 1000,
            observed: None,
            calib_values: None,
            weight_bits_auto: false,
            unroll_limit: 0,
        };
        let domain = Domain {
            lo: vec![-1.0; 4],
            hi: vec![1.0; 4],
        };
        let info = validate(&quantize(&g, &domain, &opts).unwrap()).unwrap();
        assert!(info.scratch, "{info:?}");
        assert_eq!(info.stack_bytes, 0);
        // y (2) reuses x's buffer (4): x is dead once h is computed.
        assert_eq!(info.buffers, vec![4, 120]);
        assert_eq!(info.scratch_bytes, (4 + 120) * ELEM_BYTES, "{info:?}");
        assert!(info.scratch_bytes > STACK_BUDGET_BYTES);
    }
}
