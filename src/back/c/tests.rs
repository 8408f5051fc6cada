//! Compile-and-run tests of the C back end on hand-built programs: the
//! emitted C (built for userspace against the shim, with the kernel's
//! warnings as errors) must agree bit for bit with a direct evaluation of
//! the semantics documented in `ir::program`.

use rand::{Rng, SeedableRng};

use super::userspace::{kernel_cflags, WARN_CFLAGS};
use super::*;
use crate::ir::*;

fn q(bits: u32, zero_point: i64, scale: f64) -> QParams {
    let half = 1i64 << (bits - 1);
    QParams {
        bits,
        zero_point,
        qmin: -half,
        qmax: half - 1,
        scale,
    }
}

fn tensor(name: &str, len: usize, qp: QParams) -> Tensor {
    Tensor {
        name: name.into(),
        len,
        q: qp,
    }
}

fn instr(node: &str, op: &str, doc: &str, kind: InstrKind) -> Instr {
    Instr {
        node: node.into(),
        onnx_op: op.into(),
        doc: doc.into(),
        kind,
    }
}

fn r(mul: i64, shift: u32) -> Rescale {
    Rescale::new(mul, shift)
}

fn tanh_lut(lo: i64, hi: i64, step_shift: u32) -> Lut {
    let n = (((hi - lo) >> step_shift) + 2) as usize;
    let table = (0..n)
        .map(|k| {
            let x = (lo + ((k as i64) << step_shift)) as f64 / 1024.0;
            (x.tanh() * 4096.0).round() as i64
        })
        .collect();
    Lut {
        func: LutFunc::Tanh,
        lo,
        hi,
        step_shift,
        table,
        max_error: 1.0 / 4096.0,
    }
}

