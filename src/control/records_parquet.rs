//! `lfc collect -o FILE.parquet`: a [`RecordSet`] as an Apache Parquet
//! file, through the `parquet` crate's low-level column writer (no Arrow).
//!
//! Schema (message `lfc_records`), every column `required`, one row per
//! record in arrival order:
//! - `in0`..`in{I-1}`, `out0`..`out{O-1}`: `DOUBLE`, the real values
//!   (input / input scale, output / output scale of the snapshot that
//!   answered), bit for bit the f64 that `-o FILE.csv` prints;
//! - `uuid`: `INT64` annotated `INTEGER(64, unsigned)`, the snapshot;
//! - `timestamp_ns`: `INT64` annotated `INTEGER(64, unsigned)`: lf_kernel's
//!   `ktime_get_ns()` (CLOCK_MONOTONIC, nanoseconds since boot). Not a
//!   Parquet `TIMESTAMP`, which would claim nanoseconds since the epoch.
//! - `flags` (when every record carries them, as [`RecordSet::header`]
//!   says): `INT32` annotated `INTEGER(32, unsigned)`, the `LF_INFER_*`
//!   drift and guardrail bits the snapshot returned. Files without it
//!   read back with `flags: None`.
//!
//! Key-value metadata: `lfc.inputs`, `lfc.outputs` (the widths) and
//! `lfc.timestamp_clock` = `CLOCK_MONOTONIC`. Uncompressed, row groups of
//! at most [`ROW_GROUP`] rows. Written to a temporary file in the target's
//! directory and renamed into place: an error or a kill leaves either the
//! old file or the whole new one.

use std::path::Path;
use std::sync::Arc;

use parquet::basic::{LogicalType, Repetition, Type as Physical};
use parquet::data_type::{DoubleType, Int32Type, Int64Type};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;
use parquet::record::RowAccessor;
use parquet::schema::types::Type;

use super::records::{RealRecord, RecordSet};
use crate::{Error, Result};

/// Rows per row group (a reader holds one group's column chunks at once).
pub const ROW_GROUP: usize = 1 << 16;

/// The clock of `timestamp_ns`, as the file's metadata names it.
const CLOCK: &str = "CLOCK_MONOTONIC";

fn pq_err(path: &Path, e: parquet::errors::ParquetError) -> Error {
    Error::data(path, format!("parquet: {e}"))
}

fn column(name: &str, physical: Physical, logical: Option<LogicalType>) -> Arc<Type> {
    Arc::new(
        Type::primitive_type_builder(name, physical)
            .with_repetition(Repetition::REQUIRED)
            .with_logical_type(logical)
            .build()
            .expect("a required DOUBLE, INT64 or INT32 column is a valid Parquet type"),
    )
}

/// The schema of a set with these widths, in [`RecordSet::header`] order.
fn schema(set: &RecordSet) -> Arc<Type> {
    let u64_type = || Some(LogicalType::integer(64, false));
    let mut fields = Vec::new();
    for name in set.header() {
        fields.push(match name.as_str() {
            "uuid" | "timestamp_ns" => column(&name, Physical::INT64, u64_type()),
            "flags" => column(
                &name,
                Physical::INT32,
                Some(LogicalType::integer(32, false)),
            ),
            _ => column(&name, Physical::DOUBLE, None),
        });
    }
    Arc::new(
        Type::group_type_builder("lfc_records")
            .with_fields(fields)
            .build()
            .expect("a group of required primitive columns is a valid Parquet schema"),
    )
}

fn properties(set: &RecordSet) -> Arc<WriterProperties> {
    let kv = |k: &str, v: String| KeyValue::new(k.to_string(), v);
    Arc::new(
        WriterProperties::builder()
            .set_created_by(format!("lfc {}", env!("CARGO_PKG_VERSION")))
            .set_key_value_metadata(Some(vec![
                kv("lfc.inputs", set.input_len.to_string()),
                kv("lfc.outputs", set.output_len.to_string()),
                kv("lfc.timestamp_clock", CLOCK.to_string()),
            ]))
            .build(),
    )
}

/// Column `c` (in file order) of `rows`.
enum Values {
    Real(Vec<f64>),
    /// u64 stored in INT64 as the same bits (the unsigned annotation says so).
    Int(Vec<i64>),
    /// u32 stored in INT32 as the same bits.
    Flags(Vec<i32>),
}

