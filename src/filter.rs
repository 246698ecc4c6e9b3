//! filter: `--filter EXPR`, tcpdump's filter words evaluated on conversations.
//!
//! The expression selects conversations as the client knows them: the client and server
//! addresses and ports before any NAT (so `host 10.100.204.2` keeps the legs an NVA rewrote),
//! the protocol, and flowcheck's own verdict. It narrows what is reported, never what is read
//! or correlated.
//!
//! Grammar (words are separated by spaces; `(`, `)`, `!`, `&&`, `||` need none):
//!
//! ```text
//! expr      = or
//! or        = and { ("or" | "||") and }
//! and       = not { ("and" | "&&") not }
//! not       = ("not" | "!") not | "(" expr ")" | primitive
//! primitive = [proto] [dir] "host" ADDR            ADDR: IPv4 or IPv6 address
//!           | [proto] [dir] "net" CIDR             CIDR: ADDR "/" LEN, or ADDR (whole address)
//!           | [proto] [dir] "port" NUM
//!           | [proto] [dir] "portrange" NUM "-" NUM
//!           | proto
//!           | "verdict" VERDICT                    asymmetric, bypassed, unanswered, incomplete, symmetric
//! proto     = "tcp" | "udp" | "icmp" | "icmp6" | "ip" | "ip6"
//! dir       = "src" | "dst" | "src or dst" | "src and dst"
//! ```
//!
//! Precedence: `not` binds tighter than `and`, `and` tighter than `or` (as in C; tcpdump gives
//! `and` and `or` the same precedence, which surprises more than it helps). `src` is the
//! client, `dst` the server; `tcp port 80` is `tcp and port 80`. Ports match TCP and UDP
//! conversations whose ports are known. Words tcpdump has and this has not (`ether`, `len`,
//! `proto`, service names, implicit `host` for a bare address, repeated qualifiers such as
//! `host a or b`) are errors that name the word and its position.
//!
//! Written here rather than taken from a crate: the crates that parse these words
//! (`pcap-toolkit`'s `bpf`, `pktbaffle`) evaluate them on raw packets or compile them to BPF
//! bytecode; flowcheck evaluates on its own conversations, after NAT was undone, with a word
//! (`verdict`) of its own.

use std::net::IpAddr;

use crate::decode::proto;
use crate::verdict::Verdict;

/// Why an expression could not be parsed: the offending word and where it starts (the
/// character position in the expression, 1-based).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("the expression is empty")]
    Empty,
    #[error("'{word}' at character {at}: {expected}")]
    Unexpected {
        word: String,
        at: usize,
        expected: &'static str,
    },
    #[error("the expression ends after '{word}': {expected}")]
    EndsEarly {
        word: String,
        at: usize,
        expected: &'static str,
    },
    #[error("'{word}' at character {at}: {why}")]
    BadValue {
        word: String,
        at: usize,
        why: String,
    },
}

impl FilterError {
    /// The offending word and its character position (1-based), when there is one.
    pub fn word(&self) -> Option<(&str, usize)> {
        match self {
            FilterError::Empty => None,
            FilterError::Unexpected { word, at, .. }
            | FilterError::EndsEarly { word, at, .. }
            | FilterError::BadValue { word, at, .. } => Some((word, *at)),
        }
    }
}

/// Which end of the conversation a `host`, `net` or `port` is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// The client (`src`).
    Src,
    /// The server (`dst`).
    Dst,
    /// Either (no qualifier, or `src or dst`).
    Either,
    /// Both (`src and dst`).
    Both,
}

/// An address block: `10.0.0.0/8`, `2001:db8::/32`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Net {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// A protocol word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
    Icmp,
    Icmp6,
    /// IPv4.
    Ip,
    /// IPv6.
    Ip6,
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Host(Dir, IpAddr),
    Net(Dir, Net),
    /// Ports `lo..=hi` (`port N` is `N..=N`).
    Port(Dir, u16, u16),
    Proto(Proto),
    Verdict(Verdict),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

/// What an expression is evaluated on: a conversation as the client knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subject {
    pub ip_proto: u8,
    pub client: IpAddr,
    pub server: IpAddr,
    /// Known for TCP and UDP conversations only.
    pub ports: Option<(u16, u16)>,
    pub verdict: Verdict,
}

