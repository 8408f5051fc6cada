//! Shadow evaluation (`lfc shadow`, `lfc adapt --shadow`): a loaded
//! snapshot that is not active answers a sample of an app's live queries in
//! lf_kernel, off the datapath, and lf_kernel multicasts both answers as
//! `LF_CMD_SHADOW_RECORDS` on the `records` group.
//!
//! - requests: [`Client::shadow_start`], [`Client::shadow_stop`],
//!   [`Client::set_staging`] (new snapshots of an app load into the registry
//!   only, so a candidate can be loaded without answering anything);
//! - [`ShadowStatus`]: the running (or last) shadow as GET_APP reports it;
//! - [`ShadowStream`]: a `records` subscriber keeping shadow messages only,
//!   decoded defensively like records.

use std::io;
use std::time::{Duration, Instant};

use netlink_packet_core::NetlinkPayload;

use super::client::{Mode, NlTransport, Transport};
use super::proto::Request;
use super::records::RECORDS_POLL;
use super::uapi::{Attr, Cmd, RecAttr, ShadowAttr};
use super::wire::{self, AttrWriter, Attrs};
use super::Client;
use crate::error::Error;
use crate::Result;

/// The app's shadow, running or the last one that ran.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShadowStatus {
    /// The candidate.
    pub uuid: u64,
    /// Sampling: one query in `every` per CPU (0 once stopped).
    pub every: u32,
    /// Queries copied for the candidate.
    pub sampled: u64,
    /// Samples dropped because the CPU's ring was full.
    pub dropped: u64,
    /// Samples the candidate answered, and how many with an error.
    pub run: u64,
    pub errors: u64,
    /// Results that reached no listener.
    pub unsent: u64,
    pub running: bool,
    /// The candidate's output scale (real = value / scale).
    pub output_scale: i64,
}

/// One query answered by both the active snapshot and the candidate, at
/// their own fixed-point scales.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShadowRecord {
    /// The active snapshot that answered the datapath.
    pub uuid: u64,
    pub timestamp_ns: u64,
    pub input: Vec<i64>,
    pub output: Vec<i64>,
    /// The candidate's outputs, and its infer() return value (0: fine).
    pub shadow_output: Vec<i64>,
    pub shadow_error: i32,
}

/// The results of one `LF_CMD_SHADOW_RECORDS` message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShadowBatch {
    pub app: u32,
    /// The candidate.
    pub uuid: u64,
    pub records: Vec<ShadowRecord>,
}

fn shadow_request(app: u32, start: Option<(u64, u32)>) -> Request {
    let mut w = AttrWriter::new();
    w.u32(Attr::AppId, app);
    if let Some((uuid, every)) = start {
        w.u64(Attr::Uuid, uuid);
        w.u32(Attr::ShadowEvery, every);
    }
    Request {
        cmd: Cmd::Shadow,
        attrs: w.finish(),
        context: format!("SHADOW app {app}"),
    }
}

fn staging_request(app: u32, on: bool) -> Request {
    let mut w = AttrWriter::new();
    w.u32(Attr::AppId, app);
    w.u8(Attr::Staging, on as u8);
    Request {
        cmd: Cmd::Staging,
        attrs: w.finish(),
        context: format!("STAGING app {app}"),
    }
}

/// `LF_ATTR_SHADOW` of a GET_APP message, if there is one.
pub(super) fn decode_status(a: &Attrs<'_>) -> std::result::Result<Option<ShadowStatus>, String> {
    let Some(nest) = a.get(Attr::Shadow) else {
        return Ok(None);
    };
    let s = Attrs::parse(nest, "LF_ATTR_SHADOW")?;
    Ok(Some(ShadowStatus {
        uuid: s.req_u64(ShadowAttr::Uuid)?,
        every: s.req_u32(ShadowAttr::Every)?,
        sampled: s.req_u64(ShadowAttr::Sampled)?,
        dropped: s.req_u64(ShadowAttr::Dropped)?,
        run: s.req_u64(ShadowAttr::Run)?,
        errors: s.req_u64(ShadowAttr::Errors)?,
        unsent: s.req_u64(ShadowAttr::Unsent)?,
        running: s.has(ShadowAttr::Running),
        output_scale: s.req_s64(ShadowAttr::OutputScale)?,
    }))
}

/// One `LF_CMD_SHADOW_RECORDS` message.
pub fn decode_batch(attrs: &[u8]) -> std::result::Result<ShadowBatch, String> {
    let a = Attrs::parse(attrs, "the SHADOW_RECORDS message")?;
    let app = a.req_u32(Attr::AppId)?;
    let uuid = a.req_u64(Attr::Uuid)?;
    let mut records = Vec::new();
    for (i, nest) in a.all(Attr::Record).enumerate() {
        let r = decode_record(nest)
            .map_err(|e| format!("app {app}: shadow LF_ATTR_RECORD #{i}: {e}"))?;
        records.push(r);
    }
    Ok(ShadowBatch { app, uuid, records })
}