/// Every instruction kind but Softmax; per-channel shifts, zero points,
/// a looped Dense with an s32 accumulator and a fused clamp.
fn mixed_program() -> Program {
    let t = |i: u32| TensorId(i);
    let tensors = vec![
        tensor("input", 4, q(16, 0, 1.0 / 1024.0)),
        tensor("fc1/out", 3, q(16, 0, 1.0 / 1024.0)),
        tensor("tanh1/out", 3, q(16, 0, 1.0 / 4096.0)),
        tensor("fc2/out", 3, q(16, 0, 1.0 / 512.0)),
        tensor("scale/out", 3, q(16, 5, 1.0 / 512.0)),
        tensor("add/out", 3, q(16, -3, 1.0 / 256.0)),
        tensor("mul/out", 3, q(16, 0, 1.0 / 256.0)),
        tensor("sub/out", 3, q(16, 0, 1.0 / 256.0)),
    ];
    let instrs = vec![
        instr(
            "input",
            "Quantize",
            "q = in / 1000 * 1024",
            InstrKind::Quantize {
                dst: t(0),
                in_lo: vec![-2000, -1500, -3000, 0],
                in_hi: vec![2000, 1500, 3000, 1000],
                rescale: vec![r(1_099_511_628, 30)], // 1.024
                pick: None,
            },
        ),
        instr(
            "/actor/fc1",
            "Gemm",
            "y = W x + b",
            InstrKind::Dense {
                src: t(0),
                dst: t(1),
                weight: vec![3, -1, 0, 700, -250, 1, 1, 1, 123, -456, 789, -32768],
                weight_bits: 16,
                bias: vec![100, -5000, 0],
                acc: AccWidth::I64,
                rescale: vec![r(3, 12), r(5, 13), r(1, 15)],
                clamp: None,
            },
        ),
        instr(
            "tanh1",
            "Tanh",
            "y = tanh(x)",
            InstrKind::Lut {
                src: t(1),
                dst: t(2),
                lut: tanh_lut(-2048, 2047, 6),
            },
        ),
        instr(
            "fc2",
            "Gemm",
            "y = relu(W x + b)",
            InstrKind::Dense {
                src: t(2),
                dst: t(3),
                weight: vec![12, -7, 100, -128, 127, 0, 5, 5, -5],
                weight_bits: 8,
                bias: vec![-7, 1234, 99_999],
                acc: AccWidth::I32,
                rescale: vec![r(77, 10), r(1000, 14), r(3, 9)],
                clamp: Some((0, 32767)),
            },
        ),
        instr(
            "leaky",
            "LeakyRelu",
            "y = x >= 0 ? 1.5 x + c : 0.25 x + c",
            InstrKind::Scale {
                src: t(3),
                dst: t(4),
                pos: vec![r(3, 1), r(3, 1), r(13, 3)],
                neg: vec![r(1, 2), r(1, 2), r(1, 3)],
                offset: vec![10, -20, 0],
                clamp: Some((-30000, 30000)),
            },
        ),
        instr(
            "add",
            "Add",
            "y = a + b",
            InstrKind::Binary {
                op: BinaryOp::Add,
                a: t(2),
                b: t(4),
                dst: t(5),
                rescale_a: r(1 << 10, 14),
                mul_b: 1 << 13,
                clamp: Some((-32768, 32767)),
            },
        ),
        instr(
            "mul",
            "Mul",
            "y = a * b",
            InstrKind::Binary {
                op: BinaryOp::Mul,
                a: t(5),
                b: t(2),
                dst: t(6),
                rescale_a: r(1, 12),
                mul_b: 0,
                clamp: Some((-32768, 32767)),
            },
        ),
        instr(
            "sub",
            "Sub",
            "y = a - b",
            InstrKind::Binary {
                op: BinaryOp::Sub,
                a: t(6),
                b: t(5),
                dst: t(7),
                rescale_a: r(3, 2),
                mul_b: 5,
                clamp: None,
            },
        ),
        instr(
            "output",
            "Dequantize",
            "out = y * 1000",
            InstrKind::Dequantize {
                src: t(7),
                rescale: r(1000, 8),
                offset: 0,
            },
        ),
    ];
    Program {
        model_name: "mixed".into(),
        precision: Precision::Int16,
        tensors,
        instrs,
        input_len: 4,
        output_len: 3,
        outputs: ProgramOutput::single("out", 3, 1000),
        input_scale: 1000,
        output_scale: 1000,
        input_domain: vec![(-2.0, 2.0), (-1.5, 1.5), (-3.0, 3.0), (0.0, 1.0)],
        output_guard: None,
    }
}

/// A 30 -> 32 -> 16 -> 1 tanh MLP (Aurora's shape) with direct tables and
/// pseudo-random weights.
fn mlp_program(seed: u64) -> Program {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let t = |i: u32| TensorId(i);
    let dims = [30usize, 32, 16, 1];
    let mut tensors = vec![tensor("obs", 30, q(16, 0, 1.0 / 4096.0))];
    let mut instrs = vec![instr(
        "obs",
        "Quantize",
        "q = in / 1000 * 4096",
        InstrKind::Quantize {
            dst: t(0),
            in_lo: vec![-8000; 30],
            in_hi: vec![8000; 30],
            rescale: vec![r(4096 * 1024, 20)],
            pick: None,
        },
    )];
    let mut cur = 0u32;
    for layer in 0..3 {
        let (n_in, n_out) = (dims[layer], dims[layer + 1]);
        tensors.push(tensor(
            &format!("fc{layer}/out"),
            n_out,
            q(16, 0, 1.0 / 4096.0),
        ));
        let dense = cur + 1;
        instrs.push(instr(
            &format!("/actor/fc{layer}/Gemm"),
            "Gemm",
            "y = W x + b",
            InstrKind::Dense {
                src: t(cur),
                dst: t(dense),
                weight: (0..n_in * n_out)
                    .map(|_| rng.random_range(-32767..=32767))
                    .collect(),
                weight_bits: 16,
                bias: (0..n_out)
                    .map(|_| rng.random_range(-1 << 30..1 << 30))
                    .collect(),
                acc: AccWidth::I64,
                rescale: (0..n_out)
                    .map(|_| r(rng.random_range(1 << 20..1 << 22), 40))
                    .collect(),
                clamp: Some((-32767, 32767)),
            },
        ));
        cur = dense;
        if layer < 2 {
            tensors.push(tensor(
                &format!("tanh{layer}/out"),
                n_out,
                q(16, 0, 1.0 / 4096.0),
            ));
            instrs.push(instr(
                &format!("/actor/tanh{layer}"),
                "Tanh",
                "y = tanh(x)",
                InstrKind::Lut {
                    src: t(cur),
                    dst: t(cur + 1),
                    lut: tanh_lut(-600, 600, 0),
                },
            ));
            cur += 1;
        }
    }
    instrs.push(instr(
        "action",
        "Dequantize",
        "out = y / 4096 * 1000",
        InstrKind::Dequantize {
            src: t(cur),
            rescale: r(1000, 12),
            offset: 0,
        },
    ));
    Program {
        model_name: "mlp".into(),
        precision: Precision::Int16,
        tensors,
        instrs,
        input_len: 30,
        output_len: 1,
        outputs: ProgramOutput::single("out", 1, 1000),
        input_scale: 1000,
        output_scale: 1000,
        input_domain: vec![(-8.0, 8.0); 30],
        output_guard: None,
    }
}

