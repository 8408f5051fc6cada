//! examples/netfilter: lf_nf's example classifiers, as lfc compiles them,
//! against onnxruntime (rows.expect.csv, written by train.py) and the rule
//! sets they were trained on. The VM checks (examples/netfilter/vm) then
//! hold the kernel to `lfc run`'s decisions; this pins `lfc run` itself.

use std::path::PathBuf;
use std::process::Command;

fn ex() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/netfilter")
}

/// `lfc run --raw --output label` of lf_nf_vV.onnx on rows.csv.
fn labels(v: u32) -> Vec<i64> {
    let d = ex();
    let out = Command::new(env!("CARGO_BIN_EXE_lfc"))
        .args([
            "run",
            &format!("lf_nf_v{v}.onnx"),
            "--calibration",
            "calib.csv",
        ])
        .args([
            "--app", "2", "--raw", "--output", "label", "--input", "rows.csv",
        ])
        .current_dir(&d)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect()
}

/// rows.expect.csv: rules_v1, rules_v2, ort_v1, ort_v2 per row.
fn expected() -> Vec<Vec<i64>> {
    std::fs::read_to_string(ex().join("rows.expect.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect()
}

#[test]
fn netfilter_classifiers_match_onnxruntime_on_every_packet() {
    let want = expected();
    assert_eq!(want.len(), 4000);
    let (l1, l2) = (labels(1), labels(2));
    for (v, got) in [(1usize, &l1), (2, &l2)] {
        assert_eq!(got.len(), want.len());
        let ort: Vec<i64> = want.iter().map(|r| r[1 + v]).collect();
        assert_eq!(got, &ort, "lf_nf_v{v}: lfc's labels against onnxruntime's");
        assert!(got.iter().all(|&l| l == 0 || l == 1));
        let rules = want.iter().zip(got.iter()).filter(|(r, l)| r[v - 1] == **l);
        // train.py reports 99.75 % (v1) and 98.65 % (v2) agreement.
        assert!(
            rules.count() * 100 >= 98 * want.len(),
            "lf_nf_v{v} against its rules"
        );
        assert!(
            got.iter().filter(|&&l| l == 1).count() > 200,
            "v{v} drops too few"
        );
    }
    // The VM's switch check needs packets the two decide differently.
    let differ = l1.iter().zip(&l2).filter(|(a, b)| a != b).count();
    assert!(differ > 100, "v1 and v2 differ on {differ} packets");
}

/// The feature order of lf_nf.c (its enum) is the column order of the
/// rows the models were trained on and lf_nf_send sends.
#[test]
fn netfilter_feature_order_is_lf_nf_c() {
    let rows = std::fs::read_to_string(ex().join("rows.csv")).unwrap();
    let header = rows.lines().next().unwrap();
    assert_eq!(
        header,
        "saddr_hi,saddr_lo,daddr_hi,daddr_lo,sport,dport,proto,len"
    );
    let c = std::fs::read_to_string(ex().join("lf_nf.c")).unwrap();
    let body = c.split("enum lf_nf_feature {").nth(1).unwrap();
    let names: Vec<&str> = body
        .split("};")
        .next()
        .unwrap()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        names,
        [
            "LF_NF_SADDR_HI",
            "LF_NF_SADDR_LO",
            "LF_NF_DADDR_HI",
            "LF_NF_DADDR_LO",
            "LF_NF_SPORT",
            "LF_NF_DPORT",
            "LF_NF_PROTO",
            "LF_NF_LENGTH",
            "LF_NF_FEATURES"
        ]
    );
}
