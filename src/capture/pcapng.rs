//! pcapng: a sequence of blocks (type, total length, body, total length again), grouped in
//! sections that each start with a Section Header Block giving the section's byte order and
//! declaring, through Interface Description Blocks, the interfaces its packets refer to.

use super::input::Input;
use super::stats::{BlockStats, Drops};
use super::{
    read_u16, read_u32, CaptureError, CaptureErrorKind, FrameMeta, Shared, MAX_INTERFACES,
    MAX_RECORD,
};

const SHB: u32 = 0x0a0d_0d0a;
const IDB: u32 = 1;
const PACKET_BLOCK: u32 = 2;
const SPB: u32 = 3;
const ISB: u32 = 5;
const EPB: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;

const OPT_ENDOFOPT: u16 = 0;
const IF_TSRESOL: u16 = 9;
const IF_TSOFFSET: u16 = 14;
const ISB_STARTTIME: u16 = 2;
const ISB_ENDTIME: u16 = 3;
const ISB_IFDROP: u16 = 5;
const ISB_OSDROP: u16 = 7;

/// Type, total length, and the trailing total length.
const BLOCK_OVERHEAD: usize = 12;
/// Block type, total length, byte-order magic, major and minor version.
const SHB_PREFIX: usize = 16;
const NS_PER_SEC: i64 = 1_000_000_000;

/// How to turn an interface's 64-bit time stamp count into nanoseconds.
#[derive(Debug, Clone, Copy)]
enum TsUnit {
    /// Units of 10^-n s with n <= 9: multiply.
    Mul(u64),
    /// Units of 10^-n s with n > 9: divide.
    Div(u64),
    /// Units of 2^-n s.
    Binary(u32),
    /// Units too small for any count to reach a nanosecond.
    Zero,
}

impl TsUnit {
    /// Decodes the if_tsresol byte.
    fn from_tsresol(v: u8) -> TsUnit {
        let n = u32::from(v & 0x7f);
        if v & 0x80 != 0 {
            return TsUnit::Binary(n);
        }
        if n <= 9 {
            TsUnit::Mul(10u64.pow(9 - n))
        } else {
            10u64.checked_pow(n - 9).map_or(TsUnit::Zero, TsUnit::Div)
        }
    }

    /// The count in nanoseconds, exactly (a 64-bit count of any unit fits in 128 bits):
    /// adding a huge negative `if_tsoffset` to a saturated count would otherwise land on a
    /// plausible time, neither clamped nor counted.
    #[inline]
    fn to_ns(self, count: u64) -> i128 {
        let count = u128::from(count);
        let ns = match self {
            TsUnit::Mul(m) => count * u128::from(m),
            TsUnit::Div(d) => count / u128::from(d),
            TsUnit::Binary(n) => (count * 1_000_000_000).checked_shr(n).unwrap_or(0),
            TsUnit::Zero => 0,
        };
        i128::try_from(ns).unwrap_or(i128::MAX)
    }
}

#[derive(Debug, Clone, Copy)]
struct Interface {
    link_type: u32,
    snaplen: u32,
    unit: TsUnit,
    /// if_tsoffset, in nanoseconds (exact: seconds of any i64 value).
    offset_ns: i128,
}

pub(super) struct PcapNgReader {
    /// Byte order of the current section.
    big_endian: bool,
    /// Interfaces of the current section, by id.
    interfaces: Vec<Interface>,
    /// The latest drop counters of the current section's interfaces that sent statistics,
    /// by id (grown as statistics blocks name them).
    drops: Vec<Drops>,
}

impl PcapNgReader {
    /// Reads the first Section Header Block.
    pub(super) fn start(input: &mut Input, shared: &mut Shared) -> Result<Self, CaptureError> {
        let mut reader = PcapNgReader {
            big_endian: false,
            interfaces: Vec::new(),
            drops: Vec::new(),
        };
        let offset = input.offset();
        match reader.block(input, shared)? {
            Block::Section => Ok(reader),
            Block::End | Block::Frame(_) | Block::Other => Err(CaptureError::malformed(
                offset,
                "pcapng file: no section header first",
            )),
        }
    }

    /// The next packet, skipping blocks that are not packets; `Ok(None)` at a clean end.
    pub(super) fn next(
        &mut self,
        input: &mut Input,
        shared: &mut Shared,
    ) -> Result<Option<FrameMeta>, CaptureError> {
        loop {
            match self.block(input, shared)? {
                Block::Frame(m) => return Ok(Some(m)),
                Block::End => return Ok(None),
                Block::Section | Block::Other => {}
            }
        }
    }

