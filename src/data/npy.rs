//! NumPy `.npy`: float32/float64 of either byte order, shape (N, I) or (I,)
//! (a 1-D array is one row). Fortran-order 2-D arrays are transposed into
//! row-major order.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::Path;

use npyz::{DType, NpyFile, Order, TypeChar, TypeStr, WriterBuilder};

use super::Matrix;
use crate::{Error, Result};

/// "int64", "bool", "complex128"… for a plain dtype, to go with its code.
fn numpy_name(ts: &TypeStr) -> String {
    let bits = ts.size_field() * 8;
    match ts.type_char() {
        TypeChar::Bool => "bool".into(),
        TypeChar::Int => format!("int{bits}"),
        TypeChar::Uint => format!("uint{bits}"),
        TypeChar::Float => format!("float{bits}"),
        TypeChar::Complex => format!("complex{bits}"),
        TypeChar::TimeDelta => "timedelta64".into(),
        TypeChar::DateTime => "datetime64".into(),
        TypeChar::ByteStr => "bytes".into(),
        TypeChar::UnicodeStr => "str".into(),
        TypeChar::RawData => "void".into(),
        _ => "unknown".into(),
    }
}

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
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let npy = NpyFile::new(BufReader::new(file))
        .map_err(|e| Error::data(path, format!("not a readable .npy file: {e}")))?;

    let width = match npy.dtype() {
        DType::Plain(ts) => {
            let size = ts.size_field();
            if ts.type_char() != TypeChar::Float || !(size == 4 || size == 8) {
                return Err(Error::data(
                    path,
                    format!(
                        "unsupported dtype `{ts}` ({}); expected float32 or float64",
                        numpy_name(&ts)
                    ),
                ));
            }
            size
        }
        other => {
            return Err(Error::data(
                path,
                format!(
                    "unsupported dtype {} (structured array); expected float32 or float64",
                    other.descr()
                ),
            ))
        }
    };

    let shape = npy.shape().to_vec();
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
    // Guard against a header announcing more data than the file holds
    // (which would otherwise make us allocate for it).
    let count = rows.checked_mul(cols);
    if count
        .and_then(|c| c.checked_mul(width))
        .is_none_or(|b| b > file_len)
    {
        return Err(Error::data(
            path,
            format!(
                "truncated: shape {} needs more data than the file's {file_len} bytes",
                shape_str(&shape)
            ),
        ));
    }
    let (rows, cols) = (rows as usize, cols as usize);
    let order = npy.order();

    let truncated =
        |e: std::io::Error| Error::data(path, format!("truncated or unreadable data: {e}"));
    let mut data: Vec<f64> = if width == 4 {
        npy.into_vec::<f32>()
            .map_err(truncated)?
            .into_iter()
            .map(f64::from)
            .collect()
    } else {
        npy.into_vec::<f64>().map_err(truncated)?
    };
    if data.len() != rows * cols {
        return Err(Error::data(
            path,
            format!(
                "shape {} needs {} values, file holds {}",
                shape_str(&shape),
                rows * cols,
                data.len()
            ),
        ));
    }
    if order == Order::Fortran && shape.len() == 2 {
        // Column-major: element (r, c) is at c * rows + r.
        let mut t = Vec::with_capacity(data.len());
        for r in 0..rows {
            for c in 0..cols {
                t.push(data[c * rows + r]);
            }
        }
        data = t;
    }
    Ok(Matrix::new(rows, cols, data))
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
