//! Frames one capture two ways and says what each costs: flowcheck's own reader
//! ([`flowcheck::capture::CaptureReader`]) against pcap-parser's zero-copy parsers
//! (`parse_pcap_frame*` for classic pcap, `parse_block_le`/`_be` for pcapng) run over the same
//! kind of buffer refill loop (one 1 MiB buffer, the unconsumed tail moved to the front and
//! the buffer refilled when a record is not wholly in it). Both count frames and captured
//! bytes, which must agree. The measurement behind the `capture` module's "Measured" note.
//!
//!   cargo run --release --example framing -- FILE [ours|parser|both] [RUNS]
//!
//! `both` (the default) runs each way RUNS times (default 5), alternating, and prints the
//! best time of each; `ours` or `parser` runs one way once (for `valgrind --tool=callgrind`).

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use flowcheck::capture::CaptureReader;
use pcap_parser::nom;
use pcap_parser::pcapng::Block;
use pcap_parser::LegacyPcapBlock;
use pcap_parser::{
    parse_block_be, parse_block_le, parse_pcap_frame, parse_pcap_frame_be,
    parse_pcap_frame_modified, parse_pcap_header, PcapError,
};

/// Frames and captured bytes counted over a whole capture, and sums of what else each frame
/// carries (time stamps, wire lengths, link types, interfaces) so the two ways are compared on
/// every field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Tally {
    frames: u64,
    bytes: u64,
    wire_bytes: u64,
    ts_sum: i64,
    link_and_interface_sum: u64,
}

impl Tally {
    fn add(&mut self, frame: FrameOut<'_>) {
        self.frames += 1;
        self.bytes += frame.data.len() as u64;
        self.wire_bytes += u64::from(frame.wire_len);
        self.ts_sum = self.ts_sum.wrapping_add(frame.ts_ns);
        self.link_and_interface_sum += u64::from(frame.link_type) + u64::from(frame.interface);
    }
}

type Failure = Box<dyn std::error::Error>;

/// flowcheck's reader, the way the point threads drive it.
fn ours(path: &Path) -> Result<Tally, Failure> {
    let mut reader = CaptureReader::open(path)?;
    let mut tally = Tally::default();
    while let Some(frame) = reader.next_frame()? {
        let frame = std::hint::black_box(frame);
        tally.add(FrameOut {
            ts_ns: frame.ts_ns,
            link_type: frame.link_type,
            interface: frame.interface,
            wire_len: frame.wire_len,
            data: frame.data,
        });
    }
    Ok(tally)
}

/// What one parse over the buffer's unconsumed bytes said.
enum Step {
    /// This many bytes were one record (or a block that is not a packet).
    Consumed(usize),
    /// The record is not wholly in the buffer: at least this many bytes in all are needed.
    Needs(usize),
}

/// A read buffer refilled as records are consumed, tracking the stream offset of its start.
struct Refill {
    file: File,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Stream offset of `buf[start]`.
    offset: u64,
    eof: bool,
}

impl Refill {
    fn open(path: &Path) -> Result<Refill, Failure> {
        Ok(Refill {
            file: File::open(path)?,
            buf: vec![0; 1 << 20],
            start: 0,
            end: 0,
            offset: 0,
            eof: false,
        })
    }

    fn unread(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.offset += n as u64;
    }

    /// Makes at least `want` unread bytes available; false at end of file.
    fn fill(&mut self, want: usize) -> Result<bool, Failure> {
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        }
        while self.end < want && !self.eof {
            let n = self.file.read(&mut self.buf[self.end..])?;
            self.eof = n == 0;
            self.end += n;
        }
        Ok(self.end >= want)
    }

    /// Runs `parse` over the unread bytes until it ends cleanly at the end of the file.
    fn run(&mut self, mut parse: impl FnMut(&[u8]) -> Result<Step, String>) -> Result<(), Failure> {
        loop {
            let at = self.offset;
            match parse(self.unread()).map_err(|e| format!("at byte {at}: {e}"))? {
                Step::Consumed(n) => self.consume(n),
                Step::Needs(total) => {
                    if !self.fill(total)? {
                        if self.unread().is_empty() {
                            return Ok(());
                        }
                        return Err(format!("at byte {at}: file cut short").into());
                    }
                }
            }
        }
    }
}

