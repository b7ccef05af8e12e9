#!/usr/bin/env bash
# Installs the Debian 12 packages libassistant builds and tests with, when
# any is missing. Safe to run again; does nothing when all are present.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git
  libsqlitecpp-dev libsqlite3-dev nlohmann-json3-dev libssl-dev
  libargon2-dev libcrypt-dev libcpp-httplib-dev doctest-dev zlib1g-dev
  libcjson-dev valgrind
  # The server's transport (Boost.Beast/Asio 1.74) and its URL decoding.
  libboost-dev liburiparser-dev
  # The PostgreSQL storage backend, and the server its tests start
  # (scripts/pg-test-server.sh).
  libpqxx-dev postgresql
  curl
  # The https upstream test makes its self-signed certificate with it.
  openssl
  # The http suite's responses are checked against /openapi.json with it.
  python3-jsonschema
  # The example app behind the proxy (examples/identity_app) checks the
  # identity token's EdDSA signature with them; the http suite runs it.
  python3-jwt python3-cryptography
  # The libFuzzer targets (tests/fuzz): clang and its fuzzer runtime;
  # fuzz_http_framing drives Boost.Beast's request parser (header-only).
  clang libclang-rt-14-dev libboost-dev
)
# node and npm: the openai-node SDK test (tests/sdk) and the benchmarks' node
# peers. A node from elsewhere (e.g. NodeSource) bundles npm and conflicts
# with Debian's npm package: install Debian's only when there is no node.
command -v node >/dev/null && command -v npm >/dev/null || PACKAGES+=(nodejs npm)
# Extra packages some jobs need: "bench" (wrk, nginx, the peers' stacks).
# "web" (the browser tests, tests/web): Debian's chromium.
if [[ " $* " == *" web "* ]]; then
  PACKAGES+=(chromium)
fi
if [[ " $* " == *" bench "* ]]; then
  PACKAGES+=(wrk nginx jq python3-fastapi python3-uvicorn python3-jwt python3-bcrypt)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "installing: ${missing[*]}" >&2
SUDO=
if [[ $(id -u) != 0 ]]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
