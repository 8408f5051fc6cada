//! Walks the [`Program`] with the validator's [`ModuleInfo`] and computes
//! everything the templates print: names, C types, expressions, tables,
//! comments. See `templates/c/` for the shape of the output.

use askama::Template;

use super::namer::{macro_name, Namer};
use super::templates::*;
use super::{CModule, ModuleMeta};
use crate::ir::{AccWidth, BinaryOp, Instr, InstrKind, Lut, Program, Rescale, Tensor, TensorId};
use crate::valid::{ModuleInfo, ELEM_BYTES};
use crate::{Error, Result};

/// The suffixes each kind of instruction may append to its `lf_<stem>`;
/// the namer reserves all of them with the stem, so no two generated names
/// can meet.
fn suffixes(kind: &InstrKind) -> &'static [&'static str] {
    match kind {
        InstrKind::Quantize { .. } => &["in_lo", "in_hi", "shift", "mul", "rescale", "zp"],
        InstrKind::Dense { .. } => &[
            "in", "out", "weight", "bias", "shift", "mul", "rescale", "zp", "qmin", "qmax",
        ],
        InstrKind::Scale { .. } => &[
            "len",
            "src_zp",
            "shift",
            "mul",
            "rescale",
            "pos_shift",
            "pos_mul",
            "pos_rescale",
            "neg_shift",
            "neg_mul",
            "neg_rescale",
            "offset",
            "zp",
            "qmin",
            "qmax",
        ],
        InstrKind::Binary { .. } => &[
            "len", "a_zp", "b_zp", "shift", "mul", "mul_a", "mul_b", "zp", "qmin", "qmax",
        ],
        InstrKind::Lut { .. } => &[
            "len",
            "lo",
            "hi",
            "range",
            "step_shift",
            "frac_mask",
            "table",
            "delta",
        ],
        InstrKind::Softmax { .. } => &[
            "len",
            "axis",
            "out_frac",
            "zp",
            "qmax",
            "lo",
            "hi",
            "range",
            "step_shift",
            "frac_mask",
            "table",
            "delta",
            "exp",
        ],
        InstrKind::Dequantize { .. } => &["src_zp", "shift", "mul", "rescale"],
    }
}

/// Inputs up to this many are quantized by straight-line code.
const QUANTIZE_UNROLL: usize = 64;

/// Lines longer than this (tabs at 8) are folded after a comma.
const MAX_COLUMNS: usize = 100;

/// Values per line in emitted tables.
const LINE_WIDTH: usize = 72;

/// The file stem (and C prefix) of the module for `uuid`.
pub fn stem(uuid: u64) -> String {
    format!("lf_model_{uuid}")
}

pub(super) fn write(program: &Program, info: &ModuleInfo, meta: &ModuleMeta) -> Result<CModule> {
    check_info(program, info)?;
    let mut w = Writer::new(program, info, meta);
    // Names first: a Dense layer may call the lookup function of the Lut
    // after it (see `fusions`).
    w.idents = program
        .instrs
        .iter()
        .map(|i| {
            let base = if i.node.is_empty() {
                &i.onnx_op
            } else {
                &i.node
            };
            w.namer.call(base, suffixes(&i.kind))
        })
        .collect();
    w.fused = fusions(program, info);
    let mut decls = Vec::new();
    let mut bodies = Vec::new();
    for (k, instr) in program.instrs.iter().enumerate() {
        let (d, b) = w.instr(k, instr).map_err(|e| match e {
            Error::Other(reason) => Error::node(&instr.node, &instr.onnx_op, reason),
            e => e,
        })?;
        decls.push(d);
        bodies.push(b);
    }
    let module = w.module(decls, bodies)?;
    let source = render_file(ModuleT { m: &module })?;
    let k = KbuildInfo {
        stem: w.stem.clone(),
        version: crate::VERSION.to_string(),
        name: one_line(&meta.name).replace('"', "'"),
    };
    Ok(CModule {
        stem: w.stem.clone(),
        source,
        kbuild: render_file(KbuildT { k: &k })?,
        makefile: render_file(MakefileT { k: &k })?,
    })
}

fn render(t: impl Template) -> Result<String> {
    t.render()
        .map_err(|e| Error::Other(format!("back::c: template: {e}")))
}

