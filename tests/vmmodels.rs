//! The models and rows the real-kernel suite compiles to `.ko`
//! (`tests/vm/models/`, used by `tests/vm/models-build.sh` and
//! `guest.d/models.sh`): the Conv fixtures are the builders of
//! `models.rs`, checked in as `.onnx` so that the VM scripts need no Rust,
//! and their input rows are seeded draws. This test fails when a builder
//! changes without the files; `LFC_BLESS_VM_MODELS=1 cargo test vm_models`
//! rewrites them.

use std::path::PathBuf;

use crate::models::{self, Rng};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vm/models")
}

fn csv(rows: &[Vec<f64>]) -> Vec<u8> {
    rows.iter()
        .map(|r| {
            let cells: Vec<String> = r.iter().map(|v| format!("{v:.4}")).collect();
            cells.join(",") + "\n"
        })
        .collect::<String>()
        .into_bytes()
}

/// conv1d_policy's rows: 240 blends of two of LiteFlow's Aurora rows (its
/// calibration set) and 60 of them scaled by 0.9..1.1 per feature, so
/// some features lie outside the calibration range (clamped alike in the
/// kernel and on the host).
fn conv1d_rows() -> Vec<Vec<f64>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let aurora =
        lfc::data::read_matrix(&root.join("examples/aurora/representative_dataset.npy")).unwrap();
    let calib: Vec<Vec<f64>> = aurora.iter_rows().map(|r| r.to_vec()).collect();
    let n = calib.len();
    let mut rng = Rng::new(0x6b65_726e_656c_0001);
    let mut rows: Vec<Vec<f64>> = (0..240)
        .map(|k| {
            let (a, b, t) = (&calib[k % n], &calib[(k * 7 + 3) % n], rng.uniform());
            a.iter().zip(b).map(|(x, y)| x + t * (y - x)).collect()
        })
        .collect();
    rows.extend((0..60).map(|k| {
        calib[k % n]
            .iter()
            .map(|v| v * (0.9 + 0.2 * rng.uniform()))
            .collect()
    }));
    rows
}

/// conv2d_pools' rows: 300 uniform draws in [-1.2, 1.2) for its declared
/// domain -1:1, so about a sixth of the features are clamped.
fn conv2d_rows() -> Vec<Vec<f64>> {
    let mut rng = Rng::new(0x6b65_726e_656c_0002);
    (0..300)
        .map(|_| (0..32).map(|_| -1.2 + 2.4 * rng.uniform()).collect())
        .collect()
}

fn files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("conv1d_policy.onnx", models::conv1d_policy()),
        ("conv1d_rows.csv", csv(&conv1d_rows())),
        ("conv2d_pools.onnx", models::conv2d_pools()),
        ("conv2d_rows.csv", csv(&conv2d_rows())),
    ]
}

#[test]
fn vm_models_are_the_builders() {
    let bless = std::env::var_os("LFC_BLESS_VM_MODELS").is_some();
    for (name, bytes) in files() {
        let path = dir().join(name);
        if bless {
            std::fs::write(&path, &bytes).unwrap();
            continue;
        }
        let have = std::fs::read(&path).unwrap_or_else(|e| {
            panic!("{}: {e} (LFC_BLESS_VM_MODELS=1 writes it)", path.display())
        });
        assert!(
            have == bytes,
            "{} differs from its builder (LFC_BLESS_VM_MODELS=1 rewrites it)",
            path.display()
        );
    }
}

/// `lfc run --raw` prints the engine's s64 values: the classifier's label
/// as it is and its probabilities at the output scale, the same numbers
/// the real-valued output shows, and the same for C and the interpreter.
#[test]
fn run_raw_prints_the_boundary_integers() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let ml = root.join("tests/fixtures/ml");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run".to_string(),
            ml.join("lgbm_clf.onnx").display().to_string(),
            "--calibration".into(),
            ml.join("calib_clf.csv").display().to_string(),
            "--input".into(),
            ml.join("heldout_clf.csv").display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_lfc"))
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let raw = run(&["--raw"]);
    let real = run(&[]);
    assert_eq!(raw, run(&["--raw", "--engine", "interp"]));
    let real_rows: Vec<&str> = real.lines().skip(1).collect(); // header
    assert_eq!(raw.lines().count(), 300);
    assert_eq!(real_rows.len(), 300);
    for (r, f) in raw.lines().zip(real_rows) {
        let ints: Vec<i64> = r.split(',').map(|v| v.parse().unwrap()).collect();
        let reals: Vec<f64> = f.split(',').map(|v| v.parse().unwrap()).collect();
        assert_eq!(ints.len(), 4, "{r}");
        assert_eq!(ints[0] as f64, reals[0], "label: {r} / {f}");
        for (i, x) in ints[1..].iter().zip(&reals[1..]) {
            assert_eq!(*i as f64 / 1000.0, *x, "{r} / {f}");
        }
    }
    let labels = run(&["--raw", "--output", "label"]);
    let want: String = raw
        .lines()
        .map(|l| l.split(',').next().unwrap().to_string() + "\n")
        .collect();
    assert_eq!(labels, want);
}
