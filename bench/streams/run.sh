#!/usr/bin/env bash
# bench/streams/run.sh - many concurrent agent streams through assistant-server.
#
# Starts bench/streams' upstream (an OpenAI-compatible endpoint that emits a token every
# INTERVAL_MS, each carrying its send time) and assistant-server pointed at it
# (--llm-provider openai) on a temporary SQLite database, registers USERS users, then:
#   (a) added latency: STREAMS_LIST (1 100 500) concurrent streams, ROUNDS rounds each;
#       p50/p99 of (delta arrival at the client - token send at the upstream)
#   (b) GET /api/tasks (20 tasks) with wrk: WRK_SECONDS alone, then HOLD_SECONDS while
#       HOLD_STREAMS streams are open (one token per HOLD_INTERVAL_MS); the ratio of the
#       two throughputs (target >= 0.5)
#   (c) server RSS idle and with HOLD_STREAMS streams open: KiB per open stream
# and prints the figures with the ratios and targets.
#
# Builds nothing: expects assistant-server, stream_upstream and stream_client in BIN_DIR
# (default build/bin; configure with -DCMAKE_BUILD_TYPE=Release -DASSISTANT_BUILD_BENCHMARKS=ON).
# Run from anywhere:
#   bench/streams/run.sh
#   BIN_DIR=build-rel/bin ROUNDS=3 bench/streams/run.sh
#   SERVER_ARGS="--threads 256 --max-streams 600" bench/streams/run.sh
#   LATENCY_ONLY=1 STREAMS_LIST=500 INTERVAL_MS=100 bench/streams/run.sh   # (a) only
# (a) also prints the server's CPU time (user+system, /proc/<pid>/stat) per delta
# delivered: unlike the latencies, it barely moves when other load shares the cores.
# Every delta's arrival and latency is kept in OUT/deltas-STREAMS-ROUND.txt.
# Needs wrk and curl.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN_DIR=$(cd "${BIN_DIR:-$ROOT/build/bin}" && pwd)
STREAMS_LIST=${STREAMS_LIST:-"1 100 500"}
ROUNDS=${ROUNDS:-1}
TOKENS=${TOKENS:-60}            # tokens per stream in (a)
INTERVAL_MS=${INTERVAL_MS:-50}  # one token every 50 ms = 20 tokens/s per stream
SINGLE_TOKENS=${SINGLE_TOKENS:-300}  # one stream alone gets more tokens, for a p99
RAMP_MS=${RAMP_MS:-2000}        # streams open spread over this long
USERS=${USERS:-20}
WRK_SECONDS=${WRK_SECONDS:-10}
WRK_CONNS=${WRK_CONNS:-16}
HOLD_STREAMS=${HOLD_STREAMS:-500}
HOLD_SECONDS=${HOLD_SECONDS:-30}
HOLD_INTERVAL_MS=${HOLD_INTERVAL_MS:-250}
SERVER_ARGS=${SERVER_ARGS:-}
LATENCY_ONLY=${LATENCY_ONLY:-0}  # 1: (a) only, no wrk and no held streams
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/streams-bench.XXXXXX")}
mkdir -p "$OUT"

for b in assistant-server stream_upstream stream_client; do
  [[ -x $BIN_DIR/$b ]] || { echo "run.sh: $BIN_DIR/$b not found (build first)" >&2; exit 2; }
done
command -v wrk >/dev/null || { echo "run.sh: wrk not found" >&2; exit 2; }
command -v curl >/dev/null || { echo "run.sh: curl not found" >&2; exit 2; }

