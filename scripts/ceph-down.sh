#!/bin/bash
# usage: ceph-down.sh DIR -- stops rgw, osd, mon by their recorded PIDs (SIGTERM, SIGKILL after 10 s), then removes DIR.
DIR=${1:?usage: ceph-down.sh DIR}
alive() { kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
for p in rgw osd mon; do
  f="$DIR/run/$p.pid"; [ -f "$f" ] || continue; P=$(cat "$f")
  kill "$P" 2>/dev/null || continue
  for _ in $(seq 1 100); do alive "$P" || break; sleep 0.1; done
  kill -9 "$P" 2>/dev/null || true
done
rm -rf "$DIR"