/// A nom result as a step: bytes consumed, bytes needed, or the damage.
fn step<T>(
    input: &[u8],
    result: nom::IResult<&[u8], T, PcapError<&[u8]>>,
    mut on: impl FnMut(T),
) -> Result<Step, String> {
    match result {
        Ok((rest, value)) => {
            on(value);
            Ok(Step::Consumed(input.len() - rest.len()))
        }
        Err(nom::Err::Incomplete(nom::Needed::Size(n))) => Ok(Step::Needs(input.len() + n.get())),
        Err(nom::Err::Incomplete(nom::Needed::Unknown)) => Ok(Step::Needs(input.len() + 1)),
        Err(e) => Err(format!("{e:?}")),
    }
}

/// What flowcheck's reader does to each record beyond framing it, done again here so that
/// both ways do the same work: the record limit, time stamps in nanoseconds (an invalid
/// sub-second field takes the previous time stamp), the wire length raised to the captured
/// one; the frame is handed to `black_box` as flowcheck hands out its `Frame`.
struct Normalise {
    limit: u64,
    last_ts: i64,
    fixups: u64,
}

/// The frame as flowcheck's reader hands it out.
#[derive(Debug, Clone, Copy)]
struct FrameOut<'a> {
    ts_ns: i64,
    link_type: u32,
    interface: u32,
    wire_len: u32,
    data: &'a [u8],
}

impl Normalise {
    /// A record the parser asks `total` bytes for is refused when over the limit.
    fn needs(&self, step: Step) -> Result<Step, String> {
        match step {
            Step::Needs(total) if total as u64 > self.limit => Err(format!(
                "record length {total} is larger than the {}-byte limit",
                self.limit
            )),
            step => Ok(step),
        }
    }

    fn hand_out(&mut self, tally: &mut Tally, frame: FrameOut<'_>) {
        let caplen = u32::try_from(frame.data.len()).unwrap_or(u32::MAX);
        let frame = std::hint::black_box(FrameOut {
            wire_len: frame.wire_len.max(caplen),
            ..frame
        });
        self.last_ts = frame.ts_ns;
        tally.add(frame);
    }
}

/// pcap-parser over the refill loop: classic pcap (both byte orders, the modified format).
fn parser_pcap(refill: &mut Refill, tally: &mut Tally) -> Result<(), Failure> {
    refill.fill(24)?;
    let (_, header) =
        parse_pcap_header(refill.unread()).map_err(|e| format!("pcap header: {e:?}"))?;
    refill.consume(24);
    let frame = match (header.is_bigendian(), header.is_modified_format()) {
        (_, true) => parse_pcap_frame_modified,
        (true, false) => parse_pcap_frame_be,
        (false, false) => parse_pcap_frame,
    };
    let (frac_per_sec, ns_per_frac) = if header.is_nanosecond_precision() {
        (1_000_000_000, 1)
    } else {
        (1_000_000, 1_000)
    };
    let link_type = header.network.0 as u16 as u32;
    let limit = header
        .snaplen
        .max(262_144)
        .next_power_of_two()
        .min(16 << 20);
    let mut norm = Normalise {
        limit: u64::from(limit) + 24,
        last_ts: 0,
        fixups: 0,
    };
    refill.run(|input| {
        let mut frame_out = None;
        let step = step(input, frame(input), |block| frame_out = Some(block))?;
        let Some(block) = frame_out else {
            return norm.needs(step);
        };
        if block.caplen > limit {
            return Err(format!(
                "record length {} is larger than the {limit}-byte limit",
                block.caplen
            ));
        }
        let secs_ns = i64::from(block.ts_sec) * 1_000_000_000;
        let ts_ns = if block.ts_usec < frac_per_sec {
            secs_ns + i64::from(block.ts_usec) * ns_per_frac
        } else {
            norm.fixups += 1;
            if tally.frames == 0 {
                secs_ns
            } else {
                norm.last_ts
            }
        };
        let out = FrameOut {
            ts_ns,
            link_type,
            interface: 0,
            wire_len: block.origlen,
            data: block.data,
        };
        norm.hand_out(tally, out);
        Ok(step)
    })
}

/// pcap-parser behind a pull API like flowcheck's (`next_frame` hands out one frame borrowed
/// from the buffer), classic pcap only: whether the difference comes from the parser or from
/// the shape of the loop.
struct PullPcap {
    refill: Refill,
    frame: FrameParser,
    frac_per_sec: u32,
    ns_per_frac: i64,
    link_type: u32,
    limit: u32,
    norm: Normalise,
}

