#!/usr/bin/env bash
# One box: two assistant-server backends over one database, an
# assistant-gateway in front of them, and the example app behind the app
# proxy (docs/gateway.md, docs/apps.md). Ctrl-C (SIGINT) or SIGTERM stops
# them all.
#
#   scripts/one-box.sh            # gateway on :8000, servers :8001 :8002, app :9001
#   curl localhost:8000/readyz
#
# The database: $ONE_BOX_DATABASE when set (sqlite://... or postgresql://...);
# else a throwaway PostgreSQL (scripts/pg-test-server.sh, gone when the box
# stops) where the build has PostgreSQL and a server is installed; else
# SQLite in the box's directory, kept across runs.
#
# Settings (environment): ONE_BOX_DIR (./one-box: apps.json, secret, keys,
# logs, the SQLite file), ONE_BOX_PORT (8000, the gateway),
# ONE_BOX_SERVER_PORTS ("8001 8002"), ONE_BOX_APP_PORT (9001),
# ONE_BOX_BIN (a directory holding built binaries: nothing is installed or
# built; the tests use it).
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${ONE_BOX_DIR:-one-box}
gateway_port=${ONE_BOX_PORT:-8000}
read -r -a server_ports <<<"${ONE_BOX_SERVER_PORTS:-8001 8002}"
app_port=${ONE_BOX_APP_PORT:-9001}
bin=${ONE_BOX_BIN:-}
if [[ -z $bin ]]; then
  scripts/install-deps.sh
  # Every option set, as scripts/run.sh does, so build/ is shared in any order.
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DASSISTANT_SANITIZE=OFF \
    -DASSISTANT_BUILD_SERVER=ON -DASSISTANT_BUILD_TESTS=OFF -DASSISTANT_BUILD_BENCHMARKS=OFF \
    -DASSISTANT_BUILD_EXAMPLES=OFF -DASSISTANT_BUILD_BINDINGS=OFF -DASSISTANT_BUILD_CLIENTS=OFF >/dev/null
  cmake --build build -j"$(nproc)" --target assistant-server assistant-gateway
  bin=build/bin
fi

mkdir -p "$dir"
cat >"$dir/apps.json" <<JSON
{"apps":[{"id":"identity","name":"Identity example","upstream":"http://127.0.0.1:$app_port",
  "scopes":["tasks:read","agent"],"allowed_origins":[]}]}
JSON

pids=()
stop() {
  trap - INT TERM EXIT
  # Newest first: the gateway before the servers, PostgreSQL last.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wait_ready() {  # url pid
  for _ in $(seq 300); do
    curl -fs "$1" >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  echo "one-box: $1 did not come up (logs in $dir/)" >&2
  return 1
}

database=${ONE_BOX_DATABASE:-}
# A build with PostgreSQL links libpq; a server to run is Debian's package.
if [[ -z $database && $(ldd "$bin/assistant-server") == *libpq.* ]] &&
   compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  rm -f "$dir/pg.env"
  scripts/pg-test-server.sh >"$dir/pg.env" 2>"$dir/pg.log" &
  pids+=($!)
  for _ in $(seq 300); do
    grep -q '^ASSISTANT_TEST_PG_URL=' "$dir/pg.env" 2>/dev/null && break
    kill -0 "${pids[-1]}" 2>/dev/null || { cat "$dir/pg.log" >&2; exit 1; }
    sleep 0.1
  done
  database=$(sed -n 's/^ASSISTANT_TEST_PG_URL=//p' "$dir/pg.env")
  rm -f "$dir/pg.env"  # it holds the password
  [[ -n $database ]] || { echo "one-box: PostgreSQL did not start" >&2; exit 1; }
fi
database=${database:-sqlite://$dir/assistant.db}
# Without user and password: the URL may hold one.
shown=$database
[[ $shown == *@* ]] && shown="${database%%://*}://${database#*@}"
echo "one-box: database $shown" >&2

# One after the other: the first makes the shared JWT secret (in the state
# directory, which both use) and the signing keys in the database.
for port in "${server_ports[@]}"; do
  "$bin/assistant-server" --port "$port" --database "$database" --state-dir "$dir/state" \
    --apps "$dir/apps.json" --llm-provider rules --trusted-proxies 127.0.0.1 \
    >>"$dir/server-$port.log" 2>&1 &
  pids+=($!)
  wait_ready "http://127.0.0.1:$port/readyz" "${pids[-1]}"
done
/usr/bin/python3 examples/identity_app/identity_app.py --app-id identity --port "$app_port" \
  --jwks "http://127.0.0.1:${server_ports[0]}/.well-known/jwks.json" >>"$dir/app.log" 2>&1 &
pids+=($!)
backends=$(printf 'http://127.0.0.1:%s,' "${server_ports[@]}")
"$bin/assistant-gateway" --port "$gateway_port" --apps "$dir/apps.json" \
  --database "$database" --jwt-secret-file "$dir/state/jwt-secret" \
  --backend "${backends%,}" >>"$dir/gateway.log" 2>&1 &
pids+=($!)
wait_ready "http://127.0.0.1:$gateway_port/readyz" "${pids[-1]}"
echo "one-box: gateway on http://127.0.0.1:$gateway_port (Ctrl-C stops everything; logs in $dir/)" >&2
# Until a signal or until one of them exits; either way the trap stops the rest.
wait -n
echo "one-box: a process exited; stopping the others" >&2
