#!/usr/bin/env bash
# The third-party tools the gateway is built and served with, from crates.io
# and npm at pinned versions, installed under target/tools once:
#   wac (composition), wasmtime-cli (`wasmtime serve`), jco (`jco serve`).
# `scripts/gateway-tools.sh` installs what is missing or out of date.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=target/tools
WAC="wac-cli 0.10.0 --no-default-features"
# The wasmtime line the host links, with only what `wasmtime serve` needs:
# 48.0.8's serve does not build without component-model-async, and does not
# start without the pooling allocator; clap/default gives it --help.
WASMTIME="wasmtime-cli 48.0.8 --no-default-features --features run,serve,component-model-async,cranelift,parallel-compilation,pooling-allocator,cache,clap/default"
mkdir -p "$ROOT"

# `install NAME "CRATE VERSION FLAGS..." WHAT`: once per spec (a stamp keeps it).
install() {
  local bin=$1 spec=$2 what=$3 stamp="$ROOT/$1.spec"
  if [ -x "$ROOT/bin/$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$spec" ]; then
    return
  fi
  echo "gateway-tools: installing $what from crates.io: $spec" >&2
  local crate version flags
  read -r crate version flags <<<"$spec"
  # No LTO and many codegen units keep the build short, at no cost to the
  # code Cranelift generates for the component.
  # shellcheck disable=SC2086 # the flags are words
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_DEBUG=0 \
    cargo install --quiet --force "$crate" --version "$version" --locked $flags --root "$ROOT"
  echo "$spec" >"$stamp"
}

install wac "$WAC" "wac (composition, about 3 minutes)"
install wasmtime "$WASMTIME" "wasmtime serve (about 15 minutes on 2 cores)"

# jco from gateway/jco/package-lock.json.
if [ ! -x gateway/jco/node_modules/.bin/jco ] \
  || [ gateway/jco/package-lock.json -nt gateway/jco/node_modules/.package-lock.json ]; then
  command -v npm >/dev/null || {
    echo "gateway-tools: npm is missing; install Node.js 20 or later (Debian: apt-get install nodejs npm)" >&2
    exit 1
  }
  echo "gateway-tools: installing jco from gateway/jco/package-lock.json" >&2
  (cd gateway/jco && npm ci --no-audit --no-fund --loglevel=error)
fi
