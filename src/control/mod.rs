//! Userspace control of lf_kernel over generic netlink (`lfc status`,
//! `infer`, `activate`, `rollback`, `app create|destroy`).
//!
//! Layers, bottom up:
//! - [`uapi`]: the numbers of `runtime-kmod/include/uapi/lf_netlink.h`,
//!   checked against the header by a test;
//! - `wire`: framing (netlink-packet-core / netlink-packet-generic),
//!   attribute writing and defensive reading, extended ACKs, errno names;
//! - `proto`: the attributes of each liteflow request and the typed
//!   decoding of each reply;
//! - `client`: request/reply exchanges over a socket (netlink-sys), family
//!   resolution through nlctrl;
//! - `status`: the `lfc status` report;
//! - `records`: the `records` multicast group (training records),
//!   `lfc collect` and its files (`records_parquet`: the `.parquet` one).
//!
//! Errors read `lf_kernel: INFER app 1: vector has 232 bytes, app expects
//! 240 (EINVAL)`: the command and app, the kernel's extack message (or the
//! errno's text when there is none), the errno's name.

mod client;
#[doc(hidden)]
pub mod fuzzing;
mod proto;
pub mod records;
pub mod records_parquet;
pub mod shadow;
pub mod sink;
mod status;
pub mod uapi;
mod wire;

#[cfg(test)]
mod tests;

pub use client::{NOT_LOADED, REPLY_TIMEOUT};
pub use records::{
    collect, collect_to, interrupt_flag, CollectLimit, Collected, RealRecord, Record, RecordBatch,
    RecordSet, RecordStream,
};
pub use shadow::{ShadowRecord, ShadowStatus, ShadowStream, ShadowTake};
pub use status::format_status;

use client::{Conn, Mode, NlTransport, Transport};

/// One app registered in lf_kernel, as GET_APP reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppStatus {
    pub app: u32,
    pub name: String,
    pub input_len: u32,
    pub output_len: u32,
    /// Index of the active slot; `None` when no snapshot is active.
    pub active_slot: Option<u32>,
    /// Queries answered by a snapshot.
    pub queries: u64,
    /// Queries refused because no snapshot was active.
    pub no_active: u64,
    /// Training records dropped (buffers full), when the kernel reports it.
    pub dropped: Option<u64>,
    /// Training-record collection on/off, when the kernel reports it.
    pub recording: Option<bool>,
    /// New snapshots are staged (registry only), when the kernel reports it.
    pub staging: Option<bool>,
    /// The running shadow, or the last one.
    pub shadow: Option<ShadowStatus>,
    /// Occupied slots, by index.
    pub slots: Vec<SlotStatus>,
    /// The app's budget (each 0 = no limit), when the kernel reports it.
    pub budget: Option<Cost>,
}

/// A snapshot's proven cost per query, or an app's budget (limits, 0 =
/// none): `struct lf_cost` / `struct lf_budget` of lf_kernel.h.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cost {
    pub macs: u64,
    /// Worst-case table comparisons (tree walks).
    pub cmps: u64,
    pub stack_bytes: u64,
    /// Table and weight bytes.
    pub rodata_bytes: u64,
    /// Per-CPU scratch bytes.
    pub scratch_bytes: u64,
}

/// What a snapshot reports beyond its identity (ABI 2 kernels): the drift
/// and guardrail counters, its proven output bounds, its guardrail and its
/// cost. `None` where the kernel did not send it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlotFacts {
    /// Queries with at least one input outside the declared domain.
    pub drift: Option<u64>,
    /// Queries with an output clamped by the guardrail.
    pub guard_hits: Option<u64>,
    /// Proven `[lo, hi]` of each output (before the guardrail), `s64` at
    /// the output's scale.
    pub output_bounds: Option<Vec<(i64, i64)>>,
    /// The guardrail per output, if the snapshot has one.
    pub guardrail: Option<Vec<(i64, i64)>>,
    pub cost: Option<Cost>,
}

/// One occupied slot (active or standby) of an app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotStatus {
    pub index: u32,
    pub uuid: u64,
    /// Model name.
    pub name: String,
    /// Hex SHA-256 of the model and its compile options.
    pub digest: String,
    /// Owning kernel module (empty if the kernel did not say).
    pub module: String,
    pub queries: u64,
    /// Times the snapshot's infer() returned an error.
    pub errors: u64,
    pub input_scale: i64,
    pub output_scale: i64,
    pub active: bool,
    pub facts: SlotFacts,
}

