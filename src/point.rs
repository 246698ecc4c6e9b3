//! point: one capture point from file to flow table.
//!
//! Takes the capture points the user named (resolved by [`crate::inputs`], re-exported here),
//! and runs each point through the first three stages
//! (capture -> decode -> flow) and keeps what the report needs about the point itself:
//! format, link types, packet counts, packets not decoded by reason, and damage. Points are
//! analysed in parallel, one thread each, up to the number of cores. A point with a core to
//! spare reads on one thread and keeps its flow table on another; a point that reads alone
//! takes over a core another point has finished with, and pipelines the rest of its file.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::capture::{CaptureReader, Compression, Format};
use crate::decode::{self, Packet, SkipReason};
use crate::flow::{Flow, FlowBudget, FlowTable, Link};

/// A capture point as named by the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointInput {
    pub name: String,
    pub path: PathBuf,
}

pub use crate::inputs::{
    os_text, point_name, resolve_inputs, resolve_inputs_with, InputError, ResolveOptions,
};

/// Damage found while reading a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Byte offset in the (decompressed) file of the damaged record.
    pub offset: u64,
    pub reason: String,
}

/// What was read at one capture point.
#[derive(Debug, Clone, Default)]
pub struct PointSummary {
    pub name: String,
    pub path: PathBuf,
    /// `pcap`, `pcap-ns`, `pcap-modified`, `pcapng`, with `+gzip`, `+zstd` or `+lz4` when
    /// compressed; empty when the file could not be opened as a capture.
    pub format: String,
    pub link_types: Vec<u32>,
    /// Frames read.
    pub packets: u64,
    /// Wire bytes of the frames read.
    pub bytes: u64,
    /// Frames decoded into a packet.
    pub decoded: u64,
    /// Frames not decoded, by reason (`SkipReason::name`).
    pub not_decoded: BTreeMap<&'static str, u64>,
    /// Frames of link types flowcheck does not decode, by link type.
    pub unsupported_link_types: BTreeMap<u32, u64>,
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    /// Frames whose time stamp is earlier than the one before them.
    pub clock_steps_back: u64,
    /// Zero bytes after the end of the gzip stream, ignored with a warning (as gzip does).
    pub gzip_trailing_zeros: u64,
    /// Time stamps that were invalid and normalised by the reader.
    pub timestamp_fixups: u64,
    /// Packets seen twice because this point forwarded them (the leaving leg).
    pub forwarded_packets: u64,
    /// Packets not tracked because the flow cap was reached (`--max-flows`, the run's total)
    /// or the flow table ran out of memory.
    pub packets_over_flow_cap: u64,
    /// The flow table could not grow (the allocator refused): from then on packets of new
    /// flows were counted in `packets_over_flow_cap`, not tracked.
    pub flow_table_out_of_memory: bool,
    pub damage: Option<Damage>,
    /// What the capture's pcapng interface statistics blocks say (its start and end, its
    /// drops); empty without them.
    pub interface_stats: crate::capture::InterfaceStats,
    /// What this point's capture missed that other points saw (filled in after correlation;
    /// see [`crate::coverage`]).
    pub capture_loss: crate::coverage::CaptureLoss,
}

impl PointSummary {
    /// The capture window on the point's own clock: first to last packet, widened by the
    /// interface statistics' start and end when they say more; `None` when it captured
    /// nothing and no statistics say when it ran.
    pub fn window(&self) -> Option<(i64, i64)> {
        self.interface_stats.widen(self.first_ts, self.last_ts)
    }
}

/// One point analysed: its summary, its flows in order of first packet, its forwarding links.
#[derive(Debug, Clone)]
pub struct PointResult {
    pub summary: PointSummary,
    pub flows: Vec<Flow>,
    pub links: Vec<Link>,
}

