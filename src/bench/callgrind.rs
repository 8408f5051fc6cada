//! Instruction counts under callgrind (deterministic), in total and per
//! layer: each executed instruction of the snapshot is attributed, through
//! its debug line table (`addr2line -i`, outermost inlined frame), to the
//! emitted C line it came from and so to the layer whose block holds it.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use super::build::{run_with_input, Built};
use crate::error::Error;
use crate::Result;

/// Whether `valgrind` can be run.
pub fn available() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// One callgrind run of `lf_bench loop ITERATIONS`: total Ir and Ir per
/// instruction address.
struct Run {
    total: u64,
    per_addr: BTreeMap<u64, u64>,
}

fn run(b: &Built, iterations: u64, input: &[u8]) -> Result<Run> {
    let out = b.dir.path().join(format!("callgrind.{iterations}.out"));
    let mut cmd = Command::new("valgrind");
    cmd.arg("--tool=callgrind")
        .arg("--dump-instr=yes")
        .arg("--compress-pos=no")
        .arg("--compress-strings=no")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(&b.exe)
        .arg("loop")
        .arg(iterations.to_string());
    run_with_input(&mut cmd, input)?;
    let text = std::fs::read_to_string(&out).map_err(|e| Error::io(&out, e))?;
    parse(&text)
}

/// Reads a callgrind profile written with `--dump-instr=yes
/// --compress-pos=no`: cost lines are `ADDR LINE IR`; the line after a
/// `calls=` line is the callee's inclusive cost, not the caller's own.
fn parse(text: &str) -> Result<Run> {
    let mut per_addr = BTreeMap::new();
    let mut total = None;
    let mut after_calls = false;
    for line in text.lines() {
        if let Some(v) = line
            .strip_prefix("summary:")
            .or_else(|| line.strip_prefix("totals:"))
        {
            total = v.split_whitespace().next().and_then(|n| n.parse().ok());
            continue;
        }
        if line.starts_with("calls=") {
            after_calls = true;
            continue;
        }
        let mut f = line.split_whitespace();
        let (Some(addr), Some(_line), Some(ir)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let (Some(addr), Ok(ir)) = (
            addr.strip_prefix("0x")
                .and_then(|a| u64::from_str_radix(a, 16).ok()),
            ir.parse::<u64>(),
        ) else {
            continue;
        };
        if std::mem::take(&mut after_calls) {
            continue;
        }
        *per_addr.entry(addr).or_insert(0) += ir;
    }
    let total = total.ok_or_else(|| Error::Other("callgrind: no totals in its output".into()))?;
    Ok(Run { total, per_addr })
}

/// Instructions per inference: the whole run and per source line of the
/// snapshot (`(line, instructions)`), plus what ran outside its source.
pub struct Counts {
    pub per_inference: f64,
    pub per_line: BTreeMap<u32, f64>,
    pub elsewhere: f64,
}

/// Runs `iterations` over `rows` rows and 0 iterations (start-up, to
/// subtract) under callgrind.
pub fn count(b: &Built, input: &[u8], rows: usize, iterations: u64) -> Result<Counts> {
    let full = run(b, iterations, input)?;
    let base = run(b, 0, input)?;
    let n = (iterations * rows as u64) as f64;
    let mut delta: BTreeMap<u64, f64> = BTreeMap::new();
    for (a, ir) in &full.per_addr {
        let d = *ir as f64 - *base.per_addr.get(a).unwrap_or(&0) as f64;
        if d > 0.0 {
            delta.insert(*a, d / n);
        }
    }
    let lines = outer_lines(&b.exe, delta.keys().copied(), &b.source)?;
    let mut per_line = BTreeMap::new();
    let mut elsewhere = 0.0;
    for (a, ir) in &delta {
        match lines.get(a) {
            Some(l) => *per_line.entry(*l).or_insert(0.0) += ir,
            None => elsewhere += ir,
        }
    }
    Ok(Counts {
        per_inference: (full.total as f64 - base.total as f64) / n,
        per_line,
        elsewhere,
    })
}

/// For each address, the line of `source` its outermost inlined frame is
/// at (addresses outside `source` are left out).
fn outer_lines(
    exe: &Path,
    addrs: impl Iterator<Item = u64>,
    source: &Path,
) -> Result<BTreeMap<u64, u32>> {
    let addrs: Vec<u64> = addrs.collect();
    let mut cmd = Command::new("addr2line");
    cmd.arg("-i").arg("-a").arg("-e").arg(exe);
    let input: String = addrs.iter().map(|a| format!("{a:#x}\n")).collect();
    let text = run_with_input(&mut cmd, input.as_bytes())?;
    let name = source
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    let mut out = BTreeMap::new();
    let mut current: Option<(u64, Option<u32>)> = None;
    let mut flush = |c: Option<(u64, Option<u32>)>| {
        if let Some((a, Some(l))) = c {
            out.insert(a, l);
        }
    };
    for line in text.lines() {
        if let Some(hex) = line.strip_prefix("0x") {
            flush(current.take());
            current = u64::from_str_radix(hex, 16).ok().map(|a| (a, None));
        } else if let Some((_, outer)) = current.as_mut() {
            // Each frame line is `FILE:LINE` (maybe ` (discriminator N)`);
            // the last one is the outermost.
            let loc = line.split_whitespace().next().unwrap_or_default();
            *outer = loc
                .rsplit_once(':')
                .filter(|(f, _)| f.ends_with(&name))
                .and_then(|(_, l)| l.parse().ok());
        }
    }
    flush(current);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_skips_inclusive_call_costs() {
        let text = "fn=main\n0x10 3 5\ncalls=2 0x40 9\n0x11 4 1000\n0x12 4 2\nfn=f\n0x40 9 7\ntotals: 1014\n";
        let r = parse(text).unwrap();
        assert_eq!(r.total, 1014);
        assert_eq!(
            r.per_addr.into_iter().collect::<Vec<_>>(),
            vec![(0x10, 5), (0x12, 2), (0x40, 7)]
        );
    }

    #[test]
    fn parse_without_totals_is_an_error() {
        assert!(parse("fn=main\n0x10 3 5\n").is_err());
    }
}
