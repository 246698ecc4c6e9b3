#!/usr/bin/env bash
# Benchmark: flowcheck against the machine's read floor and, when installed, tshark and argus.
#
#   bash bench/run.sh            # all inputs, peers included
#   PEERS=0 bash bench/run.sh    # flowcheck and the floor only
#   RUNS=5 bash bench/run.sh     # best of 5 for flowcheck (default 3)
#
# Inputs are made by ../shared/bench/gen (deterministic) in $BENCH_DIR (default /tmp/flowcheck-bench,
# outside the repository; about 3.5 GB): the 2 GB single-point capture, the same generator 10x
# smaller, and the 3-point hub-and-spoke set. Files are kept between runs and read from the page
# cache (each row's inputs are read once just before it is timed, and a run that still read
# from disk is passed over, or reported under the table when every run did). Not part of CI:
# it needs minutes and several GB. The bulk exports (--zeek --parquet --csv) are timed against
# --json and against the analysis alone on the 2 GB capture, their runs alternated.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SHARED=${SHARED:-$ROOT/../shared}
BENCH_DIR=${BENCH_DIR:-/tmp/flowcheck-bench}
RUNS=${RUNS:-3}
PEERS=${PEERS:-1}
mkdir -p "$BENCH_DIR"

[ -d "$SHARED/bench/gen" ] || { echo "bench: $SHARED/bench/gen not found (../shared must sit beside the project)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "bench: python3 is needed to read the JSON" >&2; exit 1; }

echo "== building (release)" >&2
cargo build --release --quiet
CARGO_TARGET_DIR="$BENCH_DIR/target" cargo build --release --quiet --manifest-path "$SHARED/bench/gen/Cargo.toml"
CARGO_TARGET_DIR="$BENCH_DIR/target" cargo build --release --quiet --manifest-path "$SHARED/bench/floor/Cargo.toml"
FC=$ROOT/target/release/flowcheck
GEN=$BENCH_DIR/target/release/pcapgen
FLOOR=$BENCH_DIR/target/release/pcapfloor

gen() { # gen OUT ARGS...: generate once
  local out=$1; shift
  [ -s "$out" ] || "$GEN" "$@" --out "$out" >&2
}
echo "== generating inputs in $BENCH_DIR (once)" >&2
gen "$BENCH_DIR/big.pcap" --packets 3800000 --flows 200000 --seed 1
gen "$BENCH_DIR/small.pcap" --packets 380000 --flows 20000 --seed 1
if [ ! -s "$BENCH_DIR/lab-nva.pcap" ]; then
  "$GEN" --points --packets 560000 --flows 28000 --seed 2 --asym 0.02 --skew 0,1.5,-0.7 \
    --jitter-us 40 --out "$BENCH_DIR/lab.pcap" 2>&1 | tee "$BENCH_DIR/lab.gen.txt" >&2
fi
LAB=("client=$BENCH_DIR/lab-client.pcap" "nva=$BENCH_DIR/lab-nva.pcap" "server=$BENCH_DIR/lab-server.pcap")
for f in big small lab-client lab-nva lab-server; do cat "$BENCH_DIR/$f.pcap" >/dev/null; done

size() { stat -c %s "$@" | awk '{s+=$1} END {print s}'; }
packets() { # classic pcap record count via the floor tool
  "$FLOOR" read "$1" | sed -n 's/.*packets=\([0-9]*\).*/\1/p'
}

ROWS=()
DISK_NOTES=()
# measure NAME INPUT_BYTES PACKETS RUNS CMD...: best wall time of RUNS runs, with its peak RSS.
# A run that had to read part of its input from disk (the page cache evicted it: a memory
# limit, or other files) is not a page-cache run: it counts only when every run did, and the
# table then says so.
measure() {
  local name=$1 bytes=$2 pkts=$3 runs=$4; shift 4
  local best="" rss="" disk="" t m io
  for _ in $(seq "$runs"); do
    sync # the previous run's output is written back before this one, not during it
    /usr/bin/time -f "%e %M %I" -o "$BENCH_DIR/time.txt" "$@" >/dev/null 2>"$BENCH_DIR/stderr.txt" || {
      echo "bench: '$*' failed:" >&2; cat "$BENCH_DIR/stderr.txt" >&2; return 1; }
    read -r t m io <"$BENCH_DIR/time.txt"
    # prefer runs that read nothing from disk, then the fastest
    if [ -z "$best" ] || { [ "$io" -eq 0 ] && [ "$disk" -gt 0 ]; } ||
      { [ $((io > 0)) -eq $((disk > 0)) ] && awk "BEGIN {exit !($t < $best)}"; }; then
      best=$t; rss=$m; disk=$io
    fi
  done
  ROWS+=("$name|$bytes|$pkts|$best|$rss")
  local from_disk=""
  if [ "$disk" -ge 2048 ]; then # 1 MiB: less is a program's own files
    from_disk=$(awk -v b="$disk" 'BEGIN {printf "%.1f MiB", b * 512 / 1048576}')
    DISK_NOTES+=("$name read $from_disk from disk in its best run (input or program files that were not in the page cache)")
  fi
  echo "   $name: ${best}s, $((rss / 1024)) MiB${from_disk:+, $from_disk from disk}" >&2
}

BIG_BYTES=$(size "$BENCH_DIR/big.pcap"); BIG_PKTS=$(packets "$BENCH_DIR/big.pcap")
SMALL_BYTES=$(size "$BENCH_DIR/small.pcap"); SMALL_PKTS=$(packets "$BENCH_DIR/small.pcap")
LAB_BYTES=$(size "$BENCH_DIR"/lab-{client,nva,server}.pcap)
LAB_PKTS=$(( $(packets "$BENCH_DIR/lab-client.pcap") + $(packets "$BENCH_DIR/lab-nva.pcap") + $(packets "$BENCH_DIR/lab-server.pcap") ))

NOREPORT=()
"$FC" --help | grep -q -- --no-report && NOREPORT=(--no-report)

# before a row is timed: write back what the rows before wrote (the kernel would otherwise do
# it during this row, on the same cores), and read the row's inputs again, in case the rows
# before pushed some of them out of the page cache
warm() { sync; cat "$@" >/dev/null; }
LAB_FILES=("$BENCH_DIR"/lab-{client,nva,server}.pcap)

echo "== timing" >&2
warm "$BENCH_DIR/big.pcap"
measure "floor: read() walk, big" "$BIG_BYTES" "$BIG_PKTS" "$RUNS" "$FLOOR" read "$BENCH_DIR/big.pcap"
measure "floor: naive 5-tuple table, big" "$BIG_BYTES" "$BIG_PKTS" "$RUNS" "$FLOOR" readflows "$BENCH_DIR/big.pcap"
# the performance issue's yardstick: mmap walk + std HashMap with SipHash (0.47 s on its machine)
measure "floor: naive table (mmap, SipHash), big" "$BIG_BYTES" "$BIG_PKTS" "$RUNS" "$FLOOR" flows "$BENCH_DIR/big.pcap"
warm "$BENCH_DIR/big.pcap"
measure "flowcheck big --json" "$BIG_BYTES" "$BIG_PKTS" "$RUNS" "$FC" "$BENCH_DIR/big.pcap" --json "$BENCH_DIR/big.json" "${NOREPORT[@]}" -q
# The bulk exports against --json, on the same input: the three runs alternate (analysis only,
# --json, --zeek --parquet --csv), so that a slow phase of a shared machine hits them alike;
# each keeps its best wall time and, separately, its least processor time (user + sys, which
# other work on a shared machine disturbs less)
EXPORTS=("$FC" "$BENCH_DIR/big.pcap" --zeek "$BENCH_DIR/big-zeek" --parquet "$BENCH_DIR/big-parquet" --csv "$BENCH_DIR/big.csv" "${NOREPORT[@]}" -q)
if "$FC" --help | grep -q -- --parquet; then
  warm "$BENCH_DIR/big.pcap"
  declare -A BEST=() BEST_RSS=() BEST_CPU=()
  ALT_NAMES=("flowcheck big, no output" "flowcheck big --json" "flowcheck big --zeek --parquet --csv")
  for _ in $(seq "$RUNS"); do
    for n in "${ALT_NAMES[@]}"; do
      case "$n" in
        *"no output") cmd=("$FC" "$BENCH_DIR/big.pcap" "${NOREPORT[@]}" -q) ;;
        *"--json") cmd=("$FC" "$BENCH_DIR/big.pcap" --json "$BENCH_DIR/big.json" "${NOREPORT[@]}" -q) ;;
        *) cmd=("${EXPORTS[@]}") ;;
      esac
      sync
      /usr/bin/time -f "%e %M %U %S" -o "$BENCH_DIR/time.txt" "${cmd[@]}" >/dev/null 2>"$BENCH_DIR/stderr.txt" || {
        echo "bench: '${cmd[*]}' failed:" >&2; cat "$BENCH_DIR/stderr.txt" >&2; exit 1; }
      read -r t m u s <"$BENCH_DIR/time.txt"
      if [ -z "${BEST[$n]:-}" ] || awk "BEGIN {exit !($t < ${BEST[$n]})}"; then
        BEST[$n]=$t; BEST_RSS[$n]=$m
      fi
      cpu=$(awk -v u="$u" -v s="$s" 'BEGIN {print u + s}')
      if [ -z "${BEST_CPU[$n]:-}" ] || awk "BEGIN {exit !($cpu < ${BEST_CPU[$n]})}"; then
        BEST_CPU[$n]=$cpu
      fi
    done
  done
  for n in "${ALT_NAMES[@]}"; do
    ROWS+=("$n (alternated)|$BIG_BYTES|$BIG_PKTS|${BEST[$n]}|${BEST_RSS[$n]}")
    echo "   $n (alternated): ${BEST[$n]}s, user+sys ${BEST_CPU[$n]}s" >&2
  done
  EXPORT_NOTE=$(awk -v a="${BEST[${ALT_NAMES[0]}]}" -v j="${BEST[${ALT_NAMES[1]}]}" -v x="${BEST[${ALT_NAMES[2]}]}" \
    -v ca="${BEST_CPU[${ALT_NAMES[0]}]}" -v cj="${BEST_CPU[${ALT_NAMES[1]}]}" -v cx="${BEST_CPU[${ALT_NAMES[2]}]}" 'BEGIN {
    printf "Bulk exports (--zeek --parquet --csv) add %.2f s to the analysis of big, --json adds %.2f s (best wall time of each, runs alternated); in processor time (user + sys, least of each) the exports add %.2f s, --json %.2f s.", x - a, j - a, cx - ca, cj - ca }')
