//! ONNX-ML (`ai.onnx.ml`) operators, read from the protobuf attributes
//! (tract lacks several of them; `model.rs` gives tract stand-ins of the
//! same output shapes so it can type the rest of the graph).
//!
//! Classifiers produce two outputs, `label` (integer, the class label of
//! the first maximum score: ties go to the lowest class index) and the
//! scores after `post_transform`.

use std::collections::HashMap;

use super::super::lower::{Ctx, Node};
use crate::ir::tree::{Branch, Cmp, Ensemble, NodeRef};
use crate::ir::{Activation, OpKind, ValueId};
use crate::Result;

/// `y = (x - offset) * scale`, per feature (or one value for all).
pub fn scaler(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let (x, shape) = ctx.runtime(node, 0)?;
    let n: usize = shape.iter().product();
    let per = |name: &str, v: Vec<f32>, default: f32| -> Result<Vec<f32>> {
        match v.len() {
            0 => Ok(vec![default; n]),
            1 => Ok(vec![v[0]; n]),
            l if l == n => Ok(v),
            l => Err(node.err(format!(
                "attribute `{name}` has {l} values for {n} features"
            ))),
        }
    };
    let scale = per("scale", node.attr_floats("scale")?, 1.0)?;
    let offset = per("offset", node.attr_floats("offset")?, 0.0)?;
    let off: Vec<f32> = offset.iter().zip(&scale).map(|(o, s)| -o * s).collect();
    ctx.emit(node, OpKind::Affine { scale, offset: off }, vec![x], n)?;
    Ok(())
}

fn post_transform(node: &Node) -> Result<String> {
    let p = node.attr_string_or("post_transform", "NONE")?;
    match p.as_str() {
        "NONE" | "SOFTMAX" | "LOGISTIC" => Ok(p),
        other => Err(node.err(format!(
            "post_transform `{other}` is not supported (NONE, SOFTMAX, LOGISTIC are)"
        ))),
    }
}

/// The feature vector a model op reads: one row of `F` features.
fn features(ctx: &Ctx, node: &Node) -> Result<(ValueId, usize)> {
    let (x, shape) = ctx.runtime(node, 0)?;
    Ok((x, shape.iter().product()))
}

fn dense(
    node: &Node,
    coef: Vec<f32>,
    intercepts: Vec<f32>,
    rows: usize,
    f: usize,
) -> Result<OpKind> {
    if coef.len() != rows * f {
        return Err(node.err(format!(
            "`coefficients` has {} values; {rows} outputs x {f} features need {}",
            coef.len(),
            rows * f
        )));
    }
    let bias = match intercepts.len() {
        0 => vec![0.0; rows],
        l if l == rows => intercepts,
        l => return Err(node.err(format!("`intercepts` has {l} values for {rows} outputs"))),
    };
    Ok(OpKind::Dense { weight: coef, bias })
}

pub fn linear_regressor(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let (x, f) = features(ctx, node)?;
    if post_transform(node)? != "NONE" {
        return Err(node.err("post_transform must be NONE for a regressor"));
    }
    let t = node.attr_i64_or("targets", 1)?.max(1) as usize;
    let kind = dense(
        node,
        node.attr_floats("coefficients")?,
        node.attr_floats("intercepts")?,
        t,
        f,
    )?;
    ctx.emit(node, kind, vec![x], t)?;
    Ok(())
}

/// Integer class labels of a classifier (`attr`), one per score column.
fn labels(node: &Node, attr: &str, classes: usize) -> Result<Vec<i64>> {
    let labels = node.attr_ints_list(attr)?;
    if labels.is_empty() {
        return Err(node.err(format!(
            "only integer class labels (`{attr}`) are supported; string labels cannot be answered by the kernel"
        )));
    }
    if labels.len() != classes {
        return Err(node.err(format!(
            "{} class labels for {classes} score columns; binary classifiers with one score column are not supported",
            labels.len()
        )));
    }
    if labels.iter().any(|l| l.unsigned_abs() > 32767) {
        return Err(node.err("class labels must lie in [-32767, 32767]"));
    }
    Ok(labels)
}

