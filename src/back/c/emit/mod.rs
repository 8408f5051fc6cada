//! One emitter per instruction kind. Each file holds, for its kind:
//!
//! - `SUFFIXES`: every suffix its generated names may append to the layer's
//!   `lf_<stem>` (the namer reserves them all with the stem, so two
//!   generated names can never meet);
//! - `emit(w, cx)`: checks the instruction's shape, declares its constants
//!   and tables in `cx.decls` (through the [`Writer`] helpers, which return
//!   typed [`Expr`](super::expr::Expr)s), builds the C expressions of its
//!   body and renders its template (`templates/c/<kind>.c`, struct in
//!   `templates.rs` declared with `construct!`), returning the two blocks.
//!
//! What to compute (straight-line or loop, fusions) is already decided in
//! `w.plan` ([`crate::back::lower`]); an emitter prints it.
//!
//! To add an instruction kind: give the `InstrKind` variant its `dst()` and
//! `srcs()` (`ir/program.rs`), its bounds (`ir/bounds.rs`) and interpreter
//! arm; add `emit/<kind>.rs` with `SUFFIXES` and `emit`; add one arm to each
//! `match` below; add its template and template struct.

mod binary;
mod concat;
mod dense;
mod dense_avx2;
mod dense_packed;
mod dequantize;
mod layer_norm;
pub(super) mod lut;
mod quantize;
mod scale;
mod softmax;
mod trees;

use super::writer::{Decls, Writer};
use crate::ir::{Instr, InstrKind};
use crate::Result;

/// What an emitter receives besides the writer.
pub(super) struct Cx<'i> {
    /// Index of the instruction in the program.
    pub k: usize,
    pub instr: &'i Instr,
    /// `lf_<stem>` of the instruction.
    pub ident: String,
    /// Its file-scope declarations.
    pub decls: Decls,
    /// The validator's proven width of its widest intermediate, as a note.
    pub acc_note: Vec<String>,
}

/// The suffixes an instruction's generated names may use.
pub(super) fn suffixes(kind: &InstrKind) -> &'static [&'static str] {
    match kind {
        InstrKind::Quantize { .. } => quantize::SUFFIXES,
        InstrKind::Dense { .. } => dense::SUFFIXES,
        InstrKind::Scale { .. } => scale::SUFFIXES,
        InstrKind::Binary { .. } => binary::SUFFIXES,
        InstrKind::Lut { .. } => lut::SUFFIXES,
        InstrKind::Softmax { .. } => softmax::SUFFIXES,
        InstrKind::Dequantize { .. } => dequantize::SUFFIXES,
        InstrKind::Concat { .. } => concat::SUFFIXES,
        InstrKind::LayerNorm { .. } => layer_norm::SUFFIXES,
        InstrKind::Trees { .. }
        | InstrKind::ArgMax { .. }
        | InstrKind::GroupMax { .. }
        | InstrKind::Lookup { .. } => trees::SUFFIXES,
    }
}

/// Emits instruction `k`: its declarations and its body.
pub(super) fn instr(w: &mut Writer, k: usize, instr: &Instr) -> Result<(String, String)> {
    let cx = Cx {
        k,
        instr,
        ident: w.idents[k].clone(),
        decls: Decls::default(),
        acc_note: match w.info.acc_bits.get(k).copied().flatten() {
            Some(bits) => vec![format!("widest intermediate: {bits} bits (proven)")],
            None => vec![],
        },
    };
    match &instr.kind {
        InstrKind::Quantize { .. } => quantize::emit(w, cx),
        InstrKind::Dense { .. } => dense::emit(w, cx),
        InstrKind::Scale { .. } => scale::emit(w, cx),
        InstrKind::Binary { .. } => binary::emit(w, cx),
        InstrKind::Lut { .. } => lut::emit(w, cx),
        InstrKind::Softmax { .. } => softmax::emit(w, cx),
        InstrKind::Dequantize { .. } => dequantize::emit(w, cx),
        InstrKind::Trees { .. } => trees::emit(w, cx),
        InstrKind::ArgMax { .. } => trees::emit_argmax(w, cx),
        InstrKind::GroupMax { .. } => trees::emit_group_max(w, cx),
        InstrKind::Lookup { .. } => trees::emit_lookup(w, cx),
        InstrKind::Concat { .. } => concat::emit(w, cx),
        InstrKind::LayerNorm { .. } => layer_norm::emit(w, cx),
    }
}

/// The error of an emitter handed another kind (a dispatch bug).
fn wrong_kind<T>(cx: &Cx, want: &str) -> Result<T> {
    super::writer::fail(format!(
        "internal: the {want} emitter was given {}",
        cx.instr.onnx_op
    ))
}
