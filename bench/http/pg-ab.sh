#!/usr/bin/env bash
# bench/http/pg-ab.sh A_BIN B_BIN - two assistant-server builds on PostgreSQL, alternating
# (A, B, A, B, ...) so that a noisy machine weighs on both alike: GET and POST /api/tasks
# with ../shared/bench/peers.sh, a fresh database per run. Run inside the test server:
#   CI=true scripts/pg-test-server.sh bench/http/pg-ab.sh old/assistant-server build/bin/assistant-server
# Env: ROUNDS (3), CONNS (16), DURATION (5s), PORT (18600), SHARED (../shared/bench).
set -uo pipefail
: "${ASSISTANT_TEST_PG_URL:?run inside scripts/pg-test-server.sh}"
[[ $# -eq 2 ]] || { echo "usage: $0 A_BIN B_BIN" >&2; exit 2; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SHARED=${SHARED:-$ROOT/../shared/bench}
PORT=${PORT:-18600}
psql=$(ls /usr/lib/postgresql/*/bin/psql | tail -1)
n=0
for round in $(seq "${ROUNDS:-3}"); do
  for label in A B; do
    bin=$1; [[ $label == B ]] && bin=$2
    n=$((n + 1)); db=pg_ab_$$_$n
    "$psql" -q -X "$ASSISTANT_TEST_PG_URL" -c "CREATE DATABASE $db" >/dev/null
    "$bin" --port "$PORT" --database "${ASSISTANT_TEST_PG_URL%/*}/$db" --rate-limit-api 0 \
      --rate-limit-auth 0 --state-dir "${TMPDIR:-/tmp}/$db" >"${TMPDIR:-/tmp}/$db.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do curl -fs "localhost:$PORT/readyz" >/dev/null && break; sleep 0.1; done
    SCENARIOS="get post" CONNS=${CONNS:-16} DURATION=${DURATION:-5s} WARMUP=2s \
      "$SHARED/peers.sh" "http://127.0.0.1:$PORT" | grep -E "^(get|post)" | sed "s/^/$label round $round  /"
    kill "$pid"; wait "$pid" 2>/dev/null
    "$psql" -q -X "$ASSISTANT_TEST_PG_URL" -c "DROP DATABASE $db" >/dev/null
    rm -rf "${TMPDIR:-/tmp}/$db" "${TMPDIR:-/tmp}/$db.log"
  done
done