impl Subject {
    /// A judged conversation as the filter sees it.
    pub fn of(c: &crate::correlate::Conversation, verdict: Verdict) -> Subject {
        Subject {
            ip_proto: c.ip_proto,
            client: c.client.ip,
            server: c.server.ip,
            ports: (c.kind == crate::flow::KeyKind::Ports)
                .then_some((c.client.port, c.server.port)),
            verdict,
        }
    }
}

impl Expr {
    /// Parses a filter expression.
    pub fn parse(s: &str) -> Result<Expr, FilterError> {
        let tokens = tokenize(s);
        if tokens.is_empty() {
            return Err(FilterError::Empty);
        }
        let mut p = Parser { tokens, pos: 0 };
        let e = p.or()?;
        match p.peek() {
            None => Ok(e),
            Some(t) => Err(p.unexpected(t, "expected 'and', 'or' or the end")),
        }
    }

    /// True when the conversation matches.
    pub fn matches(&self, s: &Subject) -> bool {
        match self {
            Expr::Host(d, ip) => on_ends(*d, s, |a| a == *ip),
            Expr::Net(d, n) => on_ends(*d, s, |a| n.contains(a)),
            Expr::Port(d, lo, hi) => match s.ports {
                Some((c, v)) => {
                    let inr = |p: u16| (*lo..=*hi).contains(&p);
                    match d {
                        Dir::Src => inr(c),
                        Dir::Dst => inr(v),
                        Dir::Either => inr(c) || inr(v),
                        Dir::Both => inr(c) && inr(v),
                    }
                }
                None => false,
            },
            Expr::Proto(p) => match p {
                Proto::Tcp => s.ip_proto == proto::TCP,
                Proto::Udp => s.ip_proto == proto::UDP,
                Proto::Icmp => s.ip_proto == proto::ICMP,
                Proto::Icmp6 => s.ip_proto == proto::ICMPV6,
                Proto::Ip => s.client.is_ipv4(),
                Proto::Ip6 => s.client.is_ipv6(),
            },
            Expr::Verdict(v) => s.verdict == *v,
            Expr::Not(e) => !e.matches(s),
            Expr::And(a, b) => a.matches(s) && b.matches(s),
            Expr::Or(a, b) => a.matches(s) || b.matches(s),
        }
    }
}

fn on_ends(d: Dir, s: &Subject, f: impl Fn(IpAddr) -> bool) -> bool {
    match d {
        Dir::Src => f(s.client),
        Dir::Dst => f(s.server),
        Dir::Either => f(s.client) || f(s.server),
        Dir::Both => f(s.client) && f(s.server),
    }
}

/// A word and its character position (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    word: String,
    at: usize,
}

/// Splits at spaces; `(`, `)`, `!`, `&&` and `||` are words of their own.
fn tokenize(s: &str) -> Vec<Token> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let pair = chars.get(i + 1) == Some(&c) && matches!(c, '&' | '|');
        if pair {
            out.push(Token {
                word: format!("{c}{c}"),
                at: i + 1,
            });
            i += 2;
            continue;
        }
        if matches!(c, '(' | ')' | '!') {
            out.push(Token {
                word: c.to_string(),
                at: i + 1,
            });
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && !ends_word(&chars, i) {
            i += 1;
        }
        out.push(Token {
            word: chars[start..i].iter().collect(),
            at: start + 1,
        });
    }
    out
}

