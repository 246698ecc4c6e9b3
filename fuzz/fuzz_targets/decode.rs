//! Fuzz target `decode`: one frame of any link type flowcheck decodes.
//!
//! Byte 0 picks the link type among every supported one (and one unsupported), byte 1 how
//! many bytes were on the wire but not captured (x 64), the rest is the captured frame.
//! Checks: no panic, no hang, the same answer twice, and the documented bounds of a packet.
#![no_main]

use flowcheck::decode::{decode, SkipReason};
use libfuzzer_sys::fuzz_target;

/// Every LINKTYPE_* the decoder handles, then one it does not (LINKTYPE_AX25).
const LINK_TYPES: [u32; 11] = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 3];

fuzz_target!(|data: &[u8]| {
    let (Some(&pick), Some(&uncaptured)) = (data.first(), data.get(1)) else {
        return;
    };
    let link_type = LINK_TYPES[usize::from(pick) % LINK_TYPES.len()];
    let frame = &data[2..];
    let wire_len = (frame.len() as u32).saturating_add(u32::from(uncaptured) * 64);
    let got = decode(link_type, frame, wire_len);
    assert_eq!(got, decode(link_type, frame, wire_len), "not deterministic");
    match got {
        Ok(p) => {
            assert!(p.digest_len <= 16);
            assert!(p.digest_len > 0 || p.digest == 0);
            assert!(p.encap < 1 << flowcheck::decode::encap::NAMES.len());
            assert_ne!(link_type, 3);
        }
        Err(SkipReason::UnsupportedLinkType) => assert_eq!(link_type, 3),
        Err(_) => {}
    }
});
