#!/usr/bin/env bash
# bench/http/gateway.sh - what assistant-gateway adds on GET /api/tasks, in one run:
# the same assistant-server (20 tasks, bearer token) measured alone, through
# assistant-gateway, and through nginx as a reverse proxy (keep-alive to the server),
# with wrk on loopback at each of CONNS_LIST connections. Prints p50, p99 and req/s per
# target, the p50 each proxy adds, and the gateway's throughput as a multiple of
# nginx's (docs/performance.md states the targets: added p50 under 0.5 ms, at least
# 0.7x nginx). What bounds the gateway is shown by two ceilings in the same run: a bare
# cpp-httplib server (bare-httplib-server) and nginx, each answering a fixed 20-task
# body; and bare-beast-proxy, the gateway's forwarding model (its transport, a worker
# per request, a pooled exchange with the backend) with none of its edge work, run
# twice: --client httplib (cpp-httplib's client, the bare-proxy row) and --client
# beast (the forwarder's synchronous Boost.Beast client, the bare-beast row). And
# bare-async-proxy, the same forward in the asynchronous model (an event loop per
# thread, no worker), with --threads 1 and 2 (the bare-async-1 and -2 rows).
# Each row also gives the CPU its serving process(es) spent per request (utime +
# stime from /proc/PID/stat before and after the wrk run, as bench/http/cpu.sh
# reads it; nginx's master and workers summed), which says where a proxy's time
# goes better than req/s on a shared machine.
#
# Builds nothing: expects assistant-server and assistant-gateway in BIN_DIR (default
# build/bin, Release). Needs wrk, nginx, curl and jq (scripts/install-deps.sh bench).
#   bench/http/gateway.sh
#   DURATION=8s ROUNDS=3 CONNS_LIST="1 16" bench/http/gateway.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN_DIR=$(cd "${BIN_DIR:-$ROOT/build/bin}" && pwd)
CONNS_LIST=${CONNS_LIST:-"1 16"}
DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
SERVER_THREADS=${SERVER_THREADS:-16}
GATEWAY_THREADS=${GATEWAY_THREADS:-16}
SERVER_PORT=${SERVER_PORT:-18801}
GATEWAY_PORT=${GATEWAY_PORT:-18800}
NGINX_PORT=${NGINX_PORT:-18802}
NGINX_FIXED_PORT=${NGINX_FIXED_PORT:-18803}
BARE_PORT=${BARE_PORT:-18804}
BARE_PROXY_PORT=${BARE_PROXY_PORT:-18805}
BARE_BEAST_PORT=${BARE_BEAST_PORT:-18806}
BARE_ASYNC1_PORT=${BARE_ASYNC1_PORT:-18807}
BARE_ASYNC2_PORT=${BARE_ASYNC2_PORT:-18808}
OUT=$(mktemp -d "${TMPDIR:-/tmp}/gateway-bench-XXXXXX")

for t in wrk nginx curl jq; do
  command -v "$t" >/dev/null || { echo "gateway.sh: $t not found" >&2; exit 2; }
done
for b in assistant-server assistant-gateway bare-httplib-server bare-beast-proxy bare-async-proxy; do
  [[ -x $BIN_DIR/$b ]] || { echo "gateway.sh: $BIN_DIR/$b not found (build first)" >&2; exit 2; }
done

pids=()
stop() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT

wait_ready() {  # url
  for _ in $(seq 100); do
    curl -fs -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "gateway.sh: $1 did not come up" >&2
  exit 1
}

declare -A pid_of  # target name -> the pid whose CPU time its rows report
"$BIN_DIR/assistant-server" --port "$SERVER_PORT" --database "sqlite://$OUT/bench.db" \
  --threads "$SERVER_THREADS" --rate-limit-api 0 --rate-limit-auth 0 >"$OUT/server.log" 2>&1 &
pids+=($!) pid_of[server]=$!
wait_ready "http://127.0.0.1:$SERVER_PORT/readyz"

