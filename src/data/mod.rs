//! Numeric data files: calibration sets, inputs to `lfc run`/`eval`/`infer`,
//! outputs. Formats: `.npy` (float32/float64, N×I or I), `.csv` (one row per
//! line, comma separated, optional header line of non-numeric names), and
//! ONNX TensorProto `.pb` (the ONNX backend test-data format).
//!
//! Reading never rejects NaN or ±inf by itself: callers that need finite
//! values call [`check_finite`] (and [`check_nonempty`], [`check_width`]) so
//! each use can word its own policy.

use std::io::{BufWriter, Write};
use std::path::Path;

use crate::{Error, Result};

pub use fixed::{fixed_csv, write_fixed};

mod csv;
mod fixed;
mod npy;
mod pb;

#[cfg(test)]
mod tests;

/// A dense row-major matrix of f64 (rows × cols).
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f64>,
}

impl Matrix {
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Self {
        assert_eq!(rows * cols, data.len());
        Matrix { rows, cols, data }
    }
    pub fn row(&self, r: usize) -> &[f64] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }
    pub fn iter_rows(&self) -> impl Iterator<Item = &[f64]> {
        self.data.chunks(self.cols.max(1)).take(self.rows)
    }
}

const SUPPORTED_READ: &str = ".npy, .csv, .pb";
const SUPPORTED_WRITE: &str = ".npy, .csv";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Npy,
    Csv,
    Pb,
}

impl Format {
    fn of(path: &Path, supported: &str) -> Result<Format> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("npy") => Ok(Format::Npy),
            Some("csv") => Ok(Format::Csv),
            Some("pb") => Ok(Format::Pb),
            Some(other) => Err(Error::data(
                path,
                format!("unsupported file extension `.{other}` (supported: {supported})"),
            )),
            None => Err(Error::data(
                path,
                format!("no file extension to tell the format (supported: {supported})"),
            )),
        }
    }
}

/// Reads a matrix by the file's extension (case-insensitive): `.npy`, `.csv`
/// or `.pb`. Errors name the file and what is wrong (format, line, column,
/// dtype, shape).
pub fn read_matrix(path: &Path) -> Result<Matrix> {
    match Format::of(path, SUPPORTED_READ)? {
        Format::Npy => npy::read(path),
        Format::Csv => csv::read(path),
        Format::Pb => pb::read(path),
    }
}

/// Like [`read_matrix`], from the file's bytes already in memory (`path`
/// gives the format by its extension and names the file in messages).
pub fn parse_matrix(path: &Path, bytes: &[u8]) -> Result<Matrix> {
    match Format::of(path, SUPPORTED_READ)? {
        Format::Npy => npy::parse(path, bytes),
        Format::Csv => csv::parse_bytes(path, bytes),
        Format::Pb => pb::parse(path, bytes),
    }
}

/// Writes a matrix by extension: `.npy` as little-endian float64 (`<f8`)
/// N×C in C order, `.csv` as one row per line with Rust's shortest
/// round-trip float formatting (so every value reads back bit for bit).
/// Writes to a temporary file in the same directory and renames it into
/// place, so a failure leaves no partial file (and an existing file at
/// `path` untouched).
pub fn write_matrix(path: &Path, m: &Matrix) -> Result<()> {
    write_table(path, m, None)
}

/// [`write_matrix`] with column names: a CSV gets them as a header line
/// (`.npy` has no place for them and holds the values only).
pub fn write_table(path: &Path, m: &Matrix, header: Option<&[String]>) -> Result<()> {
    let format = match Format::of(path, SUPPORTED_WRITE)? {
        Format::Pb => {
            return Err(Error::data(
                path,
                format!("writing `.pb` is not supported (supported: {SUPPORTED_WRITE})"),
            ))
        }
        f => f,
    };
    check_consistent(path, m)?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(path, e))?;
    {
        let mut w = BufWriter::new(tmp.as_file_mut());
        match format {
            Format::Npy => npy::write(path, &mut w, m)?,
            Format::Csv => csv::write(path, &mut w, m, header)?,
            Format::Pb => unreachable!(),
        }
        w.flush().map_err(|e| Error::io(path, e))?;
    }
    #[cfg(unix)]
    {
        // NamedTempFile creates 0600 files; give the result ordinary
        // permissions (as a plain create under the usual umask would).
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(|e| Error::io(path, e))?;
    }
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// Writes a matrix as CSV (same format as [`write_matrix`] for `.csv`) to
/// any writer, e.g. stdout. I/O errors are reported against `<stdout>`.
pub fn write_matrix_to(w: &mut dyn Write, m: &Matrix) -> Result<()> {
    write_table_to(w, m, None)
}

/// [`write_matrix_to`] with an optional CSV header line.
pub fn write_table_to(w: &mut dyn Write, m: &Matrix, header: Option<&[String]>) -> Result<()> {
    let name = Path::new("<stdout>");
    check_consistent(name, m)?;
    csv::write(name, w, m, header)?;
    w.flush().map_err(|e| Error::io(name, e))
}

fn check_consistent(path: &Path, m: &Matrix) -> Result<()> {
    if m.rows.checked_mul(m.cols) != Some(m.data.len()) {
        return Err(Error::data(
            path,
            format!(
                "internal error: matrix says {}×{} but holds {} values",
                m.rows,
                m.cols,
                m.data.len()
            ),
        ));
    }
    Ok(())
}

/// Errors naming the first (row-major) value that is NaN or ±inf. Rows and
/// columns are counted from 1 over the data rows (a CSV header line is not
/// a row).
pub fn check_finite(path: &Path, m: &Matrix) -> Result<()> {
    if let Some(i) = m.data.iter().position(|v| !v.is_finite()) {
        let cols = m.cols.max(1);
        return Err(Error::data(
            path,
            format!(
                "row {}, column {} is {} (only finite values are allowed)",
                i / cols + 1,
                i % cols + 1,
                m.data[i]
            ),
        ));
    }
    Ok(())
}

/// Errors with "no data rows" when the matrix has 0 rows or 0 columns.
pub fn check_nonempty(path: &Path, m: &Matrix) -> Result<()> {
    if m.rows == 0 {
        return Err(Error::data(path, "no data rows"));
    }
    if m.cols == 0 {
        return Err(Error::data(
            path,
            format!("no data rows ({} rows of 0 columns)", m.rows),
        ));
    }
    Ok(())
}

/// Errors unless every row has `expected` columns; `what` names the model
/// side, e.g. "the model's input `obs`", giving
/// "calibration.csv: rows have 29 columns, the model's input `obs` has 30".
pub fn check_width(path: &Path, m: &Matrix, expected: usize, what: &str) -> Result<()> {
    if m.cols != expected {
        return Err(Error::data(
            path,
            format!("rows have {} columns, {what} has {expected}", m.cols),
        ));
    }
    Ok(())
}

/// Shortens a piece of file text for an error message.
fn excerpt(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}…")
    }
}
