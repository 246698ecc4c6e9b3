//! One capture point through capture -> decode -> flow: opened (file, FIFO, standard input),
//! read on one thread, or read and decoded on one while another keeps the flow table.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use super::options::PROGRESS_EVERY;
use super::{Damage, PointInput, PointResult, PointSummary, ReadOptions, SpareCores};
use crate::capture::{CaptureReader, Compression, Format};
use crate::decode::{self, Packet, SkipReason};
use crate::flow::FlowTable;

fn format_name(f: Format, compression: Option<Compression>) -> String {
    let base = match f {
        Format::Pcap {
            nanos, modified, ..
        } => match (modified, nanos) {
            (true, _) => "pcap-modified",
            (false, true) => "pcap-ns",
            (false, false) => "pcap",
        },
        Format::PcapNg => "pcapng",
    };
    match compression {
        Some(c) => format!("{base}+{}", c.name()),
        None => base.to_string(),
    }
}

/// Reads one capture point through capture -> decode -> flow.
///
/// What the path names decides how it is read: a regular file (or a character device such as
/// `/dev/stdin` on a pipe) is read as a stream; a folder is refused; a FIFO (named pipe) is
/// read as a stream once a writer opens it, and refused when none has after
/// [`ReadOptions::fifo_wait`]. A path that cannot be opened is reported as damage at byte 0.
pub fn analyse_point(input: &PointInput, opts: &ReadOptions) -> PointResult {
    match open_source(&input.path, opts.fifo_wait) {
        Ok(source) => analyse_reader(input, source, opts),
        Err(reason) => {
            let mut s = new_summary(input);
            s.damage = Some(Damage { offset: 0, reason });
            finish(s, FlowTable::new(opts.max_flows))
        }
    }
}

fn new_summary(input: &PointInput) -> PointSummary {
    PointSummary {
        name: input.name.clone(),
        path: input.path.clone(),
        ..PointSummary::default()
    }
}

/// Opens what `path` names for reading, or says why it cannot be read.
fn open_source(path: &Path, fifo_wait: Duration) -> Result<Box<dyn Read + Send>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot open: {e}"))?;
    if meta.is_dir() {
        return Err("is a folder, not a capture file".into());
    }
    let file = if is_fifo(&meta) {
        open_fifo(path, fifo_wait)?
    } else {
        std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?
    };
    Ok(Box::new(file))
}

#[cfg(unix)]
fn is_fifo(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    meta.file_type().is_fifo()
}

#[cfg(not(unix))]
fn is_fifo(_: &std::fs::Metadata) -> bool {
    false
}

/// Opens a FIFO, which blocks until a writer opens the other end: in a helper thread, given
/// `wait` to succeed. When no writer comes, that thread stays blocked in `open` until one
/// does or the process ends (nothing else can interrupt it without unsafe code).
fn open_fifo(path: &Path, wait: Duration) -> Result<std::fs::File, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let owned = path.to_path_buf();
    std::thread::Builder::new()
        .name("fifo-open".into())
        .spawn(move || {
            // The receiver is gone when the wait is over: the file is then dropped.
            let _ = tx.send(std::fs::File::open(owned));
        })
        .map_err(|e| format!("cannot open the FIFO: {e}"))?;
    match rx.recv_timeout(wait) {
        Ok(opened) => opened.map_err(|e| format!("cannot open: {e}")),
        Err(_) => Err(format!(
            "a FIFO that no writer opened within {} s",
            wait.as_secs_f64()
        )),
    }
}

