//! Quantized ONNX import (issue 8): QDQ and QOperator models keep their own
//! scales and zero points.
//!
//! A model holding any quantization op ([`QUANT_OPS`]) is read here instead
//! of through tract (which has no `com.microsoft` ops): the nodes are walked
//! in file order and every ONNX tensor name is bound to a [`Sym`]:
//! - the float graph input, until its QuantizeLinear;
//! - a runtime quantized tensor (a [`QId`]) or its DequantizeLinear;
//! - a float result waiting for the QuantizeLinear that ends its QDQ group
//!   (`DQ -> Gemm -> [Relu] -> Q` becomes one [`QOpKind::Linear`]);
//! - a constant (with its integers when it is a DequantizeLinear of one).
//!
//! QOperator nodes (QGemm, QLinearMatMul…) map to the same ops directly.
//! What does not fit these forms is refused with the node named.

mod concat;
mod constop;
mod consts;
mod elementwise;
mod linear;
mod maxpool;

use std::collections::HashMap;
use std::path::Path;

use tract_onnx::pb;

use super::lower::Node;
use super::model::Io;
use crate::ir::qgraph::{QGraph, QId, QOp, QOpKind, QOutput, QTensor, QType};
use crate::{Error, Result};
use consts::{ConstQuant, Data, IntType, Konst};

/// Op types that make a model a quantized one.
pub const QUANT_OPS: &[&str] = &[
    "ConvInteger",
    "DequantizeLinear",
    "DynamicQuantizeLinear",
    "MatMulInteger",
    "QGemm",
    "QLinearAdd",
    "QLinearAveragePool",
    "QLinearConcat",
    "QLinearConv",
    "QLinearGlobalAveragePool",
    "QLinearLeakyRelu",
    "QLinearMatMul",
    "QLinearMul",
    "QLinearSigmoid",
    "QuantizeLinear",
];

/// Whether the model is quantized (has any of [`QUANT_OPS`]).
pub(crate) fn is_quantized(proto: &pb::ModelProto) -> bool {
    proto.graph.as_ref().is_some_and(|g| {
        g.node
            .iter()
            .any(|n| QUANT_OPS.contains(&n.op_type.as_str()))
    })
}

/// A float value computed from quantized sources, waiting for the
/// QuantizeLinear that gives it a type.
#[derive(Clone, Debug)]
pub(crate) struct Pending {
    pub kind: QOpKind,
    pub inputs: Vec<QId>,
    pub node: String,
    pub onnx_op: String,
    pub fused: Vec<String>,
    pub len: usize,
}

#[derive(Clone, Debug)]
pub(crate) enum Sym {
    /// The float graph input.
    Input,
    /// A runtime quantized tensor.
    Quant(QId),
    /// DequantizeLinear of a runtime quantized tensor (by node `String`).
    Deq(QId, String),
    Pending(Box<Pending>),
    Const(Konst),
}

/// The walk's state.
pub(crate) struct Walk<'a> {
    pub path: &'a Path,
    pub opset: i64,
    pub graph: QGraph,
    pub syms: HashMap<String, Sym>,
    pub shapes: HashMap<String, Vec<usize>>,
    /// DequantizeLinear nodes of constants, by their output name.
    pub const_dq: HashMap<String, String>,
    input_set: bool,
    /// The graph input's integer type, when it is not float.
    int_input: Option<IntType>,
}

impl<'a> Walk<'a> {
    pub fn sym(&self, node: &Node, i: usize) -> Result<&Sym> {
        let name = node.required_input(i)?;
        self.syms.get(name).ok_or_else(|| {
            node.err(format!(
                "input `{name}` is neither a constant nor the output of an earlier node"
            ))
        })
    }

    pub fn shape(&self, node: &Node, i: usize) -> Result<Vec<usize>> {
        let name = node.required_input(i)?;
        if let Some(Sym::Const(k)) = self.syms.get(name) {
            return Ok(k.dims.clone());
        }
        self.shapes
            .get(name)
            .cloned()
            .ok_or_else(|| node.err(format!("the shape of `{name}` is not known")))
    }

    /// Input `i` as a constant (`what` names it in the message).
    pub fn konst(&self, node: &Node, i: usize, what: &str) -> Result<Konst> {
        match self.sym(node, i)? {
            Sym::Const(k) => Ok(k.clone()),
            _ => Err(node.err(format!(
                "{what} (`{}`) must be a constant",
                node.required_input(i)?
            ))),
        }
    }

