//! Conv (1-D and 2-D: kernel, strides, pads, dilations, groups including
//! depthwise), AveragePool and GlobalAveragePool. With batch 1 each is a
//! linear map of the flattened input, lowered to one [`OpKind::Dense`]
//! whose zero weights (positions outside a window) the straight-line writer
//! skips.

use crate::front::onnx::lower::{Ctx, Node, Operand};
use crate::ir::OpKind;
use crate::Result;

use super::index::{indices, strides};

/// The sliding-window geometry of a Conv or pool over `[1, C, spatial...]`.
pub(crate) struct Window {
    /// Input spatial extent.
    input: Vec<usize>,
    /// Output spatial extent (tract's, checked against the attributes).
    pub(crate) output: Vec<usize>,
    pub(crate) kernel: Vec<usize>,
    strides: Vec<usize>,
    dilations: Vec<usize>,
    /// Padding before each spatial axis.
    pad_begin: Vec<usize>,
}

impl Window {
    /// Reads strides, dilations, pads and auto_pad; `kernel` comes from the
    /// weights (Conv) or `kernel_shape` (pools).
    pub(crate) fn read(node: &Node, input: &[usize], kernel: Vec<usize>) -> Result<Window> {
        let n = input.len();
        let list = |name: &str, default: usize| -> Result<Vec<usize>> {
            match node.attr_ints(name)? {
                None => Ok(vec![default; n]),
                Some(v) if v.len() == n && v.iter().all(|&x| x >= 1) => {
                    Ok(v.iter().map(|&x| x as usize).collect())
                }
                Some(v) => Err(node.err(format!(
                    "attribute `{name}` is {v:?}; expected {n} values >= 1"
                ))),
            }
        };
        let strides = list("strides", 1)?;
        let dilations = list("dilations", 1)?;
        if let Some(ks) = node.attr_ints("kernel_shape")? {
            if ks.len() != n || ks.iter().zip(&kernel).any(|(&a, &b)| a as usize != b) {
                return Err(node.err(format!(
                    "kernel_shape {ks:?} does not match the kernel {kernel:?}"
                )));
            }
        }
        let span: Vec<usize> = (0..n).map(|a| (kernel[a] - 1) * dilations[a] + 1).collect();
        let auto_pad = node
            .attr_str("auto_pad")?
            .unwrap_or_else(|| "NOTSET".into());
        let (pad_begin, pad_end): (Vec<usize>, Vec<usize>) = match auto_pad.as_str() {
            "NOTSET" => match node.attr_ints("pads")? {
                None => (vec![0; n], vec![0; n]),
                Some(p) if p.len() == 2 * n && p.iter().all(|&x| x >= 0) => (
                    p[..n].iter().map(|&x| x as usize).collect(),
                    p[n..].iter().map(|&x| x as usize).collect(),
                ),
                Some(p) => {
                    return Err(node.err(format!(
                        "attribute `pads` is {p:?}; expected {} values >= 0",
                        2 * n
                    )))
                }
            },
            "VALID" => (vec![0; n], vec![0; n]),
            "SAME_UPPER" | "SAME_LOWER" => {
                let mut b = vec![0; n];
                let mut e = vec![0; n];
                for a in 0..n {
                    let out = input[a].div_ceil(strides[a]);
                    let total = ((out - 1) * strides[a] + span[a]).saturating_sub(input[a]);
                    let small = total / 2;
                    let (lo, hi) = if auto_pad == "SAME_UPPER" {
                        (small, total - small)
                    } else {
                        (total - small, small)
                    };
                    b[a] = lo;
                    e[a] = hi;
                }
                (b, e)
            }
            other => return Err(node.err(format!("auto_pad `{other}` is not an ONNX value"))),
        };
        // ceil_mode (pools): a last, partial window is kept unless it
        // would start in the end padding (ONNX's rule).
        let ceil = match node.attr_i64_or("ceil_mode", 0)? {
            0 => false,
            1 => true,
            v => return Err(node.err(format!("ceil_mode = {v}; expected 0 or 1"))),
        };
        let mut output = Vec::with_capacity(n);
        for a in 0..n {
            let padded = input[a] + pad_begin[a] + pad_end[a];
            if padded < span[a] {
                return Err(node.err(format!(
                    "spatial axis {a}: the window spans {} elements, the padded input {padded}",
                    span[a]
                )));
            }
            let mut out = if ceil {
                (padded - span[a]).div_ceil(strides[a]) + 1
            } else {
                (padded - span[a]) / strides[a] + 1
            };
            if ceil && (out - 1) * strides[a] >= input[a] + pad_begin[a] {
                out -= 1;
            }
            output.push(out);
        }
        Ok(Window {
            input: input.to_vec(),
            output,
            kernel,
            strides,
            dilations,
            pad_begin,
        })
    }

