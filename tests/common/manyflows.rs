//! Capture points of one-packet flows: N UDP datagrams, each from its own address and port,
//! in POINTS classic pcap files (`DIR/p1.pcap` ...); no packet is seen at two points. For
//! checking that the whole run bounds its memory across points (`--max-flows`; issue 20):
//! used by `tests/hostile.rs` and `examples/manyflows.rs`.

#![allow(dead_code)]

#[path = "pcap_writer.rs"]
pub mod pcap_writer;
use pcap_writer::PcapOut;

/// Writes `points` files of `flows` one-packet flows each into `dir`.
pub fn write_all(dir: &std::path::Path, flows: u32, points: u32) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for p in 1..=points {
        let mut out = PcapOut::create(&dir.join(format!("p{p}.pcap")))?;
        let mut frame = [0u8; 14 + 20 + 8 + 4];
        frame[12] = 0x08; // IPv4
        frame[14] = 0x45;
        frame[17] = 20 + 8 + 4;
        frame[22] = 64; // TTL
        frame[23] = 17; // UDP
        frame[26..30].copy_from_slice(&[10, 200, 0, 1]);
        frame[38..40].copy_from_slice(&53u16.to_be_bytes());
        frame[41] = 8 + 4;
        for i in 0..flows {
            // source 10.<p>.x.y:port, distinct per flow and per point
            let src = [10, p as u8, (i >> 16) as u8, (i >> 8) as u8];
            // IP ID and payload differ between points too: no packet is seen at two
            frame[18..20].copy_from_slice(&(i as u16 ^ (p as u16) << 13).to_be_bytes());
            frame[26..30].copy_from_slice(&src);
            frame[30..34].copy_from_slice(&[10, 200, 0, 1]);
            frame[34..36].copy_from_slice(&(1024 + (i & 0xff) as u16).to_be_bytes());
            frame[42..46].copy_from_slice(&(i ^ p << 28).to_be_bytes());
            out.record(1_796_256_000 + i / 100_000, (i % 100_000) * 10, &frame)?;
        }
        out.finish()?;
    }
    Ok(())
}