/// Label and post-transformed scores from raw `scores` (`C` columns).
fn classifier_outputs(
    ctx: &mut Ctx,
    node: &Node,
    scores: ValueId,
    labels: Vec<i64>,
    post: &str,
) -> Result<()> {
    let c = labels.len();
    let label_name = node.proto.output.first().cloned().unwrap_or_default();
    let prob_name = node.proto.output.get(1).cloned().unwrap_or_default();
    if !label_name.is_empty() {
        let idx_name = format!("{}#argmax", node.name);
        let idx = ctx.push_op(
            node,
            OpKind::ArgMax { axis_len: c },
            vec![scores],
            1,
            &idx_name,
            true,
        );
        ctx.push_op(
            node,
            OpKind::Lookup { table: labels },
            vec![idx],
            1,
            &label_name,
            true,
        );
    }
    if !prob_name.is_empty() {
        let kind = match post {
            "SOFTMAX" => Some(OpKind::Softmax { axis_len: c }),
            "LOGISTIC" => Some(OpKind::Activation(Activation::Sigmoid)),
            _ => None,
        };
        match kind {
            Some(k) => {
                ctx.push_op(node, k, vec![scores], c, &prob_name, false);
            }
            None => {
                // NONE: the raw scores are the output (rename the value)
                ctx.graph.values[scores.index()].name = prob_name.clone();
                ctx.bind_output(&prob_name, scores);
            }
        }
    }
    Ok(())
}

pub fn linear_classifier(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let (x, f) = features(ctx, node)?;
    let post = post_transform(node)?;
    let coef = node.attr_floats("coefficients")?;
    let c = coef.len().checked_div(f).unwrap_or(0);
    let labels = labels(node, "classlabels_ints", c)?;
    let kind = dense(node, coef, node.attr_floats("intercepts")?, c, f)?;
    let scores = ctx.push_op(
        node,
        kind,
        vec![x],
        c,
        &format!("{}#scores", node.name),
        false,
    );
    classifier_outputs(ctx, node, scores, labels, &post)
}

/// The attributes a tree ensemble is read from.
struct TreeAttrs {
    tree: Vec<i64>,
    id: Vec<i64>,
    feature: Vec<i64>,
    mode: Vec<String>,
    value: Vec<f32>,
    yes: Vec<i64>,
    no: Vec<i64>,
}

fn tree_attrs(node: &Node) -> Result<TreeAttrs> {
    for a in [
        "nodes_values_as_tensor",
        "base_values_as_tensor",
        "target_weights_as_tensor",
        "class_weights_as_tensor",
    ] {
        if node.has_attr(a) {
            return Err(node.err(format!(
                "attribute `{a}` (double precision) is not supported"
            )));
        }
    }
    let t = TreeAttrs {
        tree: node.attr_ints_list("nodes_treeids")?,
        id: node.attr_ints_list("nodes_nodeids")?,
        feature: node.attr_ints_list("nodes_featureids")?,
        mode: node.attr_strings("nodes_modes")?,
        value: node.attr_floats("nodes_values")?,
        yes: node.attr_ints_list("nodes_truenodeids")?,
        no: node.attr_ints_list("nodes_falsenodeids")?,
    };
    let n = t.tree.len();
    if n == 0 {
        return Err(node.err("the ensemble has no nodes"));
    }
    let lens = [
        t.id.len(),
        t.feature.len(),
        t.mode.len(),
        t.value.len(),
        t.yes.len(),
        t.no.len(),
    ];
    if lens.iter().any(|&l| l != n) {
        return Err(node.err(format!(
            "the nodes_* attributes have different lengths ({n}, {lens:?})"
        )));
    }
    Ok(t)
}

struct Builder<'a> {
    node: &'a Node<'a>,
    a: &'a TreeAttrs,
    at: HashMap<(i64, i64), usize>,
    leaf_of: HashMap<(i64, i64), usize>,
    e: Ensemble,
    f: usize,
}

