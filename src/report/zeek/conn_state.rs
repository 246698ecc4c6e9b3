//! Zeek's `conn_state` of a TCP flow, from its history.
//!
//! Zeek runs a state machine per endpoint (inactive, SYN sent, SYN-ACK sent, partial,
//! established, closed, reset: its TCP session adapter) over every packet, and names the
//! pair of final states (`conn_state()` in `base/protocols/conn/main.zeek`). flowcheck does
//! not keep packets, but its history holds, in order, the first packet of each kind (SYN,
//! SYN-ACK, pure ACK, data, FIN, RST, retransmission) in each direction, which are the
//! packets that move Zeek's machine (a second packet of a kind from the same side leaves the
//! state where the first put it). The machine is run here over those letters, with Zeek's
//! rules, written anew from its documented behaviour.

/// Zeek's connection states (`conn.log`'s `conn_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    /// Connection attempt seen, no reply.
    S0,
    /// Connection established, not terminated.
    S1,
    /// Normal establishment and termination.
    SF,
    /// Connection attempt rejected.
    Rej,
    /// Established, close attempt by the originator seen (no reply from the responder).
    S2,
    /// Established, close attempt by the responder seen (no reply from the originator).
    S3,
    /// Established, the originator aborted (sent a RST).
    Rsto,
    /// Established, the responder sent a RST.
    Rstr,
    /// The originator sent a SYN followed by a RST; no SYN-ACK from the responder.
    Rstos0,
    /// The responder sent a SYN-ACK followed by a RST; no SYN from the originator.
    Rstrh,
    /// The originator sent a SYN followed by a FIN; no SYN-ACK from the responder.
    Sh,
    /// The responder sent a SYN-ACK followed by a FIN; no SYN from the originator.
    Shr,
    /// No SYN seen, just midstream traffic (and every UDP/ICMP flow Zeek cannot classify).
    Oth,
}

impl ConnState {
    pub fn name(self) -> &'static str {
        match self {
            ConnState::S0 => "S0",
            ConnState::S1 => "S1",
            ConnState::SF => "SF",
            ConnState::Rej => "REJ",
            ConnState::S2 => "S2",
            ConnState::S3 => "S3",
            ConnState::Rsto => "RSTO",
            ConnState::Rstr => "RSTR",
            ConnState::Rstos0 => "RSTOS0",
            ConnState::Rstrh => "RSTRH",
            ConnState::Sh => "SH",
            ConnState::Shr => "SHR",
            ConnState::Oth => "OTH",
        }
    }
}

/// One TCP endpoint's state, as Zeek's TCP analyzer keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tcp {
    Inactive,
    SynSent,
    SynAckSent,
    Partial,
    Established,
    Closed,
    Reset,
}

#[derive(Debug, Clone, Copy)]
struct Endpoint {
    state: Tcp,
    prev: Tcp,
}

impl Endpoint {
    fn set(&mut self, s: Tcp) {
        self.prev = self.state;
        self.state = s;
    }
}

/// The flags of a packet a history letter stands for.
#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    syn: bool,
    ack: bool,
    fin: bool,
    rst: bool,
    data: bool,
}

fn flags_of(letter: u8) -> Flags {
    let f = Flags::default();
    match letter.to_ascii_uppercase() {
        b'S' => Flags { syn: true, ..f },
        b'H' => Flags {
            syn: true,
            ack: true,
            ..f
        },
        b'A' => Flags { ack: true, ..f },
        b'D' | b'T' => Flags {
            ack: true,
            data: true,
            ..f
        },
        b'F' => Flags {
            fin: true,
            ack: true,
            ..f
        },
        b'R' => Flags { rst: true, ..f },
        _ => f,
    }
}

/// Both endpoints: `[originator, responder]`.
struct Machine {
    ep: [Endpoint; 2],
}