/// A ModuleInfo as the validator would give it, with one buffer per tensor
/// except where `share` maps a tensor onto an earlier tensor's buffer.
fn layout(p: &Program, scratch: bool, share: &[(usize, usize)]) -> ModuleInfo {
    let mut tensor_buffer: Vec<usize> = Vec::new();
    let mut buffers: Vec<usize> = Vec::new();
    for (i, t) in p.tensors.iter().enumerate() {
        if let Some(&(_, onto)) = share.iter().find(|(s, _)| *s == i) {
            let b = tensor_buffer[onto];
            buffers[b] = buffers[b].max(t.len);
            tensor_buffer.push(b);
        } else {
            tensor_buffer.push(buffers.len());
            buffers.push(t.len);
        }
    }
    let bytes: usize = buffers.iter().sum::<usize>() * crate::valid::ELEM_BYTES;
    ModuleInfo {
        macs: p.macs(),
        cmps: p.worst_comparisons(),
        output_bounds: crate::valid::validate(p)
            .map(|i| i.output_bounds)
            .unwrap_or_else(|_| vec![(0, 0); p.output_len]),
        tensor_bounds: p.tensors.iter().map(|t| (t.q.qmin, t.q.qmax)).collect(),
        elem_bounds: p
            .tensors
            .iter()
            .map(|t| vec![(t.q.qmin, t.q.qmax); t.len])
            .collect(),
        acc_bits: p.instrs.iter().map(|_| None).collect(),
        tensor_buffer,
        buffers,
        scratch,
        stack_bytes: if scratch { 0 } else { bytes },
        scratch_bytes: if scratch { bytes } else { 0 },
    }
}

fn meta(uuid: u64, unroll_limit: usize) -> ModuleMeta {
    ModuleMeta {
        uuid,
        app: 7,
        name: "test \"model\" */ x".into(),
        digest: "ab".repeat(32),
        unroll_limit,
        simd: Default::default(),
    }
}

