//! `lfc collect -o -`: records streamed as they arrive, one line each,
//! flushed per netlink batch, for whatever pipeline reads stdout (CSV with
//! the columns of `-o FILE.csv`, or JSON lines). Nothing is kept in
//! memory: a collection can run for as long as the datapath does.
//!
//! The header is written before the first record arrives, so a stream
//! always has the `flags` column (`LF_INFER_*` bits: 1 drift, 2
//! guardrail); a record from an lf_kernel older than snapshot ABI 2
//! carries none and leaves the field empty (JSON: `null`), which
//! `lfc adapt --data` reads back as "no flags".

use std::io::{self, Write};

use super::records::RealRecord;

/// Where streamed records go. A write error ends the collection;
/// [`io::ErrorKind::BrokenPipe`] (the reader went away) ends it normally.
pub trait RecordSink {
    /// Called once, before the first record, with the app's widths.
    fn start(&mut self, input_len: usize, output_len: usize) -> io::Result<()>;
    fn record(&mut self, r: &RealRecord) -> io::Result<()>;
    /// After every batch (netlink message): flush.
    fn batch_end(&mut self) -> io::Result<()>;
}

/// The line format of a streamed collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StreamFormat {
    /// A header `in0,..,out0,..,uuid,timestamp_ns,flags`, then one row per record.
    Csv,
    /// One object per record: `{"uuid":..,"timestamp_ns":..,"flags":..,"input":[..],"output":[..]}`.
    Jsonl,
}

/// Writes records to `w` in `format`.
pub struct LineSink<W: Write> {
    w: W,
    format: StreamFormat,
    /// Records written so far.
    pub written: u64,
}

impl<W: Write> LineSink<W> {
    /// The writer back (what a test wrote into).
    pub fn into_inner(self) -> W {
        self.w
    }

    pub fn new(w: W, format: StreamFormat) -> LineSink<W> {
        LineSink {
            w,
            format,
            written: 0,
        }
    }
}

impl<W: Write> RecordSink for LineSink<W> {
    fn start(&mut self, input_len: usize, output_len: usize) -> io::Result<()> {
        if self.format == StreamFormat::Csv {
            let mut h: Vec<String> = (0..input_len).map(|i| format!("in{i}")).collect();
            h.extend((0..output_len).map(|o| format!("out{o}")));
            h.push("uuid".into());
            h.push("timestamp_ns".into());
            h.push("flags".into());
            writeln!(self.w, "{}", h.join(","))?;
            self.w.flush()?;
        }
        Ok(())
    }

    fn record(&mut self, r: &RealRecord) -> io::Result<()> {
        match self.format {
            // `{v:?}`: the shortest text that reads back as the same f64,
            // as `-o FILE.csv` writes it.
            StreamFormat::Csv => {
                for v in r.input.iter().chain(&r.output) {
                    write!(self.w, "{v:?},")?;
                }
                let flags = r.flags.map(|f| f.to_string()).unwrap_or_default();
                writeln!(self.w, "{},{},{flags}", r.uuid, r.timestamp_ns)?;
            }
            StreamFormat::Jsonl => {
                let line = serde_json::json!({
                    "uuid": r.uuid,
                    "timestamp_ns": r.timestamp_ns,
                    "flags": r.flags,
                    "input": r.input,
                    "output": r.output,
                });
                writeln!(self.w, "{line}")?;
            }
        }
        self.written += 1;
        Ok(())
    }

    fn batch_end(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}
