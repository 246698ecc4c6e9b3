//! Look-alike packets (issue 20, item 1): the same DNS-like exchange repeated by thousands of
//! clients, captured at two points, every packet with the same payload and (IPv4) IP ID 0
//! with DF. Only the flows and the time tell the packets apart; each exchange must come out
//! as a conversation of its own, with no forwarding or NAT claim. The generator is
//! `tests/common/lookalike.rs`; `examples/lookalike.rs` writes the larger sizes measured in
//! the README ("Hostile and broken captures").

mod common;
#[path = "common/lookalike.rs"]
mod lookalike;

use common::{analyse, flowcheck, TempDir};
use lookalike::Lookalike;

/// A size CI can afford (the collapse this guards against took seconds at 1,000 flows and
/// made one conversation of them all).
const FLOWS: u32 = 2_000;

fn spec(v6: bool, echo: bool) -> Lookalike {
    Lookalike {
        flows: FLOWS,
        v6,
        span_ns: 1_000_000_000,
        nat: false,
        echo,
    }
}

/// Runs both points of `spec` and checks what a user would: one conversation per exchange,
/// each seen whole at both points, symmetric, nothing forwarded or rewritten.
fn each_exchange_is_its_own_conversation(spec: Lookalike, name: &str) {
    let dir = TempDir::new(name);
    let [edge, dns] = lookalike::write(dir.path(), &spec).expect("captures written");
    let (run, doc) = analyse(&[edge, dns]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let convs = doc["conversations"].as_array().expect("conversations");
    assert_eq!(
        convs.len(),
        FLOWS as usize,
        "{name}: one conversation per exchange"
    );
    for c in convs {
        assert_eq!(c["verdict"], "symmetric", "{name}: {c}");
        let points = c["points"].as_array().expect("points");
        assert_eq!(points.len(), 2, "{name}: seen at both points: {c}");
        for p in points {
            assert_eq!(p["forward_packets"], 1, "{name}: {p}");
            assert_eq!(p["reverse_packets"], 1, "{name}: {p}");
            assert_eq!(p["forwarded"], false, "{name}: no forwarding claim: {p}");
            assert_eq!(p["nat"], serde_json::json!([]), "{name}: no NAT claim: {p}");
        }
    }
}

#[test]
fn echo_look_alikes_over_ipv4_stay_apart() {
    each_exchange_is_its_own_conversation(spec(false, true), "lookalike-v4-echo");
}

#[test]
fn echo_look_alikes_over_ipv6_stay_apart() {
    each_exchange_is_its_own_conversation(spec(true, true), "lookalike-v6-echo");
}

#[test]
fn dns_look_alikes_stay_apart() {
    each_exchange_is_its_own_conversation(spec(false, false), "lookalike-v4-dns");
}

#[test]
fn a_reply_that_looks_like_its_request_reads_as_a_reply() {
    // at the clients' point the echoed reply has the query's bytes and a TTL one lower
    let dir = TempDir::new("lookalike-one");
    let one = Lookalike {
        flows: 1,
        ..spec(false, true)
    };
    let [edge, _] = lookalike::write(dir.path(), &one).expect("captures written");
    let run = flowcheck(&[edge.as_os_str(), "--color".as_ref(), "never".as_ref()]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert!(
        run.stdout.contains("1 request and 1 reply both seen here"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("forwarded"), "{}", run.stdout);
}
