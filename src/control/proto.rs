//! The liteflow protocol on top of [`wire`]: the attributes of each request,
//! and typed decoding of each reply. Pure functions over bytes.

use super::uapi::{self, Attr, Cmd, CostAttr, RecAttr, SlotAttr, UapiEnum};
use super::wire::{AttrWriter, Attrs, CtrlAttr};
use super::{AppStatus, Cost, InferReply, Record, RecordBatch, SlotFacts, SlotStatus};

/// `NLA_F_NESTED` of linux/netlink.h.
const NLA_F_NESTED: u16 = 0x8000;

/// A request, before framing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub cmd: Cmd,
    pub attrs: Vec<u8>,
    /// Error context: `INFER app 1`.
    pub context: String,
}

fn app_ctx(cmd: Cmd, app: u32) -> String {
    format!("{} app {app}", cmd.short_name())
}

pub fn get_app() -> Request {
    Request {
        cmd: Cmd::GetApp,
        attrs: Vec::new(),
        context: Cmd::GetApp.short_name().to_string(),
    }
}

pub fn app_create(
    app: u32,
    name: &str,
    input_len: u32,
    output_len: u32,
    budget: &Cost,
) -> Result<Request, String> {
    let ctx = app_ctx(Cmd::AppCreate, app);
    if name.as_bytes().contains(&0) {
        return Err(format!("{ctx}: the app name contains a NUL byte"));
    }
    if name.len() >= uapi::NAME_LEN {
        return Err(format!(
            "{ctx}: the app name is {} bytes, lf_kernel takes at most {} (LF_NAME_LEN - 1)",
            name.len(),
            uapi::NAME_LEN - 1
        ));
    }
    let mut w = AttrWriter::new();
    w.u32(Attr::AppId, app);
    w.string(Attr::AppName, name)
        .map_err(|e| format!("{ctx}: {e}"))?;
    w.u32(Attr::InputLen, input_len);
    w.u32(Attr::OutputLen, output_len);
    if *budget != Cost::default() {
        let mut b = AttrWriter::new();
        for (kind, v) in cost_attrs(budget) {
            if v != 0 {
                b.u64(kind, v);
            }
        }
        // A nest: the kernel's strict validation wants NLA_F_NESTED.
        w.put(Attr::Budget.raw() | NLA_F_NESTED, &b.finish())
            .map_err(|e| format!("{ctx}: {e}"))?;
    }
    Ok(Request {
        cmd: Cmd::AppCreate,
        attrs: w.finish(),
        context: ctx,
    })
}

fn app_only(cmd: Cmd, app: u32) -> Request {
    let mut w = AttrWriter::new();
    w.u32(Attr::AppId, app);
    Request {
        cmd,
        attrs: w.finish(),
        context: app_ctx(cmd, app),
    }
}

pub fn app_destroy(app: u32) -> Request {
    app_only(Cmd::AppDestroy, app)
}

pub fn rollback(app: u32) -> Request {
    app_only(Cmd::Rollback, app)
}

pub fn activate(app: u32, uuid: u64) -> Request {
    let mut w = AttrWriter::new();
    w.u32(Attr::AppId, app);
    w.u64(Attr::Uuid, uuid);
    Request {
        cmd: Cmd::Activate,
        attrs: w.finish(),
        context: app_ctx(Cmd::Activate, app),
    }
}

pub fn set_recording(app: u32, on: bool) -> Request {
    let mut w = AttrWriter::new();
    w.u32(Attr::AppId, app);
    w.u8(Attr::Recording, on as u8);
    Request {
        cmd: Cmd::SetRecording,
        attrs: w.finish(),
        context: app_ctx(Cmd::SetRecording, app),
    }
}

/// The vector length is the kernel's to judge (it knows the app's
/// input_len); only what cannot be encoded, or exceeds the ABI's
/// LF_MAX_IO_LEN, is refused here.
pub fn infer(app: u32, input: &[i64]) -> Result<Request, String> {
    let ctx = app_ctx(Cmd::Infer, app);
    if input.len() > uapi::MAX_IO_LEN as usize {
        return Err(format!(
            "{ctx}: input has {} values, lf_kernel takes at most {} (LF_MAX_IO_LEN)",
            input.len(),
            uapi::MAX_IO_LEN
        ));
    }
    let mut w = AttrWriter::new();
    w.u32(Attr::AppId, app);
    w.s64_array(Attr::Vector, input)
        .map_err(|e| format!("{ctx}: {e}"))?;
    Ok(Request {
        cmd: Cmd::Infer,
        attrs: w.finish(),
        context: ctx,
    })
}

