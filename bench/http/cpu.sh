#!/usr/bin/env bash
# bench/http/cpu.sh - server CPU time per request, beside req/s.
#
# On a machine shared with other work, req/s moves with whatever else runs
# (compilers, other benchmarks); the CPU time a server spends per request
# does not. This starts one server, runs wrk against it, and reads the
# server's CPU time (user + system, /proc/PID/stat) before and after:
#   bare           bare-httplib-server, GET /api/tasks (fixed 20-task body)
#   get            assistant-server, authenticated GET /api/tasks (20 tasks)
#   post           assistant-server, POST /api/tasks
#   agent          assistant-server, POST /api/agent/message "list tasks"
#   conversation   assistant-server, POST /api/conversations (a new one each)
#
# Usage (from the repository root, after a Release build):
#   bench/http/cpu.sh [bare|get|post|agent|conversation]...      default: bare get
#   BIN_DIR=build/bin CONNS=16 DURATION=5 PORT=18290 bench/http/cpu.sh bare get
# Prints: scenario, req/s, p99 ms, non-2xx, server CPU us per request, cores used.
# PG_URL=postgresql://... (scripts/pg-test-server.sh's ASSISTANT_TEST_PG_URL): the server
# runs on a fresh database there instead of SQLite, and the PostgreSQL processes' CPU per
# request is printed too (pg_us_per_req: the processes of that PostgreSQL, see pg_ticks).
# SERVER_ARGS: more flags for assistant-server (e.g. "--db-pool 16").
# Also printed: the server's context switches per request (all its threads), the thread
# wake-ups that the CPU figure is mostly made of on PostgreSQL.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN_DIR=$(cd "${BIN_DIR:-$ROOT/build/bin}" && pwd)
LUA=${LUA:-$ROOT/../shared/bench/wrk-req.lua}
CONNS=${CONNS:-16}
THREADS=$((CONNS < 2 ? CONNS : 2))  # wrk refuses more threads than connections
DURATION=${DURATION:-5}
PORT=${PORT:-18290}
[[ -f $LUA ]] || { echo "cpu.sh: $LUA not found" >&2; exit 2; }
for t in curl jq wrk; do command -v "$t" >/dev/null || { echo "cpu.sh: $t not found" >&2; exit 2; }; done

server_pid=
work=
pg_db=
PSQL=$(ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | tail -1 || true)
stop() {
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  server_pid=
  [[ -n $work ]] && rm -rf "$work"
  work=
  if [[ -n $pg_db ]]; then "$PSQL" -q -X "$PG_URL" -c "DROP DATABASE IF EXISTS $pg_db" >/dev/null; fi
  pg_db=
}
trap stop EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Context switches, voluntary and not, summed over the process's threads.
ctx_switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {s += $2} END {print s + 0}'; }
# CPU ticks of the PostgreSQL at PG_URL: its postmaster, the processes it runs
# now (the server's pooled backends among them) and those it has reaped
# (cutime + cstime), so other clusters on a shared machine do not count. Every
# postgres process on the machine when the data directory cannot be read (a
# role that may not read data_directory).
pg_ticks() {
  local dir pm
  if [[ -z ${PG_URL:-} ]]; then echo 0; return; fi  # on SQLite: no PostgreSQL to count
  dir=$("$PSQL" -qAtX "$PG_URL" -c 'SHOW data_directory' 2>/dev/null || true)
  pm=$(head -1 "$dir/postmaster.pid" 2>/dev/null || true)
  if [[ -n $pm && -r /proc/$pm/stat ]]; then
    { awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat"
      for c in $(pgrep -P "$pm"); do awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null || true; done
    } | awk '{s += $1} END {print s + 0}'
    return
  fi
  cat /proc/[0-9]*/stat 2>/dev/null | awk '$2 == "(postgres)" {s += $14 + $15} END {print s + 0}'
}

