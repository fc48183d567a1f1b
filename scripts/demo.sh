#!/usr/bin/env bash
# The demo: the emulated Google and Webex (demo organisation example.com) on
# loopback. hcal writes join details into alice's keyword events (Personal
# Room, a space, a one-time meeting made with the provider), then syncs her
# calendar over HTTP with a service-account key, through the core component,
# and prints it as an agenda.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'kill "$emulator" 2>/dev/null || true; rm -rf "$work"' EXIT
./target/debug/hcal-emulator --port 0 --key-out "$work/service-account.json" >"$work/url" 2>"$work/log" &
emulator=$!
for _ in $(seq 100); do
  [ -s "$work/url" ] && break
  sleep 0.1
done
[ -s "$work/url" ] || { echo "demo: the emulator did not start:" >&2; cat "$work/log" >&2; exit 1; }
url=$(head -1 "$work/url")
echo "Google and Webex emulator at $url (domain example.com)" >&2
echo "== hcal enrich: join details for alice's keyword events" >&2
./target/debug/hcal --config fixtures/demo/hcal.toml enrich \
  --google-url "$url" --google-key "$work/service-account.json" --webex-url "$url/v1" \
  --store "$work/hcal.db" --user alice@example.com \
  --from 2026-11-30T00:00:00Z --to 2026-12-07T00:00:00Z --now 2026-11-30T08:00:00Z
echo "== hcal fetch: alice's week" >&2
./target/debug/hcal --config fixtures/demo/hcal.toml fetch \
  --google-url "$url" --google-key "$work/service-account.json" \
  --user alice@example.com \
  --from 2026-11-30T00:00:00Z --to 2026-12-07T00:00:00Z --now 2026-11-30T08:00:00Z \
  --format agenda
