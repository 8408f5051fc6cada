//! Decoding and typing: everything the lowering needs to know about the file
//! before it walks the nodes.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use prost::Message;
use tract_onnx::pb;
use tract_onnx::pb::tensor_shape_proto::dimension::Value as Dim;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

use super::boundary::contain;
use crate::{Error, Result};

/// ONNX `TensorProto.DataType.FLOAT`.
pub(crate) const ONNX_FLOAT: i32 = 1;

fn model_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Model {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

pub(crate) fn decode(bytes: &[u8], path: &Path) -> Result<pb::ModelProto> {
    let proto = pb::ModelProto::decode(bytes)
        .map_err(|e| model_err(path, format!("protobuf decoding failed: {e}")))?;
    if proto.graph.is_none() {
        return Err(model_err(path, "the model has no graph"));
    }
    super::check::check(&proto, path)?;
    Ok(proto)
}

/// The model's one runtime input and its outputs (graph order).
#[derive(Clone, Debug)]
pub(crate) struct Io {
    pub input: String,
    /// The input's shape with a symbolic batch dimension fixed to 1.
    pub input_shape: Vec<usize>,
    pub outputs: Vec<String>,
}

impl Io {
    pub fn find(proto: &pb::ModelProto, path: &Path) -> Result<Io> {
        let graph = proto.graph.as_ref().expect("checked by decode");
        let inits: HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
        // Before IR version 4 initializers were also listed as graph inputs.
        let inputs: Vec<&pb::ValueInfoProto> = graph
            .input
            .iter()
            .filter(|i| !inits.contains(i.name.as_str()))
            .collect();
        let names = |v: &[&pb::ValueInfoProto]| {
            v.iter()
                .map(|i| format!("`{}`", i.name))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let input = match inputs.as_slice() {
            [one] => *one,
            [] => return Err(model_err(path, "the model has no runtime input")),
            more => {
                return Err(model_err(
                    path,
                    format!(
                        "the model has {} runtime inputs ({}); lfc compiles models with exactly one input tensor",
                        more.len(),
                        names(more)
                    ),
                ))
            }
        };
        if graph.output.is_empty() {
            return Err(model_err(path, "the model has no output"));
        }
        let outputs = graph.output.iter().map(|o| o.name.clone()).collect();
        let input_shape = input_shape(input, path)?;
        Ok(Io {
            input: input.name.clone(),
            input_shape,
            outputs,
        })
    }
}

/// The fixed shape of the runtime input: dimension 0 may be symbolic (the
/// batch, fixed to 1); every other dimension must be a number.
fn input_shape(input: &pb::ValueInfoProto, path: &Path) -> Result<Vec<usize>> {
    let name = &input.name;
    let tensor = match input.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(pb::type_proto::Value::TensorType(t)) => t,
        None => {
            return Err(model_err(
                path,
                format!("input `{name}` has no tensor type"),
            ))
        }
    };
    if tensor.elem_type != ONNX_FLOAT {
        let ty = pb::tensor_proto::DataType::try_from(tensor.elem_type)
            .map(|d| d.as_str_name().to_owned())
            .unwrap_or_else(|_| tensor.elem_type.to_string());
        return Err(model_err(
            path,
            format!("input `{name}` has element type {ty}; only FLOAT inputs are supported"),
        ));
    }
    let Some(shape) = tensor.shape.as_ref() else {
        return Err(model_err(
            path,
            format!(
                "input `{name}` has an unknown shape; its shape must be fixed (only a symbolic batch dimension is allowed)"
            ),
        ));
    };
    let dims = shape
        .dim
        .iter()
        .enumerate()
        .map(|(axis, d)| match &d.value {
            Some(Dim::DimValue(v)) if *v >= 0 => Ok(*v as usize),
            _ if axis == 0 => Ok(1),
            Some(Dim::DimParam(p)) => Err(model_err(
                path,
                format!(
                    "input `{name}` dimension {axis} is symbolic (`{p}`); only the batch dimension (0) may be"
                ),
            )),
            _ => Err(model_err(
                path,
                format!("input `{name}` dimension {axis} is unknown; only the batch dimension (0) may be"),
            )),
        })
        .collect::<Result<Vec<usize>>>()?;
    super::check::input_dims(name, &dims, path)?;
    Ok(dims)
}

/// tract's parse of the model with the input fact fixed.
pub(crate) fn parse(
    proto: &pb::ModelProto,
    io: &Io,
    path: &Path,
    dir: Option<&str>,
) -> Result<(InferenceModel, HashMap<String, OutletId>)> {
    let parsed = contain(path, "parsing", || {
        tract_onnx::onnx()
            .parse(proto, dir)
            .map_err(|e| model_err(path, format!("tract could not parse the model: {e:#}")))
    })?;
    if !parsed.unresolved_inputs.is_empty() {
        return Err(model_err(
            path,
            format!(
                "tensors used but never defined: {}",
                parsed
                    .unresolved_inputs
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let mut model = parsed.model;
    let fact = InferenceFact::dt_shape(f32::datum_type(), io.input_shape.clone());
    contain(path, "typing the input of", || {
        model
            .set_input_fact(0, fact)
            .map_err(|e| model_err(path, format!("input `{}`: {e:#}", io.input)))
    })?;
    Ok((model, parsed.outlets_by_name))
}

/// A decoded model with tract's facts about every named tensor.
pub(crate) struct TypedOnnx {
    pub proto: pb::ModelProto,
    pub path: PathBuf,
    pub io: Io,
    /// `ai.onnx` operator set version (0 when absent).
    pub opset: i64,
    /// Concrete shapes of named tensors, as tract inferred them.
    pub shapes: HashMap<String, Vec<usize>>,
    /// Values tract knows statically: initializers, Constant outputs and
    /// anything computed from them alone.
    pub consts: HashMap<String, Arc<Tensor>>,
    /// Names of the graph's initializers (for messages).
    pub initializers: HashSet<String>,
}

/// ZipMap turns probabilities into a sequence of maps: refused, with how
/// to export without it.
fn refuse_zipmap(proto: &pb::ModelProto, path: &Path) -> Result<()> {
    let graph = proto.graph.as_ref().expect("checked by decode");
    if let Some((i, n)) = graph
        .node
        .iter()
        .enumerate()
        .find(|(_, n)| n.op_type == "ZipMap")
    {
        let name = if n.name.is_empty() {
            format!("ZipMap#{i}")
        } else {
            n.name.clone()
        };
        return Err(model_err(
            path,
            format!("node `{name}` (ZipMap): ZipMap (probabilities as a list of maps) is not supported: export the classifier with `zipmap=False` (skl2onnx: options={{id(model): {{'zipmap': False}}}}; onnxmltools: zipmap=False) so the probabilities are one tensor"),
        ));
    }
    Ok(())
}

fn node(
    op: &str,
    inputs: &[&str],
    outputs: &[&str],
    attrs: Vec<pb::AttributeProto>,
) -> pb::NodeProto {
    pb::NodeProto {
        op_type: op.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute: attrs,
        ..Default::default()
    }
}

fn int_attr(name: &str, v: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Int as i32,
        i: v,
        ..Default::default()
    }
}

fn ints_len(n: &pb::NodeProto, name: &str) -> usize {
    n.attribute
        .iter()
        .find(|a| a.name == name)
        .map_or(0, |a| a.ints.len().max(a.strings.len()))
}

/// The columns an ONNX-ML model op outputs (targets or classes), from its
/// attributes; 1 when unknown (the lowering checks them properly).
fn ml_columns(n: &pb::NodeProto) -> usize {
    let int = |name: &str| n.attribute.iter().find(|a| a.name == name).map(|a| a.i);
    let c = match n.op_type.as_str() {
        "LinearRegressor" => int("targets").unwrap_or(1) as usize,
        "TreeEnsembleRegressor" => int("n_targets").unwrap_or(1) as usize,
        "LinearClassifier" => {
            ints_len(n, "classlabels_ints").max(ints_len(n, "classlabels_strings"))
        }
        _ => ints_len(n, "classlabels_int64s").max(ints_len(n, "classlabels_strings")),
    };
    c.max(1)
}

/// A copy of the model in which every ONNX-ML node lfc lowers is replaced,
/// for tract's typing only, by default-domain nodes giving its outputs the
/// same shapes: Identity for the element-wise ones (Scaler, Normalizer),
/// `Expand(Cast(ArgMax(x)), [1, C])` for a model's `[1, C]` output,
/// `ArgMax` of that for a classifier's label, Gather for
/// ArrayFeatureExtractor. The stand-ins depend on the input, so tract
/// folds none of them; the lowering reads the original nodes.
fn typing_stand_ins(proto: &pb::ModelProto) -> pb::ModelProto {
    let mut p = proto.clone();
    let graph = p.graph.as_mut().expect("checked by decode");
    if !graph.node.iter().any(super::ops::is_ml) {
        return p;
    }
    if !p
        .opset_import
        .iter()
        .any(|o| o.domain.is_empty() || o.domain == "ai.onnx")
    {
        p.opset_import.push(pb::OperatorSetIdProto {
            domain: String::new(),
            version: 15,
        });
    }
    let graph = p.graph.as_mut().expect("checked by decode");
    let mut nodes = Vec::new();
    for (i, n) in graph.node.iter().enumerate() {
        if !super::ops::is_ml(n) {
            nodes.push(n.clone());
            continue;
        }
        let x = n.input.first().cloned().unwrap_or_default();
        let out = |k: usize| n.output.get(k).cloned().filter(|s| !s.is_empty());
        match n.op_type.as_str() {
            "Scaler" | "Normalizer" | "Binarizer" => nodes.push(node(
                "Identity",
                &[&x],
                &[&out(0).unwrap_or_default()],
                vec![],
            )),
            "ArrayFeatureExtractor" => {
                let idx = n.input.get(1).cloned().unwrap_or_default();
                nodes.push(node(
                    "Gather",
                    &[&x, &idx],
                    &[&out(0).unwrap_or_default()],
                    vec![int_attr("axis", -1)],
                ))
            }
            _ => {
                let c = ml_columns(n) as i64;
                let t = |s: &str| format!("__lfc_standin{i}_{s}");
                let shape = t("shape");
                graph.initializer.push(pb::TensorProto {
                    name: shape.clone(),
                    dims: vec![2],
                    data_type: pb::tensor_proto::DataType::Int64 as i32,
                    int64_data: vec![1, c],
                    ..Default::default()
                });
                let classifier = n.op_type.ends_with("Classifier");
                let scores = if classifier {
                    out(1).unwrap_or_else(|| t("scores"))
                } else {
                    out(0).unwrap_or_default()
                };
                nodes.push(node(
                    "ArgMax",
                    &[&x],
                    &[&t("am")],
                    vec![int_attr("axis", 1), int_attr("keepdims", 1)],
                ));
                nodes.push(node(
                    "Cast",
                    &[&t("am")],
                    &[&t("f")],
                    vec![int_attr("to", ONNX_FLOAT as i64)],
                ));
                nodes.push(node("Expand", &[&t("f"), &shape], &[&scores], vec![]));
                if let Some(label) = out(0).filter(|_| classifier) {
                    nodes.push(node(
                        "ArgMax",
                        &[&scores],
                        &[&label],
                        vec![int_attr("axis", 1), int_attr("keepdims", 0)],
                    ));
                }
            }
        }
    }
    graph.node = nodes;
    p
}

impl TypedOnnx {
    pub fn from_bytes(bytes: &[u8], path: &Path, dir: Option<&str>) -> Result<TypedOnnx> {
        let proto = decode(bytes, path)?;
        refuse_zipmap(&proto, path)?;
        let io = Io::find(&proto, path)?;
        let typing = typing_stand_ins(&proto);
        let (mut model, outlets) = parse(&typing, &io, path, dir)?;
        let analysed = contain(path, "typing", || Ok(model.analyse(false).map(drop)))?;
        if let Err(e) = analysed {
            // tract could not type the model; an op lfc does not lower at
            // all is the more useful thing to report.
            if let Some(err) = super::lower::first_unsupported(&proto) {
                return Err(err);
            }
            return Err(model_err(
                path,
                format!("tract could not type the model: {e:#}"),
            ));
        }
        let mut shapes = HashMap::new();
        let mut consts = HashMap::new();
        for (name, outlet) in &outlets {
            let Ok(fact) = model.outlet_fact(*outlet) else {
                continue;
            };
            if let Some(dims) = fact.shape.concretize() {
                let dims: Option<Vec<usize>> = dims
                    .iter()
                    .map(|d| d.to_i64().ok().and_then(|v| usize::try_from(v).ok()))
                    .collect();
                if let Some(dims) = dims {
                    shapes.insert(name.clone(), dims);
                }
            }
            if let Some(value) = fact.value.concretize() {
                consts.insert(name.clone(), value);
            }
        }
        let opset = proto
            .opset_import
            .iter()
            .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
            .map(|o| o.version)
            .unwrap_or(0);
        let graph = proto.graph.as_ref().expect("checked by decode");
        let initializers = graph.initializer.iter().map(|t| t.name.clone()).collect();
        Ok(TypedOnnx {
            path: path.to_owned(),
            io,
            opset,
            shapes,
            consts,
            initializers,
            proto,
        })
    }

    pub fn graph(&self) -> &pb::GraphProto {
        self.proto.graph.as_ref().expect("checked by decode")
    }
}
