use std::path::{Path, PathBuf};

use prost::Message;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::TensorProto;

use super::*;

fn tmpdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn err_text(r: Result<impl std::fmt::Debug>) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.to_string(),
    }
}

fn assert_contains(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "message {msg:?} lacks {p:?}");
    }
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// A version 1.0 .npy file built by hand, so tests cover dtypes and layouts
/// our writer never produces.
fn npy_bytes(descr: &str, fortran: bool, shape: &str, payload: &[u8]) -> Vec<u8> {
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
        if fortran { "True" } else { "False" }
    );
    let pad = (64 - (10 + header.len() + 1) % 64) % 64;
    header.push_str(&" ".repeat(pad));
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(payload);
    out
}

fn same_bits(a: &Matrix, b: &Matrix) {
    assert_eq!((a.rows, a.cols), (b.rows, b.cols));
    for (x, y) in a.data.iter().zip(&b.data) {
        if x.is_nan() {
            assert!(y.is_nan(), "{x} vs {y}");
        } else {
            assert_eq!(x.to_bits(), y.to_bits(), "{x:e} vs {y:e}");
        }
    }
}

fn tricky() -> Matrix {
    Matrix::new(
        3,
        4,
        vec![
            0.1,
            1.0 / 3.0,
            -0.0,
            1e300,
            5e-324,
            f64::MAX,
            -123456789.12345679,
            2.5e-6,
            12345678901234567.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ],
    )
}

fn aurora(ext: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("examples/aurora/representative_dataset.{ext}"))
}

// ---------------------------------------------------------------- round trips

#[test]
fn npy_round_trip_is_exact() {
    let d = tmpdir();
    let p = d.path().join("m.npy");
    let m = tricky();
    write_matrix(&p, &m).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    assert!(String::from_utf8_lossy(&bytes[..128]).contains("'<f8'"));
    same_bits(&m, &read_matrix(&p).unwrap());
}

#[test]
fn csv_round_trip_is_exact() {
    let d = tmpdir();
    let p = d.path().join("m.csv");
    let m = tricky();
    write_matrix(&p, &m).unwrap();
    same_bits(&m, &read_matrix(&p).unwrap());
    let text = std::fs::read_to_string(&p).unwrap();
    assert_eq!(text.lines().count(), 3);
    assert!(
        text.starts_with("0.1,0.3333333333333333,-0,1e300\n"),
        "{text}"
    );
}

#[test]
fn write_overwrites_and_leaves_no_temporaries() {
    let d = tmpdir();
    let p = d.path().join("m.csv");
    write_matrix(&p, &Matrix::new(1, 2, vec![1.0, 2.0])).unwrap();
    write_matrix(&p, &Matrix::new(2, 1, vec![3.0, 4.0])).unwrap();
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "3\n4\n");
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
    }
}

#[test]
fn failed_write_keeps_old_file_and_leaves_no_temporaries() {
    let d = tmpdir();
    let p = d.path().join("m.csv");
    std::fs::write(&p, "old\n").unwrap();
    // 0 columns cannot be written as CSV: fails after the temporary exists.
    let msg = err_text(write_matrix(&p, &Matrix::new(2, 0, vec![])));
    assert_contains(&msg, &["m.csv", "0 columns"]);
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "old\n");
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
}

#[test]
fn write_into_missing_directory_is_io_error_naming_path() {
    let d = tmpdir();
    let p = d.path().join("no/such/dir/out.npy");
    let e = write_matrix(&p, &Matrix::new(1, 1, vec![1.0])).unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
    assert_contains(&e.to_string(), &["no/such/dir/out.npy"]);
}

#[test]
fn write_rejects_other_extensions_and_inconsistent_matrix() {
    let d = tmpdir();
    let m = Matrix::new(1, 1, vec![1.0]);
    let msg = err_text(write_matrix(&d.path().join("x.pb"), &m));
    assert_contains(&msg, &["x.pb", ".pb", ".npy, .csv"]);
    let msg = err_text(write_matrix(&d.path().join("x.txt"), &m));
    assert_contains(&msg, &["x.txt", "`.txt`", ".npy, .csv"]);
    let bad = Matrix {
        rows: 2,
        cols: 2,
        data: vec![1.0],
    };
    let msg = err_text(write_matrix(&d.path().join("x.csv"), &bad));
    assert_contains(&msg, &["2×2", "1 values"]);
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
}

