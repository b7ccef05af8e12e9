#!/usr/bin/env bash
# bench/http/run.sh - assistant-server against its peers, in one run, on loopback with wrk.
#
# Measures, at 16 and 64 connections (CONNS_LIST), with ../shared/bench/run-peers.sh:
#   assistant-server        GET /api/tasks (20 tasks, bearer token), POST /api/tasks,
#                           POST /api/agent/message "list tasks"
#   FastAPI / Express peers the same three scenarios (PEERS)
#   assistant-pg, -pg-2x    with PG_URL set: the same on PostgreSQL, one server and two behind
#                           assistant-gateway (pg-peer.sh); ratios to Express and to SQLite
#   assistant-pg-unix       with PG_SOCKET_DIR set too: one server on PostgreSQL's Unix socket
#   nginx                   GET /api/tasks returning a fixed 20-task body
#   bare-httplib-server     cpp-httplib with assistant-server's connection settings, the same
#                           fixed body (the ceiling for any cpp-httplib server here)
# and prints one table: req/s, p50, p99, errors, and the ratios the targets are stated in.
#
# Builds nothing: expects assistant-server and bare-httplib-server in BIN_DIR (default
# build/bin; build with -DCMAKE_BUILD_TYPE=Release). Run from the repository root:
#   bench/http/run.sh
#   BIN_DIR=build-rel/bin ROUNDS=1 DURATION=5s CONNS_LIST="16 64" bench/http/run.sh
# Needs what ../shared/bench/README.md lists (wrk, nginx, jq, python3-fastapi, node + npm).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SHARED=${SHARED:-$ROOT/../shared/bench}
BIN_DIR=$(cd "${BIN_DIR:-$ROOT/build/bin}" && pwd)
CONNS_LIST=${CONNS_LIST:-"16 64"}
export ROUNDS=${ROUNDS:-1}
export DURATION=${DURATION:-5s}
export WARMUP=${WARMUP:-2s}
PEERS_BASE=${PEERS:-"nginx fastapi-2w-pool express-2p-keyobj express-1p-keyobj"}
OUT=${OUT:-${TMPDIR:-/tmp}/http-bench-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"

for b in assistant-server bare-httplib-server; do
  [[ -x $BIN_DIR/$b ]] || { echo "run.sh: $BIN_DIR/$b not found (build first)" >&2; exit 2; }
done
[[ -x $SHARED/run-peers.sh ]] || { echo "run.sh: $SHARED/run-peers.sh not found" >&2; exit 2; }

# Rate limits off (wrk is one client hammering one principal) and text logs to the
# peer's log file, as in production.
EXTRA="assistant-server=$BIN_DIR/assistant-server --port \$PORT --host \$HOST --database sqlite://\$DB_PATH --rate-limit-api 0 --rate-limit-auth 0"

# With PG_URL (a PostgreSQL server, e.g. inside scripts/pg-test-server.sh with
# PG_URL=$ASSISTANT_TEST_PG_URL): the same server on PostgreSQL, one server and two
# behind assistant-gateway (pg-peer.sh), beside the SQLite one.
if [[ -n ${PG_URL:-} ]]; then
  export PG_URL BIN_DIR
  EXTRA+=$'\n'"assistant-pg=$ROOT/bench/http/pg-peer.sh 1"
  EXTRA+=$'\n'"assistant-pg-2x=$ROOT/bench/http/pg-peer.sh 2"
  PEERS_BASE+=" assistant-pg assistant-pg-2x"
  # PG_SOCKET_DIR (ASSISTANT_TEST_PG_SOCKET_DIR inside pg-test-server.sh): one
  # server on PostgreSQL's Unix socket too, the one-box form (docs/storage.md).
  if [[ -n ${PG_SOCKET_DIR:-} ]]; then
    export PG_SOCKET_DIR
    EXTRA+=$'\n'"assistant-pg-unix=$ROOT/bench/http/pg-peer.sh 1 unix"
    PEERS_BASE+=" assistant-pg-unix"
  fi
fi

BARE_PORT=${BARE_PORT:-18190}
bare_pid=
stop_bare() {
  if [[ -n $bare_pid ]]; then kill "$bare_pid" 2>/dev/null || true; wait "$bare_pid" 2>/dev/null || true; fi
  bare_pid=
}
trap stop_bare EXIT

RESULTS=$OUT/all.tsv
: >"$RESULTS"
for conns in $CONNS_LIST; do
  echo "=== $conns connections ==="
  # The bare server only serves the fixed body, so it gets the unauthenticated scenario.
  # ROUNDS rounds like the peers: every ratio is then of two medians, not of one
  # sample of the bare server (which moves by a third between runs here).
  "$BIN_DIR/bare-httplib-server" --port "$BARE_PORT" >"$OUT/bare-$conns.log" 2>&1 &
  bare_pid=$!
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$BARE_PORT/" && break; sleep 0.1; done
  for round in $(seq "$ROUNDS"); do
    CONNS=$conns SCENARIOS=plain_tasks LABEL=bare-httplib RESULT_FILE=$OUT/bare-$conns-$round.tsv \
      "$SHARED/peers.sh" "http://127.0.0.1:$BARE_PORT"
    sed "s/^/$conns\t/" "$OUT/bare-$conns-$round.tsv" >>"$RESULTS"
  done
  stop_bare

  CONNS=$conns PEERS="$PEERS_BASE" EXTRA_PEERS="$EXTRA" OUTDIR=$OUT/peers-$conns \
    "$SHARED/run-peers.sh"
  sed "s/^/$conns\t/" "$OUT/peers-$conns/results.tsv" >>"$RESULTS"
done

python3 - "$RESULTS" <<'PY'
import sys, statistics as st
rows = {}
for line in open(sys.argv[1]):
    f = line.rstrip("\n").split("\t")
    if len(f) < 9 or f[3] == "NA":
        continue
    conns, peer, scen = f[0], f[1], f[2]
    rows.setdefault((conns, peer, scen), []).append(
        (float(f[3]), float(f[4]), float(f[5]), int(f[6]) + int(f[7])))
def med(k):
    r = rows.get(k)
    if not r:
        return None
    return (st.median(x[0] for x in r), st.median(x[1] for x in r), st.median(x[2] for x in r),
            sum(x[3] for x in r))
print("\n| conns | peer | scenario | req/s | p50 ms | p99 ms | errors |")
print("|---:|---|---|---:|---:|---:|---:|")
for k in sorted(rows):
    m = med(k)
    print(f"| {k[0]} | {k[1]} | {k[2]} | {m[0]:.0f} | {m[1]:.2f} | {m[2]:.2f} | {m[3]} |")
print("\nRatios (assistant-server / peer, req/s):\n")
print("| conns | scenario | vs bare cpp-httplib | vs nginx | vs best Express | vs best FastAPI |")
print("|---:|---|---:|---:|---:|---:|")
for conns in sorted({k[0] for k in rows}, key=int):
    for scen in ("get_tasks", "post_task", "agent_list"):
        ours = med((conns, "assistant-server", scen))
        if not ours:
            continue
        def best(prefix):
            c = [med(k)[0] for k in rows if k[0] == conns and k[2] == scen and k[1].startswith(prefix)]
            return max(c) if c else None
        def ratio(x):
            return f"{ours[0] / x:.2f}x" if x else "-"
        bare = med((conns, "bare-httplib", "plain_tasks")) if scen == "get_tasks" else None
        nginx = med((conns, "nginx", "plain_tasks")) if scen == "get_tasks" else None
        print(f"| {conns} | {scen} | {ratio(bare[0] if bare else None)} | "
              f"{ratio(nginx[0] if nginx else None)} | {ratio(best('express'))} | {ratio(best('fastapi'))} |")
pg = [k for k in rows if k[1].startswith("assistant-pg")]
if pg:
    print("\nPostgreSQL (req/s ratios):\n")
    print("| conns | scenario | peer | vs best Express | vs assistant-server on SQLite |")
    print("|---:|---|---|---:|---:|")
    for k in sorted(pg):
        conns, peer, scen = k
        ours = med(k)[0]
        ex = [med(j)[0] for j in rows if j[0] == conns and j[2] == scen and j[1].startswith("express")]
        lite = med((conns, "assistant-server", scen))
        print(f"| {conns} | {scen} | {peer} | {ours / max(ex):.2f}x | " if ex else f"| {conns} | {scen} | {peer} | - | ",
              end="")
        print(f"{ours / lite[0]:.2f}x |" if lite else "- |")
PY
echo "raw results: $RESULTS"
