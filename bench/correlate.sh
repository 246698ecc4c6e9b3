#!/usr/bin/env bash
# Correlation benchmark: the 3-point hub-and-spoke set of ../shared/bench/gen (client, NVA,
# server; 1.2 GB, clocks skewed 0 / +1.5 / -0.7 s) through flowcheck, against the time it
# takes to read the same files.
#
#   bash bench/correlate.sh           # best of 3
#   RUNS=5 bash bench/correlate.sh
#
# Inputs are generated once in $BENCH_DIR (default /tmp/flowcheck-bench, as bench/run.sh). The
# files are read from the page cache (each is read once before timing). Prints, per run of
# flowcheck on the three points: wall time, throughput, peak memory, and flowcheck's own split
# (FLOWCHECK_TIMINGS=1): the read phase (capture, decode, flow tables, points in parallel)
# and correlation (packet matching, clocks, conversations, verdicts). Target: the whole run in
# at most twice the read phase. Also checks that the skews were found.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SHARED=${SHARED:-$ROOT/../shared}
BENCH_DIR=${BENCH_DIR:-/tmp/flowcheck-bench}
RUNS=${RUNS:-3}
mkdir -p "$BENCH_DIR"
[ -d "$SHARED/bench/gen" ] || { echo "bench: $SHARED/bench/gen not found" >&2; exit 1; }

echo "== building (release)" >&2
cargo build --release --quiet
CARGO_TARGET_DIR="$BENCH_DIR/target" cargo build --release --quiet \
  --manifest-path "$SHARED/bench/gen/Cargo.toml"
FC=$ROOT/target/release/flowcheck
GEN=$BENCH_DIR/target/release/pcapgen

if [ ! -s "$BENCH_DIR/lab-nva.pcap" ] || [ ! -s "$BENCH_DIR/lab-server.pcap" ]; then
  echo "== generating the 3-point set in $BENCH_DIR (once)" >&2
  # as bench/run.sh makes it (the same files, and the generator's report it reads)
  "$GEN" --points --packets 560000 --flows 28000 --seed 2 --asym 0.02 --skew 0,1.5,-0.7 \
    --jitter-us 40 --out "$BENCH_DIR/lab.pcap" 2>&1 | tee "$BENCH_DIR/lab.gen.txt" >&2
fi
FILES=("$BENCH_DIR/lab-client.pcap" "$BENCH_DIR/lab-nva.pcap" "$BENCH_DIR/lab-server.pcap")
POINTS=("client=${FILES[0]}" "nva=${FILES[1]}" "server=${FILES[2]}")
BYTES=$(stat -c %s "${FILES[@]}" | awk '{s+=$1} END {print s}')
cat "${FILES[@]}" >/dev/null # into the page cache

now() { date +%s.%N; }
best_total="" best_read="" best_corr="" best_rss=""
for i in $(seq "$RUNS"); do
  t0=$(now)
  FLOWCHECK_TIMINGS=1 /usr/bin/time -f "rss_kb %M" -o "$BENCH_DIR/correlate.time" \
    "$FC" "${POINTS[@]}" --quiet --no-report 2>"$BENCH_DIR/correlate.err"
  t1=$(now)
  total=$(awk "BEGIN {print $t1 - $t0}")
  read_s=$(sed -n 's/.*timings: read \([0-9.]*\) s.*/\1/p' "$BENCH_DIR/correlate.err")
  corr_s=$(sed -n 's/.*correlate and judge \([0-9.]*\) s.*/\1/p' "$BENCH_DIR/correlate.err")
  rss=$(awk '/rss_kb/ {print $2}' "$BENCH_DIR/correlate.time")
  printf 'run %d: %.2f s (read %.2f s, correlate %.2f s), %d MB peak\n' \
    "$i" "$total" "$read_s" "$corr_s" $((rss / 1024)) >&2
  if [ -z "$best_total" ] || awk "BEGIN {exit !($total < $best_total)}"; then
    best_total=$total best_read=$read_s best_corr=$corr_s best_rss=$rss
  fi
done

# the floor: the bytes alone, from the page cache
t0=$(now); cat "${FILES[@]}" >/dev/null; t1=$(now)
cat_s=$(awk "BEGIN {print $t1 - $t0}")

# what was found: the generator's skews are client 0, NVA +1.5 s, server -0.7 s
"$FC" "${POINTS[@]}" --quiet --no-report --json "$BENCH_DIR/correlate.json"
OFFSETS=$(python3 - "$BENCH_DIR/correlate.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
off = {p["name"]: p["clock_offset_s"] for p in d["points"]}
unc = {p["name"]: p["clock_uncertainty_s"] for p in d["points"]}
want = {"client": 0.0, "nva": 1.5, "server": -0.7}
ref = d["summary"]["clock_reference"]
parts = []
for n, w in want.items():
    found = off[n] - off["client"] if off[n] is not None else None
    parts.append(f"{n} {found:+.6f} s (skew {w:+.1f}, ±{unc[n] * 1e3:.3f} ms)")
m = d["summary"]["matches"]
v = d["summary"]["verdicts"]
print("offsets vs client: " + ", ".join(parts) + f"; reference {ref}")
print(f"matched {m['matched_packets']} of {m['sampled_packets']} sampled packets, "
      f"{m['flow_pairs']} flow pairs; {d['summary']['conversations']} conversations: "
      + ", ".join(f"{k} {n}" for k, n in v.items() if n))
EOF
)

MB=$(awk "BEGIN {print $BYTES / 1e6}")
echo
printf 'correlate 3 points (%.0f MB): %.2f s best of %d = %.0f MB/s, %d MB peak\n' \
  "$MB" "$best_total" "$RUNS" "$(awk "BEGIN {print $MB / $best_total}")" $((best_rss / 1024))
printf '  read phase %.2f s (%.0f MB/s), correlation %.2f s: total / read = %.2f (target <= 2)\n' \
  "$best_read" "$(awk "BEGIN {print $MB / $best_read}")" "$best_corr" \
  "$(awk "BEGIN {print $best_total / $best_read}")"
printf '  floor: cat from the page cache %.2f s (%.0f MB/s)\n' "$cat_s" \
  "$(awk "BEGIN {print $MB / $cat_s}")"
echo "  $OFFSETS" | sed 's/; matched/\n  matched/'
