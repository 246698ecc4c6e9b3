#!/usr/bin/env bash
# Runs one fuzz target for a while (one job: the machine is shared), seeding its corpus from
# ../shared first when it is missing. Usage: fuzz/run.sh TARGET SECONDS [extra libFuzzer flags]
# Logs to fuzz/logs/TARGET-<time>.log; the last "#N" line there is the execution count.
set -euo pipefail
cd "$(dirname "$0")"
target="$1"
secs="$2"
shift 2
[ -d "corpus/$target" ] || ./seed.sh
mkdir -p "artifacts/$target" logs
log="logs/$target-$(date +%Y%m%d-%H%M%S).log"
# RUSTC_BOOTSTRAP=1: cargo-fuzz passes nightly-only flags; the stable compiler accepts them so.
# -O -a: optimised, with overflow checks and debug assertions on.
# --sanitizer none: flowcheck's only unsafe code is a prefetch hint (it reads nothing); without
# ASan it runs about 3x faster.
RUSTC_BOOTSTRAP=1 cargo fuzz run -O -a --sanitizer none "$target" "corpus/$target" -- \
  -max_len=65536 -timeout=10 -rss_limit_mb=1024 -max_total_time="$secs" \
  -print_final_stats=1 -artifact_prefix="artifacts/$target/" "$@" >"$log" 2>&1 || true
grep -E '^#[0-9]+' "$log" | tail -1
grep -E 'stat::number_of_executed_units' "$log" || true
grep -E 'panicked|ERROR: libFuzzer|SUMMARY' "$log" | head -5 || true
echo "log: $log"
