#!/usr/bin/env bash
# The openai-node compatibility test (ctest "sdk_openai_node"): starts
# assistant-server on a free port with a fresh database, registers a user,
# creates an API key with curl, installs the pinned `openai` package with
# `npm ci` into WORK_DIR (once), then runs compat.mjs against the server.
# Fails — never skips — when node, npm or curl is missing.
#
#   run.sh <assistant-server binary> <work dir>
set -euo pipefail

SERVER_BIN=${1:?usage: run.sh <assistant-server binary> <work dir>}
WORK_DIR=${2:?usage: run.sh <assistant-server binary> <work dir>}
HERE=$(cd "$(dirname "$0")" && pwd)

for tool in node npm curl; do
  if ! command -v "$tool" >/dev/null; then
    echo "FAIL: $tool is required (scripts/install-deps.sh installs it)" >&2
    exit 1
  fi
done

# The package in the build tree, reinstalled only when the lock file changes.
mkdir -p "$WORK_DIR"
cp "$HERE/package.json" "$HERE/package-lock.json" "$HERE/compat.mjs" "$WORK_DIR/"
if ! cmp -s "$HERE/package-lock.json" "$WORK_DIR/node_modules/.installed-lock.json" 2>/dev/null; then
  (cd "$WORK_DIR" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$HERE/package-lock.json" "$WORK_DIR/node_modules/.installed-lock.json"
fi

RUN_DIR=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$RUN_DIR"
}
trap cleanup EXIT

"$SERVER_BIN" --host 127.0.0.1 --port 0 --database "sqlite://$RUN_DIR/sdk.db" \
  --argon2-memory-kib 256 --argon2-iterations 1 --rate-limit-auth 0 --rate-limit-api 0 \
  >"$RUN_DIR/server.log" 2>&1 &
SERVER_PID=$!

PORT=
for _ in $(seq 1 1500); do  # up to 30 s on a busy machine
  PORT=$(grep -m1 'listening' "$RUN_DIR/server.log" | grep -o 'port=[0-9]*' | cut -d= -f2 || true)
  [[ -n "$PORT" ]] && break
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "FAIL: assistant-server exited:" >&2
    cat "$RUN_DIR/server.log" >&2
    exit 1
  fi
  sleep 0.02
done
if [[ -z "$PORT" ]]; then
  echo "FAIL: assistant-server did not start listening" >&2
  cat "$RUN_DIR/server.log" >&2
  exit 1
fi
BASE="http://127.0.0.1:$PORT"

json_field() {  # json_field <field> < json
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s)[process.argv[1]];if(v===undefined)process.exit(1);console.log(v)})' "$1"
}

TOKEN=$(curl -fsS -X POST "$BASE/api/auth/register" -H 'Content-Type: application/json' \
  -d '{"email":"sdk@example.com","password":"correct horse battery"}' | json_field access_token)
KEY=$(curl -fsS -X POST "$BASE/api/auth/api-keys" -H 'Content-Type: application/json' \
  -H "Authorization: Bearer $TOKEN" \
  -d '{"name":"openai-node","scopes":["agent","tasks:read","tasks:write"]}' | json_field key)

status=0
OPENAI_BASE_URL="$BASE/v1" OPENAI_API_KEY="$KEY" node "$WORK_DIR/compat.mjs" || status=$?
if ((status != 0)); then
  echo "--- server log" >&2
  tail -n 50 "$RUN_DIR/server.log" >&2
fi
exit "$status"