"$BIN_DIR/assistant-gateway" --port "$GATEWAY_PORT" --backend "http://127.0.0.1:$SERVER_PORT" \
  --threads "$GATEWAY_THREADS" --rate-limit 0 >"$OUT/gateway.log" 2>&1 &
pids+=($!) pid_of[gateway]=$!
wait_ready "http://127.0.0.1:$GATEWAY_PORT/readyz"

"$BIN_DIR/bare-httplib-server" --port "$BARE_PORT" --threads "$GATEWAY_THREADS" \
  >"$OUT/bare.log" 2>&1 &
pids+=($!) pid_of[bare-httplib]=$!
"$BIN_DIR/bare-beast-proxy" --port "$BARE_PROXY_PORT" --backend "http://127.0.0.1:$SERVER_PORT" \
  --threads "$GATEWAY_THREADS" --client httplib >"$OUT/bare-proxy.log" 2>&1 &
pids+=($!) pid_of[bare-proxy]=$!
"$BIN_DIR/bare-beast-proxy" --port "$BARE_BEAST_PORT" --backend "http://127.0.0.1:$SERVER_PORT" \
  --threads "$GATEWAY_THREADS" --client beast >"$OUT/bare-beast.log" 2>&1 &
pids+=($!) pid_of[bare-beast]=$!
for n in 1 2; do
  port_var=BARE_ASYNC${n}_PORT
  "$BIN_DIR/bare-async-proxy" --port "${!port_var}" --backend "http://127.0.0.1:$SERVER_PORT" \
    --threads "$n" >"$OUT/bare-async-$n.log" 2>&1 &
  pids+=($!) pid_of[bare-async-$n]=$!
done

# nginx as the usual reverse proxy: one worker per core, keep-alive to the server;
# and on another port the same body as the bare server, fixed.
mkdir -p "$OUT/nginx"
# The bare server's body, so both ceilings answer the same bytes.
wait_ready "http://127.0.0.1:$BARE_PORT/api/tasks"
curl -fs "http://127.0.0.1:$BARE_PORT/api/tasks" >"$OUT/nginx/tasks.json"
chmod 755 "$OUT" "$OUT/nginx" && chmod 644 "$OUT/nginx/tasks.json"  # nginx's workers read it
cat >"$OUT/nginx/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $OUT/nginx/nginx.pid;
error_log $OUT/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $OUT/nginx/body;
  proxy_temp_path $OUT/nginx/proxy;
  fastcgi_temp_path $OUT/nginx/fastcgi;
  uwsgi_temp_path $OUT/nginx/uwsgi;
  scgi_temp_path $OUT/nginx/scgi;
  upstream backend { server 127.0.0.1:$SERVER_PORT; keepalive 64; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_buffering off;
    }
  }
  server {
    listen 127.0.0.1:$NGINX_FIXED_PORT;
    location / { default_type application/json; root $OUT/nginx; try_files /tasks.json =404; }
  }
}
EOF
nginx -c "$OUT/nginx/nginx.conf" -e "$OUT/nginx/error.log" &
pids+=($!) pid_of[nginx]=$! pid_of[nginx-fixed]=$!
wait_ready "http://127.0.0.1:$NGINX_PORT/readyz"
wait_ready "http://127.0.0.1:$NGINX_FIXED_PORT/api/tasks"
wait_ready "http://127.0.0.1:$BARE_PROXY_PORT/readyz"
wait_ready "http://127.0.0.1:$BARE_BEAST_PORT/readyz"
wait_ready "http://127.0.0.1:$BARE_ASYNC1_PORT/readyz"
wait_ready "http://127.0.0.1:$BARE_ASYNC2_PORT/readyz"

# CPU ticks (user + system) of a process and its children: nginx's master and
# its workers; the others have no children, their threads are in their stat.
cpu_ticks() {
  local pid=$1 total=0 child
  total=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  for child in $(pgrep -P "$pid" || true); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$child/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}