/// Knobs for reading points.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Most flows tracked in the whole run, shared by its points (`analyse_points` draws
    /// them from one [`FlowBudget`]); also the most of any one point.
    pub max_flows: usize,
    /// The run's flow budget; `analyse_points` makes one of `max_flows` when it is None.
    pub budget: Option<std::sync::Arc<FlowBudget>>,
    /// Where to count the bytes read, for a progress display.
    pub progress: Option<std::sync::Arc<Progress>>,
    /// How long to wait for a writer to open a FIFO given as a capture.
    pub fifo_wait: Duration,
    /// Read and decode on one thread while another keeps the flow table (for a point that
    /// has a core to itself; `analyse_points` decides).
    pub pipeline: bool,
    /// Keep packet samples in every flow (what `correlate` follows across points; see
    /// `flow`). `analyse` turns it on when there is more than one point.
    pub samples: bool,
    /// Cores that points which finished have freed: a point still reading one at a time
    /// claims one and pipelines the rest of its file (`analyse_points` sets it).
    pub spare_cores: Option<std::sync::Arc<SpareCores>>,
}

/// Cores free for a point that reads and keeps its flow table on one thread.
#[derive(Debug, Default)]
pub struct SpareCores {
    free: std::sync::atomic::AtomicUsize,
    /// Cores claimed so far.
    claims: std::sync::atomic::AtomicUsize,
}

impl SpareCores {
    /// Gives a core back (its thread is done).
    pub fn release(&self) {
        self.free.fetch_add(1, std::sync::atomic::Ordering::Release);
    }

    /// Takes a free core, if there is one.
    pub fn claim(&self) -> bool {
        use std::sync::atomic::Ordering::{Acquire, Relaxed};
        let mut n = self.free.load(Relaxed);
        while n > 0 {
            match self.free.compare_exchange_weak(n, n - 1, Acquire, Relaxed) {
                Ok(_) => {
                    self.claims.fetch_add(1, Relaxed);
                    return true;
                }
                Err(now) => n = now,
            }
        }
        false
    }

    /// How many times a core was claimed.
    pub fn claims(&self) -> usize {
        self.claims.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            max_flows: 1_000_000,
            budget: None,
            progress: None,
            fifo_wait: Duration::from_secs(10),
            pipeline: false,
            samples: false,
            spare_cores: None,
        }
    }
}

/// Bytes read so far over all points, updated every few thousand frames by the readers.
#[derive(Debug, Default)]
pub struct Progress {
    /// Bytes of the (decompressed) captures consumed so far.
    pub bytes_read: std::sync::atomic::AtomicU64,
    /// Frames read so far.
    pub frames_read: std::sync::atomic::AtomicU64,
}

impl Progress {
    fn add(&self, bytes: u64, frames: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        self.bytes_read.fetch_add(bytes, Relaxed);
        self.frames_read.fetch_add(frames, Relaxed);
    }
}

