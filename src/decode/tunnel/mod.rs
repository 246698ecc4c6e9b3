//! Tunnels inside an IP packet: IP-in-IP (protocols 4 and 41), GRE (with ERSPAN and PPTP) and
//! the UDP encapsulations (VXLAN, VXLAN-GPE, GENEVE, Teredo, GTP-U, GRE-in-UDP, MPLS-in-UDP),
//! one file per kind.
//!
//! Each reads its own header and says what its payload is (a [`Layer`]); the loop in
//! `decode/mod.rs` reads on from there. An `Err` (or `None`) means there is no usable IP
//! inside and the outer packet stays the packet.

mod geneve;
mod gre;
mod gtp;
mod teredo;
mod vxlan;

use super::layer::{Ctx, Ip, Layer};
use super::numbers::proto;
use super::packet::{encap, Packet, SkipReason, Transport};
use super::udp;

/// UDP ports of the encapsulations decoded.
mod port {
    pub const VXLAN: u16 = 4789;
    /// Linux's default VXLAN port (tshark does not decode it by default).
    pub const VXLAN_LINUX: u16 = 8472;
    pub const VXLAN_GPE: u16 = 4790;
    pub const GENEVE: u16 = 6081;
    pub const TEREDO: u16 = 3544;
    pub const GTP_U: u16 = 2152;
    pub const GRE_IN_UDP: u16 = 4754;
    pub const MPLS_IN_UDP: u16 = 6635;
}

type Inner<'a> = Result<Layer<'a>, SkipReason>;

/// The first layer inside `outer` and its context, when `outer` is a tunnel (`None` when it
/// is not one, is a fragment, or [`super::layer::MAX_TUNNEL_DEPTH`] tunnels were already
/// entered, or holds no usable IP). `l4` is the outer IP payload, `ctx` the context inside it.
#[inline]
pub(super) fn inner<'a>(outer: &Packet, l4: &'a [u8], ctx: Ctx) -> Option<(Layer<'a>, Ctx)> {
    let maybe = match outer.ip_proto {
        proto::IPIP | proto::IPV6 | proto::GRE => true,
        proto::UDP => matches!(outer.transport, Transport::Udp { sport, dport }
            if tunnel_port(sport, dport).is_some()),
        _ => false,
    };
    // All fragments of one datagram describe the same (outer) flow.
    if !maybe || outer.fragment.is_some_and(|f| f.offset > 0 || f.more) {
        return None;
    }
    enter(outer, l4, ctx)
}

/// [`inner`] for a packet that may be a tunnel.
#[cold]
fn enter<'a>(outer: &Packet, l4: &'a [u8], ctx: Ctx) -> Option<(Layer<'a>, Ctx)> {
    let mut ctx = ctx;
    let layer = match outer.ip_proto {
        proto::IPIP => {
            ctx = ctx.deeper()?.with(encap::IP_IN_IP);
            Ok(Layer::Ip(Ip::Any(l4)))
        }
        proto::IPV6 => {
            ctx = ctx.deeper()?.with(encap::IP_IN_IP);
            Ok(Layer::Ip(Ip::V6(l4)))
        }
        proto::GRE => {
            ctx = ctx.deeper()?.with(encap::GRE);
            gre::gre(l4, &mut ctx)
        }
        proto::UDP => match outer.transport {
            Transport::Udp { sport, dport } => {
                let payload = udp::payload(l4)?;
                let port = tunnel_port(sport, dport)?;
                ctx = ctx.deeper()?;
                on_port(port, payload, &mut ctx)
            }
            _ => return None,
        },
        _ => return None,
    };
    Some((layer.ok()?, ctx))
}

/// Below this, a UDP port is taken to be a well-known service's (DNS, NTP, SNMP, ...).
const FIRST_UNPRIVILEGED_PORT: u16 = 1024;

/// The tunnel port of a UDP datagram, if any. Like tshark, the lower port is tried first;
/// tshark tries the higher one only when no dissector claims the lower one, approximated here
/// by "the lower port is not a well-known port".
fn tunnel_port(sport: u16, dport: u16) -> Option<u16> {
    let (low, high) = if sport <= dport {
        (sport, dport)
    } else {
        (dport, sport)
    };
    if is_tunnel_port(low) {
        Some(low)
    } else if low >= FIRST_UNPRIVILEGED_PORT && is_tunnel_port(high) {
        Some(high)
    } else {
        None
    }
}

/// The first inner layer of a UDP payload on tunnel port `port`.
fn on_port<'a>(port: u16, payload: &'a [u8], ctx: &mut Ctx) -> Inner<'a> {
    match port {
        port::VXLAN | port::VXLAN_LINUX => {
            *ctx = ctx.with(encap::VXLAN);
            vxlan::vxlan(payload)
        }
        port::VXLAN_GPE => {
            *ctx = ctx.with(encap::VXLAN);
            vxlan::gpe(payload)
        }
        port::GENEVE => {
            *ctx = ctx.with(encap::GENEVE);
            geneve::geneve(payload)
        }
        port::TEREDO => {
            *ctx = ctx.with(encap::TEREDO);
            teredo::teredo(payload)
        }
        port::GTP_U => {
            *ctx = ctx.with(encap::GTP);
            gtp::gtp_u(payload)
        }
        port::GRE_IN_UDP => {
            *ctx = ctx.with(encap::GRE);
            gre::gre(payload, ctx)
        }
        _ => Ok(Layer::Mpls(payload)), // port::MPLS_IN_UDP
    }
}

fn is_tunnel_port(p: u16) -> bool {
    matches!(
        p,
        port::VXLAN
            | port::VXLAN_LINUX
            | port::VXLAN_GPE
            | port::GENEVE
            | port::TEREDO
            | port::GTP_U
            | port::GRE_IN_UDP
            | port::MPLS_IN_UDP
    )
}