    /// For output position `o` and kernel offset `k`: the flat spatial input
    /// index, or `None` in the padding.
    pub(crate) fn tap(&self, o: &[usize], k: &[usize]) -> Option<usize> {
        let st = strides(&self.input);
        let mut flat = 0;
        for a in 0..self.input.len() {
            let i = (o[a] * self.strides[a] + k[a] * self.dilations[a]) as i64
                - self.pad_begin[a] as i64;
            if i < 0 || i as usize >= self.input[a] {
                return None;
            }
            flat += i as usize * st[a];
        }
        Some(flat)
    }

    /// The index map of a max pool over `channels` channels: for each
    /// channel and output position, its window's taps side by side (the
    /// flat input index of each; a padded tap repeats a real tap of its
    /// window, which cannot change the maximum). Groups of
    /// `prod(kernel)`, channel-major.
    pub(crate) fn max_map(&self, node: &Node, channels: usize) -> Result<Vec<usize>> {
        let in_sp = self.in_len();
        let kidx = indices(&self.kernel);
        let mut map = Vec::with_capacity(channels * self.out_len() * kidx.len());
        for ch in 0..channels {
            for o in indices(&self.output) {
                let taps: Vec<Option<usize>> = kidx.iter().map(|k| self.tap(&o, k)).collect();
                let Some(first) = taps.iter().flatten().next().copied() else {
                    return Err(node.err(format!("the window at {o:?} covers only padding")));
                };
                map.extend(taps.iter().map(|t| ch * in_sp + t.unwrap_or(first)));
            }
        }
        Ok(map)
    }

    pub(crate) fn in_len(&self) -> usize {
        self.input.iter().product()
    }

    pub(crate) fn out_len(&self) -> usize {
        self.output.iter().product()
    }
}

/// The runtime input `[1, C, spatial...]` with 1 or 2 spatial axes.
fn image(ctx: &mut Ctx, node: &Node) -> Result<(crate::ir::ValueId, usize, Vec<usize>)> {
    let (x, shape) = ctx.runtime(node, 0)?;
    if !(3..=5).contains(&shape.len()) || shape[0] != 1 {
        return Err(node.err(format!(
            "input of shape {shape:?}: lfc takes [1, C, L], [1, C, H, W] or [1, C, D, H, W]"
        )));
    }
    Ok((x, shape[1], shape[2..].to_vec()))
}

/// Checks the output extent lfc computed against tract's output shape.
fn check_output(ctx: &Ctx, node: &Node, channels: usize, w: &Window) -> Result<()> {
    let out = node.output()?;
    let want: Vec<usize> = [1, channels].into_iter().chain(w.output.clone()).collect();
    let got = ctx.shape(node, out)?;
    if got != want {
        return Err(node.err(format!(
            "output `{out}`: the attributes give shape {want:?}, tract {got:?}"
        )));
    }
    Ok(())
}

fn constant(
    ctx: &Ctx,
    node: &Node,
    i: usize,
    what: &str,
) -> Result<crate::front::onnx::lower::Const> {
    let name = node.required_input(i)?;
    match ctx.operand(node, name)? {
        Operand::Const(name, t) => ctx.to_f32(node, name, &t, false),
        Operand::Runtime { .. } => Err(node.err(format!("{what} (`{name}`) must be a constant"))),
    }
}

/// `Y[m][o] = B[m] + sum_{c in group(m), k} W[m][c][k] * X[c][o * stride + k * dilation - pad]`.
pub fn conv(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let (x, c_in, spatial) = image(ctx, node)?;
    let w = constant(ctx, node, 1, "weight W")?;
    let n = spatial.len();
    if w.shape.len() != n + 2 {
        return Err(node.err(format!(
            "weight of shape {:?} for an input with {n} spatial axes",
            w.shape
        )));
    }
    let (m_out, c_per) = (w.shape[0], w.shape[1]);
    let group = node.attr_i64_or("group", 1)?;
    if group < 1 || c_in % group as usize != 0 || m_out % group as usize != 0 {
        return Err(node.err(format!(
            "group {group} does not divide {c_in} input and {m_out} output channels"
        )));
    }
    let group = group as usize;
    if c_per * group != c_in {
        return Err(node.err(format!(
            "weight has {c_per} input channels per group; {c_in} channels in {group} groups need {}",
            c_in / group
        )));
    }
    let win = Window::read(node, &spatial, w.shape[2..].to_vec())?;
    check_output(ctx, node, m_out, &win)?;
    let bias = match node.input(2) {
        None => vec![0.0; m_out],
        Some(_) => {
            let b = constant(ctx, node, 2, "bias B")?;
            if b.data.len() != m_out {
                return Err(node.err(format!(
                    "bias has {} values for {m_out} channels",
                    b.data.len()
                )));
            }
            b.data
        }
    };
    let (in_sp, out_sp) = (win.in_len(), win.out_len());
    let n_in = c_in * in_sp;
    let k_len: usize = win.kernel.iter().product();
    let kidx = indices(&win.kernel);
    let mut weight = vec![0f32; m_out * out_sp * n_in];
    let mut full_bias = Vec::with_capacity(m_out * out_sp);
    for m in 0..m_out {
        let g = m / (m_out / group);
        for (oi, o) in indices(&win.output).iter().enumerate() {
            let row = &mut weight[(m * out_sp + oi) * n_in..(m * out_sp + oi + 1) * n_in];
            for cp in 0..c_per {
                let c = g * c_per + cp;
                for (ki, k) in kidx.iter().enumerate() {
                    if let Some(i) = win.tap(o, k) {
                        row[c * in_sp + i] += w.data[(m * c_per + cp) * k_len + ki];
                    }
                }
            }
            full_bias.push(bias[m]);
        }
    }
    ctx.emit(
        node,
        OpKind::Dense {
            weight,
            bias: full_bias,
        },
        vec![x],
        m_out * out_sp,
    )?;
    Ok(())
}

