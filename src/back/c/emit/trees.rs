//! `Trees`: a tree ensemble as a compact node table walk or, for small
//! ensembles ([`lower::tree_form`]), straight-line nested comparisons; and
//! the two integer kinds classifiers need, `ArgMax` and `Lookup`.
//!
//! Branch `b` sends the walk to `yes[b]` when `x[feature[b]] <= threshold[b]`
//! (thresholds already exact in the integers of `x`), else to `no[b]`; a
//! child at or past `BRANCHES` is a leaf. Children come after their parent,
//! so every walk ends within the tree's depth. The straight-line form makes
//! the same tests ([`lower::tree_stmts`]), thresholds and leaf values as
//! immediates.

use super::{wrong_kind, Cx};
use crate::back::c::expr::Expr;
use crate::back::c::namer::macro_name;
use crate::back::c::templates::{
    ArgMaxL, Array, GroupMaxL, LookupL, TreeLines, TreesL, TreesUnrolledL,
};
use crate::back::c::writer::{c_int, ctype_for, fail, min_max, wrap, Decls, Writer};
use crate::back::lower::{self, Form, TreeStmt};
use crate::ir::InstrKind;
use crate::Result;

pub(super) const SUFFIXES: &[&str] = &[
    "trees",
    "branches",
    "targets",
    "roots",
    "feature",
    "threshold",
    "yes",
    "no",
    "leaf",
    "leaves",
    "base",
    "shift",
    "mul",
    "rescale",
    "zp",
    "axis",
    "len",
    "table",
];

fn table(decls: &mut Decls, ident: &str, suffix: &str, values: &[i64]) -> Result<Expr> {
    let (lo, hi) = min_max(values);
    let items: Vec<String> = values.iter().map(|&v| c_int(v)).collect();
    decls.array(
        Array {
            ctype: ctype_for(lo.min(0), hi).to_string(),
            name: format!("{ident}_{suffix}"),
            dims: format!("[{}]", values.len()),
            lines: wrap(&items, "\t"),
        },
        values.len(),
    )
}

fn u32s(v: &[u32]) -> Vec<i64> {
    v.iter().map(|&x| x as i64).collect()
}

pub(super) fn emit(w: &mut Writer, mut cx: Cx) -> Result<(String, String)> {
    let InstrKind::Trees {
        src,
        dst,
        table: t,
        rescale,
    } = &cx.instr.kind
    else {
        return wrong_kind(&cx, "Trees");
    };
    let d = w.tensor(*dst)?;
    if d.len != t.n_targets || t.n_branches() == 0 && t.n_leaves() == 0 {
        return fail("Trees: node table does not match its destination");
    }
    if w.same_buffer(*src, *dst) {
        return fail("Trees src and dst share a buffer");
    }
    if w.plan.steps[cx.k].form == Form::StraightLine {
        return emit_unrolled(w, cx);
    }
    w.uses_g = true;
    w.uses_j = true;
    w.helpers.rescale = true;
    let (decls, ident) = (&mut cx.decls, cx.ident.as_str());
    let (x, y) = (w.buf(*src)?, w.buf(*dst)?);
    let trees = decls.define(macro_name(ident, "trees"), t.roots.len().to_string(), None)?;
    let branches = decls.define(
        macro_name(ident, "branches"),
        t.n_branches().to_string(),
        Some("children at or past this index are leaves".into()),
    )?;
    let targets = decls.define(macro_name(ident, "targets"), t.n_targets.to_string(), None)?;
    let roots = table(decls, ident, "roots", &u32s(&t.roots))?;
    // A one-leaf ensemble has no branches: keep one dummy entry so the
    // arrays exist (never read: every root is a leaf).
    let pad = |v: Vec<i64>| if v.is_empty() { vec![0] } else { v };
    let feature = table(decls, ident, "feature", &pad(u32s(&t.feature)))?;
    let threshold = table(decls, ident, "threshold", &pad(t.threshold.clone()))?;
    let yes = table(decls, ident, "yes", &pad(u32s(&t.yes)))?;
    let no = table(decls, ident, "no", &pad(u32s(&t.no)))?;
    let leaf = table(decls, ident, "leaf", &t.leaf_w)?;
    let base = table(decls, ident, "base", &t.base)?;
    let zp = w.zp_term(decls, ident, "zp", d.q.zero_point, d)?;
    let m = w.rescales(decls, ident, "", &[*rescale], "2^-TREE_ACC_SHIFT")?;
    let i = Expr::var("i");
    let value = m.apply(y.clone().index(i.clone()), i).plus(zp);
    let notes = [
        vec![w.note("x", *src), w.note("y", *dst)],
        vec![format!(
            "{} trees, depths {:?}: at most {} comparisons",
            t.roots.len(),
            t.depths,
            t.worst_comparisons()
        )],
        cx.acc_note,
    ]
    .concat();
    let c = w.common(ident, cx.instr, notes, cx.decls);
    let l = TreesL {
        src: x.to_string(),
        dst: y.to_string(),
        trees: trees.to_string(),
        branches: branches.to_string(),
        targets: targets.to_string(),
        roots: roots.to_string(),
        feature: feature.to_string(),
        threshold: threshold.to_string(),
        yes: yes.to_string(),
        no: no.to_string(),
        leaf: leaf.to_string(),
        base: base.to_string(),
        value: value.to_string(),
    };
    w.construct(&(&c, &l))
}

