//! Walks the [`Program`] with the validator's [`ModuleInfo`] and computes
//! everything the templates print: names, C types, expressions, tables,
//! comments. See `templates/c/` for the shape of the output.

use askama::Template;

use super::emit;
use super::expr::{Expr, Multipliers, PerElem};
use super::namer::{macro_name, Namer};
use super::templates::*;
use super::{CModule, ModuleMeta};
use crate::back::lower::{self, Plan};
use crate::back::lower_input::INPUT_POINTER;
use crate::ir::{Instr, Lut, Program, Rescale, Round, Tensor, TensorId};
use crate::valid::{ModuleInfo, ELEM_BYTES};
use crate::{Error, Result};

/// Lines longer than this (tabs at 8) are folded after a comma.
const MAX_COLUMNS: usize = 100;

/// Values per line in emitted tables.
const LINE_WIDTH: usize = 72;

/// The file stem (and C prefix) of the module for `uuid`.
pub fn stem(uuid: u64) -> String {
    format!("lf_model_{uuid}")
}

/// The `lf_<stem>` of every instruction, as the C writer names them (the
/// Rust writer uses the same names, so the two files read alike).
pub fn layer_idents(program: &Program, info: &ModuleInfo, meta: &ModuleMeta) -> Vec<String> {
    let mut w = Writer::new(program, info, meta);
    w.name_layers();
    w.idents
}

