//! Constant tensors of a quantized model, read from the protobuf directly
//! (tract cannot type `com.microsoft` ops): initializers and `Constant`
//! nodes, as integers (int8/uint8/int16/uint16/int32/int64) or reals.

use tract_onnx::pb;
use tract_onnx::pb::tensor_proto::{DataLocation, DataType};

/// The integer element types quantized tensors may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IntType {
    I8,
    U8,
    I16,
    U16,
    I32,
    I64,
}

impl IntType {
    pub fn from_onnx(dt: i32) -> Option<IntType> {
        Some(match DataType::try_from(dt).ok()? {
            DataType::Int8 => IntType::I8,
            DataType::Uint8 => IntType::U8,
            DataType::Int16 => IntType::I16,
            DataType::Uint16 => IntType::U16,
            DataType::Int32 => IntType::I32,
            DataType::Int64 => IntType::I64,
            _ => return None,
        })
    }

    pub fn from_name(name: &str) -> Option<IntType> {
        [
            IntType::I8,
            IntType::U8,
            IntType::I16,
            IntType::U16,
            IntType::I32,
            IntType::I64,
        ]
        .into_iter()
        .find(|t| t.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            IntType::I8 => "int8",
            IntType::U8 => "uint8",
            IntType::I16 => "int16",
            IntType::U16 => "uint16",
            IntType::I32 => "int32",
            IntType::I64 => "int64",
        }
    }

    pub fn bits(self) -> u32 {
        match self {
            IntType::I8 | IntType::U8 => 8,
            IntType::I16 | IntType::U16 => 16,
            IntType::I32 => 32,
            IntType::I64 => 64,
        }
    }

    pub fn range(self) -> (i64, i64) {
        match self {
            IntType::I8 => (-128, 127),
            IntType::U8 => (0, 255),
            IntType::I16 => (-32768, 32767),
            IntType::U16 => (0, 65535),
            IntType::I32 => (i32::MIN as i64, i32::MAX as i64),
            IntType::I64 => (i64::MIN, i64::MAX),
        }
    }

    fn width(self) -> usize {
        (self.bits() / 8) as usize
    }
}

/// Values of a constant.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Data {
    Ints(IntType, Vec<i64>),
    Reals(Vec<f64>),
}

/// A constant tensor. When it is the output of a DequantizeLinear of an
/// integer constant, `quant` keeps the integers and their parameters.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Konst {
    pub dims: Vec<usize>,
    pub data: Data,
    pub quant: Option<ConstQuant>,
}

/// `real[i] = (ints[i] - zero_point[c]) * scale[c]` with `c` the index
/// along `axis` (per-tensor: one scale, `axis` None).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ConstQuant {
    pub elem: IntType,
    pub ints: Vec<i64>,
    pub scale: Vec<f64>,
    pub zero_point: Vec<i64>,
    pub axis: Option<usize>,
}

impl Konst {
    pub fn len(&self) -> usize {
        match &self.data {
            Data::Ints(_, v) => v.len(),
            Data::Reals(v) => v.len(),
        }
    }

    /// The values as reals (integers converted exactly up to 2^53).
    pub fn reals(&self) -> Vec<f64> {
        match &self.data {
            Data::Ints(_, v) => v.iter().map(|&x| x as f64).collect(),
            Data::Reals(v) => v.clone(),
        }
    }

    pub fn ints(&self) -> Option<(IntType, &[i64])> {
        match &self.data {
            Data::Ints(t, v) => Some((*t, v)),
            Data::Reals(_) => None,
        }
    }
}

