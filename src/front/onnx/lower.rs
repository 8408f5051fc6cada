//! The node walk and what every op's lowering function gets to work with.

use std::collections::HashMap;
use std::sync::Arc;

use tract_onnx::pb;
use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::prelude::*;

use super::model::TypedOnnx;
use super::ops;
use crate::ir::{Graph, Op, OpKind, ValueId};
use crate::{Error, Result};

/// One ONNX node, with the name messages use for it.
pub(crate) struct Node<'a> {
    pub proto: &'a pb::NodeProto,
    /// The node's name, or `op_type#index` when it has none.
    pub name: String,
}

impl Node<'_> {
    pub fn op(&self) -> &str {
        &self.proto.op_type
    }

    pub fn err(&self, reason: impl Into<String>) -> Error {
        Error::node(&self.name, self.op(), reason)
    }

    /// Input `i`, or `None` when absent or given as "" (an omitted optional).
    pub fn input(&self, i: usize) -> Option<&str> {
        self.proto
            .input
            .get(i)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    pub fn required_input(&self, i: usize) -> Result<&str> {
        self.input(i)
            .ok_or_else(|| self.err(format!("input {i} is missing")))
    }

    /// The one output every supported op has (further optional outputs,
    /// such as Dropout's mask, must not be used by the graph).
    pub fn output(&self) -> Result<&str> {
        self.proto
            .output
            .first()
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| self.err("the node has no output"))
    }

    fn attr(&self, name: &str) -> Option<&pb::AttributeProto> {
        self.proto.attribute.iter().find(|a| a.name == name)
    }

    fn attr_typed(&self, name: &str, ty: AttributeType) -> Result<Option<&pb::AttributeProto>> {
        match self.attr(name) {
            None => Ok(None),
            Some(a) if a.r#type == ty as i32 => Ok(Some(a)),
            Some(a) => Err(self.err(format!(
                "attribute `{name}` has type {}, expected {}",
                AttributeType::try_from(a.r#type).map_or("?", |t| t.as_str_name()),
                ty.as_str_name()
            ))),
        }
    }

    pub fn attr_f32(&self, name: &str) -> Result<Option<f32>> {
        Ok(self.attr_typed(name, AttributeType::Float)?.map(|a| a.f))
    }

    pub fn attr_i64(&self, name: &str) -> Result<Option<i64>> {
        Ok(self.attr_typed(name, AttributeType::Int)?.map(|a| a.i))
    }

    /// A float attribute that must be finite.
    pub fn attr_f32_or(&self, name: &str, default: f32) -> Result<f32> {
        let v = self.attr_f32(name)?.unwrap_or(default);
        if !v.is_finite() {
            return Err(self.err(format!("attribute `{name}` is {v}")));
        }
        Ok(v)
    }

    pub fn attr_i64_or(&self, name: &str, default: i64) -> Result<i64> {
        Ok(self.attr_i64(name)?.unwrap_or(default))
    }

    pub fn attr_ints(&self, name: &str) -> Result<Option<Vec<i64>>> {
        Ok(self
            .attr_typed(name, AttributeType::Ints)?
            .map(|a| a.ints.clone()))
    }

    pub fn attr_str(&self, name: &str) -> Result<Option<String>> {
        Ok(self
            .attr_typed(name, AttributeType::String)?
            .map(|a| String::from_utf8_lossy(&a.s).into_owned()))
    }

    /// Outputs after the first that the graph uses (named, not "").
    pub fn extra_outputs(&self) -> Vec<&str> {
        self.proto
            .output
            .iter()
            .skip(1)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// A list-of-floats attribute (empty when absent); every value finite.
    pub fn attr_floats(&self, name: &str) -> Result<Vec<f32>> {
        let v = self
            .attr_typed(name, AttributeType::Floats)?
            .map(|a| a.floats.clone())
            .unwrap_or_default();
        if let Some((i, x)) = v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
            return Err(self.err(format!("attribute `{name}` holds {x} at index {i}")));
        }
        Ok(v)
    }

    /// A list-of-ints attribute (empty when absent).
    pub fn attr_ints_list(&self, name: &str) -> Result<Vec<i64>> {
        Ok(self
            .attr_typed(name, AttributeType::Ints)?
            .map(|a| a.ints.clone())
            .unwrap_or_default())
    }

    /// A list-of-strings attribute (empty when absent), as UTF-8.
    pub fn attr_strings(&self, name: &str) -> Result<Vec<String>> {
        Ok(self
            .attr_typed(name, AttributeType::Strings)?
            .map(|a| {
                a.strings
                    .iter()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .collect()
            })
            .unwrap_or_default())
    }

    /// A string attribute, or `default` when absent.
    pub fn attr_string_or(&self, name: &str, default: &str) -> Result<String> {
        Ok(self
            .attr_typed(name, AttributeType::String)?
            .map(|a| String::from_utf8_lossy(&a.s).into_owned())
            .unwrap_or_else(|| default.to_owned()))
    }

    /// Whether the node sets attribute `name` at all.
    pub fn has_attr(&self, name: &str) -> bool {
        self.attr(name).is_some()
    }
}

