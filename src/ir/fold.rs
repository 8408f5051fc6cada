//! Rewrites of the float graph that remove work before quantization, run to
//! a fixed point (as tract's declutter patches):
//!
//! - `Gather(Gather(x))` becomes one Gather (the maps compose);
//! - `Dense(Gather(x))` reads `x` directly: the index map moves into the
//!   weight columns (a Transpose before a Conv or Gemm costs nothing);
//! - `Gather(Dense(x))` becomes a Dense of the gathered rows;
//! - `Affine(Dense(x))` (BatchNormalization, Mul/Div/Add by constants after
//!   a Gemm or Conv) becomes one Dense: `W'[j] = s[j] W[j]`,
//!   `b'[j] = s[j] b[j] + o[j]`;
//! - `Dense(Affine(x))` likewise: `W'[j][i] = W[j][i] s[i]`,
//!   `b'[j] = b[j] + sum_i W[j][i] o[i]`;
//! - `Mul(x, Sigmoid(x))` becomes one `x * sigmoid(x)` table (Swish/SiLU);
//! - `Dense(Dense(x))` becomes one Dense when the product has no more
//!   non-zero weights than the two (pools after a Conv).
//!
//! A rewrite replaces the later op (so the graph outputs keep their values) and
//! only consumes an earlier op that nothing else reads; ops left without a
//! reader are then dropped. Each rewrite is exact in real arithmetic; in f32
//! it reorders roundings only.

use std::collections::HashMap;

use super::graph::{Activation, BinaryOp, Graph, Op, OpKind, ValueId};
use super::LutFunc;

/// How many ops read each value; each graph output counts as a reader.
fn readers(g: &Graph) -> HashMap<ValueId, usize> {
    let mut n: HashMap<ValueId, usize> = HashMap::new();
    for op in &g.ops {
        for v in &op.inputs {
            *n.entry(*v).or_default() += 1;
        }
    }
    for v in &g.outputs {
        *n.entry(*v).or_default() += 1;
    }
    n
}

/// The index of the op writing `v`, if an op does (not the graph input).
fn producer(g: &Graph, v: ValueId) -> Option<usize> {
    g.ops.iter().position(|op| op.output == v)
}

fn joined(a: &Op, b: &Op) -> (String, String) {
    (
        format!("{}+{}", a.node, b.node),
        format!("{}+{}", a.onnx_op, b.onnx_op),
    )
}

/// `W[j][map[k]] += W_in[j][k]`: a Dense over `y = x[map]` as a Dense over x.
fn fold_columns(weight: &[f32], map: &[usize], src_len: usize) -> Vec<f32> {
    let n_out = weight.len() / map.len().max(1);
    let mut w = vec![0f32; n_out * src_len];
    for j in 0..n_out {
        for (k, &i) in map.iter().enumerate() {
            w[j * src_len + i] += weight[j * map.len() + k];
        }
    }
    w
}

/// `W2 (W1 x + b1) + b2` as one Dense `(W2 W1, W2 b1 + b2)`, in f64.
fn compose(w1: &[f32], b1: &[f32], w2: &[f32], b2: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let (mid, n_out) = (b1.len(), b2.len());
    let n_in = w1.len() / mid.max(1);
    let mut w = vec![0f64; n_out * n_in];
    let mut b: Vec<f64> = b2.iter().map(|&v| v as f64).collect();
    for j in 0..n_out {
        for m in 0..mid {
            let c = w2[j * mid + m] as f64;
            if c == 0.0 {
                continue;
            }
            b[j] += c * b1[m] as f64;
            for i in 0..n_in {
                w[j * n_in + i] += c * w1[m * n_in + i] as f64;
            }
        }
    }
    (
        w.into_iter().map(|v| v as f32).collect(),
        b.into_iter().map(|v| v as f32).collect(),
    )
}

