#!/usr/bin/env bash
# Google's own Python client against a freshly started hcal-emulator.
# Usage: emulator/interop/run.sh PYTHON EMULATOR_BINARY
set -euo pipefail
python=$1
emulator=$2
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
"$emulator" --port 0 --key-out "$work/key.json" >"$work/url" 2>"$work/log" &
pid=$!
for _ in $(seq 100); do
  [ -s "$work/url" ] && break
  sleep 0.1
done
[ -s "$work/url" ] || { echo "interop: the emulator did not start:" >&2; cat "$work/log" >&2; exit 1; }
"$python" "$(dirname "$0")/google_client.py" "$(head -1 "$work/url")" "$work/key.json"