/// Reads one capture point from any byte stream (a pipe, a decompressor, bytes in memory)
/// through capture -> decode -> flow. `input.path` only names the source in the summary.
pub fn analyse_reader(
    input: &PointInput,
    source: Box<dyn Read + Send>,
    opts: &ReadOptions,
) -> PointResult {
    let mut s = new_summary(input);
    let mut table = FlowTable::with_samples(opts.max_flows, opts.samples);
    if let Some(b) = &opts.budget {
        table = table.with_budget(b.clone());
    }
    let mut reader = match CaptureReader::from_reader(source) {
        Ok(r) => r,
        Err(e) => {
            s.damage = Some(Damage {
                offset: e.offset,
                reason: e.kind.to_string(),
            });
            return finish(s, table);
        }
    };
    s.format = format_name(reader.format(), reader.compression());
    let mut reading = Reading::default();
    if !opts.pipeline {
        // in batches too: the table prefetches ahead within a batch
        let mut batch: Vec<Item> = Vec::with_capacity(LOCAL_BATCH);
        let mut keys = Vec::with_capacity(LOCAL_BATCH);
        let spare = opts.spare_cores.as_deref();
        let ended = reading.run(
            &mut reader,
            &mut s,
            opts,
            |p, ts, wire_len, n| {
                batch.push((*p, ts, wire_len, n));
                if batch.len() == LOCAL_BATCH {
                    table.add_batch(&batch, &mut keys);
                    batch.clear();
                }
            },
            || spare.is_some_and(SpareCores::claim),
        );
        table.add_batch(&batch, &mut keys);
        if !ended {
            // a core came free: the rest of the file on two threads
            crate::timings::print(format_args!(
                "{}: pipelined from frame {} on",
                input.name,
                reading.frame_no + 1
            ));
            table = read_pipelined(&mut reader, &mut s, opts, table, &mut reading);
            if let Some(spare) = spare {
                spare.release();
            }
        }
    } else {
        table = read_pipelined(&mut reader, &mut s, opts, table, &mut reading);
    }
    s.link_types = reader.link_types().to_vec();
    s.timestamp_fixups = reader.timestamp_fixups();
    s.gzip_trailing_zeros = reader.gzip_trailing_zeros();
    s.interface_stats = reader.interface_stats();
    finish(s, table)
}

/// A decoded packet on its way to the flow table: packet, time, wire length, frame number.
type Item = (Packet, i64, u32, u64);
/// Packets handed from the reading thread to the flow thread at a time.
const BATCH: usize = 4096;
/// Packets handed to the flow table at a time when one thread reads and keeps the table
/// (small: the packets are still in the cache).
const LOCAL_BATCH: usize = 64;

/// Reads and decodes on this thread while another thread keeps the flow table: the two
/// halves of the per-packet work overlap. Batches are recycled, so the steady state does not
/// allocate. Packets reach the table in capture order, exactly as without the pipeline.
fn read_pipelined(
    reader: &mut CaptureReader,
    s: &mut PointSummary,
    opts: &ReadOptions,
    mut table: FlowTable,
    reading: &mut Reading,
) -> FlowTable {
    use std::sync::mpsc;
    let (full_tx, full_rx) = mpsc::sync_channel::<Vec<Item>>(4);
    let (empty_tx, empty_rx) = mpsc::channel::<Vec<Item>>();
    std::thread::scope(|scope| {
        let timings = crate::timings::enabled();
        let worker = scope.spawn(move || {
            let mut busy = std::time::Duration::ZERO;
            let mut keys = Vec::with_capacity(BATCH);
            for mut batch in full_rx {
                let t = std::time::Instant::now();
                table.add_batch(&batch, &mut keys);
                busy += t.elapsed();
                batch.clear();
                // the reader may be gone already: then the batch is simply dropped
                let _ = empty_tx.send(batch);
            }
            crate::timings::print(format_args!(
                "flow table thread busy {}",
                crate::timings::secs(busy)
            ));
            table
        });
        let mut batch: Vec<Item> = Vec::with_capacity(BATCH);
        let mut blocked = std::time::Duration::ZERO;
        let sink = |p: &Packet, ts, wire_len, n| {
            batch.push((*p, ts, wire_len, n));
            if batch.len() == BATCH {
                let next = empty_rx
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(BATCH));
                // a send fails only when the worker is gone (it panicked): join reports it
                let t = timings.then(std::time::Instant::now);
                let _ = full_tx.send(std::mem::replace(&mut batch, next));
                if let Some(t) = t {
                    blocked += t.elapsed();
                }
            }
        };
        reading.run(reader, s, opts, sink, || false);
        if !batch.is_empty() {
            let _ = full_tx.send(batch);
        }
        crate::timings::print(format_args!(
            "reading thread waited {} for the flow table",
            crate::timings::secs(blocked)
        ));
        drop(full_tx);
        crate::threads::join(worker)
    })
}

