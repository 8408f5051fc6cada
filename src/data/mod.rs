//! Numeric data files: calibration sets, inputs to `lfc run`/`eval`/`infer`,
//! outputs. Formats: `.npy` (float32/float64, N×I or I), `.csv` (one row per
//! line, comma separated, optional header line of non-numeric names), and
//! ONNX TensorProto `.pb` (the ONNX backend test-data format).

use std::path::Path;

use crate::Result;

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

/// Reads a matrix by the file's extension. Errors name the file and what is
/// wrong (format, row, column).
pub fn read_matrix(path: &Path) -> Result<Matrix> {
    let _ = path;
    Err(crate::Error::Other("data::read_matrix: not implemented yet".into()))
}

/// Writes a matrix by extension (`.npy` as float64? no: float32 N×C, `.csv`).
/// Writes to a temporary file in the same directory and renames it into
/// place, so a failure leaves no partial file.
pub fn write_matrix(path: &Path, m: &Matrix) -> Result<()> {
    let _ = (path, m);
    Err(crate::Error::Other("data::write_matrix: not implemented yet".into()))
}