fi
warm "$BENCH_DIR/small.pcap"
measure "flowcheck small --json" "$SMALL_BYTES" "$SMALL_PKTS" "$RUNS" "$FC" "$BENCH_DIR/small.pcap" --json "$BENCH_DIR/small.json" "${NOREPORT[@]}" -q
warm "${LAB_FILES[@]}"
measure "floor: read() walk, 3 points" "$LAB_BYTES" "$LAB_PKTS" "$RUNS" sh -c "for f in $BENCH_DIR/lab-client.pcap $BENCH_DIR/lab-nva.pcap $BENCH_DIR/lab-server.pcap; do $FLOOR read \$f; done"
warm "${LAB_FILES[@]}"
measure "flowcheck 3 points --json" "$LAB_BYTES" "$LAB_PKTS" "$RUNS" "$FC" "${LAB[@]}" --json "$BENCH_DIR/lab.json" "${NOREPORT[@]}" -q
if [ "$PEERS" = 1 ] && command -v tshark >/dev/null; then
  warm "$BENCH_DIR/big.pcap"
  measure "tshark -z conv,tcp -z conv,udp, big" "$BIG_BYTES" "$BIG_PKTS" 1 tshark -n -q -r "$BENCH_DIR/big.pcap" -z conv,tcp -z conv,udp