impl Machine {
    fn packet(&mut self, is_orig: bool, fl: Flags) {
        let (me, peer) = if is_orig { (0, 1) } else { (1, 0) };
        match self.ep[me].state {
            Tcp::Inactive => self.inactive(me, peer, is_orig, fl),
            Tcp::SynSent | Tcp::SynAckSent => {
                if fl.fin {
                    self.ep[me].set(Tcp::Closed);
                }
                if fl.rst {
                    self.ep[me].set(Tcp::Reset);
                }
            }
            Tcp::Established | Tcp::Partial => {
                if fl.syn
                    && !fl.ack
                    && self.ep[me].state == Tcp::Partial
                    && self.ep[peer].state == Tcp::Inactive
                {
                    self.ep[me].set(Tcp::SynSent);
                }
                if fl.fin && !fl.rst {
                    self.ep[me].set(Tcp::Closed);
                    if self.ep[peer].state == Tcp::Reset && self.ep[peer].prev == Tcp::Closed {
                        // the peer's FIN then RST: a normal termination after all
                        self.ep[peer].set(Tcp::Closed);
                    }
                }
                if fl.rst {
                    self.ep[me].set(Tcp::Reset);
                }
            }
            Tcp::Closed => {
                if fl.rst && self.ep[peer].state != Tcp::Closed {
                    self.ep[me].set(Tcp::Reset);
                }
            }
            Tcp::Reset => {}
        }
    }

    fn inactive(&mut self, me: usize, peer: usize, is_orig: bool, fl: Flags) {
        if fl.syn {
            if is_orig {
                self.ep[me].set(if fl.ack {
                    Tcp::SynAckSent
                } else {
                    Tcp::SynSent
                });
            } else {
                if self.ep[peer].state == Tcp::SynSent {
                    self.ep[peer].set(Tcp::Established);
                }
                self.ep[me].set(Tcp::Established);
            }
        }
        if fl.fin {
            self.ep[me].set(Tcp::Closed);
        }
        if fl.rst {
            self.ep[me].set(Tcp::Reset);
        }
        if self.ep[me].state == Tcp::Inactive {
            if !is_orig && !fl.data && self.ep[0].state == Tcp::SynSent {
                // an ACK of the SYN before the SYN-ACK: not a partial connection
            } else if fl.ack && self.ep[peer].state == Tcp::Established {
                // a SYN-ACK was seen without its SYN, and now an ACK: established
                self.ep[me].set(Tcp::Established);
            } else {
                self.ep[me].set(Tcp::Partial);
            }
        }
    }
}

/// True when the history matches Zeek's `^?S[^HAFGIQ]*R.*` (the originator's SYN, then its
/// RST, with nothing from it in between that a handshake or a close would show).
fn syn_then_reset(history: &str) -> bool {
    let h = history.strip_prefix('^').unwrap_or(history);
    let Some(rest) = h.strip_prefix('S') else {
        return false;
    };
    for c in rest.chars() {
        match c {
            'R' => return true,
            'H' | 'A' | 'F' | 'G' | 'I' | 'Q' => return false,
            _ => {}
        }
    }
    false
}