fn column_values(set: &RecordSet, rows: &[RealRecord], c: usize) -> Values {
    let (ni, no) = (set.input_len, set.output_len);
    if c < ni {
        Values::Real(rows.iter().map(|r| r.input[c]).collect())
    } else if c < ni + no {
        Values::Real(rows.iter().map(|r| r.output[c - ni]).collect())
    } else if c == ni + no {
        Values::Int(rows.iter().map(|r| r.uuid as i64).collect())
    } else if c == ni + no + 1 {
        Values::Int(rows.iter().map(|r| r.timestamp_ns as i64).collect())
    } else {
        // Only written when every record has flags (RecordSet::header).
        Values::Flags(rows.iter().map(|r| r.flags.unwrap_or(0) as i32).collect())
    }
}

/// Writes `set` (widths already checked by the caller) to `path`.
pub fn write(set: &RecordSet, path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::Builder::new()
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(crate::fsutil::parent_of(path))
        .map_err(|e| Error::io(path, e))?;
    let file = tmp.reopen().map_err(|e| Error::io(path, e))?;
    let mut w = SerializedFileWriter::new(file, schema(set), properties(set))
        .map_err(|e| pq_err(path, e))?;
    for rows in set.rows.chunks(ROW_GROUP) {
        let mut rg = w.next_row_group().map_err(|e| pq_err(path, e))?;
        let mut c = 0;
        while let Some(mut col) = rg.next_column().map_err(|e| pq_err(path, e))? {
            let written = match column_values(set, rows, c) {
                Values::Real(v) => col.typed::<DoubleType>().write_batch(&v, None, None),
                Values::Int(v) => col.typed::<Int64Type>().write_batch(&v, None, None),
                Values::Flags(v) => col.typed::<Int32Type>().write_batch(&v, None, None),
            };
            written.map_err(|e| pq_err(path, e))?;
            col.close().map_err(|e| pq_err(path, e))?;
            c += 1;
        }
        rg.close().map_err(|e| pq_err(path, e))?;
    }
    w.close().map_err(|e| pq_err(path, e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// Reads a file [`write`] wrote, for a model with `input_len` inputs.
/// The columns must be exactly `in0..,out0..,uuid,timestamp_ns[,flags]`
/// with the types above.
pub fn read(path: &Path, input_len: usize) -> Result<RecordSet> {
    let reader = SerializedFileReader::try_from(path).map_err(|e| pq_err(path, e))?;
    let fields = reader.metadata().file_metadata().schema().get_fields();
    let names: Vec<&str> = fields.iter().map(|f| f.name()).collect();
    let ni = names.iter().take_while(|n| n.starts_with("in")).count();
    let no = names[ni..]
        .iter()
        .take_while(|n| n.starts_with("out"))
        .count();
    let mut set = RecordSet::new(ni, no);
    let flags = names.last() == Some(&"flags");
    let mut want = schema(&set).get_fields().to_vec();
    if flags {
        want.push(column(
            "flags",
            Physical::INT32,
            Some(LogicalType::integer(32, false)),
        ));
    }
    if fields != want.as_slice() {
        return Err(Error::data(
            path,
            "not an `lfc collect` file: the columns must be required DOUBLE in0..,out0.., unsigned INT64 uuid,timestamp_ns and optionally unsigned INT32 flags",
        ));
    }
    if ni != input_len {
        return Err(Error::data(
            path,
            format!("records have {ni} inputs, the model has {input_len}"),
        ));
    }
    let rows = reader.get_row_iter(None).map_err(|e| pq_err(path, e))?;
    for (k, row) in rows.enumerate() {
        let row = row.map_err(|e| pq_err(path, e))?;
        let bad =
            |e: parquet::errors::ParquetError| Error::data(path, format!("row {k}: parquet: {e}"));
        let real = |c: usize| -> Result<f64> {
            let v = row.get_double(c).map_err(bad)?;
            if v.is_finite() {
                Ok(v)
            } else {
                Err(Error::data(
                    path,
                    format!("row {k}, column {}: {v} is not finite", names[c]),
                ))
            }
        };
        set.rows.push(RealRecord {
            input: (0..ni).map(real).collect::<Result<_>>()?,
            output: (ni..ni + no).map(real).collect::<Result<_>>()?,
            uuid: row.get_ulong(ni + no).map_err(bad)?,
            timestamp_ns: row.get_ulong(ni + no + 1).map_err(bad)?,
            flags: match flags {
                true => Some(
                    super::records::flag_bits(u64::from(row.get_uint(ni + no + 2).map_err(bad)?))
                        .map_err(|e| Error::data(path, format!("row {k}: {e}")))?,
                ),
                false => None,
            },
        });
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::basic::ConvertedType;
    use parquet::record::Field;

    fn edge_set() -> RecordSet {
        let mut set = RecordSet::new(3, 2);
        let reals = [0.1, -1e-9, 1.0 / 3.0, -0.0, 5e-324, 1e300, -2.5, 7.0];
        for k in 0..40u64 {
            let v = |j: usize| reals[(k as usize + j) % reals.len()] * (k + 1) as f64;
            set.rows.push(RealRecord {
                uuid: [(1 << 53) + 1, 3, u64::MAX][k as usize % 3],
                timestamp_ns: [u64::MAX - k, 5 + k, (1 << 63) + k][k as usize % 3],
                input: (0..3).map(v).collect(),
                output: (3..5).map(v).collect(),
                flags: None,
            });
        }
        set
    }

    /// The file read with the parquet crate's own row reader (not
    /// [`read`]), as (name, field) per row.
    fn rows_of(path: &Path) -> Vec<Vec<(String, Field)>> {
        let r = SerializedFileReader::try_from(path).unwrap();
        r.get_row_iter(None)
            .unwrap()
            .map(|row| {
                let row = row.unwrap();
                let fields = row.get_column_iter();
                fields.map(|(n, f)| (n.clone(), f.clone())).collect()
            })
            .collect()
    }

    #[test]
    fn parquet_equals_the_csv_of_the_same_records() {
        let dir = tempfile::tempdir().unwrap();
        let set = edge_set();
        let (csv, pq) = (dir.path().join("r.csv"), dir.path().join("r.parquet"));
        set.write(&csv).unwrap();
        set.write(&pq).unwrap();
        let from_csv = RecordSet::read(&csv, 3).unwrap();

        // Types, as a pandas/polars reader sees them.
        let r = SerializedFileReader::try_from(pq.as_path()).unwrap();
        let meta = r.metadata().file_metadata();
        assert_eq!(meta.num_rows(), 40);
        let kv: Vec<(String, Option<String>)> = meta
            .key_value_metadata()
            .unwrap()
            .iter()
            .map(|k| (k.key.clone(), k.value.clone()))
            .collect();
        assert!(kv.contains(&("lfc.timestamp_clock".into(), Some("CLOCK_MONOTONIC".into()))));
        let cols = meta.schema_descr();
        let want = ["in0", "in1", "in2", "out0", "out1", "uuid", "timestamp_ns"];
        assert_eq!(cols.num_columns(), want.len());
        for (i, name) in want.iter().enumerate() {
            let c = cols.column(i);
            assert_eq!(c.name(), *name);
            assert_eq!(c.max_def_level(), 0, "{name} is required");
            if i < 5 {
                assert_eq!(c.physical_type(), Physical::DOUBLE);
            } else {
                assert_eq!(c.physical_type(), Physical::INT64);
                assert_eq!(c.converted_type(), ConvertedType::UINT_64);
                assert_eq!(c.logical_type_ref(), Some(&LogicalType::integer(64, false)));
            }
        }

        // Values: every field equals the CSV's, bit for bit.
        let rows = rows_of(&pq);
        assert_eq!(rows.len(), from_csv.rows.len());
        for (row, rec) in rows.iter().zip(&from_csv.rows) {
            let names: Vec<&str> = row.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names, want);
            let reals: Vec<f64> = rec.input.iter().chain(&rec.output).copied().collect();
            for (j, want) in reals.iter().enumerate() {
                match row[j].1 {
                    Field::Double(got) => assert_eq!(got.to_bits(), want.to_bits()),
                    ref f => panic!("column {j}: {f:?}"),
                }
            }
            assert_eq!(row[5].1, Field::ULong(rec.uuid));
            assert_eq!(row[6].1, Field::ULong(rec.timestamp_ns));
        }
        assert_eq!(RecordSet::read(&pq, 3).unwrap(), from_csv);
        assert!(RecordSet::read(&pq, 2)
            .unwrap_err()
            .to_string()
            .contains("3 inputs, the model has 2"));
    }

    #[test]
    fn parquet_flags_column_round_trips_like_the_csv() {
        use crate::control::uapi::{INFER_DRIFT, INFER_GUARD};
        let dir = tempfile::tempdir().unwrap();
        let mut set = edge_set();
        let bits = [0, INFER_DRIFT, INFER_GUARD, INFER_DRIFT | INFER_GUARD];
        for (k, r) in set.rows.iter_mut().enumerate() {
            r.flags = Some(bits[k % 4]);
        }
        let (csv, pq) = (dir.path().join("f.csv"), dir.path().join("f.parquet"));
        set.write(&csv).unwrap();
        set.write(&pq).unwrap();
        let r = SerializedFileReader::try_from(pq.as_path()).unwrap();
        let cols = r.metadata().file_metadata().schema_descr();
        assert_eq!(cols.num_columns(), 8);
        let c = cols.column(7);
        assert_eq!(c.name(), "flags");
        assert_eq!(c.physical_type(), Physical::INT32);
        assert_eq!(c.converted_type(), ConvertedType::UINT_32);
        for (row, rec) in rows_of(&pq).iter().zip(&set.rows) {
            assert_eq!(row[7].1, Field::UInt(rec.flags.unwrap()));
        }
        let back = RecordSet::read(&pq, 3).unwrap();
        assert_eq!(back, RecordSet::read(&csv, 3).unwrap());
        assert_eq!(back, set);
        assert_eq!(back.drift_rate(), Some(0.5));

        // One record without flags: no column (format 1), read as None.
        set.rows[3].flags = None;
        set.write(&pq).unwrap();
        let back = RecordSet::read(&pq, 3).unwrap();
        assert!(back.rows.iter().all(|r| r.flags.is_none()));
        assert_eq!(back.drift_rate(), None);

        // Bits lf_kernel does not define: refused, naming the row.
        let mut bad = edge_set();
        for r in bad.rows.iter_mut() {
            r.flags = Some(0);
        }
        bad.rows[2].flags = Some(1 << 7);
        bad.write(&pq).unwrap();
        let err = RecordSet::read(&pq, 3).unwrap_err().to_string();
        assert!(
            err.contains("row 2") && err.contains("does not define"),
            "{err}"
        );
    }

    #[test]
    fn parquet_row_groups_empty_set_and_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        // More rows than a row group: three groups, order kept.
        let mut big = RecordSet::new(1, 1);
        for k in 0..(2 * ROW_GROUP + 3) as u64 {
            big.rows.push(RealRecord {
                uuid: k % 5,
                timestamp_ns: k,
                input: vec![k as f64 / 8.0],
                output: vec![-(k as f64)],
                flags: None,
            });
        }
        let p = dir.path().join("big.parquet");
        big.write(&p).unwrap();
        let r = SerializedFileReader::try_from(p.as_path()).unwrap();
        assert_eq!(r.metadata().num_row_groups(), 3);
        assert_eq!(RecordSet::read(&p, 1).unwrap(), big);

        let e = dir.path().join("empty.parquet");
        RecordSet::new(2, 1).write(&e).unwrap();
        assert_eq!(RecordSet::read(&e, 2).unwrap(), RecordSet::new(2, 1));

        // Not parquet; parquet with other columns.
        let text = dir.path().join("text.parquet");
        std::fs::write(&text, "in0,out0,uuid,timestamp_ns\n1,2,3,4\n").unwrap();
        let err = RecordSet::read(&text, 1).unwrap_err().to_string();
        assert!(
            err.contains("text.parquet") && err.contains("parquet:"),
            "{err}"
        );
        let other = dir.path().join("other.parquet");
        let s = Arc::new(
            Type::group_type_builder("x")
                .with_fields(vec![column("in0", Physical::INT64, None)])
                .build()
                .unwrap(),
        );
        let f = std::fs::File::create(&other).unwrap();
        let w = SerializedFileWriter::new(f, s, Default::default()).unwrap();
        w.close().unwrap();
        let err = RecordSet::read(&other, 1).unwrap_err().to_string();
        assert!(err.contains("not an `lfc collect` file"), "{err}");
    }

    #[test]
    fn parquet_write_failure_leaves_nothing_behind() {
        // The target is a directory: the rename fails after the whole file
        // was written; the directory stays as it was and no temporary file
        // is left next to it.
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("taken.parquet");
        std::fs::create_dir(&target).unwrap();
        let err = edge_set().write(&target).unwrap_err().to_string();
        assert!(err.contains("taken.parquet"), "{err}");
        assert!(target.is_dir());
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "{left:?}");
        // An existing file is replaced whole, never truncated first.
        let p = dir.path().join("r.parquet");
        edge_set().write(&p).unwrap();
        RecordSet::new(3, 2).write(&p).unwrap();
        assert_eq!(RecordSet::read(&p, 3).unwrap().rows.len(), 0);
    }
}
