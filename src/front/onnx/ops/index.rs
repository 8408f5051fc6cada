//! Transpose, Slice, Gather (constant indices), Split: each output element is
//! one input element, so each is an [`OpKind::Gather`] index map computed at
//! compile time. The graph folding (`ir::fold`) moves the map into the
//! neighbouring Dense's weights, so it usually costs nothing at run time.

use crate::front::onnx::lower::{Ctx, Node};
use crate::ir::OpKind;
use crate::Result;

/// Row-major strides of `shape`.
pub(super) fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Every multi-index of `shape`, row-major.
pub(super) fn indices(shape: &[usize]) -> Vec<Vec<usize>> {
    let len: usize = shape.iter().product();
    let mut out = Vec::with_capacity(len);
    let mut idx = vec![0usize; shape.len()];
    for _ in 0..len {
        out.push(idx.clone());
        for a in (0..shape.len()).rev() {
            idx[a] += 1;
            if idx[a] < shape[a] {
                break;
            }
            idx[a] = 0;
        }
    }
    out
}

/// An ONNX axis (negative counts from the end) as an index below `rank`.
pub(super) fn axis(node: &Node, a: i64, rank: usize, what: &str) -> Result<usize> {
    let r = rank as i64;
    if a < -r || a >= r {
        return Err(node.err(format!("{what} {a} is out of range for rank {rank}")));
    }
    Ok(if a < 0 { (a + r) as usize } else { a as usize })
}

/// The index map that moves the axes `grouped` (sorted) of `shape` to the
/// end, the others keeping their order: `map[k]` is the source element of
/// position `k`, so consecutive runs of `prod(shape[grouped])` elements are
/// the groups an op over those axes works on, in the order of the result.
pub(super) fn group_map(shape: &[usize], grouped: &[usize]) -> Vec<usize> {
    let st = strides(shape);
    let order: Vec<usize> = (0..shape.len())
        .filter(|a| !grouped.contains(a))
        .chain(grouped.iter().copied())
        .collect();
    let out_shape: Vec<usize> = order.iter().map(|&a| shape[a]).collect();
    indices(&out_shape)
        .iter()
        .map(|o| o.iter().zip(&order).map(|(&i, &a)| i * st[a]).sum())
        .collect()
}

/// `x` laid out so the axes `grouped` are innermost ([`group_map`]): `x`
/// itself when they already are, else a compile-time [`OpKind::Gather`]
/// (folded into a neighbouring Dense where it can be).
pub(super) fn grouped(
    ctx: &mut Ctx,
    node: &Node,
    x: crate::ir::ValueId,
    shape: &[usize],
    grouped: &[usize],
    reverse_groups: bool,
) -> crate::ir::ValueId {
    let mut map = group_map(shape, grouped);
    if reverse_groups {
        let g: usize = grouped.iter().map(|&a| shape[a]).product();
        map.chunks_mut(g.max(1)).for_each(|c| c.reverse());
    }
    if map.iter().enumerate().all(|(k, &i)| k == i) {
        return x;
    }
    let name = format!("{}_grouped", node.output().unwrap_or("x"));
    let len = map.len();
    ctx.emit_internal(node, &name, OpKind::Gather { map }, vec![x], len)
}

/// The inverse permutation of a [`group_map`].
pub(super) fn inverse(map: &[usize]) -> Vec<usize> {
    let mut inv = vec![0; map.len()];
    for (k, &i) in map.iter().enumerate() {
        inv[i] = k;
    }
    inv
}

fn emit_map(
    ctx: &mut Ctx,
    node: &Node,
    out: &str,
    src: crate::ir::ValueId,
    map: Vec<usize>,
) -> Result<()> {
    let len = map.len();
    ctx.emit_to(node, out, OpKind::Gather { map }, vec![src], len)?;
    Ok(())
}

