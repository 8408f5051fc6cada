//! ONNX backend node tests (`tests/conformance/node/`, regenerated from the
//! `onnx` package by `scripts/gen-node-tests.py`), as tract runs them.
//!
//! Each test is compiled with its input range taken from its input (the
//! min and max over all elements), run through the interpreter AND the
//! emitted C (which must agree bit for bit), and compared with the expected
//! outputs under [`NodeTolerance`]. `tests/conformance/node-tests.txt` lists
//! the tests expected to pass, per precision; every listed test must pass
//! (interpreter and C), and the others are run on the interpreter and
//! counted so a newly passing one is reported (add it to the list).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use prost::Message;
use tract_onnx::pb::{tensor_proto::DataType, ModelProto, TensorProto};

use lfc::back::c::userspace::Runner;
use lfc::back::interp;
use lfc::ir::Precision;
use lfc::pipeline::{self, CompileOptions, InputRange};

use crate::exec::manifest;

/// The one tolerance policy of the node tests: an output element passes
/// when `|got - expected| <= frac_of_span * span + quanta / output_scale`,
/// with `span = max(max(expected) - min(expected), max |expected|)` (the
/// output range, or the magnitude for a constant output) and
/// `output_scale` the decimal scale of the s64 interface (chosen per test
/// so the interface itself costs no more than 1e-9 of the span).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NodeTolerance {
    pub frac_of_span: f64,
    pub quanta: f64,
}

impl NodeTolerance {
    /// int16: quantization step 2^-15 of the range; tables, interval
    /// widening and requantization chains cost a few steps: 0.2 % of the
    /// span (measured worst among the listed tests: see the README table).
    /// int8: a step is 1/255 of the range; 2 % of the span (about five
    /// steps) admits the rounding of a requantization chain.
    pub fn of(precision: Precision) -> NodeTolerance {
        match precision {
            Precision::Int16 => NodeTolerance {
                frac_of_span: 2e-3,
                quanta: 1.0,
            },
            Precision::Int8 => NodeTolerance {
                frac_of_span: 2e-2,
                quanta: 1.0,
            },
        }
    }

    pub fn allowed(&self, span: f64, output_scale: i64) -> f64 {
        self.frac_of_span * span + self.quanta / output_scale as f64
    }
}

/// One checked-in node test.
pub struct NodeTest {
    pub name: String,
    pub dir: PathBuf,
    /// The op type the test exercises (its first non-Constant node).
    pub op: String,
}

pub fn node_dir() -> PathBuf {
    manifest("tests/conformance/node")
}

pub fn all_tests() -> Vec<NodeTest> {
    let mut v: Vec<NodeTest> = std::fs::read_dir(node_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("model.onnx").exists())
        .map(|dir| {
            let bytes = std::fs::read(dir.join("model.onnx")).unwrap();
            let m = ModelProto::decode(&bytes[..]).unwrap();
            let g = m.graph.unwrap();
            let mut op = g
                .node
                .iter()
                .map(|n| n.op_type.clone())
                .find(|t| t != "Constant")
                .unwrap_or_default();
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            if name.contains("_expanded") {
                op = String::new(); // the base test's, below
            }
            NodeTest { name, dir, op }
        })
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    // An `_expanded` test is the function body of its base test's op.
    let base_op: BTreeMap<String, String> = v
        .iter()
        .filter(|t| !t.op.is_empty())
        .map(|t| (t.name.clone(), t.op.clone()))
        .collect();
    for t in v.iter_mut().filter(|t| t.op.is_empty()) {
        let base = &t.name[..t.name.find("_expanded").unwrap()];
        let op = base_op.get(base).map(String::as_str).unwrap_or("?");
        t.op = format!("{op} (expanded)");
    }
    v
}

/// `node-tests.txt`: `test_name precision...` per line, `#` comments.
pub fn pass_list() -> BTreeMap<String, Vec<Precision>> {
    let text = std::fs::read_to_string(manifest("tests/conformance/node-tests.txt")).unwrap();
    let mut m = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap().trim();
        if line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        let name = words.next().unwrap().to_string();
        let precs: Vec<Precision> = words
            .map(|w| match w {
                "int16" => Precision::Int16,
                "int8" => Precision::Int8,
                _ => panic!("node-tests.txt line {}: unknown precision `{w}`", i + 1),
            })
            .collect();
        assert!(
            !precs.is_empty(),
            "node-tests.txt line {}: `{name}` names no precision",
            i + 1
        );
        assert!(
            node_dir().join(&name).is_dir(),
            "node-tests.txt line {}: no test directory `{name}`",
            i + 1
        );
        m.insert(name, precs);
    }
    m
}

