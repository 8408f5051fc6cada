//! NumPy `.npy`: float32/float64 of either byte order, shape (N, I) or (I,)
//! (a 1-D array is one row). Fortran-order 2-D arrays are transposed into
//! row-major order.
//!
//! The header (a Python dict literal) is read by [`header`], a small
//! single-pass parser of exactly the grammar NumPy writes: one look at each
//! byte, no recursion, a bounded header size. (npyz's general Python-literal
//! parser took exponential time on nested brackets: a 27-byte file could
//! hang every command that reads data, issue 12.) Writing still uses npyz.

use std::io::Write;
use std::path::Path;

use npyz::{DType, TypeStr, WriterBuilder};

use super::Matrix;
use crate::{Error, Result};

mod header;

use header::{Header, Order};

fn shape_str(shape: &[u64]) -> String {
    match shape {
        [] => "()".into(),
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

pub(super) fn read(path: &Path) -> Result<Matrix> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse(path, &bytes)
}

/// Decodes the bytes of a `.npy` file; `path` names it in messages.
pub(super) fn parse(path: &Path, bytes: &[u8]) -> Result<Matrix> {
    let (h, data) = header::split(bytes)
        .map_err(|e| Error::data(path, format!("not a readable .npy file: {e}")))?;
    let Header {
        dtype,
        order,
        shape,
    } = h;
    let width = dtype.float_width().ok_or_else(|| {
        Error::data(
            path,
            format!(
                "unsupported dtype {}; expected float32 or float64",
                dtype.describe()
            ),
        )
    })?;
    let (rows, cols) = match shape[..] {
        [i] => (1, i),
        [n, i] => (n, i),
        _ => {
            return Err(Error::data(
                path,
                format!(
                    "unsupported shape {} ({}-D); expected N×I (2-D) or I (1-D)",
                    shape_str(&shape),
                    shape.len()
                ),
            ))
        }
    };
    // Check the header against the data it announces before allocating.
    let need = rows
        .checked_mul(cols)
        .and_then(|c| c.checked_mul(width as u64));
    if need.is_none_or(|b| b > data.len() as u64) {
        return Err(Error::data(
            path,
            format!(
                "truncated: shape {} needs more data than the file's {} bytes",
                shape_str(&shape),
                bytes.len()
            ),
        ));
    }
    let (rows, cols) = (rows as usize, cols as usize);
    let count = rows * cols;
    let mut values: Vec<f64> = data[..count * width]
        .chunks_exact(width)
        .map(|b| dtype.decode(b))
        .collect();
    if order == Order::Fortran && shape.len() == 2 {
        // Column-major: element (r, c) is at c * rows + r.
        let mut t = Vec::with_capacity(values.len());
        for r in 0..rows {
            for c in 0..cols {
                t.push(values[c * rows + r]);
            }
        }
        values = t;
    }
    Ok(Matrix::new(rows, cols, values))
}

/// Writes `<f8`, C order, shape (rows, cols).
pub(super) fn write(path: &Path, w: &mut dyn Write, m: &Matrix) -> Result<()> {
    let io = |e| Error::io(path, e);
    let dtype = DType::Plain("<f8".parse::<TypeStr>().expect("valid type string"));
    let mut writer = npyz::WriteOptions::<f64>::new()
        .dtype(dtype)
        .shape(&[m.rows as u64, m.cols as u64])
        .writer(w)
        .begin_nd()
        .map_err(io)?;
    writer.extend(m.data.iter().copied()).map_err(io)?;
    writer.finish().map_err(io)
}
