//! The verdicts and their sentences on hand-made conversations.

use super::path::Path;
use super::*;
use crate::correlate::{ConvPoint, Dir, Hop, Loss, Nat, NatSide};
use crate::flow::Endpoint;

fn ep(s: &str, port: u16) -> Endpoint {
    Endpoint {
        ip: s.parse().unwrap(),
        port,
    }
}

/// A point's share of a conversation: packets each way, forwarded each way.
fn at(point: usize, packets: [u64; 2], forwarded: [u64; 2]) -> ConvPoint {
    ConvPoint::for_test(point, packets, forwarded)
}

fn hop(point: usize) -> Hop {
    Hop::for_test(point)
}

/// A UDP conversation 10.0.1.4:4000 -> 10.0.2.4:53 with these points and paths.
fn udp(points: Vec<ConvPoint>, fwd: &[usize], rev: &[usize]) -> Conversation {
    Conversation::udp_for_test(points, fwd, rev)
}

fn names() -> Vec<String> {
    ["client", "nva", "server"].map(String::from).to_vec()
}

#[test]
fn counts_are_written_as_display_writes_them() {
    for n in [0, 1, 9, 10, 99, 100, 12_345, u64::MAX] {
        let mut s = String::new();
        put_u64(&mut s, n);
        assert_eq!(s, n.to_string());
    }
    let plural = |n, what| {
        let mut s = String::new();
        put_count(&mut s, n, what);
        s
    };
    assert_eq!(plural(1, "echo replies"), "1 echo reply");
    assert_eq!(plural(1, "requests"), "1 request");
    assert_eq!(plural(0, "replies"), "0 replies");
    assert_eq!(plural(3, "client packets"), "3 client packets");
}

#[test]
fn paths_compare_by_point_names() {
    let names = names();
    let hops = |v: &[usize]| v.iter().map(|&p| hop(p)).collect::<Vec<_>>();
    let (a, b, c, d) = (
        hops(&[0, 1, 2]),
        hops(&[2, 1, 0]),
        hops(&[0, 0, 2]),
        hops(&[0, 2, 2]),
    );
    let path = |h: &'static [Hop]| Path {
        hops: h,
        names: &names,
    };
    let (a, b, c, d) = (a.leak(), b.leak(), c.leak(), d.leak());
    assert!(path(a).same_points(&path(b)) && path(b).reverse_of(&path(a)));
    assert!(!path(a).reverse_of(&path(a)));
    // as many times each: a set is not enough
    assert!(!path(c).same_points(&path(d)));
    let mut s = String::new();
    path(a).put(&mut s, ", ", |n| n != "nva");
    assert_eq!(s, "client, server");
    let unknown = [hop(7)];
    assert_eq!(
        Path {
            hops: &unknown,
            names: &names
        }
        .name(0),
        "?"
    );
}

#[test]
fn reasons_say_what_each_point_saw() {
    let names = names();
    let reason = |c: &Conversation| super::reason(c, &names, &[]);
    let one = udp(vec![at(0, [1, 1], [0, 0])], &[0], &[0]);
    assert_eq!(reason(&one), "1 request and 1 reply both seen here");
    let three = |p: [u64; 2]| vec![at(0, p, [0, 0]), at(1, p, p), at(2, p, [0, 0])];
    let back = udp(three([2, 2]), &[0, 1, 2], &[2, 1, 0]);
    assert_eq!(
        reason(&back),
        "both directions crossed client -> nva -> server and back; nva forwarded it"
    );
    let mut asym = udp(
        vec![
            at(0, [2, 2], [0, 0]),
            at(1, [2, 0], [2, 0]),
            at(2, [2, 2], [0, 0]),
        ],
        &[0, 1, 2],
        &[2, 0],
    );
    asym.points[1].nat = vec![Nat {
        side: NatSide::Source,
        from: ep("10.0.1.4", 4000),
        to: ep("10.0.0.68", 4000),
    }]
    .into();
    let j = judge_with(&asym, &names, &[]);
    assert_eq!(j.verdict, Verdict::Asymmetric);
    assert_eq!(
        super::reason(&asym, &names, &[]),
        "requests went client -> nva -> server; replies went server -> client directly: nva \
         saw only the requests; nva forwarded the requests with NAT 10.0.1.4 -> 10.0.0.68"
    );
    let mut lost = udp(
        vec![at(0, [3, 0], [0, 0]), at(1, [3, 0], [0, 0])],
        &[0, 1],
        &[],
    );
    lost.losses = vec![Loss::After {
        dir: Dir::Forward,
        point: 1,
    }]
    .into();
    assert_eq!(
        reason(&lost),
        "3 requests seen at client -> nva, no reply anywhere; requests lost after nva (seen \
         arriving at nva, never leaving it: a stateful NVA dropping asymmetric traffic looks \
         exactly like this)"
    );
    let mut synack = udp(vec![at(2, [0, 2], [0, 0])], &[], &[2]);
    synack.ip_proto = 6;
    synack.points[0].synack = true;
    let j = judge_with(&synack, &names, &[1]);
    assert_eq!(j.verdict, Verdict::Bypassed);
    assert_eq!(j.path_verdict, Verdict::Asymmetric);
    assert_eq!(&j.bypassed[..], &[1]);
    assert_eq!(
        super::reason(&synack, &names, &[1]),
        "never reached nva (seen only at server); asymmetric otherwise: 2 server packets \
         (SYN-ACKs) without the client's SYN: the requests took another path"
    );
    // the sentence written from the stored judgement is the one judging again writes, and
    // every case gives one verdict
    for (c, via) in [
        (&one, &[][..]),
        (&back, &[]),
        (&asym, &[]),
        (&lost, &[]),
        (&synack, &[1]),
    ] {
        let j = judge_with(c, &names, via);
        assert_eq!(sentence(c, &names, &j), super::reason(c, &names, via));
        assert_eq!(j.evidence.verdict(), j.path_verdict);
    }
    assert_eq!(judge(&one, &names).evidence, Evidence::BothHere);
    assert_eq!(judge(&back, &names).evidence, Evidence::BothAndBack);
    assert_eq!(judge(&asym, &names).evidence, Evidence::DifferentPaths);
    assert_eq!(judge(&lost, &names).evidence, Evidence::NoReply);
    assert_eq!(
        judge(&synack, &names).evidence,
        Evidence::RepliesOnly(ReplyKind::SynAcks)
    );
}