measure() {
  local mode=$1 base="http://127.0.0.1:$PORT" path=/api/tasks
  work=$(mktemp -d)
  if [[ $mode == bare ]]; then
    "$BIN_DIR/bare-httplib-server" --port "$PORT" >/dev/null 2>&1 &
  else
    local database="sqlite://$work/bench.db"
    if [[ -n ${PG_URL:-} ]]; then
      pg_db="cpu_bench_$$"
      "$PSQL" -q -X "$PG_URL" -c "CREATE DATABASE $pg_db" >/dev/null
      database="${PG_URL%/*}/$pg_db"
    fi
    "$BIN_DIR/assistant-server" --port "$PORT" --database "$database" \
      --rate-limit-api 0 --rate-limit-auth 0 --state-dir "$work/state" ${SERVER_ARGS:-} >"$work/server.log" 2>&1 &
  fi
  server_pid=$!
  for _ in $(seq 100); do curl -s -o /dev/null "$base/" && break; sleep 0.1; done
  export WRK_METHOD=GET WRK_BODY= WRK_TOKEN=
  if [[ $mode != bare ]]; then
    local token conv
    token=$(curl -sf -X POST -H 'Content-Type: application/json' \
      -d '{"email":"cpu@bench.local","password":"bench-Passw0rd!","name":"Bench"}' \
      "$base/api/auth/register" | jq -er .access_token)
    for i in $(seq 20); do
      curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $token" \
        -d "{\"title\":\"seed task $i\"}" "$base/api/tasks"
    done
    export WRK_TOKEN=$token
    case $mode in
      get) ;;
      post) export WRK_METHOD=POST WRK_BODY='{"title":"bench task"}' ;;
      conversation)
        export WRK_METHOD=POST WRK_BODY='{"title":"weekly planning chat"}'
        path=/api/conversations ;;
      agent)
        conv=$(curl -sf -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $token" \
          -d '{"message":"list tasks"}' "$base/api/agent/message" | jq -ce .conversation_id)
        export WRK_METHOD=POST WRK_BODY="{\"message\":\"list tasks\",\"conversation_id\":$conv}"
        path=/api/agent/message ;;
      *) echo "cpu.sh: unknown scenario $mode" >&2; exit 2 ;;
    esac
  fi
  wrk -t"$THREADS" -c"$CONNS" -d1s -s "$LUA" "$base$path" >/dev/null 2>&1 || true  # warm-up
  local t0 t1 p0 p1 c0 c1 out
  t0=$(cpu_ticks "$server_pid"); p0=$(pg_ticks); c0=$(ctx_switches "$server_pid")
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" -s "$LUA" "$base$path" 2>&1 | grep '^WRKRESULT' || true)
  t1=$(cpu_ticks "$server_pid"); p1=$(pg_ticks); c1=$(ctx_switches "$server_pid")
  [[ -n $out ]] || { echo "cpu.sh: wrk gave no result for $mode" >&2; stop; return; }
  python3 - "$mode" "$out" "$t0" "$t1" "$(getconf CLK_TCK)" "$DURATION" "$p0" "$p1" "${pg_db:+pg}" "$c0" "$c1" <<'PY'
import sys
mode, line, t0, t1, hz, dur, p0, p1, pg, c0, c1 = sys.argv[1:]
v = dict(kv.split("=", 1) for kv in line.split()[1:])
secs = (float(t1) - float(t0)) / float(hz)
n = int(v['requests'])
pg_part = f" pg_us_per_req={(float(p1) - float(p0)) / float(hz) * 1e6 / n:6.1f}" if pg else ""
print(f"{mode:12} req/s={float(v['rps']):9.0f} p99_ms={float(v['p99_ms']):8.2f} "
      f"non2xx={v['non2xx']} cpu_us_per_req={secs * 1e6 / n:6.1f} "
      f"cores={secs / float(dur):.2f} ctx_per_req={(int(c1) - int(c0)) / n:4.2f}{pg_part}")
PY
  stop
}

modes=("$@")
[[ ${#modes[@]} -gt 0 ]] || modes=(bare get)
echo "# cpu.sh conns=$CONNS duration=${DURATION}s bin=$BIN_DIR${PG_URL:+ database=postgresql}"
for m in "${modes[@]}"; do measure "$m"; done
