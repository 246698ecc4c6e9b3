#!/usr/bin/env bash
# Makes the shifted-clock copies of the lab stages: the same captures with the clocks of some
# capture points moved (editcap -t), as VMs whose clocks disagree would record them.
# Shifts (seconds) are in shifts.json; flowcheck must find them as clock offsets.
set -euo pipefail
cd "$(dirname "$0")"
declare -A SHIFT=([hub-nva]=0 [spoke1-vm]=3.5 [spoke2-vm]=-11.75 [vpn-client]=-2.25)
for n in 0 1 2 3 4; do
  src=../stage$n; dst=stage$n
  mkdir -p "$dst"
  for p in hub-nva spoke1-vm spoke2-vm vpn-client; do
    editcap -F pcap -t "${SHIFT[$p]}" "$src/$p.pcap" "$dst/$p.pcap"
  done
  cp "$src/truth.json" "$dst/truth.json"
  # the same network: the same route tables
  rm -rf "$dst/routes" && cp -r "$src/routes" "$dst/routes"
done
printf '{"hub-nva": %s, "spoke1-vm": %s, "spoke2-vm": %s, "vpn-client": %s}\n' \
  "${SHIFT[hub-nva]}" "${SHIFT[spoke1-vm]}" "${SHIFT[spoke2-vm]}" "${SHIFT[vpn-client]}" > shifts.json