#[test]
fn write_matrix_to_writes_csv() {
    let mut out = Vec::new();
    write_matrix_to(&mut out, &Matrix::new(2, 2, vec![1.5, -2.0, 1e-7, 0.25])).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "1.5,-2\n1e-7,0.25\n");
}

// ---------------------------------------------------------------- example data

#[test]
fn aurora_npy_and_csv_agree() {
    let a = read_matrix(&aurora("npy")).unwrap();
    let b = read_matrix(&aurora("csv")).unwrap();
    assert_eq!((a.rows, a.cols), (60, 30));
    assert_eq!((b.rows, b.cols), (60, 30));
    // The .npy holds float32; the .csv the same values printed with 9
    // significant digits, which identify a float32 exactly.
    for (i, (x, y)) in a.data.iter().zip(&b.data).enumerate() {
        assert_eq!(*x as f32 as f64, *x, "npy value {i} is not a float32");
        assert_eq!(
            *x as f32,
            *y as f32,
            "value {i} (row {}, col {})",
            i / 30 + 1,
            i % 30 + 1
        );
    }
    check_finite(&aurora("npy"), &a).unwrap();
    check_nonempty(&aurora("npy"), &a).unwrap();
    check_width(&aurora("npy"), &a, 30, "the model's input `obs`").unwrap();
    // Not all rows equal (the data is a sliding window).
    assert_ne!(a.row(0), a.row(59));
}

// ---------------------------------------------------------------- npy

