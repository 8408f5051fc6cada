//! CSV: one row per line, comma separated, no quoting. An optional first
//! line made only of non-numeric fields (column names) is skipped. Blank
//! lines at the end are ignored; a blank line before the last data row is an
//! error. `nan`, `inf`, `-inf` (any case) parse as the IEEE values.

use std::io::Write;
use std::path::Path;

use super::{excerpt, Matrix};
use crate::{Error, Result};

fn parse_field(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok()
}

pub(super) fn read(path: &Path) -> Result<Matrix> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_bytes(path, &bytes)
}

pub(super) fn parse_bytes(path: &Path, bytes: &[u8]) -> Result<Matrix> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        Error::data(
            path,
            format!("not UTF-8 text (byte {}): not a CSV file", e.valid_up_to()),
        )
    })?;
    parse(path, text)
}

pub(super) fn parse(path: &Path, text: &str) -> Result<Matrix> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    // Everything after the last non-blank line is trailing blank lines.
    let end = lines
        .iter()
        .rposition(|l| !l.trim().is_empty())
        .map_or(0, |i| i + 1);
    let lines = &lines[..end];

    let mut start = 0;
    let mut header_width = None;
    if let Some(first) = lines.first() {
        let fields: Vec<&str> = first.split(',').collect();
        if !first.trim().is_empty() && fields.iter().all(|f| parse_field(f).is_none()) {
            header_width = Some(fields.len());
            start = 1;
        }
    }

    let mut data = Vec::new();
    let mut cols: Option<(usize, usize)> = None; // (width, line number)
    let mut rows = 0;
    for (i, line) in lines.iter().enumerate().skip(start) {
        let lineno = i + 1;
        if line.trim().is_empty() {
            return Err(Error::data(
                path,
                format!("line {lineno} is blank (blank lines are only allowed at the end)"),
            ));
        }
        let fields: Vec<&str> = line.split(',').collect();
        match cols {
            None => {
                if let Some(hw) = header_width {
                    if hw != fields.len() {
                        return Err(Error::data(
                            path,
                            format!(
                                "line 1 (header) has {hw} fields, line {lineno} has {}",
                                fields.len()
                            ),
                        ));
                    }
                }
                cols = Some((fields.len(), lineno));
            }
            Some((w, first)) if w != fields.len() => {
                return Err(Error::data(
                    path,
                    format!(
                        "line {lineno} has {} fields, line {first} (the first data row) has {w}",
                        fields.len()
                    ),
                ));
            }
            Some(_) => {}
        }
        for (c, f) in fields.iter().enumerate() {
            match parse_field(f) {
                Some(v) => data.push(v),
                None if f.trim().is_empty() => {
                    return Err(Error::data(
                        path,
                        format!("line {lineno}, column {}: empty field", c + 1),
                    ))
                }
                None => {
                    return Err(Error::data(
                        path,
                        format!(
                            "line {lineno}, column {}: `{}` is not a number",
                            c + 1,
                            excerpt(f.trim())
                        ),
                    ))
                }
            }
        }
        rows += 1;
    }
    let cols = cols.map(|(w, _)| w).or(header_width).unwrap_or(0);
    Ok(Matrix::new(rows, cols, data))
}

/// Formats a value so that `str::parse::<f64>` gives back the same bits:
/// shortest round-trip digits, in exponent form only for very large or very
/// small magnitudes (plain `{}` would print 1e300 with 301 digits).
pub(super) fn format_value(v: f64) -> String {
    let a = v.abs();
    if v.is_finite() && a != 0.0 && !(1e-5..1e16).contains(&a) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// Writes `m` as CSV, after a header line of column names when given.
pub(super) fn write(
    path: &Path,
    w: &mut dyn Write,
    m: &Matrix,
    header: Option<&[String]>,
) -> Result<()> {
    if m.cols == 0 && m.rows > 0 {
        return Err(Error::data(
            path,
            format!("cannot write {} rows of 0 columns as CSV", m.rows),
        ));
    }
    if let Some(h) = header {
        if h.len() != m.cols {
            return Err(Error::data(
                path,
                format!(
                    "internal error: {} column names for {} columns",
                    h.len(),
                    m.cols
                ),
            ));
        }
        w.write_all(format!("{}\n", h.join(",")).as_bytes())
            .map_err(|e| Error::io(path, e))?;
    }
    let mut line = String::new();
    for row in m.iter_rows() {
        line.clear();
        for (c, v) in row.iter().enumerate() {
            if c > 0 {
                line.push(',');
            }
            line.push_str(&format_value(*v));
        }
        line.push('\n');
        w.write_all(line.as_bytes())
            .map_err(|e| Error::io(path, e))?;
    }
    Ok(())
}
