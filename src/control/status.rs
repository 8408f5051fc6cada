//! The `lfc status` report, laid out like `ip -s link`: a header line per
//! app, its counters indented below, then each slot.
//!
//! Uuids are decimal, as lf_kernel's own log lines print them.
//!
//! ```text
//! app 1: aurora  inputs 30  outputs 1  active slot 0  recording off
//!     queries 1200  no-active 3  dropped 0
//!     slot 0 [active]   uuid 3237998081  model aurora
//!         module lf_model_1  digest 3f2a9c1e0b7d4a55…  scale in 1000 out 1000
//!         queries 1200  errors 0  drift 4  guardrail-hits 0
//!         out[0] proven [-812, 905] guardrail [-500, 500]
//!         cost macs 1488  cmps 0  stack 496  rodata 6120  scratch 0
//! ```
//!
//! Output bounds and guardrails are `s64` values at the output scale (an
//! integer output at scale 1), as the snapshot answers them; at most
//! [`MAX_OUTPUTS_SHOWN`] outputs are listed. An app's budget line shows
//! its non-zero limits.

use std::fmt::Write;

use super::{AppStatus, Cost, ShadowStatus, SlotStatus};

/// Outputs whose bounds are listed per slot.
pub const MAX_OUTPUTS_SHOWN: usize = 4;

/// Hex characters of the digest shown (the whole one is in the module).
const DIGEST_PREFIX: usize = 16;

pub fn format_status(apps: &[AppStatus]) -> String {
    let mut out = String::new();
    if apps.is_empty() {
        out.push_str("no apps registered in lf_kernel\n");
        return out;
    }
    for app in apps {
        format_app(&mut out, app);
    }
    out
}

fn format_app(out: &mut String, app: &AppStatus) {
    let active = match app.active_slot {
        Some(i) => format!("active slot {i}"),
        None => "no active snapshot".to_string(),
    };
    let _ = write!(
        out,
        "app {}: {}  inputs {}  outputs {}  {active}",
        app.app, app.name, app.input_len, app.output_len
    );
    if let Some(r) = app.recording {
        let _ = write!(out, "  recording {}", if r { "on" } else { "off" });
    }
    if app.staging == Some(true) {
        out.push_str("  staging on");
    }
    out.push('\n');
    let _ = write!(
        out,
        "    queries {}  no-active {}",
        app.queries, app.no_active
    );
    if let Some(d) = app.dropped {
        let _ = write!(out, "  dropped {d}");
    }
    out.push('\n');
    if let Some(s) = &app.shadow {
        format_shadow(out, s);
    }
    if let Some(b) = app.budget.filter(|b| *b != Cost::default()) {
        let limits: Vec<String> = cost_items(&b)
            .iter()
            .filter(|(_, v)| *v != 0)
            .map(|(k, v)| format!("max-{k} {v}"))
            .collect();
        let _ = writeln!(out, "    budget {}", limits.join("  "));
    }
    if app.slots.is_empty() {
        out.push_str("    (no snapshot loaded)\n");
    }
    for slot in &app.slots {
        format_slot(out, slot);
    }
}

/// `    shadow uuid 7 (1 in 4)  sampled 120  run 120  errors 0  dropped 0  unsent 0`
fn format_shadow(out: &mut String, s: &ShadowStatus) {
    let state = if s.running {
        format!("(1 in {} per CPU)", s.every)
    } else {
        "(stopped)".to_string()
    };
    let _ = writeln!(
        out,
        "    shadow uuid {} {state}  sampled {}  run {}  errors {}  dropped {}  unsent {}",
        s.uuid, s.sampled, s.run, s.errors, s.dropped, s.unsent
    );
}

fn format_slot(out: &mut String, s: &SlotStatus) {
    let role = if s.active { "[active] " } else { "[standby]" };
    let _ = writeln!(
        out,
        "    slot {} {role}  uuid {}  model {}",
        s.index, s.uuid, s.name
    );
    let module = if s.module.is_empty() {
        "-"
    } else {
        s.module.as_str()
    };
    let digest: String = s.digest.chars().take(DIGEST_PREFIX).collect();
    let ellipsis = if s.digest.chars().count() > DIGEST_PREFIX {
        "…"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "        module {module}  digest {digest}{ellipsis}  scale in {} out {}",
        s.input_scale, s.output_scale
    );
    let _ = write!(out, "        queries {}  errors {}", s.queries, s.errors);
    let f = &s.facts;
    if let Some(d) = f.drift {
        let _ = write!(out, "  drift {d}");
    }
    if let Some(g) = f.guard_hits {
        let _ = write!(out, "  guardrail-hits {g}");
    }
    out.push('\n');
    if let Some(b) = &f.output_bounds {
        for (i, (lo, hi)) in b.iter().enumerate().take(MAX_OUTPUTS_SHOWN) {
            let _ = write!(out, "        out[{i}] proven [{lo}, {hi}]");
            match f.guardrail.as_ref().and_then(|g| g.get(i)) {
                Some((glo, ghi)) => {
                    let _ = writeln!(out, " guardrail [{glo}, {ghi}]");
                }
                None => out.push_str(" no guardrail\n"),
            }
        }
        if b.len() > MAX_OUTPUTS_SHOWN {
            let _ = writeln!(
                out,
                "        … {} more outputs",
                b.len() - MAX_OUTPUTS_SHOWN
            );
        }
    }
    if let Some(c) = &f.cost {
        let items: Vec<String> = cost_items(c)
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let _ = writeln!(out, "        cost {}", items.join("  "));
    }
}

fn cost_items(c: &Cost) -> [(&'static str, u64); 5] {
    [
        ("macs", c.macs),
        ("cmps", c.cmps),
        ("stack", c.stack_bytes),
        ("rodata", c.rodata_bytes),
        ("scratch", c.scratch_bytes),
    ]
}