/// A constant operand, converted to f32 (row-major).
pub(crate) struct Const {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// What an operand of a node is.
pub(crate) enum Operand<'n> {
    /// A runtime tensor: its value and ONNX shape.
    Runtime {
        id: ValueId,
        shape: Vec<usize>,
    },
    Const(&'n str, Arc<Tensor>),
}

/// State of the walk: the graph so far and what is known about each name.
pub(crate) struct Ctx<'m> {
    pub model: &'m TypedOnnx,
    pub graph: Graph,
    /// Runtime tensors by ONNX name; aliases (Reshape, Identity…) share one id.
    values: HashMap<String, ValueId>,
}

impl<'m> Ctx<'m> {
    pub fn opset(&self) -> i64 {
        self.model.opset
    }

    /// The ONNX shape tract inferred for `name`.
    pub fn shape(&self, node: &Node, name: &str) -> Result<Vec<usize>> {
        self.model
            .shapes
            .get(name)
            .cloned()
            .ok_or_else(|| node.err(format!("the shape of `{name}` is not known after typing")))
    }

    /// Classifies input `i`.
    pub fn operand<'n>(&self, node: &Node, name: &'n str) -> Result<Operand<'n>> {
        if let Some(&id) = self.values.get(name) {
            return Ok(Operand::Runtime {
                id,
                shape: self.shape(node, name)?,
            });
        }
        if let Some(t) = self.model.consts.get(name) {
            return Ok(Operand::Const(name, t.clone()));
        }
        Err(node.err(format!(
            "input `{name}` is neither a constant nor the output of an earlier node"
        )))
    }

    /// Input `i`, which must be a runtime tensor.
    pub fn runtime(&self, node: &Node, i: usize) -> Result<(ValueId, Vec<usize>)> {
        let name = node.required_input(i)?;
        match self.operand(node, name)? {
            Operand::Runtime { id, shape } => Ok((id, shape)),
            Operand::Const(..) => Err(node.err(format!(
                "input `{name}` is a constant; lfc expects the runtime tensor here"
            ))),
        }
    }

    /// Converts a constant to f32 and checks its values: NaN is always an
    /// error, infinities unless `allow_inf` (Clip bounds).
    pub fn to_f32(&self, node: &Node, name: &str, t: &Tensor, allow_inf: bool) -> Result<Const> {
        let what = if self.model.initializers.contains(name) {
            format!("initializer `{name}`")
        } else {
            format!("constant `{name}`")
        };
        let conv = t
            .cast_to::<f32>()
            .and_then(|c| {
                Ok(c.to_plain_array_view::<f32>()?
                    .iter()
                    .copied()
                    .collect::<Vec<f32>>())
            })
            .map_err(|e| {
                node.err(format!(
                    "{what} ({:?}) cannot be read as float: {e}",
                    t.datum_type()
                ))
            })?;
        if let Some((i, v)) = conv
            .iter()
            .enumerate()
            .find(|(_, v)| v.is_nan() || (!allow_inf && v.is_infinite()))
        {
            return Err(node.err(format!(
                "{what} contains a non-finite value ({v} at index {i})"
            )));
        }
        Ok(Const {
            shape: t.shape().to_vec(),
            data: conv,
        })
    }

    /// Input `i` as integers (Reshape's shape).
    pub fn constant_i64(&self, node: &Node, i: usize) -> Result<Vec<i64>> {
        let name = node.required_input(i)?;
        match self.operand(node, name)? {
            Operand::Const(_, t) => t
                .cast_to::<i64>()
                .and_then(|c| Ok(c.to_plain_array_view::<i64>()?.iter().copied().collect()))
                .map_err(|e| node.err(format!("`{name}` cannot be read as integers: {e}"))),
            Operand::Runtime { .. } => Err(node.err(format!("input `{name}` must be a constant"))),
        }
    }

    /// Makes the node's output another name for `id` (the layout of a
    /// flattened batch-1 tensor does not change).
    pub fn alias(&mut self, node: &Node, id: ValueId) -> Result<()> {
        let out = node.output()?;
        let len: usize = self.shape(node, out)?.iter().product();
        let have = self.graph.value(id).len;
        if len != have {
            return Err(node.err(format!(
                "output `{out}` has {len} elements but its input has {have}"
            )));
        }
        self.values.insert(out.to_owned(), id);
        Ok(())
    }

    /// Appends an op writing the node's output, a new value of `len`
    /// elements (checked against tract's shape of the output).
    pub fn emit(
        &mut self,
        node: &Node,
        kind: OpKind,
        inputs: Vec<ValueId>,
        len: usize,
    ) -> Result<ValueId> {
        let out = node.output()?.to_owned();
        self.emit_to(node, &out, kind, inputs, len)
    }

    /// Appends an op writing a value of the graph only (no ONNX tensor):
    /// `name` is for messages and comments.
    pub fn emit_internal(
        &mut self,
        node: &Node,
        name: &str,
        kind: OpKind,
        inputs: Vec<ValueId>,
        len: usize,
    ) -> ValueId {
        let id = self.graph.add_value(name, len);
        self.graph.ops.push(Op {
            node: node.name.clone(),
            onnx_op: node.op().to_owned(),
            kind,
            inputs,
            output: id,
        });
        id
    }

    /// [`Ctx::emit`] for a named output of a node with several (Split).
    pub fn emit_to(
        &mut self,
        node: &Node,
        out: &str,
        kind: OpKind,
        inputs: Vec<ValueId>,
        len: usize,
    ) -> Result<ValueId> {
        let tract_len: usize = self.shape(node, out)?.iter().product();
        if tract_len != len {
            return Err(node.err(format!(
                "output `{out}`: lowered to {len} elements but tract types it with {tract_len}"
            )));
        }
        let id = self.graph.add_value(out, len);
        self.graph.ops.push(Op {
            node: node.name.clone(),
            onnx_op: node.op().to_owned(),
            kind,
            inputs,
            output: id,
        });
        self.values.insert(out.to_owned(), id);
        Ok(id)
    }
}