    /// Reads and consumes one block.
    fn block(&mut self, input: &mut Input, shared: &mut Shared) -> Result<Block, CaptureError> {
        let offset = input.offset();
        let io_err = |e| CaptureError::io(offset, e);
        if !input.ensure(BLOCK_OVERHEAD).map_err(io_err)? {
            let have = input.peek().len();
            if have == 0 {
                return Ok(Block::End);
            }
            return Err(CaptureError::truncated(
                offset,
                (BLOCK_OVERHEAD - have) as u64,
            ));
        }
        // The block type of an SHB reads the same in both byte orders.
        if input.peek().starts_with(&SHB.to_le_bytes()) {
            self.section_prefix(input, offset)?;
        }
        let be = self.big_endian;
        let head = input.peek();
        let block_type = read_u32(head, 0, be).unwrap_or(0);
        let total = read_u32(head, 4, be).unwrap_or(0);
        if (total as usize) < BLOCK_OVERHEAD {
            return Err(CaptureError::malformed(
                offset,
                "block: total length below 12",
            ));
        }
        if !total.is_multiple_of(4) {
            return Err(CaptureError::malformed(
                offset,
                "block: total length not a multiple of 4",
            ));
        }
        if u64::from(total) > MAX_RECORD {
            let kind = CaptureErrorKind::RecordTooLarge {
                len: total.into(),
                limit: MAX_RECORD,
            };
            return Err(CaptureError::new(offset, kind));
        }
        let total = total as usize;
        if !input.ensure(total).map_err(io_err)? {
            let needed = total - input.peek().len();
            return Err(CaptureError::truncated(offset, needed as u64));
        }
        let pos = input.pos();
        let block = input.peek().get(..total).unwrap_or(&[]);
        if read_u32(block, total - 4, be) != Some(total as u32) {
            return Err(CaptureError::malformed(
                offset,
                "block: trailing total length differs",
            ));
        }
        let body = block.get(8..total - 4).unwrap_or(&[]);
        // Index of the body in the read buffer, for the frame's data.
        let body_pos = pos + 8;
        let result = match block_type {
            SHB => self.section(body, offset).map(|()| Block::Section),
            IDB => self.interface(body, offset, shared).map(|()| Block::Other),
            ISB => {
                self.statistics(body, offset, shared);
                Ok(Block::Other)
            }
            EPB => self
                .enhanced_packet(body, body_pos, offset)
                .map(Block::Frame),
            SPB => self
                .simple_packet(body, body_pos, offset, shared)
                .map(Block::Frame),
            PACKET_BLOCK => self
                .obsolete_packet(body, body_pos, offset)
                .map(Block::Frame),
            _ => Ok(Block::Other),
        };
        match result {
            Ok(Block::Frame(mut m)) => {
                m.ts_ns = shared.clamp_ts(m.ts_ns);
                input.consume(total);
                input.prefetch_next();
                Ok(Block::Frame(m))
            }
            Ok(other) => {
                input.consume(total);
                Ok(other)
            }
            Err(e) => Err(e),
        }
    }

    /// Checks a Section Header Block's byte order and version (before its length is
    /// trusted, since another version may lay the block out differently) and adopts the
    /// byte order.
    fn section_prefix(&mut self, input: &mut Input, offset: u64) -> Result<(), CaptureError> {
        if !input
            .ensure(SHB_PREFIX)
            .map_err(|e| CaptureError::io(offset, e))?
        {
            let needed = SHB_PREFIX - input.peek().len();
            return Err(CaptureError::truncated(offset, needed as u64));
        }
        let head = input.peek();
        self.big_endian = match read_u32(head, 8, false) {
            Some(BYTE_ORDER_MAGIC) => false,
            Some(m) if m == BYTE_ORDER_MAGIC.swap_bytes() => true,
            _ => {
                return Err(CaptureError::malformed(
                    offset,
                    "section header: bad byte-order magic",
                ))
            }
        };
        let major = read_u16(head, 12, self.big_endian).unwrap_or(0);
        let minor = read_u16(head, 14, self.big_endian).unwrap_or(0);
        if major != 1 {
            let kind = CaptureErrorKind::UnsupportedVersion {
                format: "pcapng",
                major,
                minor,
            };
            return Err(CaptureError::new(offset, kind));
        }
        Ok(())
    }

