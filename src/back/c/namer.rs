//! Turns ONNX node and tensor names into C identifiers.
//!
//! Every generated file-scope name is `lf_<stem>` (macros upper-case it:
//! `LF_<STEM>_SHIFT`). A stem is the ONNX name lower-cased with every run of
//! other characters replaced by one `_`. A layer asks for its stem together
//! with all the suffixes it will append, and gets a stem for which none of
//! those identifiers is taken (`fc1`, `fc1_2`, …): names are unique by
//! construction, never by luck, and lower case makes the macro spellings
//! unique as well.

use std::collections::HashSet;

use super::keywords::{ABI_MACROS, PREFIX, RESERVED};

#[derive(Debug)]
pub struct Namer {
    used: HashSet<String>,
}

impl Default for Namer {
    fn default() -> Self {
        Self::new()
    }
}

impl Namer {
    pub fn new() -> Namer {
        let used = RESERVED
            .iter()
            .chain(ABI_MACROS)
            .map(|s| s.to_string())
            .chain(
                ["lf_kernel", "lf_snapshot", "lf_infer_fn"]
                    .iter()
                    .map(|s| s.to_string()),
            )
            .collect();
        Namer { used }
    }

    /// Marks a full identifier (as the writer spells it, lower case) taken.
    pub fn reserve(&mut self, ident: &str) {
        self.used.insert(ident.to_ascii_lowercase());
    }

    /// A fresh `lf_<stem>` for `base`; `lf_<stem>_<suffix>` is reserved too
    /// for each of `suffixes`.
    pub fn call(&mut self, base: &str, suffixes: &[&str]) -> String {
        let stem = sanitize(base);
        let mut n = 1usize;
        loop {
            let candidate = if n == 1 {
                format!("{PREFIX}{stem}")
            } else {
                format!("{PREFIX}{stem}_{n}")
            };
            let all: Vec<String> = std::iter::once(candidate.clone())
                .chain(
                    suffixes
                        .iter()
                        .map(|s| format!("{candidate}_{}", s.to_ascii_lowercase())),
                )
                .collect();
            if all.iter().all(|id| !self.used.contains(id)) {
                self.used.extend(all);
                return candidate;
            }
            n += 1;
        }
    }
}

/// Lower-case ASCII letters and digits; every run of anything else becomes
/// one `_`; no leading or trailing `_`; `node` when nothing is left.
pub fn sanitize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for ch in name.chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    if out.is_empty() {
        out.push_str("node");
    }
    out
}

/// Upper-case macro spelling of a generated identifier plus suffix.
pub fn macro_name(ident: &str, suffix: &str) -> String {
    format!("{}_{}", ident, suffix).to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_onnx_names() {
        assert_eq!(sanitize("/actor/fc1/Gemm"), "actor_fc1_gemm");
        assert_eq!(sanitize("dense_1:0"), "dense_1_0");
        assert_eq!(sanitize("__"), "node");
        assert_eq!(sanitize("Tanh"), "tanh");
        assert_eq!(sanitize("é-x"), "x");
    }

    #[test]
    fn names_are_unique_with_their_suffixes() {
        let mut n = Namer::new();
        let a = n.call("fc1", &["shift", "step_shift"]);
        assert_eq!(a, "lf_fc1");
        // `fc1_step` + `shift` would spell `lf_fc1_step_shift`, taken above.
        let b = n.call("fc1_step", &["shift"]);
        assert_eq!(b, "lf_fc1_step_2");
        let c = n.call("FC1", &[]);
        assert_eq!(c, "lf_fc1_2");
        // The ABI's LF_NAME_LEN.
        let d = n.call("name", &["len"]);
        assert_eq!(d, "lf_name_2");
        n.reserve("lf_b0");
        assert_eq!(n.call("b0", &[]), "lf_b0_2");
    }
}
