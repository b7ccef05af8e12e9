#!/usr/bin/env bash
# One box: two assistant-server backends over one SQLite database, an
# assistant-gateway in front of them, and the example app behind the app
# proxy (docs/gateway.md, docs/apps.md). Ctrl-C stops them all.
#
#   scripts/one-box.sh            # gateway on :8000, servers :8001 :8002, app :9001
#   curl localhost:8000/readyz
#
# The database, keys and apps.json live in ./one-box/ (kept across runs).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DASSISTANT_SANITIZE=OFF \
  -DASSISTANT_BUILD_SERVER=ON -DASSISTANT_BUILD_TESTS=OFF -DASSISTANT_BUILD_BENCHMARKS=OFF \
  -DASSISTANT_BUILD_EXAMPLES=OFF -DASSISTANT_BUILD_BINDINGS=OFF -DASSISTANT_BUILD_CLIENTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target assistant-server assistant-gateway

dir=one-box
mkdir -p "$dir"
cat >"$dir/apps.json" <<'JSON'
{"apps":[{"id":"identity","name":"Identity example","upstream":"http://127.0.0.1:9001",
  "scopes":["tasks:read","agent"],"allowed_origins":[]}]}
JSON

pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

wait_ready() {  # url
  for _ in $(seq 100); do
    curl -fs "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "one-box: $1 did not come up" >&2
  return 1
}

# One after the other: the first creates the shared secret and keys.
for port in 8001 8002; do
  build/bin/assistant-server --port "$port" --database "sqlite://$dir/assistant.db" \
    --apps "$dir/apps.json" --llm-provider rules &
  pids+=($!)
  wait_ready "http://127.0.0.1:$port/readyz"
done
/usr/bin/python3 examples/identity_app/identity_app.py --app-id identity --port 9001 \
  --jwks http://127.0.0.1:8001/.well-known/jwks.json &
pids+=($!)
build/bin/assistant-gateway --port 8000 --apps "$dir/apps.json" \
  --database "sqlite://$dir/assistant.db" --jwt-secret-file "$dir/assistant.db.jwt-secret" \
  --backend http://127.0.0.1:8001,http://127.0.0.1:8002 &
pids+=($!)
wait_ready http://127.0.0.1:8000/readyz
echo "one-box: gateway on http://127.0.0.1:8000 (Ctrl-C stops everything)" >&2
wait -n