/// The documented semantics of `ir::program`, written out directly
/// (checked arithmetic: an overflow is a bug in the test program).
fn reference(p: &Program, input: &[i64]) -> Vec<i64> {
    let mut vals: Vec<Vec<i64>> = p.tensors.iter().map(|t| vec![0; t.len]).collect();
    let zp = |t: TensorId| p.tensor(t).q.zero_point;
    let clamp = |v: i64, c: Option<(i64, i64)>| match c {
        Some((lo, hi)) => v.clamp(lo, hi),
        None => v,
    };
    let resc = |rs: Rescale, x: i64| {
        x.checked_mul(rs.mul)
            .and_then(|v| v.checked_add(1 << (rs.shift - 1)))
            .expect("overflow in test program")
            >> rs.shift
    };
    let mut out = vec![];
    for ins in &p.instrs {
        match &ins.kind {
            InstrKind::Quantize {
                dst,
                in_lo,
                in_hi,
                rescale,
                pick,
            } => {
                assert!(pick.is_none(), "the reference has no input map");
                for i in 0..p.input_len {
                    vals[dst.index()][i] = resc(
                        rescale[rescale.len().min(i + 1) - 1],
                        input[i].clamp(in_lo[i], in_hi[i]),
                    ) + zp(*dst);
                }
            }
            InstrKind::Dense {
                src,
                dst,
                weight,
                bias,
                rescale,
                clamp: c,
                acc,
                ..
            } => {
                let n = p.tensor(*src).len;
                for j in 0..p.tensor(*dst).len {
                    let mut a = bias[j];
                    for i in 0..n {
                        a = a
                            .checked_add(weight[j * n + i] * vals[src.index()][i])
                            .unwrap();
                        if *acc == AccWidth::I32 {
                            assert!(i32::try_from(a).is_ok(), "s32 accumulator overflow");
                        }
                    }
                    vals[dst.index()][j] = clamp(resc(rescale[j], a) + zp(*dst), *c);
                }
            }
            InstrKind::Scale {
                src,
                dst,
                pos,
                neg,
                offset,
                clamp: c,
            } => {
                for i in 0..p.tensor(*src).len {
                    let x = vals[src.index()][i];
                    let rr = if x >= zp(*src) { pos[i] } else { neg[i] };
                    vals[dst.index()][i] = clamp(resc(rr, x - zp(*src)) + offset[i] + zp(*dst), *c);
                }
            }
            InstrKind::Binary {
                op,
                a,
                b,
                dst,
                rescale_a,
                mul_b,
                clamp: c,
            } => {
                for i in 0..p.tensor(*dst).len {
                    let (x, y) = (vals[a.index()][i] - zp(*a), vals[b.index()][i] - zp(*b));
                    let v = match op {
                        BinaryOp::Add => {
                            (x * rescale_a.mul + y * mul_b + (1 << (rescale_a.shift - 1)))
                                >> rescale_a.shift
                        }
                        BinaryOp::Sub => {
                            (x * rescale_a.mul - y * mul_b + (1 << (rescale_a.shift - 1)))
                                >> rescale_a.shift
                        }
                        BinaryOp::Mul => resc(*rescale_a, x * y),
                    };
                    vals[dst.index()][i] = clamp(v + zp(*dst), *c);
                }
            }
            InstrKind::Lut { src, dst, lut } => {
                for i in 0..p.tensor(*src).len {
                    vals[dst.index()][i] = lut.apply(vals[src.index()][i]);
                }
            }
            InstrKind::Softmax { .. } | InstrKind::LayerNorm { .. } => unimplemented!(),
            InstrKind::Concat {
                dst,
                pieces,
                consts,
                clamp: c,
            } => {
                for piece in pieces {
                    let b = piece.block;
                    for i in 0..b.len {
                        let v = match piece.src {
                            crate::ir::concat::PieceSrc::Const => consts[b.from + i],
                            crate::ir::concat::PieceSrc::Tensor { id, rescale } => {
                                let x = vals[id.index()][b.from + i];
                                if piece.is_copy(zp(id), zp(*dst)) {
                                    x
                                } else {
                                    clamp(resc(rescale, x - zp(id)) + zp(*dst), *c)
                                }
                            }
                        };
                        vals[dst.index()][b.at + i] = v;
                    }
                }
            }
            InstrKind::Dequantize {
                src,
                rescale,
                offset,
            } => {
                assert_eq!(*offset, 0);
                out = vals[src.index()]
                    .iter()
                    .map(|&v| resc(*rescale, v - zp(*src)))
                    .collect();
            }
            InstrKind::Trees { .. }
            | InstrKind::ArgMax { .. }
            | InstrKind::GroupMax { .. }
            | InstrKind::Lookup { .. } => {
                unimplemented!()
            }
        }
    }
    out
}

