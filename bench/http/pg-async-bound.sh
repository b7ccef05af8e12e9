#!/usr/bin/env bash
# bench/http/pg-async-bound.sh - what bounds GET /api/tasks on PostgreSQL: assistant-server
# beside the same request served in the asynchronous model and nothing else
# (bare-async-pg-server: libpq's asynchronous API on one event loop per thread, no
# worker, no auth), and beside the best Express peer, in one run. Run inside the test
# server, from the repository root, after a Release build:
#   CI=true scripts/pg-test-server.sh bench/http/pg-async-bound.sh
# One user and NTASKS tasks are made through assistant-server; then, at CONNS wrk
# connections, ROUNDS rounds of DURATION seconds each:
#   assistant          assistant-server --db-pool 16 (SERVER_ARGS), authenticated
#   bare-async-1t/-2t  bare-async-pg-server --threads 1 / 2, the same user's first page
#   express-2p/-1p     the Express peers (keyobj) from SHARED, on their own SQLite
# over TCP and, with the server's Unix socket (ASSISTANT_TEST_PG_SOCKET_DIR), over that.
# Prints per target: median req/s, ratio to the best Express, CPU us per request of the
# target (its process tree) and of this PostgreSQL (postmaster and its children).
# Env: BIN_DIR (build/bin), SHARED (../shared/bench), CONNS (16), ROUNDS (2),
#      DURATION (5), NTASKS (20), PORT (18670), SERVER_ARGS ("--db-pool 16").
set -euo pipefail
: "${ASSISTANT_TEST_PG_URL:?run inside scripts/pg-test-server.sh}"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN_DIR=$(cd "${BIN_DIR:-$ROOT/build/bin}" && pwd)
SHARED=${SHARED:-$ROOT/../shared/bench}
LUA=$SHARED/wrk-req.lua
CONNS=${CONNS:-16}
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-5}
NTASKS=${NTASKS:-20}
PORT=${PORT:-18670}
read -r -a server_args <<<"${SERVER_ARGS:---db-pool 16}"
SOCKET_DIR=${PG_SOCKET_DIR:-${ASSISTANT_TEST_PG_SOCKET_DIR:-}}
PEER_CACHE=${PEER_CACHE:-/tmp/libassistant-peers}
for b in assistant-server bare-async-pg-server; do
  [[ -x $BIN_DIR/$b ]] || { echo "pg-async-bound.sh: $BIN_DIR/$b not found (build first)" >&2; exit 2; }
done
[[ -f $LUA ]] || { echo "pg-async-bound.sh: $LUA not found" >&2; exit 2; }
pg=$(dirname "$(ls /usr/lib/postgresql/*/bin/psql | tail -1)")
db=pg_async_bound_$$
url="${ASSISTANT_TEST_PG_URL%/*}/$db"
work=$(mktemp -d)
pid=
stop_target() {
  if [[ -n $pid ]]; then
    local kids
    kids=$(pgrep -P "$pid" || true)
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for k in $kids; do kill "$k" 2>/dev/null || true; done
  fi
  pid=
}
cleanup() {
  stop_target
  "$pg/psql" -q -X "$ASSISTANT_TEST_PG_URL" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# The Express peer as run-peers.sh installs it (once, outside the repository).
mkdir -p "$PEER_CACHE/express"
cp "$SHARED/../peers/express/"{server.js,package.json,package-lock.json} "$PEER_CACHE/express/"
if [[ ! -d $PEER_CACHE/express/node_modules/better-sqlite3 ]]; then
  (cd "$PEER_CACHE/express" && npm ci --no-audit --no-fund >/dev/null 2>&1)
fi

"$pg/psql" -q -X "$ASSISTANT_TEST_PG_URL" -c "CREATE DATABASE $db" >/dev/null
declare -A urls=([tcp]=$url)
if [[ -n $SOCKET_DIR ]]; then
  # postgresql://user:password@host:port/db -> the same with host = the directory.
  urls[unix]=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); h = u.quote(sys.argv[2], safe=""); print(p._replace(netloc=p.netloc.rsplit("@", 1)[0] + "@" + h + ":" + str(p.port)).geturl())' "$url" "$SOCKET_DIR")
fi

base="http://127.0.0.1:$PORT"
wait_up() {  # any HTTP answer on $1
  for _ in $(seq 100); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "$base$1" || true) != 000 ]] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "pg-async-bound.sh: the target did not start" >&2
  exit 1
}
api() { curl -sf "$base$1" -H 'Content-Type: application/json' ${WRK_TOKEN:+-H "Authorization: Bearer $WRK_TOKEN"} -d "$2"; }
# A user and NTASKS tasks on the target now running; sets WRK_TOKEN.
seed() {
  WRK_TOKEN=
  WRK_TOKEN=$(api /api/auth/register '{"email":"bound@bench.local","password":"bench-Passw0rd!","name":"Bench"}' |
    jq -er .access_token)
  for i in $(seq "$NTASKS"); do api /api/tasks "{\"title\":\"seed task $i\"}" >/dev/null; done
}
login() {
  WRK_TOKEN=
  WRK_TOKEN=$(api /api/auth/login '{"email":"bound@bench.local","password":"bench-Passw0rd!"}' | jq -er .access_token)
}
start_assistant() {
  "$BIN_DIR/assistant-server" --port "$PORT" --database "$1" --rate-limit-api 0 --rate-limit-auth 0 \
    --state-dir "$work/state" "${server_args[@]}" >>"$work/server.log" 2>&1 &
  pid=$!
  wait_up /readyz
}

