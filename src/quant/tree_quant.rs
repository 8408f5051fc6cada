//! Tree ensembles into integers: exact thresholds, fixed-point leaves.

use crate::ir::tree::{Cmp, Ensemble, NodeRef, TreeTable};
use crate::ir::QParams;

/// Leaves are summed at `2^-TREE_ACC_SHIFT` of the output's step, and the
/// sum rounded once into the output: the rounding of each leaf costs at most
/// `trees * 2^-(TREE_ACC_SHIFT + 1)` output steps.
pub const TREE_ACC_SHIFT: u32 = 8;

/// The real range of the ensemble's outputs: per target, `base` plus the
/// smallest (largest) leaf of every tree.
pub fn real_range(e: &Ensemble) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for j in 0..e.n_targets {
        let (mut a, mut b) = (e.base[j] as f64, e.base[j] as f64);
        for &root in &e.roots {
            let leaves = reachable_leaves(e, root);
            let vals = leaves.iter().map(|&l| e.leaves[l][j] as f64);
            a += vals.clone().fold(f64::INFINITY, f64::min);
            b += vals.fold(f64::NEG_INFINITY, f64::max);
        }
        lo = lo.min(a);
        hi = hi.max(b);
    }
    (lo, hi)
}

fn reachable_leaves(e: &Ensemble, root: NodeRef) -> Vec<usize> {
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(n) = stack.pop() {
        match n {
            NodeRef::Leaf(l) => out.push(l as usize),
            NodeRef::Branch(b) => {
                let br = &e.branches[b as usize];
                stack.push(br.yes);
                stack.push(br.no);
            }
        }
    }
    out
}

/// The largest integer `k` with `real(k) <= t` (`Leq`) or `real(k) < t`
/// (`Lt`), where `real(k) = (k - zp) * scale`; clamped to the tensor's type
/// range widened by one (below it every test fails, above it every test
/// holds).
pub fn threshold(q: &QParams, t: f64, cmp: Cmp) -> i64 {
    let real = |k: i64| (k - q.zero_point) as f64 * q.scale;
    let holds = |k: i64| match cmp {
        Cmp::Leq => real(k) <= t,
        Cmp::Lt => real(k) < t,
    };
    let (floor, ceil) = (q.qmin - 1, q.qmax);
    let guess = (t / q.scale).floor() + q.zero_point as f64;
    let mut k = if guess.is_nan() {
        floor
    } else {
        (guess.clamp(floor as f64, ceil as f64)) as i64
    };
    while k < ceil && holds(k + 1) {
        k += 1;
    }
    while k > floor && !holds(k) {
        k -= 1;
    }
    k
}

fn child(n: NodeRef, nb: u32) -> u32 {
    match n {
        NodeRef::Branch(b) => b,
        NodeRef::Leaf(l) => nb + l,
    }
}

/// The node table of `e` reading a tensor quantized as `src`, writing one
/// quantized as `dst` (through a rescale of `2^-TREE_ACC_SHIFT`).
pub fn table(e: &Ensemble, src: &QParams, dst: &QParams, node: &str) -> Result<TreeTable, String> {
    let nb = e.branches.len() as u32;
    let acc_scale = dst.scale / (TREE_ACC_SHIFT as f64).exp2();
    let fix = |w: f32| -> Result<i64, String> {
        let v = (w as f64 / acc_scale).round();
        if v.abs() > 1e15 {
            return Err(format!(
                "{node}: leaf value {w} does not fit the accumulator"
            ));
        }
        Ok(v as i64)
    };
    let mut leaf_w = Vec::with_capacity(e.leaves.len() * e.n_targets);
    for l in &e.leaves {
        for &w in l {
            leaf_w.push(fix(w)?);
        }
    }
    let base = e
        .base
        .iter()
        .map(|&b| fix(b))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(TreeTable {
        n_targets: e.n_targets,
        feature: e.branches.iter().map(|b| b.feature as u32).collect(),
        threshold: e
            .branches
            .iter()
            .map(|b| threshold(src, b.threshold as f64, b.cmp))
            .collect(),
        yes: e.branches.iter().map(|b| child(b.yes, nb)).collect(),
        no: e.branches.iter().map(|b| child(b.no, nb)).collect(),
        roots: e.roots.iter().map(|&r| child(r, nb)).collect(),
        leaf_w,
        base,
        depths: e.depths(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(scale: f64, zp: i64) -> QParams {
        QParams {
            bits: 16,
            zero_point: zp,
            qmin: -32767,
            qmax: 32767,
            scale,
        }
    }

    /// `q <= k` decides exactly what `real(q) <= t` (or `< t`) decides, for
    /// every q of the type, including thresholds on a grid point.
    #[test]
    fn thresholds_are_exact_in_the_integer_domain() {
        for (scale, zp) in [(1e-3, 0), (0.37, 5), (2.0, -3)] {
            let qp = q(scale, zp);
            for t in [0.0, 0.001, -0.0015, 1.0, 0.74, -2.5, 123.456, 1e9, -1e9] {
                for cmp in [Cmp::Leq, Cmp::Lt] {
                    let k = threshold(&qp, t, cmp);
                    for v in -32767..=32767i64 {
                        let r = (v - zp) as f64 * scale;
                        let want = match cmp {
                            Cmp::Leq => r <= t,
                            Cmp::Lt => r < t,
                        };
                        assert_eq!(v <= k, want, "scale {scale} zp {zp} t {t} {cmp:?} q {v}");
                    }
                }
            }
        }
    }
}