fn random_rows(p: &Program, n: usize, seed: u64) -> Vec<Vec<i64>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            p.input_domain
                .iter()
                .map(|&(lo, hi)| {
                    // Half the values beyond the domain: the clamp must hold.
                    let span = (hi - lo) * p.input_scale as f64;
                    let lo = lo * p.input_scale as f64 - span;
                    let hi = hi * p.input_scale as f64 + span;
                    rng.random_range(lo as i64..=hi as i64)
                })
                .collect()
        })
        .collect()
}

/// The C source without its comments, string literals emptied.
fn strip_comments(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut k = 0;
    while k < b.len() {
        if b[k..].starts_with(b"/*") {
            k += 2 + src[k + 2..].find("*/").expect("unterminated comment") + 2;
        } else if b[k..].starts_with(b"//") {
            k += src[k..].find('\n').unwrap_or(src.len() - k);
        } else if b[k] == b'"' {
            out.extend_from_slice(b"\"\"");
            k += 1;
            while b[k] != b'"' {
                k += if b[k] == b'\\' { 2 } else { 1 };
            }
            k += 1;
        } else {
            out.push(b[k]);
            k += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn cflags() -> Vec<&'static str> {
    let mut f = kernel_cflags();
    f.extend_from_slice(WARN_CFLAGS);
    f
}

/// Bytes of the module's `static const` tables in the object gcc builds
/// from it (at -O0, which keeps every one; `nm -S` sizes), leaving out the
/// snapshot descriptor and the facts it points to (proven output bounds,
/// guardrail: read by lf_kernel, not by infer).
fn object_tables_bytes(module: &CModule) -> usize {
    let facts: Vec<String> = ["out_lo", "out_hi", "guard_lo", "guard_hi"]
        .iter()
        .map(|f| format!("{}_{f}", module.stem))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let src = super::userspace::write_tree(module, dir.path()).unwrap();
    let obj = dir.path().join("m.o");
    super::userspace::compile_object(&src, &obj, &["-O0"]).unwrap();
    let out = std::process::Command::new("nm")
        .args(["-S", "--defined-only"])
        .arg(&obj)
        .output()
        .expect("nm");
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f.as_slice() {
                [_, size, "r" | "R", name]
                    if name.starts_with("lf_")
                        && !name.ends_with("_snapshot")
                        && !facts.iter().any(|f| f == name) =>
                {
                    Some(usize::from_str_radix(size, 16).unwrap())
                }
                _ => None,
            }
        })
        .sum()
}

