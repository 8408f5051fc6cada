//! Training records (LiteFlow's data delivery): lf_kernel buffers
//! `(uuid, timestamp, input, output)` of each query per CPU while an app's
//! recording is on, and ships them as `LF_CMD_RECORDS` messages on the
//! `records` multicast group.
//!
//! - [`RecordStream`]: a socket subscribed to the group, decoding messages
//!   defensively (a malformed message is counted and skipped, never a
//!   panic; a receive-buffer overrun is counted);
//! - [`collect`]: recording on, records until a count or a deadline (or
//!   Ctrl-C), recording off again (also on error), dropped-record count;
//! - [`RecordSet`]: the records as real numbers, and its files
//!   (`lfc collect -o`, `lfc adapt --data`).

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use netlink_packet_core::NetlinkPayload;

use super::client::{NlTransport, Transport};
use super::sink::RecordSink;
use super::uapi::Cmd;
use super::{proto, wire, AppStatus, Client};
use crate::data::{self, Matrix};
use crate::error::Error;
use crate::Result;

/// One query as lf_kernel recorded it (fixed point, at the scales of the
/// snapshot `uuid`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub uuid: u64,
    /// `ktime_get_ns()` when the query ran.
    pub timestamp_ns: u64,
    pub input: Vec<i64>,
    pub output: Vec<i64>,
    /// `LF_INFER_*` the snapshot returned (1: an input was outside its
    /// domain, 2: an output hit the guardrail); `None` from a kernel
    /// before ABI 2.
    pub flags: Option<u32>,
}

/// The records of one `LF_CMD_RECORDS` message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordBatch {
    pub app: u32,
    pub records: Vec<Record>,
}

/// How long one receive on the records socket waits before the reader
/// looks at its deadline and at Ctrl-C again.
pub const RECORDS_POLL: Duration = Duration::from_millis(200);

/// What one receive brought.
#[derive(Debug, Default)]
pub struct Polled {
    pub batches: Vec<RecordBatch>,
    /// Messages that could not be decoded, with the reason.
    pub malformed: Vec<String>,
    /// The socket's receive buffer overflowed (ENOBUFS): records were lost
    /// in userspace.
    pub overrun: bool,
    /// A datagram arrived (even one with nothing of ours in it).
    pub datagram: bool,
}

/// A socket subscribed to lf_kernel's `records` multicast group.
pub struct RecordStream {
    io: Box<dyn Transport>,
    family: u16,
}

impl std::fmt::Debug for RecordStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordStream")
            .field("family", &self.family)
            .finish_non_exhaustive()
    }
}

impl RecordStream {
    pub(super) fn over(io: Box<dyn Transport>, family: u16) -> RecordStream {
        RecordStream { io, family }
    }

    /// Waits up to [`RECORDS_POLL`] for one datagram; nothing arrived is an
    /// empty [`Polled`].
    pub fn poll(&mut self) -> Result<Polled> {
        let mut out = Polled::default();
        let dgram = match self.io.recv() {
            Ok(d) => d,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(out)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(out),
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                out.overrun = true;
                return Ok(out);
            }
            Err(e) => {
                return Err(Error::Other(format!(
                    "lf_kernel: records: netlink receive failed: {e}"
                )))
            }
        };
        out.datagram = true;
        out.absorb(&dgram, self.family);
        Ok(out)
    }
}

impl Polled {
    pub(super) fn absorb_bytes(&mut self, dgram: &[u8], family: u16) {
        self.absorb(dgram, family)
    }

    /// Decodes one datagram: RECORDS messages of the family are kept,
    /// everything else (other families, ACKs, other commands) is ignored.
    fn absorb(&mut self, dgram: &[u8], family: u16) {
        let msgs = match wire::decode_datagram(dgram) {
            Ok(m) => m,
            Err(e) => {
                self.malformed.push(e);
                return;
            }
        };
        for msg in msgs {
            if msg.header.message_type != family {
                continue;
            }
            if let NetlinkPayload::InnerMessage(genl) = msg.payload {
                if genl.payload.cmd != Cmd::Records.byte() {
                    continue;
                }
                match proto::decode_records(&genl.payload.attrs) {
                    Ok(b) => self.batches.push(b),
                    Err(e) => self.malformed.push(e),
                }
            }
        }
    }
}

