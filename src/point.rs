//! point: one capture point from file to flow table.
//!
//! Resolves what the user named on the command line into capture points (a file, a folder
//! of captures, or `name=path`), then runs each point through the first three stages
//! (capture -> decode -> flow) and keeps what the report needs about the point itself:
//! format, link types, packet counts, packets not decoded by reason, and damage. Points are
//! analysed in parallel, one thread each, up to the number of cores. A point with a core to
//! spare reads on one thread and keeps its flow table on another; a point that reads alone
//! takes over a core another point has finished with, and pipelines the rest of its file.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::capture::{CaptureReader, Format};
use crate::decode::{self, Packet, SkipReason};
use crate::flow::{Flow, FlowTable, Link};

/// A capture point as named by the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointInput {
    pub name: String,
    pub path: PathBuf,
}

/// Why the inputs could not be resolved (usage errors).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: no such file", .0.display())]
    Missing(PathBuf),
    #[error("{}: the folder holds no pcap, pcapng or gzip file", .0.display())]
    EmptyFolder(PathBuf),
    #[error(
        "{}: the folder holds no capture file, but its subfolders do ({}): -r reads them",
        .folder.display(), .subfolders.join(", ")
    )]
    OnlySubfolders {
        folder: PathBuf,
        /// The first few subfolders that hold captures, as the user would name them.
        subfolders: Vec<String>,
    },
    #[error("two captures are named '{name}' ({} and {}); name them with NAME=PATH",
        .first.display(), .second.display())]
    DuplicateName {
        name: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("'{0}': a point name must not be empty")]
    EmptyName(String),
}

/// How command-line arguments are turned into capture points.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResolveOptions {
    /// Read folders recursively (`-r`): point names are the paths below the folder.
    pub recursive: bool,
}

/// Folders deeper than this below a command-line folder are not read (`-r`).
const MAX_DEPTH: usize = 32;

/// Text for a name made of OS bytes: valid UTF-8 as is, every other byte as `\xNN`, so that
/// two names that differ in bytes that are not UTF-8 stay different (and say how).
pub fn os_text(s: &OsStr) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let mut out = String::new();
        for chunk in s.as_bytes().utf8_chunks() {
            out.push_str(chunk.valid());
            for b in chunk.invalid() {
                out.push_str(&format!("\\x{b:02x}"));
            }
        }
        out
    }
    #[cfg(not(unix))]
    {
        s.to_string_lossy().into_owned()
    }
}

/// The point name for a capture file: its file name without `.gz` and the capture extension.
pub fn point_name(path: &Path) -> String {
    let mut name = path
        .file_name()
        .map(os_text)
        .unwrap_or_else(|| os_text(path.as_os_str()));
    for ext in [".gz", ".pcapng", ".pcap", ".cap", ".dmp"] {
        if let Some(stem) = name.strip_suffix(ext) {
            if !stem.is_empty() {
                name = stem.to_string();
            }
        }
    }
    name
}

/// True when the file starts like a pcap, pcapng or gzip file.
fn looks_like_capture(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    f.read_exact(&mut magic).is_ok() && crate::capture::starts_like_capture(&magic)
}

/// Splits `NAME=PATH` at its first `=` (bytes, so that a PATH that is not UTF-8 stays usable).
fn split_named(arg: &OsStr) -> Option<(OsString, OsString)> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::{OsStrExt, OsStringExt};
        let b = arg.as_bytes();
        let k = b.iter().position(|&c| c == b'=')?;
        Some((
            OsString::from_vec(b[..k].to_vec()),
            OsString::from_vec(b[k + 1..].to_vec()),
        ))
    }
    #[cfg(not(unix))]
    {
        let (n, p) = arg.to_str()?.split_once('=')?;
        Some((n.into(), p.into()))
    }
}

/// Turns command-line arguments into capture points (see [`resolve_inputs_with`]), not
/// reading folders recursively.
pub fn resolve_inputs<S: AsRef<OsStr>>(args: &[S]) -> Result<Vec<PointInput>, InputError> {
    resolve_inputs_with(args, ResolveOptions::default())
}

