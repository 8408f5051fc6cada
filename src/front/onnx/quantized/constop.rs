//! Add/Sub/Mul of a quantized tensor and a constant (an initializer), in
//! the shapes onnxruntime's `quantize_static` writes: QDQ (`DQ(x),
//! DQ(constant integers) -> Add | Mul -> Q`) and QOperator (QLinearAdd /
//! QLinearMul with a uint8/int8 initializer as A or B). The constant is
//! broadcast onto the runtime tensor (numpy rules; it may not enlarge it).
//!
//! Each becomes a [`QOpKind::Linear`] with one weight per output (the
//! element itself), so the integer program is the same Dense as a Gemm's:
//! - `x + c`: `v[j] = (s_x / K) * (c[j] * K / s_x + K * (q[j] - zp))`, the
//!   constant a float bias at a fine accumulator unit `s_x / K` (`K` a
//!   power of two as large as the accumulator allows: the program rounds
//!   that bias to `1 / K` of an input quantum, far below the 2^-31 of the
//!   multiplier); `c - x` the weight `-K`, `x - c` the bias negated;
//! - `x * c`: `v[j] = (s_x * |c[j]|) * (sign(c[j]) * (q[j] - zp))`, one
//!   multiplier per element: one rounding, as the real formula.
//!
//! The op's real formula is exact (the simulation computes `x op c`), and
//! the Q's rounding of a Gemm bias to accumulator integers is not applied
//! to it (onnxruntime computes these ops in float).

use super::consts::Konst;
use super::{Pending, Walk};
use crate::front::onnx::lower::Node;
use crate::ir::qgraph::{QId, QOpKind};
use crate::ir::BinaryOp;
use crate::Result;

/// The largest accumulator magnitude lfc aims at for the constant's bias
/// unit (keeps a 32-bit accumulator and a 31-bit multiplier when the
/// constant is within the input's range).
const ACC_BITS: i32 = 30;

/// `c` (dims `c_dims`, reals) broadcast onto the runtime shape `x`.
fn broadcast(node: &Node, c_dims: &[usize], c: &[f64], x: &[usize]) -> Result<Vec<f64>> {
    let err = || {
        node.err(format!(
            "the constant of shape {c_dims:?} does not broadcast onto the quantized operand's shape {x:?} (lfc broadcasts the constant only)"
        ))
    };
    if c_dims.len() > x.len() && c_dims[..c_dims.len() - x.len()].iter().any(|&d| d != 1) {
        return Err(err());
    }
    let cd: Vec<usize> = c_dims[c_dims.len().saturating_sub(x.len())..].to_vec();
    let pad = x.len() - cd.len();
    for (a, &d) in cd.iter().enumerate() {
        if d != 1 && d != x[pad + a] {
            return Err(err());
        }
    }
    let n: usize = x.iter().product();
    let mut out = Vec::with_capacity(n);
    for j in 0..n {
        // The multi-index of j in x, mapped to the constant's flat index.
        let (mut rest, mut flat, mut stride) = (j, 0, 1);
        for a in (0..x.len()).rev() {
            let i = rest % x[a];
            rest /= x[a];
            if a >= pad {
                let d = cd[a - pad];
                if d != 1 {
                    flat += i * stride;
                }
                stride *= d;
            }
        }
        out.push(c[flat]);
    }
    Ok(out)
}

/// The constant operand of an element-wise op.
pub(super) struct Operand<'a> {
    pub konst: &'a Konst,
    /// Its real values (a QOperator constant dequantized with the node's
    /// scale and zero point).
    pub reals: Vec<f64>,
    /// The constant is the first operand (`c - x`).
    pub first: bool,
}

/// The op `x bop c` (`c bop x` when the constant comes first) as a
/// pending Linear over `x`; `fused` names the nodes it stands for.
pub(super) fn pending(
    w: &Walk,
    node: &Node,
    bop: BinaryOp,
    x: QId,
    x_shape: &[usize],
    c: Operand,
    fused: Vec<String>,
) -> Result<Pending> {
    let const_first = c.first;
    let cv = broadcast(node, &c.konst.dims, &c.reals, x_shape)?;
    if let Some(v) = cv.iter().find(|v| !v.is_finite()) {
        return Err(node.err(format!("the constant holds {v}")));
    }
    let t = &w.tensor(x).ty;
    let n = cv.len();
    let mut weight = vec![0i64; n * n];
    let mut bias = vec![0.0; n];
    let mut acc_scale = vec![t.scale; n];
    match bop {
        BinaryOp::Mul => {
            for (j, &c) in cv.iter().enumerate() {
                weight[j * n + j] = c.signum() as i64 * (c != 0.0) as i64;
                if c != 0.0 {
                    acc_scale[j] = t.scale * c.abs();
                }
            }
        }
        BinaryOp::Add | BinaryOp::Sub => {
            let span = (t.qmax - t.qmin) as f64;
            let reach = span + cv.iter().fold(0.0f64, |m, c| m.max(c.abs())) / t.scale;
            let k = (ACC_BITS - reach.log2().ceil() as i32).clamp(0, 24);
            let kk = (k as f64).exp2();
            // x - c subtracts the constant; c - x negates the tensor.
            let (wx, wc) = match (bop, const_first) {
                (BinaryOp::Sub, false) => (1.0, -1.0),
                (BinaryOp::Sub, true) => (-1.0, 1.0),
                _ => (1.0, 1.0),
            };
            for (j, &c) in cv.iter().enumerate() {
                weight[j * n + j] = (wx * kk) as i64;
                bias[j] = wc * c * kk / t.scale;
                acc_scale[j] = t.scale / kk;
            }
        }
    }
    Ok(Pending {
        kind: QOpKind::Linear {
            weight,
            bias,
            acc_scale,
            clamp: None,
            weight_scale: vec![],
        },
        inputs: vec![x],
        node: node.name.clone(),
        onnx_op: node.op().to_owned(),
        fused,
        len: n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::pb::NodeProto;

    #[test]
    fn constants_broadcast_numpy_style_onto_the_tensor_only() {
        let proto = NodeProto {
            name: "add".into(),
            op_type: "Add".into(),
            ..Default::default()
        };
        let node = Node {
            proto: &proto,
            name: "add".into(),
        };
        let x = [1, 2, 2, 3];
        // Per channel [1, 2, 1, 1].
        let v = broadcast(&node, &[1, 2, 1, 1], &[10.0, 20.0], &x).unwrap();
        assert_eq!(v[..6], [10.0; 6]);
        assert_eq!(v[6..], [20.0; 6]);
        // Last axis, rank 1.
        let v = broadcast(&node, &[3], &[1.0, 2.0, 3.0], &x).unwrap();
        assert_eq!(v[3..6], [1.0, 2.0, 3.0]);
        // A scalar.
        assert_eq!(broadcast(&node, &[], &[5.0], &x).unwrap(), vec![5.0; 12]);
        // [2, 1, 3]: channel-major, then the last axis.
        let c: Vec<f64> = (0..6).map(|i| i as f64).collect();
        let v = broadcast(&node, &[2, 1, 3], &c, &x).unwrap();
        assert_eq!(v, [0., 1., 2., 0., 1., 2., 3., 4., 5., 3., 4., 5.]);
        // Enlarging the tensor is refused, naming the node.
        let e = broadcast(&node, &[2, 2, 2, 3], &[0.0; 24], &x).unwrap_err();
        assert!(e.to_string().contains("`add`"), "{e}");
        assert!(broadcast(&node, &[4], &[0.0; 4], &x).is_err());
    }
}