/// The answer to one INFER.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InferReply {
    /// The snapshot that answered.
    pub uuid: u64,
    /// Outputs at the snapshot's output scale.
    pub output: Vec<i64>,
}

/// A connection to lf_kernel's `liteflow` generic-netlink family.
pub struct Client {
    conn: Conn,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("family", &self.conn.family)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Opens a generic-netlink socket and resolves the `liteflow` family.
    pub fn connect() -> crate::Result<Client> {
        let io = NlTransport::open().map_err(|e| {
            crate::Error::Other(format!("cannot open a generic netlink socket: {e}"))
        })?;
        Self::over(Box::new(io))
    }

    fn over(io: Box<dyn Transport>) -> crate::Result<Client> {
        Ok(Client {
            conn: Conn::new(io)?,
        })
    }

    /// Id of the `records` multicast group, if the module registered it.
    pub fn records_group(&self) -> Option<u32> {
        self.conn
            .family
            .mcast_groups
            .iter()
            .find(|(n, _)| n == uapi::MCGRP_RECORDS)
            .map(|(_, id)| *id)
    }

    /// Every app with its slots, by app id. A dump interrupted by a
    /// concurrent change is retried (up to three times in all).
    pub fn apps(&mut self) -> crate::Result<Vec<AppStatus>> {
        let req = proto::get_app();
        let mut tries = 0;
        let replies = loop {
            tries += 1;
            let r = self.conn.call(&req, Mode::Dump)?;
            if !r.interrupted || tries == 3 {
                break r;
            }
        };
        let mut apps = replies
            .msgs
            .iter()
            .map(|m| proto::decode_app(&m.attrs))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                crate::Error::Other(format!("lf_kernel: {}: malformed reply: {e}", req.context))
            })?;
        apps.sort_by_key(|a| a.app);
        Ok(apps)
    }

    /// Creates an app; `budget` limits its snapshots (0 = no limit).
    pub fn app_create(
        &mut self,
        app: u32,
        name: &str,
        input_len: u32,
        output_len: u32,
        budget: &Cost,
    ) -> crate::Result<()> {
        let req = proto::app_create(app, name, input_len, output_len, budget)
            .map_err(crate::Error::Other)?;
        self.conn.call(&req, Mode::Do).map(drop)
    }

    pub fn app_destroy(&mut self, app: u32) -> crate::Result<()> {
        self.conn.call(&proto::app_destroy(app), Mode::Do).map(drop)
    }

    /// Makes the snapshot `uuid` (already in a slot of `app`) the active one.
    pub fn activate(&mut self, app: u32, uuid: u64) -> crate::Result<()> {
        self.conn
            .call(&proto::activate(app, uuid), Mode::Do)
            .map(drop)
    }

    /// Swaps the active and standby snapshots of `app`.
    pub fn rollback(&mut self, app: u32) -> crate::Result<()> {
        self.conn.call(&proto::rollback(app), Mode::Do).map(drop)
    }

    /// Turns training-record collection of `app` on or off.
    pub fn set_recording(&mut self, app: u32, on: bool) -> crate::Result<()> {
        self.conn
            .call(&proto::set_recording(app, on), Mode::Do)
            .map(drop)
    }

    /// Runs the active snapshot of `app` on `input` (fixed point, at the
    /// snapshot's input scale) in the kernel.
    pub fn infer(&mut self, app: u32, input: &[i64]) -> crate::Result<InferReply> {
        let req = proto::infer(app, input).map_err(crate::Error::Other)?;
        let replies = self.conn.call(&req, Mode::Do)?;
        let malformed = |e: String| {
            crate::Error::Other(format!("lf_kernel: {}: malformed reply: {e}", req.context))
        };
        match replies.msgs.as_slice() {
            [one] => proto::decode_infer(app, &one.attrs).map_err(malformed),
            [] => Err(malformed("no INFER reply before the ACK".into())),
            more => Err(malformed(format!(
                "{} INFER replies, expected one",
                more.len()
            ))),
        }
    }
}

/// Parses a snapshot uuid: decimal, as `lfc status` and lf_kernel's log
/// print it, or `0x` + hex.
pub fn parse_uuid(s: &str) -> crate::Result<u64> {
    let t = s.trim();
    let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16),
        None => t.replace('_', "").parse::<u64>(),
    };
    parsed.map_err(|e| {
        crate::Error::option(
            "--uuid",
            format!("`{s}` is not a uuid (0x-hex or decimal u64): {e}"),
        )
    })
}