up_pid= srv_pid=
cleanup() {
  for p in $srv_pid $up_pid; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

"$BIN_DIR/stream_upstream" --port 0 --tokens "$TOKENS" --interval-ms "$INTERVAL_MS" \
  >"$OUT/upstream.port" 2>"$OUT/upstream.log" &
up_pid=$!
for _ in $(seq 50); do [[ -s $OUT/upstream.port ]] && break; sleep 0.1; done
UP_PORT=$(head -1 "$OUT/upstream.port")

# Fast Argon2: registering the users is not what is measured. Rate limits off: one
# principal is hammered on purpose.
# shellcheck disable=SC2086
"$BIN_DIR/assistant-server" --port 0 --database "sqlite://$OUT/bench.db" \
  --llm-provider openai --llm-base-url "http://127.0.0.1:$UP_PORT/v1" --llm-model bench \
  --rate-limit-api 0 --rate-limit-auth 0 --argon2-memory-kib 1024 --argon2-iterations 1 \
  $SERVER_ARGS >"$OUT/server.log" 2>&1 &
srv_pid=$!
PORT=
for _ in $(seq 100); do
  PORT=$(sed -n 's/.*msg=listening.* port=\([0-9]*\).*/\1/p' "$OUT/server.log" | head -1)
  [[ -n $PORT ]] && break
  sleep 0.1
done
[[ -n $PORT ]] || { echo "run.sh: the server did not start:" >&2; cat "$OUT/server.log" >&2; exit 1; }
B=http://127.0.0.1:$PORT

: >"$OUT/tokens.txt"
for i in $(seq "$USERS"); do
  curl -sf "$B/api/auth/register" -H 'Content-Type: application/json' \
    -d "{\"email\":\"bench$i@example.com\",\"password\":\"correct horse battery\",\"name\":\"B$i\"}" |
    sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p' >>"$OUT/tokens.txt"
  echo >>"$OUT/tokens.txt"  # the body has no final newline
done
T=$(head -1 "$OUT/tokens.txt")
for i in $(seq 20); do
  curl -sf -o /dev/null "$B/api/tasks" -H "Authorization: Bearer $T" \
    -H 'Content-Type: application/json' -d "{\"title\":\"task $i\"}"
done

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$srv_pid/status"; }
threads() { awk '/^Threads:/ {print $2}' "/proc/$srv_pid/status"; }
# user + system CPU of the server so far, in clock ticks
cpu_ticks() { awk '{print $14 + $15}' "/proc/$srv_pid/stat"; }
TICK_HZ=$(getconf CLK_TCK)
# key=value line -> value of key
field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }

RSS_IDLE=$(rss)
THREADS_IDLE=$(threads)
echo "server pid $srv_pid on port $PORT, upstream on $UP_PORT; commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "idle: VmRSS ${RSS_IDLE} KiB, ${THREADS_IDLE} threads"

# (a) added latency.
echo
echo "(a) added latency, token sent by the upstream -> delta read by the client (${INTERVAL_MS} ms between tokens)"
printf '%-8s %-6s %8s %8s %8s %8s %9s %8s %8s %12s\n' streams round ok deltas p50_us p99_us p999_us max_us start_p99_ms cpu_us/delta
declare -A P50 P99 CPU
for n in $STREAMS_LIST; do
  tokens=$TOKENS
  [[ $n -eq 1 ]] && tokens=$SINGLE_TOKENS
  for r in $(seq "$ROUNDS"); do
    cpu_before=$(cpu_ticks)
    line=$("$BIN_DIR/stream_client" --port "$PORT" --tokens-file "$OUT/tokens.txt" --streams "$n" \
      --ramp-ms "$RAMP_MS" --message "bench tokens=$tokens interval_ms=$INTERVAL_MS" \
      --rss-pid "$srv_pid" --timeout-s 300 --latency-file "$OUT/deltas-$n-$r.txt") || true
    cpu_after=$(cpu_ticks)
    # Everything the server did for these streams (accept, auth, the turn, its
    # storage) divided over their deltas.
    cpu=$(awk -v t=$((cpu_after - cpu_before)) -v hz="$TICK_HZ" -v d="$(field "$line" deltas)" \
      'BEGIN { printf "%.0f", (d > 0 ? t / hz * 1e6 / d : 0) }')
    echo "$n $r $line cpu_us_per_delta=$cpu" >>"$OUT/latency.txt"
    printf '%-8s %-6s %8s %8s %8s %8s %9s %8s %8s %12s\n' "$n" "$r" "$(field "$line" ok)/$n" \
      "$(field "$line" deltas)" "$(field "$line" p50_us)" "$(field "$line" p99_us)" \
      "$(field "$line" p999_us)" "$(field "$line" max_us)" "$(field "$line" start_p99_ms)" "$cpu"
    CPU[$n]+="$cpu "
    P50[$n]+="$(field "$line" p50_us) "
    P99[$n]+="$(field "$line" p99_us) "
  done
done

