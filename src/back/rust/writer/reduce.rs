//! Reductions over groups of `axis_len` consecutive elements in the Rust
//! back end, as the C prints them: `ArgMax` (the first index of the
//! maximum) and `GroupMax` (the maximum; ReduceMax, MaxPool over a window
//! map). Exact-size chunks of fixed-size buffers: no index can leave them,
//! so no bounds check (and no panic path) is left. The loops take the
//! chunks with `next()` rather than `zip`/`enumerate`/`skip`: those
//! adaptors' MIR from `core` carries cleanup blocks, which would give
//! `infer` a personality and an `.eh_frame` (see `writer.rs`).

use super::{c, fail, Writer};
use crate::ir::TensorId;
use crate::Result;

impl Writer<'_> {
    /// The `(x, y, LEN, AXIS)` names of a reduction of `src` into `dst`,
    /// after checking that `src` holds `len(dst)` whole groups in another
    /// buffer.
    fn groups(
        &mut self,
        what: &str,
        ident: &str,
        src: TensorId,
        dst: TensorId,
        axis_len: usize,
    ) -> Result<[String; 4]> {
        let n = self.len(dst);
        if axis_len == 0
            || self.len(src) != n * axis_len
            || self.info.tensor_buffer[src.index()] == self.info.tensor_buffer[dst.index()]
        {
            return fail(format!("{what}: lengths or buffers do not match"));
        }
        let (x, y) = (self.buf(src)?, self.buf(dst)?);
        let len = self.konst(
            c::namer::macro_name(ident, "len"),
            "usize",
            n.to_string(),
            None,
        );
        let axis = self.konst(
            c::namer::macro_name(ident, "axis"),
            "usize",
            axis_len.to_string(),
            None,
        );
        Ok([x, y, len, axis])
    }

    /// Per group of `axis_len`, the first index of the maximum.
    pub(super) fn argmax(
        &mut self,
        ident: &str,
        src: TensorId,
        dst: TensorId,
        axis_len: usize,
    ) -> Result<Vec<String>> {
        let [x, y, len, axis] = self.groups("ArgMax", ident, src, dst, axis_len)?;
        Ok(vec![
            format!("let mut groups = {x}[..{len} * {axis}].chunks_exact({axis});"),
            format!("for y in {y}[..{len}].iter_mut() {{"),
            "    // Some for each of the LEN outputs: LEN * AXIS elements.".into(),
            "    if let Some(x) = groups.next() {".into(),
            "        let (mut best, mut max, mut i) = (0usize, x[0], 1usize);".into(),
            "        for &v in &x[1..] {".into(),
            "            if v > max {".into(),
            "                best = i;".into(),
            "                max = v;".into(),
            "            }".into(),
            "            i += 1;".into(),
            "        }".into(),
            "        *y = best as i64;".into(),
            "    }".into(),
            "}".into(),
        ])
    }

    /// Per group of `axis_len`, the maximum: `y[g] = max(x[g * AXIS ..
    /// (g + 1) * AXIS])`, in `x`'s quantization (exact).
    pub(super) fn group_max(
        &mut self,
        ident: &str,
        src: TensorId,
        dst: TensorId,
        axis_len: usize,
    ) -> Result<Vec<String>> {
        let [x, y, len, axis] = self.groups("GroupMax", ident, src, dst, axis_len)?;
        Ok(vec![
            format!("let mut groups = {x}[..{len} * {axis}].chunks_exact({axis});"),
            format!("for y in {y}[..{len}].iter_mut() {{"),
            "    // Some for each of the LEN outputs: LEN * AXIS elements.".into(),
            "    if let Some(x) = groups.next() {".into(),
            "        let mut max = x[0];".into(),
            "        for &v in &x[1..] {".into(),
            "            if v > max {".into(),
            "                max = v;".into(),
            "            }".into(),
            "        }".into(),
            "        *y = max;".into(),
            "    }".into(),
            "}".into(),
        ])
    }
}
