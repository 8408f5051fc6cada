//! ONNX bytes -> the whole compile: front end (tract), quantizer,
//! validator, C emission. The first byte picks the precision; the domain is
//! [-1, 1] for every feature.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lfc::ir::Precision;
use lfc::pipeline::{compile_bytes, CompileOptions, InputRange};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, model)) = data.split_first() else {
        return;
    };
    let opts = CompileOptions {
        input_range: Some(InputRange::All(-1.0, 1.0)),
        precision: if sel & 1 == 0 {
            Precision::Int16
        } else {
            Precision::Int8
        },
        ..Default::default()
    };
    if let Ok(c) = compile_bytes(model, "fuzz.onnx", &opts) {
        let _ = c.emit_c();
    }
});