pub fn transpose(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let (x, shape) = ctx.runtime(node, 0)?;
    let rank = shape.len();
    let perm: Vec<usize> = match node.attr_ints("perm")? {
        None => (0..rank).rev().collect(),
        Some(p) => p
            .iter()
            .map(|&a| axis(node, a, rank, "perm entry"))
            .collect::<Result<_>>()?,
    };
    let mut seen = vec![false; rank];
    for &p in &perm {
        seen[p] = true;
    }
    if perm.len() != rank || seen.iter().any(|s| !s) {
        return Err(node.err(format!(
            "perm {perm:?} is not a permutation of the {rank} axes of {shape:?}"
        )));
    }
    let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let st = strides(&shape);
    let map = indices(&out_shape)
        .iter()
        .map(|o| o.iter().zip(&perm).map(|(&i, &p)| i * st[p]).sum())
        .collect();
    let out = node.output()?.to_owned();
    emit_map(ctx, node, &out, x, map)
}

/// `(start, step, len)` of one sliced axis of size `d` (ONNX clamping rules).
fn slice_axis(d: usize, start: i64, end: i64, step: i64) -> (i64, i64, usize) {
    let d = d as i64;
    let norm = |v: i64| if v < 0 { v + d } else { v };
    let (s, e) = if step > 0 {
        (norm(start).clamp(0, d), norm(end).clamp(0, d))
    } else {
        (norm(start).clamp(0, d - 1), norm(end).clamp(-1, d - 1))
    };
    let len = if step > 0 {
        (e - s).max(0).div_euclid(step) + ((e - s).max(0) % step != 0) as i64
    } else {
        let n = (s - e).max(0);
        n / -step + (n % -step != 0) as i64
    };
    (s, step, len as usize)
}

pub fn slice(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let (x, shape) = ctx.runtime(node, 0)?;
    let rank = shape.len();
    let (starts, ends, axes, steps) = if ctx.opset() < 10 {
        let need = |n: &str| {
            node.attr_ints(n)?
                .ok_or_else(|| node.err(format!("attribute `{n}` is missing")))
        };
        (
            need("starts")?,
            need("ends")?,
            node.attr_ints("axes")?,
            None,
        )
    } else {
        let opt = |ctx: &Ctx, i: usize| match node.input(i) {
            Some(_) => ctx.constant_i64(node, i).map(Some),
            None => Ok(None),
        };
        (
            ctx.constant_i64(node, 1)?,
            ctx.constant_i64(node, 2)?,
            opt(ctx, 3)?,
            opt(ctx, 4)?,
        )
    };
    let axes: Vec<i64> = axes.unwrap_or_else(|| (0..starts.len() as i64).collect());
    let steps = steps.unwrap_or_else(|| vec![1; starts.len()]);
    if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return Err(node.err(format!(
            "starts, ends, axes and steps have {}, {}, {} and {} entries",
            starts.len(),
            ends.len(),
            axes.len(),
            steps.len()
        )));
    }
    let mut ranges: Vec<(i64, i64, usize)> = shape.iter().map(|&d| (0, 1, d)).collect();
    for k in 0..starts.len() {
        let a = axis(node, axes[k], rank, "axis")?;
        if steps[k] == 0 {
            return Err(node.err(format!("step 0 on axis {a}")));
        }
        ranges[a] = slice_axis(shape[a], starts[k], ends[k], steps[k]);
    }
    let out_shape: Vec<usize> = ranges.iter().map(|r| r.2).collect();
    if out_shape.contains(&0) {
        return Err(node.err(format!(
            "the slice of {shape:?} is empty (output shape {out_shape:?}); a snapshot answers at least one value"
        )));
    }
    let st = strides(&shape);
    let map = indices(&out_shape)
        .iter()
        .map(|o| {
            o.iter()
                .zip(&ranges)
                .zip(&st)
                .map(|((&i, &(s, step, _)), &stride)| (s + i as i64 * step) as usize * stride)
                .sum()
        })
        .collect();
    let out = node.output()?.to_owned();
    emit_map(ctx, node, &out, x, map)
}