/// `Mul(x, Sigmoid(x))` (either order; the Sigmoid read by nothing else)
/// as one `Swish` table: one lookup instead of a table, a product and two
/// roundings.
fn swish(g: &Graph, i: usize, readers: &HashMap<ValueId, usize>) -> Option<Op> {
    let op = &g.ops[i];
    if op.kind != (OpKind::Binary { op: BinaryOp::Mul }) {
        return None;
    }
    let [a, b] = op.inputs[..] else { return None };
    [(a, b), (b, a)].into_iter().find_map(|(x, s)| {
        let p = &g.ops[producer(g, s)?];
        let sig = OpKind::Activation(Activation::Sigmoid);
        (p.kind == sig && p.inputs == [x] && readers.get(&s) == Some(&1)).then(|| {
            let (node, onnx_op) = joined(p, op);
            Op {
                node,
                onnx_op,
                kind: OpKind::Activation(Activation::Table(LutFunc::Swish)),
                inputs: vec![x],
                output: op.output,
            }
        })
    })
}

/// One rewrite of op `i` with the op producing its input, if one applies.
fn rewrite(g: &Graph, i: usize, readers: &HashMap<ValueId, usize>) -> Option<(Op, usize)> {
    let op = &g.ops[i];
    if let Some(op) = swish(g, i, readers) {
        return Some((op, 0));
    }
    let p = producer(g, *op.inputs.first()?)?;
    let prev = &g.ops[p];
    let only_reader = readers.get(&prev.output) == Some(&1);
    let src = *prev.inputs.first()?;
    let src_len = g.value(src).len;
    let kind = match (&prev.kind, &op.kind) {
        (OpKind::Gather { map: inner }, OpKind::Gather { map }) => OpKind::Gather {
            map: map.iter().map(|&k| inner[k]).collect(),
        },
        (OpKind::Gather { map }, OpKind::Dense { weight, bias }) => OpKind::Dense {
            weight: fold_columns(weight, map, src_len),
            bias: bias.clone(),
        },
        (OpKind::Dense { weight, bias }, OpKind::Gather { map }) if only_reader => {
            let n_in = weight.len() / bias.len().max(1);
            OpKind::Dense {
                weight: map
                    .iter()
                    .flat_map(|&j| weight[j * n_in..(j + 1) * n_in].iter().copied())
                    .collect(),
                bias: map.iter().map(|&j| bias[j]).collect(),
            }
        }
        (OpKind::Dense { weight, bias }, OpKind::Affine { scale, offset }) if only_reader => {
            let n_in = weight.len() / bias.len().max(1);
            OpKind::Dense {
                weight: weight
                    .iter()
                    .enumerate()
                    .map(|(k, w)| w * scale[k / n_in])
                    .collect(),
                bias: (0..bias.len())
                    .map(|j| bias[j] * scale[j] + offset[j])
                    .collect(),
            }
        }
        (OpKind::Affine { scale, offset }, OpKind::Dense { weight, bias }) if only_reader => {
            let n_in = scale.len();
            OpKind::Dense {
                weight: weight
                    .iter()
                    .enumerate()
                    .map(|(k, w)| w * scale[k % n_in])
                    .collect(),
                bias: (0..bias.len())
                    .map(|j| {
                        let row = &weight[j * n_in..(j + 1) * n_in];
                        bias[j] + row.iter().zip(offset).map(|(w, o)| w * o).sum::<f32>()
                    })
                    .collect(),
            }
        }
        (
            OpKind::Dense {
                weight: w1,
                bias: b1,
            },
            OpKind::Dense {
                weight: w2,
                bias: b2,
            },
        ) if only_reader => {
            let (w, b) = compose(w1, b1, w2, b2);
            let nnz = |w: &[f32]| w.iter().filter(|v| **v != 0.0).count();
            // Only when the product is not denser than the two together
            // (pooling after a Conv, two Linear layers with nothing between).
            if nnz(&w) > nnz(w1) + nnz(w2) {
                return None;
            }
            OpKind::Dense { weight: w, bias: b }
        }
        _ => return None,
    };
    let (node, onnx_op) = joined(prev, op);
    Some((
        Op {
            node,
            onnx_op,
            kind,
            inputs: vec![src],
            output: op.output,
        },
        p,
    ))
}