pub(super) fn write(program: &Program, info: &ModuleInfo, meta: &ModuleMeta) -> Result<CModule> {
    check_info(program, info)?;
    let mut w = Writer::new(program, info, meta);
    // Names first: a Dense layer may call the lookup function of the Lut
    // after it (see `lower::Plan`).
    w.name_layers();
    let mut decls = Vec::new();
    let mut bodies = Vec::new();
    for (k, instr) in program.instrs.iter().enumerate() {
        let (d, b) = emit::instr(&mut w, k, instr).map_err(|e| match e {
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
        rodata_bytes: w.rodata_bytes,
    })
}

pub(super) fn render(t: impl Template) -> Result<String> {
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

pub(crate) fn check_info(program: &Program, info: &ModuleInfo) -> Result<()> {
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
    if let Some(why) = crate::valid::kernel_limits(program, info) {
        return Err(Error::Other(format!(
            "{}: no kernel module can be emitted: {why} (`lfc run --engine interp` still runs it)",
            program.model_name
        )));
    }
    Ok(())
}

pub(super) fn fail<T>(reason: impl Into<String>) -> Result<T> {
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
pub(super) fn c_define_int(v: i64) -> String {
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
pub(super) fn sci(x: f64) -> String {
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

pub(super) fn min_max(values: &[i64]) -> (i64, i64) {
    let lo = values.iter().copied().min().unwrap_or(0);
    let hi = values.iter().copied().max().unwrap_or(0);
    (lo, hi)
}

/// Comma-separated `items` wrapped into lines of about [`LINE_WIDTH`]
/// columns, each starting with `indent` and ending with `,`.
pub(super) fn wrap(items: &[String], indent: &str) -> Vec<String> {
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

/// The one rounding of `rs` (the helpers print one per instruction;
/// lowering never mixes them).
pub(super) fn uniform_round(rs: &[Rescale], what: &str) -> Result<Round> {
    let round = rs.first().map_or(Round::HalfUp, |r| r.round);
    if rs.iter().any(|r| r.round != round) {
        return fail(format!("{what}: rescales with mixed rounding"));
    }
    Ok(round)
}

pub(super) fn check_rescale(r: Rescale, what: &str) -> Result<()> {
    if !(1..=63).contains(&r.shift) {
        return fail(format!("{what}: rescale shift {} outside 1..=63", r.shift));
    }
    Ok(())
}

/// Bytes of one element of an emitted `static const` array (x86-64 and
/// every 64-bit kernel architecture: `struct lf_fixmul` is an `s64` and a
/// `u32`, padded to 16).
pub(super) fn elem_bytes(ctype: &str) -> Result<usize> {
    Ok(match ctype {
        "s8" | "u8" => 1,
        "s16" | "u16" => 2,
        "s32" | "u32" => 4,
        "s64" | "u64" => 8,
        "struct lf_fixmul" => 16,
        _ => return fail(format!("no size known for C type {ctype}")),
    })
}

/// File-scope declarations of one instruction, rendered in order, and the
/// bytes of the tables among them.
#[derive(Default)]
pub(super) struct Decls {
    pieces: Vec<String>,
    pub rodata_bytes: usize,
}

impl Decls {
    pub fn define(&mut self, name: String, value: String, comment: Option<String>) -> Result<Expr> {
        let d = Define {
            name: name.clone(),
            value,
            comment,
        };
        self.pieces.push(render(DefineT { d: &d })?);
        Ok(Expr::Name(name))
    }
    /// Declares `a`, which holds `entries` elements of `a.ctype`.
    pub fn array(&mut self, a: Array, entries: usize) -> Result<Expr> {
        self.rodata_bytes += entries * elem_bytes(&a.ctype)?;
        let name = a.name.clone();
        self.pieces.push(render(ArrayT { a: &a })?);
        Ok(Expr::Name(name))
    }
    pub fn comment(&mut self, text: String) {
        self.pieces.push(format!("/* {text} */"));
    }
    pub fn push(&mut self, rendered: String) {
        self.pieces.push(rendered);
    }
    /// Defines one per line; a blank line around each array (a comment
    /// line stays with the array after it).
    fn finish(self) -> String {
        let mut out = String::new();
        let mut prev: Option<&str> = None;
        for piece in &self.pieces {
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

/// The declared limits of a fused activation clamp.
pub(super) struct Clamp {
    pub lo: Expr,
    pub hi: Expr,
}

impl Clamp {
    /// `lf_clamp(x, lo, hi)`, or `x` without a clamp.
    pub fn apply(clamp: &Option<Clamp>, x: Expr) -> Expr {
        match clamp {
            None => x,
            Some(c) => Expr::call("lf_clamp", vec![x, c.lo.clone(), c.hi.clone()]),
        }
    }
}

/// The state of one module being written; the emitters in [`emit`] fill it.
pub(super) struct Writer<'a> {
    pub program: &'a Program,
    pub info: &'a ModuleInfo,
    pub meta: &'a ModuleMeta,
    /// What to compute, decided once (shared with the Rust back end).
    pub plan: Plan,
    namer: Namer,
    stem: String,
    infer: String,
    /// C name of each buffer (`lf_b<N>`).
    buffers: Vec<String>,
    used_buffers: Vec<bool>,
    pub helpers: Helpers,
    /// `lf_<stem>` of each instruction.
    pub idents: Vec<String>,
    pub uses_j: bool,
    pub uses_g: bool,
    pub uses_acc: bool,
    pub uses_acc32: bool,
    /// The input tensor the layers read in place, through
    /// `lower_input::INPUT_POINTER` (`lower_input::reads_input_in_place`).
    pub input_in_place: Option<TensorId>,
    /// A layer has an AVX2 form (`--simd avx2`).
    pub uses_simd: bool,
    /// How many `u64 pk<b>` locals (accumulators of two packed channels).
    pub pk_locals: usize,
    /// Bytes of every `static const` table emitted so far.
    pub rodata_bytes: usize,
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
            "lf_rescale_even",
            "lf_rescale_odd",
            "lf_lerp",
            "lf_fixmul",
            "lf_softmax_recip",
            "lf_softmax_norm_min",
            "lf_softmax_recip_frac",
            "lf_softmax_seed_c1",
            "lf_softmax_seed_c2",
            "lf_softmax_newton_steps",
            "lf_softmax_q",
            "lf_simd",
            "lf_simd_begin",
            "lf_avx2",
            "lf_v16hi",
            "lf_v16hi_u",
            "lf_v8si",
            "lf_v4si",
            "lf_v4di",
            "lf_v2di",
            "lf_load16",
            "lf_madd",
            "lf_widen",
            "lf_hsum",
            "lf_zero8",
            "lf_zero4",
            "lf_sum8",
            "lf_sum4",
            "lf_sum4q",
            "lf_v4di_u",
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
            plan: lower::plan_simd(program, info, meta.unroll_limit, meta.simd),
            namer,
            infer: format!("{stem}_infer"),
            stem,
            used_buffers: vec![false; buffers.len()],
            buffers,
            helpers: Helpers::default(),
            idents: Vec::new(),
            uses_j: false,
            uses_g: false,
            uses_acc: false,
            uses_acc32: false,
            input_in_place: None,
            uses_simd: false,
            pk_locals: 0,
            rodata_bytes: 0,
        }
    }

    fn name_layers(&mut self) {
        self.idents = self
            .program
            .instrs
            .iter()
            .map(|i| {
                let base = if i.node.is_empty() {
                    &i.onnx_op
                } else {
                    &i.node
                };
                self.namer.call(base, emit::suffixes(&i.kind))
            })
            .collect();
    }

    pub fn tensor(&self, t: TensorId) -> Result<&'a Tensor> {
        match self.program.tensors.get(t.index()) {
            Some(x) => Ok(x),
            None => fail(format!("tensor {t} does not exist")),
        }
    }

    /// The buffer holding `t`, marked used.
    pub fn buf(&mut self, t: TensorId) -> Result<Expr> {
        self.tensor(t)?;
        let b = self.info.tensor_buffer[t.index()];
        self.used_buffers[b] = true;
        if self.input_in_place == Some(t) {
            return Ok(Expr::name(INPUT_POINTER));
        }
        Ok(Expr::name(&self.buffers[b]))
    }

    /// The buffer holding `t`, not marked used (a fused Lut names the
    /// source it does not read).
    pub fn buf_name(&self, t: TensorId) -> Expr {
        Expr::name(&self.buffers[self.info.tensor_buffer[t.index()]])
    }

    pub fn same_buffer(&self, a: TensorId, b: TensorId) -> bool {
        self.info.tensor_buffer[a.index()] == self.info.tensor_buffer[b.index()]
    }

    /// One comment line describing tensor `t` in its role.
    pub fn note(&self, role: &str, t: TensorId) -> String {
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

    pub fn common(
        &mut self,
        ident: &str,
        instr: &Instr,
        notes: Vec<String>,
        decls: Decls,
    ) -> Common {
        self.rodata_bytes += decls.rodata_bytes;
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

    /// A named zero point `LF_X_<SUFFIX>`, or nothing when it is 0.
    pub fn zp_term(
        &self,
        decls: &mut Decls,
        ident: &str,
        suffix: &str,
        zp: i64,
        of: &Tensor,
    ) -> Result<Option<Expr>> {
        if zp == 0 {
            return Ok(None);
        }
        let name = decls.define(
            macro_name(ident, suffix),
            c_define_int(zp),
            Some(format!("zero point of \"{}\"", comment(&of.name))),
        )?;
        Ok(Some(name))
    }

    /// The limits `LF_X_QMIN`, `LF_X_QMAX` of a fused clamp, declared.
    pub fn clamp_limits(
        &mut self,
        decls: &mut Decls,
        ident: &str,
        clamp: Option<(i64, i64)>,
    ) -> Result<Option<Clamp>> {
        match clamp {
            None => Ok(None),
            Some((lo, hi)) => {
                if lo > hi {
                    return fail(format!("clamp [{lo}, {hi}] is empty"));
                }
                self.helpers.clamp = true;
                let lo = decls.define(macro_name(ident, "qmin"), c_define_int(lo), None)?;
                let hi = decls.define(macro_name(ident, "qmax"), c_define_int(hi), None)?;
                Ok(Some(Clamp { lo, hi }))
            }
        }
    }

    /// Per-element constants: one `#define` when they are all equal, else
    /// a `static const` array of the narrowest type.
    pub fn per_elem(
        &mut self,
        decls: &mut Decls,
        ident: &str,
        suffix: &str,
        values: &[i64],
        what: &str,
    ) -> Result<PerElem> {
        let (lo, hi) = min_max(values);
        if lo == hi {
            let name = decls.define(
                macro_name(ident, suffix),
                c_define_int(lo),
                Some(what.to_string()),
            )?;
            Ok(PerElem::Uniform(name))
        } else {
            let items: Vec<String> = values.iter().map(|&v| c_int(v)).collect();
            let name = decls.array(
                Array {
                    ctype: ctype_for(lo, hi).to_string(),
                    name: format!("{ident}_{suffix}"),
                    dims: format!("[{}]", values.len()),
                    lines: wrap(&items, "\t"),
                },
                values.len(),
            )?;
            Ok(PerElem::Array(name))
        }
    }

    /// Multipliers for `rs`. All equal: two `#define`s. One shift: a `mul`
    /// array and a shift `#define`. Otherwise an array of `struct lf_fixmul`.
    pub fn rescales(
        &mut self,
        decls: &mut Decls,
        ident: &str,
        prefix: &str,
        rs: &[Rescale],
        what: &str,
    ) -> Result<Multipliers> {
        for r in rs {
            check_rescale(*r, what)?;
        }
        let round = uniform_round(rs, what)?;
        self.helpers.note_round(round);
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
                &format!("{what}, times 2^{slo}"),
            )?;
            Ok(Multipliers::Split {
                mul,
                shift: PerElem::Uniform(shift),
                round,
            })
        } else {
            self.helpers.fixmul = true;
            let items: Vec<String> = rs
                .iter()
                .map(|r| format!("{{ .mul = {}, .shift = {} }}", c_int(r.mul), r.shift))
                .collect();
            let lines = items.iter().map(|i| format!("\t{i},")).collect();
            let name = format!("{ident}_{}", sfx("rescale"));
            decls.comment(format!("{what} = mul / 2^shift = {factor}"));
            let name = decls.array(
                Array {
                    ctype: "struct lf_fixmul".into(),
                    name,
                    dims: format!("[{}]", rs.len()),
                    lines,
                },
                rs.len(),
            )?;
            Ok(Multipliers::Structs(name, round))
        }
    }

    pub fn construct(&self, c: &dyn Construct) -> Result<(String, String)> {
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
        if self.input_in_place.is_some() {
            locals.push(format!("const s64 *{INPUT_POINTER} = in"));
        }
        if self.pk_locals > 0 {
            let pk: Vec<String> = (0..self.pk_locals).map(|b| format!("pk{b}")).collect();
            locals.push(format!("u64 {}", pk.join(", ")));
        }
        let mut ints = vec!["i"];
        if self.uses_j {
            ints.push("j");
        }
        if self.uses_g {
            ints.push("g");
        }
        locals.push(format!("int {}", ints.join(", ")));
        if self.uses_simd {
            locals.push("bool lf_simd".into());
        }

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
        ];
        if p.outputs.len() > 1 {
            h.push(" Outputs, concatenated in graph order:".into());
            for o in &p.outputs {
                let scale = if o.integer {
                    "an integer at scale 1".to_string()
                } else {
                    "real = value / LF_OUTPUT_SCALE".to_string()
                };
                h.push(format!(
                    "\tout[{}..{}] {} ({scale})",
                    o.offset,
                    o.offset + o.len - 1,
                    comment(&o.name)
                ));
            }
            h.push(String::new());
        }
        h.push(" Tensors:".into());
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
                self.rodata_bytes
            ));
        } else {
            h.push(format!(
                " Activations: {act_bytes} bytes on the stack; {} bytes of tables.",
                self.rodata_bytes
            ));
        }
        // Tensor names can be long: nothing else to wrap here.
        let mut helpers = format!("\n{}", render(HelpersT { h: &self.helpers })?.trim());
        if self.uses_simd {
            helpers.push_str(&format!("\n{}", render(SimdHelpersT)?.trim_end()));
        }
        let facts = snapshot_facts(p, info, &self.stem, self.rodata_bytes)?;
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
            simd: self.uses_simd,
            decls: decls
                .into_iter()
                .filter(|d| !d.trim().is_empty())
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
            guarded: self.plan.steps.iter().any(|s| s.guarded),
            facts,
        })
    }
}