fi
if [ "$PEERS" = 1 ] && command -v argus >/dev/null && command -v racluster >/dev/null; then
  warm "$BENCH_DIR/big.pcap"
  measure "argus + racluster, big" "$BIG_BYTES" "$BIG_PKTS" 1 sh -c "argus -r $BENCH_DIR/big.pcap -w - | racluster -r - -w /dev/null"
fi

echo "== correctness" >&2
python3 - "$BENCH_DIR" <<'EOF' >&2
import json, re, sys
d = sys.argv[1]
big = json.load(open(f"{d}/big.json"))
small = json.load(open(f"{d}/small.json"))
lab = json.load(open(f"{d}/lab.json"))
print(f"   big: {big['summary']['conversations']} conversations (generator: 200000 flows)")
print(f"   small: {small['summary']['conversations']} conversations (generator: 20000 flows)")
gen = open(f"{d}/lab.gen.txt").read() if __import__('os').path.exists(f"{d}/lab.gen.txt") else ""
m = re.search(r"(\d+) asymmetric", gen)
print(f"   3 points: verdicts {lab['summary']['verdicts']} (generator: {m.group(1) if m else '?'} asymmetric of 28000)")
# the generator's asymmetric flows are the ones the server sees from a real client address
# (10.100.201.x: no SNAT); with ports or the echo identifier, they name a conversation each
def ends(proto, a, b, ident):
    return (proto, ident) + tuple(sorted([a, b]))
