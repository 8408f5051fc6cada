//! The kernel module around a Rust snapshot: a crate root holding the one
//! `#[no_mangle] extern "C"` entry point (the snapshot itself forbids
//! unsafe code, and the lint counts `#[no_mangle]` as unsafe), a C shell
//! that registers the snapshot with lf_kernel and whose `infer` callback
//! calls that entry point directly, its header, and the Kbuild that links
//! the shell with the rustc-built object. What rustc is run with is decided
//! by [`crate::kbuild::rust`] from the target kernel's `.config`; this file
//! only prints.

use askama::Template;

use super::RustModule;
use crate::back::c::{c_int, c_string, ModuleMeta, SnapshotFacts};
use crate::ir::Program;
use crate::{Error, Result};

/// The files of a Rust snapshot's module tree, besides the snapshot
/// (`<stem>.rs`) and the object rustc makes of it.
#[derive(Clone, Debug)]
pub struct KernelFiles {
    pub stem: String,
    /// `<stem>_kernel.rs`: the crate root rustc compiles.
    pub entry: String,
    /// `<stem>_shell.c`
    pub shell: String,
    /// `<stem>_rust.h`
    pub header: String,
    /// `Kbuild`
    pub kbuild: String,
}

impl KernelFiles {
    /// `(file name, contents)` of every file, the snapshot included.
    pub fn files<'a>(&'a self, module: &'a RustModule) -> Vec<(String, &'a str)> {
        let s = &self.stem;
        vec![
            (format!("{s}.rs"), module.source.as_str()),
            (format!("{s}_kernel.rs"), self.entry.as_str()),
            (format!("{s}_shell.c"), self.shell.as_str()),
            (format!("{s}_rust.h"), self.header.as_str()),
            ("Kbuild".to_string(), self.kbuild.as_str()),
        ]
    }

    /// The name kbuild expects the rustc object under.
    pub fn object_name(&self) -> String {
        format!("{}_rust.o_shipped", self.stem)
    }

    /// The crate root to hand rustc.
    pub fn entry_name(&self) -> String {
        format!("{}_kernel.rs", self.stem)
    }
}

/// The C name of the Rust entry point of snapshot `stem`.
pub fn entry_symbol(stem: &str) -> String {
    format!("{stem}_rust_infer")
}

struct Kernel {
    stem: String,
    version: String,
    /// For C comments: one line, no `*/`.
    name: String,
    /// For the Kbuild comment: one line, no quote.
    name_plain: String,
    digest: String,
    entry: String,
    guard: String,
    /// Aligns the continued prototype line under its first parameter.
    indent: String,
    scratch_words: usize,
    scratch_bytes: usize,
    input_len: usize,
    output_len: usize,
    uuid_literal: String,
    app: u32,
    input_scale: String,
    output_scale: String,
    name_literal: String,
    digest_literal: String,
    description_literal: String,
    uuid_string: String,
    app_string: String,
    version_literal: String,
    /// The shell's comment on how the object was built, as wrapped lines.
    codegen_lines: Vec<String>,
    /// The rustc flags, for the Kbuild comment.
    rustflags: Vec<String>,
    /// Proven output bounds, guardrail, cost (snapshot ABI 2), as the C
    /// back end declares them.
    facts: SnapshotFacts,
}

#[derive(Template)]
#[template(path = "rust/kernel_entry.rs", escape = "none")]
struct EntryT<'a> {
    k: &'a Kernel,
}

#[derive(Template)]
#[template(path = "rust/shell.c", escape = "none")]
struct ShellT<'a> {
    k: &'a Kernel,
}

#[derive(Template)]
#[template(path = "rust/shell.h", escape = "none")]
struct HeaderT<'a> {
    k: &'a Kernel,
}

#[derive(Template)]
#[template(path = "rust/Kbuild", escape = "none")]
struct KbuildT<'a> {
    k: &'a Kernel,
}

fn render_file(t: impl Template) -> Result<String> {
    let mut text = t
        .render()
        .map_err(|e| Error::Other(format!("back::rust: template: {e}")))?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn codegen_sentence(stem: &str, entry: &str, mitigations: &[String]) -> String {
    let mut s = format!(
        "The snapshot's Rust ({stem}.rs) is in {stem}_rust.o, compiled by rustc \
         with the target kernel's code generation: no SSE/MMX/x87, no red zone, \
         kernel code model, static relocations"
    );
    if !mitigations.is_empty() {
        s.push_str("; as its .config asks, ");
        s.push_str(&mitigations.join(", "));
    }
    s.push_str(&format!(
        ". This shell registers it with lf_kernel as a C snapshot registers \
         itself; its infer callback stays C and calls {entry}() directly."
    ));
    s
}

/// `text` in lines of at most `width` columns, broken at spaces.
fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for w in text.split_whitespace() {
        let last = lines.last_mut().unwrap();
        if !last.is_empty() && last.len() + 1 + w.len() > width {
            lines.push(w.to_string());
        } else {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(w);
        }
    }
    lines
}

/// Tabs then spaces up to column `col` (kernel style: a continued
/// parameter list lines up under its first parameter).
fn continuation(col: usize) -> String {
    format!("{}{}", "\t".repeat(col / 8), " ".repeat(col % 8))
}

/// Prints the module tree of `module`; `rustflags` and `mitigations` (what
/// [`crate::kbuild::rust`] decided) go into comments.
pub fn emit(
    program: &Program,
    module: &RustModule,
    meta: &ModuleMeta,
    rustflags: &[String],
    mitigations: &[String],
) -> Result<KernelFiles> {
    let stem = module.stem.clone();
    let entry = entry_symbol(&stem);
    let name = one_line(&meta.name);
    let codegen_lines = wrap_words(&codegen_sentence(&stem, &entry, mitigations), 72);
    let k = Kernel {
        version: crate::VERSION.to_string(),
        name: format!("{:?}", name.replace("*/", "* /")),
        name_plain: name.replace('"', "'"),
        digest: meta.digest.clone(),
        guard: format!("{}_RUST_H", stem.to_uppercase()),
        indent: continuation(5 + entry.len() + 1),
        entry,
        scratch_words: module.scratch_words,
        scratch_bytes: module.scratch_words * 8,
        input_len: program.input_len,
        output_len: program.output_len,
        uuid_literal: format!("0x{:016x}ULL", meta.uuid),
        app: meta.app,
        input_scale: c_int(program.input_scale),
        output_scale: c_int(program.output_scale),
        name_literal: c_string(&meta.name),
        digest_literal: c_string(&meta.digest),
        description_literal: c_string(&format!(
            "LiteFlow snapshot of {name} (lfc {}, Rust)",
            crate::VERSION
        )),
        uuid_string: c_string(&meta.uuid.to_string()),
        app_string: c_string(&meta.app.to_string()),
        version_literal: c_string(crate::VERSION),
        codegen_lines,
        rustflags: rustflags.to_vec(),
        facts: module.facts.clone(),
        stem,
    };
    Ok(KernelFiles {
        stem: k.stem.clone(),
        entry: render_file(EntryT { k: &k })?,
        shell: render_file(ShellT { k: &k })?,
        header: render_file(HeaderT { k: &k })?,
        kbuild: render_file(KbuildT { k: &k })?,
    })
}
