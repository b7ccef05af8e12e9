#!/usr/bin/env bash
# Runs every libFuzzer target of tests/fuzz for SECONDS each (default 600),
# after replaying its corpus. New inputs stay in WORK_DIR; a crash stops the
# run with its input there: fix it, then add the input to
# tests/fuzz/corpus/<target>/ so the normal test run replays it. Record the
# executions and findings in docs/fuzzing.md.
#
#   bench/fuzz.sh [seconds per target] [work dir]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
exec "$HERE/../tests/fuzz/run.sh" "${2:-${TMPDIR:-/tmp}/assistant-fuzz}" "${1:-600}"