impl Client {
    /// Subscribes a new socket to the `records` group.
    pub fn subscribe_records(&self) -> Result<RecordStream> {
        let group = self.records_group().ok_or_else(|| {
            Error::Other(
                "lf_kernel registered no `records` multicast group: this lf_kernel cannot deliver training records"
                    .into(),
            )
        })?;
        let io = NlTransport::open_group(group, RECORDS_POLL).map_err(|e| {
            Error::Other(format!(
                "cannot subscribe to lf_kernel's `records` group {group}: {e}"
            ))
        })?;
        Ok(RecordStream::over(Box::new(io), self.conn.family.id))
    }
}

/// When [`collect`] stops: after `count` records, after `duration`, or at
/// whichever comes first (at least one must be given).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CollectLimit {
    pub count: Option<usize>,
    pub duration: Option<Duration>,
}

/// What [`collect`] brought back.
#[derive(Clone, Debug, PartialEq)]
pub struct Collected {
    /// The records as real numbers, in arrival order.
    pub set: RecordSet,
    /// Records lf_kernel dropped while we collected (its LF_ATTR_DROPPED at
    /// the end minus at the start); `None` if it does not report drops.
    pub dropped: Option<u64>,
    /// Messages that could not be decoded (and the first reason).
    pub malformed: u64,
    pub first_malformed: Option<String>,
    /// Receive-buffer overruns of our socket (records lost in userspace).
    pub overruns: u64,
    /// Records of a snapshot that was gone before its scales could be read.
    pub unscaled: u64,
    /// Ctrl-C ended the collection.
    pub interrupted: bool,
    /// RECORDS messages (batches) of the app received, and the most records
    /// one of them carried (lf_kernel ships full batches of up to 64).
    pub messages: u64,
    pub largest_batch: usize,
    /// The error that ended the collection early (lf_kernel unloaded, the
    /// socket failed, recording could not be turned off); `set` holds the
    /// records received before it, for the caller to keep.
    pub failed: Option<String>,
    /// Records handed to the sink of [`collect_to`] (then `set` stays
    /// empty), and whether its reader went away (a broken pipe: the
    /// collection ended normally).
    pub streamed: u64,
    pub reader_gone: bool,
}

fn find_app(client: &mut Client, app: u32) -> Result<AppStatus> {
    client
        .apps()?
        .into_iter()
        .find(|a| a.app == app)
        .ok_or_else(|| Error::Other(format!("lf_kernel has no app {app} (see `lfc status`)")))
}

fn slot_scales(status: &AppStatus, scales: &mut BTreeMap<u64, (i64, i64)>) {
    for s in &status.slots {
        scales.insert(s.uuid, (s.input_scale, s.output_scale));
    }
}

/// Turns recording of `app` on (unless it already was), receives records
/// from `stream` until `limit` or `stop` is set, and turns recording off
/// again (only if it was off before, so a concurrent collector keeps its
/// records), also when receiving failed. Inputs and outputs are converted
/// to real numbers with the scales of the snapshot that produced them
/// (GET_APP's slots, re-read when a new uuid shows up).
///
/// lf_kernel ships the records still buffered (partial batches) before it
/// acknowledges recording off, so after turning it off the socket is
/// drained until it stays quiet for [`RECORDS_POLL`] (unless `limit.count`
/// records are already in): a collection that ends with the datapath's
/// traffic then holds every record lf_kernel did not count as dropped.
pub fn collect(
    client: &mut Client,
    stream: &mut RecordStream,
    app: u32,
    limit: CollectLimit,
    stop: Option<&AtomicBool>,
) -> Result<Collected> {
    collect_to(client, stream, app, limit, stop, None)
}

