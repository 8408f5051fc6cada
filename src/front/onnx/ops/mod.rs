//! The op table: one lowering function per ONNX op type, one file per family
//! (as tract's `OnnxOpRegister`, but a sorted static slice).

mod activation;
mod arith;
mod layout;
mod linear;

use tract_onnx::pb;

use super::lower::{Ctx, Node};
use crate::Result;

/// Lowers one node: appends ops to `ctx.graph` and binds the node's output.
pub(crate) type LowerFn = fn(&mut Ctx, &Node) -> Result<()>;

/// Sorted by op type (checked by a unit test) for binary search.
const OPS: &[(&str, LowerFn)] = &[
    ("Add", arith::add),
    ("Cast", layout::cast),
    ("Clip", activation::clip),
    ("Dropout", layout::dropout),
    ("Flatten", layout::alias),
    ("Gemm", linear::gemm),
    ("HardSigmoid", activation::hard_sigmoid),
    ("Identity", layout::alias),
    ("LeakyRelu", activation::leaky_relu),
    ("MatMul", linear::matmul),
    ("Mul", arith::mul),
    ("Relu", activation::relu),
    ("Reshape", layout::reshape),
    ("Sigmoid", activation::sigmoid),
    ("Softmax", activation::softmax),
    ("Squeeze", layout::alias),
    ("Sub", arith::sub),
    ("Tanh", activation::tanh),
    ("Unsqueeze", layout::alias),
];

/// The lowering of `node`'s op, if lfc has one (default ONNX domain only).
pub(crate) fn lookup(node: &pb::NodeProto) -> Option<LowerFn> {
    if !(node.domain.is_empty() || node.domain == "ai.onnx") {
        return None;
    }
    OPS.binary_search_by(|(name, _)| (*name).cmp(node.op_type.as_str()))
        .ok()
        .map(|i| OPS[i].1)
}

/// The ONNX op types the front end lowers, sorted.
pub fn supported_ops() -> Vec<&'static str> {
    OPS.iter().map(|(name, _)| *name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(
            OPS.windows(2).all(|w| w[0].0 < w[1].0),
            "OPS must be sorted"
        );
    }
}
