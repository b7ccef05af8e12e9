#!/usr/bin/env bash
# The web app's browser tests (ctest "web_e2e"): installs chromium (apt,
# through scripts/install-deps.sh) and the pinned playwright-core (npm ci into
# WORK_DIR) when missing, starts two assistant-servers on free ports with
# fresh databases (the rules agent; an OpenAI provider on a fake upstream
# that streams slowly), then runs e2e.mjs. With SHOTS_DIR set, screenshots
# go there; with PERF_FILE, the measured page weight and time to interactive.
#
#   run.sh <assistant-server> <fake_llm_upstream> <work dir>
set -euo pipefail

SERVER_BIN=${1:?usage: run.sh <assistant-server> <fake_llm_upstream> <work dir>}
FAKE_BIN=${2:?usage: run.sh <assistant-server> <fake_llm_upstream> <work dir>}
WORK_DIR=${3:?usage: run.sh <assistant-server> <fake_llm_upstream> <work dir>}
HERE=$(cd "$(dirname "$0")" && pwd)

if [[ ! -x /usr/bin/chromium ]] || ! command -v npm >/dev/null; then
  "$HERE/../../scripts/install-deps.sh" web
fi

mkdir -p "$WORK_DIR"
cp "$HERE/package.json" "$HERE/package-lock.json" "$HERE/e2e.mjs" "$WORK_DIR/"
if ! cmp -s "$HERE/package-lock.json" "$WORK_DIR/node_modules/.installed-lock.json" 2>/dev/null; then
  (cd "$WORK_DIR" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$HERE/package-lock.json" "$WORK_DIR/node_modules/.installed-lock.json"
fi

RUN_DIR=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$RUN_DIR"
}
trap cleanup EXIT

# A reply of 60 words, one delta each, streamed slowly (about 5 s).
SLOW_TEXT=$(for i in $(seq 1 60); do printf 'word%d ' "$i"; done)
SLOW_TEXT=${SLOW_TEXT% }
{
  for w in $SLOW_TEXT; do
    [[ $w == word1 ]] && sep= || sep=' '
    printf 'data: {"id":"c1","object":"chat.completion.chunk","model":"fake","choices":[{"index":0,"delta":{"content":"%s%s"},"finish_reason":null}]}\n\n' "$sep" "$w"
  done
  printf 'data: {"id":"c1","object":"chat.completion.chunk","model":"fake","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
  printf 'data: [DONE]\n\n'
} >"$RUN_DIR/slow.sse"

"$FAKE_BIN" --protocol openai --chunk-delay 4 --reply "$RUN_DIR/slow.sse" >"$RUN_DIR/fake.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 500); do [[ -s "$RUN_DIR/fake.out" ]] && break; sleep 0.02; done
FAKE_URL=$(head -n1 "$RUN_DIR/fake.out")

# Sets BASE to the server's URL; not run in $(...), so that its pid reaches
# PIDS (and cleanup) in this shell.
start_server() {  # start_server <name> <args...>
  local name=$1; shift
  "$SERVER_BIN" --host 127.0.0.1 --port 0 --database "sqlite://$RUN_DIR/$name.db" \
    --argon2-memory-kib 256 --argon2-iterations 1 --rate-limit-auth 0 --rate-limit-api 0 \
    "$@" >"$RUN_DIR/$name.log" 2>&1 &
  PIDS+=($!)
  local port=
  for _ in $(seq 1 1500); do
    port=$(grep -m1 'listening' "$RUN_DIR/$name.log" | grep -o 'port=[0-9]*' | cut -d= -f2 || true)
    [[ -n "$port" ]] && break
    sleep 0.02
  done
  [[ -n "$port" ]] || { echo "FAIL: $name server did not start" >&2; cat "$RUN_DIR/$name.log" >&2; exit 1; }
  BASE="http://127.0.0.1:$port"
}
start_server rules
RULES_URL=$BASE
ASSISTANT_LLM_API_KEY=fake start_server slow --llm-provider openai --llm-base-url "$FAKE_URL" --llm-model fake
SLOW_URL=$BASE

status=0
RULES_URL=$RULES_URL SLOW_URL=$SLOW_URL SLOW_TEXT=$SLOW_TEXT node "$WORK_DIR/e2e.mjs" || status=$?
if ((status != 0)); then
  for n in rules slow; do echo "--- $n server log" >&2; tail -n 30 "$RUN_DIR/$n.log" >&2; done
fi
exit "$status"