    /// The rest of a Section Header Block: a new section, with no interfaces yet.
    fn section(&mut self, body: &[u8], offset: u64) -> Result<(), CaptureError> {
        // Byte-order magic, version, section length (8 bytes), then options.
        let options = body
            .get(16..)
            .ok_or(CaptureError::malformed(offset, "section header: too short"))?;
        walk_options(options, self.big_endian, offset, |_, _| {})?;
        self.interfaces.clear();
        self.drops.clear();
        Ok(())
    }

    /// An Interface Description Block: link type, snaplen, options.
    fn interface(
        &mut self,
        body: &[u8],
        offset: u64,
        shared: &mut Shared,
    ) -> Result<(), CaptureError> {
        let be = self.big_endian;
        let (Some(link_type), Some(snaplen), Some(options)) =
            (read_u16(body, 0, be), read_u32(body, 4, be), body.get(8..))
        else {
            return Err(CaptureError::malformed(
                offset,
                "interface description: too short",
            ));
        };
        let mut iface = Interface {
            link_type: link_type.into(),
            snaplen,
            unit: TsUnit::Mul(1_000),
            offset_ns: 0,
        };
        walk_options(options, be, offset, |code, value| match (code, value) {
            (IF_TSRESOL, [v, ..]) => iface.unit = TsUnit::from_tsresol(*v),
            (IF_TSOFFSET, v) => {
                if let Ok(b) = <[u8; 8]>::try_from(v) {
                    let secs = if be {
                        i64::from_be_bytes(b)
                    } else {
                        i64::from_le_bytes(b)
                    };
                    iface.offset_ns = i128::from(secs) * i128::from(NS_PER_SEC);
                }
            }
            _ => {}
        })?;
        if self.interfaces.len() >= MAX_INTERFACES {
            return Err(CaptureError::malformed(
                offset,
                "section: too many interfaces",
            ));
        }
        self.interfaces.push(iface);
        shared.declare_link_type(link_type);
        Ok(())
    }

    /// An Interface Statistics Block: interface id, time stamp, options (see
    /// [`super::stats`]); damage skips the block, never the file.
    fn statistics(&mut self, body: &[u8], offset: u64, shared: &mut Shared) {
        let be = self.big_endian;
        let parsed = read_u32(body, 0, be).and_then(|id| {
            let iface = *self.interfaces.get(id as usize)?;
            let b = isb_options(body.get(12..)?, be, offset, iface)?;
            Some((id as usize, b))
        });
        let Some((id, b)) = parsed else {
            shared.stats.damaged_blocks += 1;
            return;
        };
        if self.drops.len() <= id {
            self.drops.resize(id + 1, Drops::default());
        }
        shared.stats.add(&mut self.drops[id], b);
    }

    /// An Enhanced Packet Block: interface id (32 bits), time stamp, lengths, data, options.
    fn enhanced_packet(
        &self,
        body: &[u8],
        body_pos: usize,
        offset: u64,
    ) -> Result<FrameMeta, CaptureError> {
        let id = read_u32(body, 0, self.big_endian);
        self.packet(body, body_pos, offset, id)
    }

    /// An obsolete Packet Block: as an Enhanced Packet Block with a 16-bit interface id and
    /// a 16-bit drop count.
    fn obsolete_packet(
        &self,
        body: &[u8],
        body_pos: usize,
        offset: u64,
    ) -> Result<FrameMeta, CaptureError> {
        let id = read_u16(body, 0, self.big_endian).map(u32::from);
        self.packet(body, body_pos, offset, id)
    }

    fn packet(
        &self,
        body: &[u8],
        body_pos: usize,
        offset: u64,
        id: Option<u32>,
    ) -> Result<FrameMeta, CaptureError> {
        const FIXED: usize = 20;
        let be = self.big_endian;
        let (Some(id), Some(ts_high), Some(ts_low), Some(caplen), Some(wire_len)) = (
            id,
            read_u32(body, 4, be),
            read_u32(body, 8, be),
            read_u32(body, 12, be),
            read_u32(body, 16, be),
        ) else {
            return Err(CaptureError::malformed(offset, "packet block: too short"));
        };
        let caplen = caplen as usize;
        let padded = caplen.checked_next_multiple_of(4).unwrap_or(usize::MAX);
        let Some(options) = FIXED.checked_add(padded).and_then(|end| body.get(end..)) else {
            return Err(CaptureError::malformed(
                offset,
                "packet block: data runs past the block",
            ));
        };
        walk_options(options, be, offset, |_, _| {})?;
        let Some(iface) = self.interfaces.get(id as usize) else {
            return Err(CaptureError::malformed(
                offset,
                "packet block: undeclared interface",
            ));
        };
        let count = (u64::from(ts_high) << 32) | u64::from(ts_low);
        // exact, then saturated into i64: the reader clamps it to the range it hands out
        // and counts the fixup
        let exact = iface.unit.to_ns(count).saturating_add(iface.offset_ns);
        let ts_ns = i64::try_from(exact).unwrap_or(if exact < 0 { i64::MIN } else { i64::MAX });
        Ok(FrameMeta::new(
            ts_ns,
            iface.link_type,
            id,
            wire_len,
            body_pos + FIXED,
            caplen,
        ))
    }

