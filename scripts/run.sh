#!/usr/bin/env bash
# The main job: install what is missing, build in Release, and start
# assistant-server on sqlite://assistant.db with the built-in rules agent.
# Extra arguments go to the server (see build/bin/assistant-server --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DASSISTANT_BUILD_TESTS=OFF -DASSISTANT_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target assistant-server
exec build/bin/assistant-server --database sqlite://assistant.db --llm-provider rules "$@"