/// Flat values of a TensorProto file (FLOAT or DOUBLE, any shape).
pub fn read_flat(path: &Path) -> Vec<f64> {
    let t = TensorProto::decode(&std::fs::read(path).unwrap()[..]).unwrap();
    let dt = DataType::try_from(t.data_type).unwrap();
    match dt {
        DataType::Float if !t.raw_data.is_empty() => t
            .raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64)
            .collect(),
        DataType::Float => t.float_data.iter().map(|&v| v as f64).collect(),
        DataType::Double if !t.raw_data.is_empty() => t
            .raw_data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
            .collect(),
        DataType::Double => t.double_data.clone(),
        other => panic!("{}: unexpected data type {other:?}", path.display()),
    }
}

/// The power of ten that puts `max_abs` near 1e9 at the s64 interface
/// (between 1 and 1e9).
fn decimal_scale(max_abs: f64) -> i64 {
    if max_abs.is_nan() || max_abs <= 0.0 {
        return 1_000_000;
    }
    let k = (9.0 - max_abs.log10().ceil()).clamp(0.0, 9.0) as u32;
    10i64.pow(k)
}

/// What one test at one precision gave.
#[derive(Clone, Debug)]
pub enum Outcome {
    Pass {
        max_err: f64,
        allowed: f64,
    },
    /// Out of tolerance, but within the tolerance plus the error bound of
    /// the warnings the compile gave (never silent; not a pass).
    Warned {
        max_err: f64,
        allowed: f64,
        warnings: Vec<String>,
    },
    /// Out of tolerance (the worst element), or C != interpreter, or lfc
    /// refused the model.
    Fail(String),
}

pub fn run_test(t: &NodeTest, precision: Precision) -> Outcome {
    run_test_with(t, precision, true, |o| o)
}

/// [`run_test`] with the compile options adjusted by `adjust`; the emitted
/// C is built and compared with the interpreter only `with_c`.
pub fn run_test_with(
    t: &NodeTest,
    precision: Precision,
    with_c: bool,
    adjust: impl FnOnce(CompileOptions) -> CompileOptions,
) -> Outcome {
    let x = read_flat(&t.dir.join("input_0.pb"));
    let mut want = Vec::new();
    for k in 0.. {
        let p = t.dir.join(format!("output_{k}.pb"));
        if !p.exists() {
            break;
        }
        want.extend(read_flat(&p));
    }
    let lo = x.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let in_abs = lo.abs().max(hi.abs());
    let (wlo, whi) = want
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let out_abs = wlo.abs().max(whi.abs());
    let span = (whi - wlo).max(out_abs);
    let opts = adjust(CompileOptions {
        input_range: Some(InputRange::All(lo, hi)),
        precision,
        input_scale: decimal_scale(in_abs),
        output_scale: decimal_scale(out_abs),
        ..Default::default()
    });
    let c = match pipeline::compile(&t.dir.join("model.onnx"), &opts) {
        Ok(c) => c,
        Err(e) => return Outcome::Fail(format!("refused: {e}")),
    };
    let row = match pipeline::to_fixed(
        &t.dir,
        &lfc::data::Matrix::new(1, x.len(), x),
        opts.input_scale,
    ) {
        Ok(mut r) => r.remove(0),
        Err(e) => return Outcome::Fail(format!("input: {e}")),
    };
    let got = interp::run(&c.program, &row);
    let from_c = if !with_c {
        Ok(vec![got.clone()])
    } else {
        c.emit_c()
            .and_then(|m| Runner::build(&m, &["-Wall", "-Werror"]))
            .and_then(|r| r.run(std::slice::from_ref(&row)))
    };
    match from_c {
        Ok(rows) if rows[0] == got => {}
        Ok(rows) => return Outcome::Fail(format!("C {:?} != interpreter {got:?}", rows[0])),
        Err(e) => return Outcome::Fail(format!("emitted C: {e}")),
    }
    if got.len() != want.len() {
        return Outcome::Fail(format!("{} outputs, expected {}", got.len(), want.len()));
    }
    let tol = NodeTolerance::of(precision);
    let allowed = tol.allowed(span, opts.output_scale);
    // Each output at its own scale (an integer output, such as a
    // QuantizeLinear's, is answered at scale 1).
    let scale_of: Vec<f64> = c
        .program
        .outputs
        .iter()
        .flat_map(|o| std::iter::repeat_n(o.scale as f64, o.len))
        .collect();
    let (mut max_err, mut worst) = (0f64, 0usize);
    for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
        let e = (g as f64 / scale_of[i] - w).abs();
        if e > max_err {
            (max_err, worst) = (e, i);
        }
    }
    let warned: f64 = c.warnings.iter().map(|w| w.max_error).sum();
    if max_err <= allowed {
        Outcome::Pass { max_err, allowed }
    } else if !c.warnings.is_empty() && max_err <= allowed + warned {
        Outcome::Warned {
            max_err,
            allowed,
            warnings: c.warnings.iter().map(|w| w.to_string()).collect(),
        }
    } else {
        Outcome::Fail(format!(
            "element {worst}: {} vs expected {} (error {max_err:.3e} = {:.3} % of the span {span:.3e}; allowed {allowed:.3e})",
            got[worst] as f64 / scale_of[worst],
            want[worst],
            100.0 * max_err / span
        ))
    }
}

