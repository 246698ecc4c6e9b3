use std::net::IpAddr;

use super::conversations::write_conversation;
use super::flows::write_flow;
use super::reference::conversation_row;
use super::*;
use crate::correlate::{
    ConvPoint, Conversation, Dir, Hop, IcmpNote, Loss, MatchSummary, Nat as NatRw, NatSide,
    Rewrite, RewriteAt,
};
use crate::flow::{Endpoint, Flow, FlowKey, KeyKind, Orientation, TtlSet};
use crate::list::OneOrVec;
use crate::point::{PointResult, PointSummary};
use crate::verdict::{Judgement, Verdict};

use crate::test_rng::Rng;

/// Values for the sweep (the generator itself is `test_rng`).
impl Rng {
    fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }
    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len() as u64) as usize]
    }
    /// Mostly small numbers, now and then up to the type's range.
    fn count(&mut self) -> u64 {
        self.next() >> self.below(64)
    }
    fn ts(&mut self) -> i64 {
        match self.below(4) {
            0 => -(self.count() as i64 >> 1),
            1 => self.next() as i64,
            _ => 1_700_000_000_000_000_000 + self.below(1 << 40) as i64,
        }
    }
    fn ip(&mut self) -> IpAddr {
        const V6: [&str; 6] = [
            "2001:db8::1",
            "::",
            "::ffff:10.0.0.1",
            "fe80::1:0:0:2",
            "2001:db8:0:1:0:0:0:ff",
            "1:2:3:4:5:6:7:8",
        ];
        match self.below(3) {
            0 => self.pick(&V6).parse().unwrap(),
            1 => IpAddr::V6(std::net::Ipv6Addr::from(
                (u128::from(self.next()) << 64) | u128::from(self.count()),
            )),
            _ => IpAddr::V4(std::net::Ipv4Addr::from(self.next() as u32)),
        }
    }
    fn endpoint(&mut self) -> Endpoint {
        let any = self.next() as u16;
        Endpoint {
            ip: self.ip(),
            port: self.pick(&[0, 53, 443, 65535, any]),
        }
    }
    fn ttls(&mut self) -> TtlSet {
        let mut t = TtlSet::default();
        for _ in 0..self.below(6) {
            t.insert(self.next() as u8);
        }
        t
    }
    fn kind(&mut self) -> (u8, KeyKind) {
        match self.below(6) {
            0 => (self.pick(&[6, 17]), KeyKind::Ports),
            1 => (self.pick(&[6, 17]), KeyKind::PortsUnknown),
            2 => (
                self.pick(&[1, 58]),
                KeyKind::Echo {
                    id: self.next() as u16,
                },
            ),
            3 => (
                self.pick(&[1, 58]),
                KeyKind::Icmp {
                    icmp_type: self.next() as u8,
                    code: self.next() as u8,
                },
            ),
            4 => (self.pick(&[0, 47, 50, 132, 255]), KeyKind::Other),
            _ => (6, KeyKind::Ports),
        }
    }
    fn encap(&mut self) -> u16 {
        if self.chance(2) {
            0
        } else {
            self.next() as u16
        }
    }
}

const NAMES: [&str; 4] = ["hub-nva", "a\"b\\c\n\u{1}", "spoke\u{8}\u{c}\t\r ü ✓", ""];

fn flow(rng: &mut Rng) -> Flow {
    let (ip_proto, kind) = rng.kind();
    // (orientation and history are private to the flow table: the captures test covers
    // them)
    let mut f = Flow::default();
    f.key = FlowKey::new(ip_proto, kind, rng.endpoint(), rng.endpoint()).0;
    f.packets = [rng.count(), rng.count()];
    f.bytes = [rng.count(), rng.count()];
    f.ip_bytes = [rng.count(), rng.count()];
    f.set_forwarded([rng.count(), rng.count()]);
    f.first_ts = rng.ts();
    f.last_ts = rng.ts();
    f.ttls = [rng.ttls(), rng.ttls()];
    f.encap = rng.encap();
    f
}

fn point(rng: &mut Rng) -> usize {
    // now and then an index with no name
    rng.below(NAMES.len() as u64 + 1) as usize
}