/// What struct lf_snapshot declares besides the code (snapshot ABI 2),
/// for the C module and the C shell of a Rust one: the proven output
/// bounds and the guardrail as `static const` arrays, struct lf_cost, and
/// their modinfo strings. `rodata_bytes` is what the back end's tables and
/// weights take.
pub fn snapshot_facts(
    p: &Program,
    info: &ModuleInfo,
    stem: &str,
    rodata_bytes: usize,
) -> Result<SnapshotFacts> {
    let array = |suffix: &str, v: Vec<i64>| -> Result<String> {
        let items: Vec<String> = v.iter().map(|&x| c_int(x)).collect();
        render(ArrayT {
            a: &Array {
                ctype: "s64".into(),
                name: format!("{stem}_{suffix}"),
                dims: "[LF_OUTPUT_LEN]".into(),
                lines: wrap(&items, "\t"),
            },
        })
    };
    let b = &info.output_bounds;
    let mut decls = vec![
        "/*\n * Proven by lfc's validator over the declared input domain, before\n * the guardrail: out_lo[i] <= out[i] <= out_hi[i]. For lf_kernel and\n * `lfc status`; infer() does not read them.\n */".to_string(),
        array("out_lo", b.iter().map(|x| x.0).collect())?,
        array("out_hi", b.iter().map(|x| x.1).collect())?,
    ];
    let (guard_lo, guard_hi) = match &p.output_guard {
        Some(g) => {
            decls.push("/* The guardrail (--output-range) infer() clamps out[i] to. */".into());
            decls.push(array("guard_lo", g.iter().map(|x| x.0).collect())?);
            decls.push(array("guard_hi", g.iter().map(|x| x.1).collect())?);
            (format!("{stem}_guard_lo"), format!("{stem}_guard_hi"))
        }
        None => ("NULL".to_string(), "NULL".to_string()),
    };
    Ok(SnapshotFacts {
        decls: decls
            .iter()
            .map(|d| d.trim_end().to_string())
            .collect::<Vec<_>>()
            .join("\n"),
        out_lo: format!("{stem}_out_lo"),
        out_hi: format!("{stem}_out_hi"),
        guard_lo,
        guard_hi,
        cost: Cost {
            macs: info.macs,
            cmps: info.cmps,
            stack_bytes: info.stack_bytes,
            rodata_bytes,
            scratch_bytes: info.scratch_bytes,
        },
        output_bounds_string: c_string(&real_ranges(p, &info.output_bounds)),
        guardrail_string: c_string(
            &p.output_guard
                .as_ref()
                .map(|g| real_ranges(p, g))
                .unwrap_or_else(|| "none".into()),
        ),
        cost_string: c_string(&format!(
            "macs={} cmps={} stack={} rodata={rodata_bytes} scratch={}",
            info.macs, info.cmps, info.stack_bytes, info.scratch_bytes
        )),
    })
}

/// `lo:hi` per output element in real units (value / that output's
/// scale), comma-separated: the modinfo form.
pub fn real_ranges(p: &Program, b: &[(i64, i64)]) -> String {
    let scales = p
        .outputs
        .iter()
        .flat_map(|o| std::iter::repeat_n(o.scale, o.len));
    b.iter()
        .zip(scales)
        .map(|(&(lo, hi), s)| format!("{}:{}", lo as f64 / s as f64, hi as f64 / s as f64))
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) fn check_lut(lut: &Lut) -> Result<()> {
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