/// One GET_APP dump message.
pub fn decode_app(attrs: &[u8]) -> Result<AppStatus, String> {
    let a = Attrs::parse(attrs, "the GET_APP reply")?;
    let app = a.req_u32(Attr::AppId)?;
    let in_app = |e: String| format!("app {app}: {e}");
    let active_slot = a.u32(Attr::ActiveSlot).map_err(in_app)?;
    let mut slots = Vec::new();
    for (i, nest) in a.all(Attr::Slot).enumerate() {
        let slot = decode_slot(nest, active_slot)
            .map_err(|e| format!("app {app}: LF_ATTR_SLOT #{i}: {e}"))?;
        slots.push(slot);
    }
    slots.sort_by_key(|s| s.index);
    Ok(AppStatus {
        app,
        name: a.req_string(Attr::AppName).map_err(in_app)?,
        input_len: a.req_u32(Attr::InputLen).map_err(in_app)?,
        output_len: a.req_u32(Attr::OutputLen).map_err(in_app)?,
        active_slot,
        queries: a.req_u64(Attr::Queries).map_err(in_app)?,
        no_active: a.req_u64(Attr::NoActive).map_err(in_app)?,
        dropped: a.u64(Attr::Dropped).map_err(in_app)?,
        recording: a.u8(Attr::Recording).map_err(in_app)?.map(|v| v != 0),
        staging: a.u8(Attr::Staging).map_err(in_app)?.map(|v| v != 0),
        shadow: super::shadow::decode_status(&a).map_err(in_app)?,
        slots,
        budget: a
            .get(Attr::Budget)
            .map(|n| decode_cost(n, "LF_ATTR_BUDGET"))
            .transpose()
            .map_err(in_app)?,
    })
}

/// The five `LF_COST_ATTR_*` of `c`, in header order.
fn cost_attrs(c: &Cost) -> [(CostAttr, u64); 5] {
    [
        (CostAttr::Macs, c.macs),
        (CostAttr::Cmps, c.cmps),
        (CostAttr::Stack, c.stack_bytes),
        (CostAttr::Rodata, c.rodata_bytes),
        (CostAttr::Scratch, c.scratch_bytes),
    ]
}

/// A nest of `LF_COST_ATTR_*`; an absent one is 0.
fn decode_cost(nest: &[u8], what: &str) -> Result<Cost, String> {
    let c = Attrs::parse(nest, what)?;
    let v = |k| c.u64(k).map(|v| v.unwrap_or(0));
    Ok(Cost {
        macs: v(CostAttr::Macs)?,
        cmps: v(CostAttr::Cmps)?,
        stack_bytes: v(CostAttr::Stack)?,
        rodata_bytes: v(CostAttr::Rodata)?,
        scratch_bytes: v(CostAttr::Scratch)?,
    })
}

/// Two s64 arrays of one length as `(lo, hi)` pairs, or `None` if absent.
fn decode_pairs(s: &Attrs, lo: SlotAttr, hi: SlotAttr) -> Result<Option<Vec<(i64, i64)>>, String> {
    match (s.s64_array(lo)?, s.s64_array(hi)?) {
        (None, None) => Ok(None),
        (Some(l), Some(h)) if l.len() == h.len() => Ok(Some(l.into_iter().zip(h).collect())),
        _ => Err(format!(
            "{} and {} differ in presence or length",
            lo.c_name(),
            hi.c_name()
        )),
    }
}

fn decode_facts(s: &Attrs) -> Result<SlotFacts, String> {
    Ok(SlotFacts {
        drift: s.u64(SlotAttr::Drift)?,
        guard_hits: s.u64(SlotAttr::Guard)?,
        output_bounds: decode_pairs(s, SlotAttr::OutLo, SlotAttr::OutHi)?,
        guardrail: decode_pairs(s, SlotAttr::GuardLo, SlotAttr::GuardHi)?,
        cost: s
            .get(SlotAttr::Cost)
            .map(|n| decode_cost(n, "LF_SLOT_ATTR_COST"))
            .transpose()?,
    })
}

/// One `LF_ATTR_SLOT` nest. `LF_SLOT_ATTR_MODULE` may be absent (a snapshot
/// without an owning module); everything else is mandatory.
fn decode_slot(nest: &[u8], active_slot: Option<u32>) -> Result<SlotStatus, String> {
    let s = Attrs::parse(nest, "LF_ATTR_SLOT")?;
    let index = s.req_u32(SlotAttr::Index)?;
    Ok(SlotStatus {
        index,
        uuid: s.req_u64(SlotAttr::Uuid)?,
        name: s.req_string(SlotAttr::Name)?,
        digest: s.req_string(SlotAttr::Digest)?,
        module: s.string(SlotAttr::Module)?.unwrap_or_default(),
        queries: s.req_u64(SlotAttr::Queries)?,
        errors: s.req_u64(SlotAttr::Errors)?,
        input_scale: s.req_s64(SlotAttr::InputScale)?,
        output_scale: s.req_s64(SlotAttr::OutputScale)?,
        active: s.has(SlotAttr::Active) || active_slot == Some(index),
        facts: decode_facts(&s)?,
    })
}

