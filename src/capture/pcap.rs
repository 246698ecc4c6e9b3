//! Classic pcap: a 24-byte file header, then records of a 16-byte header (24 bytes in the
//! "modified" format) followed by the captured bytes.

use super::input::Input;
use super::{
    read_u16, read_u32, CaptureError, CaptureErrorKind, Format, FrameMeta, Shared, MAX_RECORD,
};

const FILE_HEADER_LEN: usize = 24;
/// The smallest record limit, whatever the snaplen says (libpcap's own maximum snaplen).
const MIN_RECORD_LIMIT: u32 = 262_144;

pub(super) struct PcapReader {
    big_endian: bool,
    /// 16, or 24 for the modified format (ifindex, protocol, pkttype and a pad byte follow).
    record_header_len: usize,
    /// Sub-second units per second: 10^6 or 10^9.
    frac_per_sec: u32,
    /// Nanoseconds per sub-second unit: 1000 or 1.
    ns_per_frac: i64,
    link_type: u32,
    /// Largest captured length accepted in a record.
    limit: u32,
}

impl PcapReader {
    /// Reads and checks the file header.
    pub(super) fn start(
        input: &mut Input,
        format: Format,
        shared: &mut Shared,
    ) -> Result<Self, CaptureError> {
        let Format::Pcap {
            big_endian,
            nanos,
            modified,
        } = format
        else {
            return Err(CaptureError::malformed(0, "pcap file header"));
        };
        if !input
            .ensure(FILE_HEADER_LEN)
            .map_err(|e| CaptureError::io(0, e))?
        {
            let needed = FILE_HEADER_LEN - input.peek().len();
            return Err(CaptureError::truncated(0, needed as u64));
        }
        let h = input.peek();
        let field16 = |i| read_u16(h, i, big_endian).unwrap_or(0);
        let field32 = |i| read_u32(h, i, big_endian).unwrap_or(0);
        let (major, minor) = (field16(4), field16(6));
        if major != 2 {
            let kind = CaptureErrorKind::UnsupportedVersion {
                format: "pcap",
                major,
                minor,
            };
            return Err(CaptureError::new(0, kind));
        }
        let snaplen = field32(16);
        // The link type is the low 16 bits of the network field; the upper bits carry the
        // FCS length.
        let link_type = field32(20) as u16;
        input.consume(FILE_HEADER_LEN);
        shared.declare_link_type(link_type);
        let limit = snaplen
            .max(MIN_RECORD_LIMIT)
            .checked_next_power_of_two()
            .unwrap_or(u32::MAX)
            .min(MAX_RECORD as u32);
        Ok(PcapReader {
            big_endian,
            record_header_len: if modified { 24 } else { 16 },
            frac_per_sec: if nanos { 1_000_000_000 } else { 1_000_000 },
            ns_per_frac: if nanos { 1 } else { 1_000 },
            link_type: link_type.into(),
            limit,
        })
    }

    /// The next record, `Ok(None)` at a clean end of file.
    #[inline]
    pub(super) fn next(
        &mut self,
        input: &mut Input,
        shared: &mut Shared,
    ) -> Result<Option<FrameMeta>, CaptureError> {
        let offset = input.offset();
        let hlen = self.record_header_len;
        if !input
            .ensure(hlen)
            .map_err(|e| CaptureError::io(offset, e))?
        {
            let have = input.peek().len();
            if have == 0 {
                return Ok(None);
            }
            return Err(CaptureError::truncated(offset, (hlen - have) as u64));
        }
        // The four 32-bit fields every record header starts with.
        let Some(words) = input.peek().as_chunks::<4>().0.first_chunk::<4>() else {
            return Err(CaptureError::truncated(offset, hlen as u64));
        };
        let be = self.big_endian;
        let [sec, frac, caplen, wire_len] = words.map(|w| {
            if be {
                u32::from_be_bytes(w)
            } else {
                u32::from_le_bytes(w)
            }
        });
        if caplen > self.limit {
            let kind = CaptureErrorKind::RecordTooLarge {
                len: caplen.into(),
                limit: self.limit.into(),
            };
            return Err(CaptureError::new(offset, kind));
        }
        let record_len = hlen + caplen as usize;
        if !input
            .ensure(record_len)
            .map_err(|e| CaptureError::io(offset, e))?
        {
            let needed = record_len - input.peek().len();
            return Err(CaptureError::truncated(offset, needed as u64));
        }
        let secs_ns = i64::from(sec) * 1_000_000_000;
        let ts_ns = if frac < self.frac_per_sec {
            secs_ns + i64::from(frac) * self.ns_per_frac
        } else {
            shared.fixups += 1;
            shared.last_ts.unwrap_or(secs_ns)
        };
        let start = input.pos() + hlen;
        input.consume(record_len);
        input.prefetch_next();
        Ok(Some(FrameMeta::new(
            ts_ns,
            self.link_type,
            0,
            wire_len,
            start,
            caplen as usize,
        )))
    }
}
