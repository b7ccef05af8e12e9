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
# beast (the forwarder's synchronous Boost.Beast client, the bare-beast row).
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
OUT=$(mktemp -d "${TMPDIR:-/tmp}/gateway-bench-XXXXXX")

for t in wrk nginx curl jq; do
  command -v "$t" >/dev/null || { echo "gateway.sh: $t not found" >&2; exit 2; }
done
for b in assistant-server assistant-gateway bare-httplib-server bare-beast-proxy; do
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

"$BIN_DIR/assistant-server" --port "$SERVER_PORT" --database "sqlite://$OUT/bench.db" \
  --threads "$SERVER_THREADS" --rate-limit-api 0 --rate-limit-auth 0 >"$OUT/server.log" 2>&1 &
pids+=($!)
wait_ready "http://127.0.0.1:$SERVER_PORT/readyz"

"$BIN_DIR/assistant-gateway" --port "$GATEWAY_PORT" --backend "http://127.0.0.1:$SERVER_PORT" \
  --threads "$GATEWAY_THREADS" --rate-limit 0 >"$OUT/gateway.log" 2>&1 &
pids+=($!)
wait_ready "http://127.0.0.1:$GATEWAY_PORT/readyz"

"$BIN_DIR/bare-httplib-server" --port "$BARE_PORT" --threads "$GATEWAY_THREADS" \
  >"$OUT/bare.log" 2>&1 &
pids+=($!)
"$BIN_DIR/bare-beast-proxy" --port "$BARE_PROXY_PORT" --backend "http://127.0.0.1:$SERVER_PORT" \
  --threads "$GATEWAY_THREADS" --client httplib >"$OUT/bare-proxy.log" 2>&1 &
pids+=($!)
"$BIN_DIR/bare-beast-proxy" --port "$BARE_BEAST_PORT" --backend "http://127.0.0.1:$SERVER_PORT" \
  --threads "$GATEWAY_THREADS" --client beast >"$OUT/bare-beast.log" 2>&1 &
pids+=($!)

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
pids+=($!)
wait_ready "http://127.0.0.1:$NGINX_PORT/readyz"
wait_ready "http://127.0.0.1:$NGINX_FIXED_PORT/api/tasks"
wait_ready "http://127.0.0.1:$BARE_PROXY_PORT/readyz"
wait_ready "http://127.0.0.1:$BARE_BEAST_PORT/readyz"

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
        bare-proxy:$BARE_PROXY_PORT bare-beast:$BARE_BEAST_PORT bare-httplib:$BARE_PORT nginx-fixed:$NGINX_FIXED_PORT; do
      name=${target%%:*} port=${target##*:}
      threads=$((conns < 2 ? 1 : 2))
      wrk -t"$threads" -c"$conns" -d"$DURATION" --latency \
        -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/tasks" \
        >"$OUT/wrk-$name-$conns-$round.txt"
      printf '%s\t%s\t%s\n' "$conns" "$name" "$OUT/wrk-$name-$conns-$round.txt" >>"$RESULTS"
    done
  done
done

python3 - "$RESULTS" <<'PY'
import re, statistics as st, sys
def us(text):
    v, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(v) * {"us": 1, "ms": 1e3, "s": 1e6}[unit]
runs = {}
for line in open(sys.argv[1]):
    conns, name, path = line.rstrip("\n").split("\t")
    out = open(path).read()
    p50 = us(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = us(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors:(.*)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + \
        (sum(int(n) for n in re.findall(r"\d+", sock.group(1))) if sock else 0)
    runs.setdefault((int(conns), name), []).append((p50, p99, rps, errors))
print("conns target        p50(us)  p99(us)   req/s   errors   (median of rounds)")
for conns in sorted({c for c, _ in runs}):
    med = {}
    for name in ("server", "gateway", "nginx", "bare-proxy", "bare-beast", "bare-httplib", "nginx-fixed"):
        r = runs[(conns, name)]
        med[name] = [st.median(x[i] for x in r) for i in range(3)] + [sum(x[3] for x in r)]
        p50, p99, rps, err = med[name]
        print(f"{conns:5d} {name:12s} {p50:8.0f} {p99:8.0f} {rps:9.0f} {err:6d}")
    print(f"{conns:5d} added p50: gateway {med['gateway'][0] - med['server'][0]:.0f} us, "
          f"nginx {med['nginx'][0] - med['server'][0]:.0f} us; "
          f"gateway/nginx req/s {med['gateway'][2] / med['nginx'][2]:.2f}x, "
          f"gateway/server {med['gateway'][2] / med['server'][2]:.2f}x, "
          f"nginx/server {med['nginx'][2] / med['server'][2]:.2f}x; "
          f"bare proxy (httplib client): adds {med['bare-proxy'][0] - med['server'][0]:.0f} us, "
          f"{med['bare-proxy'][2] / med['nginx'][2]:.2f}x nginx; "
          f"bare proxy (beast client): adds {med['bare-beast'][0] - med['server'][0]:.0f} us, "
          f"{med['bare-beast'][2] / med['nginx'][2]:.2f}x nginx; "
          f"ceilings: bare cpp-httplib/nginx {med['bare-httplib'][2] / med['nginx-fixed'][2]:.2f}x")
PY
echo "raw wrk output: $OUT" >&2
