//! The `s64` values at the snapshot boundary, printed as they are: one row
//! per line, integers separated by commas, no header (`lfc run --raw`,
//! `lfc infer --raw`). Two such files are equal byte for byte exactly when
//! the engines gave the same integers; no float formatting in between.

use std::io::Write;
use std::path::Path;

use crate::{Error, Result};

/// The text of `rows`.
pub fn fixed_csv(rows: &[Vec<i64>]) -> String {
    let mut s = String::new();
    for r in rows {
        let line: Vec<String> = r.iter().map(|v| v.to_string()).collect();
        s.push_str(&line.join(","));
        s.push('\n');
    }
    s
}

/// Writes [`fixed_csv`] to `path` (a `.csv`; replaced atomically, as
/// [`super::write_matrix`] does), or to stdout when `path` is `None`.
pub fn write_fixed(path: Option<&Path>, rows: &[Vec<i64>]) -> Result<()> {
    let text = fixed_csv(rows);
    let Some(path) = path else {
        let name = Path::new("<stdout>");
        let mut w = std::io::stdout().lock();
        w.write_all(text.as_bytes())
            .and_then(|()| w.flush())
            .map_err(|e| Error::io(name, e))?;
        return Ok(());
    };
    if path.extension().and_then(|e| e.to_str()) != Some("csv") {
        return Err(Error::data(
            path,
            "raw (integer) output is written as `.csv` only".to_string(),
        ));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(path, e))?;
    tmp.write_all(text.as_bytes())
        .and_then(|()| tmp.flush())
        .map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_csv_prints_integers_exactly() {
        let rows = vec![vec![2, -131, i64::MAX], vec![0, 1, i64::MIN]];
        assert_eq!(
            fixed_csv(&rows),
            "2,-131,9223372036854775807\n0,1,-9223372036854775808\n"
        );
    }

    #[test]
    fn write_fixed_refuses_npy() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.npy");
        let e = write_fixed(Some(&p), &[vec![1]]).unwrap_err().to_string();
        assert!(e.contains("out.npy") && e.contains("`.csv` only"), "{e}");
        assert!(!p.exists());
    }
}
