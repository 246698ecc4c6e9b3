//! flow: the flow table of one capture point.
//!
//! Every decoded [`Packet`](crate::decode::Packet) lands in one bidirectional [`Flow`], keyed the way tshark keys its
//! conversations (see `../shared/corpus/ORACLE.md`):
//!
//! | protocol | key |
//! |---|---|
//! | TCP, UDP | protocol and the two `ip:port` endpoints |
//! | TCP, UDP whose ports were not captured | protocol and the two addresses (`ports unknown`) |
//! | ICMP / ICMPv6 echo | protocol, the two addresses, the echo identifier |
//! | other ICMP / ICMPv6 | protocol, the two addresses, type and code |
//! | anything else | IP protocol number and the two addresses |
//!
//! IP fragments belong to their datagram's flow: the first fragment carries the ports, later
//! ones are attributed through (source, destination, protocol, IP ID), and fragments that
//! arrive before their first fragment wait (bounded) for it.
//!
//! Per flow the table keeps packets, wire bytes and IP bytes per direction, first and last
//! time, the TTLs seen per direction, what is needed to tell the originator (first SYN,
//! SYN-ACK, echo request, echo reply), ICMP echo requests paired with replies by sequence
//! number, and for TCP a Zeek-style history:
//!
//! | letter | meaning |
//! |---|---|
//! | `S` | SYN without ACK |
//! | `H` | SYN with ACK |
//! | `A` | pure ACK |
//! | `D` | segment carrying data |
//! | `F` | FIN |
//! | `R` | RST |
//! | `T` | retransmitted data |
//!
//! Upper case for the originator, lower case for the responder; each letter is recorded once
//! per direction, in the order first seen.
//!
//! Forwarding: a capture point that routes traffic (the NVA) sees each forwarded packet twice,
//! once arriving and once leaving, with a TTL one lower and, through NAT, possibly other
//! addresses and ports. The table recognises the second leg by what forwarding does not change
//! (IP ID, IP length, protocol, transport sequence numbers, the payload digest), within a short
//! time window, and records it: on the flow when both legs share the flow key, as a [`Link`]
//! carrying the NAT mapping when they do not. The second leg's packets are counted (tshark
//! counts them too) but do not add history letters, retransmissions or echo requests.
//!
//! Packet samples (for matching the same packet at other capture points, see `correlate`):
//! when the table samples ([`FlowTable::with_samples`]), every flow keeps, per direction, a
//! bounded [`DirSamples`]: the first [`FIRST_SAMPLES`] packets (a ladder diagram starts with
//! the handshake) and, of the packets after them, the [`LOW_SAMPLES`] with the lowest
//! [`match_key`] (a bottom-k sketch). The key hashes only what forwarding and NAT leave
//! unchanged, so every capture point that saw the same packets keeps the *same* packets:
//! consistent ("trajectory") sampling, with memory bounded by flows x 12 samples rather than
//! by packets, and no allocation per packet (one per flow, when it opens).
//!
//! **Where things are.** `key`: flow keys; `keyed`: what is computed of a packet ahead of
//! the table; `record`: the [`Flow`] record and its originator; `history`: the TCP history;
//! `forward`: the forwarding detector and [`Link`]s; `sample`: [`match_key`] and the
//! samples; `fragment`: fragment attribution; `table`: the [`FlowTable`] itself; `index`: its
//! key index; `budget`: the flows the whole run may track, shared by the points.

mod budget;
mod forward;
mod fragment;
mod history;
mod index;
mod key;
mod keyed;
mod record;
mod sample;
mod table;

pub use budget::FlowBudget;
pub use forward::{Link, FORWARD_WINDOW_NS};
pub use history::{History, HistoryText};
pub use key::{proto_name, Endpoint, EndpointDisplay, FlowKey, KeyKind};
pub use keyed::Keyed;
pub use record::{EchoState, Flow, Orientation, TsharkSides, TtlSet, NO_FIRST_TS, NO_LAST_TS};
pub use sample::{match_key, mix, DirSamples, Sample, FIRST_SAMPLES, LOW_SAMPLES};
pub use table::FlowTable;

#[cfg(test)]
pub(crate) mod tests;
