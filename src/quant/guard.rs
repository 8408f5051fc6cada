//! The output guardrail (`--output-range`): the `[lo, hi]` each model output
//! is clamped to after the Dequantize, in the `s64` units the snapshot
//! answers in. The program carries it ([`Program::output_guard`]); the
//! validator checks it, `back::lower` decides where a clamp can act, and
//! every back end (C, Rust, interpreter) applies it the same way.

use std::path::Path;

use crate::data;
use crate::error::Error;
use crate::ir::Program;
use crate::quant::warn::Warning;
use crate::Result;

/// `--output-range`: one interval for every output element, or a file of
/// `lo, hi` rows, one per output element (graph order, concatenated).
#[derive(Clone, Debug, PartialEq)]
pub enum OutputRange {
    All(f64, f64),
    File(std::path::PathBuf),
}

impl OutputRange {
    /// Parses `LO:HI`, or else takes the text as a file path.
    pub fn parse(s: &str) -> Result<OutputRange> {
        match crate::pipeline::InputRange::parse_for(s, "--output-range")? {
            crate::pipeline::InputRange::All(a, b) => Ok(OutputRange::All(a, b)),
            crate::pipeline::InputRange::File(p) => Ok(OutputRange::File(p)),
        }
    }
}

/// The guardrail of `program` in `s64` output units: `lo` rounded up, `hi`
/// down (the clamp never lets a value outside the real interval through),
/// each output at its own scale (an integer output at scale 1).
pub fn output_guard(program: &Program, range: &OutputRange) -> Result<Vec<(i64, i64)>> {
    let n = program.output_len;
    let real: Vec<(f64, f64)> = match range {
        OutputRange::All(a, b) => vec![(*a, *b); n],
        OutputRange::File(p) => read_bounds(p, n)?,
    };
    let scales = program
        .outputs
        .iter()
        .flat_map(|o| std::iter::repeat_n(o.scale, o.len));
    real.iter()
        .zip(scales)
        .enumerate()
        .map(|(i, (&(a, b), s))| {
            let lo = to_units(a * s as f64, f64::ceil);
            let hi = to_units(b * s as f64, f64::floor);
            if lo > hi {
                return Err(Error::option(
                    "--output-range",
                    format!("output {i}: [{a}, {b}] holds no value at scale {s}"),
                ));
            }
            Ok((lo, hi))
        })
        .collect()
}

/// The guardrail of `program` in real units, per output element (`None`
/// without one): what the snapshot's answers are clamped to, so what the
/// float model's answers are compared against clamped too.
pub fn real_guard(program: &Program) -> Option<Vec<(f64, f64)>> {
    let guard = program.output_guard.as_ref()?;
    let scales = program
        .outputs
        .iter()
        .flat_map(|o| std::iter::repeat_n(o.scale as f64, o.len));
    Some(
        guard
            .iter()
            .zip(scales)
            .map(|(&(lo, hi), s)| (lo as f64 / s, hi as f64 / s))
            .collect(),
    )
}

/// `x` rounded by `round`, saturated to the `s64` range (a bound beyond it
/// limits nothing).
fn to_units(x: f64, round: fn(f64) -> f64) -> i64 {
    let r = round(x);
    if r >= i64::MAX as f64 {
        i64::MAX
    } else if r <= i64::MIN as f64 {
        i64::MIN
    } else {
        r as i64
    }
}

fn read_bounds(p: &Path, n: usize) -> Result<Vec<(f64, f64)>> {
    let m = data::read_matrix(p)?;
    data::check_finite(p, &m)?;
    if m.rows != n || m.cols != 2 {
        return Err(Error::data(
            p,
            format!(
                "--output-range: need {n} rows of `lo, hi` (one per output element); found {} rows of {} columns",
                m.rows, m.cols
            ),
        ));
    }
    (0..n)
        .map(|i| {
            let (a, b) = (m.row(i)[0], m.row(i)[1]);
            if a > b {
                return Err(Error::data(p, format!("row {}: lo {a} > hi {b}", i + 1)));
            }
            Ok((a, b))
        })
        .collect()
}

/// A warning per output element whose proven bounds reach outside the
/// guardrail: queries there get clamped answers (counted as guardrail
/// hits by lf_kernel), which is what the guardrail is for, but never
/// silently.
pub fn warnings(program: &Program, proven: &[(i64, i64)]) -> Vec<Warning> {
    let Some(guard) = &program.output_guard else {
        return Vec::new();
    };
    let names = program.outputs.iter().flat_map(|o| {
        (0..o.len).map(move |j| {
            let name = if o.len == 1 {
                o.name.clone()
            } else {
                format!("{}[{j}]", o.name)
            };
            (name, o.scale as f64)
        })
    });
    guard
        .iter()
        .zip(proven)
        .zip(names)
        .filter(|((g, b), _)| b.0 < g.0 || b.1 > g.1)
        .map(|((g, b), (name, s))| {
            let cut = ((g.0 - b.0).max(0)).max((b.1 - g.1).max(0)) as f64 / s;
            Warning {
                node: name.clone(),
                max_error: cut,
                message: format!(
                    "output `{name}`: proven in [{}, {}], the guardrail [{}, {}] clamps up to {cut} of it \
                     (such queries return LF_INFER_GUARD and are counted as guardrail hits)",
                    b.0 as f64 / s,
                    b.1 as f64 / s,
                    g.0 as f64 / s,
                    g.1 as f64 / s
                ),
            }
        })
        .collect()
}
