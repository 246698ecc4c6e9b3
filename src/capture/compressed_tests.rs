//! zstd and lz4 captures: read like the plain file, and damage inside them ends the stream
//! after every record decoded before it, with the offset of the record that did not decode.

use std::io::Write;

use super::tests::{open_err, read_all};
use super::*;
use crate::testkit::{Pcap, MAGIC_US};

/// A pcap of three 300-byte records (316 bytes each with its header).
fn three_records() -> Vec<u8> {
    Pcap::new(MAGIC_US, false, 65535, 1)
        .record(1, 0, &[1; 300], 300)
        .record(2, 0, &[2; 300], 300)
        .record(3, 0, &[3; 300], 300)
        .bytes()
}

/// Offset of the third record in [`three_records`].
const THIRD: u64 = 24 + 2 * 316;

/// zstd with a block flushed after the file header and after each record: the stream and
/// where each record's block starts.
fn zstd_per_record(plain: &[u8]) -> (Vec<u8>, Vec<usize>) {
    let mut enc = ::zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    enc.include_checksum(true).unwrap();
    let (header, rest) = plain.split_at(24);
    enc.write_all(header).unwrap();
    enc.flush().unwrap();
    let mut starts = Vec::new();
    for r in rest.chunks(316) {
        starts.push(enc.get_ref().len());
        enc.write_all(r).unwrap();
        enc.flush().unwrap();
    }
    (enc.finish().unwrap(), starts)
}

#[test]
fn zstd_capture_reads_like_the_plain_file() {
    let plain = three_records();
    let packed = ::zstd::encode_all(&plain[..], 3).unwrap();
    let (frames, end) = read_all(&packed);
    assert!(end.is_none(), "{end:?}");
    assert_eq!(frames.len(), 3);
    assert_eq!(read_all(&plain).0, frames);
    let r = CaptureReader::from_reader(Box::new(std::io::Cursor::new(packed))).unwrap();
    assert_eq!(r.compression(), Some(Compression::Zstd));
    assert!(!r.gzipped());

    // Frames one after the other (`cat a.zst b.zst`), a skippable frame between them.
    let mut cat = ::zstd::encode_all(&plain[..24 + 316], 1).unwrap();
    cat.extend_from_slice(&[0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 9, 9, 9]);
    cat.extend(::zstd::encode_all(&plain[24 + 316..], 19).unwrap());
    let (frames, end) = read_all(&cat);
    assert!(end.is_none(), "{end:?}");
    assert_eq!(read_all(&plain).0, frames);
}

#[test]
fn zstd_damage_keeps_every_record_decoded_before_it() {
    let plain = three_records();
    let (packed, starts) = zstd_per_record(&plain);

    // Cut inside the third record's block.
    let (frames, end) = read_all(&packed[..starts[2] + 5]);
    assert_eq!(frames.len(), 2, "both records before the cut are kept");
    let end = end.expect("the cut is reported");
    assert_eq!(end.offset, THIRD);
    assert!(
        end.to_string().contains("zstd: compressed data cut short"),
        "{end}"
    );

    // Cut exactly between two blocks: still a frame cut short.
    let (frames, end) = read_all(&packed[..starts[2]]);
    assert_eq!(frames.len(), 2);
    assert_eq!(end.expect("the cut is reported").offset, THIRD);

    // The third record's block header names a reserved block type.
    let mut bad = packed.clone();
    bad[starts[2]] |= 0x06; // block type 3: reserved
    let (frames, end) = read_all(&bad);
    assert_eq!(frames.len(), 2);
    let end = end.expect("damage");
    assert_eq!(end.offset, THIRD);
    assert!(end.to_string().contains("zstd: corrupt"), "{end}");

    // A checksum mismatch is only seen at the end of the frame: every record is read first.
    let mut bad_sum = packed;
    let at = bad_sum.len() - 1;
    bad_sum[at] ^= 1;
    let (frames, end) = read_all(&bad_sum);
    assert_eq!(frames.len(), 3);
    assert!(end.expect("damage").to_string().contains("zstd: corrupt"));

    // Bytes after the last frame that are not a frame.
    let mut trailing = ::zstd::encode_all(&plain[..], 3).unwrap();
    trailing.extend_from_slice(b"not zstd");
    let (frames, end) = read_all(&trailing);
    assert_eq!(frames.len(), 3);
    assert!(end.expect("damage").to_string().contains("zstd:"));
}

/// Options of the LZ4 frames the tests write.
#[derive(Clone, Copy)]
struct Lz4Options {
    linked: bool,
    block_checksum: bool,
    content_checksum: bool,
}

/// An LZ4 frame with one block per chunk (compressed when that is smaller, else stored):
/// the frame and where each block starts.
fn lz4_frame(chunks: &[&[u8]], o: Lz4Options) -> (Vec<u8>, Vec<usize>) {
    use std::hash::Hasher;
    let mut out = lz4::MAGIC.to_le_bytes().to_vec();
    let flg = 0x40
        | if o.linked { 0 } else { 0x20 }
        | if o.block_checksum { 0x10 } else { 0 }
        | if o.content_checksum { 0x04 } else { 0 };
    let bd = 4 << 4; // 64 KiB blocks
    out.extend([flg, bd]);
    out.push((twox_hash::XxHash32::oneshot(0, &[flg, bd]) >> 8) as u8);
    let mut starts = Vec::new();
    let mut history: Vec<u8> = Vec::new();
    let mut content = twox_hash::XxHash32::with_seed(0);
    for chunk in chunks {
        starts.push(out.len());
        let packed = if o.linked {
            let dict = &history[history.len().saturating_sub(64 << 10)..];
            lz4_flex::block::compress_with_dict(chunk, dict)
        } else {
            lz4_flex::block::compress(chunk)
        };
        let (word, data) = if packed.len() < chunk.len() {
            (packed.len() as u32, packed)
        } else {
            (chunk.len() as u32 | 0x8000_0000, chunk.to_vec())
        };
        out.extend(word.to_le_bytes());
        out.extend(&data);
        if o.block_checksum {
            out.extend(twox_hash::XxHash32::oneshot(0, &data).to_le_bytes());
        }
        history.extend_from_slice(chunk);
        content.write(chunk);
    }
    out.extend(0u32.to_le_bytes());
    if o.content_checksum {
        out.extend(content.finish_32().to_le_bytes());
    }
    (out, starts)
}

