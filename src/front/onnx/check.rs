//! Checks on the decoded protobuf before tract sees it.
//!
//! tract trusts its input in places: it panics (or allocates whatever a
//! header says) on graph outputs naming undefined tensors, out-of-range
//! axes, rank-0 MatMul operands, STRING tensors in `raw_data`, an empty
//! DequantizeLinear zero point, and gigantic shapes. Each of those is
//! refused here with an error naming the file, the node or tensor, and the
//! field. Ranks are followed through the graph in file order as far as
//! they are known (inputs, initializers, Constant nodes and the ops below);
//! an axis is checked wherever its input's rank is known. What slips
//! through is contained by [`super::model`]'s panic boundary.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use tract_onnx::pb;
use tract_onnx::pb::tensor_proto::DataType;

use crate::{Error, Result};

/// At most this many elements in the model's runtime input (a kernel
/// datapath hands over a few dozen; 65,536 `s64` are already 512 KiB).
pub const MAX_INPUT_ELEMENTS: u64 = 1 << 16;
/// At most this many elements in any tensor the file declares (an
/// initializer, a Constant, a declared shape): 16 Mi, 64 MiB of f32.
pub const MAX_TENSOR_ELEMENTS: u64 = 1 << 24;

fn model_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Model {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// Everything checked before tract parses the model.
pub(crate) fn check(proto: &pb::ModelProto, path: &Path) -> Result<()> {
    let graph = proto.graph.as_ref().expect("checked by decode");
    let opset = proto
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .unwrap_or(0);
    for t in &graph.initializer {
        tensor(t, &format!("initializer `{}`", t.name)).map_err(|r| model_err(path, r))?;
    }
    for (what, list) in [
        ("input", &graph.input),
        ("output", &graph.output),
        ("value_info", &graph.value_info),
    ] {
        for v in list {
            declared_shape(v).map_err(|r| model_err(path, format!("{what} `{}`: {r}", v.name)))?;
        }
    }
    let mut walk = Walk::new(graph, opset);
    for (i, node) in graph.node.iter().enumerate() {
        walk.node(node).map_err(|r| {
            model_err(
                path,
                format!("node `{}` ({}): {r}", name_of(node, i), node.op_type),
            )
        })?;
    }
    for o in &graph.output {
        if !walk.defined.contains(o.name.as_str()) {
            return Err(model_err(
                path,
                format!(
                    "graph output `{}` is not produced by any node, input or initializer",
                    o.name
                ),
            ));
        }
    }
    Ok(())
}

/// The runtime input's dimensions (batch already fixed): every one at
/// least 1, and not more than [`MAX_INPUT_ELEMENTS`] in all.
pub(crate) fn input_dims(name: &str, dims: &[usize], path: &Path) -> Result<()> {
    if let Some(axis) = dims.iter().position(|&d| d == 0) {
        return Err(model_err(
            path,
            format!("input `{name}` dimension {axis} is 0: the input has no elements"),
        ));
    }
    let count = dims
        .iter()
        .try_fold(1u64, |n, &d| n.checked_mul(d as u64))
        .filter(|&n| n <= MAX_INPUT_ELEMENTS);
    if count.is_none() {
        return Err(model_err(
            path,
            format!(
                "input `{name}` has shape {dims:?}: more than {MAX_INPUT_ELEMENTS} elements (lfc's limit for a snapshot's input)"
            ),
        ));
    }
    Ok(())
}

fn name_of(node: &pb::NodeProto, index: usize) -> String {
    if node.name.is_empty() {
        format!("{}#{index}", node.op_type)
    } else {
        node.name.clone()
    }
}

fn elements(dims: &[i64]) -> Option<u64> {
    dims.iter()
        .try_fold(1u64, |n, &d| n.checked_mul(u64::try_from(d).ok()?))
}

/// An initializer or Constant value: dimensions, size, encoding.
fn tensor(t: &pb::TensorProto, what: &str) -> std::result::Result<(), String> {
    if t.dims.iter().any(|&d| d < 0) {
        return Err(format!(
            "{what} has a negative dimension in dims {:?}",
            t.dims
        ));
    }
    match elements(&t.dims) {
        Some(n) if n <= MAX_TENSOR_ELEMENTS => {}
        _ => {
            return Err(format!(
                "{what} has dims {:?}: more than {MAX_TENSOR_ELEMENTS} elements",
                t.dims
            ))
        }
    }
    if t.data_type == DataType::String as i32 && !t.raw_data.is_empty() {
        return Err(format!(
            "{what} is a STRING tensor stored in raw_data (ONNX keeps strings in string_data)"
        ));
    }
    Ok(())
}

/// A declared type's shape: no negative dimension, a bounded size.
fn declared_shape(v: &pb::ValueInfoProto) -> std::result::Result<(), String> {
    let Some(dims) = shape_of(v) else {
        return Ok(());
    };
    let fixed: Vec<i64> = dims.iter().filter_map(|d| *d).collect();
    if let Some(d) = fixed.iter().find(|&&d| d < 0) {
        return Err(format!("declared dimension {d} is negative"));
    }
    match elements(&fixed) {
        Some(n) if n <= MAX_TENSOR_ELEMENTS => Ok(()),
        _ => Err(format!(
            "declared shape {fixed:?} has more than {MAX_TENSOR_ELEMENTS} elements"
        )),
    }
}

/// Dimensions of a declared tensor type (`None` for a symbolic one).
fn shape_of(v: &pb::ValueInfoProto) -> Option<Vec<Option<i64>>> {
    use pb::tensor_shape_proto::dimension::Value;
    match v.r#type.as_ref()?.value.as_ref()? {
        pb::type_proto::Value::TensorType(t) => Some(
            t.shape
                .as_ref()?
                .dim
                .iter()
                .map(|d| match d.value {
                    Some(Value::DimValue(v)) => Some(v),
                    _ => None,
                })
                .collect(),
        ),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// The ranks known so far, the tensors defined so far, and the constant
/// tensors (for axes given as inputs).
struct Walk<'a> {
    opset: i64,
    ranks: HashMap<&'a str, usize>,
    defined: HashSet<&'a str>,
    consts: HashMap<&'a str, &'a pb::TensorProto>,
}

impl<'a> Walk<'a> {
    fn new(graph: &'a pb::GraphProto, opset: i64) -> Walk<'a> {
        let mut w = Walk {
            opset,
            ranks: HashMap::new(),
            defined: HashSet::new(),
            consts: HashMap::new(),
        };
        for i in &graph.input {
            w.defined.insert(&i.name);
            if let Some(dims) = shape_of(i) {
                w.ranks.insert(&i.name, dims.len());
            }
        }
        for t in &graph.initializer {
            w.defined.insert(&t.name);
            w.ranks.insert(&t.name, t.dims.len());
            w.consts.insert(&t.name, t);
        }
        w
    }

    fn rank(&self, node: &pb::NodeProto, input: usize) -> Option<usize> {
        let name = node.input.get(input)?;
        self.ranks.get(name.as_str()).copied()
    }

    fn node(&mut self, node: &'a pb::NodeProto) -> std::result::Result<(), String> {
        for a in &node.attribute {
            if let Some(t) = &a.t {
                tensor(t, &format!("attribute `{}`", a.name))?;
            }
            for t in &a.tensors {
                tensor(t, &format!("attribute `{}`", a.name))?;
            }
        }
        // Before tract, which cannot type it ("wrong number of outputs").
        if node.op_type == "BatchNormalization" && attr_i(node, "training_mode") == Some(1) {
            return Err("training_mode=1 is not supported (batch statistics and running averages are training; lfc compiles inference BatchNormalization)".into());
        }
        let out = self.out_rank(node)?;
        for o in node.output.iter().filter(|o| !o.is_empty()) {
            self.defined.insert(o);
        }
        if let (Some(r), Some(o)) = (out, node.output.first()) {
            self.ranks.insert(o, r);
        }
        if node.op_type == "Constant" {
            if let (Some(t), Some(o)) = (
                attr(node, "value").and_then(|a| a.t.as_ref()),
                node.output.first(),
            ) {
                self.consts.insert(o, t);
            }
        }
        Ok(())
    }

    /// Checks the node's axes against its input ranks; the rank of its
    /// first output when it follows from them.
    fn out_rank(&self, node: &pb::NodeProto) -> std::result::Result<Option<usize>, String> {
        if !(node.domain.is_empty() || node.domain == "ai.onnx") {
            return Ok(None); // ai.onnx.ml and others: ranks not followed
        }
        let r0 = self.rank(node, 0);
        let r = match node.op_type.as_str() {
            "Constant" => constant_rank(node),
            "Relu" | "Tanh" | "Sigmoid" | "HardSigmoid" | "LeakyRelu" | "Identity" | "Cast"
            | "Dropout" | "Clip" | "Neg" | "Abs" | "Exp" | "Log" | "Sqrt" | "Elu" | "Selu"
            | "Softplus" | "Erf" => r0,
            "Add" | "Sub" | "Mul" | "Div" | "Pow" | "PRelu" | "Max" | "Min" | "Sum" => {
                let ranks: Option<Vec<usize>> =
                    (0..node.input.len()).map(|i| self.rank(node, i)).collect();
                ranks.and_then(|r| r.into_iter().max())
            }
            "Softmax" | "LogSoftmax" | "Hardmax" => {
                let default = if self.opset >= 13 { -1 } else { 1 };
                if let Some(r) = r0 {
                    axis("axis", attr_i(node, "axis").unwrap_or(default), r)?;
                }
                r0
            }
            "Flatten" => {
                if let Some(r) = r0 {
                    let a = attr_i(node, "axis").unwrap_or(1);
                    if a < -(r as i64) || a > r as i64 {
                        return Err(format!(
                            "attribute axis {a} is out of range for its rank-{r} input (allowed [-{r}, {r}])"
                        ));
                    }
                }
                Some(2)
            }
            "Gemm" => {
                for i in 0..2 {
                    if let Some(r) = self.rank(node, i).filter(|&r| r != 2) {
                        return Err(format!(
                            "input {i} (`{}`) has rank {r}; Gemm takes 2-D A and B",
                            node.input[i]
                        ));
                    }
                }
                Some(2)
            }
            "MatMul" => match (r0, self.rank(node, 1)) {
                (Some(a), Some(b)) => Some(matmul_rank(node, a, b)?),
                (Some(0), _) | (_, Some(0)) => Some(matmul_rank(node, 0, 0)?),
                _ => None,
            },
            "Squeeze" => match (r0, self.axes(node)?) {
                (Some(r), Some(axes)) => {
                    distinct_axes(&axes, r)?;
                    Some(r - axes.len())
                }
                _ => None,
            },
            "Unsqueeze" => match (r0, self.axes(node)?) {
                (Some(r), Some(axes)) => {
                    let n = r + axes.len();
                    distinct_axes(&axes, n)?;
                    Some(n)
                }
                _ => None,
            },
            "Concat" | "Split" | "Gather" | "ReduceSum" | "ReduceMean" | "ReduceMax"
            | "ReduceMin" | "ArgMax" | "ArgMin" | "Transpose" => {
                if let Some(r) = r0 {
                    self.axis_attrs(node, r)?;
                }
                match node.op_type.as_str() {
                    "Concat" | "Split" | "Transpose" => r0,
                    _ => None,
                }
            }
            "Reshape" => self.const_ints(node, 1).map(|shape| shape.len()),
            "DequantizeLinear" | "QuantizeLinear" => {
                self.quant_params(node)?;
                r0
            }
            _ => None,
        };
        Ok(r)
    }

    /// `axis`/`axes`/`perm` attributes of ops that take them, against rank
    /// `r`.
    fn axis_attrs(&self, node: &pb::NodeProto, r: usize) -> std::result::Result<(), String> {
        if let Some(a) = attr_i(node, "axis") {
            axis("axis", a, r)?;
        }
        if let Some(axes) = attr(node, "axes").map(|a| a.ints.clone()) {
            distinct_axes(&axes, r)?;
        }
        if let Some(perm) = attr(node, "perm").map(|a| a.ints.clone()) {
            let mut seen = vec![false; r];
            if perm.len() != r
                || perm.iter().any(|&p| {
                    usize::try_from(p)
                        .ok()
                        .and_then(|p| seen.get_mut(p))
                        .map(|s| std::mem::replace(s, true))
                        != Some(false)
                })
            {
                return Err(format!(
                    "attribute perm {perm:?} is not a permutation of its rank-{r} input's axes"
                ));
            }
        }
        Ok(())
    }

    /// Squeeze/Unsqueeze axes: the attribute (before opset 13) or the
    /// constant second input.
    fn axes(&self, node: &pb::NodeProto) -> std::result::Result<Option<Vec<i64>>, String> {
        if let Some(a) = attr(node, "axes") {
            return Ok(Some(a.ints.clone()));
        }
        Ok(self.const_ints(node, 1))
    }

    /// The int64 values of constant input `i`, when it is one.
    fn const_ints(&self, node: &pb::NodeProto, i: usize) -> Option<Vec<i64>> {
        let t = self.consts.get(node.input.get(i)?.as_str())?;
        int64s(t)
    }

    /// Scale and zero point: the zero point, when given, has one value
    /// per scale value (an empty one crashed tract).
    fn quant_params(&self, node: &pb::NodeProto) -> std::result::Result<(), String> {
        let count = |i: usize| {
            let name = node.input.get(i).filter(|n| !n.is_empty())?;
            let t = self.consts.get(name.as_str())?;
            elements(&t.dims)
        };
        let scale = count(1);
        if scale == Some(0) {
            return Err(format!("scale `{}` is empty", node.input[1]));
        }
        if let Some(z) = count(2) {
            if z == 0 || scale.is_some_and(|s| s != z) {
                return Err(format!(
                    "zero point `{}` has {z} values, its scale `{}` has {}",
                    node.input[2],
                    node.input[1],
                    scale.map_or("an unknown number of".into(), |s| s.to_string())
                ));
            }
        }
        Ok(())
    }
}

fn attr<'a>(node: &'a pb::NodeProto, name: &str) -> Option<&'a pb::AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

fn attr_i(node: &pb::NodeProto, name: &str) -> Option<i64> {
    attr(node, name).map(|a| a.i)
}

/// One axis in [-r, r-1].
fn axis(what: &str, a: i64, r: usize) -> std::result::Result<(), String> {
    let r = r as i64;
    if a < -r || a >= r {
        return Err(format!(
            "{what} {a} is out of range for a rank-{r} tensor (allowed [{}, {}])",
            -r,
            r - 1
        ));
    }
    Ok(())
}

/// Axes in [-r, r-1], no two the same axis.
fn distinct_axes(axes: &[i64], r: usize) -> std::result::Result<(), String> {
    let mut seen = HashSet::new();
    for &a in axes {
        axis("axis", a, r)?;
        let norm = if a < 0 { a + r as i64 } else { a };
        if !seen.insert(norm) {
            return Err(format!("axes {axes:?} name axis {norm} twice"));
        }
    }
    Ok(())
}

fn matmul_rank(node: &pb::NodeProto, a: usize, b: usize) -> std::result::Result<usize, String> {
    for (i, r) in [(0, a), (1, b)] {
        if r == 0 {
            return Err(format!(
                "input {i} (`{}`) is a scalar (rank 0); MatMul needs at least 1-D operands",
                node.input.get(i).map_or("", |s| s.as_str())
            ));
        }
    }
    Ok(match (a, b) {
        (1, 1) => 0,
        (1, b) => b - 1,
        (a, 1) => a - 1,
        (a, b) => a.max(b),
    })
}

fn constant_rank(node: &pb::NodeProto) -> Option<usize> {
    let a = node.attribute.first()?;
    match a.name.as_str() {
        "value" => a.t.as_ref().map(|t| t.dims.len()),
        "value_float" | "value_int" | "value_string" => Some(0),
        "value_floats" | "value_ints" | "value_strings" => Some(1),
        _ => None,
    }
}

/// The values of an INT64 tensor (`int64_data` or little-endian
/// `raw_data`).
fn int64s(t: &pb::TensorProto) -> Option<Vec<i64>> {
    if t.data_type != DataType::Int64 as i32 {
        return None;
    }
    if !t.raw_data.is_empty() {
        return Some(
            t.raw_data
                .chunks_exact(8)
                .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
                .collect(),
        );
    }
    Some(t.int64_data.clone())
}