/// Emits, checks for floating point, builds with warnings as errors, and
/// compares 1,000 random rows with the reference.
fn check_exec(p: &Program, info: &ModuleInfo, m: &ModuleMeta) -> CModule {
    let module = emit(p, info, m).expect("emit");
    let code = strip_comments(&module.source);
    let code: String = code
        .lines()
        .filter(|l| !l.starts_with("#include"))
        .collect::<Vec<_>>()
        .join("\n");
    for word in ["float", "double"] {
        assert!(!code.contains(word), "`{word}` in emitted code:\n{code}");
    }
    assert!(
        !code.contains('/') && !code.contains('%'),
        "division in emitted code:\n{code}"
    );
    assert_eq!(
        module.rodata_bytes,
        object_tables_bytes(&module),
        "rodata_bytes against the object file"
    );
    let runner =
        Runner::build(&module, &cflags()).unwrap_or_else(|e| panic!("{e}\n{}", module.source));
    assert_eq!(runner.info.uuid, m.uuid);
    assert_eq!(runner.info.app_id, m.app);
    assert_eq!(runner.info.input_len, p.input_len);
    assert_eq!(runner.info.output_len, p.output_len);
    assert_eq!(runner.info.input_scale, p.input_scale);
    assert_eq!(runner.info.name, m.name);
    assert_eq!(runner.info.digest, m.digest);
    assert!(runner.info.owner_null);
    let rows = random_rows(p, 1000, m.uuid);
    let (got, flags) = runner.run_flags(&rows).expect("run");
    let softmax = p
        .instrs
        .iter()
        .any(|i| matches!(i.kind, InstrKind::Softmax { .. }));
    for ((row, g), f) in rows.iter().zip(&got).zip(&flags) {
        let (want, want_flags) = crate::back::interp::run_flags(p, row);
        assert_eq!(g, &want, "C vs interp, input {row:?}");
        assert_eq!(*f, want_flags, "C vs interp flags, input {row:?}");
        if !softmax {
            assert_eq!(g, &reference(p, row), "C vs reference, input {row:?}");
        }
    }
    module
}

#[test]
fn mixed_program_matches_reference_on_stack() {
    let p = mixed_program();
    // The Lut and the Scale work in place.
    let info = layout(&p, false, &[(2, 1), (4, 3)]);
    let module = check_exec(&p, &info, &meta(0x1234, 1000));
    if std::env::var_os("LFC_DUMP_C").is_some() {
        std::fs::write("/tmp/lfc_mixed.c", &module.source).unwrap();
    }
    assert!(
        module.source.contains("acc += lf_b0[3] * 700;"),
        "{}",
        module.source
    );
    assert!(module.source.contains("acc -= lf_b0[1];"));
    assert!(module.source.contains("acc32 -= (s32)lf_b1[1] * 7;"));
    // The Tanh is applied by the Dense layer before it, in the same pass.
    assert!(
        module
            .source
            .contains("lf_b1[0] = lf_tanh1(lf_rescale(acc,"),
        "{}",
        module.source
    );
    // Per-channel shifts of an unrolled Dense: constant indices into a table.
    assert!(module
        .source
        .contains("lf_rescale(acc32, lf_fc2_rescale[2].mul, lf_fc2_rescale[2].shift)"));
    assert!(module.source.contains("#define LF_ADD_B_ZP\t5"));
    assert!(module.source.contains("#define LF_LEAKY_ZP\t5"));
    let frame = stack_usage(&module).expect("stack usage");
    assert!(frame >= info.stack_bytes && frame <= 1024, "frame {frame}");
}

#[test]
fn mixed_program_matches_reference_in_scratch() {
    let p = mixed_program();
    let info = layout(&p, true, &[]);
    let module = check_exec(&p, &info, &meta(0xfeed_0000_0000_0001, 0));
    assert!(module
        .source
        .contains("static DEFINE_PER_CPU(struct lf_model_18369338455114121217_scratch"));
    assert!(module.source.contains("local_bh_disable();"));
    assert!(!module.source.contains("s64 lf_b0["));
    if std::env::var_os("LFC_DUMP_C").is_some() {
        std::fs::write("/tmp/lfc_mixed_scratch.c", &module.source).unwrap();
    }
    // Per-channel shifts of a looped Dense: rescaled at the largest one
    // (lower::common_shift), the multipliers a table.
    assert!(
        module
            .source
            .contains("lf_rescale(acc, lf_fc2_mul[j], LF_FC2_SHIFT)"),
        "{}",
        module.source
    );
    assert!(module.source.contains("s32 acc = lf_fc2_bias[j];"));
    let frame = stack_usage(&module).expect("stack usage");
    assert!(frame < 128, "scratch frame {frame}");
}