impl Builder<'_> {
    /// Preorder: a branch gets its index before its children are built.
    fn build(&mut self, tree: i64, id: i64, depth: usize) -> Result<NodeRef> {
        let node = self.node;
        if depth > 64 {
            return Err(node.err(format!("tree {tree} is deeper than 64 (or has a cycle)")));
        }
        let &k = self.at.get(&(tree, id)).ok_or_else(|| {
            node.err(format!(
                "tree {tree} refers to node {id}, which does not exist"
            ))
        })?;
        let mode = self.a.mode[k].as_str();
        if mode == "LEAF" {
            let l = *self
                .leaf_of
                .entry((tree, id))
                .or_insert(self.e.leaves.len());
            if l == self.e.leaves.len() {
                self.e.leaves.push(vec![0.0; self.e.n_targets]);
            }
            return Ok(NodeRef::Leaf(l as u32));
        }
        let (cmp, swap) = match mode {
            "BRANCH_LEQ" => (Cmp::Leq, false),
            "BRANCH_LT" => (Cmp::Lt, false),
            "BRANCH_GT" => (Cmp::Leq, true),
            "BRANCH_GTE" => (Cmp::Lt, true),
            "BRANCH_EQ" => return self.equal(tree, id, k, depth, false),
            "BRANCH_NEQ" => return self.equal(tree, id, k, depth, true),
            other => {
                return Err(node.err(format!(
                    "tree {tree} node {id}: mode `{other}` is not supported (BRANCH_LEQ, BRANCH_LT, BRANCH_GT, BRANCH_GTE, BRANCH_EQ, BRANCH_NEQ, LEAF are)"
                )))
            }
        };
        let feature = self.feature(tree, id, k)?;
        let b = self.e.branches.len();
        self.e.branches.push(Branch {
            feature,
            threshold: self.a.value[k],
            cmp,
            yes: NodeRef::Leaf(0),
            no: NodeRef::Leaf(0),
        });
        let t = self.build(tree, self.a.yes[k], depth + 1)?;
        let f = self.build(tree, self.a.no[k], depth + 1)?;
        let (yes, no) = if swap { (f, t) } else { (t, f) };
        self.e.branches[b].yes = yes;
        self.e.branches[b].no = no;
        Ok(NodeRef::Branch(b as u32))
    }

    fn feature(&self, tree: i64, id: i64, k: usize) -> Result<usize> {
        let feature = self.a.feature[k];
        if feature < 0 || feature as usize >= self.f {
            return Err(self.node.err(format!(
                "tree {tree} node {id} tests feature {feature} of {}",
                self.f
            )));
        }
        Ok(feature as usize)
    }

    fn branch(&mut self, feature: usize, threshold: f32, cmp: Cmp) -> usize {
        self.e.branches.push(Branch {
            feature,
            threshold,
            cmp,
            yes: NodeRef::Leaf(0),
            no: NodeRef::Leaf(0),
        });
        self.e.branches.len() - 1
    }

    /// `BRANCH_EQ` (`x == t`; `negate`: `BRANCH_NEQ`, `x != t`) as two
    /// exact tests: `x <= t`, then `x < t`. `x == t` holds exactly when the
    /// first holds and the second does not; both move into the integers
    /// exactly, so a feature equal to the threshold (only possible when `t`
    /// is a value of the tested tensor's grid) takes the `==` side. The
    /// `!=` child is shared by both tests (a child still follows its
    /// parents in the table, so walks stay within the depth).
    fn equal(
        &mut self,
        tree: i64,
        id: i64,
        k: usize,
        depth: usize,
        negate: bool,
    ) -> Result<NodeRef> {
        let feature = self.feature(tree, id, k)?;
        let t = self.a.value[k];
        let leq = self.branch(feature, t, Cmp::Leq);
        let lt = self.branch(feature, t, Cmp::Lt);
        let yes = self.build(tree, self.a.yes[k], depth + 2)?;
        let no = self.build(tree, self.a.no[k], depth + 2)?;
        let (eq, ne) = if negate { (no, yes) } else { (yes, no) };
        self.e.branches[leq].yes = NodeRef::Branch(lt as u32);
        self.e.branches[leq].no = ne;
        self.e.branches[lt].yes = ne;
        self.e.branches[lt].no = eq;
        Ok(NodeRef::Branch(leq as u32))
    }
}

