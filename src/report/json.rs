//! JSON output of `lfc status --json`, `lfc inspect --json`,
//! `lfc eval --json` and `lfc adapt --log-format json`.
//!
//! The field names are a stable interface (documented in
//! `docs/json.md`): fields are only ever added, never renamed or removed.
//! Every document carries `"schema": "lfc.<kind>/1"`. Integers are JSON
//! integers (uuids are u64: read them as 64-bit integers, not as doubles);
//! a real number that is not finite is written as `null`.

use serde_json::{json, Value};

use crate::adapt::{Event, Outcome, Verdict};
use crate::commands::{self, EvalReport};
use crate::control::{AppStatus, SlotStatus};
use crate::pipeline::Compiled;
use crate::Result;

/// `lfc status --json`.
pub fn status(apps: &[AppStatus]) -> Value {
    json!({
        "schema": "lfc.status/1",
        "apps": apps.iter().map(app).collect::<Vec<_>>(),
    })
}

fn app(a: &AppStatus) -> Value {
    json!({
        "app": a.app,
        "name": a.name,
        "input_len": a.input_len,
        "output_len": a.output_len,
        "active_slot": a.active_slot,
        "queries": a.queries,
        "no_active": a.no_active,
        "dropped": a.dropped,
        "recording": a.recording,
        "staging": a.staging,
        "shadow": a.shadow.as_ref().map(|s| json!({
            "uuid": s.uuid,
            "every": s.every,
            "running": s.running,
            "sampled": s.sampled,
            "run": s.run,
            "errors": s.errors,
            "dropped": s.dropped,
            "unsent": s.unsent,
        })),
        "slots": a.slots.iter().map(slot).collect::<Vec<_>>(),
        "budget": a.budget.as_ref().map(cost),
    })
}

/// A snapshot's cost or an app's budget (0 = no limit).
fn cost(c: &crate::control::Cost) -> Value {
    json!({
        "macs": c.macs,
        "cmps": c.cmps,
        "stack_bytes": c.stack_bytes,
        "rodata_bytes": c.rodata_bytes,
        "scratch_bytes": c.scratch_bytes,
    })
}

fn slot(s: &SlotStatus) -> Value {
    json!({
        "index": s.index,
        "uuid": s.uuid,
        "active": s.active,
        "model": s.name,
        "digest": s.digest,
        "module": s.module,
        "queries": s.queries,
        "errors": s.errors,
        "input_scale": s.input_scale,
        "output_scale": s.output_scale,
        "drift": s.facts.drift,
        "guard_hits": s.facts.guard_hits,
        "output_bounds": s.facts.output_bounds,
        "guardrail": s.facts.guardrail,
        "cost": s.facts.cost.as_ref().map(cost),
    })
}

/// `lfc eval --json`.
pub fn eval(r: &EvalReport) -> Value {
    let outputs: Vec<Value> = r
        .per_output
        .iter()
        .enumerate()
        .map(|(i, s)| {
            json!({
                "output": i,
                "max_abs_err": s.max,
                "mean_abs_err": s.mean,
                "p99_abs_err": s.p99,
            })
        })
        .collect();
    json!({
        "schema": "lfc.eval/1",
        "rows": r.rows,
        "reference": r.reference,
        "outputs": outputs,
        "c_equals_interp": r.mismatch.is_none(),
        "domain": {
            "rows_outside": r.domain.rows_outside,
            "features_outside": r.domain.features_outside(),
            "per_feature": r.domain.per_feature,
        },
        "mismatch": r.mismatch.map(|(row, o, c, i)| json!({
            "row": row + 1,
            "output": o,
            "c": c,
            "interp": i,
        })),
    })
}

