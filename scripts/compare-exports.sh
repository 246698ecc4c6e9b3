#!/usr/bin/env bash
# Compare the bulk exports (--zeek, --csv, --parquet) of two flowcheck binaries on every
# capture the project knows (scripts/inputs.sh, as compare-outputs.sh): the Zeek logs byte for byte but
# for their #open and #close lines, the CSV byte for byte, and the Parquet files by content
# (DuckDB's `describe` and every row as JSON, in order): their encoding may differ. For changes
# to the exports that must not change what they hold. Needs DuckDB's Python module.
#
#   scripts/compare-exports.sh OLD_BINARY [NEW_BINARY]   (NEW defaults to target/release/flowcheck)
#
# Prints one line per differing input and exits 1 if any differs.
set -uo pipefail
cd "$(dirname "$0")/.."
OLD=${1:?usage: compare-exports.sh OLD_BINARY [NEW_BINARY]}
NEW=${2:-target/release/flowcheck}
SHARED=${SHARED:-../shared}
BENCH_DIR=${BENCH_DIR:-/tmp/flowcheck-bench}
python3 -c 'import duckdb' 2>/dev/null || { echo "compare-exports: DuckDB's Python module is needed (pip install duckdb)" >&2; exit 2; }
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
n=0; bad=0
same_parquet() { # same_parquet DIR_A DIR_B
  python3 - "$1" "$2" <<'PY'
import duckdb, os, sys
a, b = sys.argv[1], sys.argv[2]
for t in ("points", "flows", "conversations"):
    fa, fb = f"{a}/{t}.parquet", f"{b}/{t}.parquet"
    if os.path.exists(fa) != os.path.exists(fb):
        sys.exit(1)
    if not os.path.exists(fa):
        continue
    q = lambda sql: duckdb.sql(sql).fetchall()
    if q(f"describe select * from '{fa}'") != q(f"describe select * from '{fb}'"):
        sys.exit(1)
    rows = "select to_json(t)::varchar from '{}' t"
    if q(rows.format(fa)) != q(rows.format(fb)):
        sys.exit(1)
PY
}
run() { # run LABEL ARGS...
  local label=$1; shift
  n=$((n + 1))
  rm -rf "$OUT"/old "$OUT"/new
  for v in old new; do
    local bin=$OLD; [ $v = new ] && bin=$NEW
    mkdir -p "$OUT/$v"
    "$bin" "$@" --zeek "$OUT/$v/zeek" --csv "$OUT/$v/c.csv" --parquet "$OUT/$v/pq" --no-report -q >/dev/null 2>"$OUT/$v.err"
    echo $? >"$OUT/$v/rc"
    for f in "$OUT/$v"/zeek/*.log; do [ -f "$f" ] && sed -i '/^#open\|^#close/d' "$f"; done
  done
  local why=""
  cmp -s "$OUT/old/rc" "$OUT/new/rc" || why="exit status"
  diff -rq "$OUT/old/zeek" "$OUT/new/zeek" >/dev/null 2>&1 || why="$why zeek"
  cmp -s "$OUT/old/c.csv" "$OUT/new/c.csv" || why="$why csv"
  same_parquet "$OUT/old/pq" "$OUT/new/pq" || why="$why parquet"
  if [ -n "$why" ]; then
    echo "DIFFERS: $label ($why)"
    bad=$((bad + 1))
  fi
}
. scripts/inputs.sh
each_input
echo "compared $n runs: $bad differ"
[ "$bad" -eq 0 ]