/// Every test at both precisions, on two threads. The emitted C is built
/// (and must equal the interpreter) for the listed tests; the others run on
/// the interpreter only, to be counted and to show candidates for the list.
fn run_all(tests: &[NodeTest], list: &BTreeMap<String, Vec<Precision>>) -> Vec<(Outcome, Outcome)> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(vec![None; tests.len()]);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(t) = tests.get(i) else { break };
                let listed = |p| list.get(&t.name).is_some_and(|l| l.contains(&p));
                let run = |p| run_test_with(t, p, listed(p), |o| o);
                let r = (run(Precision::Int16), run(Precision::Int8));
                results.lock().unwrap()[i] = Some(r);
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(Option::unwrap)
        .collect()
}

#[test]
fn conformance_node_tests() {
    // LFC_NODE_FILTER=substring runs only the tests whose name contains it.
    let filter = std::env::var("LFC_NODE_FILTER").unwrap_or_default();
    let tests: Vec<NodeTest> = all_tests()
        .into_iter()
        .filter(|t| t.name.contains(&filter))
        .collect();
    let list = pass_list();
    let results = run_all(&tests, &list);
    let mut per_op: BTreeMap<String, [usize; 3]> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut newly = Vec::new();
    for (t, (r16, r8)) in tests.iter().zip(&results) {
        let listed = list.get(&t.name).cloned().unwrap_or_default();
        let e = per_op.entry(t.op.clone()).or_default();
        e[2] += 1;
        for (prec, r, slot) in [(Precision::Int16, r16, 0), (Precision::Int8, r8, 1)] {
            let pass = matches!(r, Outcome::Pass { .. });
            e[slot] += pass as usize;
            match (listed.contains(&prec), r) {
                (true, Outcome::Fail(why)) => {
                    failures.push(format!("{} ({}): {why}", t.name, prec.name()))
                }
                (
                    true,
                    Outcome::Warned {
                        max_err, allowed, ..
                    },
                ) => failures.push(format!(
                    "{} ({}): error {max_err:.3e} outside the tolerance {allowed:.3e} (warned)",
                    t.name,
                    prec.name()
                )),
                (false, Outcome::Pass { max_err, allowed }) => newly.push(format!(
                    "{} {} (error {max_err:.3e}, allowed {allowed:.3e})",
                    t.name,
                    prec.name()
                )),
                _ => {}
            }
            if std::env::var_os("LFC_NODE_VERBOSE").is_some() {
                eprintln!("{} {}: {r:?}", t.name, prec.name());
            }
        }
    }
    eprintln!("op                         int16   int8  total");
    let mut tot = [0usize; 3];
    for (op, [a, b, n]) in &per_op {
        eprintln!("{op:<26} {a:>5} {b:>6} {n:>6}");
        tot = [tot[0] + a, tot[1] + b, tot[2] + n];
    }
    eprintln!("{:<26} {:>5} {:>6} {:>6}", "all", tot[0], tot[1], tot[2]);
    for n in &newly {
        eprintln!("passes but is not in node-tests.txt (add it): {n}");
    }
    assert!(
        failures.is_empty(),
        "listed node tests fail:\n{}",
        failures.join("\n")
    );
}