#[test]
fn aurora_shaped_mlp_unrolled_and_looped_agree() {
    let p = mlp_program(1);
    // tanh0 writes the buffer fc0 reads: it cannot be fused into fc0.
    let info = layout(&p, false, &[(2, 0)]);
    let unrolled = check_exec(&p, &info, &meta(1, usize::MAX));
    assert!(unrolled
        .source
        .contains("lf_b0[i] = lf_actor_tanh0(lf_b1[i]);"));
    assert!(unrolled
        .source
        .contains("lf_b3[0] = lf_actor_tanh1(lf_clamp(lf_rescale(acc,"));
    let looped = check_exec(&p, &info, &meta(2, 0));
    assert!(looped
        .source
        .contains("lf_b3[j] = lf_actor_tanh1(lf_clamp(lf_rescale(acc,"));
    assert!(!unrolled.source.contains("_weight["));
    assert!(looped.source.contains(
        "static const s16 lf_actor_fc0_gemm_weight[LF_ACTOR_FC0_GEMM_OUT][LF_ACTOR_FC0_GEMM_IN]"
    ));
    let f1 = stack_usage(&unrolled).unwrap();
    let f2 = stack_usage(&looped).unwrap();
    eprintln!(
        "aurora-shaped frames: unrolled {f1} B, looped {f2} B (activations {} B)",
        info.stack_bytes
    );
    assert!(f1 <= 1024 && f2 <= 1024);
}

#[test]
fn header_kbuild_and_makefile() {
    let p = mixed_program();
    let info = layout(&p, false, &[]);
    let m = emit(&p, &info, &meta(0xabc, 100)).unwrap();
    assert_eq!(m.stem, "lf_model_2748");
    assert!(m
        .source
        .starts_with("// SPDX-License-Identifier: GPL-2.0\n"));
    // The model name's `*/` cannot end a comment early, its quotes are escaped.
    assert!(m.source.contains(".name\t\t= \"test \\\"model\\\" */ x\","));
    assert!(!m.source.contains("\"model\" */"));
    assert!(m.source.contains(
        "MODULE_INFO(lfc_version, \"0.1.0\");"
            .replace("0.1.0", crate::VERSION)
            .as_str()
    ));
    assert!(m.kbuild.contains("obj-m += lf_model_2748.o"));
    assert!(m.kbuild.contains("LF_RUNTIME ?="));
    assert!(m
        .makefile
        .contains("KDIR ?= /lib/modules/$(shell uname -r)/build"));
    assert!(m.makefile.contains("\t$(MAKE) -C $(KDIR) M=$(CURDIR)"));
    assert!(m
        .makefile
        .contains("KBUILD_EXTRA_SYMBOLS=$(LF_RUNTIME)/Module.symvers"));
}

/// Dense 6 -> 8, then Softmax over two groups of 4 (in place), with an
/// interpolated and a direct exp table.
fn softmax_program(step_shift: u32) -> Program {
    let t = |i: u32| TensorId(i);
    let (lo, hi) = (-4096i64, 0i64);
    let n = (((hi - lo) >> step_shift) + 2) as usize;
    let table = (0..n)
        .map(|k| {
            let x = ((lo + ((k as i64) << step_shift)).min(0)) as f64 / 512.0;
            (x.exp() * 32768.0).round() as i64
        })
        .collect();
    let exp_lut = Lut {
        func: LutFunc::Exp,
        lo,
        hi,
        step_shift,
        table,
        max_error: 1e-4,
    };
    Program {
        model_name: "softmax".into(),
        precision: Precision::Int16,
        tensors: vec![
            tensor("x", 6, q(16, 0, 1.0 / 1024.0)),
            tensor("logits", 8, q(16, 0, 1.0 / 512.0)),
            tensor("probs", 8, q(16, -32768, 1.0 / 65536.0)),
        ],
        instrs: vec![
            instr(
                "x",
                "Quantize",
                "q = in * 1024 / 1000",
                InstrKind::Quantize {
                    dst: t(0),
                    in_lo: vec![-4000; 6],
                    in_hi: vec![4000; 6],
                    rescale: vec![r(1_099_511_628, 30)],
                    pick: None,
                },
            ),
            instr(
                "fc",
                "Gemm",
                "y = W x + b",
                InstrKind::Dense {
                    src: t(0),
                    dst: t(1),
                    weight: (0..48).map(|k| (k * 37 % 29) - 14).collect(),
                    weight_bits: 8,
                    bias: (0..8).map(|k| k * 1000 - 4000).collect(),
                    acc: AccWidth::I64,
                    rescale: vec![r(1, 1); 8],
                    clamp: Some((-32768, 32767)),
                },
            ),
            instr(
                "softmax",
                "Softmax",
                "y = exp(x - max) / sum exp(x - max)",
                InstrKind::Softmax {
                    src: t(1),
                    dst: t(2),
                    axis_len: 4,
                    exp_lut,
                    out_frac: 16,
                },
            ),
            instr(
                "probs",
                "Dequantize",
                "out = p * 1000",
                InstrKind::Dequantize {
                    src: t(2),
                    rescale: r(1000, 16),
                    offset: 0,
                },
            ),
        ],
        input_len: 6,
        output_len: 8,
        outputs: ProgramOutput::single("out", 8, 1000),
        input_scale: 1000,
        output_scale: 1000,
        input_domain: vec![(-4.0, 4.0); 6],
        output_guard: None,
    }
}