/// [`collect`], with every record handed to `sink` as it arrives instead
/// of kept in [`Collected::set`] (`lfc collect -o -`).
pub fn collect_to(
    client: &mut Client,
    stream: &mut RecordStream,
    app: u32,
    limit: CollectLimit,
    stop: Option<&AtomicBool>,
    sink: Option<&mut dyn RecordSink>,
) -> Result<Collected> {
    if limit.count.is_none() && limit.duration.is_none() {
        return Err(Error::option(
            "--count/--seconds",
            "give a record count or a duration",
        ));
    }
    let status = find_app(client, app)?;
    let was_on = status.recording == Some(true);
    if !was_on {
        client.set_recording(app, true)?;
    }
    // From here on an error does not lose what was received: it ends the
    // collection and is reported in `failed`.
    let mut rx = Receiver::new(&status, limit, sink);
    let received = rx
        .start()
        .and_then(|()| rx.receive(client, stream, limit, stop));
    let off = if was_on {
        Ok(())
    } else {
        client.set_recording(app, false)
    };
    let failed = match (received, off) {
        (Ok(()), Ok(())) => None,
        (Err(e), Ok(())) | (Ok(()), Err(e)) => Some(e.to_string()),
        (Err(e), Err(off)) => Some(format!(
            "{e}; and turning recording off again failed: {off}"
        )),
    };
    if failed.is_none() && !was_on {
        if let Err(e) = rx.drain(client, stream) {
            rx.got.failed = Some(e.to_string());
        }
    }
    let mut got = rx.got;
    got.failed = failed.or(got.failed);
    if got.failed.is_none() {
        match find_app(client, app) {
            Ok(end) => {
                got.dropped = match (status.dropped, end.dropped) {
                    (Some(a), Some(b)) => Some(b.saturating_sub(a)),
                    _ => None,
                }
            }
            Err(e) => got.failed = Some(e.to_string()),
        }
    }
    Ok(got)
}

/// While no records arrive, [`collect`] asks lf_kernel for the app this
/// often, so that an unloaded module (or a destroyed app) ends the
/// collection instead of a silent wait.
pub const LIVENESS_CHECK: Duration = Duration::from_secs(1);

/// The receiving half of [`collect`]: what came so far, and the scales of
/// every snapshot seen.
struct Receiver<'s> {
    sink: Option<&'s mut dyn RecordSink>,
    /// Records taken (kept in `got.set`, or streamed).
    taken: usize,
    /// The sink's first write error, ending the collection.
    sink_error: Option<io::Error>,
    app: u32,
    ni: usize,
    no: usize,
    want: usize,
    scales: BTreeMap<u64, (i64, i64)>,
    /// Uuids whose scales were looked up once more (found or not).
    looked_up: BTreeSet<u64>,
    got: Collected,
}

