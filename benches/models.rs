//! Instructions per inference of the PyTorch-style fixture models
//! (`cargo bench --bench models`; not a timed test). Each is compiled
//! (int16, domain [-2, 2]) exactly as `tests/exec.rs` compiles it, built
//! with the kernel's flags and the timing driver, checked against the
//! interpreter on 64 random rows, and counted under callgrind.

use lfc::back::c::userspace::kernel_cflags;
use lfc::back::interp;
use lfc::pipeline::{self, CompileOptions, InputRange};

mod common;
#[path = "../tests/models.rs"]
mod models;

use common::{build_driver, callgrind_per_inference, rows_bytes};

const MODELS: &[&str] = &[
    "gemm_bn_relu",
    "conv1d_policy",
    "conv2d_pools",
    "index_maps",
    "matmul_rows",
    "unary_tables",
    "gelu_opset20",
];

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if !args.is_empty() && !args.iter().any(|a| "models".contains(a.as_str())) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    println!("model            MACs (non-zero)  instructions/inference (callgrind)");
    for (name, bytes) in models::good_models() {
        if !MODELS.contains(&name) {
            continue;
        }
        let path = models::write_model(dir.path(), name, &bytes);
        let opts = CompileOptions {
            input_range: Some(InputRange::All(-2.0, 2.0)),
            ..Default::default()
        };
        let c = pipeline::compile(&path, &opts).expect("compile");
        let module = c.emit_c().expect("emit C");
        let mut rng = models::Rng::new(5);
        let rows: Vec<Vec<i64>> = (0..64)
            .map(|_| {
                (0..c.program.input_len)
                    .map(|_| ((rng.uniform() * 4.0 - 2.0) * 1000.0).round() as i64)
                    .collect()
            })
            .collect();
        let runner = lfc::back::c::Runner::build(&module, &kernel_cflags()).expect("runner");
        for (row, got) in rows.iter().zip(runner.run(&rows).expect("run")) {
            assert_eq!(got, interp::run(&c.program, row), "{name}");
        }
        let sub = dir.path().join(name);
        std::fs::create_dir_all(&sub).unwrap();
        let exe = build_driver(&module, &sub);
        let per = callgrind_per_inference(&exe, &rows_bytes(&rows), rows.len(), &sub);
        println!(
            "{name:16} {:15}  {}",
            c.graph.macs(),
            per.map_or("valgrind not installed".into(), |p| format!("{p:.0}"))
        );
    }
}