/// Reads the trees and their leaf weights (`prefix` = `target` or `class`).
fn ensemble(node: &Node, f: usize, n_targets: usize, prefix: &str) -> Result<Ensemble> {
    let a = tree_attrs(node)?;
    let at: HashMap<(i64, i64), usize> = (0..a.tree.len())
        .map(|k| ((a.tree[k], a.id[k]), k))
        .collect();
    let mut trees: Vec<i64> = a.tree.clone();
    trees.sort_unstable();
    trees.dedup();
    let mut b = Builder {
        node,
        a: &a,
        at,
        leaf_of: HashMap::new(),
        e: Ensemble {
            n_targets,
            branches: Vec::new(),
            leaves: Vec::new(),
            roots: Vec::new(),
            base: vec![0.0; n_targets],
        },
        f,
    };
    for &t in &trees {
        // the root: the node of this tree no other node points to
        let children: std::collections::HashSet<i64> = (0..a.tree.len())
            .filter(|&k| a.tree[k] == t && a.mode[k] != "LEAF")
            .flat_map(|k| [a.yes[k], a.no[k]])
            .collect();
        let root = (0..a.tree.len())
            .find(|&k| a.tree[k] == t && !children.contains(&a.id[k]))
            .ok_or_else(|| node.err(format!("tree {t} has no root")))?;
        let r = b.build(t, a.id[root], 0)?;
        b.e.roots.push(r);
    }
    let wt = node.attr_ints_list(&format!("{prefix}_treeids"))?;
    let wn = node.attr_ints_list(&format!("{prefix}_nodeids"))?;
    let wi = node.attr_ints_list(&format!("{prefix}_ids"))?;
    let ww = node.attr_floats(&format!("{prefix}_weights"))?;
    if wn.len() != wt.len() || wi.len() != wt.len() || ww.len() != wt.len() {
        return Err(node.err(format!("the {prefix}_* attributes have different lengths")));
    }
    let aggregate = node.attr_string_or("aggregate_function", "SUM")?;
    let factor = match aggregate.as_str() {
        "SUM" => 1.0,
        "AVERAGE" => 1.0 / trees.len() as f32,
        other => {
            return Err(node.err(format!(
                "aggregate_function `{other}` is not supported (SUM, AVERAGE are)"
            )))
        }
    };
    for k in 0..wt.len() {
        let &l = b.leaf_of.get(&(wt[k], wn[k])).ok_or_else(|| {
            node.err(format!(
                "a weight names tree {} node {}, which is not a reachable leaf",
                wt[k], wn[k]
            ))
        })?;
        let j = wi[k];
        if j < 0 || j as usize >= n_targets {
            return Err(node.err(format!("a weight names target {j} of {n_targets}")));
        }
        b.e.leaves[l][j as usize] += ww[k] * factor;
    }
    let base = node.attr_floats("base_values")?;
    match base.len() {
        0 => {}
        l if l == n_targets => b.e.base = base,
        l => {
            return Err(node.err(format!(
                "`base_values` has {l} values for {n_targets} targets"
            )))
        }
    }
    Ok(b.e)
}

pub fn tree_regressor(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let (x, f) = features(ctx, node)?;
    if post_transform(node)? != "NONE" {
        return Err(node.err("post_transform must be NONE for a regressor"));
    }
    let t = node.attr_i64_or("n_targets", 1)?.max(1) as usize;
    let e = ensemble(node, f, t, "target")?;
    ctx.emit(node, OpKind::Trees(Box::new(e)), vec![x], t)?;
    Ok(())
}

pub fn tree_classifier(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let (x, f) = features(ctx, node)?;
    let post = post_transform(node)?;
    let ids = node.attr_ints_list("class_ids")?;
    let c = node
        .attr_ints_list("classlabels_int64s")?
        .len()
        .max(node.attr_strings("classlabels_strings")?.len());
    if c == 2 && !ids.is_empty() && ids.iter().all(|&i| i == ids[0]) {
        return binary_one_column(ctx, node, x, f, &post, ids[0]);
    }
    let labels = labels(node, "classlabels_int64s", c)?;
    let e = ensemble(node, f, c, "class")?;
    let scores = ctx.push_op(
        node,
        OpKind::Trees(Box::new(e)),
        vec![x],
        c,
        &format!("{}#scores", node.name),
        false,
    );
    classifier_outputs(ctx, node, scores, labels, &post)
}