    /// Optional input `i` as a constant.
    pub fn opt_konst(&self, node: &Node, i: usize, what: &str) -> Result<Option<Konst>> {
        match node.input(i) {
            None => Ok(None),
            Some(_) => self.konst(node, i, what).map(Some),
        }
    }

    /// Input `i` as a runtime quantized tensor (a QOperator node's input).
    pub fn quant(&self, node: &Node, i: usize) -> Result<QId> {
        match self.sym(node, i)? {
            Sym::Quant(q) => Ok(*q),
            _ => Err(node.err(format!(
                "input `{}` must be a quantized runtime tensor (the output of a QuantizeLinear or a QLinear op)",
                node.required_input(i)?
            ))),
        }
    }

    /// Input `i` as DequantizeLinear of a runtime tensor (a QDQ op's input),
    /// with the DQ node's name.
    pub fn deq(&self, node: &Node, i: usize) -> Result<(QId, String)> {
        match self.sym(node, i)? {
            Sym::Deq(q, dq) => Ok((*q, dq.clone())),
            Sym::Input => Err(node.err(format!(
                "reads the float graph input `{}` directly; lfc imports quantized models whose input goes through a QuantizeLinear first",
                node.required_input(i)?
            ))),
            Sym::Pending(p) => Err(node.err(format!(
                "input `{}` is the float result of node `{}` with no QuantizeLinear/DequantizeLinear pair after it; lfc fuses one float op (plus a Relu/Clip) per QDQ group",
                node.required_input(i)?,
                p.node
            ))),
            _ => Err(node.err(format!(
                "input `{}` must be the DequantizeLinear of a runtime quantized tensor",
                node.required_input(i)?
            ))),
        }
    }

    pub fn tensor(&self, q: QId) -> &QTensor {
        self.graph.tensor(q)
    }

    pub fn add_tensor(&mut self, name: &str, len: usize, ty: QType) -> QId {
        self.graph.tensors.push(QTensor {
            name: name.to_owned(),
            len,
            ty,
        });
        QId(self.graph.tensors.len() as u32 - 1)
    }

    /// Binds the node's first output.
    pub fn bind(&mut self, node: &Node, sym: Sym, shape: Option<Vec<usize>>) -> Result<()> {
        let out = node.output()?.to_owned();
        if let Some(s) = shape {
            self.shapes.insert(out.clone(), s);
        }
        self.syms.insert(out, sym);
        Ok(())
    }

    /// Appends a finished op writing a new tensor named after the node's
    /// output, and binds the output to it.
    pub fn push_op(
        &mut self,
        node: &Node,
        p: Pending,
        ty: QType,
        shape: Vec<usize>,
    ) -> Result<QId> {
        let out = node.output()?.to_owned();
        let id = self.add_tensor(&out, p.len, ty);
        self.graph.ops.push(QOp {
            node: p.node,
            onnx_op: p.onnx_op,
            fused: p.fused,
            kind: p.kind,
            inputs: p.inputs,
            output: id,
        });
        self.bind(node, Sym::Quant(id), Some(shape))?;
        Ok(id)
    }
}

/// The quantization type given by a scale and an optional zero point
/// (QuantizeLinear's inputs 1 and 2, or a QLinear op's pair); `default`
/// is the element type when the zero point is absent.
pub(crate) fn qtype(
    node: &Node,
    scale: &Konst,
    zp: Option<&Konst>,
    default: IntType,
) -> Result<QType> {
    let s = scale.reals();
    if s.len() != 1 {
        return Err(node.err(format!(
            "scale has {} values: per-axis quantization of a runtime tensor is not supported (only of constant weights)",
            s.len()
        )));
    }
    let (elem, z) = match zp {
        None => (default, 0),
        Some(k) => match k.ints() {
            Some((t, v)) if v.len() == 1 => (t, v[0]),
            Some((_, v)) => {
                return Err(node.err(format!(
                    "zero point has {} values; a runtime tensor takes one",
                    v.len()
                )))
            }
            None => return Err(node.err("zero point must be an integer tensor")),
        },
    };
    elem_type_ok(node, elem)?;
    if !(s[0].is_finite() && s[0] > 0.0) {
        return Err(node.err(format!("scale {} is not a positive finite number", s[0])));
    }
    let (qmin, qmax) = elem.range();
    if z < qmin || z > qmax {
        return Err(node.err(format!("zero point {z} is outside {}", elem.name())));
    }
    Ok(QType {
        elem: elem.name(),
        bits: elem.bits(),
        qmin,
        qmax,
        scale: s[0],
        zero_point: z,
    })
}

