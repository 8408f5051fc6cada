//! ONNX front end: tract-onnx loads and types the model; each ONNX node is
//! lowered by one function registered in [`ops`] under its op type.
//!
//! Loading goes in three steps, each with its own errors:
//! 1. [`model`]: decode the protobuf, find the one runtime input and output,
//!    fix the input's shape (a symbolic batch dimension becomes 1), and let
//!    tract type every tensor. tract's analysis gives the shape of every
//!    named tensor and the value of every tensor it can fold to a constant.
//! 2. [`lower`]: walk the `NodeProto`s in file order; nodes whose outputs
//!    tract folded are skipped, the others go to their op's lowering function.
//! 3. The result is a [`Graph`] of flattened batch-1 vectors.
//!
//! [`FloatModel`] is tract's own optimized float execution of the same file,
//! with the same input shape: the reference the compiled program is measured
//! against.

mod boundary;
mod check;
mod lower;
mod model;
mod ops;
mod quantized;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tract_onnx::prelude::*;

use crate::ir::Graph;
use crate::{Error, Result};

pub use ops::supported_ops;
pub use quantized::QUANT_OPS;

/// A quantized (QDQ or QOperator) model read with its own scales, or
/// `None` for a float model (issue 8).
pub fn load_quantized(bytes: &[u8], path: &Path) -> Result<Option<crate::ir::qgraph::QGraph>> {
    let proto = model::decode(bytes, path)?;
    if !quantized::is_quantized(&proto) {
        return Ok(None);
    }
    quantized::load(&proto, path).map(Some)
}

/// Loads `path` and lowers it to a float [`Graph`].
pub fn load(path: &Path) -> Result<Graph> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let dir = path.parent().and_then(|d| d.to_str()).map(str::to_owned);
    let typed = model::TypedOnnx::from_bytes(&bytes, path, dir.as_deref())?;
    lower::lower(&typed)
}

/// Lowers an in-memory ONNX model; `name` stands for the file in messages.
/// External-data tensors cannot be resolved without a directory.
pub fn load_bytes(bytes: &[u8], name: &str) -> Result<Graph> {
    let typed = model::TypedOnnx::from_bytes(bytes, Path::new(name), None)?;
    lower::lower(&typed)
}

/// Whether the file has `ai.onnx.ml` nodes (unreadable files: false).
pub fn has_ml_ops(path: &Path) -> bool {
    std::fs::read(path)
        .ok()
        .and_then(|b| model::decode(&b, path).ok())
        .and_then(|p| p.graph)
        .is_some_and(|g| g.node.iter().any(|n| n.domain == "ai.onnx.ml"))
}

/// The float model as tract runs it: the fidelity reference.
pub struct FloatModel {
    plan: Arc<TypedRunnableModel>,
    input_shape: Vec<usize>,
    path: PathBuf,
}

impl FloatModel {
    pub fn load(path: &Path) -> Result<FloatModel> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let dir = path.parent().and_then(|d| d.to_str()).map(str::to_owned);
        Self::build(&bytes, path, dir.as_deref())
    }

    /// Like [`FloatModel::load`], from bytes (`name` is used in messages).
    pub fn load_bytes(bytes: &[u8], name: &str) -> Result<FloatModel> {
        Self::build(bytes, Path::new(name), None)
    }

    fn build(bytes: &[u8], path: &Path, dir: Option<&str>) -> Result<FloatModel> {
        let proto = model::decode(bytes, path)?;
        let io = model::Io::find(&proto, path)?;
        let (parsed, _) = model::parse(&proto, &io, path, dir)?;
        let tract_err = |e: TractError| Error::Model {
            path: path.to_owned(),
            reason: format!("tract could not optimize the model: {e:#}"),
        };
        let plan = boundary::contain(path, "optimizing", || {
            parsed
                .into_optimized()
                .and_then(|m| m.into_runnable())
                .map_err(tract_err)
        })?;
        Ok(FloatModel {
            plan,
            input_shape: io.input_shape,
            path: path.to_owned(),
        })
    }

    /// Number of input elements (the product of the fixed input shape).
    pub fn input_len(&self) -> usize {
        self.input_shape.iter().product()
    }

    /// Runs one row (f32 input, batch 1) and returns every output,
    /// flattened and concatenated in graph order (integer outputs as f32).
    pub fn run(&self, input: &[f32]) -> Result<Vec<f32>> {
        if input.len() != self.input_len() {
            return Err(Error::Other(format!(
                "{}: input has {} values, the model takes {} (shape {:?})",
                self.path.display(),
                input.len(),
                self.input_len(),
                self.input_shape
            )));
        }
        let run_err = |e: TractError| {
            Error::Other(format!("{}: tract run failed: {e:#}", self.path.display()))
        };
        boundary::contain(&self.path, "running", || {
            let tensor = Tensor::from_shape(&self.input_shape, input).map_err(run_err)?;
            let outputs = self
                .plan
                .run(tvec!(tensor.into_tvalue()))
                .map_err(run_err)?;
            let mut all = Vec::new();
            for o in outputs.iter() {
                let out = o.cast_to::<f32>().map_err(run_err)?;
                let view = out.to_plain_array_view::<f32>().map_err(run_err)?;
                all.extend(view.iter().copied());
            }
            Ok(all)
        })
    }
}