# One user with 20 tasks, registered on the server itself (not timed).
token=$(curl -fs -X POST "http://127.0.0.1:$SERVER_PORT/api/auth/register" \
  -H 'Content-Type: application/json' \
  -d "{\"email\":\"bench-$RANDOM@example.com\",\"password\":\"bench-password-1\"}" | jq -r .access_token)
for i in $(seq 20); do
  curl -fs -o /dev/null -X POST "http://127.0.0.1:$SERVER_PORT/api/tasks" \
    -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d "{\"title\":\"task $i\"}"
done

RESULTS=$OUT/results.tsv
: >"$RESULTS"
for conns in $CONNS_LIST; do
  for round in $(seq "$ROUNDS"); do
    for target in server:$SERVER_PORT gateway:$GATEWAY_PORT nginx:$NGINX_PORT \
        bare-proxy:$BARE_PROXY_PORT bare-beast:$BARE_BEAST_PORT bare-async-1:$BARE_ASYNC1_PORT \
        bare-async-2:$BARE_ASYNC2_PORT bare-httplib:$BARE_PORT nginx-fixed:$NGINX_FIXED_PORT; do
      name=${target%%:*} port=${target##*:}
      threads=$((conns < 2 ? 1 : 2))
      t0=$(cpu_ticks "${pid_of[$name]}")
      wrk -t"$threads" -c"$conns" -d"$DURATION" --latency \
        -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/tasks" \
        >"$OUT/wrk-$name-$conns-$round.txt"
      t1=$(cpu_ticks "${pid_of[$name]}")
      printf '%s\t%s\t%s\t%s\n' "$conns" "$name" "$OUT/wrk-$name-$conns-$round.txt" \
        "$((t1 - t0))" >>"$RESULTS"
    done
  done
done

python3 - "$RESULTS" "$(getconf CLK_TCK)" <<'PY'
import re, statistics as st, sys
hz = float(sys.argv[2])
def us(text):
    v, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(v) * {"us": 1, "ms": 1e3, "s": 1e6}[unit]
runs = {}
for line in open(sys.argv[1]):
    conns, name, path, ticks = line.rstrip("\n").split("\t")
    out = open(path).read()
    p50 = us(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = us(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    cpu = float(ticks) / hz * 1e6 / max(requests, 1)  # us of the process's CPU per request
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors:(.*)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + \
        (sum(int(n) for n in re.findall(r"\d+", sock.group(1))) if sock else 0)
    runs.setdefault((int(conns), name), []).append((p50, p99, rps, cpu, errors))
names = ("server", "gateway", "nginx", "bare-proxy", "bare-beast", "bare-async-1",
         "bare-async-2", "bare-httplib", "nginx-fixed")
proxies = ("gateway", "nginx", "bare-proxy", "bare-beast", "bare-async-1", "bare-async-2")
print("conns target        p50(us)  p99(us)   req/s  cpu(us/req) errors  added p50  added p99"
      "  req/s/nginx   (median of rounds)")
for conns in sorted({c for c, _ in runs}):
    med = {}
    for name in names:
        r = runs[(conns, name)]
        med[name] = [st.median(x[i] for x in r) for i in range(4)] + [sum(x[4] for x in r)]
    for name in names:
        p50, p99, rps, cpu, err = med[name]
        extra = ""
        if name in proxies:
            extra = (f" {p50 - med['server'][0]:9.0f} {p99 - med['server'][1]:9.0f}"
                     f" {rps / med['nginx'][2]:9.2f}x")
        print(f"{conns:5d} {name:12s} {p50:8.0f} {p99:8.0f} {rps:9.0f} {cpu:9.1f} {err:6d}{extra}")
    print(f"{conns:5d} gateway/nginx req/s {med['gateway'][2] / med['nginx'][2]:.2f}x, "
          f"gateway/server {med['gateway'][2] / med['server'][2]:.2f}x, "
          f"nginx/server {med['nginx'][2] / med['server'][2]:.2f}x; "
          f"ceilings: bare cpp-httplib/nginx {med['bare-httplib'][2] / med['nginx-fixed'][2]:.2f}x")
PY
echo "raw wrk output: $OUT" >&2