impl<'s> Receiver<'s> {
    fn new(
        status: &AppStatus,
        limit: CollectLimit,
        sink: Option<&'s mut dyn RecordSink>,
    ) -> Receiver<'s> {
        let (ni, no) = (status.input_len as usize, status.output_len as usize);
        let mut scales = BTreeMap::new();
        slot_scales(status, &mut scales);
        Receiver {
            sink,
            taken: 0,
            sink_error: None,
            app: status.app,
            ni,
            no,
            want: limit.count.unwrap_or(usize::MAX),
            scales,
            looked_up: BTreeSet::new(),
            got: Collected {
                set: RecordSet::new(ni, no),
                dropped: None,
                malformed: 0,
                first_malformed: None,
                overruns: 0,
                unscaled: 0,
                interrupted: false,
                messages: 0,
                largest_batch: 0,
                failed: None,
                streamed: 0,
                reader_gone: false,
            },
        }
    }

    fn full(&self) -> bool {
        self.taken >= self.want
    }

    fn start(&mut self) -> Result<()> {
        if let Some(sink) = self.sink.as_mut() {
            if let Err(e) = sink.start(self.ni, self.no) {
                self.sink_error = Some(e);
            }
        }
        self.sink_failed()
    }

    /// Ends the collection once the sink failed: normally if its reader
    /// went away, else with the error.
    fn sink_failed(&mut self) -> Result<()> {
        match &self.sink_error {
            None => Ok(()),
            Some(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.got.reader_gone = true;
                Ok(())
            }
            Some(e) => Err(Error::Other(format!("writing the records failed: {e}"))),
        }
    }

    /// Until `want` records, the deadline, or `stop`.
    fn receive(
        &mut self,
        client: &mut Client,
        stream: &mut RecordStream,
        limit: CollectLimit,
        stop: Option<&AtomicBool>,
    ) -> Result<()> {
        let deadline = limit.duration.map(|d| Instant::now() + d);
        let mut checked = Instant::now();
        while !self.full() && !self.got.reader_gone {
            if stop.map(|s| s.load(Ordering::Relaxed)).unwrap_or(false) {
                self.got.interrupted = true;
                break;
            }
            if deadline.map(|d| Instant::now() >= d).unwrap_or(false) {
                break;
            }
            let polled = stream.poll()?;
            if !polled.datagram && checked.elapsed() >= LIVENESS_CHECK {
                checked = Instant::now();
                find_app(client, self.app).map_err(|e| {
                    Error::Other(format!(
                        "lf_kernel stopped answering during the collection: {e}"
                    ))
                })?;
            }
            self.take(client, polled);
            self.sink_failed()?;
        }
        Ok(())
    }

    /// What is still queued on the socket (recording is off: nothing new
    /// comes once it has been read), until a poll brings nothing.
    fn drain(&mut self, client: &mut Client, stream: &mut RecordStream) -> Result<()> {
        while !self.full() && !self.got.reader_gone {
            let polled = stream.poll()?;
            if !polled.datagram && !polled.overrun {
                break;
            }
            self.take(client, polled);
            self.sink_failed()?;
        }
        Ok(())
    }

    fn take(&mut self, client: &mut Client, polled: Polled) {
        let got = &mut self.got;
        got.overruns += polled.overrun as u64;
        for m in polled.malformed {
            got.malformed += 1;
            got.first_malformed.get_or_insert(m);
        }
        let (ni, no, app) = (self.ni, self.no, self.app);
        for batch in polled.batches.into_iter().filter(|b| b.app == app) {
            got.messages += 1;
            got.largest_batch = got.largest_batch.max(batch.records.len());
            for r in batch.records {
                if r.input.len() != ni || r.output.len() != no {
                    got.malformed += 1;
                    got.first_malformed.get_or_insert(format!(
                        "app {app}: a record of snapshot {} has {} inputs and {} outputs, the app has {ni} and {no}",
                        r.uuid,
                        r.input.len(),
                        r.output.len()
                    ));
                    continue;
                }
                if !self.scales.contains_key(&r.uuid) && self.looked_up.insert(r.uuid) {
                    // A snapshot loaded since we started: read its scales
                    // while it is (most likely) still in a slot.
                    if let Ok(s) = find_app(client, app) {
                        slot_scales(&s, &mut self.scales);
                    }
                }
                match self.scales.get(&r.uuid) {
                    Some(&(is, os)) if self.taken < self.want => {
                        let rec = RealRecord {
                            uuid: r.uuid,
                            timestamp_ns: r.timestamp_ns,
                            input: r.input.iter().map(|&v| v as f64 / is as f64).collect(),
                            output: r.output.iter().map(|&v| v as f64 / os as f64).collect(),
                            flags: r.flags,
                        };
                        self.taken += 1;
                        match self.sink.as_mut() {
                            None => got.set.rows.push(rec),
                            Some(_) if self.sink_error.is_some() => {}
                            Some(sink) => match sink.record(&rec) {
                                Ok(()) => got.streamed += 1,
                                Err(e) => self.sink_error = Some(e),
                            },
                        }
                    }
                    Some(_) => {}
                    None => got.unscaled += 1,
                }
            }
            if let Some(sink) = self.sink.as_mut() {
                if self.sink_error.is_none() {
                    if let Err(e) = sink.batch_end() {
                        self.sink_error = Some(e);
                    }
                }
            }
        }
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::Relaxed);
}