/// `lfc inspect --json`.
pub fn inspect(compiled: &Compiled) -> Result<Value> {
    let p = &compiled.program;
    let info = &compiled.info;
    let module = compiled.emit_c()?;
    let layers: Vec<Value> = commands::layers(compiled)
        .into_iter()
        .map(|l| {
            let st = l.stored.as_ref();
            json!({
                "index": l.index,
                "op": l.op,
                "node": l.node,
                "len": l.len,
                "tensor": st.map(|s| &s.tensor),
                "bits": st.map(|s| s.bits),
                "stored_lo": st.map(|s| s.lo),
                "stored_hi": st.map(|s| s.hi),
                "qmin": st.map(|s| s.qmin),
                "qmax": st.map(|s| s.qmax),
                "zero_point": st.map(|s| s.zero_point),
                "scale": st.map(|s| s.scale),
                "real_lo": st.map(|s| s.real_lo),
                "real_hi": st.map(|s| s.real_hi),
                "acc_bits": l.acc_bits,
            })
        })
        .collect();
    let tables: Vec<Value> = p
        .instrs
        .iter()
        .filter_map(|instr| match &instr.kind {
            crate::ir::InstrKind::Lut { lut, .. } => Some(json!({
                "func": lut.func.name(),
                "node": instr.node,
                "entries": lut.table.len(),
                "max_error": lut.max_error,
            })),
            _ => None,
        })
        .collect();
    Ok(json!({
        "schema": "lfc.inspect/1",
        "model": p.model_name,
        "input_len": p.input_len,
        "output_len": p.output_len,
        "precision": p.precision.name(),
        "macs": info.macs,
        "input_scale": p.input_scale,
        "output_scale": p.output_scale,
        "domain": { "lo": compiled.domain.lo, "hi": compiled.domain.hi },
        "layers": layers,
        "storage": {
            "buffers": info.buffers.len(),
            "values": info.buffers.iter().sum::<usize>(),
            "scratch": info.scratch,
            "stack_bytes": info.stack_bytes,
            "scratch_bytes": info.scratch_bytes,
            "rodata_bytes": module.rodata_bytes,
        },
        "c": {
            "file": format!("{}.c", module.stem),
            "lines": module.source.lines().count(),
            "bytes": module.source.len(),
        },
        "tables": tables,
    }))
}

/// One JSON line of `lfc adapt --log-format json`.
pub fn adapt_event(e: &Event<'_>) -> Value {
    match e {
        Event::Step { file, message } => json!({
            "event": "step",
            "file": file,
            "message": message,
        }),
        Event::Decision(o) => decision(o),
    }
}

fn decision(o: &Outcome) -> Value {
    let fidelity = o
        .fidelity
        .map(|(v, max)| json!({ "max_abs_err": v, "limit": max, "ok": v <= max }));
    let stability = o.stability.map(|(v, max)| {
        json!({
            "mean_abs_change": v,
            "limit": max,
            "ok": v.map(|v| v <= max),
        })
    });
    let mut d = json!({
        "event": "decision",
        "file": o.file,
        "uuid": o.uuid,
        "fidelity": fidelity,
        "stability": stability,
    });
    let extra = match &o.verdict {
        Verdict::Installed {
            module,
            ko,
            standby,
            unloaded,
        } => json!({
            "verdict": "installed",
            "module": module,
            "ko": ko.display().to_string(),
            "standby_uuid": standby,
            "unloaded": unloaded,
        }),
        Verdict::Rejected(why) => json!({ "verdict": "rejected", "reason": why }),
    };
    if let (Value::Object(d), Value::Object(x)) = (&mut d, extra) {
        d.extend(x);
    }
    d
}

/// The daemon's notices (`kernel-lost`, `kernel-back`, `error`, `stopped`)
/// with their text.
pub fn adapt_watch_notice(event: &str, app: u32, watch: &std::path::Path, text: &str) -> Value {
    json!({
        "event": event,
        "app": app,
        "watch": watch.display().to_string(),
        "message": text,
    })
}

/// `lfc adapt --log-format json`'s own lines (start, idle, stop).
pub fn adapt_notice(event: &str, app: u32, watch: &std::path::Path) -> Value {
    json!({ "event": event, "app": app, "watch": watch.display().to_string() })
}
