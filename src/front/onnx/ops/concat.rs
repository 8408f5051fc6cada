//! Concat: runtime tensors and constants along one axis, as an
//! [`OpKind::Concat`] of blocks (a multi-source copy at run time).

use super::index::axis;
use crate::front::onnx::lower::{Ctx, Node, Operand};
use crate::ir::concat::concat_blocks;
use crate::ir::{OpKind, ValueId};
use crate::Result;

pub fn concat(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let a = node
        .attr_i64("axis")?
        .ok_or_else(|| node.err("attribute `axis` is required"))?;
    let names: Vec<&str> = (0..node.proto.input.len())
        .filter_map(|i| node.input(i))
        .collect();
    if names.is_empty() {
        return Err(node.err("the node has no inputs"));
    }
    // Each input: a runtime value (index into the op's inputs) or constants.
    let mut inputs: Vec<ValueId> = Vec::new();
    let mut shapes = Vec::with_capacity(names.len());
    let mut sources: Vec<Option<usize>> = Vec::with_capacity(names.len());
    let mut consts: Vec<Vec<f32>> = Vec::with_capacity(names.len());
    for name in &names {
        match ctx.operand(node, name)? {
            Operand::Runtime { id, shape } => {
                let k = inputs.iter().position(|&v| v == id).unwrap_or_else(|| {
                    inputs.push(id);
                    inputs.len() - 1
                });
                sources.push(Some(k));
                shapes.push(shape);
                consts.push(Vec::new());
            }
            Operand::Const(name, t) => {
                let c = ctx.to_f32(node, name, &t, false)?;
                sources.push(None);
                shapes.push(c.shape);
                consts.push(c.data);
            }
        }
    }
    if inputs.is_empty() {
        return Err(node.err("every input is a constant but tract did not fold the node"));
    }
    let rank = shapes[0].len();
    if rank == 0 {
        return Err(node.err("inputs of rank 0 cannot be concatenated"));
    }
    let ax = axis(node, a, rank, "axis")?;
    for (name, s) in names.iter().zip(&shapes) {
        let agree = s.len() == rank && (0..rank).all(|d| d == ax || s[d] == shapes[0][d]);
        if !agree {
            return Err(node.err(format!(
                "input `{name}` has shape {s:?}, which does not match {:?} outside axis {ax}",
                shapes[0]
            )));
        }
    }
    // Constant inputs go into one table, each at its offset.
    let mut table = Vec::new();
    let mut base = Vec::with_capacity(names.len());
    for c in &consts {
        base.push(table.len());
        table.extend_from_slice(c);
    }
    let blocks = concat_blocks(&shapes, ax)
        .into_iter()
        .map(|(k, mut b)| {
            if sources[k].is_none() {
                b.from += base[k];
            }
            (sources[k], b)
        })
        .collect::<Vec<_>>();
    let len = shapes
        .iter()
        .map(|s| s.iter().product::<usize>())
        .sum::<usize>();
    ctx.emit(
        node,
        OpKind::Concat {
            blocks,
            consts: table,
        },
        inputs,
        len,
    )?;
    Ok(())
}