pub fn node_test(name: &str) -> NodeTest {
    all_tests()
        .into_iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no node test `{name}`"))
}

/// Issue 7: int8 Clip without bounds (or bounds far outside the domain)
/// returned a constant; int8 refused symmetric domains such as -1:1.
#[test]
fn conformance_int8_clip_unbounded_and_symmetric_domains() {
    for name in [
        "test_clip_default_inbounds",
        "test_clip_default_inbounds_expanded",
        "test_clip_inbounds",
        "test_clip_outbounds",
        "test_clip_default_max",
        "test_clip_default_min",
        "test_sigmoid_example",
        "test_tanh_example",
    ] {
        let r = run_test(&node_test(name), Precision::Int8);
        assert!(matches!(r, Outcome::Pass { .. }), "{name}: {r:?}");
    }
    // Clip(max=10) over -1:3, the case: the output follows x.
    let t = node_test("test_clip_default_inbounds");
    for (lo, hi) in [(-1.0, 3.0), (-3.0, 3.0), (-6.0, 6.0), (-10.0, 10.0)] {
        let r = run_test_with(&t, Precision::Int8, true, |o| CompileOptions {
            input_range: Some(InputRange::All(lo, hi)),
            ..o
        });
        assert!(matches!(r, Outcome::Pass { .. }), "domain {lo}:{hi}: {r:?}");
    }
}

/// Issue 7: Clip with min > max was refused; ONNX defines the output as max.
#[test]
fn conformance_clip_min_greater_than_max_is_max() {
    let t = node_test("test_clip_min_greater_than_max");
    for p in [Precision::Int16, Precision::Int8] {
        let r = run_test(&t, p);
        assert!(matches!(r, Outcome::Pass { .. }), "{}: {r:?}", p.name());
    }
}

/// Issue 7: `test_softmax_large_number` (inputs 0..3 and 10000..10003 in one
/// tensor) is off by 3 % at int16 and 61 % at int8, because its input
/// shares one scale over [0, 10003]. Not fixed (one scale per tensor); the
/// compile now warns, with a bound that covers the measured error.
#[test]
fn conformance_softmax_large_number_warns() {
    let t = node_test("test_softmax_large_number");
    for p in [Precision::Int16, Precision::Int8] {
        match run_test(&t, p) {
            Outcome::Warned { warnings, .. } => {
                assert!(warnings[0].contains("Softmax"), "{warnings:?}")
            }
            r => panic!("{}: expected a warned answer, got {r:?}", p.name()),
        }
    }
}

/// The six 2-D AveragePool tests (and `test_erf`) take more inputs than a
/// kernel module can: they emitted C that failed `BUILD_BUG_ON` ("size of
/// unnamed array is negative"). The C back end now refuses them with the
/// limit named; the interpreter still answers them within the tolerance.
/// Activations over the per-CPU reserve are refused the same way (x and
/// tanh(x) of 1,000 values both live for the Add: 16,000 bytes); the Slice
/// tests that once were (1,000 inputs, 150 read) now pass: the Quantize
/// reads the sliced inputs in place.
#[test]
fn conformance_kernel_limits_refused_clearly() {
    let t = node_test("test_averagepool_2d_default");
    match run_test(&t, Precision::Int16) {
        Outcome::Fail(why) => assert!(
            why.contains("no kernel module can be emitted") && why.contains("LF_MAX_IO_LEN"),
            "{why}"
        ),
        r => panic!("expected a refusal naming LF_MAX_IO_LEN, got {r:?}"),
    }
    let r = run_test_with(&t, Precision::Int16, false, |o| o);
    assert!(matches!(r, Outcome::Pass { .. }), "interpreter: {r:?}");

    use crate::models::{Builder, D};
    let mut b = Builder::new("wide_residual", 3, 13);
    b.input("x", &[D::N(1), D::N(1000)])
        .node("Tanh", "tanh", &["x"], &["t"], vec![])
        .node("Add", "add", &["x", "t"], &["y"], vec![])
        .output("y", &[D::N(1), D::N(1000)]);
    let dir = tempfile::tempdir().unwrap();
    let m = crate::models::write_model(dir.path(), "wide", &b.build());
    let opts = CompileOptions {
        input_range: Some(InputRange::All(-1.0, 1.0)),
        ..Default::default()
    };
    let c = pipeline::compile(&m, &opts).unwrap();
    let e = c
        .emit_c()
        .err()
        .expect("the C back end must refuse it")
        .to_string();
    assert!(
        e.contains("no kernel module can be emitted") && e.contains("PERCPU_MODULE_RESERVE"),
        "{e}"
    );
    let t = node_test("test_slice");
    assert!(matches!(
        run_test(&t, Precision::Int16),
        Outcome::Pass { .. }
    ));
}