type FrameParser =
    for<'a> fn(&'a [u8]) -> nom::IResult<&'a [u8], LegacyPcapBlock<'a>, PcapError<&'a [u8]>>;

impl PullPcap {
    fn open(path: &Path) -> Result<PullPcap, Failure> {
        let mut refill = Refill::open(path)?;
        refill.fill(24)?;
        let (_, header) =
            parse_pcap_header(refill.unread()).map_err(|e| format!("pcap header: {e:?}"))?;
        refill.consume(24);
        let frame: FrameParser = match (header.is_bigendian(), header.is_modified_format()) {
            (_, true) => parse_pcap_frame_modified,
            (true, false) => parse_pcap_frame_be,
            (false, false) => parse_pcap_frame,
        };
        let nanos = header.is_nanosecond_precision();
        let limit = header
            .snaplen
            .max(262_144)
            .next_power_of_two()
            .min(16 << 20);
        Ok(PullPcap {
            refill,
            frame,
            frac_per_sec: if nanos { 1_000_000_000 } else { 1_000_000 },
            ns_per_frac: if nanos { 1 } else { 1_000 },
            link_type: u32::from(header.network.0 as u16),
            limit,
            norm: Normalise {
                limit: u64::from(limit) + 24,
                last_ts: i64::MIN,
                fixups: 0,
            },
        })
    }

    fn next_frame(&mut self) -> Result<Option<FrameOut<'_>>, Failure> {
        loop {
            let at = self.refill.offset;
            let input = self.refill.unread();
            let (consumed, start, block) = match (self.frame)(input) {
                Ok((rest, b)) => {
                    let start = b.data.as_ptr() as usize - input.as_ptr() as usize;
                    let fields = (b.ts_sec, b.ts_usec, b.caplen, b.origlen);
                    (input.len() - rest.len(), start, fields)
                }
                Err(e) => {
                    let total = match e {
                        nom::Err::Incomplete(nom::Needed::Size(n)) => input.len() + n.get(),
                        nom::Err::Incomplete(nom::Needed::Unknown) => input.len() + 1,
                        e => return Err(format!("at byte {at}: {e:?}").into()),
                    };
                    if let Err(e) = self.norm.needs(Step::Needs(total)) {
                        return Err(format!("at byte {at}: {e}").into());
                    }
                    if !self.refill.fill(total)? {
                        if self.refill.unread().is_empty() {
                            return Ok(None);
                        }
                        return Err(format!("at byte {at}: file cut short").into());
                    }
                    continue;
                }
            };
            let (sec, frac, caplen, wire_len) = block;
            if caplen > self.limit {
                return Err(format!("at byte {at}: record length {caplen} over the limit").into());
            }
            let secs_ns = i64::from(sec) * 1_000_000_000;
            let ts_ns = if frac < self.frac_per_sec {
                secs_ns + i64::from(frac) * self.ns_per_frac
            } else {
                self.norm.fixups += 1;
                if self.norm.last_ts == i64::MIN {
                    secs_ns
                } else {
                    self.norm.last_ts
                }
            };
            self.norm.last_ts = ts_ns;
            let first = self.refill.start + start;
            self.refill.consume(consumed);
            let data = &self.refill.buf[first..first + caplen as usize];
            return Ok(Some(FrameOut {
                ts_ns,
                link_type: self.link_type,
                interface: 0,
                wire_len: wire_len.max(caplen),
                data,
            }));
        }
    }
}

fn parser_pull(path: &Path) -> Result<Tally, Failure> {
    let mut reader = PullPcap::open(path)?;
    let mut tally = Tally::default();
    while let Some(frame) = reader.next_frame()? {
        tally.add(std::hint::black_box(frame));
    }
    Ok(tally)
}

/// One declared pcapng interface: its link type and time stamp unit.
struct Interface {
    link_type: u32,
    units_per_sec: u64,
    offset_ns: i64,
}

impl Interface {
    fn ts_ns(&self, ts_high: u32, ts_low: u32) -> i64 {
        let ticks = (u64::from(ts_high) << 32) | u64::from(ts_low);
        let (secs, frac) = (ticks / self.units_per_sec, ticks % self.units_per_sec);
        let frac_ns = u128::from(frac) * 1_000_000_000 / u128::from(self.units_per_sec);
        let ns = i128::from(secs) * 1_000_000_000 + frac_ns as i128 + i128::from(self.offset_ns);
        ns.clamp(i128::from(-(i64::MAX / 2)), i128::from(i64::MAX / 2)) as i64
    }
}