#[test]
fn softmax_matches_interpreter() {
    for (step, uuid) in [(4, 0x50f7), (0, 0x50f8)] {
        let p = softmax_program(step);
        let info = layout(&p, false, &[(2, 1)]);
        let module = check_exec(&p, &info, &meta(uuid, 1000));
        assert!(module.source.contains("r = lf_softmax_recip(s);"));
        let info = layout(&p, true, &[]);
        check_exec(&p, &info, &meta(uuid + 0x100, 0));
    }
}

#[test]
fn refuses_in_place_dense_and_bad_softmax() {
    let p = mixed_program();
    let info = layout(&p, false, &[(1, 0)]);
    let e = emit(&p, &info, &meta(1, 100)).unwrap_err().to_string();
    assert!(
        e.contains("/actor/fc1") && e.contains("share a buffer"),
        "{e}"
    );

    let mut p = mixed_program();
    p.instrs[2].kind = InstrKind::Softmax {
        src: TensorId(1),
        dst: TensorId(2),
        axis_len: 2, // 3 elements are not groups of 2
        exp_lut: tanh_lut(-100, 0, 0),
        out_frac: 15,
    };
    let info = layout(&p, false, &[]);
    let e = emit(&p, &info, &meta(1, 100)).unwrap_err().to_string();
    assert!(e.contains("in groups of 2"), "{e}");
}

#[test]
fn compiler_errors_are_build_errors() {
    let p = mixed_program();
    let info = layout(&p, false, &[]);
    let mut m = emit(&p, &info, &meta(1, 100)).unwrap();
    m.source
        .push_str("\nstatic int broken(void) { return undeclared_thing; }\n");
    match Runner::build(&m, &cflags()) {
        Err(crate::Error::Build { output, .. }) => {
            assert!(output.contains("undeclared_thing"), "{output}")
        }
        Err(e) => panic!("wrong error {e}"),
        Ok(_) => panic!("broken C compiled"),
    }
}

#[test]
fn escapes() {
    use super::writer::{c_int, c_string, comment, ctype_for};
    assert_eq!(c_string("a\"b\\c\n?é"), "\"a\\\"b\\\\c\\012\\?\\303\\251\"");
    assert_eq!(comment("x */ y /* z\nw"), "x * / y / * z w");
    assert_eq!(c_int(i64::MIN), "(-9223372036854775807LL - 1)");
    assert_eq!(ctype_for(-128, 127), "s8");
    assert_eq!(ctype_for(-129, 127), "s16");
    assert_eq!(ctype_for(0, 1 << 31), "s64");
}
