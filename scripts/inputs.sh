# The inputs the compare scripts run both binaries on, sourced by them: calls `run LABEL ARGS...`
# (the script's own) for each file and folder of captures/, each ../shared/captures stage, each
# ../shared/corpus file, and the benchmark inputs in $BENCH_DIR when they are there (the 2 GB
# one unless BIG=0).
each_input() {
  local f d
  for f in captures/*.pcap* captures/*/*.pcap*; do [ -f "$f" ] && run "$f" "$f"; done
  for d in captures/*/ captures/*/*/; do ls "$d"*.pcap* >/dev/null 2>&1 && run "$d" "$d"; done
  for d in "$SHARED"/captures/*/; do [ -d "$d" ] && run "$d" "$d"; done
  for f in "$SHARED"/corpus/files/*; do [ -f "$f" ] && run "$f" "$f"; done
  if [ -s "$BENCH_DIR/small.pcap" ]; then run small "$BENCH_DIR/small.pcap"; fi
  if [ -s "$BENCH_DIR/big.pcap" ] && [ "${BIG:-1}" = 1 ]; then run big "$BENCH_DIR/big.pcap"; fi
  if [ -s "$BENCH_DIR/lab-nva.pcap" ]; then
    run "3 points" "client=$BENCH_DIR/lab-client.pcap" "nva=$BENCH_DIR/lab-nva.pcap" "server=$BENCH_DIR/lab-server.pcap"
  fi
}
