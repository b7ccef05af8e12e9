#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (-fsanitize=fuzzer,address,undefined)
# from the few sources each needs, replays each target's seed corpus
# (tests/fuzz/corpus/<target>, crashes found earlier included) and fuzzes
# each for SECONDS more. New inputs go to WORK_DIR, never into the tree.
# Exit 1 on any crash, leak or failed check; the input is in WORK_DIR.
#
#   run.sh <work dir> [seconds per target, default 3] [target ...; default all]
set -euo pipefail
WORK_DIR=${1:?usage: run.sh <work dir> [seconds]}
SECONDS_EACH=${2:-3}
shift $(( $# < 2 ? $# : 2 ))
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CXX=${FUZZ_CXX:-clang++}
if ! command -v "$CXX" >/dev/null; then
  echo "FAIL: $CXX is required (scripts/install-deps.sh installs clang)" >&2
  exit 1
fi
mkdir -p "$WORK_DIR"
FLAGS=(-std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
       -I"$ROOT/libassistant/include" -I"$ROOT/libassistant/src" -I"$ROOT/reference-server/src" -I"$WORK_DIR/include")
# The generated version header the public headers may include.
mkdir -p "$WORK_DIR/include/assistant"
[ -f "$WORK_DIR/include/assistant/version.hpp" ] ||
  sed -e 's/@[A-Za-z_]*@/0/g' "$ROOT/libassistant/include/assistant/version.hpp.in" \
    > "$WORK_DIR/include/assistant/version.hpp"
COMMON=("$ROOT/libassistant/src/common/status.cpp" "$ROOT/libassistant/src/common/types.cpp")

declare -A SOURCES=(
  [fuzz_sse]="$ROOT/libassistant/src/llm/sse_parser.cpp"
  [fuzz_cursor]="$ROOT/libassistant/src/common/cursor.cpp"
  [fuzz_json_input]="$ROOT/libassistant/src/common/json_input.cpp $ROOT/libassistant/src/common/text.cpp $ROOT/libassistant/src/common/json_text.cpp"
  [fuzz_chat_stream]="$ROOT/libassistant/src/llm/stream_parsers.cpp $ROOT/libassistant/src/llm/sse_parser.cpp $ROOT/libassistant/src/common/text.cpp $ROOT/libassistant/src/common/json_text.cpp"
  [fuzz_merge_patch]="$ROOT/libassistant/src/services/merge_patch.cpp $ROOT/libassistant/src/common/json_text.cpp"
  [fuzz_jwt]="$ROOT/libassistant/src/crypto/key_ring.cpp $ROOT/libassistant/src/common/clock.cpp $ROOT/libassistant/src/crypto/base64url.cpp $ROOT/libassistant/src/crypto/crypto_util.cpp $ROOT/libassistant/src/common/json_text.cpp $ROOT/libassistant/src/common/text.cpp"
  [fuzz_apps]="$ROOT/libassistant/src/apps/app_registry.cpp $ROOT/libassistant/src/llm/base_url.cpp $ROOT/libassistant/src/auth/scopes.cpp $ROOT/libassistant/src/common/text.cpp $ROOT/libassistant/src/common/json_text.cpp"
  # Boost.Beast's request parser is header-only (Debian's libboost-dev);
  # the transport's own checks are its framing.cpp.
  [fuzz_http_framing]="$ROOT/reference-server/src/http/framing.cpp"
)
TARGETS=(fuzz_sse fuzz_chat_stream fuzz_cursor fuzz_json_input fuzz_merge_patch fuzz_jwt fuzz_apps fuzz_http_framing)
# Targets named after the seconds, else in FUZZ_TARGETS="fuzz_apps ...", run alone.
if [ $# -gt 0 ]; then
  TARGETS=("$@")
else
  read -r -a TARGETS <<<"${FUZZ_TARGETS:-${TARGETS[*]}}"
fi
for target in "${TARGETS[@]}"; do
  bin="$WORK_DIR/$target"
  # shellcheck disable=SC2086
  if [ ! -x "$bin" ] || [ -n "$(find "$HERE/$target.cpp" ${SOURCES[$target]} "$ROOT/libassistant/include" \
        "$ROOT/libassistant/src/common" \
        "$ROOT/reference-server/src/http/framing.hpp" -newer "$bin" -print -quit)" ]; then
    # shellcheck disable=SC2086
    "$CXX" "${FLAGS[@]}" -o "$bin" "$HERE/$target.cpp" ${SOURCES[$target]} "${COMMON[@]}" -lcrypto
  fi
  mkdir -p "$WORK_DIR/corpus-$target"
  echo "== $target: seed corpus, then ${SECONDS_EACH}s"
  log="$WORK_DIR/$target.log"
  rc=0
  "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=1024 \
    -artifact_prefix="$WORK_DIR/$target-" -print_final_stats=1 \
    "$WORK_DIR/corpus-$target" "$HERE/corpus/$target" >"$log" 2>&1 || rc=$?
  grep -E "stat::number_of_executed_units|SUMMARY" "$log" || true
  if [ "$rc" -ne 0 ]; then
    tail -40 "$log" >&2
    echo "FAIL: $target (the input is in $WORK_DIR)" >&2
    exit 1
  fi
done