fn elem_type_ok(node: &Node, elem: IntType) -> Result<()> {
    match elem {
        IntType::I8 | IntType::U8 | IntType::I16 | IntType::U16 => Ok(()),
        other => Err(node.err(format!(
            "quantization to {} is not supported (int8, uint8, int16 and uint16 are)",
            other.name()
        ))),
    }
}

/// Loads a quantized model (already decoded and checked).
pub(crate) fn load(proto: &pb::ModelProto, path: &Path) -> Result<QGraph> {
    let (io, int_input) = find_io(proto, path)?;
    let graph = proto.graph.as_ref().expect("checked by decode");
    let opset = proto
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .unwrap_or(0);
    let mut w = Walk {
        path,
        opset,
        graph: QGraph {
            tensors: Vec::new(),
            ops: Vec::new(),
            input_name: io.input.clone(),
            input: QId(0),
            input_node: String::new(),
            input_integer: int_input.is_some(),
            outputs: Vec::new(),
        },
        syms: HashMap::new(),
        shapes: HashMap::new(),
        const_dq: HashMap::new(),
        input_set: false,
        int_input,
    };
    for t in &graph.initializer {
        let k = consts::decode(t).map_err(|r| Error::Model {
            path: path.to_owned(),
            reason: r,
        })?;
        w.syms.insert(t.name.clone(), Sym::Const(k));
    }
    w.syms.insert(io.input.clone(), Sym::Input);
    w.shapes.insert(io.input.clone(), io.input_shape.clone());
    for (i, proto) in graph.node.iter().enumerate() {
        let name = if proto.name.is_empty() {
            format!("{}#{i}", proto.op_type)
        } else {
            proto.name.clone()
        };
        let node = Node { proto, name };
        walk_node(&mut w, &node)?;
    }
    if !w.input_set {
        return Err(Error::Model {
            path: path.to_owned(),
            reason: format!(
                "the input `{}` reaches no QuantizeLinear; lfc imports quantized models whose input is quantized first",
                io.input
            ),
        });
    }
    for out in &io.outputs {
        let o = graph_output(&w, out)?;
        w.graph.outputs.push(o);
    }
    Ok(w.graph)
}

/// The runtime input and the outputs; an integer input (int8, uint8,
/// int16, uint16) is accepted, as the quantized node tests have.
fn find_io(proto: &pb::ModelProto, path: &Path) -> Result<(Io, Option<IntType>)> {
    let graph = proto.graph.as_ref().expect("checked by decode");
    let inits: std::collections::HashSet<&str> =
        graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let runtime: Vec<&pb::ValueInfoProto> = graph
        .input
        .iter()
        .filter(|i| !inits.contains(i.name.as_str()))
        .collect();
    let elem = match runtime.as_slice() {
        [one] => match one.r#type.as_ref().and_then(|t| t.value.as_ref()) {
            Some(pb::type_proto::Value::TensorType(t)) => IntType::from_onnx(t.elem_type)
                .filter(|e| !matches!(e, IntType::I32 | IntType::I64)),
            _ => None,
        },
        _ => None,
    };
    let Some(elem) = elem else {
        return Ok((Io::find(proto, path)?, None));
    };
    let mut patched = proto.clone();
    let g = patched.graph.as_mut().expect("checked by decode");
    for i in g.input.iter_mut().filter(|i| i.name == runtime[0].name) {
        if let Some(pb::type_proto::Value::TensorType(t)) =
            i.r#type.as_mut().and_then(|t| t.value.as_mut())
        {
            t.elem_type = super::model::ONNX_FLOAT;
        }
    }
    Ok((Io::find(&patched, path)?, Some(elem)))
}