    /// A Simple Packet Block: original length and data, on interface 0, with no time stamp.
    fn simple_packet(
        &self,
        body: &[u8],
        body_pos: usize,
        offset: u64,
        shared: &Shared,
    ) -> Result<FrameMeta, CaptureError> {
        let Some(wire_len) = read_u32(body, 0, self.big_endian) else {
            return Err(CaptureError::malformed(
                offset,
                "simple packet block: too short",
            ));
        };
        let Some(iface) = self.interfaces.first() else {
            return Err(CaptureError::malformed(
                offset,
                "simple packet block: no interface 0",
            ));
        };
        let mut caplen = body.len().saturating_sub(4).min(wire_len as usize);
        if iface.snaplen != 0 {
            caplen = caplen.min(iface.snaplen as usize);
        }
        let ts_ns = shared.last_ts.unwrap_or(0);
        Ok(FrameMeta::new(
            ts_ns,
            iface.link_type,
            0,
            wire_len,
            body_pos + 4,
            caplen,
        ))
    }
}

/// What one block turned out to be.
enum Block {
    /// A packet.
    Frame(FrameMeta),
    /// A Section Header Block.
    Section,
    /// Any other block, read and skipped.
    Other,
    /// Clean end of the stream.
    End,
}

/// The options of an Interface Statistics Block of interface `iface`; `None` when they are
/// damaged (an option running past the block, a time or counter not 8 bytes long).
fn isb_options(area: &[u8], be: bool, offset: u64, iface: Interface) -> Option<BlockStats> {
    let mut b = BlockStats::default();
    let mut ok = true;
    let walked = walk_options(area, be, offset, |code, v| {
        if !matches!(code, ISB_STARTTIME | ISB_ENDTIME | ISB_IFDROP | ISB_OSDROP) {
            return;
        }
        let Ok(bytes) = <[u8; 8]>::try_from(v) else {
            ok = false;
            return;
        };
        // a time is two 32-bit words, the high one first, as in a packet block; a counter
        // is one 64-bit value
        let (high, low) = (read_u32(v, 0, be), read_u32(v, 4, be));
        let time = high.zip(low).and_then(|(h, l)| {
            let count = u64::from(h) << 32 | u64::from(l);
            let exact = iface.unit.to_ns(count).saturating_add(iface.offset_ns);
            i64::try_from(exact).ok()
        });
        let count = if be {
            u64::from_be_bytes(bytes)
        } else {
            u64::from_le_bytes(bytes)
        };
        match code {
            ISB_STARTTIME => b.start_ns = time,
            ISB_ENDTIME => b.end_ns = time,
            ISB_IFDROP => b.dropped_by_interface = Some(count),
            _ => b.dropped_by_os = Some(count),
        }
    });
    (walked.is_ok() && ok).then_some(b)
}

/// Calls `f(code, value)` for each option up to opt_endofopt or the end of the area; an
/// option running past the end of the area is malformed.
fn walk_options(
    mut area: &[u8],
    big_endian: bool,
    offset: u64,
    mut f: impl FnMut(u16, &[u8]),
) -> Result<(), CaptureError> {
    while !area.is_empty() {
        let (Some(code), Some(len)) =
            (read_u16(area, 0, big_endian), read_u16(area, 2, big_endian))
        else {
            return Err(CaptureError::malformed(
                offset,
                "option: header runs past the block",
            ));
        };
        if code == OPT_ENDOFOPT {
            break;
        }
        let len = usize::from(len);
        let Some(value) = area.get(4..4 + len) else {
            return Err(CaptureError::malformed(
                offset,
                "option: length runs past the block",
            ));
        };
        f(code, value);
        area = area.get(4 + len.next_multiple_of(4)..).unwrap_or(&[]);
    }
    Ok(())
}