/// One tree's statements as C lines, one tab per level below the block.
/// Kernel style: an `if` whose arms are single additions has no braces;
/// when one arm needs them, both have them.
fn c_lines(stmts: &[TreeStmt], x: &str, y: &str, depth: usize, out: &mut Vec<String>) {
    let tab = "\t".repeat(depth);
    let simple = |arm: &[TreeStmt]| arm.len() == 1 && matches!(arm[0], TreeStmt::Add { .. });
    for s in stmts {
        match s {
            TreeStmt::Add { target, value } => {
                out.push(format!("{tab}{y}[{target}] += {};", c_int(*value)));
            }
            TreeStmt::If {
                feature,
                threshold,
                leq,
                then,
                els,
            } => {
                let op = if *leq { "<=" } else { ">" };
                let test = format!("{tab}if ({x}[{feature}] {op} {})", c_int(*threshold));
                let braces = !simple(then) || !(els.is_empty() || simple(els));
                if !braces {
                    out.push(test);
                    c_lines(then, x, y, depth + 1, out);
                    if !els.is_empty() {
                        out.push(format!("{tab}else"));
                        c_lines(els, x, y, depth + 1, out);
                    }
                    continue;
                }
                out.push(format!("{test} {{"));
                c_lines(then, x, y, depth + 1, out);
                if !els.is_empty() {
                    out.push(format!("{tab}}} else {{"));
                    c_lines(els, x, y, depth + 1, out);
                }
                out.push(format!("{tab}}}"));
            }
        }
    }
}

/// The ensemble as straight-line nested comparisons.
fn emit_unrolled(w: &mut Writer, mut cx: Cx) -> Result<(String, String)> {
    let InstrKind::Trees {
        src,
        dst,
        table: t,
        rescale,
    } = &cx.instr.kind
    else {
        return wrong_kind(&cx, "Trees");
    };
    let d = w.tensor(*dst)?;
    w.helpers.rescale = true;
    let (decls, ident) = (&mut cx.decls, cx.ident.as_str());
    let (x, y) = (w.buf(*src)?.to_string(), w.buf(*dst)?);
    let targets = decls.define(macro_name(ident, "targets"), t.n_targets.to_string(), None)?;
    let zp = w.zp_term(decls, ident, "zp", d.q.zero_point, d)?;
    let m = w.rescales(decls, ident, "", &[*rescale], "2^-TREE_ACC_SHIFT")?;
    let i = Expr::var("i");
    let value = m.apply(y.clone().index(i.clone()), i).plus(zp);
    let y = y.to_string();
    let base = t
        .base
        .iter()
        .enumerate()
        .map(|(j, &b)| format!("{y}[{j}] = {};", c_int(b)))
        .collect();
    let trees = t
        .roots
        .iter()
        .enumerate()
        .map(|(g, &root)| {
            let mut lines = Vec::new();
            c_lines(&lower::tree_stmts(t, root), &x, &y, 0, &mut lines);
            TreeLines {
                title: format!("tree {g}: depth {}", t.depths.get(g).copied().unwrap_or(0)),
                lines,
            }
        })
        .collect();
    let notes = [
        vec![w.note("x", *src), w.note("y", *dst)],
        vec![format!(
            "{} trees, {} branches (at most TREE_UNROLL = {} straight-line), depths {:?}: at most {} comparisons",
            t.roots.len(),
            t.n_branches(),
            lower::TREE_UNROLL,
            t.depths,
            t.worst_comparisons()
        )],
        cx.acc_note,
    ]
    .concat();
    let c = w.common(ident, cx.instr, notes, cx.decls);
    let l = TreesUnrolledL {
        base,
        trees,
        dst: y,
        targets: targets.to_string(),
        value: value.to_string(),
    };
    w.construct(&(&c, &l))
}

