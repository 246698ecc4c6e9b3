#!/usr/bin/env bash
# Builds fuzz/corpus/{capture,decode,analyse} from the public captures in ../shared.
set -euo pipefail
cd "$(dirname "$0")"
shared="${1:-../../shared}"
cargo run --quiet --release --example seed -- "$shared" corpus
