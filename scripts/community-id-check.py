#!/usr/bin/env python3
"""Checks flowcheck's Community IDs against the reference implementation.

For every capture of the public corpus (../shared/corpus/files), runs flowcheck and computes,
with the `communityid` Python package (corelight's reference implementation, seed 0), the ID
of every TCP, UDP, ICMP and ICMPv6 flow and conversation from the tuple flowcheck printed, and
compares it with flowcheck's `community_id`. Then, as a check that does not trust flowcheck's
tuples, computes the ID of every TCP/UDP/ICMP flow of tshark's flow table
(../shared/corpus/expected) and looks it up among flowcheck's IDs of the same file.

    pip install communityid
    python3 scripts/community-id-check.py [FLOWCHECK_BINARY]

Exit status 0 when every flowcheck ID equals the reference's, 1 otherwise.
"""
import json
import pathlib
import subprocess
import sys

try:
    import communityid
except ImportError:
    sys.exit("community-id-check: the reference is needed: pip install communityid")

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
CID = communityid.CommunityID(seed=0)
FT = communityid.FlowTuple


def split(endpoint, with_port):
    """'1.2.3.4:80' / '[v6]:80' / bare address -> (address, port or None)."""
    if not with_port:
        return endpoint, None
    if endpoint.startswith("["):
        addr, port = endpoint[1:].split("]:")
        return addr, int(port)
    addr, port = endpoint.rsplit(":", 1)
    return addr, int(port)


def reference(proto, a, b, icmp_type=None, icmp_code=None, echo=False):
    """The reference ID of a tuple whose first endpoint sent (for one-way ICMP)."""
    if proto in ("tcp", "udp"):
        (ah, ap), (bh, bp) = split(a, True), split(b, True)
        make = FT.make_tcp if proto == "tcp" else FT.make_udp
        return CID.calc(make(ah, bh, ap, bp))
    make = FT.make_icmp if proto == "icmp" else FT.make_icmp6
    if echo:
        icmp_type, icmp_code = (8, 0) if proto == "icmp" else (128, 0)
    return CID.calc(make(a, b, icmp_type, icmp_code))


def other(ip_proto, a, b):
    """Another protocol: addresses and protocol only. The reference refuses an ICMP message
    too short for its type and SCTP without ports (no ID: None)."""
    try:
        return CID.calc(FT(ip_proto, a, b))
    except communityid.error.FlowTupleError:
        return None


def flow_references(row):
    """Reference IDs a flow row may have: one, or for a one-way ICMP message seen both ways,
    either sender's."""
    proto = row["proto"]
    if "ip_proto" in row:
        return {other(row["ip_proto"], row["a"], row["b"])}
    if "icmp_id" in row:
        return {reference(proto, row["a"], row["b"], echo=True)}
    if "icmp_type" in row:
        t, c = row["icmp_type"], row["icmp_code"]
        senders = []
        if row["packets_ab"]:
            senders.append((row["a"], row["b"]))
        if row["packets_ba"]:
            senders.append((row["b"], row["a"]))
        return {reference(proto, s, d, t, c) for s, d in senders}
    return {reference(proto, row["a"], row["b"])}


def conversation_reference(c):
    proto = c["proto"]
    if c.get("ip_proto") is not None:
        return other(c["ip_proto"], c["client"], c["server"])
    if proto in ("tcp", "udp"):
        if c["client_port"] is None:
            return None  # ports not captured: no ID
        return reference(proto, f"[{c['client']}]:{c['client_port']}" if ":" in c["client"]
                         else f"{c['client']}:{c['client_port']}",
                         f"[{c['server']}]:{c['server_port']}" if ":" in c["server"]
                         else f"{c['server']}:{c['server_port']}")
    if c.get("icmp_id") is not None:
        return reference(proto, c["client"], c["server"], echo=True)
    return reference(proto, c["client"], c["server"], c["icmp_type"], c["icmp_code"])


def checked(row):
    """TCP, UDP, ICMP, ICMPv6 and other protocols; not TCP/UDP whose ports were not captured
    (flowcheck gives them no ID, as the spec allows)."""
    return not row.get("ports_unknown")


def tshark_reference(row):
    proto = row["proto"]
    if proto not in ("tcp", "udp", "icmp", "icmpv6") or row.get("ports_unknown"):
        return None
    if "ident" in row:
        return {reference(proto, row["a"], row["b"], echo=True)}
    if "icmp_type" in row:
        if row["icmp_type"] is None:
            return None  # too short for its type: no ID
        return flow_references(row)
    return {reference(proto, row["a"], row["b"])}


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "target" / "release" / "flowcheck")
    files = sorted((CORPUS / "files").iterdir())
    totals = {"flows": 0, "conversations": 0, "mismatches": 0, "tshark_flows": 0, "tshark_missing": 0}
    for path in files:
        run = subprocess.run([binary, str(path), "--json", "-", "--no-report", "-q"],
                             capture_output=True, check=False)
        if run.returncode not in (0, 2) or not run.stdout:
            print(f"{path.name}: flowcheck exit {run.returncode}: {run.stderr.decode()[:200]}")
            totals["mismatches"] += 1
            continue
        doc = json.loads(run.stdout)
        ids = set()
        for row in doc["flows"]:
            if not checked(row):
                continue
            totals["flows"] += 1
            ids.add(row["community_id"])
            want = flow_references(row)
            if row["community_id"] not in want:
                totals["mismatches"] += 1
                print(f"{path.name}: flow {row['proto']} {row['a']} {row['b']}: "
                      f"flowcheck {row['community_id']}, reference {sorted(want)}")
        for c in doc["conversations"]:
            totals["conversations"] += 1
            want = conversation_reference(c)
            if c["community_id"] != want:
                totals["mismatches"] += 1
                print(f"{path.name}: conversation {c['id']}: flowcheck {c['community_id']}, "
                      f"reference {want}")
        expected = CORPUS / "expected" / f"{path.name}.flows.jsonl"
        if expected.exists():
            for line in expected.read_text().splitlines():
                want = tshark_reference(json.loads(line))
                if want is None:
                    continue
                totals["tshark_flows"] += 1
                if not want & ids:
                    totals["tshark_missing"] += 1
                    print(f"{path.name}: tshark flow {line[:160]} has no flowcheck flow "
                          "with its ID (see tests/corpus.rs for known differences)")
    print(f"{len(files)} files: {totals['flows']} flows and {totals['conversations']} conversations "
          f"checked, {totals['mismatches']} differ from the reference; "
          f"{totals['tshark_flows']} tshark flows, {totals['tshark_missing']} without a "
          "flowcheck flow of the same ID")
    return 1 if totals["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main())