/// An integer graph input takes the quantization parameters of the first
/// node reading it (a DequantizeLinear's, a QLinear op's input pair, or a
/// MatMulInteger/ConvInteger zero point at scale 1).
fn integer_input(w: &mut Walk, node: &Node) -> Result<()> {
    let Some(elem) = w.int_input else {
        return Ok(());
    };
    if w.input_set || node.input(0) != Some(w.graph.input_name.as_str()) {
        return Ok(());
    }
    let scale = match node.op() {
        "MatMulInteger" | "ConvInteger" => consts::real_const(vec![], vec![1.0]),
        _ => w.konst(node, 1, "scale")?,
    };
    let zp = w.opt_konst(node, 2, "zero point")?;
    let zp = zp.or(Some(Konst {
        dims: vec![],
        data: Data::Ints(elem, vec![0]),
        quant: None,
    }));
    let ty = qtype(node, &scale, zp.as_ref(), elem)?;
    if ty.elem != elem.name() {
        return Err(node.err(format!(
            "the zero point is {}, the graph input {}",
            ty.elem,
            elem.name()
        )));
    }
    let name = w.graph.input_name.clone();
    let len: usize = w.shapes[&name].iter().product();
    let id = w.add_tensor(&name, len, ty);
    w.graph.input = id;
    w.graph.input_node = node.name.clone();
    w.input_set = true;
    w.syms.insert(name, Sym::Quant(id));
    Ok(())
}

fn graph_output(w: &Walk, name: &str) -> Result<QOutput> {
    let err = |reason: String| Error::Model {
        path: w.path.to_owned(),
        reason,
    };
    match w.syms.get(name) {
        Some(Sym::Deq(q, _)) => Ok(QOutput {
            name: name.to_owned(),
            tensor: *q,
            real: true,
        }),
        Some(Sym::Quant(q)) => Ok(QOutput {
            name: name.to_owned(),
            tensor: *q,
            real: false,
        }),
        Some(Sym::Pending(p)) => Err(err(format!(
            "output `{name}` is the float result of node `{}` ({}) with no QuantizeLinear after it; lfc answers quantized outputs (a QuantizeLinear, optionally followed by a DequantizeLinear)",
            p.node, p.onnx_op
        ))),
        Some(Sym::Input) => Err(err(format!("output `{name}` is the graph input itself"))),
        Some(Sym::Const(_)) => Err(err(format!(
            "output `{name}` is a constant: it does not depend on the input"
        ))),
        None => Err(err(format!("output `{name}` is not produced by any node"))),
    }
}

fn walk_node(w: &mut Walk, node: &Node) -> Result<()> {
    if matches!(node.op(), "QuantizeLinear" | "DequantizeLinear") {
        q_attrs(node)?;
    }
    integer_input(w, node)?;
    let domain = node.proto.domain.as_str();
    let op = node.op();
    match (domain, op) {
        (_, "Constant") => {
            let k = consts::constant_node(node.proto).map_err(|r| node.err(r))?;
            w.bind(node, Sym::Const(k), None)
        }
        ("" | "ai.onnx", "QuantizeLinear") => quantize_linear(w, node),
        ("" | "ai.onnx", "DequantizeLinear") => dequantize_linear(w, node),
        (_, "DynamicQuantizeLinear") => Err(node.err(
            "dynamic quantization computes its scales at run time from each input, which a fixed-point snapshot cannot do; quantize the model statically instead (onnxruntime's quantize_static with calibration rows, QDQ or QOperator format), or compile the float model with lfc's own quantizer (--calibration / --input-range)",
        )),
        ("" | "ai.onnx", "Gemm" | "MatMul" | "Conv" | "AveragePool" | "GlobalAveragePool") => {
            linear::qdq(w, node)
        }
        ("" | "ai.onnx", "QLinearMatMul" | "MatMulInteger" | "QLinearConv" | "ConvInteger")
        | ("com.microsoft", "QGemm" | "QLinearAveragePool" | "QLinearGlobalAveragePool") => {
            linear::qoperator(w, node)
        }
        ("com.microsoft", "QLinearAdd" | "QLinearMul" | "QLinearSigmoid" | "QLinearLeakyRelu") => {
            elementwise::qoperator(w, node)
        }
        ("com.microsoft", "QLinearConcat") => concat::qoperator(w, node),
        ("" | "ai.onnx", "MaxPool") => maxpool::max_pool(w, node),
        ("" | "ai.onnx", "Concat") => concat::qdq(w, node),
        ("" | "ai.onnx", _) if elementwise::is_alias(op) => elementwise::alias(w, node),
        ("" | "ai.onnx", "Add" | "Sub" | "Mul") => elementwise::binary(w, node),
        ("" | "ai.onnx", _) if elementwise::is_unary(op) => elementwise::unary(w, node),
        _ => Err(node.err(format!(
            "unsupported op{} in a quantized model; lfc imports QuantizeLinear, DequantizeLinear, {} and the QDQ groups around Gemm, MatMul, Conv, AveragePool, GlobalAveragePool, MaxPool, Add, Sub, Mul, Concat and the activations {}",
            if domain.is_empty() { String::new() } else { format!(" (domain `{domain}`)") },
            "QGemm, QLinearMatMul, QLinearConv, MatMulInteger, ConvInteger, QLinearAdd, QLinearMul, QLinearSigmoid, QLinearLeakyRelu, QLinearAveragePool, QLinearGlobalAveragePool, QLinearConcat, MaxPool on a quantized tensor",
            elementwise::UNARY.join(", ")
        ))),
    }
}

