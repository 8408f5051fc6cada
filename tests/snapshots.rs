//! Golden files: the float graph dump, the integer program dump, the
//! emitted C and the emitted Rust, for Aurora and every fixture model. Reviewed by hand when
//! they change (`cargo insta review`), never accepted blindly.

use lfc::ir::dump;
use lfc::pipeline;

use crate::exec::cases;

#[test]
fn snapshots_ir_and_c() {
    let dir = tempfile::tempdir().unwrap();
    for (name, path, opts) in cases(dir.path()) {
        let c = pipeline::compile(&path, &opts).unwrap();
        let module = c.emit_c().unwrap();
        insta::assert_snapshot!(format!("{name}_graph"), dump::graph(&c.graph));
        insta::assert_snapshot!(format!("{name}_program"), dump::program(&c.program));
        insta::assert_snapshot!(format!("{name}_c"), module.source);
        insta::assert_snapshot!(format!("{name}_rust"), c.emit_rust().unwrap().source);
    }
}

/// The loop form (weights in static const arrays) for a layer above the
/// unroll limit, and the int8 scheme, on Aurora.
#[test]
fn snapshots_aurora_variants() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path, opts) = cases(dir.path()).remove(0);
    let looped = pipeline::CompileOptions {
        unroll_limit: 100,
        ..opts.clone()
    };
    let c = pipeline::compile(&path, &looped).unwrap();
    insta::assert_snapshot!("aurora_looped_c", c.emit_c().unwrap().source);
    insta::assert_snapshot!("aurora_looped_rust", c.emit_rust().unwrap().source);
    let int8 = pipeline::CompileOptions {
        precision: lfc::ir::Precision::Int8,
        ..opts
    };
    let c = pipeline::compile(&path, &int8).unwrap();
    insta::assert_snapshot!("aurora_int8_program", dump::program(&c.program));
    insta::assert_snapshot!("aurora_int8_c", c.emit_c().unwrap().source);
    insta::assert_snapshot!("aurora_int8_rust", c.emit_rust().unwrap().source);
}

/// The kernel module tree of a Rust snapshot (entry crate root, C shell,
/// its header, Kbuild), for Aurora and for the first fixture whose
/// activations live in per-CPU scratch, with the code generation of a
/// fixed 6.12-like configuration (retpoline, rethunk, IBT, call padding).
#[test]
fn snapshots_rust_kernel_module() {
    use lfc::back::rust::kernel;
    use lfc::kbuild::rust as krust;
    let g = krust::codegen(&krust::KernelConfig::parse(
        "CONFIG_MITIGATION_RETPOLINE=y\nCONFIG_MITIGATION_RETHUNK=y\nCONFIG_MITIGATION_SLS=y\n\
         CONFIG_X86_KERNEL_IBT=y\nCONFIG_CALL_PADDING=y\nCONFIG_FUNCTION_PADDING_BYTES=16\n\
         CONFIG_GENERIC_CPU=y\n",
    ));
    let dir = tempfile::tempdir().unwrap();
    let mut scratch_done = false;
    for (name, path, opts) in cases(dir.path()) {
        let c = pipeline::compile(&path, &opts).unwrap();
        let is_aurora = name == "aurora";
        if !is_aurora && (scratch_done || !c.info.scratch) {
            continue;
        }
        scratch_done |= c.info.scratch;
        let module = c.emit_rust().unwrap();
        let files = kernel::emit(&c.program, &module, &c.meta, &g.flags, &g.mitigations).unwrap();
        let all = files
            .files(&module)
            .into_iter()
            .skip(1)
            .map(|(n, t)| format!("==> {n} <==\n{t}"))
            .collect::<String>();
        insta::assert_snapshot!(format!("{name}_rust_kernel"), all);
    }
    assert!(scratch_done, "no fixture with per-CPU scratch");
}