/// pcap-parser over the refill loop: pcapng, Enhanced and Simple Packet Blocks, each packet's
/// time stamp in its interface's unit.
fn parser_pcapng(refill: &mut Refill, tally: &mut Tally) -> Result<(), Failure> {
    let mut big_endian = false;
    let mut interfaces: Vec<Interface> = Vec::new();
    let mut norm = Normalise {
        limit: 16 << 20,
        last_ts: 0,
        fixups: 0,
    };
    refill.run(|input| {
        let block = if big_endian {
            parse_block_be(input)
        } else {
            parse_block_le(input)
        };
        let mut frame_out = None;
        let step = step(input, block, |block| match block {
            Block::SectionHeader(shb) => {
                big_endian = shb.big_endian();
                interfaces.clear();
            }
            Block::InterfaceDescription(idb) => interfaces.push(Interface {
                link_type: u32::from(idb.linktype.0 as u16),
                units_per_sec: idb.ts_resolution().unwrap_or(1_000_000).max(1),
                offset_ns: idb.ts_offset().saturating_mul(1_000_000_000),
            }),
            Block::EnhancedPacket(epb) => {
                let caplen = (epb.caplen as usize).min(epb.data.len());
                frame_out = Some((
                    epb.if_id,
                    Some((epb.ts_high, epb.ts_low)),
                    epb.origlen,
                    &epb.data[..caplen],
                ));
            }
            Block::SimplePacket(spb) => {
                let caplen = (spb.origlen as usize).min(spb.data.len());
                frame_out = Some((0, None, spb.origlen, &spb.data[..caplen]));
            }
            _ => {}
        })?;
        let Some((if_id, ts, wire_len, data)) = frame_out else {
            return norm.needs(step);
        };
        let Some(interface) = interfaces.get(if_id as usize) else {
            return Err(format!("packet on undeclared interface {if_id}"));
        };
        let ts_ns = ts.map_or(norm.last_ts, |(high, low)| interface.ts_ns(high, low));
        let out = FrameOut {
            ts_ns,
            link_type: interface.link_type,
            interface: if_id,
            wire_len,
            data,
        };
        norm.hand_out(tally, out);
        Ok(step)
    })
}

fn parser(path: &Path) -> Result<Tally, Failure> {
    let mut refill = Refill::open(path)?;
    let mut tally = Tally::default();
    refill.fill(4)?;
    if refill.unread().starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
        parser_pcapng(&mut refill, &mut tally)?;
    } else {
        parser_pcap(&mut refill, &mut tally)?;
    }
    Ok(tally)
}

fn timed(
    way: fn(&Path) -> Result<Tally, Failure>,
    path: &Path,
) -> Result<(Tally, Duration), Failure> {
    let t0 = Instant::now();
    let tally = way(path)?;
    Ok((tally, t0.elapsed()))
}

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(file) = args.first() else {
        return Err("usage: framing FILE [ours|parser|both] [RUNS]".into());
    };
    let path = Path::new(file);
    let mode = args.get(1).map_or("both", String::as_str);
    let runs: usize = args.get(2).map_or(Ok(5), |r| r.parse())?;
    match mode {
        "ours" => println!("ours: {:?}", ours(path)?),
        "parser" => println!("pcap-parser: {:?}", parser(path)?),
        "parser-pull" => println!("pcap-parser, pull: {:?}", parser_pull(path)?),
        "both" => {
            let (mut best_ours, mut best_parser) = (Duration::MAX, Duration::MAX);
            let (mut t_ours, mut t_parser) = (Tally::default(), Tally::default());
            for _ in 0..runs {
                let (t, d) = timed(ours, path)?;
                (t_ours, best_ours) = (t, best_ours.min(d));
                let (t, d) = timed(parser, path)?;
                (t_parser, best_parser) = (t, best_parser.min(d));
            }
            println!("ours:        {t_ours:?} best of {runs}: {best_ours:?}");
            println!("pcap-parser: {t_parser:?} best of {runs}: {best_parser:?}");
            if t_ours != t_parser {
                return Err("the two ways framed different frames or bytes".into());
            }
        }
        other => return Err(format!("unknown mode {other}: ours, parser or both").into()),
    }
    Ok(())
}