/// Turns command-line arguments into capture points. A folder contributes every file in it
/// that starts like a capture, sorted by name (with `recursive`, those of its subfolders too,
/// named by their path below it: `stage3/hub-nva`); `NAME=PATH` names a point; `-` is
/// standard input (point `stdin`). A path that does not exist is an error.
pub fn resolve_inputs_with<S: AsRef<OsStr>>(
    args: &[S],
    opts: ResolveOptions,
) -> Result<Vec<PointInput>, InputError> {
    let mut out: Vec<PointInput> = Vec::new();
    for arg in args {
        let arg = arg.as_ref();
        if arg == "-" {
            out.push(PointInput {
                name: "stdin".into(),
                path: PathBuf::from("/dev/stdin"),
            });
            continue;
        }
        let (name, path) = match split_named(arg) {
            Some((n, p)) if !Path::new(arg).exists() => {
                if n.is_empty() {
                    return Err(InputError::EmptyName(os_text(arg)));
                }
                (Some(os_text(&n)), PathBuf::from(p))
            }
            _ => (None, PathBuf::from(arg)),
        };
        // a dangling symlink exists as a link: let reading it say why it cannot be opened
        if std::fs::symlink_metadata(&path).is_err() {
            return Err(InputError::Missing(path));
        }
        if path.is_dir() {
            let mut files = Vec::new();
            let depth = if opts.recursive { MAX_DEPTH } else { 0 };
            captures_in(&path, depth, &mut files)?;
            if files.is_empty() {
                return Err(empty_folder(path));
            }
            for f in files {
                let name = match (opts.recursive, f.strip_prefix(&path)) {
                    (true, Ok(rel)) => relative_name(rel),
                    _ => point_name(&f),
                };
                out.push(PointInput { name, path: f });
            }
        } else {
            out.push(PointInput {
                name: name.unwrap_or_else(|| point_name(&path)),
                path,
            });
        }
    }
    let mut seen: std::collections::HashMap<&str, &Path> = std::collections::HashMap::new();
    for a in &out {
        if let Some(first) = seen.insert(&a.name, &a.path) {
            return Err(InputError::DuplicateName {
                name: a.name.clone(),
                first: first.to_path_buf(),
                second: a.path.clone(),
            });
        }
    }
    Ok(out)
}

/// `stage3/hub-nva` for `stage3/hub-nva.pcap` below the folder given.
fn relative_name(rel: &Path) -> String {
    let mut parts: Vec<String> = rel
        .parent()
        .into_iter()
        .flat_map(|p| p.components())
        .map(|c| os_text(c.as_os_str()))
        .collect();
    parts.push(point_name(rel));
    parts.join("/")
}