RPS_ALONE=0 RPS_LOADED=0 RSS_OPEN=0
if [[ $LATENCY_ONLY != 1 ]]; then
  # (b) ordinary traffic while streams are held open, and (c) memory per stream.
  wrk_rps() {
    wrk -t2 -c"$WRK_CONNS" -d"$1"s -H "Authorization: Bearer $T" "$B/api/tasks" |
      awk '/^Requests\/sec:/ {print $2} /Non-2xx/ {print "non2xx=" $NF > "/dev/stderr"}'
  }
  echo
  echo "(b) GET /api/tasks with wrk, ${WRK_CONNS} connections"
  RPS_ALONE=$(wrk_rps "$WRK_SECONDS")
  echo "alone: ${RPS_ALONE} req/s (${WRK_SECONDS} s)"
  hold_tokens=$(( (HOLD_SECONDS * 1000 + 3 * RAMP_MS + 10000) / HOLD_INTERVAL_MS ))
  rm -f "$OUT/ready"
  "$BIN_DIR/stream_client" --port "$PORT" --tokens-file "$OUT/tokens.txt" --streams "$HOLD_STREAMS" \
    --ramp-ms "$RAMP_MS" --message "bench tokens=$hold_tokens interval_ms=$HOLD_INTERVAL_MS" \
    --rss-pid "$srv_pid" --ready-file "$OUT/ready" --timeout-s 600 >"$OUT/hold.txt" &
  hold_pid=$!
  for _ in $(seq 600); do [[ -e $OUT/ready ]] && break; sleep 0.1; done
  RSS_OPEN=$(rss)
  THREADS_OPEN=$(threads)
  RPS_LOADED=$(wrk_rps "$HOLD_SECONDS")
  RSS_OPEN_END=$(rss)
  wait "$hold_pid" || true
  hold=$(cat "$OUT/hold.txt")
  echo "with ${HOLD_STREAMS} streams open: ${RPS_LOADED} req/s (${HOLD_SECONDS} s)"
  echo "streams: $(field "$hold" ok)/${HOLD_STREAMS} completed, $(field "$hold" refused) refused, " \
       "$(field "$hold" broken) broken; their deltas p50 $(field "$hold" p50_us) us, p99 $(field "$hold" p99_us) us"

  echo
  echo "(c) server memory"
  echo "idle ${RSS_IDLE} KiB (${THREADS_IDLE} threads); ${HOLD_STREAMS} streams open ${RSS_OPEN} KiB" \
       "(${THREADS_OPEN} threads), ${RSS_OPEN_END} KiB after ${HOLD_SECONDS} s"
fi

# Per stream from the RSS when all are open: the later figure also holds what 30 s of
# wrk traffic grew (malloc arenas of the ordinary workers).
python3 - "$RPS_ALONE" "$RPS_LOADED" "$RSS_IDLE" "$RSS_OPEN" "$HOLD_STREAMS" \
  "${P50[*]}" "${P99[*]}" "$STREAMS_LIST" "$ROUNDS" "${CPU[*]}" <<'PY'
import sys, statistics as st
alone, loaded, idle, open_, n = map(float, sys.argv[1:6])
p50 = sys.argv[6].split(); p99 = sys.argv[7].split()
streams = sys.argv[8].split(); rounds = int(sys.argv[9])
cpu = sys.argv[10].split()
print("\nSummary (medians over rounds)\n")
print("| streams | added p50 | added p99 | server CPU per delta | target p99 < 2 ms |")
print("|---:|---:|---:|---:|---|")
for i, s in enumerate(streams):
    a = [float(x) for x in p50[i * rounds:(i + 1) * rounds]]
    b = [float(x) for x in p99[i * rounds:(i + 1) * rounds]]
    c = [float(x) for x in cpu[i * rounds:(i + 1) * rounds]]
    m99 = st.median(b)
    verdict = ("met" if m99 < 2000 else "missed") if s == "500" else ""
    print(f"| {s} | {st.median(a) / 1000:.3f} ms | {m99 / 1000:.3f} ms | "
          f"{st.median(c):.0f} µs | {verdict} |")
if not alone:
    sys.exit(0)  # LATENCY_ONLY: no (b) or (c)
ratio = loaded / alone if alone else 0
print(f"\nGET /api/tasks: {alone:.0f} req/s alone, {loaded:.0f} req/s with {n:.0f} streams open: "
      f"ratio {ratio:.2f} (target >= 0.5: {'met' if ratio >= 0.5 else 'missed'})")
print(f"RSS per open stream: {(open_ - idle) / n:.0f} KiB ((open {open_:.0f} - idle {idle:.0f}) / {n:.0f})")
PY
echo "raw results in $OUT"