/// Refuses opset 21's blocked quantization and non-integer output types.
fn q_attrs(node: &Node) -> Result<()> {
    if node.attr_i64_or("block_size", 0)? != 0 {
        return Err(node.err(
            "blocked quantization (`block_size`, opset 21) is not supported: lfc imports per-tensor and per-axis scales only",
        ));
    }
    if let Some(dt) = node.attr_i64("output_dtype")? {
        match IntType::from_onnx(dt as i32) {
            Some(t) => elem_type_ok(node, t)?,
            None => {
                return Err(node.err(format!(
                "output_dtype {dt} is not an integer type lfc imports (int8, uint8, int16, uint16)"
            )))
            }
        }
    }
    Ok(())
}

fn default_elem(node: &Node) -> Result<IntType> {
    Ok(node
        .attr_i64("output_dtype")?
        .and_then(|d| IntType::from_onnx(d as i32))
        .unwrap_or(IntType::U8))
}

fn quantize_linear(w: &mut Walk, node: &Node) -> Result<()> {
    q_attrs(node)?;
    let scale = w.konst(node, 1, "y_scale")?;
    let zp = w.opt_konst(node, 2, "y_zero_point")?;
    let shape = w.shape(node, 0)?;
    let len: usize = shape.iter().product();
    match w.sym(node, 0)?.clone() {
        Sym::Input => {
            if w.input_set {
                return Err(node.err(
                    "a second QuantizeLinear of the graph input; lfc quantizes the input once",
                ));
            }
            let ty = qtype(node, &scale, zp.as_ref(), default_elem(node)?)?;
            let out = node.output()?.to_owned();
            let id = w.add_tensor(&out, len, ty);
            w.graph.input = id;
            w.graph.input_node = node.name.clone();
            w.input_set = true;
            w.bind(node, Sym::Quant(id), Some(shape))
        }
        Sym::Pending(p) => {
            let ty = qtype(node, &scale, zp.as_ref(), default_elem(node)?)?;
            let mut p = *p;
            p.fused.push(node.name.clone());
            match p.kind {
                QOpKind::Concat { .. } => return concat::finish(w, node, p, ty, shape),
                QOpKind::GroupMax { .. } => return maxpool::finish(w, node, p, ty, shape),
                _ => {}
            }
            // A float bias becomes accumulator integers, as onnxruntime's
            // QDQ fusion into QGemm/QLinearMatMul/QLinearConv rounds it.
            // (Not a constant Add/Mul's bias: onnxruntime computes those
            // in float, and their bias unit is finer than an integer.)
            let fused_bias = matches!(p.onnx_op.as_str(), "Gemm" | "MatMul" | "Conv");
            if let (QOpKind::Linear { bias, .. }, true) = (&mut p.kind, fused_bias) {
                for b in bias.iter_mut() {
                    *b = b.round_ties_even();
                }
            }
            w.push_op(node, p, ty, shape).map(|_| ())
        }
        Sym::Deq(q, dq) => {
            let ty = qtype(node, &scale, zp.as_ref(), default_elem(node)?)?;
            // DQ -> Q with the same parameters (around a Reshape or
            // Flatten): the same integers.
            if ty == w.tensor(q).ty {
                return w.bind(node, Sym::Quant(q), Some(shape));
            }
            // DQ -> Q with new parameters: a requantization (identity table).
            let p = Pending {
                kind: QOpKind::Unary {
                    func: crate::ir::LutFunc::Identity,
                },
                inputs: vec![q],
                node: node.name.clone(),
                onnx_op: "QuantizeLinear".into(),
                fused: vec![dq, node.name.clone()],
                len,
            };
            w.push_op(node, p, ty, shape).map(|_| ())
        }
        Sym::Const(_) => {
            Err(node.err("quantizes a constant at run time; fold it into an integer initializer"))
        }
        Sym::Quant(_) => Err(node.err("input is already quantized (an integer tensor)")),
    }
}