/// The `conn_state` Zeek writes for a TCP connection with this history (upper case: the
/// originator; an optional leading `^`: roles flipped).
pub fn tcp_conn_state(history: &str) -> ConnState {
    let start = Endpoint {
        state: Tcp::Inactive,
        prev: Tcp::Inactive,
    };
    let mut m = Machine { ep: [start; 2] };
    let mut sent_data = [false; 2];
    for b in history.bytes().filter(|b| b.is_ascii_alphabetic()) {
        let is_orig = b.is_ascii_uppercase();
        let fl = flags_of(b);
        sent_data[usize::from(!is_orig)] |= fl.data;
        m.packet(is_orig, fl);
    }
    let (os, rs) = (m.ep[0].state, m.ep[1].state);
    let o_inactive = matches!(os, Tcp::Inactive | Tcp::Partial);
    let r_inactive = matches!(rs, Tcp::Inactive | Tcp::Partial);
    if rs == Tcp::Reset {
        let no_data = !sent_data[0] && !sent_data[1];
        if matches!(os, Tcp::SynSent | Tcp::SynAckSent) || (os == Tcp::Reset && no_data) {
            ConnState::Rej
        } else if o_inactive {
            ConnState::Rstrh
        } else {
            ConnState::Rstr
        }
    } else if os == Tcp::Reset {
        if !r_inactive {
            ConnState::Rsto
        } else if syn_then_reset(history) {
            ConnState::Rstos0
        } else {
            ConnState::Oth
        }
    } else if rs == Tcp::Closed && os == Tcp::Closed {
        ConnState::SF
    } else if os == Tcp::Closed {
        if r_inactive {
            ConnState::Sh
        } else {
            ConnState::S2
        }
    } else if rs == Tcp::Closed {
        if o_inactive {
            ConnState::Shr
        } else {
            ConnState::S3
        }
    } else if os == Tcp::SynSent && rs == Tcp::Inactive {
        ConnState::S0
    } else if os == Tcp::Established && rs == Tcp::Established {
        ConnState::S1
    } else {
        ConnState::Oth
    }
}

/// Zeek's `conn_state` of a UDP flow: which sides sent.
pub fn udp_conn_state(orig_sent: bool, resp_sent: bool) -> ConnState {
    match (orig_sent, resp_sent) {
        (true, true) => ConnState::SF,
        (true, false) => ConnState::S0,
        (false, true) => ConnState::Shr,
        (false, false) => ConnState::Oth,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One history per state, as Zeek writes them for these packet sequences.
    #[test]
    fn every_conn_state() {
        let cases = [
            ("S", "S0"),          // a SYN, no answer
            ("ShAD", "S1"),       // handshake and data, no close
            ("ShADadFf", "SF"),   // normal open and close
            ("ShADadfF", "SF"),   // the responder closes first
            ("Sr", "REJ"),        // SYN answered by RST
            ("ShADaF", "S2"),     // originator's FIN, no reply
            ("ShADadf", "S3"),    // responder's FIN, no reply
            ("ShADadR", "RSTO"),  // originator aborts
            ("ShADadr", "RSTR"),  // responder aborts
            ("SR", "RSTOS0"),     // SYN then the originator's RST
            ("^hr", "RSTRH"),     // SYN-ACK then RST from the responder, no SYN
            ("SF", "SH"),         // SYN then FIN, no SYN-ACK
            ("^hf", "SHR"),       // SYN-ACK then FIN, no SYN
            ("Dd", "OTH"),        // midstream
            ("ShADadFfR", "SF"),  // RST after both FINs changes nothing
            ("ShAFfR", "SF"),     // the same with an ACK before the FINs
            ("ShADadFRf", "SF"),  // FIN then RST, then the peer's FIN: normal close
            ("ShADaTdtFf", "SF"), // retransmissions
            ("^hADad", "S1"),     // SYN missed: SYN-ACK, ACK, data
            ("AD", "OTH"),        // one side midstream
        ];
        for (history, want) in cases {
            assert_eq!(tcp_conn_state(history).name(), want, "history {history}");
        }
    }

    #[test]
    fn udp_states_say_who_sent() {
        assert_eq!(udp_conn_state(true, true).name(), "SF");
        assert_eq!(udp_conn_state(true, false).name(), "S0");
        assert_eq!(udp_conn_state(false, true).name(), "SHR");
        assert_eq!(udp_conn_state(false, false).name(), "OTH");
    }

    #[test]
    fn rstos0_pattern() {
        assert!(syn_then_reset("SR"));
        assert!(syn_then_reset("^SdR"));
        assert!(!syn_then_reset("SAR"));
        assert!(!syn_then_reset("R"));
    }
}
