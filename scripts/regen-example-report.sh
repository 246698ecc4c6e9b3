#!/usr/bin/env bash
# Regenerates the example report committed under reports/stage3/ from captures/stage3.
#   scripts/regen-example-report.sh          rewrite reports/stage3/ (then commit it)
#   scripts/regen-example-report.sh --check  regenerate into a temporary folder and exit 1 when
#                                            it differs from the committed one
# tests/report.rs (example_report_is_in_sync) makes the same check under `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet
bin=target/debug/flowcheck
case "${1:-}" in
  --check)
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    "$bin" captures/stage3 --report "$tmp/stage3" --quiet
    if diff -r "$tmp/stage3" reports/stage3 >/dev/null; then
      echo "reports/stage3 is up to date"
    else
      diff -r "$tmp/stage3" reports/stage3 | head -40 >&2 || true
      echo "reports/stage3 is stale: run scripts/regen-example-report.sh and commit it" >&2
      exit 1
    fi
    ;;
  "")
    rm -rf reports/stage3
    "$bin" captures/stage3 --report reports/stage3 --quiet
    echo "wrote reports/stage3/ ($(ls reports/stage3 | wc -l) files)"
    ;;
  *)
    echo "usage: $0 [--check]" >&2
    exit 2
    ;;
esac
