//! Machine- and human-readable reports of what the commands computed:
//! JSON for scripts ([`json`]) and the HTML fidelity report of
//! `lfc eval --report` ([`html`], figures from [`analysis`], plots from
//! [`plots`]). The values come from the library (commands, control, adapt);
//! this module computes only what the reports show and lays it out.

pub mod analysis;
pub mod html;
pub mod json;
pub mod plots;
#[cfg(test)]
mod tests;

/// `lfc eval --report OUT.html`: evaluates every row and writes the page
/// atomically (no half-written report).
pub fn write_eval_html(
    compiled: &crate::pipeline::Compiled,
    data: &std::path::Path,
    out: &std::path::Path,
) -> crate::Result<()> {
    let rows = analysis::EvalRows::compute(compiled, data)?;
    let page = html::render(compiled, &rows)?;
    crate::pipeline::write_atomic(out, page.as_bytes())
}