/// Installs a SIGINT handler that only sets the returned flag (so a
/// collection ends cleanly, recording off, file written). A second Ctrl-C
/// kills the process as usual.
pub fn interrupt_flag() -> &'static AtomicBool {
    // SAFETY: the handler only stores to an atomic (async-signal-safe);
    // SA_RESETHAND restores the default action for a second Ctrl-C.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigint as extern "C" fn(libc::c_int) as usize;
        sa.sa_flags = libc::SA_RESETHAND;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut());
    }
    &INTERRUPTED
}

/// One record in real numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct RealRecord {
    pub uuid: u64,
    pub timestamp_ns: u64,
    pub input: Vec<f64>,
    pub output: Vec<f64>,
    /// `LF_INFER_*` flags, when the record (or its file) carries them.
    pub flags: Option<u32>,
}

/// Records of one app as real numbers (input / input scale, output /
/// output scale of the snapshot that answered).
///
/// Files (`lfc collect -o`): one row per record, columns
/// `in0..in{I-1}, out0..out{O-1}, uuid, timestamp_ns[, flags]`.
/// - `.csv`: that header line, reals in shortest round-trip form, uuid,
///   timestamp and flags as exact decimal integers: lossless.
/// - `.npy`: the matrix without the flags as float64 (uuid and timestamp
///   exact only up to 2^53), plus a sidecar `FILE.meta.csv`
///   (`uuid,timestamp_ns[,flags]`, one exact line per row) that
///   [`RecordSet::read`] takes them from.
/// - `.parquet`: typed columns (DOUBLE reals, unsigned INT64 uuid and
///   timestamp_ns, unsigned INT32 flags), lossless; see
///   [`super::records_parquet`].
///
/// The `flags` column (format 2: the `LF_INFER_*` drift and guardrail
/// flags of each record) is written when every record has them; files
/// without it (format 1, and records from a kernel before ABI 2) read
/// with `flags: None`.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordSet {
    pub input_len: usize,
    pub output_len: usize,
    pub rows: Vec<RealRecord>,
}

/// `rec.npy` → `rec.meta.csv`.
pub fn meta_path(npy: &Path) -> PathBuf {
    npy.with_extension("meta.csv")
}

fn ext_of(path: &Path) -> Option<String> {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
}

/// Writes through a temporary file in the same directory, 0644.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::fsutil::write_atomic(path, bytes)
}

impl RecordSet {
    pub fn new(input_len: usize, output_len: usize) -> RecordSet {
        RecordSet {
            input_len,
            output_len,
            rows: Vec::new(),
        }
    }

    /// The column names, in file order.
    pub fn header(&self) -> Vec<String> {
        let mut h: Vec<String> = (0..self.input_len).map(|i| format!("in{i}")).collect();
        h.extend((0..self.output_len).map(|o| format!("out{o}")));
        h.push("uuid".into());
        h.push("timestamp_ns".into());
        if self.has_flags() {
            h.push("flags".into());
        }
        h
    }

    /// Every record carries its flags (the files then have the column).
    pub fn has_flags(&self) -> bool {
        !self.rows.is_empty() && self.rows.iter().all(|r| r.flags.is_some())
    }

    /// Share of the records whose inputs were outside the snapshot's
    /// declared domain (`LF_INFER_DRIFT`), or `None` when the records do
    /// not carry flags.
    pub fn drift_rate(&self) -> Option<f64> {
        if !self.has_flags() {
            return None;
        }
        let drifted = self
            .rows
            .iter()
            .filter(|r| r.flags.unwrap_or(0) & super::uapi::INFER_DRIFT != 0)
            .count();
        Some(drifted as f64 / self.rows.len() as f64)
    }

    /// The inputs alone, one row per record.
    pub fn inputs(&self) -> Matrix {
        let data = self
            .rows
            .iter()
            .flat_map(|r| r.input.iter().copied())
            .collect();
        Matrix::new(self.rows.len(), self.input_len, data)
    }