/// True when the character at `i` is not part of a word: a space, a parenthesis, `!`, or the
/// start of `&&` / `||`.
fn ends_word(chars: &[char], i: usize) -> bool {
    let c = chars[i];
    c.is_whitespace()
        || matches!(c, '(' | ')' | '!')
        || (matches!(c, '&' | '|') && chars.get(i + 1) == Some(&c))
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

const PRIMITIVE: &str =
    "expected a filter word (host, net, port, portrange, tcp, udp, icmp, icmp6, ip, ip6, \
     verdict, not, '(')";

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_is(&self, words: &[&str]) -> bool {
        self.peek()
            .is_some_and(|t| words.contains(&t.word.as_str()))
    }

    fn unexpected(&self, t: &Token, expected: &'static str) -> FilterError {
        FilterError::Unexpected {
            word: t.word.clone(),
            at: t.at,
            expected,
        }
    }

    /// The next word, or an error saying the expression ended where `expected` was due.
    fn next(&mut self, expected: &'static str) -> Result<Token, FilterError> {
        match self.tokens.get(self.pos) {
            Some(t) => {
                self.pos += 1;
                Ok(t.clone())
            }
            None => {
                let last = self.tokens.last().cloned().unwrap_or(Token {
                    word: String::new(),
                    at: 0,
                });
                Err(FilterError::EndsEarly {
                    word: last.word,
                    at: last.at,
                    expected,
                })
            }
        }
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        self.chain(&["or", "||"], Parser::and, Expr::Or)
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        self.chain(&["and", "&&"], Parser::not, Expr::And)
    }

    /// `operand { op operand }`, joined from the left.
    fn chain(
        &mut self,
        ops: &[&str],
        operand: fn(&mut Parser) -> Result<Expr, FilterError>,
        join: fn(Box<Expr>, Box<Expr>) -> Expr,
    ) -> Result<Expr, FilterError> {
        let mut e = operand(self)?;
        while self.peek_is(ops) {
            self.pos += 1;
            e = join(Box::new(e), Box::new(operand(self)?));
        }
        Ok(e)
    }

    fn not(&mut self) -> Result<Expr, FilterError> {
        let t = self.next(PRIMITIVE)?;
        match t.word.as_str() {
            "not" | "!" => Ok(Expr::Not(Box::new(self.not()?))),
            "(" => {
                let e = self.or()?;
                let close = self.next("expected ')'")?;
                if close.word != ")" {
                    return Err(self.unexpected(&close, "expected ')', 'and' or 'or'"));
                }
                Ok(e)
            }
            _ => self.primitive(t),
        }
    }

    fn primitive(&mut self, t: Token) -> Result<Expr, FilterError> {
        if t.word == "verdict" {
            let v = self.next("expected a verdict (asymmetric, bypassed, ...)")?;
            return match Verdict::from_name(&v.word) {
                Some(verdict) => Ok(Expr::Verdict(verdict)),
                None => Err(FilterError::BadValue {
                    word: v.word,
                    at: v.at,
                    why: format!("not a verdict (one of: {})", verdict_names()),
                }),
            };
        }
        let proto = proto_word(&t.word);
        let t = match proto {
            // `tcp port 80`: the protocol qualifies what follows
            Some(_) if self.peek_is(&["src", "dst", "host", "net", "port", "portrange"]) => {
                self.next(PRIMITIVE)?
            }
            Some(p) => return Ok(Expr::Proto(p)),
            None => t,
        };
        let (dir, t) = self.direction(t)?;
        let e = match t.word.as_str() {
            "host" => {
                let a = self.next("expected an address after 'host'")?;
                Expr::Host(dir, address(&a)?)
            }
            "net" => {
                let a = self.next("expected an address block (10.0.0.0/8) after 'net'")?;
                Expr::Net(dir, net(&a)?)
            }
            "port" => {
                let a = self.next("expected a port number after 'port'")?;
                let p = port(&a.word, &a)?;
                Expr::Port(dir, p, p)
            }
            "portrange" => {
                let a = self.next("expected LOW-HIGH after 'portrange'")?;
                let (lo, hi) = a
                    .word
                    .split_once('-')
                    .ok_or_else(|| FilterError::BadValue {
                        word: a.word.clone(),
                        at: a.at,
                        why: "expected LOW-HIGH (1024-65535)".into(),
                    })?;
                let (lo, hi) = (port(lo, &a)?, port(hi, &a)?);
                Expr::Port(dir, lo.min(hi), lo.max(hi))
            }
            _ => {
                let expected = if proto.is_some() || dir != Dir::Either {
                    "expected host, net, port or portrange"
                } else {
                    PRIMITIVE
                };
                return Err(self.unexpected(&t, expected));
            }
        };
        Ok(match proto {
            Some(p) => Expr::And(Box::new(Expr::Proto(p)), Box::new(e)),
            None => e,
        })
    }

    /// `src`, `dst`, `src or dst`, `src and dst` before `t`'s keyword; returns the keyword.
    fn direction(&mut self, t: Token) -> Result<(Dir, Token), FilterError> {
        let single = match t.word.as_str() {
            "src" => Dir::Src,
            "dst" => Dir::Dst,
            _ => return Ok((Dir::Either, t)),
        };
        let two = self
            .tokens
            .get(self.pos + 1)
            .is_some_and(|n| matches!(n.word.as_str(), "src" | "dst") && n.word != t.word);
        if two && self.peek_is(&["or", "and"]) {
            let op = self.next(PRIMITIVE)?;
            self.pos += 1;
            let dir = if op.word == "or" {
                Dir::Either
            } else {
                Dir::Both
            };
            return Ok((dir, self.next("expected host, net, port or portrange")?));
        }
        Ok((single, self.next("expected host, net, port or portrange")?))
    }
}

