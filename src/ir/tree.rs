//! Tree ensembles (ONNX-ML `TreeEnsembleRegressor`, the scores of
//! `TreeEnsembleClassifier`): the float form the front end builds and the
//! integer node table quantization makes of it.
//!
//! Every branch is normalised to one test, "go to `yes` when the tested
//! value is at most the threshold":
//! - ONNX `BRANCH_LEQ` (x <= t) and `BRANCH_LT` (x < t) keep their children;
//! - `BRANCH_GT` (x > t) and `BRANCH_GTE` (x >= t) are the negations of
//!   `LEQ` and `LT`: the same test with the children swapped.
//!
//! In the float form the test is kept as it was ([`Cmp`]); in the integer
//! form the threshold is the largest integer `k` of the tested tensor's
//! domain with `real(k) <= t` (`LEQ`) or `real(k) < t` (`LT`), so `q <= k`
//! decides exactly what the real comparison decides on the value `q`
//! stands for. Nodes are numbered in preorder, so a child's index is always
//! larger than its parent's and every walk ends after at most `depth`
//! comparisons.

/// A child: another branch, or a leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeRef {
    Branch(u32),
    Leaf(u32),
}

/// The real comparison a branch makes before children are (maybe) swapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    /// `x <= t`
    Leq,
    /// `x < t`
    Lt,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Branch {
    pub feature: usize,
    pub threshold: f32,
    pub cmp: Cmp,
    /// Taken when the comparison holds.
    pub yes: NodeRef,
    pub no: NodeRef,
}

/// `out[j] = base[j] + sum over trees of leaves[leaf reached][j]` (an
/// `AVERAGE` aggregate is folded into the leaf values).
#[derive(Clone, Debug, PartialEq)]
pub struct Ensemble {
    pub n_targets: usize,
    /// Preorder: `yes`/`no` of branch `b` are greater than `b`.
    pub branches: Vec<Branch>,
    /// Per leaf, one value per target (0 where the leaf adds nothing).
    pub leaves: Vec<Vec<f32>>,
    pub roots: Vec<NodeRef>,
    pub base: Vec<f32>,
}

impl Ensemble {
    fn leaf_of(&self, root: NodeRef, x: &[f64]) -> usize {
        let mut n = root;
        loop {
            match n {
                NodeRef::Leaf(l) => return l as usize,
                NodeRef::Branch(b) => {
                    let br = &self.branches[b as usize];
                    let v = x[br.feature];
                    let t = br.threshold as f64;
                    let holds = match br.cmp {
                        Cmp::Leq => v <= t,
                        Cmp::Lt => v < t,
                    };
                    n = if holds { br.yes } else { br.no };
                }
            }
        }
    }

    /// The leaf each tree reaches on `x` (in tree order).
    pub fn leaves_reached(&self, x: &[f64]) -> Vec<usize> {
        self.roots.iter().map(|&r| self.leaf_of(r, x)).collect()
    }

    /// The real-valued ensemble on one row (f64 sums of f32 leaves).
    pub fn eval(&self, x: &[f64]) -> Vec<f64> {
        let mut out: Vec<f64> = self.base.iter().map(|&b| b as f64).collect();
        for &root in &self.roots {
            let leaf = &self.leaves[self.leaf_of(root, x)];
            for (o, w) in out.iter_mut().zip(leaf) {
                *o += *w as f64;
            }
        }
        out
    }

    /// Depth (comparisons on the longest root-to-leaf path) of each tree.
    pub fn depths(&self) -> Vec<usize> {
        self.roots.iter().map(|&r| self.depth(r)).collect()
    }

    fn depth(&self, n: NodeRef) -> usize {
        match n {
            NodeRef::Leaf(_) => 0,
            NodeRef::Branch(b) => {
                let br = &self.branches[b as usize];
                1 + self.depth(br.yes).max(self.depth(br.no))
            }
        }
    }
}

/// The integer node table: branch `b` tests `src[feature[b]] <= threshold[b]`
/// and goes to `yes[b]`, else `no[b]`; a child `c >= feature.len()` is leaf
/// `c - feature.len()`. Leaves hold `leaf_w[leaf * n_targets + j]` at the
/// accumulator's scale; `acc[j] = base[j] + sum of the leaves reached`, then
/// `dst[j] = rescale(acc[j]) + zp_dst`.
#[derive(Clone, Debug, PartialEq)]
pub struct TreeTable {
    pub n_targets: usize,
    pub feature: Vec<u32>,
    pub threshold: Vec<i64>,
    pub yes: Vec<u32>,
    pub no: Vec<u32>,
    /// One per tree (a branch, or a leaf for a one-leaf tree).
    pub roots: Vec<u32>,
    pub leaf_w: Vec<i64>,
    pub base: Vec<i64>,
    /// Comparisons on the longest path, per tree (documentation, checked by
    /// the validator).
    pub depths: Vec<usize>,
}

impl TreeTable {
    pub fn n_branches(&self) -> usize {
        self.feature.len()
    }

    pub fn n_leaves(&self) -> usize {
        self.leaf_w.len() / self.n_targets.max(1)
    }

    /// The leaf tree `root` reaches on `x` (the walk the C prints).
    #[inline]
    pub fn walk(&self, root: u32, x: &[i64]) -> usize {
        let nb = self.n_branches() as u32;
        let mut n = root;
        while n < nb {
            let b = n as usize;
            n = if x[self.feature[b] as usize] <= self.threshold[b] {
                self.yes[b]
            } else {
                self.no[b]
            };
        }
        (n - nb) as usize
    }

    /// `acc[j]` on `x`, before the rescale.
    pub fn accumulate(&self, x: &[i64]) -> Vec<i64> {
        let mut acc = self.base.clone();
        for &root in &self.roots {
            let leaf = self.walk(root, x);
            let w = &self.leaf_w[leaf * self.n_targets..(leaf + 1) * self.n_targets];
            for (a, v) in acc.iter_mut().zip(w) {
                *a += v;
            }
        }
        acc
    }

    /// Worst-case comparisons per inference.
    pub fn worst_comparisons(&self) -> usize {
        self.depths.iter().sum()
    }
}

/// Index of the first maximum of `x` (ONNX ArgMax with
/// `select_last_index = 0`: ties go to the lowest index).
pub fn first_argmax<T: PartialOrd + Copy>(x: &[T]) -> usize {
    let mut best = 0;
    for (i, v) in x.iter().enumerate() {
        if *v > x[best] {
            best = i;
        }
    }
    best
}