impl Ctx<'_> {
    /// Appends an op writing a new value `name` of `len` elements (for
    /// nodes with several outputs, and values no ONNX tensor names);
    /// `name` is bound when it is one of the node's outputs.
    pub fn push_op(
        &mut self,
        node: &Node,
        kind: OpKind,
        inputs: Vec<ValueId>,
        len: usize,
        name: &str,
        integer: bool,
    ) -> ValueId {
        let id = self.graph.add_value(name, len);
        self.graph.values[id.index()].integer = integer;
        self.graph.ops.push(Op {
            node: node.name.clone(),
            onnx_op: node.op().to_owned(),
            kind,
            inputs,
            output: id,
        });
        if node.proto.output.iter().any(|o| o == name) {
            self.values.insert(name.to_owned(), id);
        }
        id
    }

    /// Binds ONNX name `name` to an existing value.
    pub fn bind_output(&mut self, name: &str, id: ValueId) {
        self.values.insert(name.to_owned(), id);
    }

    /// The op that wrote `id`, if any.
    pub fn producer(&self, id: ValueId) -> Option<&Op> {
        self.graph.ops.iter().find(|op| op.output == id)
    }
}

fn node_name(proto: &pb::NodeProto, index: usize) -> String {
    if proto.name.is_empty() {
        format!("{}#{index}", proto.op_type)
    } else {
        proto.name.clone()
    }
}