#[test]
fn npy_float32_big_endian_and_1d() {
    let d = tmpdir();
    let vals = [1.5f32, -2.25, 3.0, 0.1, 5.0, 6.0];
    let be: Vec<u8> = vals.iter().flat_map(|v| v.to_be_bytes()).collect();
    let p = write_file(d.path(), "be.npy", &npy_bytes(">f4", false, "(2, 3)", &be));
    let m = read_matrix(&p).unwrap();
    assert_eq!((m.rows, m.cols), (2, 3));
    assert_eq!(m.data, vals.iter().map(|&v| v as f64).collect::<Vec<_>>());

    let le: Vec<u8> = [1.0f64, 2.0, 3.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let p = write_file(d.path(), "one.npy", &npy_bytes("<f8", false, "(3,)", &le));
    assert_eq!(
        read_matrix(&p).unwrap(),
        Matrix::new(1, 3, vec![1.0, 2.0, 3.0])
    );

    let be8: Vec<u8> = [7.0f64, -8.5]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    let p = write_file(
        d.path(),
        "be8.npy",
        &npy_bytes(">f8", false, "(2, 1)", &be8),
    );
    assert_eq!(read_matrix(&p).unwrap(), Matrix::new(2, 1, vec![7.0, -8.5]));
}

#[test]
fn npy_fortran_order_is_transposed() {
    let d = tmpdir();
    // Logical [[1, 2, 3], [4, 5, 6]] stored column by column.
    let cm: Vec<u8> = [1.0f64, 4.0, 2.0, 5.0, 3.0, 6.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let p = write_file(d.path(), "f.npy", &npy_bytes("<f8", true, "(2, 3)", &cm));
    assert_eq!(
        read_matrix(&p).unwrap(),
        Matrix::new(2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    );
}

#[test]
fn npy_rejects_other_dtypes_naming_them() {
    let d = tmpdir();
    let cases: [(&str, &[u8], &str); 4] = [
        ("<i8", &[0u8; 16], "int64"),
        ("<i4", &[0u8; 8], "int32"),
        ("|b1", &[0u8; 2], "bool"),
        ("<c16", &[0u8; 32], "complex128"),
    ];
    for (descr, payload, name) in cases {
        let p = write_file(d.path(), "t.npy", &npy_bytes(descr, false, "(2,)", payload));
        let msg = err_text(read_matrix(&p));
        assert_contains(&msg, &["t.npy", descr, name, "float32 or float64"]);
    }
}

#[test]
fn npy_rejects_3d_and_0d_naming_shape() {
    let d = tmpdir();
    let p = write_file(
        d.path(),
        "t.npy",
        &npy_bytes("<f8", false, "(2, 1, 2)", &[0u8; 32]),
    );
    assert_contains(&err_text(read_matrix(&p)), &["t.npy", "(2, 1, 2)", "3-D"]);
    let p = write_file(d.path(), "s.npy", &npy_bytes("<f8", false, "()", &[0u8; 8]));
    assert_contains(&err_text(read_matrix(&p)), &["s.npy", "()", "0-D"]);
}

#[test]
fn npy_rejects_truncated_and_garbage() {
    let d = tmpdir();
    let p = write_file(
        d.path(),
        "t.npy",
        &npy_bytes("<f8", false, "(1000, 1000)", &[0u8; 16]),
    );
    assert_contains(
        &err_text(read_matrix(&p)),
        &["t.npy", "truncated", "(1000, 1000)"],
    );
    let p = write_file(d.path(), "g.npy", b"1,2,3\n");
    assert_contains(
        &err_text(read_matrix(&p)),
        &["g.npy", "not a readable .npy"],
    );
}

// ---------------------------------------------------------------- csv

#[test]
fn csv_header_blank_tail_crlf_nan_inf() {
    let d = tmpdir();
    let p = write_file(
        d.path(),
        "h.csv",
        b"a, b ,c\r\n1, 2.5,-3e2\r\nnan,inf,-inf\r\n\r\n\n  \n",
    );
    let m = read_matrix(&p).unwrap();
    assert_eq!((m.rows, m.cols), (2, 3));
    assert_eq!(&m.data[..3], &[1.0, 2.5, -300.0]);
    assert!(m.data[3].is_nan());
    assert_eq!(&m.data[4..], &[f64::INFINITY, f64::NEG_INFINITY]);

    // Header only: no rows, width from the header.
    let p = write_file(d.path(), "e.csv", b"x,y\n");
    let m = read_matrix(&p).unwrap();
    assert_eq!((m.rows, m.cols), (0, 2));
    assert_contains(
        &err_text(check_nonempty(&p, &m)),
        &["e.csv", "no data rows"],
    );
}

#[test]
fn csv_ragged_rows_name_line_and_counts() {
    let d = tmpdir();
    let p = write_file(d.path(), "r.csv", b"x,y,z\n1,2,3\n4,5,6\n7,8\n");
    let msg = err_text(read_matrix(&p));
    assert_contains(&msg, &["r.csv", "line 4 has 2 fields", "line 2", "has 3"]);

    let p = write_file(d.path(), "h.csv", b"x,y\n1,2,3\n");
    assert_contains(
        &err_text(read_matrix(&p)),
        &["h.csv", "line 1 (header) has 2", "line 2 has 3"],
    );
}

#[test]
fn csv_non_numeric_field_names_line_column_text() {
    let d = tmpdir();
    let p = write_file(d.path(), "n.csv", b"1,2,3\n4,five,6\n");
    let msg = err_text(read_matrix(&p));
    assert_contains(&msg, &["n.csv", "line 2, column 2", "`five`"]);

    // A first line mixing numbers and text is a data row with a bad field,
    // not a header.
    let p = write_file(d.path(), "m.csv", b"1,x\n2,3\n");
    assert_contains(&err_text(read_matrix(&p)), &["line 1, column 2", "`x`"]);

    let p = write_file(d.path(), "e.csv", b"1,2\n3,\n");
    assert_contains(
        &err_text(read_matrix(&p)),
        &["line 2, column 2", "empty field"],
    );
}

#[test]
fn csv_blank_line_inside_data_is_error() {
    let d = tmpdir();
    let p = write_file(d.path(), "b.csv", b"1,2\n\n3,4\n");
    assert_contains(&err_text(read_matrix(&p)), &["b.csv", "line 2 is blank"]);
}

// ---------------------------------------------------------------- pb

fn pb_file(dir: &Path, name: &str, t: &TensorProto) -> PathBuf {
    write_file(dir, name, &t.encode_to_vec())
}

#[test]
fn pb_float_data_and_raw_data() {
    let d = tmpdir();
    let vals = [0.5f32, -1.25, 3.0, 4.0, 5.5, -6.0];
    let want = Matrix::new(2, 3, vals.iter().map(|&v| v as f64).collect());

    let t = TensorProto {
        dims: vec![2, 3],
        data_type: DataType::Float as i32,
        float_data: vals.to_vec(),
        name: "input".into(),
        ..Default::default()
    };
    assert_eq!(read_matrix(&pb_file(d.path(), "f.pb", &t)).unwrap(), want);

    let t = TensorProto {
        dims: vec![2, 3],
        data_type: DataType::Float as i32,
        raw_data: vals.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    };
    assert_eq!(read_matrix(&pb_file(d.path(), "r.pb", &t)).unwrap(), want);

    let dv = [0.1f64, 1e300, -2.0];
    let t = TensorProto {
        dims: vec![1, 1, 3],
        data_type: DataType::Double as i32,
        raw_data: dv.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    };
    assert_eq!(
        read_matrix(&pb_file(d.path(), "d.pb", &t)).unwrap(),
        Matrix::new(1, 3, dv.to_vec())
    );

    let t = TensorProto {
        dims: vec![3],
        data_type: DataType::Double as i32,
        double_data: dv.to_vec(),
        ..Default::default()
    };
    assert_eq!(
        read_matrix(&pb_file(d.path(), "v.pb", &t)).unwrap(),
        Matrix::new(1, 3, dv.to_vec())
    );
}

#[test]
fn pb_errors_name_data_type_and_dims() {
    let d = tmpdir();
    let t = TensorProto {
        dims: vec![1, 2],
        data_type: DataType::Int64 as i32,
        int64_data: vec![1, 2],
        ..Default::default()
    };
    let msg = err_text(read_matrix(&pb_file(d.path(), "i.pb", &t)));
    assert_contains(&msg, &["i.pb", "data_type 7", "INT64", "FLOAT"]);

    let t = TensorProto {
        dims: vec![2, 1, 2],
        data_type: DataType::Float as i32,
        float_data: vec![0.0; 4],
        ..Default::default()
    };
    assert_contains(
        &err_text(read_matrix(&pb_file(d.path(), "3.pb", &t))),
        &["[2, 1, 2]", "3-D"],
    );

    let t = TensorProto {
        dims: vec![2, 3],
        data_type: DataType::Float as i32,
        float_data: vec![0.0; 5],
        ..Default::default()
    };
    assert_contains(
        &err_text(read_matrix(&pb_file(d.path(), "n.pb", &t))),
        &["[2, 3]", "need 6 values", "holds 5"],
    );
}

// ---------------------------------------------------------------- dispatch, checks

#[test]
fn unknown_extension_lists_supported() {
    let msg = err_text(read_matrix(Path::new("data.txt")));
    assert_contains(&msg, &["data.txt", "`.txt`", ".npy, .csv, .pb"]);
    let msg = err_text(read_matrix(Path::new("data")));
    assert_contains(&msg, &["no file extension", ".npy, .csv, .pb"]);
}

#[test]
fn missing_file_is_io_error() {
    let e = read_matrix(Path::new("/nonexistent/x.csv")).unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
}

#[test]
fn check_finite_names_first_bad_cell() {
    let p = Path::new("in.csv");
    let m = Matrix::new(2, 3, vec![1.0, 2.0, 3.0, 4.0, f64::NAN, f64::INFINITY]);
    assert_contains(
        &err_text(check_finite(p, &m)),
        &["in.csv", "row 2, column 2", "NaN"],
    );
    let m = Matrix::new(1, 2, vec![1.0, f64::NEG_INFINITY]);
    assert_contains(&err_text(check_finite(p, &m)), &["row 1, column 2", "-inf"]);
    check_finite(p, &Matrix::new(1, 2, vec![1.0, -0.0])).unwrap();
}

#[test]
fn check_nonempty_and_width() {
    let p = Path::new("calibration.csv");
    assert_contains(
        &err_text(check_nonempty(p, &Matrix::new(0, 3, vec![]))),
        &["no data rows"],
    );
    assert_contains(
        &err_text(check_nonempty(p, &Matrix::new(2, 0, vec![]))),
        &["no data rows"],
    );
    check_nonempty(p, &Matrix::new(1, 1, vec![0.0])).unwrap();

    let m = Matrix::new(1, 29, vec![0.0; 29]);
    assert_eq!(
        err_text(check_width(p, &m, 30, "the model's input `obs`")),
        "calibration.csv: rows have 29 columns, the model's input `obs` has 30"
    );
    check_width(p, &m, 29, "x").unwrap();
}
