//! examples/systemd/lfc-adapt@.service starts `lfc adapt` with options this
//! lfc has: its ExecStart, with %i = 1 and no extra arguments, parses (clap
//! rejects an unknown option before it reaches the trailing --help).

use std::process::Command;

#[test]
fn systemd_adapt_unit_exec_start_parses() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/systemd/lfc-adapt@.service"
    ))
    .unwrap();
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("an ExecStart line");
    let mut words = exec.split_whitespace();
    assert_eq!(words.next(), Some("/usr/bin/lfc"));
    let args: Vec<String> = words
        .filter(|w| !w.starts_with('$'))
        .map(|w| w.replace("%i", "1"))
        .collect();
    assert!(args.iter().any(|a| a == "--shadow"), "{args:?}");
    let out = Command::new(env!("CARGO_BIN_EXE_lfc"))
        .args(&args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "lfc {args:?} --help: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--canary-seconds"), "{help}");
    // A misspelt option would fail the same way.
    let bad = Command::new(env!("CARGO_BIN_EXE_lfc"))
        .args(["adapt", "--app", "1", "--no-such-option", "--help"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
}
