//! `lfc eval --report OUT.html` through the real binary on Aurora, with 60
//! rows inside the domain and 20 pushed outside it: the file is
//! self-contained, has every plot, marks the clamped rows, and renders in
//! headless Chromium (Debian's `chromium`) with every plot laid out and no
//! console message; a copy with hidden plots is caught by the same check.

use std::path::Path;
use std::process::Command;

const PLOTS: usize = 8; // 1 scatter (one output), histogram, 4 features, 2 layer charts
const OUTSIDE: usize = 20;

/// (data-plots, data-plots-shown, console lines) of `html` in Chromium.
fn chromium(html: &Path) -> (usize, usize, Vec<String>) {
    let out = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu"])
        .args(["--enable-logging=stderr", "--v=0", "--dump-dom"])
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium (scripts/install-deps.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    let attr = |name: &str| -> usize {
        let key = format!("{name}=\"");
        let at = dom
            .find(&key)
            .unwrap_or_else(|| panic!("no {name} in the DOM"))
            + key.len();
        dom[at..].split('"').next().unwrap().parse().unwrap()
    };
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    (attr("data-plots"), attr("data-plots-shown"), console)
}

#[test]
fn report_html_renders_in_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/aurora");
    let dir = tempfile::tempdir().unwrap();
    let calib = std::fs::read_to_string(root.join("representative_dataset.csv")).unwrap();
    let rows: Vec<Vec<f64>> = calib
        .lines()
        .map(|l| l.split(',').map(|v| v.trim().parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 60);
    let f1_max = rows.iter().map(|r| r[1]).fold(f64::MIN, f64::max);
    let mut data = calib.clone();
    for r in rows.iter().take(OUTSIDE) {
        let mut r = r.clone();
        r[1] = f1_max + 1.0; // latency ratio beyond every calibration row
        let line: Vec<String> = r.iter().map(|v| v.to_string()).collect();
        data.push_str(&line.join(","));
        data.push('\n');
    }
    let data_path = dir.path().join("data.csv");
    std::fs::write(&data_path, data).unwrap();
    let html = dir.path().join("report.html");
    let out = Command::new(env!("CARGO_BIN_EXE_lfc"))
        .arg("eval")
        .arg(root.join("aurora.onnx"))
        .arg("--calibration")
        .arg(root.join("representative_dataset.csv"))
        // The calibration rows' own range: the rows moved beyond it are
        // outside the domain.
        .args(["--domain-margin", "0"])
        .arg("--data")
        .arg(&data_path)
        .arg("--report")
        .arg(&html)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(page.matches("<svg").count(), PLOTS);
    // Self-contained: nothing fetched (SVG's xmlns is a name, not a fetch).
    for needle in ["src=", "href=", "url(", "@import"] {
        assert!(!page.contains(needle), "external reference `{needle}`");
    }
    assert!(page.contains(&format!(
        "{OUTSIDE} of 80 rows had inputs outside the domain"
    )));
    // Worst rows are the pushed-out ones, marked; the domain row of input 1 too.
    assert!(page.matches("<tr class=\"clamped\">").count() >= OUTSIDE);
    assert!(
        page.contains("<tr class=\"clamped\"><td>1</td>"),
        "input 1 marked"
    );
    assert!(page.contains("<tr><td>0</td>"), "input 0 not marked");

    let (plots, shown, console) = chromium(&html);
    assert_eq!((plots, shown), (PLOTS, PLOTS));
    assert!(console.is_empty(), "console: {console:?}");

    // The check can fail: hidden plots are counted and reported.
    let bad = dir.path().join("bad.html");
    std::fs::write(
        &bad,
        page.replace(
            "<div class=\"plot\"><svg",
            "<div class=\"plot\"><svg style=\"display:none\"",
        ),
    )
    .unwrap();
    let (plots, shown, console) = chromium(&bad);
    assert_eq!((plots, shown), (PLOTS, 0));
    assert!(
        console.iter().any(|l| l.contains("8 plots not shown")),
        "{console:?}"
    );
}