/// Issue 7: the Log table near 0 was off by 0.026 of 4.8 without a
/// warning. Its entries next to the lowest input interpolate towards an
/// entry clamped to the output range; the answer is still off (test_log is
/// not listed), but now with a warning whose bound covers the error, at
/// both precisions: int16 by the table's measured error; int8 (half an
/// input step near 0.08: 2 % of the span, over the int8 tolerance) by the
/// compile's measured fidelity on rows of the domain.
#[test]
fn conformance_log_table_near_zero_warns() {
    let t = node_test("test_log");
    match run_test(&t, Precision::Int16) {
        Outcome::Warned { warnings, .. } => assert!(warnings[0].contains("log table")),
        r => panic!("int16: expected a warned answer, got {r:?}"),
    }
    match run_test(&t, Precision::Int8) {
        Outcome::Warned { warnings, .. } => assert!(
            warnings
                .iter()
                .any(|w| w.contains("measured on") && w.contains("output `y` is off")),
            "{warnings:?}"
        ),
        r => panic!("int8: expected a warned answer, got {r:?}"),
    }
    let opts = CompileOptions {
        input_range: Some(InputRange::All(0.001, 3.5)),
        ..Default::default()
    };
    let c = pipeline::compile(&t.dir.join("model.onnx"), &opts).unwrap();
    let table = c
        .warnings
        .iter()
        .find(|w| w.message.contains("log table can be off by"))
        .unwrap_or_else(|| panic!("{:?}", c.warnings));
    assert!(table.max_error > 0.05, "{:?}", c.warnings);
}

/// Concat of runtime tensors (issue 7): blocks of one quantization are
/// plain copies (exact, no arithmetic in any back end); blocks of other
/// scales are requantized once into the destination's. Both forms run in
/// the emitted C, the Rust and the interpreter bit for bit
/// (`exec_rust_matches_c_and_interpreter_bit_for_bit`, fixture
/// `concat_blocks`).
#[test]
fn conformance_concat_copies_are_exact() {
    use lfc::ir::concat::PieceSrc;
    let dir = tempfile::tempdir().unwrap();
    let path =
        crate::models::write_model(dir.path(), "concat_blocks", &crate::models::concat_blocks());
    for precision in [Precision::Int16, Precision::Int8] {
        let opts = CompileOptions {
            input_range: Some(InputRange::All(-2.0, 2.0)),
            precision,
            ..Default::default()
        };
        let c = pipeline::compile(&path, &opts).unwrap();
        let concat = |node: &str| {
            c.program
                .instrs
                .iter()
                .find(|i| i.node == node)
                .map(|i| match &i.kind {
                    lfc::ir::InstrKind::Concat { dst, pieces, .. } => (*dst, pieces.clone()),
                    k => panic!("{node}: {k:?}"),
                })
                .unwrap()
        };
        let zp = |t: lfc::ir::TensorId| c.program.tensor(t).q.zero_point;
        let (dst, twice) = concat("twice");
        assert_eq!(twice.len(), 4, "{twice:?}");
        for p in &twice {
            let PieceSrc::Tensor { id, .. } = p.src else {
                panic!("{p:?}")
            };
            assert!(p.is_copy(zp(id), zp(dst)), "{}: {p:?}", precision.name());
        }
        // join: d (other scale) requantized, r and the constants copied.
        let (dst, join) = concat("join");
        assert_eq!(join.len(), 6);
        let copies = join
            .iter()
            .filter(|p| match p.src {
                PieceSrc::Tensor { id, .. } => p.is_copy(zp(id), zp(dst)),
                PieceSrc::Const => false,
            })
            .count();
        assert!(copies < 6, "{}: {join:?}", precision.name());
        // The copies hold their source's integers unchanged: x[0..3] twice
        // then x[3..6] twice.
        let (d, _) = concat("twice");
        let row: Vec<i64> = vec![-2000, -500, 0, 250, 1000, 2000];
        let (t, _) = interp::run_all(&c.program, &row);
        let x = &t[0];
        let want: Vec<i64> = [&x[0..3], &x[0..3], &x[3..6], &x[3..6]].concat();
        assert_eq!(t[d.index()], want, "{}", precision.name());
    }
}

