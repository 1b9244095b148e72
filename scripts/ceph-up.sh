#!/bin/bash
# Single-node Ceph for tests: 1 mon, 1 OSD, 1 radosgw, no mgr, auth off, loopback only.
# usage: ceph-up.sh DIR [RGW_PORT] [memstore|bluestore]
#   env MON_PORT   (default: a free port) msgr v2 port of the mon; v1 is not bound, so clusters can coexist
#   env STORE_BYTES (default 4 GiB) capacity of the memstore (RAM) or of the sparse bluestore block file
#   env PRECREATE_POOLS=1  pre-creates the bucket pools (avoids ~2 s stalls on the first bucket/object/multipart)
#   env RGW_KMS_TEST_KEYS="name=<base64 of 32 bytes> ..."  turns on SSE-KMS with RGW's `testing` key backend
#       (keys in the config file: for tests only), without TLS (`rgw crypt require ssl = false`)
#   env RGW_LC_DEBUG_INTERVAL=N  lifecycle "days" last N seconds and the lifecycle thread runs at any hour (tests only)
# S3 user: TESTKEY / TESTSECRET. PIDs in DIR/run/{mon,osd,rgw}.pid; stop with ceph-down.sh DIR.
# Adapted from a single-node Ceph recipe (mon + OSD + radosgw, auth off) written for these test machines.
set -euo pipefail
DIR=${1:?usage: ceph-up.sh DIR [RGW_PORT] [memstore|bluestore]}
RGW_PORT=${2:-7480}
STORE=${3:-memstore}
case "$STORE" in memstore|bluestore) ;; *) echo "ceph-up.sh: objectstore '$STORE' is not memstore or bluestore" >&2; exit 2;; esac
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MON_PORT=${MON_PORT:-$(free_port)}
STORE_BYTES=${STORE_BYTES:-4294967296}
T0=$(date +%s.%N)

rm -rf "$DIR"; mkdir -p "$DIR"/{mon,osd,rgw,log,run}
export CEPH_CONF=$DIR/ceph.conf
# on any failure: stop what was started (by PID), keep logs for the caller to show
trap 'rc=$?; if [ $rc != 0 ]; then for p in rgw osd mon; do [ -f "$DIR/run/$p.pid" ] && kill -9 "$(cat "$DIR/run/$p.pid")" 2>/dev/null; done; echo "ceph-up.sh failed (rc $rc); logs in $DIR/log" >&2; fi' EXIT

wait_http() { # PORT
  for _ in $(seq 1 600); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.1; done
  echo "radosgw did not answer on 127.0.0.1:$1" >&2; tail -n 30 "$DIR/log/client.rgw.a.log" >&2 || true; return 1
}
start_rgw() {
  # in a subshell: not a job of this shell, so killing it later prints no "Killed" line
  ( nohup radosgw -n client.rgw.a -f > "$DIR/log/rgw.out" 2>&1 < /dev/null & echo $! > "$DIR/run/rgw.pid" )
  wait_http "$RGW_PORT"
}

FSID=$(cat /proc/sys/kernel/random/uuid)
cat > "$CEPH_CONF" <<CONF
[global]
fsid = $FSID
mon host = [v2:127.0.0.1:$MON_PORT]
public addr = 127.0.0.1
public network = 127.0.0.0/8
ms bind ipv6 = false
ms bind msgr1 = false
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
mon cluster log file = $DIR/log/mon-cluster.log
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
mon data avail crit = 0
mon data avail warn = 1
mon allow pool delete = true
[mon.a]
mon data = $DIR/mon
public addrv = [v2:127.0.0.1:$MON_PORT]
[osd.0]
osd data = $DIR/osd
osd objectstore = $STORE
memstore device bytes = $STORE_BYTES
osd memory target = 939524096
bluestore block path = $DIR/osd-block.img
bluestore block size = $STORE_BYTES
bluestore block create = true
osd class load list = *
osd class default list = *
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw data = $DIR/rgw
ms mon client mode = crc
CONF
if [ -n "${RGW_KMS_TEST_KEYS:-}" ]; then
  cat >> "$CEPH_CONF" <<CONF
rgw crypt s3 kms backend = testing
rgw crypt s3 kms encryption keys = $RGW_KMS_TEST_KEYS
rgw crypt require ssl = false
CONF
fi
if [ -n "${RGW_LC_DEBUG_INTERVAL:-}" ]; then
  cat >> "$CEPH_CONF" <<CONF
rgw lc debug interval = $RGW_LC_DEBUG_INTERVAL
rgw lifecycle work time = 00:00-23:59
CONF
fi

# an explicit monmap: mon.a at the chosen v2 port only (default ports would clash between parallel clusters)
monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DIR/monmap" > "$DIR/log/monmap.out" 2>&1
ceph-mon --id a --mkfs --monmap "$DIR/monmap" --keyring /dev/null > "$DIR/log/mon-mkfs.out" 2>&1
touch "$DIR/mon/keyring"
nohup ceph-mon --id a -f > "$DIR/log/mon.out" 2>&1 < /dev/null & echo $! > "$DIR/run/mon.pid"
OSD_ID=$(timeout 60 ceph osd create)
ceph osd crush add "osd.$OSD_ID" 1 root=default > /dev/null 2>&1
ceph-osd --id "$OSD_ID" --mkfs > "$DIR/log/osd-mkfs.out" 2>&1
nohup ceph-osd --id "$OSD_ID" -f > "$DIR/log/osd.out" 2>&1 < /dev/null & echo $! > "$DIR/run/osd.pid"
if [ "${PRECREATE_POOLS:-0}" = 1 ]; then
  for p in default.rgw.buckets.index default.rgw.buckets.data default.rgw.buckets.non-ec; do
    ceph osd pool create "$p" 8 > /dev/null 2>&1; ceph osd pool application enable "$p" rgw > /dev/null 2>&1
  done
fi
start_rgw
radosgw-admin user create --uid test --display-name test --access-key TESTKEY --secret-key TESTSECRET > /dev/null
# allow StorageClass STANDARD_IA (RGW only knows STANDARD by default); needs the default zone (created by
# radosgw's first start) and an rgw restart afterwards
radosgw-admin zonegroup placement add --rgw-zonegroup default --placement-id default-placement --storage-class STANDARD_IA > /dev/null
radosgw-admin zone placement add --rgw-zone default --placement-id default-placement --storage-class STANDARD_IA --data-pool default.rgw.standard-ia.data > /dev/null
# SIGKILL: radosgw takes ~4.5 s to stop on SIGTERM, and it has nothing in flight here (the placement is in RADOS)
P=$(cat "$DIR/run/rgw.pid"); kill -9 "$P"
for _ in $(seq 1 100); do kill -0 "$P" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$P/stat" 2>/dev/null)" != Z ] || break; sleep 0.1; done
start_rgw
echo "$MON_PORT" > "$DIR/run/mon.port"
T1=$(date +%s.%N)
echo "ceph up in $(echo "$T1 - $T0" | bc)s; mon port $MON_PORT rgw port $RGW_PORT; pids mon=$(cat "$DIR/run/mon.pid") osd=$(cat "$DIR/run/osd.pid") rgw=$(cat "$DIR/run/rgw.pid")"
