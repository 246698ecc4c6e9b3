#!/usr/bin/env bash
# Compare the JSON and terminal output of two flowcheck binaries on every capture the project
# knows: captures/ (each file, each folder as a multi-point run), ../shared/captures folders,
# every ../shared/corpus file, and the benchmark inputs when present. For refactors that must
# not change a byte of output.
#
#   scripts/compare-outputs.sh OLD_BINARY [NEW_BINARY]   (NEW defaults to target/release/flowcheck)
#
# Prints one line per differing input and exits 1 if any differs.
set -uo pipefail
cd "$(dirname "$0")/.."
OLD=${1:?usage: compare-outputs.sh OLD_BINARY [NEW_BINARY]}
NEW=${2:-target/release/flowcheck}
SHARED=${SHARED:-../shared}
BENCH_DIR=${BENCH_DIR:-/tmp/flowcheck-bench}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
n=0; bad=0
run() { # run LABEL ARGS...
  local label=$1; shift
  n=$((n + 1))
  "$OLD" "$@" --json "$OUT/old.json" --no-report --color never >"$OUT/old.txt" 2>"$OUT/old.err"; local ro=$?
  "$NEW" "$@" --json "$OUT/new.json" --no-report --color never >"$OUT/new.txt" 2>"$OUT/new.err"; local rn=$?
  if [ $ro -ne $rn ] || ! cmp -s "$OUT/old.json" "$OUT/new.json" || ! cmp -s "$OUT/old.txt" "$OUT/new.txt"; then
    echo "DIFFERS: $label (exit $ro vs $rn)"
    bad=$((bad + 1))
  fi
}
. scripts/inputs.sh
each_input
[ -d captures/stage3 ] && run "stage3 --expect-via hub-nva" captures/stage3 --expect-via hub-nva
[ -d captures/stage3 ] && run "stage3 --assume-synced" captures/stage3 --assume-synced
echo "compared $n runs: $bad differ"
[ $bad -eq 0 ]