/// Decodes a TensorProto; `Err` says why (for the caller to name the node).
pub(crate) fn decode(t: &pb::TensorProto) -> Result<Konst, String> {
    if t.data_location == Some(DataLocation::External as i32) || !t.external_data.is_empty() {
        return Err(format!(
            "tensor `{}` keeps its data in an external file, which the quantized import does not read",
            t.name
        ));
    }
    let dims: Vec<usize> = t.dims.iter().map(|&d| d.max(0) as usize).collect();
    let n: usize = dims.iter().product();
    let raw = &t.raw_data;
    let data = if let Some(it) = IntType::from_onnx(t.data_type) {
        let v: Vec<i64> = if !raw.is_empty() {
            let w = it.width();
            if raw.len() != n * w {
                return Err(format!(
                    "tensor `{}`: raw_data holds {} bytes, {n} {} values need {}",
                    t.name,
                    raw.len(),
                    it.name(),
                    n * w
                ));
            }
            raw.chunks_exact(w)
                .map(|b| match it {
                    IntType::I8 => b[0] as i8 as i64,
                    IntType::U8 => b[0] as i64,
                    IntType::I16 => i16::from_le_bytes([b[0], b[1]]) as i64,
                    IntType::U16 => u16::from_le_bytes([b[0], b[1]]) as i64,
                    IntType::I32 => i32::from_le_bytes(b.try_into().unwrap()) as i64,
                    IntType::I64 => i64::from_le_bytes(b.try_into().unwrap()),
                })
                .collect()
        } else if it == IntType::I64 {
            t.int64_data.clone()
        } else {
            // int8/uint8/int16/uint16/int32 live in int32_data.
            t.int32_data
                .iter()
                .map(|&x| match it {
                    IntType::I8 => x as i8 as i64,
                    IntType::U8 => x as u8 as i64,
                    IntType::I16 => x as i16 as i64,
                    IntType::U16 => x as u16 as i64,
                    _ => x as i64,
                })
                .collect()
        };
        Data::Ints(it, v)
    } else if t.data_type == DataType::Float as i32 {
        Data::Reals(if !raw.is_empty() {
            if raw.len() != n * 4 {
                return Err(format!(
                    "tensor `{}`: raw_data holds {} bytes, {n} floats need {}",
                    t.name,
                    raw.len(),
                    n * 4
                ));
            }
            raw.chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64)
                .collect()
        } else {
            t.float_data.iter().map(|&v| v as f64).collect()
        })
    } else if t.data_type == DataType::Float16 as i32 {
        // float16 scales (the node tests' `_float16` forms): the bits in
        // raw_data or, one per value, in int32_data.
        let bits: Vec<u16> = if !raw.is_empty() {
            if raw.len() != n * 2 {
                return Err(format!("tensor `{}`: raw_data size mismatch", t.name));
            }
            raw.chunks_exact(2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]))
                .collect()
        } else {
            t.int32_data.iter().map(|&v| v as u16).collect()
        };
        Data::Reals(
            bits.into_iter()
                .map(|b| tract_onnx::prelude::f16::from_bits(b).to_f32() as f64)
                .collect(),
        )
    } else if t.data_type == DataType::Double as i32 {
        Data::Reals(if !raw.is_empty() {
            if raw.len() != n * 8 {
                return Err(format!("tensor `{}`: raw_data size mismatch", t.name));
            }
            raw.chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
                .collect()
        } else {
            t.double_data.clone()
        })
    } else {
        let ty = DataType::try_from(t.data_type).map_or("unknown", |d| d.as_str_name());
        return Err(format!(
            "tensor `{}` has data type {ty} ({}); the quantized import reads int8, uint8, int16, uint16, int32, int64, float16, float and double",
            t.name, t.data_type
        ));
    };
    let k = Konst {
        dims,
        data,
        quant: None,
    };
    if k.len() != n {
        return Err(format!(
            "tensor `{}`: dims {:?} need {n} values, it holds {}",
            t.name,
            t.dims,
            k.len()
        ));
    }
    if let Data::Reals(v) = &k.data {
        if let Some((i, x)) = v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
            return Err(format!(
                "tensor `{}` holds a non-finite value ({x} at index {i})",
                t.name
            ));
        }
    }
    Ok(k)
}

/// The value of a `Constant` node (`value`, `value_float(s)`, `value_int(s)`).
pub(crate) fn constant_node(node: &pb::NodeProto) -> Result<Konst, String> {
    let a = node
        .attribute
        .first()
        .ok_or("a Constant node without a value attribute")?;
    match a.name.as_str() {
        "value" => decode(a.t.as_ref().ok_or("attribute `value` holds no tensor")?),
        "value_float" => Ok(real_const(vec![], vec![a.f as f64])),
        "value_floats" => Ok(real_const(
            vec![a.floats.len()],
            a.floats.iter().map(|&v| v as f64).collect(),
        )),
        "value_int" => Ok(Konst {
            dims: vec![],
            data: Data::Ints(IntType::I64, vec![a.i]),
            quant: None,
        }),
        "value_ints" => Ok(Konst {
            dims: vec![a.ints.len()],
            data: Data::Ints(IntType::I64, a.ints.clone()),
            quant: None,
        }),
        other => Err(format!(
            "Constant attribute `{other}` is not supported by the quantized import"
        )),
    }
}

pub(crate) fn real_const(dims: Vec<usize>, v: Vec<f64>) -> Konst {
    Konst {
        dims,
        data: Data::Reals(v),
        quant: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_raw_and_typed_int8() {
        let t = pb::TensorProto {
            name: "w".into(),
            dims: vec![3],
            data_type: DataType::Int8 as i32,
            raw_data: vec![0xff, 0x80, 0x7f],
            ..Default::default()
        };
        assert_eq!(
            decode(&t).unwrap().data,
            Data::Ints(IntType::I8, vec![-1, -128, 127])
        );
        let t = pb::TensorProto {
            name: "z".into(),
            dims: vec![2],
            data_type: DataType::Uint8 as i32,
            int32_data: vec![255, 7],
            ..Default::default()
        };
        assert_eq!(
            decode(&t).unwrap().data,
            Data::Ints(IntType::U8, vec![255, 7])
        );
        let bad = pb::TensorProto {
            dims: vec![4],
            data_type: DataType::Int8 as i32,
            raw_data: vec![1, 2],
            ..Default::default()
        };
        assert!(decode(&bad).unwrap_err().contains("raw_data"));
    }
}