fn record_chunks(plain: &[u8]) -> Vec<&[u8]> {
    let (header, rest) = plain.split_at(24);
    std::iter::once(header).chain(rest.chunks(316)).collect()
}

const ALL_CHECKS: Lz4Options = Lz4Options {
    linked: false,
    block_checksum: true,
    content_checksum: true,
};

#[test]
fn lz4_capture_reads_like_the_plain_file() {
    let plain = three_records();
    let chunks = record_chunks(&plain);
    for linked in [false, true] {
        let o = Lz4Options {
            linked,
            ..ALL_CHECKS
        };
        let (packed, _) = lz4_frame(&chunks, o);
        let (frames, end) = read_all(&packed);
        assert!(end.is_none(), "linked {linked}: {end:?}");
        assert_eq!(read_all(&plain).0, frames, "linked {linked}");
    }
    let (packed, _) = lz4_frame(&[&plain], ALL_CHECKS);
    let r = CaptureReader::from_reader(Box::new(std::io::Cursor::new(packed.clone()))).unwrap();
    assert_eq!(r.compression(), Some(Compression::Lz4));

    // Two frames with a skippable frame between them.
    let (first, _) = lz4_frame(&chunks[..2], ALL_CHECKS);
    let (second, _) = lz4_frame(&chunks[2..], ALL_CHECKS);
    let mut cat = first;
    cat.extend_from_slice(&[0x5a, 0x2a, 0x4d, 0x18, 2, 0, 0, 0, 7, 7]);
    cat.extend(second);
    let (frames, end) = read_all(&cat);
    assert!(end.is_none(), "{end:?}");
    assert_eq!(read_all(&plain).0, frames);
}

#[test]
fn lz4_damage_keeps_every_record_decoded_before_it() {
    let plain = three_records();
    let chunks = record_chunks(&plain);
    let (packed, starts) = lz4_frame(&chunks, ALL_CHECKS);
    // starts[0] is the file header's block; starts[3] the third record's.

    // Cut inside the third record's block, and exactly before it (a frame without its end
    // mark, which lz4_flex's own frame reader takes for a clean end).
    for cut in [starts[3] + 6, starts[3]] {
        let (frames, end) = read_all(&packed[..cut]);
        assert_eq!(frames.len(), 2, "cut at {cut}");
        let end = end.expect("the cut is reported");
        assert_eq!(end.offset, THIRD, "cut at {cut}");
        assert!(
            end.to_string().contains("lz4: compressed data cut short"),
            "{end}"
        );
    }

    // A block checksum mismatch in the third record.
    let mut bad = packed.clone();
    bad[starts[3] + 6] ^= 0x40;
    let (frames, end) = read_all(&bad);
    assert_eq!(frames.len(), 2);
    let end = end.expect("damage");
    assert_eq!(end.offset, THIRD);
    assert!(
        end.to_string().contains("lz4: block checksum mismatch"),
        "{end}"
    );

    // Without block checksums, the content checksum catches it at the end of the frame.
    let o = Lz4Options {
        block_checksum: false,
        ..ALL_CHECKS
    };
    let (mut bad, starts) = lz4_frame(&chunks, o);
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let (frames, end) = read_all(&bad);
    assert_eq!(frames.len(), 3);
    assert!(end
        .expect("damage")
        .to_string()
        .contains("content checksum"));

    // Corrupt compressed data: the block decoder's error, after the records before it.
    let (mut bad, _) = lz4_frame(&chunks, o);
    let len_word = u32::from_le_bytes(bad[starts[3]..starts[3] + 4].try_into().unwrap());
    assert_eq!(len_word & 0x8000_0000, 0, "the third record is compressed");
    bad[starts[3] + 4] = 0xff; // a literal run longer than the block
    let (frames, end) = read_all(&bad);
    assert_eq!(frames.len(), 2);
    assert_eq!(end.expect("damage").offset, THIRD);
}

#[test]
fn other_compressed_formats_are_refused_by_name() {
    let plain = three_records();
    let cases: [(&[u8], &str); 3] = [
        (
            b"BZh91AY&SY\x12\x34",
            "a bzip2-compressed file: decompress it first",
        ),
        (
            b"\xfd7zXZ\x00\x00\x04",
            "an xz-compressed file: decompress it first",
        ),
        (b"\x02\x21\x4c\x18\x00\x00", "legacy format (lz4 -l)"),
    ];
    for (head, want) in cases {
        let mut bytes = head.to_vec();
        bytes.extend_from_slice(&plain);
        let e = open_err(&bytes);
        assert_eq!(e.offset, 0);
        assert!(e.to_string().contains(want), "{e}");
        assert!(!e.to_string().contains("first bytes"), "{e}");
    }
}