fn dequantize_linear(w: &mut Walk, node: &Node) -> Result<()> {
    q_attrs(node)?;
    let scale = w.konst(node, 1, "x_scale")?;
    let zp = w.opt_konst(node, 2, "x_zero_point")?;
    match w.sym(node, 0)?.clone() {
        Sym::Quant(q) => {
            let t = w.tensor(q).ty.clone();
            let elem = IntType::from_name(t.elem).unwrap_or(IntType::I32);
            let want = qtype(node, &scale, zp.as_ref(), elem)?;
            if want.scale != t.scale || want.zero_point != t.zero_point || want.elem != t.elem {
                return Err(node.err(format!(
                    "dequantizes `{}` ({} scale {:e}, zero point {}) with other parameters ({} scale {:e}, zero point {}); lfc needs a DequantizeLinear to use the parameters its tensor was quantized with",
                    w.tensor(q).name, t.elem, t.scale, t.zero_point, want.elem, want.scale, want.zero_point
                )));
            }
            let shape = w.shape(node, 0)?;
            w.bind(node, Sym::Deq(q, node.name.clone()), Some(shape))
        }
        Sym::Const(k) => {
            let k = dequantize_const(w, node, k, &scale, zp.as_ref())?;
            w.const_dq
                .insert(node.output()?.to_owned(), node.name.clone());
            w.bind(node, Sym::Const(k), None)
        }
        Sym::Input => Err(node.err(
            "dequantizes the graph input; lfc takes a float input that a QuantizeLinear quantizes",
        )),
        _ => Err(node.err(format!(
            "input `{}` is not a quantized tensor",
            node.required_input(0)?
        ))),
    }
}

/// DequantizeLinear of an integer constant: per tensor, or per axis
/// (`axis`, default 1).
fn dequantize_const(
    w: &Walk,
    node: &Node,
    k: Konst,
    scale: &Konst,
    zp: Option<&Konst>,
) -> Result<Konst> {
    let Some((elem, ints)) = k.ints() else {
        return Err(node.err("dequantizes a float constant"));
    };
    let ints = ints.to_vec();
    let s = scale.reals();
    let z: Vec<i64> = match zp {
        None => vec![0; s.len()],
        Some(zk) => match zk.ints() {
            Some((_, v)) => v.to_vec(),
            None => return Err(node.err("zero point must be an integer tensor")),
        },
    };
    if z.len() != s.len() {
        return Err(node.err(format!(
            "zero point has {} values, the scale {}",
            z.len(),
            s.len()
        )));
    }
    if let Some((i, v)) = s
        .iter()
        .enumerate()
        .find(|(_, v)| !(v.is_finite() && **v > 0.0))
    {
        return Err(node.err(format!("scale {i} is {v}, not a positive finite number")));
    }
    let axis = if s.len() == 1 && scale.dims.len() <= 1 {
        None
    } else {
        let r = k.dims.len() as i64;
        let a = node.attr_i64_or("axis", 1)?;
        let a = if a < 0 { a + r } else { a };
        if a < 0 || a >= r || k.dims[a as usize] != s.len() {
            return Err(node.err(format!(
                "per-axis scale of {} values along axis {a} of a constant of shape {:?}",
                s.len(),
                k.dims
            )));
        }
        Some(a as usize)
    };
    let _ = w.opset;
    let inner: usize = match axis {
        Some(a) => k.dims[a + 1..].iter().product(),
        None => 1,
    };
    let reals: Vec<f64> = ints
        .iter()
        .enumerate()
        .map(|(i, &q)| {
            let c = if axis.is_some() {
                (i / inner) % s.len()
            } else {
                0
            };
            (q - z[c]) as f64 * s[c]
        })
        .collect();
    Ok(Konst {
        dims: k.dims.clone(),
        data: Data::Reals(reals),
        quant: Some(ConstQuant {
            elem,
            ints,
            scale: s,
            zero_point: z,
            axis,
        }),
    })
}