/// Training-mode Dropout with a non-zero ratio (random masks) and
/// training-mode BatchNormalization (batch statistics) are refused with
/// the node named: lfc compiles inference. Dropout in training mode with
/// ratio 0 is the identity ONNX defines, and passes.
#[test]
fn conformance_training_mode_refused_clearly() {
    for (name, words) in [
        ("test_training_dropout", ["Dropout", "random masks"]),
        ("test_training_dropout_default", ["Dropout", "random masks"]),
        (
            "test_batchnorm_example_training_mode",
            ["BatchNormalization", "training"],
        ),
    ] {
        match run_test(&node_test(name), Precision::Int16) {
            Outcome::Fail(why) => assert!(
                why.starts_with("refused") && words.iter().all(|w| why.contains(w)),
                "{name}: {why}"
            ),
            r => panic!("{name}: expected a refusal, got {r:?}"),
        }
    }
    let r = run_test(
        &node_test("test_training_dropout_zero_ratio"),
        Precision::Int16,
    );
    assert!(matches!(r, Outcome::Pass { .. }), "{r:?}");
}

/// LayerNormalization (issue 7): the destination range comes from the
/// maths, |normalised| <= sqrt(n - 1) (n = 120 here: 10.9), so `Y`'s
/// scale covers at most max_j(|B_j| + |Scale_j| * sqrt(n - 1)) (plus the
/// two headroom steps), not the hundreds interval arithmetic over the
/// composed mean/variance graph gives. At int8 the answer of a test that
/// is out of tolerance comes with the fidelity warning.
#[test]
fn conformance_layer_norm_bound_from_the_maths_and_int8_warned() {
    let t = node_test("test_layer_normalization_4d_axis0");
    let x = read_flat(&t.dir.join("input_0.pb"));
    let (lo, hi) = x
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let opts = CompileOptions {
        input_range: Some(InputRange::All(lo, hi)),
        ..Default::default()
    };
    let c = pipeline::compile(&t.dir.join("model.onnx"), &opts).unwrap();
    let m = ModelProto::decode(&std::fs::read(t.dir.join("model.onnx")).unwrap()[..]).unwrap();
    let init = |name: &str| -> Vec<f64> {
        let t = m
            .graph
            .as_ref()
            .unwrap()
            .initializer
            .iter()
            .find(|i| i.name == name)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.pb");
        std::fs::write(&p, t.encode_to_vec()).unwrap();
        read_flat(&p)
    };
    let (w, b) = (init("W"), init("B"));
    let bound = w
        .iter()
        .zip(&b)
        .map(|(w, b)| b.abs() + w.abs() * 119f64.sqrt())
        .fold(0.0, f64::max);
    let y = c.program.tensors.iter().find(|t| t.name == "Y").unwrap();
    let top = y.q.scale * y.q.qmax as f64;
    assert!(
        top <= bound * 1.001 + 2.0 * y.q.scale,
        "Y covers {top}, the bound is {bound}"
    );
    assert!(top >= bound * 0.999, "Y covers {top} < the bound {bound}");
    match run_test(&t, Precision::Int16) {
        Outcome::Pass { .. } => {}
        r => panic!("int16: {r:?}"),
    }
    match run_test(
        &node_test("test_layer_normalization_4d_axis3"),
        Precision::Int8,
    ) {
        Outcome::Warned { warnings, .. } => assert!(
            warnings
                .iter()
                .any(|w| w.contains("measured on") && w.contains("output `Y` is off")),
            "{warnings:?}"
        ),
        r => panic!("int8: expected a warned answer, got {r:?}"),
    }
}
