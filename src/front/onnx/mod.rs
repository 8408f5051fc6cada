//! ONNX front end: tract-onnx loads and types the model; each ONNX node is
//! lowered by one function registered in [`ops`] under its op type.

use std::path::Path;

use crate::ir::Graph;
use crate::Result;

/// Loads `path` and lowers it to a float [`Graph`].
pub fn load(path: &Path) -> Result<Graph> {
    let _ = path;
    Err(crate::Error::Other("front::onnx::load: not implemented yet".into()))
}

/// The float model as tract runs it: the fidelity reference.
pub struct FloatModel {
    _private: (),
}

impl FloatModel {
    pub fn load(path: &Path) -> Result<FloatModel> {
        let _ = path;
        Err(crate::Error::Other("FloatModel::load: not implemented yet".into()))
    }
    /// Runs one row (f32 input, batch 1) and returns the flattened output.
    pub fn run(&self, input: &[f32]) -> Result<Vec<f32>> {
        let _ = input;
        Err(crate::Error::Other("FloatModel::run: not implemented yet".into()))
    }
}
