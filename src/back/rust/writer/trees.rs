//! A small tree ensemble as straight-line nested comparisons in the Rust
//! back end, the same tests as the C ([`lower::tree_stmts`], decided once
//! in `lower`): thresholds and leaf values are literals, every index a
//! constant into a fixed-size buffer (checked at compile time: no bounds
//! check, no panic path).

use super::{fail, lit, Writer};
use crate::back::c;
use crate::back::lower::{self, TreeStmt};
use crate::ir::InstrKind;
use crate::Result;

/// One tree's statements as Rust lines, four spaces per level.
fn rust_lines(stmts: &[TreeStmt], x: &str, y: &str, depth: usize, out: &mut Vec<String>) {
    let tab = "    ".repeat(depth);
    for s in stmts {
        match s {
            TreeStmt::Add { target, value } => {
                out.push(format!("{tab}{y}[{target}] += {};", lit(*value)));
            }
            TreeStmt::If {
                feature,
                threshold,
                leq,
                then,
                els,
            } => {
                let op = if *leq { "<=" } else { ">" };
                out.push(format!(
                    "{tab}if {x}[{feature}] {op} {} {{",
                    lit(*threshold)
                ));
                rust_lines(then, x, y, depth + 1, out);
                if !els.is_empty() {
                    out.push(format!("{tab}}} else {{"));
                    rust_lines(els, x, y, depth + 1, out);
                }
                out.push(format!("{tab}}}"));
            }
        }
    }
}

impl Writer<'_> {
    /// The ensemble as straight-line nested comparisons (its plan step is
    /// [`lower::Form::StraightLine`]); the C prints the same tests.
    pub(super) fn trees_unrolled(&mut self, ident: &str, kind: &InstrKind) -> Result<Vec<String>> {
        let InstrKind::Trees {
            src,
            dst,
            table: t,
            rescale,
        } = kind
        else {
            return fail("internal: not a Trees");
        };
        if self.len(*dst) != t.n_targets || t.n_leaves() == 0 {
            return fail("Trees: node table does not match its destination");
        }
        if self.info.tensor_buffer[src.index()] == self.info.tensor_buffer[dst.index()] {
            return fail("Trees src and dst share a buffer");
        }
        let n_src = self.len(*src) as u32;
        if t.feature.iter().any(|&f| f >= n_src) {
            return fail("Trees: a branch tests a feature outside its input");
        }
        self.helpers.rescale = true;
        let (x, y) = (self.buf(*src)?, self.buf(*dst)?);
        let targets = self.konst(
            c::namer::macro_name(ident, "targets"),
            "usize",
            t.n_targets.to_string(),
            None,
        );
        let m = self.muls(ident, "", &[*rescale], "2^-TREE_ACC_SHIFT")?;
        let zp = self.zp(ident, "zp", self.program.tensor(*dst).q.zero_point);
        let value = m.apply(&format!("{y}[i]"), "i");
        let value = match zp {
            Some(z) => format!("{value} + {z}"),
            None => value,
        };
        let mut out = vec![
            format!(
                "// {} trees, {} branches (at most TREE_UNROLL = {} straight-line), at most {} comparisons (depths {:?}).",
                t.roots.len(),
                t.n_branches(),
                lower::TREE_UNROLL,
                t.worst_comparisons(),
                t.depths,
            ),
            "// Leaves add to y at 2^-TREE_ACC_SHIFT of its step; one rounding at the end.".into(),
        ];
        for (j, &b) in t.base.iter().enumerate() {
            out.push(format!("{y}[{j}] = {};", lit(b)));
        }
        for (g, &root) in t.roots.iter().enumerate() {
            out.push(format!(
                "// tree {g}: depth {}",
                t.depths.get(g).copied().unwrap_or(0)
            ));
            rust_lines(&lower::tree_stmts(t, root), &x, &y, 0, &mut out);
        }
        out.extend([
            format!("for i in 0..{targets} {{"),
            format!("    {y}[i] = {value};"),
            "}".into(),
        ]);
        Ok(out)
    }
}