/// Gather along `axis` with constant indices.
pub fn gather(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let (x, shape) = ctx.runtime(node, 0)?;
    let rank = shape.len();
    let a = axis(node, node.attr_i64_or("axis", 0)?, rank, "axis")?;
    let idx_name = node.required_input(1)?;
    let idx = ctx.constant_i64(node, 1)?;
    let d = shape[a] as i64;
    let idx: Vec<usize> = idx
        .iter()
        .map(|&i| {
            if i < -d || i >= d {
                Err(node.err(format!(
                    "index {i} in `{idx_name}` is out of range for axis {a} of size {d}"
                )))
            } else {
                Ok(if i < 0 { (i + d) as usize } else { i as usize })
            }
        })
        .collect::<Result<_>>()?;
    let outer: usize = shape[..a].iter().product();
    let inner: usize = shape[a + 1..].iter().product();
    let mut map = Vec::with_capacity(outer * idx.len() * inner);
    for o in 0..outer {
        for &i in &idx {
            map.extend((0..inner).map(|k| (o * shape[a] + i) * inner + k));
        }
    }
    let out = node.output()?.to_owned();
    emit_map(ctx, node, &out, x, map)
}

/// Split along `axis`; each output's extent is the one tract inferred (from
/// the `split` input or attribute, or equal parts).
pub fn split(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let (x, shape) = ctx.runtime(node, 0)?;
    let rank = shape.len();
    let a = axis(node, node.attr_i64_or("axis", 0)?, rank, "axis")?;
    let outer: usize = shape[..a].iter().product();
    let inner: usize = shape[a + 1..].iter().product();
    let mut offset = 0;
    for out in node.proto.output.iter().filter(|s| !s.is_empty()) {
        let os = ctx.shape(node, out)?;
        if os.len() != rank {
            return Err(node.err(format!("output `{out}` has shape {os:?}, input {shape:?}")));
        }
        let n = os[a];
        if offset + n > shape[a] {
            return Err(node.err(format!(
                "the outputs take more than the {} elements of axis {a}",
                shape[a]
            )));
        }
        let mut map = Vec::with_capacity(outer * n * inner);
        for o in 0..outer {
            for i in offset..offset + n {
                map.extend((0..inner).map(|k| (o * shape[a] + i) * inner + k));
            }
        }
        emit_map(ctx, node, out, x, map)?;
        offset += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_axis_follows_onnx_clamping() {
        assert_eq!(slice_axis(10, 2, 7, 1), (2, 1, 5));
        assert_eq!(slice_axis(10, 0, i64::MAX, 3), (0, 3, 4));
        assert_eq!(slice_axis(10, -1, i64::MIN, -1), (9, -1, 10));
        assert_eq!(slice_axis(10, 8, 2, -2), (8, -2, 3));
        assert_eq!(slice_axis(4, 5, 9, 1), (4, 1, 0));
    }

    #[test]
    fn group_map_moves_axes_last() {
        // [2, 3] grouped on axis 0: the columns become the groups
        assert_eq!(group_map(&[2, 3], &[0]), vec![0, 3, 1, 4, 2, 5]);
        assert_eq!(group_map(&[2, 3], &[1]), vec![0, 1, 2, 3, 4, 5]);
        let m = group_map(&[2, 3, 4], &[0, 2]);
        assert_eq!(&m[..8], &[0, 1, 2, 3, 12, 13, 14, 15]);
        assert_eq!(inverse(&m)[12], 4);
    }

    #[test]
    fn strides_and_indices_are_row_major() {
        assert_eq!(strides(&[2, 3, 4]), vec![12, 4, 1]);
        assert_eq!(
            indices(&[2, 2]),
            vec![vec![0, 0], vec![0, 1], vec![1, 0], vec![1, 1]]
        );
    }
}