pub(super) fn emit_argmax(w: &mut Writer, mut cx: Cx) -> Result<(String, String)> {
    let InstrKind::ArgMax { src, dst, axis_len } = &cx.instr.kind else {
        return wrong_kind(&cx, "ArgMax");
    };
    let (s, d) = (w.tensor(*src)?, w.tensor(*dst)?);
    if *axis_len == 0 || s.len != d.len * axis_len || w.same_buffer(*src, *dst) {
        return fail("ArgMax: lengths or buffers do not match");
    }
    w.uses_g = true;
    let (decls, ident) = (&mut cx.decls, cx.ident.as_str());
    let (x, y) = (w.buf(*src)?, w.buf(*dst)?);
    let len = decls.define(macro_name(ident, "len"), d.len.to_string(), None)?;
    let axis = decls.define(macro_name(ident, "axis"), axis_len.to_string(), None)?;
    let notes = [vec![w.note("x", *src)], cx.acc_note].concat();
    let c = w.common(ident, cx.instr, notes, cx.decls);
    let l = ArgMaxL {
        src: x.to_string(),
        dst: y.to_string(),
        len: len.to_string(),
        axis: axis.to_string(),
    };
    w.construct(&(&c, &l))
}

/// ReduceMax / MaxPool: the maximum of each group, in the source's own
/// quantization (exact).
pub(super) fn emit_group_max(w: &mut Writer, mut cx: Cx) -> Result<(String, String)> {
    let InstrKind::GroupMax { src, dst, axis_len } = &cx.instr.kind else {
        return wrong_kind(&cx, "GroupMax");
    };
    let (s, d) = (w.tensor(*src)?, w.tensor(*dst)?);
    if *axis_len == 0 || s.len != d.len * axis_len || w.same_buffer(*src, *dst) {
        return fail("GroupMax: lengths or buffers do not match");
    }
    w.uses_g = true;
    let (decls, ident) = (&mut cx.decls, cx.ident.as_str());
    let (x, y) = (w.buf(*src)?, w.buf(*dst)?);
    let len = decls.define(macro_name(ident, "len"), d.len.to_string(), None)?;
    let axis = decls.define(macro_name(ident, "axis"), axis_len.to_string(), None)?;
    let notes = [vec![w.note("x", *src)], cx.acc_note].concat();
    let c = w.common(ident, cx.instr, notes, cx.decls);
    let l = GroupMaxL {
        src: x.to_string(),
        dst: y.to_string(),
        len: len.to_string(),
        axis: axis.to_string(),
    };
    w.construct(&(&c, &l))
}

pub(super) fn emit_lookup(w: &mut Writer, mut cx: Cx) -> Result<(String, String)> {
    let InstrKind::Lookup { src, dst, table: t } = &cx.instr.kind else {
        return wrong_kind(&cx, "Lookup");
    };
    let (s, d) = (w.tensor(*src)?, w.tensor(*dst)?);
    if s.len != d.len || t.is_empty() {
        return fail("Lookup: lengths do not match");
    }
    let (decls, ident) = (&mut cx.decls, cx.ident.as_str());
    let (x, y) = (w.buf(*src)?, w.buf(*dst)?);
    let len = decls.define(macro_name(ident, "len"), d.len.to_string(), None)?;
    let tab = table(decls, ident, "table", t)?;
    let notes = [vec![w.note("x", *src)], cx.acc_note].concat();
    let c = w.common(ident, cx.instr, notes, cx.decls);
    let l = LookupL {
        src: x.to_string(),
        dst: y.to_string(),
        len: len.to_string(),
        table: tab.to_string(),
    };
    w.construct(&(&c, &l))
}
