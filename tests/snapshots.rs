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
