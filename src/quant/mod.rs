//! Quantization: value ranges (interval arithmetic over the input domain)
//! → per-tensor scales, per-channel weight scales, fixed-point multipliers
//! and lookup tables → the integer [`Program`].

use crate::ir::{Graph, Precision, Program};
use crate::Result;

/// The input domain, per feature, in real units: `lo[i] <= x[i] <= hi[i]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Domain {
    pub lo: Vec<f64>,
    pub hi: Vec<f64>,
}

#[derive(Clone, Debug)]
pub struct QuantOptions {
    pub precision: Precision,
    pub input_scale: i64,
    pub output_scale: i64,
}

pub fn quantize(graph: &Graph, domain: &Domain, opts: &QuantOptions) -> Result<Program> {
    let _ = (graph, domain, opts);
    Err(crate::Error::Other("quant::quantize: not implemented yet".into()))
}