fn conversation(rng: &mut Rng) -> (Conversation, Judgement) {
    let (ip_proto, kind) = rng.kind();
    let orientations = [
        Orientation::Syn,
        Orientation::SynAck,
        Orientation::EchoRequest,
        Orientation::EchoReply,
        Orientation::Port,
        Orientation::First,
        Orientation::Lower,
    ];
    let nat = |rng: &mut Rng| NatRw {
        side: if rng.chance(2) {
            NatSide::Source
        } else {
            NatSide::Destination
        },
        from: rng.endpoint(),
        to: rng.endpoint(),
    };
    let points = (0..rng.below(4))
        .map(|_| ConvPoint {
            point: point(rng),
            // summed over points and directions: no overflow
            packets: [rng.count() >> 4, rng.count() >> 4],
            bytes: [rng.count(), rng.count()],
            ttls: [rng.ttls(), rng.ttls()],
            forwarded: [rng.below(2), rng.below(2)],
            nat: (0..rng.below(3)).map(|_| nat(rng)).collect(),
            history: rng.pick(&["", "ShADadFf", "a\"\\\u{0}"]).into(),
            first_ts: rng.ts(),
            last_ts: rng.ts(),
            ..ConvPoint::default()
        })
        .collect();
    let mut route = [OneOrVec::new(), OneOrVec::new()];
    for r in &mut route {
        for _ in 0..rng.below(4) {
            r.push(Hop {
                point: point(rng),
                ttl: rng.chance(3).then(|| rng.next() as u8),
                ttl_out: rng.chance(2).then(|| rng.next() as u8),
                forwarded: rng.chance(2),
                routers: rng.chance(2).then(|| rng.next() as u8),
                delay_ns: rng.chance(3).then(|| match rng.below(3) {
                    0 => rng.below(10_000_000_000) as i64,
                    1 => -(rng.below(1_000_000) as i64),
                    _ => rng.next() as i64,
                }),
                first_ts: rng.ts(),
            });
        }
    }
    let rewrites = (0..rng.below(3))
        .map(|_| {
            let mut nat = nat(rng);
            if rng.chance(2) {
                nat.to.port = nat.from.port;
            }
            Rewrite {
                dir: Dir::from_index(rng.below(2) as usize),
                at: if rng.chance(2) {
                    RewriteAt::Point(point(rng))
                } else {
                    RewriteAt::Between(point(rng), point(rng))
                },
                nat,
            }
        })
        .collect();
    let losses = (0..rng.below(3))
        .map(|_| {
            let dir = Dir::from_index(rng.below(2) as usize);
            if rng.chance(2) {
                Loss::After {
                    dir,
                    point: point(rng),
                }
            } else {
                Loss::Between {
                    dir,
                    from: point(rng),
                    to: point(rng),
                }
            }
        })
        .collect();
    let icmp_errors = (0..rng.below(3))
        .map(|_| IcmpNote {
            point: point(rng),
            from: rng.ip(),
            v6: rng.chance(2),
            icmp_type: rng.pick(&[1, 2, 3, 4, 11, 12, 200]),
            code: rng.pick(&[0, 1, 3, 4, 9, 13, 77]),
            packets: rng.count(),
        })
        .collect();
    let c = Conversation {
        ip_proto,
        kind,
        client: rng.endpoint(),
        server: rng.endpoint(),
        orientation: rng.pick(&orientations),
        first_ts: rng.ts(),
        last_ts: rng.ts(),
        points,
        icmp_errors,
        encap: rng.encap(),
        route,
        rewrites,
        losses,
        uncovered: (0..rng.below(3))
            .map(|_| crate::correlate::Uncovered {
                point: point(rng),
                dirs: 1 + rng.below(3) as u8,
                before: rng.chance(2),
                window: rng.chance(2).then(|| (rng.ts(), rng.ts())),
                crossed_as: None,
                missed: false,
            })
            .collect(),
        traces: crate::correlate::Traces::default(),
        sampled_packets: rng.count(),
        matched_packets: rng.count(),
        seq_rewritten: rng.chance(3),
        link_group: false,
    };
    let j = Judgement {
        verdict: rng.pick(&Verdict::ALL),
        path_verdict: rng.pick(&Verdict::ALL),
        evidence: crate::verdict::Evidence::NoReply,
        bypassed: (0..rng.below(3)).map(|_| point(rng)).collect(),
    };
    (c, j)
}

fn quoted_names() -> Vec<Vec<u8>> {
    NAMES
        .iter()
        .map(|n| serde_json::to_vec(n).unwrap())
        .collect()
}

#[test]
fn flow_rows_print_as_serde_does() {
    let mut rng = Rng(1);
    let quoted = quoted_names();
    let mut out = Vec::new();
    for _ in 0..20_000 {
        let f = flow(&mut rng);
        let p = rng.below(NAMES.len() as u64) as usize;
        out.clear();
        write_flow(&mut out, &quoted[p], &f);
        let want = serde_json::to_string(&flow_row(NAMES[p], &f)).unwrap();
        assert_eq!(String::from_utf8(out.clone()).unwrap(), want);
    }
}

#[test]
fn conversation_rows_print_as_serde_does() {
    let mut rng = Rng(2);
    let names: Vec<String> = NAMES.iter().map(|n| n.to_string()).collect();
    let quoted = quoted_names();
    let mut out = Vec::new();
    for id in 1..20_000 {
        let (c, j) = conversation(&mut rng);
        let reason = rng.pick(&[
            "",
            "answered on the same path",
            "via \"hub\\nva\"\n\u{7f}\u{1f}é",
        ]);
        out.clear();
        write_conversation(&mut out, id, &c, &j, reason, &quoted, None);
        let row = conversation_row(id, &c, &j, reason.to_string(), &names);
        let want = serde_json::to_string(&row).unwrap();
        assert_eq!(String::from_utf8(out.clone()).unwrap(), want);
    }
}