/// Frames between two progress updates.
const PROGRESS_EVERY: u64 = 1 << 16;

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
struct Reading {
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
const STOP_EVERY: u64 = 1 << 12;

impl Reading {
    /// Reads frames, keeps the point's counters, decodes, and hands each packet to `sink`
    /// with its time, wire length and 1-based frame number. True at the end of the capture
    /// (or at damage); false when `stop`, asked every few thousand frames, said to stop.
    fn run(
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

/// Analyses every point, in parallel where there are cores for it; results in input order.
pub fn analyse_points(inputs: &[PointInput], opts: &ReadOptions) -> Vec<PointResult> {
    let budgeted;
    let opts = if opts.budget.is_none() {
        budgeted = ReadOptions {
            budget: Some(FlowBudget::new(opts.max_flows)),
            ..opts.clone()
        };
        &budgeted
    } else {
        opts
    };
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let workers = cores.min(inputs.len().max(1));
    // a spare core per point: overlap reading with the flow table inside each point;
    // otherwise the cores that no point reads on, and then those of the points that are done,
    // go to the points still reading (the last point of a run often reads alone for a while)
    let with_cores;
    let opts = if cores >= 2 * inputs.len() {
        with_cores = ReadOptions {
            pipeline: true,
            ..opts.clone()
        };
        &with_cores
    } else if workers > 1 {
        let spare = SpareCores::default();
        for _ in workers..cores {
            spare.release();
        }
        with_cores = ReadOptions {
            spare_cores: Some(std::sync::Arc::new(spare)),
            ..opts.clone()
        };
        &with_cores
    } else {
        opts
    };
    if workers <= 1 {
        return inputs.iter().map(|i| analyse_point(i, opts)).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<PointResult>> = (0..inputs.len()).map(|_| None).collect();
    let done: Vec<(usize, PointResult)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(input) = inputs.get(i) else { break };
                        mine.push((i, analyse_point(input, opts)));
                    }
                    // no point left to start: this core is free for one still reading
                    if let Some(spare) = &opts.spare_cores {
                        spare.release();
                    }
                    mine
                })
            })
            .collect();
        crate::threads::join_all(handles).flatten().collect()
    });
    for (i, r) in done {
        results[i] = Some(r);
    }
    results.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A classic pcap of `n` UDP packets between 40 client ports and one server, both ways,
    /// a microsecond apart.
    fn udp_capture(n: usize) -> Vec<u8> {
        use crate::capture::tests::{Pcap, MAGIC_US};
        let (client, server) = ([10, 0, 1, 4], [10, 0, 2, 4]);
        let mut pcap = Pcap::new(MAGIC_US, false, 65535, 1);
        for i in 0..n {
            let port = 40000 + (i % 40) as u16;
            let ttl = if i % 7 == 0 { 63 } else { 64 };
            let eth = etherparse::PacketBuilder::ethernet2([2; 6], [4; 6]);
            let builder = if i % 3 == 1 {
                eth.ipv4(server, client, ttl).udp(53, port)
            } else {
                eth.ipv4(client, server, ttl).udp(port, 53)
            };
            let payload = (i as u32).to_be_bytes();
            let mut frame = Vec::with_capacity(builder.size(payload.len()));
            builder
                .write(&mut frame, &payload)
                .expect("PacketBuilder writes");
            let us = 1_700_000_000_000u64 + i as u64;
            let (sec, frac) = ((us / 1_000_000) as u32, (us % 1_000_000) as u32);
            pcap = pcap.record(sec, frac, &frame, frame.len() as u32);
        }
        pcap.bytes()
    }

    fn analyse_bytes(bytes: &[u8], opts: &ReadOptions) -> PointResult {
        let input = PointInput {
            name: "p".into(),
            path: PathBuf::from("p.pcap"),
        };
        let source = Box::new(std::io::Cursor::new(bytes.to_vec()));
        analyse_reader(&input, source, opts)
    }

    #[test]
    fn a_point_that_gets_a_spare_core_midway_reads_the_same() {
        // 5 times the frames between two asks for a core: the rest of the file is pipelined
        let bytes = udp_capture(5 * STOP_EVERY as usize + 17);
        let alone = analyse_bytes(
            &bytes,
            &ReadOptions {
                samples: true,
                ..ReadOptions::default()
            },
        );
        let spare = std::sync::Arc::new(SpareCores::default());
        spare.release();
        let opts = ReadOptions {
            spare_cores: Some(std::sync::Arc::clone(&spare)),
            samples: true,
            ..ReadOptions::default()
        };
        let helped = analyse_bytes(&bytes, &opts);
        // claimed at the first ask, given back at the end
        assert_eq!(spare.claims(), 1);
        assert!(spare.claim() && !spare.claim());
        let dump = |r: &PointResult| format!("{:?} {:?} {:?}", r.summary, r.flows, r.links);
        assert_eq!(
            dump(&helped),
            dump(&alone),
            "summary, flows, samples and links"
        );
        assert_eq!(helped.summary.packets, 5 * STOP_EVERY + 17);
        assert!(!helped.flows.is_empty());
    }

    #[test]
    fn reading_stops_when_asked_and_goes_on_where_it_stopped() {
        let bytes = udp_capture(3 * STOP_EVERY as usize);
        let mut reader =
            CaptureReader::from_reader(Box::new(std::io::Cursor::new(bytes))).expect("a capture");
        let (mut s, opts) = (PointSummary::default(), ReadOptions::default());
        let mut reading = Reading::default();
        let mut frames = Vec::new();
        let mut asked = 0;
        let ended = reading.run(
            &mut reader,
            &mut s,
            &opts,
            |_, _, _, n| frames.push(n),
            || {
                asked += 1;
                asked == 2
            },
        );
        assert!(!ended);
        assert_eq!(frames.len() as u64, 2 * STOP_EVERY);
        assert!(reading.run(
            &mut reader,
            &mut s,
            &opts,
            |_, _, _, n| frames.push(n),
            || false
        ));
        assert_eq!(frames, (1..=3 * STOP_EVERY).collect::<Vec<_>>());
        assert_eq!(s.packets, 3 * STOP_EVERY);
    }
}
