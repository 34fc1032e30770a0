#!/usr/bin/env bash
# postgres.sh: a throwaway PostgreSQL server for the tests and the benchmark: a cluster made
# by initdb in one directory, listening on 127.0.0.1 only, on a free port, with its unix
# socket in that directory too.
#
#   scripts/postgres.sh start DIR   creates the cluster in DIR (new or empty), starts it and
#                                   prints PGHOST, PGPORT, PGUSER and DATABASE_URL lines
#                                   (also written to DIR/env)
#   scripts/postgres.sh stop DIR    stops the server of DIR (fast shutdown)
#
# Needs the Debian package postgresql (its binaries are in /usr/lib/postgresql/<version>/bin,
# not on PATH; the newest version is used). PostgreSQL refuses to run as root: as root the
# server runs as the `postgres` system user the package creates, and DIR is given to it;
# otherwise it runs as the calling user. Authentication is `trust` on loopback only.
set -Eeuo pipefail

say() { printf 'postgres: %s\n' "$*" >&2; }

die() {
  say "$1"
  if [[ -n ${2:-} && -s $2 ]]; then tail -n 30 "$2" >&2; fi
  exit 1
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The bin directory of the newest installed PostgreSQL.
find_bin() {
  local dir
  dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
  [[ -n $dir && -x $dir/initdb && -x $dir/pg_ctl ]] || die 'initdb not found: install the Debian package postgresql'
  echo "$dir"
}

# Runs a command as the server's user.
as_owner() {
  if [[ $(id -u) == 0 ]]; then
    setpriv --reuid="$OWNER" --regid="$(id -g "$OWNER")" --init-groups -- "$@"
  else
    "$@"
  fi
}

usage() { die "usage: $0 start|stop DIR"; }

[[ $# == 2 ]] || usage
CMD=$1
mkdir -p "$2"
DIR=$(cd "$2" && pwd)
BIN=$(find_bin)
OWNER=$(id -un)
if [[ $(id -u) == 0 ]]; then
  OWNER=postgres
  id -u "$OWNER" >/dev/null 2>&1 || die 'no postgres system user (install the Debian package postgresql)'
fi

case $CMD in
start)
  [[ -z $(ls -A "$DIR") ]] || die "$DIR is not empty"
  mkdir -p "$DIR/data" "$DIR/run"
  if [[ $(id -u) == 0 ]]; then
    chown -R "$OWNER:" "$DIR"
    as_owner test -x "$DIR" || die "$OWNER cannot reach $DIR: every directory above it must be searchable (chmod o+x)"
  fi
  as_owner "$BIN/initdb" -D "$DIR/data" -U "$OWNER" --auth=trust --encoding=UTF8 \
    --locale=C --no-sync >"$DIR/initdb.log" 2>&1 || die 'initdb failed' "$DIR/initdb.log"
  PORT=$(free_port)
  # fsync stays on: the tests check what a committed transaction guarantees.
  as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR/run -c max_connections=200" \
    start >/dev/null || die 'pg_ctl start failed' "$DIR/server.log"
  {
    echo "PGHOST=127.0.0.1"
    echo "PGPORT=$PORT"
    echo "PGUSER=$OWNER"
    echo "DATABASE_URL=postgres://$OWNER@127.0.0.1:$PORT/postgres"
  } | tee "$DIR/env"
  say "started on 127.0.0.1:$PORT (data in $DIR/data, log in $DIR/server.log)"
  ;;
stop)
  if [[ -f $DIR/data/postmaster.pid ]]; then
    as_owner "$BIN/pg_ctl" -D "$DIR/data" -m fast -w -t 60 stop >/dev/null ||
      die 'pg_ctl stop failed' "$DIR/server.log"
  fi
  ;;
*) usage ;;
esac