/// Drops ops whose output nothing reads; true if it dropped any.
fn drop_dead(g: &mut Graph) -> bool {
    let n = readers(g);
    let before = g.ops.len();
    g.ops
        .retain(|op| n.get(&op.output).copied().unwrap_or(0) > 0);
    g.ops.len() != before
}

/// Applies the rewrites until none applies.
pub fn fold(g: &mut Graph) {
    loop {
        let n = readers(g);
        let hit = (0..g.ops.len()).find_map(|i| rewrite(g, i, &n).map(|r| (i, r)));
        match hit {
            Some((i, (op, _))) => {
                g.ops[i] = op;
                drop_dead(g);
            }
            None if drop_dead(g) => {}
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(kind: OpKind, input: ValueId, output: ValueId, name: &str) -> Op {
        Op {
            node: name.into(),
            onnx_op: name.into(),
            kind,
            inputs: vec![input],
            output,
        }
    }

    /// x[3] -> Gather -> Dense -> Affine -> Gather -> Relu: one Dense and a
    /// Relu remain, and the output is unchanged on a few rows.
    #[test]
    fn folds_maps_and_affines_into_dense() {
        let mut g = Graph::default();
        let x = g.add_value("x", 3);
        let a = g.add_value("a", 3);
        let d = g.add_value("d", 2);
        let s = g.add_value("s", 2);
        let t = g.add_value("t", 2);
        let y = g.add_value("y", 2);
        g.input = x;
        g.outputs = vec![y];
        g.ops = vec![
            op(OpKind::Gather { map: vec![2, 0, 1] }, x, a, "perm"),
            op(
                OpKind::Dense {
                    weight: vec![1.0, 2.0, 3.0, -1.0, 0.5, 0.25],
                    bias: vec![0.1, -0.2],
                },
                a,
                d,
                "fc",
            ),
            op(
                OpKind::Affine {
                    scale: vec![2.0, -3.0],
                    offset: vec![1.0, 0.5],
                },
                d,
                s,
                "bn",
            ),
            op(OpKind::Gather { map: vec![1, 0] }, s, t, "swap"),
            op(OpKind::Activation(Activation::Relu), t, y, "relu"),
        ];
        let before = g.clone();
        fold(&mut g);
        assert_eq!(g.ops.len(), 2, "{:?}", g.ops);
        assert!(matches!(g.ops[0].kind, OpKind::Dense { .. }));
        assert_eq!(g.ops[0].inputs, vec![x]);
        assert_eq!(g.ops[0].node, "perm+fc+bn+swap");
        for row in [[0.0, 0.0, 0.0], [1.0, -2.0, 0.5], [-3.0, 0.25, 4.0]] {
            let (want, got) = (before.eval(&row), g.eval(&row));
            for (w, v) in want.iter().zip(&got) {
                assert!((w - v).abs() < 1e-5, "{row:?}: {want:?} vs {got:?}");
            }
        }
    }

    /// A Dense whose output has a second reader is not merged away.
    #[test]
    fn keeps_a_shared_dense() {
        let mut g = Graph::default();
        let x = g.add_value("x", 1);
        let d = g.add_value("d", 1);
        let s = g.add_value("s", 1);
        let y = g.add_value("y", 1);
        g.input = x;
        g.outputs = vec![y];
        g.ops = vec![
            op(
                OpKind::Dense {
                    weight: vec![2.0],
                    bias: vec![0.0],
                },
                x,
                d,
                "fc",
            ),
            op(
                OpKind::Affine {
                    scale: vec![3.0],
                    offset: vec![0.0],
                },
                d,
                s,
                "mul",
            ),
            Op {
                node: "add".into(),
                onnx_op: "Add".into(),
                kind: OpKind::Binary {
                    op: crate::ir::BinaryOp::Add,
                },
                inputs: vec![d, s],
                output: y,
            },
        ];
        let before = g.clone();
        fold(&mut g);
        assert_eq!(g, before);
    }
}
