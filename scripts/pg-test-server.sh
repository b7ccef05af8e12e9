#!/usr/bin/env bash
# Starts a throwaway PostgreSQL for the tests, runs a command with
# ASSISTANT_TEST_PG_URL pointing at it, then stops it and removes its files,
# also when the command fails or the script is interrupted.
#
#   scripts/pg-test-server.sh ctest --test-dir build ...
#
# The cluster lives in a mktemp directory owned by an unprivileged user
# (initdb refuses root), listens on a free loopback port only, and takes
# passwords (scram-sha-256) over TCP; the test role owns its database and may
# create databases (the conformance suite makes one per check).
# Without a command it prints the URL and waits until interrupted.
set -euo pipefail

PG_BIN=${PG_BIN:-}
if [[ -z $PG_BIN ]]; then
  for d in /usr/lib/postgresql/*/bin; do [[ -x $d/initdb ]] && PG_BIN=$d; done
fi
if [[ -z $PG_BIN || ! -x $PG_BIN/initdb ]]; then
  echo "pg-test-server: no PostgreSQL server found (Debian: apt-get install postgresql)" >&2
  exit 1
fi

RUN_AS=()
if [[ $(id -u) == 0 ]]; then
  # initdb and postgres refuse to run as root.
  RUN_AS=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
fi

DIR=$(mktemp -d /tmp/assistant-pg.XXXXXX)
chmod 755 "$DIR"
cleanup() {
  local rc=$?
  if [[ -f $DIR/data/postmaster.pid ]]; then
    "${RUN_AS[@]}" "$PG_BIN/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
printf '%s\n' "$PASSWORD" >"$DIR/pwfile"
mkdir -m 700 "$DIR/data" "$DIR/sock"
if ((${#RUN_AS[@]})); then chown -R nobody:nogroup "$DIR"; fi

# A free loopback port: bind to 0 and read what the kernel chose.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

"${RUN_AS[@]}" "$PG_BIN/initdb" -D "$DIR/data" -U assistant --pwfile="$DIR/pwfile" \
  --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 \
  >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; exit 1; }
rm -f "$DIR/pwfile"
"${RUN_AS[@]}" "$PG_BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 30 start \
  -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$DIR/sock \
      -c fsync=off -c max_connections=200" >/dev/null ||
  { cat "$DIR/server.log" >&2; exit 1; }

PGPASSWORD=$PASSWORD "$PG_BIN/psql" -q -X -v ON_ERROR_STOP=1 "postgresql://assistant@127.0.0.1:$PORT/postgres" \
  -c "CREATE DATABASE assistant_test" >/dev/null
export ASSISTANT_TEST_PG_URL="postgresql://assistant:$PASSWORD@127.0.0.1:$PORT/assistant_test"
# The same server on its Unix socket (a URL's host may be this directory).
export ASSISTANT_TEST_PG_SOCKET_DIR="$DIR/sock"
# The server's own log, for tests that report what PostgreSQL saw.
export ASSISTANT_TEST_PG_LOG="$DIR/server.log"

if (($# == 0)); then
  echo "ASSISTANT_TEST_PG_URL=$ASSISTANT_TEST_PG_URL"
  echo "(Ctrl-C stops and removes it)"
  # Short sleeps: a trap waits for the running command, so SIGTERM (from
  # scripts/one-box.sh) stops the cluster within a second.
  while sleep 1; do :; done
fi
"$@"