fn verdict_names() -> String {
    let all: Vec<&str> = Verdict::ALL.iter().map(|v| v.name()).collect();
    all.join(", ")
}

fn proto_word(w: &str) -> Option<Proto> {
    Some(match w {
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        "icmp" => Proto::Icmp,
        "icmp6" => Proto::Icmp6,
        "ip" => Proto::Ip,
        "ip6" => Proto::Ip6,
        _ => return None,
    })
}

fn address(t: &Token) -> Result<IpAddr, FilterError> {
    t.word.parse().map_err(|_| FilterError::BadValue {
        word: t.word.clone(),
        at: t.at,
        why: "not an IPv4 or IPv6 address".into(),
    })
}

fn net(t: &Token) -> Result<Net, FilterError> {
    let bad = |why: &str| FilterError::BadValue {
        word: t.word.clone(),
        at: t.at,
        why: why.into(),
    };
    let (addr, len) = match t.word.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (t.word.as_str(), None),
    };
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| bad("not an address block (10.0.0.0/8, 2001:db8::/32)"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match len {
        None => max,
        Some(l) => match l.parse::<u8>() {
            Ok(p) if p <= max => p,
            _ => return Err(bad(&format!("the prefix length must be 0 to {max}"))),
        },
    };
    // tcpdump refuses host bits set beyond the mask: they usually mean a typo
    let beyond = match addr {
        IpAddr::V4(a) => u32::from(a).checked_shl(u32::from(prefix)).unwrap_or(0) != 0,
        IpAddr::V6(a) => u128::from(a).checked_shl(u32::from(prefix)).unwrap_or(0) != 0,
    };
    if beyond {
        return Err(bad("the address has bits set beyond the prefix length"));
    }
    Ok(Net { addr, prefix })
}