def port(ip, p):
    return ip if p is None else f"{ip}:{p}"
asym = {ends(f['proto'], f['a'], f['b'], f.get('icmp_id')) for f in lab['flows']
        if f['point'] == 'server' and '10.100.201.' in f['a'] + f['b']}
def key(c):
    return ends(c['proto'], port(c['client'], c['client_port']), port(c['server'], c['server_port']), c['icmp_id'])
judged = [c for c in lab['conversations'] if c['verdict'] == 'asymmetric']
hit = sum(1 for c in judged if key(c) in asym)
print(f"   3 points: {hit} of the generator's {len(asym)} asymmetric flows judged asymmetric, {len(judged) - hit} other conversations judged asymmetric")
ok = big['summary']['conversations'] == 200000 and small['summary']['conversations'] == 20000
sys.exit(0 if ok else 1)
EOF

FC_BIG=""; READ_BIG=""; NAIVE_BIG=""
for r in "${ROWS[@]}"; do
  IFS='|' read -r n _ _ t _ <<<"$r"
  case "$n" in
    "flowcheck big --json") FC_BIG=$t ;;
    "floor: read() walk, big") READ_BIG=$t ;;
    "floor: naive table (mmap, SipHash), big") NAIVE_BIG=$t ;;
  esac
done
echo
echo "$(date -u +%Y-%m-%d), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
echo
echo "| run | input | wall | GB/s | Mpackets/s | peak RSS | vs flowcheck big |"
echo "|---|---|---|---|---|---|---|"
for r in "${ROWS[@]}"; do
  IFS='|' read -r n b p t m <<<"$r"
  awk -v n="$n" -v b="$b" -v p="$p" -v t="$t" -v m="$m" -v f="$FC_BIG" 'BEGIN {
    ratio = (f > 0 && n ~ /big/) ? sprintf("%.1fx", t / f) : "";
    printf "| %s | %.2f GB | %.2f s | %.1f | %.1f | %d MiB | %s |\n", n, b / 1e9, t, b / 1e9 / t, p / 1e6 / t, m / 1024, ratio }'
done
[ -n "${EXPORT_NOTE:-}" ] && printf '\n%s\n' "$EXPORT_NOTE"
[ ${#DISK_NOTES[@]} -gt 0 ] && echo
for n in "${DISK_NOTES[@]}"; do echo "Not all from the page cache: $n."; done
# the issue's targets were set on a machine where the read() walk took 0.17 s and the naive
# table 0.47 s: how this machine compares, measured in this run
awk -v r="$READ_BIG" -v n="$NAIVE_BIG" 'BEGIN {
  if (r > 0 && n > 0)
    printf "\nThe issue'"'"'s machine: read() walk 0.17 s, naive table 0.47 s; this one: %.2f s (%.1fx), %.2f s (%.1fx).\n", r, r / 0.17, n, n / 0.47 }'
