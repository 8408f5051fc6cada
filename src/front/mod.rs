//! Front ends. Only ONNX today.

pub mod onnx;