/// Where reading a point has got to: what carries over when the rest of the file is read
/// another way (see [`SpareCores`]).
#[derive(Debug)]
pub(super) struct Reading {
    /// Frames read so far (the last one's 1-based number).
    frame_no: u64,
    /// Stream offset and frames at the last progress report.
    reported: (u64, u64),
    prev_ts: i64,
}

impl Default for Reading {
    fn default() -> Self {
        Reading {
            frame_no: 0,
            reported: (0, 0),
            prev_ts: i64::MIN,
        }
    }
}

/// Frames between two asks whether to stop (to read the rest another way).
pub(super) const STOP_EVERY: u64 = 1 << 12;

impl Reading {
    /// Reads frames, keeps the point's counters, decodes, and hands each packet to `sink`
    /// with its time, wire length and 1-based frame number. True at the end of the capture
    /// (or at damage); false when `stop`, asked every few thousand frames, said to stop.
    pub(super) fn run(
        &mut self,
        reader: &mut CaptureReader,
        s: &mut PointSummary,
        opts: &ReadOptions,
        mut sink: impl FnMut(&Packet, i64, u32, u64),
        mut stop: impl FnMut() -> bool,
    ) -> bool {
        loop {
            if self.frame_no.is_multiple_of(STOP_EVERY) {
                if self.frame_no.is_multiple_of(PROGRESS_EVERY) {
                    if let Some(p) = &opts.progress {
                        let now = reader.offset();
                        let (bytes, frames) = self.reported;
                        p.add(now.saturating_sub(bytes), self.frame_no - frames);
                        self.reported = (now, self.frame_no);
                    }
                }
                if self.frame_no > 0 && stop() {
                    return false;
                }
            }
            let frame = match reader.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => return true,
                Err(e) => {
                    s.damage = Some(Damage {
                        offset: e.offset,
                        reason: e.kind.to_string(),
                    });
                    return true;
                }
            };
            self.frame_no += 1;
            s.packets += 1;
            s.bytes = s.bytes.saturating_add(frame.wire_len.into());
            if frame.ts_ns < self.prev_ts {
                s.clock_steps_back += 1;
            }
            self.prev_ts = frame.ts_ns;
            s.first_ts = Some(s.first_ts.map_or(frame.ts_ns, |t| t.min(frame.ts_ns)));
            s.last_ts = Some(s.last_ts.map_or(frame.ts_ns, |t| t.max(frame.ts_ns)));
            match decode::decode(frame.link_type, frame.data, frame.wire_len) {
                Ok(p) => {
                    s.decoded += 1;
                    sink(&p, frame.ts_ns, frame.wire_len, self.frame_no);
                }
                Err(reason) => {
                    *s.not_decoded.entry(reason.name()).or_insert(0) += 1;
                    if reason == SkipReason::UnsupportedLinkType {
                        *s.unsupported_link_types.entry(frame.link_type).or_insert(0) += 1;
                    }
                }
            }
        }
    }
}

fn finish(mut s: PointSummary, table: FlowTable) -> PointResult {
    s.forwarded_packets = table.forwarded_packets;
    s.packets_over_flow_cap = table.dropped_packets;
    s.flow_table_out_of_memory = table.out_of_memory();
    let (flows, links) = table.finish();
    PointResult {
        summary: s,
        flows,
        links,
    }
}
