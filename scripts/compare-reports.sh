#!/usr/bin/env bash
# Compare the HTML reports (index.html and every SVG) of two flowcheck binaries, byte for byte, on
# the stage captures, their variants and the public corpus. For refactors of src/report/ that must
# not change a byte of the report; scripts/compare-outputs.sh does the same for JSON and terminal.
#
#   scripts/compare-reports.sh OLD_BINARY [NEW_BINARY]   (NEW defaults to target/release/flowcheck)
#
# Prints one line per differing input (with the first lines of `diff -r`) and exits 1 if any differs.
set -uo pipefail
cd "$(dirname "$0")/.."
OLD=${1:?usage: compare-reports.sh OLD_BINARY [NEW_BINARY]}
NEW=${2:-target/release/flowcheck}
SHARED=${SHARED:-../shared}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
n=0; bad=0; files=0
run() { # run LABEL ARGS...
  local label=$1; shift
  n=$((n + 1))
  rm -rf "$OUT/old" "$OUT/new"
  "$OLD" "$@" --report "$OUT/old" --quiet >/dev/null 2>&1; local ro=$?
  "$NEW" "$@" --report "$OUT/new" --quiet >/dev/null 2>&1; local rn=$?
  if [ $ro -ne $rn ] || ! diff -r "$OUT/old" "$OUT/new" >"$OUT/diff" 2>&1; then
    echo "DIFFERS: $label (exit $ro vs $rn)"
    head -5 "$OUT/diff"
    bad=$((bad + 1))
  fi
  [ -d "$OUT/new" ] && files=$((files + $(find "$OUT/new" -type f | wc -l)))
}
for d in "$SHARED"/captures/*/ captures/*/ captures/variants/*/; do
  ls "$d"*.pcap* >/dev/null 2>&1 && run "$d" "$d"
done
[ -d captures/stage3 ] && run "stage3 --expect-via hub-nva" captures/stage3 --expect-via hub-nva
for f in "$SHARED"/corpus/files/*; do [ -f "$f" ] && run "$f" "$f"; done
echo "compared $n reports ($files files): $bad differ"
[ $bad -eq 0 ]