/// The mean of each window; padding counts only with `count_include_pad`.
pub fn average_pool(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let (x, c, spatial) = image(ctx, node)?;
    let kernel: Vec<usize> = match node.attr_ints("kernel_shape")? {
        Some(k) if k.len() == spatial.len() && k.iter().all(|&v| v >= 1) => {
            k.iter().map(|&v| v as usize).collect()
        }
        k => {
            return Err(node.err(format!(
                "attribute `kernel_shape` is {k:?}; expected {} values >= 1",
                spatial.len()
            )))
        }
    };
    let include_pad = node.attr_i64_or("count_include_pad", 0)? != 0;
    let win = Window::read(node, &spatial, kernel)?;
    check_output(ctx, node, c, &win)?;
    let (in_sp, out_sp) = (win.in_len(), win.out_len());
    let kidx = indices(&win.kernel);
    let mut weight = vec![0f32; c * out_sp * c * in_sp];
    for ch in 0..c {
        for (oi, o) in indices(&win.output).iter().enumerate() {
            let taps: Vec<usize> = kidx.iter().filter_map(|k| win.tap(o, k)).collect();
            let count = if include_pad { kidx.len() } else { taps.len() };
            let row = (ch * out_sp + oi) * c * in_sp;
            for i in taps {
                weight[row + ch * in_sp + i] += 1.0 / count as f32;
            }
        }
    }
    ctx.emit(
        node,
        OpKind::Dense {
            weight,
            bias: vec![0.0; c * out_sp],
        },
        vec![x],
        c * out_sp,
    )?;
    Ok(())
}

/// A pool's `kernel_shape`: one value >= 1 per spatial axis.
pub(crate) fn pool_kernel(node: &Node, spatial: &[usize]) -> Result<Vec<usize>> {
    match node.attr_ints("kernel_shape")? {
        Some(k) if k.len() == spatial.len() && k.iter().all(|&v| v >= 1) => {
            Ok(k.iter().map(|&v| v as usize).collect())
        }
        k => Err(node.err(format!(
            "attribute `kernel_shape` is {k:?}; expected {} values >= 1",
            spatial.len()
        ))),
    }
}

/// MaxPool: a compile-time index map lays out each window's taps together
/// (a padded tap repeats a real tap of its window, which cannot change the
/// maximum), then the maximum of each group of `prod(kernel)` values, in
/// the source's own quantization.
pub fn max_pool(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let (x, c, spatial) = image(ctx, node)?;
    if let Some(extra) = node.extra_outputs().first() {
        return Err(node.err(format!(
            "output `{extra}` (the Indices of the maxima) is used; lfc answers the values only"
        )));
    }
    let win = Window::read(node, &spatial, pool_kernel(node, &spatial)?)?;
    check_output(ctx, node, c, &win)?;
    let out_sp = win.out_len();
    let map = win.max_map(node, c)?;
    let axis_len = map.len() / (c * out_sp);
    let name = format!("{}_windows", node.output()?);
    let len = map.len();
    let w = ctx.emit_internal(node, &name, OpKind::Gather { map }, vec![x], len);
    ctx.emit(node, OpKind::GroupMax { axis_len }, vec![w], c * out_sp)?;
    Ok(())
}

/// The mean over all spatial positions of each channel.
pub fn global_average_pool(ctx: &mut Ctx, node: &Node) -> Result<()> {
    let (x, c, spatial) = image(ctx, node)?;
    let sp: usize = spatial.iter().product();
    let mut weight = vec![0f32; c * c * sp];
    for ch in 0..c {
        for i in 0..sp {
            weight[ch * c * sp + ch * sp + i] = 1.0 / sp as f32;
        }
    }
    ctx.emit(
        node,
        OpKind::Dense {
            weight,
            bias: vec![0.0; c],
        },
        vec![x],
        c,
    )?;
    Ok(())
}
