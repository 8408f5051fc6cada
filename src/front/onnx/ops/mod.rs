//! The op table: one lowering function per ONNX op type, one file per family
//! (as tract's `OnnxOpRegister`, but a sorted static slice).

mod activation;
mod arith;
mod concat;
mod conv;
mod index;
mod layout;
mod linear;
mod ml;
mod norm;
mod pattern;
mod reduce;
mod unary;

use tract_onnx::pb;

/// The window geometry, shared with the quantized import.
pub(crate) use conv::{pool_kernel, Window};

use super::lower::{Ctx, Node};
use crate::Result;

/// Lowers one node: appends ops to `ctx.graph` and binds the node's output.
pub(crate) type LowerFn = fn(&mut Ctx, &Node) -> Result<()>;

/// Sorted by op type (checked by a unit test) for binary search.
const OPS: &[(&str, LowerFn)] = &[
    ("Add", arith::add),
    ("ArgMax", ml::argmax),
    ("AveragePool", conv::average_pool),
    ("BatchNormalization", norm::batch_normalization),
    ("Cast", layout::cast),
    ("Clip", activation::clip),
    ("Concat", concat::concat),
    ("Conv", conv::conv),
    ("Div", arith::div),
    ("Dropout", layout::dropout),
    ("Elu", unary::elu),
    ("Erf", unary::erf),
    ("Exp", unary::exp),
    ("Flatten", layout::alias),
    ("Gather", index::gather),
    ("Gelu", unary::gelu),
    ("Gemm", linear::gemm),
    ("GlobalAveragePool", conv::global_average_pool),
    ("HardSigmoid", activation::hard_sigmoid),
    ("HardSwish", unary::hard_swish),
    ("Identity", layout::alias),
    ("LayerNormalization", norm::layer_normalization),
    ("LeakyRelu", activation::leaky_relu),
    ("Log", unary::log),
    ("MatMul", linear::matmul),
    ("MaxPool", conv::max_pool),
    ("Mul", arith::mul),
    ("PRelu", activation::prelu),
    ("Pow", arith::pow),
    ("ReduceMax", reduce::reduce_max),
    ("ReduceMean", reduce::reduce_mean),
    ("ReduceSum", reduce::reduce_sum),
    ("Relu", activation::relu),
    ("Reshape", layout::reshape),
    ("Selu", unary::selu),
    ("Sigmoid", activation::sigmoid),
    ("Slice", index::slice),
    ("Softmax", activation::softmax),
    ("Softplus", unary::softplus),
    ("Softsign", unary::softsign),
    ("Split", index::split),
    ("Squeeze", layout::alias),
    ("Sub", arith::sub),
    ("Tanh", activation::tanh),
    ("Transpose", index::transpose),
    ("Unsqueeze", layout::alias),
];

/// The `ai.onnx.ml` ops, sorted.
const ML_OPS: &[(&str, LowerFn)] = &[
    ("ArrayFeatureExtractor", ml::array_feature_extractor),
    ("Binarizer", ml::binarizer),
    ("LinearClassifier", ml::linear_classifier),
    ("LinearRegressor", ml::linear_regressor),
    ("Normalizer", ml::normalizer),
    ("Scaler", ml::scaler),
    ("TreeEnsembleClassifier", ml::tree_classifier),
    ("TreeEnsembleRegressor", ml::tree_regressor),
];

/// The lowering of `node`'s op, if lfc has one (default ONNX domain and
/// `ai.onnx.ml`).
pub(crate) fn lookup(node: &pb::NodeProto) -> Option<LowerFn> {
    let table = match node.domain.as_str() {
        "" | "ai.onnx" => OPS,
        "ai.onnx.ml" => ML_OPS,
        _ => return None,
    };
    table
        .binary_search_by(|(name, _)| (*name).cmp(node.op_type.as_str()))
        .ok()
        .map(|i| table[i].1)
}

/// Whether `node` is an `ai.onnx.ml` op lfc lowers (tract gets a stand-in).
pub(crate) fn is_ml(node: &pb::NodeProto) -> bool {
    node.domain == "ai.onnx.ml" && lookup(node).is_some()
}

/// The ONNX op types the front end lowers, sorted (`ai.onnx.ml` ones
/// after the default domain's).
pub fn supported_ops() -> Vec<&'static str> {
    OPS.iter().chain(ML_OPS).map(|(name, _)| *name).collect()
}

/// The `ai.onnx.ml` op types the front end lowers, sorted.
pub fn supported_ml_ops() -> Vec<&'static str> {
    ML_OPS.iter().map(|(name, _)| *name).collect()
}

/// The default-domain op types the front end lowers, sorted.
pub fn supported_default_ops() -> Vec<&'static str> {
    OPS.iter().map(|(name, _)| *name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(
            OPS.windows(2).all(|w| w[0].0 < w[1].0) && ML_OPS.windows(2).all(|w| w[0].0 < w[1].0),
            "OPS must be sorted"
        );
    }
}
