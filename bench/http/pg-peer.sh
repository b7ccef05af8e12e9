#!/usr/bin/env bash
# bench/http/pg-peer.sh N - assistant-server on PostgreSQL as a peer of run-peers.sh:
# a fresh database per run on $PG_URL's server, then one server on $PORT (N=1), or
# N servers on the ports after $PORT behind assistant-gateway on $PORT (N>1, round
# robin, --token-check off: the servers check tokens). Stays in the foreground until
# TERM, then stops what it started. Env: PORT, HOST (run-peers.sh), PG_URL, BIN_DIR;
# PG_SERVER_ARGS, more flags for each server (e.g. "--db-pool 16").
# A second argument "unix": the servers reach PostgreSQL on its Unix socket in
# $PG_SOCKET_DIR (the URL's host is that directory, percent-encoded) instead of TCP.
set -euo pipefail
n=${1:-1}
: "${PG_URL:?PG_URL is the PostgreSQL server (scripts/pg-test-server.sh sets ASSISTANT_TEST_PG_URL)}"
psql=$(ls /usr/lib/postgresql/*/bin/psql | tail -1)
db="bench_${PORT}_$$"
"$psql" -q -X "$PG_URL" -c "CREATE DATABASE $db" >/dev/null
url="${PG_URL%/*}/$db"
if [[ ${2:-} == unix ]]; then
  : "${PG_SOCKET_DIR:?PG_SOCKET_DIR is the socket directory (scripts/pg-test-server.sh sets ASSISTANT_TEST_PG_SOCKET_DIR)}"
  # postgresql://user:password@host:port/db -> the same with host = the directory.
  url=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); h = u.quote(sys.argv[2], safe=""); print(p._replace(netloc=p.netloc.rsplit("@", 1)[0] + "@" + h + ":" + str(p.port)).geturl())' "$url" "$PG_SOCKET_DIR")
fi
server=("$BIN_DIR/assistant-server" --host "$HOST" --database "$url" --rate-limit-api 0
        --rate-limit-auth 0 --state-dir "${TMPDIR:-/tmp}/$db")
read -r -a more <<<"${PG_SERVER_ARGS:-}"
server+=("${more[@]}")
pids=()
stop() {
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  "$psql" -q -X "$PG_URL" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  rm -rf "${TMPDIR:-/tmp}/$db"
  exit 0
}
trap stop TERM INT
if ((n == 1)); then
  "${server[@]}" --port "$PORT" & pids+=($!)
else
  backends=()
  for i in $(seq "$n"); do
    "${server[@]}" --port $((PORT + 100 + i)) & pids+=($!)
    backends+=("http://$HOST:$((PORT + 100 + i))")
  done
  sleep 1
  "$BIN_DIR/assistant-gateway" --host "$HOST" --port "$PORT" --rate-limit 0 --token-check off \
    --backend "$(IFS=,; echo "${backends[*]}")" & pids+=($!)
fi
wait