/// A binary classifier with one score column `s` (every weight names
/// class 0), as skl2onnx and onnxmltools export binary forests and boosted
/// trees; its two scores are onnxruntime's:
/// - `NONE`, all weights >= 0 (a forest's class-1 probability):
///   `[1 - s, s]`, label 1 when `s > 0.5`;
/// - `NONE` with negative weights: `[-s, s]`, label 1 when `s > 0`;
/// - `LOGISTIC` with negative weights (boosted trees: `s` is a margin):
///   `[sigmoid(-s), sigmoid(s)]`, label 1 when `s > 0`.
///
/// Both are a Dense of `s` (weights -1 and 1) before the post-transform,
/// and the label is the first maximum of the two scores, which is the same
/// decision (a tie, `s = 0.5` or `s = 0`, gives class 0 in both). A tie is
/// exact in the integers: the ensemble answers `s - 0.5` (or `s`), so the
/// tie is its zero, held exactly (zero point), and the Dense's two rows
/// (weights -1 and 1, equal biases) give equal integers there. (A forest
/// of 4 of 8 trees voting class 1 is such a tie; leaf rounding moves the
/// accumulator by at most half a unit per tree, less than the half output
/// step that would move the zero, below 256 trees.)
fn binary_one_column(
    ctx: &mut Ctx,
    node: &Node,
    x: ValueId,
    f: usize,
    post: &str,
    id: i64,
) -> Result<()> {
    if id != 0 {
        return Err(node.err(format!(
            "a binary classifier whose one score column is class {id}: only class 0's (the skl2onnx and onnxmltools form) is supported"
        )));
    }
    let labels = labels(node, "classlabels_int64s", 2)?;
    let positive = node.attr_floats("class_weights")?.iter().all(|&w| w >= 0.0);
    let centre = match (post, positive) {
        ("NONE", true) => 0.5,
        ("NONE", false) | ("LOGISTIC", false) => 0.0,
        _ => {
            return Err(node.err(format!(
                "a binary classifier with one score column and post_transform `{post}`{}: not supported (NONE, or LOGISTIC with signed weights, are)",
                if positive { " on non-negative weights" } else { "" }
            )))
        }
    };
    let mut e = ensemble(node, f, 1, "class")?;
    e.base[0] -= centre;
    let s = ctx.push_op(
        node,
        OpKind::Trees(Box::new(e)),
        vec![x],
        1,
        &format!("{}#centred_score", node.name),
        false,
    );
    let scores = ctx.push_op(
        node,
        OpKind::Dense {
            weight: vec![-1.0, 1.0],
            bias: vec![centre, centre],
        },
        vec![s],
        2,
        &format!("{}#scores", node.name),
        false,
    );
    classifier_outputs(ctx, node, scores, labels, post)
}

/// `Binarizer`: `y = x > threshold ? 1 : 0` per element, as a tree
/// ensemble of one-branch trees (target `i` is 1 when element `i` exceeds
/// the threshold), so the comparison is exact in the integers of `x`.
pub fn binarizer(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let (x, shape) = ctx.runtime(node, 0)?;
    let n: usize = shape.iter().product();
    let t = node.attr_f32_or("threshold", 0.0)?;
    let mut leaves = vec![vec![0.0; n]];
    let mut branches = Vec::with_capacity(n);
    for i in 0..n {
        let mut one = vec![0.0; n];
        one[i] = 1.0;
        leaves.push(one);
        branches.push(Branch {
            feature: i,
            threshold: t,
            cmp: Cmp::Leq,
            yes: NodeRef::Leaf(0),
            no: NodeRef::Leaf(i as u32 + 1),
        });
    }
    let e = Ensemble {
        n_targets: n,
        roots: (0..n as u32).map(NodeRef::Branch).collect(),
        branches,
        leaves,
        base: vec![0.0; n],
    };
    ctx.emit(node, OpKind::Trees(Box::new(e)), vec![x], n)?;
    Ok(())
}

/// `ArrayFeatureExtractor(classes, index)`: a constant integer table read
/// at a runtime index (how skl2onnx maps an ArgMax to class labels).
pub fn array_feature_extractor(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let data = node.required_input(0)?;
    let table = match ctx.operand(node, data)? {
        super::super::lower::Operand::Const(_, t) => t.cast_to::<i64>().ok().and_then(|c| {
            c.to_plain_array_view::<i64>()
                .ok()
                .map(|v| v.iter().copied().collect::<Vec<i64>>())
        }),
        _ => None,
    }
    .ok_or_else(|| {
        node.err(
            "only a constant integer table (class labels) read at a runtime index is supported",
        )
    })?;
    let (idx, shape) = ctx.runtime(node, 1)?;
    if !ctx.graph.value(idx).integer {
        return Err(node.err("the index must be an integer (an ArgMax result)"));
    }
    let n: usize = shape.iter().product();
    let out = node.output()?.to_owned();
    ctx.push_op(node, OpKind::Lookup { table }, vec![idx], n, &out, true);
    Ok(())
}

