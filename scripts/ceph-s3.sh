#!/usr/bin/env bash
# ceph-s3.sh: a throwaway S3 object store for the tests and the benchmark. It runs a
# single-node Ceph cluster (one monitor, one OSD, the RADOS Gateway) whose every file lives
# in one directory and whose daemons listen on 127.0.0.1 only, on free ports.
#
#   scripts/ceph-s3.sh start DIR   creates the cluster in DIR (new or empty), starts it and
#                                  prints S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY and
#                                  S3_REGION lines (also written to DIR/env)
#   scripts/ceph-s3.sh stop DIR    stops the daemons whose pid files are in DIR
#
# Needs the Debian packages ceph-mon, ceph-osd, radosgw and ceph-common. Works as root or
# as any user that owns DIR. Progress and, on failure, the failing daemon's log go to
# stderr; logs stay in DIR/log.
set -Eeuo pipefail

RGW=client.rgw.nv2

say() { printf 'ceph-s3: %s\n' "$*" >&2; }

die() {
  say "$1"
  if [[ -n ${2:-} && -s $2 ]]; then tail -n 30 "$2" >&2; fi
  exit 1
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

random_key() {
  python3 -c 'import secrets, string, sys; a = string.ascii_letters + string.digits if sys.argv[2] == "mixed" else string.ascii_uppercase + string.digits; print("".join(secrets.choice(a) for _ in range(int(sys.argv[1]))))' "$1" "$2"
}

# The pid in a daemon's pid file, if that process is alive and runs with this DIR's config.
daemon_pid() {
  local file=$DIR/run/$1.pid pid
  [[ -s $file ]] || return 0
  pid=$(tr -dc 0-9 <"$file")
  [[ -n $pid && -r /proc/$pid/cmdline ]] || return 0
  if tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$CONF"; then echo "$pid"; fi
}

stop_all() {
  local name pid i
  for name in "$RGW" osd.0 mon.a; do
    pid=$(daemon_pid "$name")
    [[ -n $pid ]] || continue
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      [[ -d /proc/$pid ]] && [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]] || break
      sleep 0.05
    done
    if [[ -d /proc/$pid ]]; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
  rm -f "$DIR"/run/*.pid "$DIR"/run/*.asok
}

ceph_cli() { timeout 30 ceph -c "$CONF" --connect-timeout 20 "$@"; }

write_config() {
  cat >"$CONF" <<EOF
[global]
fsid = $FSID
mon host = [v2:127.0.0.1:$MON_PORT]
public network = 127.0.0.0/8
ms bind msgr1 = false
ms bind ipv6 = false
keyring = $DIR/keyring
run dir = $DIR/run
crash dir = $DIR/crash
log file = $DIR/log/\$name.log
pid file = $DIR/run/\$name.pid
admin socket = $DIR/run/\$name.asok
mon cluster log file = $DIR/log/cluster.log
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim allowed = false
mon max pg per osd = 1000
mon data avail warn = 2
mon data avail crit = 1
paxos propose interval = 0.1

[mon]
mon data = $DIR/mon
public addr = 127.0.0.1

[osd]
osd data = $DIR/osd
keyring = $DIR/osd/keyring
public addr = 127.0.0.1
cluster addr = 127.0.0.1
osd objectstore = $STORE
osd memory target = 1073741824
bluestore block create = true
bluestore block size = $((10 * 1024 * 1024 * 1024))
bluestore fsck on mount = false
memstore device bytes = $((4 * 1024 * 1024 * 1024))

[$RGW]
keyring = $DIR/rgw/keyring
rgw data = $DIR/rgw
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw thread pool size = 64
EOF
}

# Runs "$@" every 0.3 s until it succeeds, for at most $1 seconds.
retry() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.3
  done
}

start() {
  [[ -z $(ls -A "$DIR") ]] || die "$DIR is not empty: give a new or empty directory"
  for program in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool python3 curl; do
    command -v "$program" >/dev/null || die "$program is missing: apt-get install ceph-mon ceph-osd radosgw ceph-common"
  done
  mkdir -p "$DIR"/{mon,osd,rgw,run,log,crash}
  trap 'stop_all' ERR INT TERM
  # BlueStore opens its block file with O_DIRECT, which tmpfs lacks before Linux 6.6.
  STORE=bluestore
  if ! dd if=/dev/zero of="$DIR/osd/probe" bs=4096 count=1 oflag=direct status=none 2>/dev/null; then
    STORE=memstore
  fi
  rm -f "$DIR/osd/probe"
  FSID=$(python3 -c 'import uuid; print(uuid.uuid4())')
  MON_PORT=$(free_port)
  RGW_PORT=$(free_port)
  while [[ $RGW_PORT == "$MON_PORT" ]]; do RGW_PORT=$(free_port); done
  write_config

  ceph-authtool --create-keyring "$DIR/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
  ceph-authtool "$DIR/mon.keyring" --import-keyring "$DIR/keyring" >/dev/null
  monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DIR/monmap" >/dev/null
  ceph-mon -c "$CONF" -i a --mkfs --monmap "$DIR/monmap" --keyring "$DIR/mon.keyring" \
    >"$DIR/log/mon.out" 2>&1 || die "ceph-mon --mkfs failed" "$DIR/log/mon.out"
  ceph-mon -c "$CONF" -i a >>"$DIR/log/mon.out" 2>&1 || die "ceph-mon did not start" "$DIR/log/mon.a.log"
  retry 30 ceph_cli mon stat || die "the monitor does not answer" "$DIR/log/mon.a.log"

  local osd_uuid osd_key
  osd_uuid=$(python3 -c 'import uuid; print(uuid.uuid4())')
  osd_key=$(ceph-authtool --gen-print-key)
  printf '{"cephx_secret": "%s"}' "$osd_key" | ceph_cli osd new "$osd_uuid" -i - >/dev/null 2>>"$DIR/log/osd.out" ||
    die "ceph osd new failed" "$DIR/log/osd.out"
  ceph-authtool --create-keyring "$DIR/osd/keyring" --name osd.0 --add-key "$osd_key" >/dev/null
  ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" >>"$DIR/log/osd.out" 2>&1 ||
    die "ceph-osd --mkfs failed" "$DIR/log/osd.out"
  ceph-osd -c "$CONF" -i 0 >>"$DIR/log/osd.out" 2>&1 || die "ceph-osd did not start" "$DIR/log/osd.0.log"
  osd_up() { ceph_cli osd stat | grep -q '1 up'; }
  retry 60 osd_up || die "the OSD is not up" "$DIR/log/osd.0.log"

  ceph_cli auth get-or-create "$RGW" mon 'allow rw' osd 'allow rwx' -o "$DIR/rgw/keyring" \
    2>>"$DIR/log/rgw.out" || die "no key for the gateway" "$DIR/log/rgw.out"
  radosgw -c "$CONF" -n "$RGW" >>"$DIR/log/rgw.out" 2>&1 || die "radosgw did not start" "$DIR/log/rgw.out"
  local endpoint=http://127.0.0.1:$RGW_PORT
  rgw_up() { curl -s -m 3 "$endpoint/" | grep -q ListAllMyBucketsResult; }
  retry 90 rgw_up || die "the gateway does not answer on $endpoint" "$DIR/log/$RGW.log"

  local access secret
  access=$(random_key 20 upper)
  secret=$(random_key 40 mixed)
  timeout 60 radosgw-admin -c "$CONF" user create --uid=nv2 --display-name=nv2 \
    --access-key="$access" --secret-key="$secret" >"$DIR/log/user.out" 2>&1 ||
    die "radosgw-admin user create failed" "$DIR/log/user.out"
  trap - ERR INT TERM
  (
    umask 077
    printf 'S3_ENDPOINT=%s\nS3_ACCESS_KEY=%s\nS3_SECRET_KEY=%s\nS3_REGION=default\n' \
      "$endpoint" "$access" "$secret" >"$DIR/env"
  )
  say "up in ${SECONDS} s ($STORE), logs in $DIR/log"
  cat "$DIR/env"
}

[[ $# -eq 2 && ($1 == start || $1 == stop) ]] || {
  echo "usage: $0 start|stop DIR" >&2
  exit 2
}
mkdir -p "$2"
DIR=$(cd "$2" && pwd -P)
CONF=$DIR/ceph.conf
case $1 in
  start) start ;;
  stop) stop_all ;;
esac