fn port(s: &str, t: &Token) -> Result<u16, FilterError> {
    s.parse().map_err(|_| FilterError::BadValue {
        word: t.word.clone(),
        at: t.at,
        why: "not a port number (0 to 65535)".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(client: &str, cport: u16, server: &str, sport: u16, proto: u8) -> Subject {
        Subject {
            ip_proto: proto,
            client: client.parse().unwrap(),
            server: server.parse().unwrap(),
            ports: matches!(proto, 6 | 17).then_some((cport, sport)),
            verdict: Verdict::Symmetric,
        }
    }

    fn m(expr: &str, s: &Subject) -> bool {
        Expr::parse(expr)
            .unwrap_or_else(|e| panic!("{expr}: {e}"))
            .matches(s)
    }

    #[test]
    fn not_binds_tighter_than_and_and_tighter_than_or() {
        let icmp = subject("10.0.0.1", 0, "10.0.0.2", 0, 1);
        // not (icmp and tcp) would be true; (not icmp) and tcp is false
        assert!(!m("not icmp and tcp", &icmp));
        // icmp or (tcp and udp): true; (icmp or tcp) and udp: false
        assert!(m("icmp or tcp and udp", &icmp));
        assert!(!m("(icmp or tcp) and udp", &icmp));
        assert!(m("! tcp && ! udp", &icmp));
        assert!(m("!(tcp||udp)", &icmp));
        assert!(!m("not not tcp", &icmp));
        assert_eq!(
            Expr::parse("tcp or udp and icmp").unwrap(),
            Expr::Or(
                Box::new(Expr::Proto(Proto::Tcp)),
                Box::new(Expr::And(
                    Box::new(Expr::Proto(Proto::Udp)),
                    Box::new(Expr::Proto(Proto::Icmp))
                ))
            )
        );
    }

    #[test]
    fn hosts_ports_and_directions_are_the_client_and_the_server() {
        let s = subject("10.100.204.2", 36016, "10.100.201.4", 8080, 6);
        assert!(m("host 10.100.204.2", &s));
        assert!(m("host 10.100.201.4", &s));
        assert!(m("src host 10.100.204.2", &s));
        assert!(!m("dst host 10.100.204.2", &s));
        assert!(m("dst port 8080 and tcp", &s));
        assert!(!m("src port 8080", &s));
        assert!(m("tcp dst port 8080", &s));
        assert!(!m("udp port 8080", &s));
        assert!(m("portrange 8000-8100", &s));
        assert!(m("src portrange 36000-36100", &s));
        assert!(m("src or dst port 36016", &s));
        assert!(!m("src and dst port 36016", &s));
        assert!(m("src and dst net 10.100.0.0/16", &s));
        // ICMP has no ports
        let ping = subject("10.100.204.2", 0, "10.100.201.4", 0, 1);
        assert!(!m("port 0", &ping));
        assert!(m("icmp and not port 0", &ping));
    }

    #[test]
    fn nets_take_cidr_for_both_families() {
        let v4 = subject("10.100.204.2", 1, "10.100.201.4", 2, 17);
        assert!(m("net 10.100.204.0/24", &v4));
        assert!(m("src net 10.100.204.0/24", &v4));
        assert!(!m("dst net 10.100.204.0/24", &v4));
        assert!(m("net 0.0.0.0/0", &v4));
        assert!(m("net 10.100.201.4", &v4));
        assert!(!m("net 2001:db8::/32", &v4));
        let v6 = subject("2001:db8::1", 1, "fe80::1", 2, 17);
        assert!(m("net 2001:db8::/32", &v6));
        assert!(m("dst net fe80::/10", &v6));
        assert!(!m("src net fe80::/10", &v6));
        assert!(m("host 2001:db8::1 and ip6 and not ip", &v6));
        assert!(m("net ::/0", &v6));
        assert!(!m("net 10.0.0.0/8", &v6));
    }

    #[test]
    fn verdicts_and_protocols() {
        let mut s = subject("fe80::1", 0, "ff02::16", 0, 58);
        s.verdict = Verdict::Incomplete;
        assert!(m("icmp6", &s));
        assert!(!m("icmp", &s));
        assert!(m("verdict incomplete", &s));
        assert!(!m("verdict asymmetric and icmp6", &s));
        assert!(m("not verdict asymmetric", &s));
    }

    fn err(expr: &str) -> FilterError {
        match Expr::parse(expr) {
            Ok(e) => panic!("{expr} parsed as {e:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn errors_name_the_word_and_where_it_is() {
        assert_eq!(err(""), FilterError::Empty);
        assert_eq!(err("   "), FilterError::Empty);
        assert_eq!(err("hots 10.0.0.1").word(), Some(("hots", 1)));
        assert_eq!(err("host 10.0.0.300").word(), Some(("10.0.0.300", 6)));
        assert_eq!(err("tcp and port http").word(), Some(("http", 14)));
        assert_eq!(err("port 70000").word(), Some(("70000", 6)));
        assert_eq!(err("net 10.0.0.0/33").word(), Some(("10.0.0.0/33", 5)));
        assert_eq!(err("net 10.0.0.1/8").word(), Some(("10.0.0.1/8", 5)));
        assert_eq!(
            err("net 2001:db8::/129").word(),
            Some(("2001:db8::/129", 5))
        );
        assert_eq!(err("verdict weird").word(), Some(("weird", 9)));
        assert_eq!(err("tcp udp").word(), Some(("udp", 5)));
        assert_eq!(err("(tcp or udp").word(), Some(("udp", 9)));
        assert_eq!(err("tcp)").word(), Some((")", 4)));
        assert_eq!(err("src 10.0.0.1").word(), Some(("10.0.0.1", 5)));
        assert_eq!(err("portrange 10").word(), Some(("10", 11)));
        assert!(matches!(err("host"), FilterError::EndsEarly { .. }));
        assert!(matches!(err("tcp and"), FilterError::EndsEarly { .. }));
        assert!(matches!(err("not"), FilterError::EndsEarly { .. }));
        // positions count characters, not bytes
        assert_eq!(err("host é").word(), Some(("é", 6)));
        assert_eq!(err("é").word(), Some(("é", 1)));
        let text = err("tcp and prot 80").to_string();
        assert!(text.contains("'prot' at character 9"), "{text}");
    }

    #[test]
    fn operators_need_no_spaces() {
        let t = tokenize("(tcp||udp)&&!icmp");
        let words: Vec<&str> = t.iter().map(|t| t.word.as_str()).collect();
        assert_eq!(words, ["(", "tcp", "||", "udp", ")", "&&", "!", "icmp"]);
        assert_eq!(t[2].at, 5);
    }
}