/// `Normalizer` per row (the last axis), onnxruntime's semantics (checked
/// on negative, zero and tied rows by `scripts/kind_fixtures.py`):
///
/// - `L2`: `y = x / sqrt(sum x^2)`;
/// - `L1`: `y = x / sum |x|`;
/// - `MAX`: `y = x / max(x)`, the *signed* row maximum (not sklearn's
///   `max |x|`: onnxruntime maps `[-1, -2, -3]` to `[1, 2, 3]`), and a row
///   whose maximum is 0 is copied. lfc lowers it where the source is
///   proven non-negative (quant checks it and names the node otherwise):
///   there `max(x) = max |x|` and a zero maximum means a zero row.
///
/// A zero row gives zeros in every mode, as onnxruntime. Each is the
/// layer-normalisation instruction without the mean, dividing by `sqrt(T)`
/// for `T` the sum of squares, `(sum |c|)^2` or `(max |c|)^2`
/// ([`crate::ir::layer_norm::Denom`]): the integer reciprocal square root,
/// no division. `L1` directly after a softmax is the identity (the values
/// are positive and already sum to one: skl2onnx puts it after a
/// `LinearClassifier` whose post_transform is SOFTMAX).
pub fn normalizer(ctx: &mut Ctx, node: &Node) -> Result<()> {
    use crate::ir::layer_norm::Denom;
    let (x, shape) = ctx.runtime(node, 0)?;
    let norm = node.attr_string_or("norm", "MAX")?;
    let after_softmax = matches!(
        ctx.producer(x).map(|o| &o.kind),
        Some(OpKind::Softmax { .. })
    );
    if norm == "L1" && after_softmax {
        return ctx.alias(node, x);
    }
    let denom = match norm.as_str() {
        "L2" => Denom::SumSquares,
        "L1" => Denom::AbsSum,
        "MAX" => Denom::MaxAbs,
        _ => return Err(node.err(format!("Normalizer `{norm}` is not one of MAX, L1, L2"))),
    };
    let axis_len = shape.last().copied().unwrap_or(1);
    let len: usize = shape.iter().product();
    if axis_len == 0 {
        return Err(node.err(format!("normalises an empty row of shape {shape:?}")));
    }
    let k = 1.0 / (axis_len as f32).sqrt();
    let out = crate::ir::graph::LayerNormOut::Normalized {
        scale: vec![k; axis_len],
        bias: vec![0.0; axis_len],
    };
    let kind = OpKind::LayerNorm {
        axis_len,
        epsilon: 0.0,
        centred: false,
        denom,
        out,
    };
    ctx.emit(node, kind, vec![x], len)?;
    Ok(())
}

/// ONNX `ArgMax` over the last axis: an integer index (ties: lowest).
/// ArgMax over any one axis: the axis is moved innermost by a compile-time
/// index map; `select_last_index` reverses each group in that map and turns
/// the first maximum's position `p` back into `len - 1 - p` by a table.
pub fn argmax(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let (x, shape) = ctx.runtime(node, 0)?;
    let rank = shape.len().max(1);
    let a = super::index::axis(node, node.attr_i64_or("axis", 0)?, rank, "axis")?;
    let last = match node.attr_i64_or("select_last_index", 0)? {
        0 => false,
        1 => true,
        v => return Err(node.err(format!("select_last_index = {v}; expected 0 or 1"))),
    };
    let axis_len = shape.get(a).copied().unwrap_or(1);
    if axis_len == 0 {
        return Err(node.err(format!("ArgMax over the empty axis {a} of shape {shape:?}")));
    }
    let src = if shape.is_empty() {
        x
    } else {
        super::index::grouped(ctx, node, x, &shape, &[a], last)
    };
    let len = shape.iter().product::<usize>() / axis_len;
    let out = node.output()?.to_owned();
    if !last {
        ctx.push_op(
            node,
            OpKind::ArgMax { axis_len },
            vec![src],
            len,
            &out,
            true,
        );
        return Ok(());
    }
    let rev = format!("{out}_from_last");
    let p = ctx.push_op(
        node,
        OpKind::ArgMax { axis_len },
        vec![src],
        len,
        &rev,
        true,
    );
    let table = (0..axis_len as i64).rev().collect();
    ctx.push_op(node, OpKind::Lookup { table }, vec![p], len, &out, true);
    Ok(())
}