/// The files of `dir` that start like a capture, sorted, and those of its subfolders down
/// to `depth` levels (subfolders that are symlinks are not followed: no loops).
fn captures_in(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), InputError> {
    let entries = std::fs::read_dir(dir).map_err(|source| InputError::Unreadable {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut here: Vec<(PathBuf, bool)> = entries
        .filter_map(|e| e.ok())
        .map(|e| {
            let real_dir = e.file_type().is_ok_and(|t| t.is_dir());
            (e.path(), real_dir)
        })
        .collect();
    here.sort();
    for (p, real_dir) in here {
        if real_dir {
            if depth > 0 {
                captures_in(&p, depth - 1, out)?;
            }
        } else if p.is_file() && looks_like_capture(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// The error for a folder without captures: says so, or that its subfolders hold some.
fn empty_folder(folder: PathBuf) -> InputError {
    let mut below = Vec::new();
    // unreadable subfolders only make the hint shorter
    let _ = captures_in(&folder, MAX_DEPTH, &mut below);
    let mut subfolders: Vec<String> = Vec::new();
    for f in &below {
        let Ok(rel) = f.strip_prefix(&folder) else {
            continue;
        };
        let Some(top) = rel.components().next() else {
            continue;
        };
        let top = os_text(top.as_os_str());
        if !subfolders.contains(&top) {
            subfolders.push(top);
        }
    }
    if subfolders.is_empty() {
        return InputError::EmptyFolder(folder);
    }
    if subfolders.len() > 4 {
        let more = subfolders.len() - 3;
        subfolders.truncate(3);
        subfolders.push(format!("{more} more"));
    }
    InputError::OnlySubfolders { folder, subfolders }
}

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
    /// `pcap`, `pcap-ns`, `pcap-modified`, `pcapng`, with `+gzip` when compressed; empty when
    /// the file could not be opened as a capture.
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
    /// Time stamps that were invalid and normalised by the reader.
    pub timestamp_fixups: u64,
    /// Packets seen twice because this point forwarded them (the leaving leg).
    pub forwarded_packets: u64,
    /// Packets not tracked because the flow cap was reached.
    pub packets_over_flow_cap: u64,
    pub damage: Option<Damage>,
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
    /// Most flows tracked per point.
    pub max_flows: usize,
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

fn format_name(f: Format, gz: bool) -> String {
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
    if gz {
        format!("{base}+gzip")
    } else {
        base.to_string()
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
    s.format = format_name(reader.format(), reader.gzipped());
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
        match worker.join() {
            Ok(table) => table,
            Err(panic) => std::panic::resume_unwind(panic),
        }
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
    let (flows, links) = table.finish();
    PointResult {
        summary: s,
        flows,
        links,
    }
}

/// Analyses every point, in parallel where there are cores for it; results in input order.
pub fn analyse_points(inputs: &[PointInput], opts: &ReadOptions) -> Vec<PointResult> {
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
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(v) => v,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    for (i, r) in done {
        results[i] = Some(r);
    }
    results.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_names_drop_capture_extensions() {
        assert_eq!(point_name(Path::new("a/hub-nva.pcap")), "hub-nva");
        assert_eq!(point_name(Path::new("vpn.pcap.gz")), "vpn");
        assert_eq!(point_name(Path::new("x.pcapng")), "x");
        assert_eq!(point_name(Path::new("noext")), "noext");
    }

    fn repo(p: &str) -> String {
        format!("{}/captures/{p}", env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn named_inputs_and_duplicate_names() {
        let args = vec![format!("nva={}", repo("hub-nva.pcap"))];
        let r = resolve_inputs(&args).unwrap();
        assert_eq!(r[0].name, "nva");
        let dup = vec![repo("stage3/hub-nva.pcap"), repo("stage4/hub-nva.pcap")];
        assert!(matches!(
            resolve_inputs(&dup),
            Err(InputError::DuplicateName { .. })
        ));
        assert!(matches!(
            resolve_inputs(&["=a.pcap".to_string()]),
            Err(InputError::EmptyName(_))
        ));
        let r = resolve_inputs(&["-"]).unwrap();
        assert_eq!(r[0].name, "stdin");
        assert_eq!(r[0].path, Path::new("/dev/stdin"));
    }

    #[test]
    fn a_missing_file_is_an_error_of_its_own() {
        let e = resolve_inputs(&["nope.pcap"]).unwrap_err();
        assert!(matches!(e, InputError::Missing(_)));
        assert_eq!(e.to_string(), "nope.pcap: no such file");
        let e = resolve_inputs(&["nva=nope.pcap"]).unwrap_err();
        assert_eq!(e.to_string(), "nope.pcap: no such file");
    }

    #[test]
    fn folders_of_folders_are_read_with_recursive_only() {
        let e = resolve_inputs(&[repo("shifted")]).unwrap_err();
        assert!(matches!(e, InputError::OnlySubfolders { .. }), "{e}");
        let text = e.to_string();
        assert!(
            text.contains("but its subfolders do (stage0, stage1, stage2, 2 more)"),
            "{text}"
        );
        assert!(text.ends_with(": -r reads them"), "{text}");
        let empty = resolve_inputs(&[concat!(env!("CARGO_MANIFEST_DIR"), "/src")]);
        assert!(matches!(empty, Err(InputError::EmptyFolder(_))));
        let root = repo("");
        let all = resolve_inputs_with(&[&root], ResolveOptions { recursive: true }).unwrap();
        let names: Vec<&str> = all.iter().map(|i| i.name.as_str()).collect();
        assert!(names.contains(&"hub-nva"), "{names:?}");
        assert!(names.contains(&"stage3/hub-nva"), "{names:?}");
        assert!(names.contains(&"shifted/stage3/vpn-client"), "{names:?}");
        assert!(
            names.contains(&"variants/stage1-pcapng/hub-nva"),
            "{names:?}"
        );
        // a folder of captures reads the same either way
        let flat = resolve_inputs(&[repo("stage3")]).unwrap();
        let rec = resolve_inputs_with(&[repo("stage3")], ResolveOptions { recursive: true });
        assert_eq!(flat, rec.unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn names_that_are_not_utf8_keep_their_bytes() {
        use std::os::unix::ffi::OsStringExt;
        let dir = std::env::temp_dir().join(format!("flowcheck-nonutf8-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let capture = std::fs::read(repo("hub-nva.pcap")).unwrap();
        let mut paths = Vec::new();
        for b in [0xe9u8, 0xff] {
            let name = OsString::from_vec([b"caf".as_slice(), &[b], b".pcap"].concat());
            let p = dir.join(name);
            std::fs::write(&p, &capture).unwrap();
            paths.push(p);
        }
        let r = resolve_inputs(&[&dir]);
        let names: Vec<String> = r.unwrap().into_iter().map(|i| i.name).collect();
        assert_eq!(names, ["caf\\xe9", "caf\\xff"]);
        // NAME=PATH names such a file
        let mut arg = OsString::from("nva=");
        arg.push(&paths[0]);
        let r = resolve_inputs(&[arg]).unwrap();
        assert_eq!((r[0].name.as_str(), &r[0].path), ("nva", &paths[0]));
        // and a NAME that is not UTF-8 keeps its bytes too
        let mut arg = OsString::from_vec(b"n\xe9=".to_vec());
        arg.push(&paths[1]);
        assert_eq!(resolve_inputs(&[arg]).unwrap()[0].name, "n\\xe9");
        std::fs::remove_dir_all(&dir).unwrap();
    }

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