/// A whole file: askama drops the template's last newline, a file needs one.
fn render_file(t: impl Template) -> Result<String> {
    let mut text = render(t)?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

fn check_info(program: &Program, info: &ModuleInfo) -> Result<()> {
    let bad = |reason: String| Err(Error::Other(format!("back::c: ModuleInfo: {reason}")));
    if info.tensor_buffer.len() != program.tensors.len() {
        return bad(format!(
            "{} tensor buffers for {} tensors",
            info.tensor_buffer.len(),
            program.tensors.len()
        ));
    }
    for (t, (&b, tensor)) in info.tensor_buffer.iter().zip(&program.tensors).enumerate() {
        match info.buffers.get(b) {
            None => return bad(format!("tensor t{t} in buffer {b}, which does not exist")),
            Some(&len) if len < tensor.len => {
                return bad(format!(
                    "tensor t{t} has {} elements, its buffer {b} only {len}",
                    tensor.len
                ))
            }
            _ => {}
        }
    }
    if !info.tensor_bounds.is_empty() && info.tensor_bounds.len() != program.tensors.len() {
        return bad("tensor_bounds does not match the tensors".into());
    }
    Ok(())
}

fn fail<T>(reason: impl Into<String>) -> Result<T> {
    Err(Error::Other(reason.into()))
}

/// A C integer literal for `v` (`i64::MIN` has none).
pub fn c_int(v: i64) -> String {
    if v == i64::MIN {
        "(-9223372036854775807LL - 1)".to_string()
    } else {
        v.to_string()
    }
}

/// `c_int`, parenthesised when negative (for `#define` bodies).
fn c_define_int(v: i64) -> String {
    if v < 0 {
        format!("({})", c_int(v))
    } else {
        c_int(v)
    }
}

/// Text safe inside a `/* */` comment, on one line.
pub fn comment(s: &str) -> String {
    let mut out = one_line(s);
    while out.contains("*/") || out.contains("/*") {
        out = out.replace("*/", "* /").replace("/*", "/ *");
    }
    out
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A C string literal; anything outside printable ASCII as octal escapes.
pub fn c_string(s: &str) -> String {
    let mut out = String::from("\"");
    for b in s.bytes() {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            // `??x` trigraphs are off in gnu11, but keep them unambiguous.
            b'?' => out.push_str("\\?"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\{b:03o}")),
        }
    }
    out.push('"');
    out
}

/// A scale or factor for a comment.
fn sci(x: f64) -> String {
    format!("{x:.4e}")
}

/// The narrowest kernel integer type holding every value in `[lo, hi]`.
pub fn ctype_for(lo: i64, hi: i64) -> &'static str {
    let fits = |bits: u32| lo >= -(1i64 << (bits - 1)) && hi < (1i64 << (bits - 1));
    if fits(8) {
        "s8"
    } else if fits(16) {
        "s16"
    } else if fits(32) {
        "s32"
    } else {
        "s64"
    }
}

fn min_max(values: &[i64]) -> (i64, i64) {
    let lo = values.iter().copied().min().unwrap_or(0);
    let hi = values.iter().copied().max().unwrap_or(0);
    (lo, hi)
}

/// Comma-separated `items` wrapped into lines of about [`LINE_WIDTH`]
/// columns, each starting with `indent` and ending with `,`.
fn wrap(items: &[String], indent: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for item in items {
        if !line.is_empty() && line.len() + item.len() + 2 > LINE_WIDTH {
            lines.push(format!("{indent}{line}"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(item);
        line.push(',');
    }
    if !line.is_empty() {
        lines.push(format!("{indent}{line}"));
    }
    lines
}

fn check_rescale(r: Rescale, what: &str) -> Result<()> {
    if !(1..=63).contains(&r.shift) {
        return fail(format!("{what}: rescale shift {} outside 1..=63", r.shift));
    }
    Ok(())
}

/// File-scope declarations of one instruction, rendered in order.
#[derive(Default)]
struct Decls(Vec<String>);

impl Decls {
    fn define(&mut self, name: String, value: String, comment: Option<String>) -> Result<String> {
        let d = Define {
            name: name.clone(),
            value,
            comment,
        };
        self.0.push(render(DefineT { d: &d })?);
        Ok(name)
    }
    fn array(&mut self, a: Array) -> Result<String> {
        let name = a.name.clone();
        self.0.push(render(ArrayT { a: &a })?);
        Ok(name)
    }
    fn comment(&mut self, text: String) {
        self.0.push(format!("/* {text} */"));
    }
    /// Defines one per line; a blank line around each array (a comment
    /// line stays with the array after it).
    fn finish(self) -> String {
        let mut out = String::new();
        let mut prev: Option<&str> = None;
        for piece in &self.0 {
            let is_array = piece.starts_with("static const");
            let blank = match prev {
                None => false,
                Some(p) if p.starts_with("/*") => false,
                Some(p) => is_array || p.starts_with("static const") || piece.starts_with("/*"),
            };
            if blank {
                out.push('\n');
            }
            out.push_str(piece.trim_end_matches('\n'));
            out.push('\n');
            prev = Some(piece);
        }
        out
    }
}

struct Writer<'a> {
    program: &'a Program,
    info: &'a ModuleInfo,
    meta: &'a ModuleMeta,
    namer: Namer,
    stem: String,
    infer: String,
    /// C name of each buffer (`lf_b<N>`).
    buffers: Vec<String>,
    used_buffers: Vec<bool>,
    helpers: Helpers,
    /// `lf_<stem>` of each instruction.
    idents: Vec<String>,
    /// `fused[k]`: Dense `k` applies the Lut `k + 1` to its outputs.
    fused: Vec<bool>,
    uses_j: bool,
    uses_g: bool,
    uses_acc: bool,
    uses_acc32: bool,
}

impl<'a> Writer<'a> {
    fn new(program: &'a Program, info: &'a ModuleInfo, meta: &'a ModuleMeta) -> Writer<'a> {
        let stem = stem(meta.uuid);
        let mut namer = Namer::new();
        for suffix in [
            "",
            "_infer",
            "_snapshot",
            "_init",
            "_exit",
            "_scratch",
            "_buf",
        ] {
            namer.reserve(&format!("{stem}{suffix}"));
        }
        for name in [
            "lf_model_uuid",
            "lf_app_id",
            "lf_input_len",
            "lf_output_len",
            "lf_input_scale",
            "lf_output_scale",
            "lf_clamp",
            "lf_rescale",
            "lf_rescale_sum",
            "lf_lerp",
            "lf_fixmul",
            "lf_softmax_recip",
            "lf_softmax_norm_min",
            "lf_softmax_recip_frac",
            "lf_softmax_seed_c1",
            "lf_softmax_seed_c2",
            "lf_softmax_newton_steps",
            "lf_softmax_q",
        ] {
            namer.reserve(name);
        }
        let buffers: Vec<String> = (0..info.buffers.len())
            .map(|b| format!("lf_b{b}"))
            .collect();
        for b in &buffers {
            namer.reserve(b);
        }
        Writer {
            program,
            info,
            meta,
            namer,
            infer: format!("{stem}_infer"),
            stem,
            used_buffers: vec![false; buffers.len()],
            buffers,
            helpers: Helpers::default(),
            idents: Vec::new(),
            fused: Vec::new(),
            uses_j: false,
            uses_g: false,
            uses_acc: false,
            uses_acc32: false,
        }
    }

    fn tensor(&self, t: TensorId) -> Result<&'a Tensor> {
        match self.program.tensors.get(t.index()) {
            Some(x) => Ok(x),
            None => fail(format!("tensor {t} does not exist")),
        }
    }

    /// The buffer holding `t`, marked used.
    fn buf(&mut self, t: TensorId) -> Result<String> {
        self.tensor(t)?;
        let b = self.info.tensor_buffer[t.index()];
        self.used_buffers[b] = true;
        Ok(self.buffers[b].clone())
    }

    fn same_buffer(&self, a: TensorId, b: TensorId) -> bool {
        self.info.tensor_buffer[a.index()] == self.info.tensor_buffer[b.index()]
    }

    /// One comment line describing tensor `t` in its role.
    fn note(&self, role: &str, t: TensorId) -> String {
        let tensor = &self.program.tensors[t.index()];
        let buf = &self.buffers[self.info.tensor_buffer[t.index()]];
        let range = match self.info.tensor_bounds.get(t.index()) {
            Some((lo, hi)) => format!(", values in [{lo}, {hi}]"),
            None => String::new(),
        };
        format!(
            "{role}: {buf}[{}] \"{}\" (t{}), scale {}, zero point {}{range}",
            tensor.len,
            comment(&tensor.name),
            t.0,
            sci(tensor.q.scale),
            tensor.q.zero_point
        )
    }

    fn common(&self, ident: &str, instr: &Instr, notes: Vec<String>, decls: Decls) -> Common {
        let layer = ident.trim_start_matches("lf_");
        Common {
            title: format!(
                "{layer} - {} \"{}\"",
                comment(&instr.onnx_op),
                comment(&instr.node)
            ),
            doc: comment(&instr.doc),
            notes,
            decls: decls.finish(),
        }
    }

    /// `+ LF_X_ZP` (a named zero point), or nothing when it is 0.
    fn zp_term(
        &self,
        decls: &mut Decls,
        ident: &str,
        suffix: &str,
        zp: i64,
        of: &Tensor,
        sign: &str,
    ) -> Result<String> {
        if zp == 0 {
            return Ok(String::new());
        }
        let name = decls.define(
            macro_name(ident, suffix),
            c_define_int(zp),
            Some(format!("zero point of \"{}\"", comment(&of.name))),
        )?;
        Ok(format!(" {sign} {name}"))
    }

    /// `lf_clamp(x, LF_X_QMIN, LF_X_QMAX)` for a fused clamp, else `x`.
    fn clamp(
        &mut self,
        decls: &mut Decls,
        ident: &str,
        x: String,
        clamp: Option<(i64, i64)>,
    ) -> Result<String> {
        match clamp {
            None => Ok(x),
            Some((lo, hi)) => {
                if lo > hi {
                    return fail(format!("clamp [{lo}, {hi}] is empty"));
                }
                self.helpers.clamp = true;
                let lo = decls.define(macro_name(ident, "qmin"), c_define_int(lo), None)?;
                let hi = decls.define(macro_name(ident, "qmax"), c_define_int(hi), None)?;
                Ok(format!("lf_clamp({x}, {lo}, {hi})"))
            }
        }
    }

    /// Per-element constants: one `#define` when they are all equal, else
    /// a `static const` array of the narrowest type indexed by `idx`.
    fn per_elem(
        &mut self,
        decls: &mut Decls,
        ident: &str,
        suffix: &str,
        values: &[i64],
        idx: &str,
        what: &str,
    ) -> Result<String> {
        let (lo, hi) = min_max(values);
        if lo == hi {
            decls.define(
                macro_name(ident, suffix),
                c_define_int(lo),
                Some(what.to_string()),
            )
        } else {
            let items: Vec<String> = values.iter().map(|&v| c_int(v)).collect();
            let name = decls.array(Array {
                ctype: ctype_for(lo, hi).to_string(),
                name: format!("{ident}_{suffix}"),
                dims: format!("[{}]", values.len()),
                lines: wrap(&items, "\t"),
            })?;
            Ok(format!("{name}[{idx}]"))
        }
    }

    /// Multipliers for `rs` indexed by `idx`: (mul, shift) expressions.
    /// All equal: two `#define`s. One shift: a `mul` array and a shift
    /// `#define`. Otherwise an array of `struct lf_fixmul`.
    fn rescales(
        &mut self,
        decls: &mut Decls,
        ident: &str,
        prefix: &str,
        rs: &[Rescale],
        idx: &str,
        what: &str,
    ) -> Result<(String, String)> {
        for r in rs {
            check_rescale(*r, what)?;
        }
        let sfx = |s: &str| {
            if prefix.is_empty() {
                s.to_string()
            } else {
                format!("{prefix}_{s}")
            }
        };
        let muls: Vec<i64> = rs.iter().map(|r| r.mul).collect();
        let shifts: Vec<i64> = rs.iter().map(|r| r.shift as i64).collect();
        let (flo, fhi) = rs
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| {
                (lo.min(r.factor()), hi.max(r.factor()))
            });
        let factor = if flo == fhi {
            sci(flo)
        } else {
            format!("{} .. {}", sci(flo), sci(fhi))
        };
        let (slo, shi) = min_max(&shifts);
        if slo == shi {
            let shift = decls.define(
                macro_name(ident, &sfx("shift")),
                slo.to_string(),
                Some(format!("{what} = mul / 2^{slo} = {factor}")),
            )?;
            let mul = self.per_elem(
                decls,
                ident,
                &sfx("mul"),
                &muls,
                idx,
                &format!("{what}, times 2^{slo}"),
            )?;
            Ok((mul, shift))
        } else {
            self.helpers.fixmul = true;
            let items: Vec<String> = rs
                .iter()
                .map(|r| format!("{{ .mul = {}, .shift = {} }}", c_int(r.mul), r.shift))
                .collect();
            let lines = items.iter().map(|i| format!("\t{i},")).collect();
            let name = format!("{ident}_{}", sfx("rescale"));
            decls.comment(format!("{what} = mul / 2^shift = {factor}"));
            decls.array(Array {
                ctype: "struct lf_fixmul".into(),
                name: name.clone(),
                dims: format!("[{}]", rs.len()),
                lines,
            })?;
            Ok((format!("{name}[{idx}].mul"), format!("{name}[{idx}].shift")))
        }
    }

    fn instr(&mut self, k: usize, instr: &Instr) -> Result<(String, String)> {
        let ident = self.idents[k].clone();
        let acc_note = match self.info.acc_bits.get(k).copied().flatten() {
            Some(bits) => vec![format!("widest intermediate: {bits} bits (proven)")],
            None => vec![],
        };
        let mut decls = Decls::default();
        let p = self.program;
        match &instr.kind {
            InstrKind::Quantize {
                dst,
                in_lo,
                in_hi,
                rescale,
            } => {
                let t = self.tensor(*dst)?;
                if t.len != p.input_len || in_lo.len() != p.input_len || in_hi.len() != p.input_len
                {
                    return fail(format!(
                        "Quantize of {} inputs: dst has {}, domain {}/{}",
                        p.input_len,
                        t.len,
                        in_lo.len(),
                        in_hi.len()
                    ));
                }
                if in_lo.iter().zip(in_hi).any(|(lo, hi)| lo > hi) {
                    return fail("Quantize: empty input domain");
                }
                self.helpers.clamp = true;
                self.helpers.rescale = true;
                let dst_buf = self.buf(*dst)?;
                let lo = self.per_elem(
                    &mut decls,
                    &ident,
                    "in_lo",
                    in_lo,
                    "@",
                    "lowest input, input units",
                )?;
                let hi = self.per_elem(
                    &mut decls,
                    &ident,
                    "in_hi",
                    in_hi,
                    "@",
                    "highest input, input units",
                )?;
                let (mul, shift) = self.rescales(
                    &mut decls,
                    &ident,
                    "",
                    &[*rescale],
                    "@",
                    &format!("1 / (LF_INPUT_SCALE * {})", sci(t.q.scale)),
                )?;
                let zp = self.zp_term(&mut decls, &ident, "zp", t.q.zero_point, t, "+")?;
                // `@` stands for the index.
                // An identity rescale (the inputs already fit) is left out.
                let value = if rescale.is_identity() {
                    format!("lf_clamp(in[@], {lo}, {hi}){zp}")
                } else {
                    format!("lf_rescale(lf_clamp(in[@], {lo}, {hi}), {mul}, {shift}){zp}")
                };
                // Straight-line for short inputs: the bounds become immediates.
                let unrolled = if p.input_len <= QUANTIZE_UNROLL {
                    (0..p.input_len)
                        .map(|i| format!("{dst_buf}[{i}] = {}", value.replace('@', &i.to_string())))
                        .collect()
                } else {
                    Vec::new()
                };
                let value = value.replace('@', "i");
                let notes = [vec![self.note("dst", *dst)], acc_note].concat();
                let c = self.common(&ident, instr, notes, decls);
                let l = QuantizeL {
                    dst: dst_buf,
                    value,
                    unrolled,
                };
                self.construct(&(&c, &l))
            }
            InstrKind::Dense {
                src,
                dst,
                weight,
                weight_bits,
                bias,
                acc,
                rescale,
                clamp,
            } => {
                let (s, d) = (self.tensor(*src)?, self.tensor(*dst)?);
                if weight.len() != s.len * d.len || bias.len() != d.len || rescale.len() != d.len {
                    return fail(format!(
                        "Dense {}x{}: {} weights, {} biases, {} rescales",
                        d.len,
                        s.len,
                        weight.len(),
                        bias.len(),
                        rescale.len()
                    ));
                }
                if self.same_buffer(*src, *dst) {
                    return fail("Dense src and dst share a buffer");
                }
                let wlimit = 1i64 << (weight_bits.clamp(&2, &63) - 1);
                if weight.iter().any(|&w| w < -wlimit || w >= wlimit) {
                    return fail(format!("a weight does not fit weight_bits = {weight_bits}"));
                }
                self.helpers.rescale = true;
                let x = self.buf(*src)?;
                // Fused with the Lut after it: store lut(y) where the Lut would.
                let (y, apply) = match self.program.instrs.get(k + 1).map(|i| &i.kind) {
                    Some(InstrKind::Lut { dst: ldst, .. }) if self.fused[k] => {
                        (self.buf(*ldst)?, Some(self.idents[k + 1].clone()))
                    }
                    _ => (self.buf(*dst)?, None),
                };
                let what = format!(
                    "s(\"{}\") * s_w[j] / s(\"{}\")",
                    comment(&s.name),
                    comment(&d.name)
                );
                let mut notes = vec![self.note("x", *src), self.note("y", *dst)];
                notes.push(format!(
                    "{} x {} = {} multiply-adds, {} accumulator, {}-bit weights",
                    d.len,
                    s.len,
                    weight.len(),
                    if *acc == AccWidth::I32 { "s32" } else { "s64" },
                    weight_bits
                ));
                notes.extend(acc_note);
                if let Some(f) = &apply {
                    notes.push(format!(
                        "y is not stored: {y}[j] = {f}(y[j]) does the {} after this layer",
                        comment(&self.program.instrs[k + 1].onnx_op)
                    ));
                }
                let lut_call = |v: String| match &apply {
                    Some(f) => format!("{f}({v})"),
                    None => v,
                };
                let acc_t = if *acc == AccWidth::I32 { "s32" } else { "s64" };
                let cast = if *acc == AccWidth::I32 { "(s32)" } else { "" };
                if weight.len() <= self.meta.unroll_limit {
                    // Straight line: weights and biases are immediates.
                    let (mul_expr, shift_expr): (Option<String>, String);
                    let shifts: Vec<u32> = rescale.iter().map(|r| r.shift).collect();
                    if shifts.iter().all(|&sh| sh == shifts[0]) && !shifts.is_empty() {
                        for r in rescale {
                            check_rescale(*r, "Dense")?;
                        }
                        shift_expr = decls.define(
                            macro_name(&ident, "shift"),
                            shifts[0].to_string(),
                            Some(format!("{what} = mul[j] / 2^{}", shifts[0])),
                        )?;
                        mul_expr = None;
                    } else {
                        let (m, sh) = self.rescales(&mut decls, &ident, "", rescale, "J", &what)?;
                        mul_expr = Some(m);
                        shift_expr = sh;
                    }
                    let zp = self.zp_term(&mut decls, &ident, "zp", d.q.zero_point, d, "+")?;
                    let accv = if *acc == AccWidth::I32 {
                        self.uses_acc32 = true;
                        "acc32"
                    } else {
                        self.uses_acc = true;
                        "acc"
                    };
                    // The fused clamp around each channel's value, `{}` for the value.
                    let clamped = self.clamp(&mut decls, &ident, "{}".into(), *clamp)?;
                    let mut channels = Vec::with_capacity(d.len);
                    for j in 0..d.len {
                        let row = &weight[j * s.len..(j + 1) * s.len];
                        let terms = row
                            .iter()
                            .enumerate()
                            .filter(|(_, &w)| w != 0)
                            .map(|(i, &w)| {
                                let xi = format!("{cast}{x}[{i}]");
                                let (op, mag) = if w < 0 && w != i64::MIN {
                                    ("-", -w)
                                } else {
                                    ("+", w)
                                };
                                let expr = if mag == 1 {
                                    xi
                                } else {
                                    format!("{xi} * {}", c_int(mag))
                                };
                                Term { op, expr }
                            })
                            .collect();
                        let (m, sh) = match &mul_expr {
                            Some(m) => (
                                m.replace("[J]", &format!("[{j}]")),
                                shift_expr.replace("[J]", &format!("[{j}]")),
                            ),
                            None => (c_int(rescale[j].mul), shift_expr.clone()),
                        };
                        let v = format!("lf_rescale({accv}, {m}, {sh}){zp}");
                        channels.push(Channel {
                            bias: c_int(bias[j]),
                            terms,
                            dst: format!("{y}[{j}]"),
                            value: lut_call(clamped.replace("{}", &v)),
                        });
                    }
                    let c = self.common(&ident, instr, notes, decls);
                    let l = DenseUnrolled {
                        acc: accv.to_string(),
                        channels,
                    };
                    self.construct(&(&c, &l))
                } else {
                    self.uses_j = true;
                    let in_len = decls.define(macro_name(&ident, "in"), s.len.to_string(), None)?;
                    let out_len =
                        decls.define(macro_name(&ident, "out"), d.len.to_string(), None)?;
                    let wtype = match weight_bits {
                        0..=8 => "s8",
                        9..=16 => "s16",
                        17..=32 => "s32",
                        _ => "s64",
                    };
                    let mut lines = Vec::new();
                    for j in 0..d.len {
                        let items: Vec<String> = weight[j * s.len..(j + 1) * s.len]
                            .iter()
                            .map(|&w| c_int(w))
                            .collect();
                        lines.push("\t{".to_string());
                        lines.extend(wrap(&items, "\t\t"));
                        lines.push("\t},".to_string());
                    }
                    decls.array(Array {
                        ctype: wtype.into(),
                        name: format!("{ident}_weight"),
                        dims: format!("[{out_len}][{in_len}]"),
                        lines,
                    })?;
                    let (blo, bhi) = min_max(bias);
                    let items: Vec<String> = bias.iter().map(|&b| c_int(b)).collect();
                    decls.array(Array {
                        ctype: ctype_for(blo, bhi).into(),
                        name: format!("{ident}_bias"),
                        dims: format!("[{out_len}]"),
                        lines: wrap(&items, "\t"),
                    })?;
                    let (m, sh) = self.rescales(&mut decls, &ident, "", rescale, "j", &what)?;
                    let zp = self.zp_term(&mut decls, &ident, "zp", d.q.zero_point, d, "+")?;
                    let v = format!("lf_rescale(acc, {m}, {sh}){zp}");
                    let value = lut_call(self.clamp(&mut decls, &ident, v, *clamp)?);
                    let c = self.common(&ident, instr, notes, decls);
                    let l = DenseLoop {
                        out_len,
                        in_len,
                        acc_type: acc_t.into(),
                        bias: format!("{ident}_bias[j]"),
                        x: format!("{cast}{x}[i]"),
                        w: format!("{ident}_weight[j][i]"),
                        dst: format!("{y}[j]"),
                        value,
                    };
                    self.construct(&(&c, &l))
                }
            }
            InstrKind::Scale {
                src,
                dst,
                pos,
                neg,
                offset,
                clamp,
            } => {
                let (s, d) = (self.tensor(*src)?, self.tensor(*dst)?);
                if d.len != s.len
                    || pos.len() != s.len
                    || neg.len() != s.len
                    || offset.len() != s.len
                {
                    return fail(format!(
                        "Scale of {} elements: dst {}, pos {}, neg {}, offset {}",
                        s.len,
                        d.len,
                        pos.len(),
                        neg.len(),
                        offset.len()
                    ));
                }
                self.helpers.rescale = true;
                let x = self.buf(*src)?;
                let y = self.buf(*dst)?;
                let len = decls.define(macro_name(&ident, "len"), s.len.to_string(), None)?;
                let zps = self.zp_term(&mut decls, &ident, "src_zp", s.q.zero_point, s, "-")?;
                let v = format!("{x}[i]{zps}");
                let what = format!("s(\"{}\") / s(\"{}\")", comment(&s.name), comment(&d.name));
                let (pm, ps) = if pos == neg {
                    self.rescales(&mut decls, &ident, "", pos, "i", &what)?
                } else {
                    self.rescales(
                        &mut decls,
                        &ident,
                        "pos",
                        pos,
                        "i",
                        &format!("{what} for x >= zero point"),
                    )?
                };
                let neg_expr = if pos == neg {
                    None
                } else {
                    let (nm, ns) = self.rescales(
                        &mut decls,
                        &ident,
                        "neg",
                        neg,
                        "i",
                        &format!("{what} for x < zero point"),
                    )?;
                    Some(format!("lf_rescale(v, {nm}, {ns})"))
                };
                let off = if offset.iter().all(|&o| o == 0) {
                    String::new()
                } else {
                    let o = self.per_elem(
                        &mut decls,
                        &ident,
                        "offset",
                        offset,
                        "i",
                        "offset, in steps of the output",
                    )?;
                    format!(" + {o}")
                };
                let zp = self.zp_term(&mut decls, &ident, "zp", d.q.zero_point, d, "+")?;
                let value = self.clamp(&mut decls, &ident, format!("v{off}{zp}"), *clamp)?;
                let notes = [vec![self.note("x", *src), self.note("y", *dst)], acc_note].concat();
                let c = self.common(&ident, instr, notes, decls);
                let l = ScaleL {
                    len,
                    v,
                    pos: format!("lf_rescale(v, {pm}, {ps})"),
                    neg: neg_expr,
                    dst: y,
                    value,
                };
                self.construct(&(&c, &l))
            }
            InstrKind::Binary {
                op,
                a,
                b,
                dst,
                rescale_a,
                mul_b,
                clamp,
            } => {
                let (ta, tb, td) = (self.tensor(*a)?, self.tensor(*b)?, self.tensor(*dst)?);
                if ta.len != td.len || tb.len != td.len {
                    return fail(format!(
                        "Binary on {} and {} elements into {}",
                        ta.len, tb.len, td.len
                    ));
                }
                check_rescale(*rescale_a, "Binary")?;
                let (ba, bb, bd) = (self.buf(*a)?, self.buf(*b)?, self.buf(*dst)?);
                let len = decls.define(macro_name(&ident, "len"), td.len.to_string(), None)?;
                let za = self.zp_term(&mut decls, &ident, "a_zp", ta.q.zero_point, ta, "-")?;
                let zb = self.zp_term(&mut decls, &ident, "b_zp", tb.q.zero_point, tb, "-")?;
                let shift = decls.define(
                    macro_name(&ident, "shift"),
                    rescale_a.shift.to_string(),
                    None,
                )?;
                let value = match op {
                    BinaryOp::Add | BinaryOp::Sub => {
                        self.helpers.rescale_sum = true;
                        let ma = decls.define(
                            macro_name(&ident, "mul_a"),
                            c_define_int(rescale_a.mul),
                            Some(format!(
                                "s(\"{}\") / s(\"{}\") * 2^{}",
                                comment(&ta.name),
                                comment(&td.name),
                                rescale_a.shift
                            )),
                        )?;
                        let mb = decls.define(
                            macro_name(&ident, "mul_b"),
                            c_define_int(*mul_b),
                            Some(format!(
                                "s(\"{}\") / s(\"{}\") * 2^{}",
                                comment(&tb.name),
                                comment(&td.name),
                                rescale_a.shift
                            )),
                        )?;
                        let mb = if *op == BinaryOp::Sub {
                            format!("-{mb}")
                        } else {
                            mb
                        };
                        format!("lf_rescale_sum(a, {ma}, b, {mb}, {shift})")
                    }
                    BinaryOp::Mul => {
                        self.helpers.rescale = true;
                        let m = decls.define(
                            macro_name(&ident, "mul"),
                            c_define_int(rescale_a.mul),
                            Some(format!(
                                "s(\"{}\") * s(\"{}\") / s(\"{}\") * 2^{}",
                                comment(&ta.name),
                                comment(&tb.name),
                                comment(&td.name),
                                rescale_a.shift
                            )),
                        )?;
                        format!("lf_rescale(a * b, {m}, {shift})")
                    }
                };
                let zp = self.zp_term(&mut decls, &ident, "zp", td.q.zero_point, td, "+")?;
                let value = self.clamp(&mut decls, &ident, format!("{value}{zp}"), *clamp)?;
                let notes = [
                    vec![self.note("a", *a), self.note("b", *b), self.note("y", *dst)],
                    acc_note,
                ]
                .concat();
                let c = self.common(&ident, instr, notes, decls);
                let l = BinaryL {
                    len,
                    a: format!("{ba}[i]{za}"),
                    b: format!("{bb}[i]{zb}"),
                    dst: bd,
                    value,
                };
                self.construct(&(&c, &l))
            }
            InstrKind::Lut { src, dst, lut } => {
                let (s, d) = (self.tensor(*src)?, self.tensor(*dst)?);
                if s.len != d.len {
                    return fail(format!("Lut from {} into {} elements", s.len, d.len));
                }
                let fused = k > 0 && self.fused[k - 1];
                // Fused: the Dense layer before reads nothing from here.
                let x = if fused {
                    self.buffers[self.info.tensor_buffer[src.index()]].clone()
                } else {
                    self.buf(*src)?
                };
                let y = self.buf(*dst)?;
                let len = decls.define(macro_name(&ident, "len"), s.len.to_string(), None)?;
                let bounds = self.info.tensor_bounds[src.index()];
                let mut l =
                    self.lut_parts(&mut decls, &ident, ident.clone(), lut, bounds, len, x, y)?;
                if fused {
                    l.fused_into = Some(self.idents[k - 1].trim_start_matches("lf_").to_string());
                }
                let notes = [vec![self.note("x", *src), self.note("y", *dst)], acc_note].concat();
                let c = self.common(&ident, instr, notes, decls);
                self.construct(&(&c, &l))
            }
            InstrKind::Softmax {
                src,
                dst,
                axis_len,
                exp_lut,
                out_frac,
            } => {
                use crate::ir::program::softmax_consts as k;
                let (s, d) = (self.tensor(*src)?, self.tensor(*dst)?);
                if s.len != d.len || *axis_len == 0 || s.len % axis_len != 0 {
                    return fail(format!(
                        "Softmax from {} into {} elements in groups of {axis_len}",
                        s.len, d.len
                    ));
                }
                let q = k::NORM_BITS + 1 + k::RECIP_FRAC;
                if *out_frac + k::EXP_FRAC + 1 > q {
                    return fail(format!("Softmax out_frac {out_frac} too large"));
                }
                self.uses_g = true;
                self.helpers.rescale = true;
                self.helpers.softmax = Some(SoftmaxConsts {
                    norm_bits: k::NORM_BITS,
                    norm_shift: k::NORM_BITS + 1,
                    recip_frac: k::RECIP_FRAC,
                    seed_c1: c_int(k::SEED_C1),
                    seed_c2: c_int(k::SEED_C2),
                    newton_steps: k::NEWTON_STEPS,
                    q,
                });
                let x = self.buf(*src)?;
                let y = self.buf(*dst)?;
                let len = decls.define(macro_name(&ident, "len"), s.len.to_string(), None)?;
                let axis = decls.define(
                    macro_name(&ident, "axis"),
                    axis_len.to_string(),
                    Some("elements per softmax group".into()),
                )?;
                let out_frac_m = decls.define(
                    macro_name(&ident, "out_frac"),
                    out_frac.to_string(),
                    Some(format!("probabilities in Q{out_frac}")),
                )?;
                let zp = self.zp_term(&mut decls, &ident, "zp", d.q.zero_point, d, "+")?;
                let qmax =
                    decls.define(macro_name(&ident, "qmax"), c_define_int(d.q.qmax), None)?;
                let lut = self.lut_parts(
                    &mut decls,
                    &ident,
                    format!("{ident}_exp"),
                    exp_lut,
                    {
                        // x - max(x) over the source's proven range.
                        let (l, h) = self.info.tensor_bounds[src.index()];
                        (l - h, 0)
                    },
                    len.clone(),
                    x.clone(),
                    y.clone(),
                )?;
                let notes = [vec![self.note("x", *src), self.note("y", *dst)], acc_note].concat();
                let c = self.common(&ident, instr, notes, decls);
                let l = SoftmaxL {
                    lut,
                    exp_frac: k::EXP_FRAC,
                    len,
                    axis,
                    src: x,
                    dst: y,
                    out_frac: out_frac_m,
                    zp,
                    qmax,
                };
                self.construct(&(&c, &l))
            }
            InstrKind::Dequantize { src, rescale } => {
                let s = self.tensor(*src)?;
                if s.len != p.output_len {
                    return fail(format!(
                        "Dequantize of {} elements for {} outputs",
                        s.len, p.output_len
                    ));
                }
                self.helpers.rescale = true;
                let x = self.buf(*src)?;
                let zp = self.zp_term(&mut decls, &ident, "src_zp", s.q.zero_point, s, "-")?;
                let (mul, shift) = self.rescales(
                    &mut decls,
                    &ident,
                    "",
                    &[*rescale],
                    "i",
                    &format!("{} * LF_OUTPUT_SCALE", sci(s.q.scale)),
                )?;
                let value = format!("lf_rescale({x}[i]{zp}, {mul}, {shift})");
                let notes = [vec![self.note("x", *src)], acc_note].concat();
                let c = self.common(&ident, instr, notes, decls);
                let l = DequantizeL { value };
                self.construct(&(&c, &l))
            }
        }
    }

    /// A table's `#define`s, arrays and lookup function `lf_<stem>()`
    /// (`fn_name`), and what the Lut template prints.
    #[allow(clippy::too_many_arguments)]
    fn lut_parts(
        &mut self,
        decls: &mut Decls,
        ident: &str,
        fn_name: String,
        lut: &Lut,
        src_bounds: (i64, i64),
        len: String,
        src: String,
        dst: String,
    ) -> Result<LutL> {
        check_lut(lut)?;
        let interp = lut.step_shift > 0;
        self.helpers.rescale |= interp;
        let lo = decls.define(macro_name(ident, "lo"), c_define_int(lut.lo), None)?;
        let hi = decls.define(macro_name(ident, "hi"), c_define_int(lut.hi), None)?;
        let range = decls.define(macro_name(ident, "range"), format!("({hi} - {lo})"), None)?;
        let step_shift = macro_name(ident, "step_shift");
        let frac_mask = macro_name(ident, "frac_mask");
        if interp {
            decls.define(
                step_shift.clone(),
                lut.step_shift.to_string(),
                Some("entries are 2^step_shift inputs apart".into()),
            )?;
            decls.define(
                frac_mask.clone(),
                format!("(((s64)1 << {step_shift}) - 1)"),
                None,
            )?;
        }
        let (tlo, thi) = min_max(&lut.table);
        let items: Vec<String> = lut.table.iter().map(|&v| c_int(v)).collect();
        let table = decls.array(Array {
            ctype: ctype_for(tlo, thi).into(),
            name: format!("{ident}_table"),
            dims: format!("[{}]", lut.table.len()),
            lines: wrap(&items, "\t"),
        })?;
        let delta = format!("{ident}_delta");
        if interp {
            // Only entries 0 ..= (hi - lo) >> step_shift start a step.
            let steps = (((lut.hi - lut.lo) >> lut.step_shift) + 1) as usize;
            let d: Vec<i64> = lut
                .table
                .windows(2)
                .take(steps)
                .map(|w| w[1] - w[0])
                .collect();
            let (dlo, dhi) = min_max(&d);
            let items: Vec<String> = d.iter().map(|&v| c_int(v)).collect();
            decls.array(Array {
                ctype: ctype_for(dlo, dhi).into(),
                name: delta.clone(),
                dims: format!("[{}]", d.len()),
                lines: wrap(&items, "\t"),
            })?;
        }
        let f = LutFn {
            name: fn_name.clone(),
            func: lut.func.name().into(),
            table,
            delta,
            lo,
            hi,
            range,
            interp,
            step_shift,
            frac_mask,
            clamp_lo: src_bounds.0 < lut.lo,
            clamp_hi: src_bounds.1 > lut.hi,
        };
        decls.0.push(render(LutFnT { f: &f })?);
        Ok(LutL {
            func: lut.func.name().into(),
            lo_value: lut.lo,
            hi_value: lut.hi,
            entries: lut.table.len(),
            interp,
            step_shift_value: lut.step_shift,
            max_error: sci(lut.max_error),
            len,
            src,
            dst,
            fn_name,
            fused_into: None,
        })
    }

    fn construct(&self, c: &dyn Construct) -> Result<(String, String)> {
        let err = |e: askama::Error| Error::Other(format!("back::c: template: {e}"));
        let body = c.body().map_err(err)?;
        let decls = c.decls().map_err(err)?;
        Ok((fold(&decls), fold(body.trim_start_matches('\n'))))
    }

    fn module(&mut self, decls: Vec<String>, bodies: Vec<String>) -> Result<Module> {
        let p = self.program;
        let info = self.info;
        let used: Vec<usize> = (0..self.buffers.len())
            .filter(|&b| self.used_buffers[b])
            .collect();
        let act_bytes: usize = used.iter().map(|&b| info.buffers[b] * ELEM_BYTES).sum();
        let mut locals = Vec::new();
        let scratch = if info.scratch {
            let type_name = format!("{}_scratch", self.stem);
            locals.push(format!("struct {type_name} *scratch"));
            let ptrs: Vec<String> = used
                .iter()
                .map(|&b| format!("*{}", self.buffers[b]))
                .collect();
            if !ptrs.is_empty() {
                locals.push(format!("s64 {}", ptrs.join(", ")));
            }
            Some(Scratch {
                bytes: act_bytes,
                var: format!("{}_buf", self.stem),
                type_name,
                fields: used
                    .iter()
                    .map(|&b| format!("b{b}[{}]", info.buffers[b]))
                    .collect(),
                bind: used
                    .iter()
                    .map(|&b| (self.buffers[b].clone(), format!("b{b}")))
                    .collect(),
            })
        } else {
            for &b in &used {
                locals.push(format!("s64 {}[{}]", self.buffers[b], info.buffers[b]));
            }
            None
        };
        if self.uses_acc {
            locals.push("s64 acc".into());
        }
        if self.uses_acc32 {
            locals.push("s32 acc32".into());
        }
        let mut ints = vec!["i"];
        if self.uses_j {
            ints.push("j");
        }
        if self.uses_g {
            ints.push("g");
        }
        locals.push(format!("int {}", ints.join(", ")));

        let name = comment(&self.meta.name);
        let mut h: Vec<String> = vec![
            format!(" {}.c - LiteFlow snapshot of \"{name}\"", self.stem),
            String::new(),
            format!(
                " Generated by lfc {}; do not edit. Model digest (SHA-256 of the",
                crate::VERSION
            ),
            format!(
                " ONNX file and compile options): {}",
                comment(&self.meta.digest)
            ),
            String::new(),
            format!(
                " {} fixed point: {} inputs -> {} outputs, {} instructions,",
                p.precision.name(),
                p.input_len,
                p.output_len,
                p.instrs.len()
            ),
            format!(" {} multiply-adds.", p.macs()),
            String::new(),
            " Every tensor t holds integers q with".into(),
            "\treal = (q - zero_point(t)) * scale(t)".into(),
            " and all arithmetic is in s64. A change of scale rounds once, half up:".into(),
            "\trescale(x) = (x * mul + 2^(shift - 1)) >> shift ~= x * mul / 2^shift".into(),
            " lfc's validator proved, over the declared input domain, that no".into(),
            " product or accumulator below overflows its type and that every stored".into(),
            " value stays in its tensor's range, so there are no run-time checks.".into(),
            " Scales in the comments are documentation: the code never uses them.".into(),
            String::new(),
            " Boundary: real input = in[i] / LF_INPUT_SCALE,".into(),
            "           real output = out[i] / LF_OUTPUT_SCALE.".into(),
            String::new(),
            " Tensors:".into(),
        ];
        for t in 0..p.tensors.len() {
            h.push(format!(
                "\t{}",
                self.note(&format!("t{t}"), TensorId(t as u32))
            ));
        }
        h.push(String::new());
        if info.scratch {
            h.push(format!(
                " Activations: {act_bytes} bytes of per-CPU scratch; {} bytes of tables.",
                info.rodata_bytes
            ));
        } else {
            h.push(format!(
                " Activations: {act_bytes} bytes on the stack; {} bytes of tables.",
                info.rodata_bytes
            ));
        }
        // Tensor names can be long: nothing else to wrap here.
        let helpers = format!("\n{}", render(HelpersT { h: &self.helpers })?.trim());
        Ok(Module {
            stem: self.stem.clone(),
            infer: self.infer.clone(),
            snapshot: format!("{}_snapshot", self.stem),
            header: h,
            uuid_literal: format!("0x{:016x}ULL", self.meta.uuid),
            app: self.meta.app,
            input_len: p.input_len,
            output_len: p.output_len,
            input_scale: c_int(p.input_scale),
            output_scale: c_int(p.output_scale),
            helpers,
            decls: decls
                .into_iter()
                .map(|d| format!("\n{}", d.trim_end()))
                .collect(),
            scratch,
            locals,
            bodies: bodies
                .into_iter()
                .map(|b| b.trim_end().to_string())
                .collect(),
            name_literal: c_string(&self.meta.name),
            digest_literal: c_string(&self.meta.digest),
            description_literal: c_string(&format!(
                "LiteFlow snapshot of {} (lfc {})",
                one_line(&self.meta.name),
                crate::VERSION
            )),
            uuid_string: c_string(&self.meta.uuid.to_string()),
            app_string: c_string(&self.meta.app.to_string()),
            version_literal: c_string(crate::VERSION),
        })
    }
}

fn check_lut(lut: &Lut) -> Result<()> {
    if lut.lo > lut.hi {
        return fail(format!("table domain [{}, {}] is empty", lut.lo, lut.hi));
    }
    if lut.step_shift >= 62 {
        return fail(format!("table step_shift {} too large", lut.step_shift));
    }
    let need = (((lut.hi - lut.lo) >> lut.step_shift) + 2) as usize;
    if lut.table.len() < need {
        return fail(format!(
            "table has {} entries, [{}, {}] with step 2^{} needs {need}",
            lut.table.len(),
            lut.lo,
            lut.hi,
            lut.step_shift
        ));
    }
    Ok(())
}

fn columns(s: &str) -> usize {
    s.chars().fold(0, |col, c| {
        if c == '\t' {
            (col / 8 + 1) * 8
        } else {
            col + 1
        }
    })
}

/// Folds code lines wider than [`MAX_COLUMNS`] after the last `, ` that
/// fits inside parentheses; the continuation is aligned with the character
/// after the innermost open parenthesis (tabs, then spaces), kernel style.
fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        let trimmed = body.trim_start();
        let code =
            !(trimmed.starts_with("/*") || trimmed.starts_with('*') || trimmed.starts_with('#'));
        let mut rest = body.to_string();
        while code && columns(&rest) > MAX_COLUMNS {
            // Columns just after each open bracket still open at the cursor.
            let mut open: Vec<usize> = Vec::new();
            let mut cut = None;
            for (k, c) in rest.char_indices() {
                match c {
                    '(' | '[' | '{' => open.push(columns(&rest[..=k])),
                    ')' | ']' | '}' => {
                        open.pop();
                    }
                    ',' if rest[k + 1..].starts_with(' ') => {
                        if let Some(&col) = open.last() {
                            if columns(&rest[..=k]) <= MAX_COLUMNS {
                                cut = Some((k, col));
                            }
                        }
                    }
                    _ => {}
                }
            }
            let Some((k, col)) = cut else { break };
            let tail = rest[k + 1..].trim_start().to_string();
            let pad = format!("{}{}", "\t".repeat(col / 8), " ".repeat(col % 8));
            // No progress when the aligned tail is as wide as the line.
            if columns(&pad) + tail.len() >= columns(&rest) {
                break;
            }
            out.push_str(&rest[..=k]);
            out.push('\n');
            rest = format!("{pad}{tail}");
        }
        out.push_str(&rest);
        if line.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// Which Dense layers apply the Lut right after them to their outputs
/// (`tanh(W x + b)` in one pass, without storing and reloading `W x + b`):
/// the Lut reads the Dense output and nothing else does, and the Lut's
/// buffer is not the one the Dense layer is still reading.
fn fusions(p: &Program, info: &ModuleInfo) -> Vec<bool> {
    let readers = |t: TensorId| {
        p.instrs
            .iter()
            .filter(|i| match &i.kind {
                InstrKind::Quantize { .. } => false,
                InstrKind::Dense { src, .. }
                | InstrKind::Scale { src, .. }
                | InstrKind::Lut { src, .. }
                | InstrKind::Softmax { src, .. }
                | InstrKind::Dequantize { src, .. } => *src == t,
                InstrKind::Binary { a, b, .. } => *a == t || *b == t,
            })
            .count()
    };
    let mut fused = vec![false; p.instrs.len()];
    for k in 0..p.instrs.len().saturating_sub(1) {
        if let (
            InstrKind::Dense { src, dst, .. },
            InstrKind::Lut {
                src: lsrc,
                dst: ldst,
                ..
            },
        ) = (&p.instrs[k].kind, &p.instrs[k + 1].kind)
        {
            fused[k] = lsrc == dst
                && readers(*dst) == 1
                && info.tensor_buffer.get(ldst.index()) != info.tensor_buffer.get(src.index());
        }
    }
    fused
}
