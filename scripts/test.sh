#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the Release build's
# full suite (unit, conformance, durability, install, HTTP black-box), then
# the unit suite again under AddressSanitizer and UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
JOBS=$(nproc)

echo "== Release build and full test suite"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$JOBS"
ctest --test-dir build --output-on-failure -j"$JOBS"

echo "== AddressSanitizer + UndefinedBehaviorSanitizer: unit suite"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DASSISTANT_SANITIZE=ON \
  -DASSISTANT_BUILD_SERVER=OFF -DASSISTANT_BUILD_BENCHMARKS=OFF -DASSISTANT_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build-asan -j"$JOBS" --target assistant_tests
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -R '^unit$'