fn both(a: &Analysis) -> (Vec<u8>, Vec<u8>) {
    let (mut fast, mut reference) = (Vec::new(), Vec::new());
    write(a, &mut fast).unwrap();
    write_reference(a, &mut reference).unwrap();
    (fast, reference)
}

/// Every key of `doc` is named (quoted) in docs/json-schema.md, the page that says what each
/// means: a field added to a writer and not to the page fails here. The keys of the maps
/// whose keys are data (`verdicts`, `not_decoded`, `unsupported_link_types`) are not fields.
fn assert_keys_documented(doc: &[u8]) {
    fn keys(v: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    out.insert(k.clone());
                    if !["verdicts", "not_decoded", "unsupported_link_types"].contains(&k.as_str())
                    {
                        keys(x, out);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|x| keys(x, out)),
            _ => {}
        }
    }
    let page = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/json-schema.md");
    let page = std::fs::read_to_string(&page).unwrap();
    let mut found = std::collections::BTreeSet::new();
    keys(&serde_json::from_slice(doc).unwrap(), &mut found);
    let missing: Vec<&String> = found
        .iter()
        .filter(|k| !page.contains(&format!("\"{k}\"")))
        .collect();
    assert!(
        missing.is_empty(),
        "not in docs/json-schema.md: {missing:?}"
    );
}

#[test]
fn documents_print_as_the_reference_across_chunks() {
    let mut rng = Rng(3);
    // point sizes around the chunk size, an empty point among them
    let sizes = [CHUNK_ROWS + 1, 0, 3, 2 * CHUNK_ROWS, CHUNK_ROWS - 1];
    let points = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| PointResult {
            summary: PointSummary {
                name: NAMES[i % NAMES.len()].to_string(),
                ..PointSummary::default()
            },
            flows: (0..n).map(|_| flow(&mut rng)).collect(),
            links: Vec::new(),
        })
        .collect();
    let mut a = Analysis {
        points,
        conversations: (0..3 * CHUNK_ROWS + 5)
            .map(|_| conversation(&mut rng))
            .collect(),
        clocks: crate::clock::Clocks::default(),
        matches: MatchSummary::default(),
        expect_via: Vec::new(),
        routing: None,
        selection: Default::default(),
    };
    let (fast, reference) = both(&a);
    assert!(fast == reference, "documents differ");
    // narrowed: the ids of the kept rows stay those of the whole list
    let mut narrowed = a.clone();
    let mut k = 0;
    narrowed.retain(|_, _| {
        k += 1;
        k % 3 == 0
    });
    narrowed.selection.expression = Some("every third".into());
    let (fast, reference) = both(&narrowed);
    assert!(fast == reference, "narrowed documents differ");
    assert_keys_documented(&fast);
    let doc: serde_json::Value = serde_json::from_slice(&fast).unwrap();
    assert_eq!(doc["conversations"][1]["id"], 6);
    assert_eq!(
        doc["filter"]["left_out"],
        a.conversations.len() - narrowed.conversations.len()
    );
    serde_json::from_slice::<serde_json::Value>(&fast).unwrap();
    // nothing at all, then one row of each
    a.conversations.truncate(1);
    for p in &mut a.points {
        p.flows.truncate(1);
    }
    let (fast, reference) = both(&a);
    assert_eq!(
        String::from_utf8(fast).unwrap(),
        String::from_utf8(reference).unwrap()
    );
    a.conversations.clear();
    a.points.clear();
    let (fast, reference) = both(&a);
    assert_eq!(
        String::from_utf8(fast).unwrap(),
        String::from_utf8(reference).unwrap()
    );
}

#[test]
fn captures_print_as_the_reference() {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    for set in [
        vec!["stage3".to_string()],
        vec!["variants/stage3-stateful-shifted".to_string()],
        vec!["variants/stage4-any".to_string()],
        vec!["hub-nva.pcap".to_string()],
    ] {
        let args: Vec<String> = set
            .iter()
            .map(|s| here.join(s).display().to_string())
            .collect();
        let inputs = crate::point::resolve_inputs(&args).unwrap();
        // with the folder's route tables, when it has some: the routing rows too
        let routes = here.join(&set[0]).join("routes");
        let aopts = crate::AnalyseOptions {
            routes: routes
                .is_dir()
                .then(|| crate::routes::load(&[crate::routes::RouteArg::Path(routes)]).unwrap()),
            ..crate::AnalyseOptions::default()
        };
        let a = crate::analyse_with(&inputs, &crate::point::ReadOptions::default(), &aopts);
        assert!(!a.conversations.is_empty(), "{set:?}");
        assert_eq!(a.routing.is_some(), set[0] != "hub-nva.pcap");
        let (fast, reference) = both(&a);
        assert!(fast == reference, "{set:?}: documents differ");
        assert_keys_documented(&fast);
    }
}
