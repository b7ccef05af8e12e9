#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the Release build's
# full suite (unit, conformance, durability, install, HTTP black-box), then
# the unit suite again under AddressSanitizer and UndefinedBehaviorSanitizer.
# Both run beside a throwaway PostgreSQL (scripts/pg-test-server.sh), whose
# URL reaches the tests as ASSISTANT_TEST_PG_URL: the PostgreSQL backend is
# tested as SQLite is, never skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
JOBS=$(nproc)

echo "== Release build and full test suite"
# Every option is set: scripts/run.sh configures the same build/ with tests
# off, and a cache must never decide which tests run.
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DASSISTANT_SANITIZE=OFF \
  -DASSISTANT_BUILD_SERVER=ON -DASSISTANT_BUILD_TESTS=ON -DASSISTANT_BUILD_BENCHMARKS=ON \
  -DASSISTANT_BUILD_EXAMPLES=ON -DASSISTANT_BUILD_BINDINGS=ON -DASSISTANT_BUILD_CLIENTS=ON \
  -DASSISTANT_WITH_POSTGRES=ON >/dev/null
cmake --build build -j"$JOBS"
# --no-tests=error: a configuration that built no test fails instead of
# passing green.
scripts/pg-test-server.sh ctest --test-dir build --output-on-failure --no-tests=error -j"$JOBS"

echo "== AddressSanitizer + UndefinedBehaviorSanitizer: unit suite"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DASSISTANT_SANITIZE=ON \
  -DASSISTANT_BUILD_SERVER=OFF -DASSISTANT_BUILD_BENCHMARKS=OFF -DASSISTANT_BUILD_EXAMPLES=OFF \
  -DASSISTANT_BUILD_BINDINGS=OFF -DASSISTANT_BUILD_CLIENTS=OFF -DASSISTANT_BUILD_TESTS=ON \
  -DASSISTANT_WITH_POSTGRES=ON >/dev/null
cmake --build build-asan -j"$JOBS" --target assistant_tests
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp \
  scripts/pg-test-server.sh ctest --test-dir build-asan --output-on-failure --no-tests=error -R '^unit$'
