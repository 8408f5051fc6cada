//! The .pb data reader (calibration sets, inputs, bounds files).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.pb");
    if let Ok(m) = lfc::data::parse_matrix(path, data) {
        let _ = lfc::data::check_finite(path, &m);
        let _ = lfc::data::check_nonempty(path, &m);
        assert_eq!(m.rows * m.cols, m.data.len());
    }
});