    /// Writes `.csv`, `.parquet` or `.npy` (+ `.meta.csv`), see [`RecordSet`].
    pub fn write(&self, path: &Path) -> Result<()> {
        for (k, r) in self.rows.iter().enumerate() {
            if r.input.len() != self.input_len || r.output.len() != self.output_len {
                return Err(Error::data(
                    path,
                    format!("internal error: record {k} has the wrong width"),
                ));
            }
        }
        match ext_of(path).as_deref() {
            Some("csv") => {
                let mut s = self.header().join(",");
                s.push('\n');
                for r in &self.rows {
                    for v in r.input.iter().chain(&r.output) {
                        s.push_str(&format!("{v:?},"));
                    }
                    s.push_str(&format!("{},{}", r.uuid, r.timestamp_ns));
                    match r.flags.filter(|_| self.has_flags()) {
                        Some(f) => s.push_str(&format!(",{f}\n")),
                        None => s.push('\n'),
                    }
                }
                write_atomic(path, s.as_bytes())
            }
            Some("npy") => {
                let flags = self.has_flags();
                let mut meta = String::from(if flags {
                    "uuid,timestamp_ns,flags\n"
                } else {
                    "uuid,timestamp_ns\n"
                });
                let cols = self.input_len + self.output_len + 2;
                let mut data = Vec::with_capacity(self.rows.len() * cols);
                for r in &self.rows {
                    data.extend(r.input.iter().chain(&r.output));
                    data.push(r.uuid as f64);
                    data.push(r.timestamp_ns as f64);
                    meta.push_str(&format!("{},{}", r.uuid, r.timestamp_ns));
                    match r.flags.filter(|_| flags) {
                        Some(f) => meta.push_str(&format!(",{f}\n")),
                        None => meta.push('\n'),
                    }
                }
                write_atomic(&meta_path(path), meta.as_bytes())?;
                data::write_matrix(path, &Matrix::new(self.rows.len(), cols, data))
            }
            Some("parquet") => super::records_parquet::write(self, path),
            _ => Err(Error::data(
                path,
                "records are written as .csv, .parquet or .npy (with a .meta.csv sidecar)",
            )),
        }
    }

    /// Reads a file [`RecordSet::write`] wrote, for a model with
    /// `input_len` inputs (the outputs are the remaining columns).
    pub fn read(path: &Path, input_len: usize) -> Result<RecordSet> {
        match ext_of(path).as_deref() {
            Some("csv") => Self::read_csv(path, input_len),
            Some("npy") => Self::read_npy(path, input_len),
            Some("parquet") => super::records_parquet::read(path, input_len),
            _ => Err(Error::data(
                path,
                "records files are .csv, .parquet or .npy (from `lfc collect`)",
            )),
        }
    }

