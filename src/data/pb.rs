//! ONNX `TensorProto` files (`test_data_set_*/input_*.pb`): FLOAT or DOUBLE
//! values in `float_data`/`double_data` or little-endian `raw_data`; dims
//! [N, I], [I] (one row), or either with leading 1s ([1, I], [1, 1, N, I]).

use std::path::Path;

use prost::Message;
use tract_onnx::pb::tensor_proto::{DataLocation, DataType};
use tract_onnx::pb::TensorProto;

use super::Matrix;
use crate::{Error, Result};

fn dims_str(dims: &[i64]) -> String {
    format!(
        "[{}]",
        dims.iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

pub(super) fn read(path: &Path) -> Result<Matrix> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse(path, &bytes)
}

pub(super) fn parse(path: &Path, bytes: &[u8]) -> Result<Matrix> {
    let t = TensorProto::decode(bytes)
        .map_err(|e| Error::data(path, format!("not an ONNX TensorProto: {e}")))?;
    from_tensor(path, &t)
}

pub(super) fn from_tensor(path: &Path, t: &TensorProto) -> Result<Matrix> {
    let name = if t.name.is_empty() {
        String::new()
    } else {
        format!("tensor `{}`: ", t.name)
    };
    let err = |reason: String| Error::data(path, format!("{name}{reason}"));

    if t.data_location == Some(DataLocation::External as i32) || !t.external_data.is_empty() {
        return Err(err(
            "external data is not supported (the values must be in the file)".into(),
        ));
    }
    let dt = DataType::try_from(t.data_type);
    let width = match dt {
        Ok(DataType::Float) => 4,
        Ok(DataType::Double) => 8,
        Ok(other) => {
            return Err(err(format!(
                "unsupported data_type {} ({}); expected FLOAT (1) or DOUBLE (11)",
                t.data_type,
                other.as_str_name()
            )))
        }
        Err(_) => {
            return Err(err(format!(
                "unsupported data_type {} (unknown); expected FLOAT (1) or DOUBLE (11)",
                t.data_type
            )))
        }
    };

    if t.dims.iter().any(|&d| d < 0) {
        return Err(err(format!(
            "negative dimension in dims {}",
            dims_str(&t.dims)
        )));
    }
    let mut dims = &t.dims[..];
    while dims.len() > 2 && dims[0] == 1 {
        dims = &dims[1..];
    }
    let (rows, cols) = match *dims {
        [i] => (1, i as u64),
        [n, i] => (n as u64, i as u64),
        _ => {
            return Err(err(format!(
                "unsupported dims {} ({}-D); expected [N, I], [I] or [1, …, 1, N, I]",
                dims_str(&t.dims),
                t.dims.len()
            )))
        }
    };

    let data: Vec<f64> = if !t.raw_data.is_empty() {
        if t.raw_data.len() % width != 0 {
            return Err(err(format!(
                "raw_data holds {} bytes, not a multiple of {width}",
                t.raw_data.len()
            )));
        }
        if width == 4 {
            t.raw_data
                .chunks_exact(4)
                .map(|b| f64::from(f32::from_le_bytes(b.try_into().unwrap())))
                .collect()
        } else {
            t.raw_data
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
                .collect()
        }
    } else if width == 4 {
        t.float_data.iter().map(|&v| f64::from(v)).collect()
    } else {
        t.double_data.clone()
    };

    if rows.checked_mul(cols) != Some(data.len() as u64) {
        return Err(err(format!(
            "dims {} need {} values, the tensor holds {}",
            dims_str(&t.dims),
            rows.saturating_mul(cols),
            data.len()
        )));
    }
    Ok(Matrix::new(rows as usize, cols as usize, data))
}
