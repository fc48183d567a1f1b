#!/usr/bin/env bash
# schemathesis against the live service (make schemathesis, part of make
# test): `hcal demo` serves the API over the emulated Google and Webex (in
# process); schemathesis reads /api/v1/openapi.json from it and runs every
# phase (examples, coverage, fuzzing, stateful) with every check, a bounded
# number of cases per operation, on a fixed seed, as each kind of caller:
#
#   1. a room device (its token issued here through POST /api/v1/devices):
#      /api/v1/device/... and /api/v1/rooms/{email}/availability;
#   2. a signed-in person (alice, signed in here through the emulated
#      Google, the session cookie and its CSRF token): /api/v1/me/...;
#   3. the service token demo-api-token: every operation (the /me and
#      /device ones, which that token does not open, are sent without
#      credentials and held to their 401).
#
# The service is stopped after, pass or fail. Settings that apply to one
# operation only are in host/tests/schemathesis/schemathesis.toml, each
# with its reason.
#
# Usage: scripts/schemathesis.sh SCHEMATHESIS HCAL
#   SCHEMATHESIS  the schemathesis command (pinned in host/tests/schemathesis/requirements.txt)
#   HCAL          the hcal binary
# Environment: ST_MAX_EXAMPLES (default 25) cases per operation and phase,
# ST_SEED (default 20261202), ST_WORKERS (default 2).
set -euo pipefail
schemathesis=$1
hcal=$2
config=host/tests/schemathesis/schemathesis.toml
work=target/schemathesis
rm -rf "$work"
mkdir -p "$work"
started=$(date +%s)

"$hcal" --config fixtures/demo/hcal.toml demo --duration 900 >"$work/demo.log" 2>&1 &
pid=$!
stop() {
  # The demo stops at Ctrl-C (SIGINT): the service drains and exits.
  kill -INT "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
trap stop EXIT

# The demo prints "  web app: http://127.0.0.1:PORT/" once everyone is synced.
base=
for _ in $(seq 1200); do
  base=$(sed -n 's|^  web app: \(http://[^/ ]*\)/$|\1|p' "$work/demo.log" | head -1)
  [ -n "$base" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "schemathesis: hcal demo exited before serving:" >&2
    tail -30 "$work/demo.log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$base" ]; then
  echo "schemathesis: hcal demo printed no web app URL within 120 s:" >&2
  tail -30 "$work/demo.log" >&2
  exit 1
fi
echo "schemathesis: the service is up at $base ($(($(date +%s) - started)) s)"

service=(--header 'Authorization: Bearer demo-api-token')

# A room device's token, as an admin issues one.
device=$(curl -sf "${service[@]}" -H 'content-type: application/json' \
  -d '{"room": "room-fjord@resource.calendar.google.com"}' "$base/api/v1/devices" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')

# alice signed in through the emulated Google (it signs in whoever the
# login hint names): the session cookie, then the CSRF token it goes with.
jar=$work/cookies.txt
curl -sf -c "$jar" -b "$jar" -L -o /dev/null "$base/auth/login?login_hint=alice@example.com"
session=$(awk '$6 == "hcal_session" { print $7 }' "$jar")
csrf=$(curl -sf -b "$jar" "$base/api/v1/me" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["csrf_token"])')
if [ -z "$device" ] || [ -z "$session" ] || [ -z "$csrf" ]; then
  echo "schemathesis: cannot issue a device token or sign alice in" >&2
  exit 1
fi

# Each pass: the settings, and the caller's credentials for the document's
# security schemes (so that schemathesis knows them for what they are: it
# leaves them out, or spoils them, to check that the API then refuses).
status=0
run() {
  local name=$1 auth=$2
  shift 2
  { cat "$config"; echo; echo "$auth"; } >"$work/$name.toml"
  echo
  echo "== schemathesis as $name"
  "$schemathesis" --config-file "$work/$name.toml" --no-color run "$base/api/v1/openapi.json" \
    --max-examples "${ST_MAX_EXAMPLES:-25}" \
    --seed "${ST_SEED:-20261202}" \
    --generation-database none \
    --workers "${ST_WORKERS:-2}" \
    --request-timeout 20 \
    --report junit --report-junit-path "$work/junit-$name.xml" \
    "$@" || status=1
}

# A device's routes link to nothing (a device makes nothing): no stateful phase.
run device "$(printf '[auth.openapi.deviceToken]\nbearer = "%s"' "$device")" \
  --include-path-regex '^/api/v1/(device(/|$)|rooms/)' --phases examples,coverage,fuzzing
run person "$(printf '[auth.openapi.session]\napi_key = "%s"\n[auth.openapi.csrf]\napi_key = "%s"' "$session" "$csrf")" \
  --include-tag me
run service "$(printf '[auth.openapi.serviceToken]\nbearer = "demo-api-token"')"

echo
echo "schemathesis: $(($(date +%s) - started)) s in all; the service's log is $work/demo.log"
exit $status