fn unsupported(node: &Node) -> Error {
    let domain = &node.proto.domain;
    let what = if domain.is_empty() || domain == "ai.onnx" || domain == "ai.onnx.ml" {
        "unsupported op".to_owned()
    } else {
        format!(
            "unsupported op (domain `{domain}`; only the default ONNX domain and ai.onnx.ml are)"
        )
    };
    node.err(format!(
        "{what}; supported: {}; ai.onnx.ml: {}",
        ops::supported_default_ops().join(", "),
        ops::supported_ml_ops().join(", ")
    ))
}

/// The first node whose op type lfc does not lower, as an error.
pub(crate) fn first_unsupported(proto: &pb::ModelProto) -> Option<Error> {
    let graph = proto.graph.as_ref()?;
    graph.node.iter().enumerate().find_map(|(i, p)| {
        if ops::lookup(p).is_some() {
            return None;
        }
        Some(unsupported(&Node {
            proto: p,
            name: node_name(p, i),
        }))
    })
}

pub(crate) fn lower(model: &TypedOnnx) -> Result<Graph> {
    let mut ctx = Ctx {
        model,
        graph: Graph::default(),
        values: HashMap::new(),
    };
    let input_len = model.io.input_shape.iter().product();
    let input = ctx.graph.add_value(&model.io.input, input_len);
    ctx.graph.input = input;
    ctx.values.insert(model.io.input.clone(), input);

    for (index, proto) in model.graph().node.iter().enumerate() {
        let node = Node {
            proto,
            name: node_name(proto, index),
        };
        // tract folded it: all its outputs are constants, nothing to run.
        let outputs: Vec<&String> = proto.output.iter().filter(|s| !s.is_empty()).collect();
        if !outputs.is_empty() && outputs.iter().all(|o| model.consts.contains_key(*o)) {
            continue;
        }
        let Some(lower_fn) = ops::lookup(proto) else {
            return Err(unsupported(&node));
        };
        lower_fn(&mut ctx, &node)?;
    }

    for out_name in &model.io.outputs {
        let id = graph_output(&ctx, model, out_name)?;
        if ctx.graph.outputs.contains(&id) {
            return Err(Error::Model {
                path: model.path.clone(),
                reason: format!(
                    "output `{out_name}` is another output under a second name; lfc answers each output once"
                ),
            });
        }
        ctx.graph.outputs.push(id);
        // an output reached through aliases (a final Reshape…) is still
        // known by the graph output's name
        if id != ctx.graph.input {
            ctx.graph.values[id.index()].name = out_name.clone();
        }
    }
    let mut graph = ctx.graph;
    crate::ir::fold::fold(&mut graph);
    Ok(graph)
}

fn graph_output(ctx: &Ctx, model: &TypedOnnx, out_name: &str) -> Result<ValueId> {
    match ctx.values.get(out_name) {
        Some(&id) => Ok(id),
        None if model.consts.contains_key(out_name) => Err(Error::Model {
            path: model.path.clone(),
            reason: format!("output `{out_name}` is a constant: it does not depend on the input"),
        }),
        None => Err(Error::Model {
            path: model.path.clone(),
            reason: format!("output `{out_name}` is not produced by any node"),
        }),
    }
}