tree_ticks() {  # user + system ticks of $1 and its live children
  { awk '{print $14 + $15}' "/proc/$1/stat"
    for c in $(pgrep -P "$1"); do awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null || true; done
  } | awk '{s += $1} END {print s + 0}'
}
# This PostgreSQL's ticks: its postmaster, its live children and those reaped (cpu.sh).
pm=$(head -1 "$("$pg/psql" -qAtX "$ASSISTANT_TEST_PG_URL" -c 'SHOW data_directory')/postmaster.pid")
pg_ticks() {
  { awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat"
    for c in $(pgrep -P "$pm"); do awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null || true; done
  } | awk '{s += $1} END {print s + 0}'
}
results=$work/results.tsv
: >"$results"
measure() {  # label round: wrk against the target on $base, one line in $results
  local t0 t1 p0 p1 out
  export WRK_METHOD=GET WRK_BODY='' WRK_TOKEN
  out=$(curl -sf "$base/api/tasks" ${WRK_TOKEN:+-H "Authorization: Bearer $WRK_TOKEN"})
  [[ $(jq '.tasks | length' <<<"$out") == "$NTASKS" ]] || { echo "pg-async-bound.sh: $1 answered $out" >&2; exit 1; }
  # The bare server must send what assistant-server sends, byte for byte.
  if [[ $1 == bare-* && $out != "$expected" ]]; then
    echo "pg-async-bound.sh: $1's body differs from assistant-server's" >&2; exit 1
  fi
  wrk -t2 -c"$CONNS" -d1s -s "$LUA" "$base/api/tasks" >/dev/null 2>&1 || true  # warm-up
  t0=$(tree_ticks "$pid"); p0=$(pg_ticks)
  out=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" -s "$LUA" "$base/api/tasks" 2>&1 | grep '^WRKRESULT')
  t1=$(tree_ticks "$pid"); p1=$(pg_ticks)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$out" "$t0" "$t1" "$p0" "$p1" >>"$results"
  echo "round $2 $1: ${out#WRKRESULT }"
}

# The user and its tasks, through the server; the bare server reads that user's rows.
start_assistant "${urls[tcp]}"
seed
expected=$(curl -sf "$base/api/tasks" -H "Authorization: Bearer $WRK_TOKEN")
stop_target
user=$("$pg/psql" -X -At "$url" -c "SELECT user_id FROM tasks LIMIT 1")

echo "# pg-async-bound.sh conns=$CONNS duration=${DURATION}s rounds=$ROUNDS $(uptime | sed 's/.*load/load/')"
for round in $(seq "$ROUNDS"); do
  for t in "${!urls[@]}"; do
    start_assistant "${urls[$t]}"; login; measure "assistant-$t" "$round"; stop_target
    WRK_TOKEN=
    for n in 1 2; do
      "$BIN_DIR/bare-async-pg-server" --port "$PORT" --database "${urls[$t]}" --user-id "$user" \
        --threads "$n" >>"$work/bare.log" 2>&1 &
      pid=$!
      wait_up /api/tasks
      measure "bare-async-${n}t-$t" "$round"
      stop_target
    done
  done
  for w in 2 1; do
    rm -f "$work/express.db"*
    (cd "$PEER_CACHE/express" && DB_PATH=$work/express.db PORT=$PORT HOST=127.0.0.1 WORKERS=$w \
      JWT_KEY=keyobject exec node server.js) >>"$work/express.log" 2>&1 &
    pid=$!
    wait_up /api/tasks
    seed
    measure "express-${w}p" "$round"
    stop_target
  done
done
echo "# $(uptime | sed 's/.*load/load/')"

python3 - "$results" "$(getconf CLK_TCK)" <<'PY'
import sys, statistics as st
hz = float(sys.argv[2])
rows = {}
for line in open(sys.argv[1]):
    label, _, wrk, t0, t1, p0, p1 = line.rstrip("\n").split("\t")
    v = dict(kv.split("=", 1) for kv in wrk.split()[1:])
    n = int(v["requests"])
    rows.setdefault(label, []).append((float(v["rps"]), float(v["p99_ms"]),
        int(v["non2xx"]) + int(v["read"]) + int(v["timeout"]),
        (float(t1) - float(t0)) / hz * 1e6 / n, (float(p1) - float(p0)) / hz * 1e6 / n))
med = {k: [st.median(x[i] for x in r) for i in range(5)] + [sum(x[2] for x in r)] for k, r in rows.items()}
express = max(m[0] for k, m in med.items() if k.startswith("express"))
print("\n| target | req/s | p99 ms | errors | vs best Express | target us/req | PostgreSQL us/req |")
print("|---|---:|---:|---:|---:|---:|---:|")
for k in sorted(med):
    m = med[k]
    pgus = f"{m[4]:.1f}" if not k.startswith("express") else "-"
    print(f"| {k} | {m[0]:.0f} | {m[1]:.2f} | {m[5]} | {m[0] / express:.2f}x | {m[3]:.1f} | {pgus} |")
PY
