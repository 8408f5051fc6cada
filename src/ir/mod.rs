//! Two levels of IR: the float [`graph`] the front end produces, and the
//! integer [`program`] quantization produces and every back end consumes.

pub mod bounds;
pub mod concat;
pub mod dump;
pub mod fold;
pub mod graph;
pub mod layer_norm;
pub mod program;
pub mod qgraph;
pub mod tree;

pub use graph::{Activation, BinaryOp, Graph, Op, OpKind, Value, ValueId};
pub use program::{
    AccWidth, Instr, InstrKind, Lut, LutFunc, Precision, Program, ProgramOutput, QParams, Rescale,
    Round, Tensor, TensorId,
};
