#!/usr/bin/env bash
# The main job: install what is missing, build in Release, and start
# assistant-server on sqlite://assistant.db with the built-in rules agent.
# Extra arguments go to the server (see build/bin/assistant-server --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Every option is set, so that this and scripts/test.sh can share build/
# in either order without one inheriting the other's choices.
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DASSISTANT_SANITIZE=OFF \
  -DASSISTANT_BUILD_SERVER=ON -DASSISTANT_BUILD_TESTS=OFF -DASSISTANT_BUILD_BENCHMARKS=OFF \
  -DASSISTANT_BUILD_EXAMPLES=OFF -DASSISTANT_BUILD_BINDINGS=OFF -DASSISTANT_BUILD_CLIENTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target assistant-server
exec build/bin/assistant-server --database sqlite://assistant.db --llm-provider rules "$@"