fn decode_record(nest: &[u8]) -> std::result::Result<ShadowRecord, String> {
    let r = Attrs::parse(nest, "LF_ATTR_RECORD")?;
    let output = r.req(RecAttr::Output, r.s64_array(RecAttr::Output))?;
    let shadow_output = r.req(RecAttr::ShadowOutput, r.s64_array(RecAttr::ShadowOutput))?;
    if shadow_output.len() != output.len() {
        return Err(format!(
            "the candidate gave {} outputs, the active snapshot {}",
            shadow_output.len(),
            output.len()
        ));
    }
    Ok(ShadowRecord {
        uuid: r.req_u64(RecAttr::Uuid)?,
        timestamp_ns: r.req_u64(RecAttr::Timestamp)?,
        input: r.req(RecAttr::Input, r.s64_array(RecAttr::Input))?,
        output,
        shadow_output,
        shadow_error: r.req_u32(RecAttr::ShadowError)? as i32,
    })
}

impl Client {
    /// Makes the loaded, non-active snapshot `uuid` answer one query in
    /// `every` per CPU of `app`, off the datapath.
    pub fn shadow_start(&mut self, app: u32, uuid: u64, every: u32) -> Result<()> {
        if every == 0 {
            return Err(Error::option("--every", "must be at least 1"));
        }
        self.conn
            .call(&shadow_request(app, Some((uuid, every))), Mode::Do)
            .map(drop)
    }

    /// Stops `app`'s shadow (no error when none runs).
    pub fn shadow_stop(&mut self, app: u32) -> Result<()> {
        self.conn
            .call(&shadow_request(app, None), Mode::Do)
            .map(drop)
    }

    /// While on, snapshots registering for `app` are loaded into lf_kernel's
    /// registry only: in no slot, answering nothing.
    pub fn set_staging(&mut self, app: u32, on: bool) -> Result<()> {
        self.conn
            .call(&staging_request(app, on), Mode::Do)
            .map(drop)
    }

    /// Subscribes a new socket to the `records` group for shadow messages.
    pub fn subscribe_shadow(&self) -> Result<ShadowStream> {
        let group = self.records_group().ok_or_else(|| {
            Error::Other("lf_kernel registered no `records` multicast group".into())
        })?;
        let io = NlTransport::open_group(group, RECORDS_POLL).map_err(|e| {
            Error::Other(format!(
                "cannot subscribe to lf_kernel's `records` group {group}: {e}"
            ))
        })?;
        Ok(ShadowStream {
            io: Box::new(io),
            family: self.conn.family.id,
        })
    }
}

/// A `records` subscriber that keeps `LF_CMD_SHADOW_RECORDS` messages.
pub struct ShadowStream {
    io: Box<dyn Transport>,
    family: u16,
}

/// What [`ShadowStream::take`] brought back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShadowTake {
    /// Records of the app's candidate, in arrival order.
    pub records: Vec<ShadowRecord>,
    /// Messages that could not be decoded, and the first reason.
    pub malformed: u64,
    pub first_malformed: Option<String>,
    /// Receive-buffer overruns (results lost in userspace).
    pub overruns: u64,
}

impl ShadowStream {
    /// Results of candidate `uuid` for `app` until `count` arrived or
    /// `timeout` passed (or `stop` was raised).
    pub fn take(
        &mut self,
        app: u32,
        uuid: u64,
        count: usize,
        timeout: Duration,
        stop: Option<&std::sync::atomic::AtomicBool>,
    ) -> Result<ShadowTake> {
        let deadline = Instant::now() + timeout;
        let mut out = ShadowTake::default();
        while out.records.len() < count && Instant::now() < deadline {
            if stop.is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed)) {
                break;
            }
            let dgram = match self.io.recv() {
                Ok(d) => d,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    continue
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    out.overruns += 1;
                    continue;
                }
                Err(e) => {
                    return Err(Error::Other(format!(
                        "lf_kernel: shadow records: netlink receive failed: {e}"
                    )))
                }
            };
            out.absorb(&dgram, self.family, app, uuid);
        }
        out.records.truncate(count);
        Ok(out)
    }
}

impl ShadowTake {
    fn malformed(&mut self, why: String) {
        self.malformed += 1;
        self.first_malformed.get_or_insert(why);
    }