/// The INFER reply; `app` is the one asked, which the reply must name.
pub fn decode_infer(app: u32, attrs: &[u8]) -> Result<InferReply, String> {
    let a = Attrs::parse(attrs, "the INFER reply")?;
    let got = a.req_u32(Attr::AppId)?;
    if got != app {
        return Err(format!("the reply is for app {got}"));
    }
    Ok(InferReply {
        uuid: a.req_u64(Attr::Uuid)?,
        output: a.req(Attr::Vector, a.s64_array(Attr::Vector))?,
    })
}

/// One `LF_CMD_RECORDS` multicast message: the app, then its records in
/// order. Every record needs all four attributes; vector widths are checked
/// by the reader, who knows the app's lengths.
pub fn decode_records(attrs: &[u8]) -> Result<RecordBatch, String> {
    let a = Attrs::parse(attrs, "the RECORDS message")?;
    let app = a.req_u32(Attr::AppId)?;
    let mut records = Vec::new();
    for (i, nest) in a.all(Attr::Record).enumerate() {
        let r = decode_record(nest).map_err(|e| format!("app {app}: LF_ATTR_RECORD #{i}: {e}"))?;
        records.push(r);
    }
    Ok(RecordBatch { app, records })
}

fn decode_record(nest: &[u8]) -> Result<Record, String> {
    let r = Attrs::parse(nest, "LF_ATTR_RECORD")?;
    Ok(Record {
        uuid: r.req_u64(RecAttr::Uuid)?,
        timestamp_ns: r.req_u64(RecAttr::Timestamp)?,
        input: r.req(RecAttr::Input, r.s64_array(RecAttr::Input))?,
        output: r.req(RecAttr::Output, r.s64_array(RecAttr::Output))?,
        flags: r.u32(RecAttr::Flags)?,
    })
}

// nlctrl (linux/genetlink.h)
pub const GENL_ID_CTRL: u16 = 16;
pub const CTRL_CMD_GETFAMILY: u8 = 3;
pub const CTRL_VERSION: u8 = 2;
const CTRL_ATTR_FAMILY_ID: CtrlAttr = CtrlAttr(1, "CTRL_ATTR_FAMILY_ID");
const CTRL_ATTR_FAMILY_NAME: CtrlAttr = CtrlAttr(2, "CTRL_ATTR_FAMILY_NAME");
const CTRL_ATTR_VERSION: CtrlAttr = CtrlAttr(3, "CTRL_ATTR_VERSION");
const CTRL_ATTR_MCAST_GROUPS: CtrlAttr = CtrlAttr(7, "CTRL_ATTR_MCAST_GROUPS");
const CTRL_ATTR_MCAST_GRP_NAME: CtrlAttr = CtrlAttr(1, "CTRL_ATTR_MCAST_GRP_NAME");
const CTRL_ATTR_MCAST_GRP_ID: CtrlAttr = CtrlAttr(2, "CTRL_ATTR_MCAST_GRP_ID");

/// CTRL_CMD_GETFAMILY attributes for a family name.
pub fn ctrl_getfamily(name: &str) -> Vec<u8> {
    let mut w = AttrWriter::new();
    // A family name is short and NUL-free: this cannot fail.
    let _ = w.string(CTRL_ATTR_FAMILY_NAME, name);
    w.finish()
}

/// What nlctrl told us about a family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Family {
    pub id: u16,
    pub version: u32,
    /// (name, id) of each multicast group.
    pub mcast_groups: Vec<(String, u32)>,
}

pub fn decode_family(attrs: &[u8]) -> Result<Family, String> {
    let a = Attrs::parse(attrs, "the nlctrl reply")?;
    let mut mcast_groups = Vec::new();
    if let Some(groups) = a.get(CTRL_ATTR_MCAST_GROUPS) {
        // Nest of nests indexed 1..n, each with a name and an id.
        let groups = Attrs::parse(groups, "CTRL_ATTR_MCAST_GROUPS")?;
        for g in groups.items() {
            let g = Attrs::parse(g, "CTRL_ATTR_MCAST_GROUPS")?;
            if let (Some(name), Some(id)) = (
                g.string(CTRL_ATTR_MCAST_GRP_NAME)?,
                g.u32(CTRL_ATTR_MCAST_GRP_ID)?,
            ) {
                mcast_groups.push((name, id));
            }
        }
    }
    Ok(Family {
        id: a.req(CTRL_ATTR_FAMILY_ID, a.u16(CTRL_ATTR_FAMILY_ID))?,
        version: a.req(CTRL_ATTR_VERSION, a.u32(CTRL_ATTR_VERSION))?,
        mcast_groups,
    })
}
