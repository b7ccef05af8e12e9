#!/usr/bin/env bash
# The wire check (ctest "wire"): runs the provider tests (unit and
# black-box) with the fake upstream recording every request it receives and
# every whole reply it sends, then checks each against the providers'
# official SDKs with validate.mjs, after selftest.mjs has shown that those
# checks refuse known misreadings. Installs the pinned SDKs with `npm ci`
# into WORK_DIR (once per lock file). Fails — never skips — without node/npm.
#
#   run.sh <assistant_tests> <assistant_http_tests> <unit test dir> <work dir>
set -euo pipefail

UNIT=${1:?usage: run.sh <assistant_tests> <assistant_http_tests> <unit test dir> <work dir>}
HTTP=${2:?}
UNIT_DIR=${3:?}
WORK_DIR=${4:?}
HERE=$(cd "$(dirname "$0")" && pwd)

for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "FAIL: $tool is required (scripts/install-deps.sh installs it)" >&2
    exit 1
  fi
done

mkdir -p "$WORK_DIR"
cp "$HERE/package.json" "$HERE/package-lock.json" "$HERE/validate.mjs" "$HERE/selftest.mjs" \
  "$WORK_DIR/"
if ! cmp -s "$HERE/package-lock.json" "$WORK_DIR/node_modules/.installed-lock.json" 2>/dev/null; then
  (cd "$WORK_DIR" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$HERE/package-lock.json" "$WORK_DIR/node_modules/.installed-lock.json"
fi
node "$WORK_DIR/selftest.mjs"
# The transcripts the fakes replay, each file whole.
node "$WORK_DIR/validate.mjs" --recordings "$HERE/../data/llm"

LOG="$WORK_DIR/wire-log.jsonl"
rm -f "$LOG"
export FAKE_UPSTREAM_WIRE_LOG="$LOG"
# The unit tests find their recordings relative to the build directory.
(cd "$UNIT_DIR" && "$UNIT" --no-version=true -tc="llm provider*")
"$HTTP" --no-version=true -tc="providers*"
unset FAKE_UPSTREAM_WIRE_LOG
node "$WORK_DIR/validate.mjs" "$LOG"