    pub(super) fn absorb(&mut self, dgram: &[u8], family: u16, app: u32, uuid: u64) {
        let msgs = match wire::decode_datagram(dgram) {
            Ok(m) => m,
            Err(e) => return self.malformed(e),
        };
        for msg in msgs {
            if msg.header.message_type != family {
                continue;
            }
            let NetlinkPayload::InnerMessage(genl) = msg.payload else {
                continue;
            };
            if genl.payload.cmd != Cmd::ShadowRecords.byte() {
                continue;
            }
            match decode_batch(&genl.payload.attrs) {
                Ok(b) if b.app == app && b.uuid == uuid => self.records.extend(b.records),
                Ok(_) => {}
                Err(e) => self.malformed(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record_nest(w: &mut AttrWriter, out: &[i64], shadow: &[i64], err: i32) {
        let mut r = AttrWriter::new();
        r.u64(RecAttr::Uuid, 1);
        r.u64(RecAttr::Timestamp, 42);
        r.s64_array(RecAttr::Input, &[5, 6]).unwrap();
        r.s64_array(RecAttr::Output, out).unwrap();
        r.s64_array(RecAttr::ShadowOutput, shadow).unwrap();
        r.u32(RecAttr::ShadowError, err as u32);
        w.put(Attr::Record as u16, &r.finish()).unwrap();
    }

    #[test]
    fn batch_decodes_both_answers() {
        let mut w = AttrWriter::new();
        w.u32(Attr::AppId, 1);
        w.u64(Attr::Uuid, 7);
        record_nest(&mut w, &[100], &[130], 0);
        record_nest(&mut w, &[200], &[0], -22);
        let b = decode_batch(&w.finish()).unwrap();
        assert_eq!((b.app, b.uuid, b.records.len()), (1, 7, 2));
        assert_eq!(b.records[0].output, vec![100]);
        assert_eq!(b.records[0].shadow_output, vec![130]);
        assert_eq!(b.records[0].input, vec![5, 6]);
        assert_eq!(b.records[1].shadow_error, -22);
    }

    #[test]
    fn batch_with_mismatched_widths_or_missing_parts_is_malformed() {
        let mut w = AttrWriter::new();
        w.u32(Attr::AppId, 1);
        w.u64(Attr::Uuid, 7);
        record_nest(&mut w, &[100], &[1, 2], 0);
        let e = decode_batch(&w.finish()).unwrap_err();
        assert!(e.contains("the candidate gave 2 outputs"), "{e}");
        let mut w = AttrWriter::new();
        w.u32(Attr::AppId, 1);
        let e = decode_batch(&w.finish()).unwrap_err();
        assert!(e.contains("LF_ATTR_UUID"), "{e}");
    }

    #[test]
    fn status_nest_decodes() {
        let mut n = AttrWriter::new();
        n.u64(ShadowAttr::Uuid, 9);
        n.u32(ShadowAttr::Every, 4);
        for (k, v) in [
            (ShadowAttr::Sampled, 10),
            (ShadowAttr::Dropped, 1),
            (ShadowAttr::Run, 9),
            (ShadowAttr::Errors, 0),
            (ShadowAttr::Unsent, 2),
        ] {
            n.u64(k, v);
        }
        n.put(ShadowAttr::Running as u16, &[]).unwrap();
        n.u64(ShadowAttr::OutputScale, 1000);
        let mut w = AttrWriter::new();
        w.put(Attr::Shadow as u16, &n.finish()).unwrap();
        let buf = w.finish();
        let a = Attrs::parse(&buf, "test").unwrap();
        let s = decode_status(&a).unwrap().unwrap();
        assert_eq!(
            s,
            ShadowStatus {
                uuid: 9,
                every: 4,
                sampled: 10,
                dropped: 1,
                run: 9,
                errors: 0,
                unsent: 2,
                running: true,
                output_scale: 1000,
            }
        );
        let empty = AttrWriter::new().finish();
        assert_eq!(
            decode_status(&Attrs::parse(&empty, "t").unwrap()).unwrap(),
            None
        );
    }

    #[test]
    fn requests_carry_what_the_kernel_checks() {
        let r = shadow_request(3, Some((7, 16)));
        let a = Attrs::parse(&r.attrs, "t").unwrap();
        assert_eq!(a.req_u32(Attr::AppId).unwrap(), 3);
        assert_eq!(a.req_u64(Attr::Uuid).unwrap(), 7);
        assert_eq!(a.req_u32(Attr::ShadowEvery).unwrap(), 16);
        let r = shadow_request(3, None);
        let a = Attrs::parse(&r.attrs, "t").unwrap();
        assert!(!a.has(Attr::Uuid) && !a.has(Attr::ShadowEvery));
        let r = staging_request(3, true);
        let a = Attrs::parse(&r.attrs, "t").unwrap();
        assert_eq!(a.u8(Attr::Staging).unwrap(), Some(1));
    }
}