#[test]
fn replies_alone_at_the_clients_own_point_are_one_way() {
    let names = names();
    // replies server -> nva -> client, nothing from the client anywhere
    let replies = |forwarded_at_client: u64, hosts_client: bool| {
        let mut c = udp(
            vec![
                at(0, [0, 2], [0, forwarded_at_client]),
                at(1, [0, 4], [0, 2]),
                at(2, [0, 2], [0, 0]),
            ],
            &[],
            &[2, 1, 0],
        );
        c.points[0].hosts_client = hosts_client;
        c.route[1][1].forwarded = true;
        c.route[1][2].forwarded = forwarded_at_client > 0;
        c
    };
    let own = replies(0, true);
    assert_eq!(judge_with(&own, &names, &[]).verdict, Verdict::Incomplete);
    assert_eq!(
        super::reason(&own, &names, &[]),
        "2 replies and no request at server, nva, client; client, the client's own point, \
         saw nothing from the client: one-way traffic, or requests sent before the captures \
         began; nva forwarded the replies"
    );
    // a point not known to host the client, or one that forwarded the replies on (an NVA
    // whose own traffic made it look like the client's host), proves nothing: the
    // requests may have taken another path
    for c in [replies(0, false), replies(2, true)] {
        let j = judge_with(&c, &names, &[]);
        assert_eq!(j.verdict, Verdict::Asymmetric);
        assert!(super::reason(&c, &names, &[]).contains("took another path"));
    }
    // TCP says which packets were missing
    let mut tcp = replies(0, true);
    tcp.ip_proto = 6;
    tcp.points[1].synack = true;
    assert_eq!(judge_with(&tcp, &names, &[]).verdict, Verdict::Incomplete);
    assert!(super::reason(&tcp, &names, &[])
        .starts_with("2 server packets and no client packet at server, nva, client; client,"));
    // at one point too: a capture on the client that holds only replies
    let mut alone = udp(vec![at(0, [0, 3], [0, 0])], &[], &[0]);
    alone.points[0].hosts_client = true;
    assert_eq!(judge_with(&alone, &names, &[]).verdict, Verdict::Incomplete);
    let j = judge_with(&alone, &names, &[]);
    assert_eq!(j.verdict, Verdict::Incomplete);
    assert_eq!(j.evidence, Evidence::RepliesAtClientsPoint);
    let sentence = super::sentence(&alone, &names, &j);
    assert_eq!(
        sentence,
        "3 replies and no request; client, the client's own point, saw nothing from the \
         client: one-way traffic, or requests sent before the captures began"
    );
}

#[test]
fn a_judgement_with_its_evidence_stays_two_words() {
    // kept beside every conversation (see correlate's memory budget test): the evidence fits
    // in the judgement's padding
    assert!(std::mem::size_of::<Evidence>() <= 2);
    assert_eq!(std::mem::size_of::<Judgement>(), 16);
}

#[test]
fn the_direction_words_name_the_protocol() {
    let names = names();
    let mut c = udp(vec![at(0, [1, 0], [0, 0])], &[0], &[]);
    assert_eq!(direction_words(&c), ["requests", "replies"]);
    c.ip_proto = 6;
    c.points[0].syn = true;
    assert_eq!(direction_words(&c), ["client packets", "server packets"]);
    assert_eq!(judge(&c, &names).evidence, Evidence::NoReply);
    assert_eq!(
        super::reason(&c, &names, &[]),
        "1 client packet, no reply seen"
    );
    c.kind = KeyKind::Echo { id: 7 };
    assert_eq!(direction_words(&c), ["echo requests", "echo replies"]);
}