    fn read_csv(path: &Path, input_len: usize) -> Result<RecordSet> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let (_, header) = lines
            .next()
            .ok_or_else(|| Error::data(path, "empty file: no header line"))?;
        let names: Vec<&str> = header.split(',').map(str::trim).collect();
        let ni = names.iter().take_while(|n| n.starts_with("in")).count();
        let no = names[ni..]
            .iter()
            .take_while(|n| n.starts_with("out"))
            .count();
        let set = RecordSet::new(ni, no);
        let mut want = set.header();
        let flags = names.last() == Some(&"flags");
        if flags {
            want.push("flags".into());
        }
        if names != want {
            return Err(Error::data(
                path,
                "not an `lfc collect` file: the header must be in0..,out0..,uuid,timestamp_ns[,flags]",
            ));
        }
        if ni != input_len {
            return Err(Error::data(
                path,
                format!("records have {ni} inputs, the model has {input_len}"),
            ));
        }
        let mut set = set;
        for (i, line) in lines {
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            let bad = |what: String| Error::data(path, format!("line {}: {what}", i + 1));
            if f.len() != names.len() {
                return Err(bad(format!(
                    "{} fields, the header has {}",
                    f.len(),
                    names.len()
                )));
            }
            let real = |s: &str| -> Result<f64> {
                s.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| bad(format!("`{}` is not a finite number", data_excerpt(s))))
            };
            let int = |s: &str| -> Result<u64> {
                s.parse::<u64>()
                    .map_err(|_| bad(format!("`{}` is not a u64", data_excerpt(s))))
            };
            set.rows.push(RealRecord {
                input: f[..ni].iter().map(|s| real(s)).collect::<Result<_>>()?,
                output: f[ni..ni + no]
                    .iter()
                    .map(|s| real(s))
                    .collect::<Result<_>>()?,
                uuid: int(f[ni + no])?,
                timestamp_ns: int(f[ni + no + 1])?,
                // Empty: a streamed record (`-o -`) that carried no flags.
                flags: match flags.then(|| f[ni + no + 2]) {
                    Some(s) if !s.is_empty() => Some(flag_bits(int(s)?).map_err(bad)?),
                    _ => None,
                },
            });
        }
        Ok(set)
    }

    fn read_npy(path: &Path, input_len: usize) -> Result<RecordSet> {
        let m = data::read_matrix(path)?;
        data::check_finite(path, &m)?;
        if m.cols < input_len + 2 {
            return Err(Error::data(
                path,
                format!(
                    "{} columns: not records of a model with {input_len} inputs (in.., out.., uuid, timestamp_ns)",
                    m.cols
                ),
            ));
        }
        let no = m.cols - input_len - 2;
        let mp = meta_path(path);
        let meta = RecordSet::read_meta(&mp, m.rows)?;
        let mut set = RecordSet::new(input_len, no);
        for (row, (uuid, ts, flags)) in m.iter_rows().zip(meta) {
            set.rows.push(RealRecord {
                uuid,
                timestamp_ns: ts,
                flags,
                input: row[..input_len].to_vec(),
                output: row[input_len..input_len + no].to_vec(),
            });
        }
        Ok(set)
    }

    fn read_meta(path: &Path, rows: usize) -> Result<Vec<(u64, u64, Option<u32>)>> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut out = Vec::with_capacity(rows);
        let mut flags = false;
        for (i, line) in text.lines().enumerate() {
            if i == 0 {
                flags = match line.trim() {
                    "uuid,timestamp_ns" => false,
                    "uuid,timestamp_ns,flags" => true,
                    _ => {
                        return Err(Error::data(
                            path,
                            "the header must be `uuid,timestamp_ns[,flags]`",
                        ))
                    }
                };
                continue;
            }
            if line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            let parsed = (f.len() == 2 + flags as usize)
                .then(|| {
                    let flag = match f.get(2) {
                        Some(s) => Some(flag_bits(s.parse::<u64>().ok()?).ok()?),
                        None => None,
                    };
                    Some((f[0].parse::<u64>().ok()?, f[1].parse::<u64>().ok()?, flag))
                })
                .flatten();
            match parsed {
                Some(p) => out.push(p),
                None => {
                    return Err(Error::data(
                        path,
                        format!(
                            "line {}: `{}` is not `uuid,timestamp_ns[,flags]`",
                            i + 1,
                            data_excerpt(line)
                        ),
                    ))
                }
            }
        }
        if out.len() != rows {
            return Err(Error::data(
                path,
                format!("{} rows, its .npy has {rows}", out.len()),
            ));
        }
        Ok(out)
    }
}

/// A flags field: only the `LF_INFER_*` bits lf_kernel defines.
pub(super) fn flag_bits(v: u64) -> std::result::Result<u32, String> {
    let known = u64::from(super::uapi::INFER_DRIFT | super::uapi::INFER_GUARD);
    if v & !known != 0 {
        return Err(format!("flags {v} has bits lf_kernel does not define"));
    }
    Ok(v as u32)
}

fn data_excerpt(s: &str) -> String {
    if s.chars().count() <= 40 {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(40).collect::<String>())
    }
}
