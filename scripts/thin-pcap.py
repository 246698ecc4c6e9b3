#!/usr/bin/env python3
"""Remove a fraction of a classic pcap's records at random, reproducibly: capture loss made
to order (issue 15's proof; captures/variants/README.md says which file was made with it).

    scripts/thin-pcap.py IN.pcap OUT.pcap [--percent 5] [--seed 15]

round(records * percent / 100) records are chosen with Python's random.Random(seed).sample
(the same records for the same seed, file and percent) and left out; the file header and every
other record are copied byte for byte. Prints the 1-based numbers of the records removed.
"""
import argparse
import random
import struct
import sys

MAGICS = {
    b"\xd4\xc3\xb2\xa1": "<", b"\x4d\x3c\xb2\xa1": "<",
    b"\xa1\xb2\xc3\xd4": ">", b"\xa1\xb2\x3c\x4d": ">",
}


def records(data: bytes, endian: str):
    """(start, end) byte ranges of the records after the 24-byte file header."""
    pos, out = 24, []
    while pos < len(data):
        if pos + 16 > len(data):
            sys.exit(f"record header cut short at byte {pos}")
        (caplen,) = struct.unpack_from(endian + "I", data, pos + 8)
        end = pos + 16 + caplen
        if end > len(data):
            sys.exit(f"record at byte {pos} runs past the end of the file")
        out.append((pos, end))
        pos = end
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--percent", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=15)
    a = ap.parse_args()
    data = open(a.input, "rb").read()
    endian = MAGICS.get(data[:4])
    if endian is None:
        sys.exit(f"{a.input}: not a classic pcap file (first bytes {data[:4].hex()})")
    recs = records(data, endian)
    k = round(len(recs) * a.percent / 100)
    gone = set(random.Random(a.seed).sample(range(len(recs)), k))
    with open(a.output, "wb") as out:
        out.write(data[:24])
        for i, (s, e) in enumerate(recs):
            if i not in gone:
                out.write(data[s:e])
    print(f"{a.input}: removed {k} of {len(recs)} records:",
          " ".join(str(i + 1) for i in sorted(gone)))


if __name__ == "__main__":
    main()
