# hcal — the two commands are `make demo` and `make test`; both set themselves up.
CARGO ?= cargo
GUEST_WASM := target/wasm32-wasip2/guest/hcal_core.wasm
GATEWAY_WASM := target/gateway/hcal_gateway.wasm

.PHONY: deploy-check setup guest gateway gateway-demo build demo demo-once demo-cli demo-offline test chaos fuzz-setup fuzz fuzz-smoke interop schemathesis browser-setup browser-test web-test browser-demo browser-bench lint bench clean

# The wasm target is not installed by rust-toolchain.toml here (RUSTUP_AUTO_INSTALL=0).
setup:
	@rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2 \
	  || rustup target add wasm32-wasip2 \
	  || { echo "hcal: cannot install the wasm32-wasip2 target; install rustup, then run: rustup target add wasm32-wasip2" >&2; exit 1; }

# The core component, built for speed within 1.5 MB (Cargo.toml, .cargo/config.toml).
guest: setup
	$(CARGO) build -p hcal-core --target wasm32-wasip2 --profile guest
	@ls -l $(GUEST_WASM) | awk '{print "core component: " $$5 " bytes (" $$9 ")"}'

# The gateway (gateway/, docs/gateway.md): the core behind wasi:http, one
# component composed by wac from the gateway's and the unchanged core's;
# wac, wasmtime serve and jco installed under target/tools and gateway/jco
# first (scripts/gateway-tools.sh). The gateway builds in its own target
# directory: as a dependency, hcal-core's `model`-only cdylib would
# overwrite the core's hcal_core.wasm in the shared one.
gateway: guest
	@scripts/gateway-tools.sh
	$(CARGO) build -p hcal-gateway --target wasm32-wasip2 --profile guest --target-dir target/gateway-build
	@mkdir -p $(dir $(GATEWAY_WASM))
	target/tools/bin/wac plug target/gateway-build/wasm32-wasip2/guest/hcal_gateway.wasm \
	  --plug $(GUEST_WASM) -o $(GATEWAY_WASM)
	@ls -l target/gateway-build/wasm32-wasip2/guest/hcal_gateway.wasm $(GUEST_WASM) $(GATEWAY_WASM) \
	  | awk '{print $$5 " bytes  " $$9}'

# The gateway on wasmtime serve with the demo's options, and a curl line.
GATEWAY_ADDR ?= 127.0.0.1:8090
gateway-demo: gateway
	@echo "gateway: POST a Google events.list page, e.g.:"
	@echo "  curl -s -X POST -H 'content-type: application/json' --data-binary @fixtures/demo/events.json \\"
	@echo "    'http://$(GATEWAY_ADDR)/v1/process?user=alice%40example.com&now=2026-11-30T08:00:00Z'"
	@echo "gateway: GET http://$(GATEWAY_ADDR)/ lists the routes; Ctrl-C stops it"
	HCAL_GATEWAY_CONFIG="$$(cat fixtures/demo/gateway.json)" \
	  target/tools/bin/wasmtime serve -S cli -C cache=y --addr $(GATEWAY_ADDR) \
	  --env HCAL_GATEWAY_CONFIG $(GATEWAY_WASM)

# The component and the release binary, with the component beside it.
build: guest
	$(CARGO) build --release -p hcal
	cp $(GUEST_WASM) target/release/hcal_core.wasm
	@echo "built target/release/hcal and target/release/hcal_core.wasm"

# The main job on the embedded defaults: the demo organisation on the
# emulated Google and Webex (in-process, loopback HTTP) served by hcal:
# users activated, everyone synced into the store (SQLite, sealed), each
# agenda printed, the API's URL, then two meetings booked live whose join
# buttons are printed as they fire, and the web app's URL to sign in to as
# alice, bob or the admin. `hcal demo` alone runs until Ctrl-C;
# `make demo-once` is one cycle with a summary.
# Long enough to sign in to the web app and watch the live join buttons;
# `make demo DEMO_SECONDS=0` runs until Ctrl-C.
DEMO_SECONDS ?= 180
demo: guest
	$(CARGO) build -p hcal
	./target/debug/hcal --config fixtures/demo/hcal.toml demo $(if $(filter 0,$(DEMO_SECONDS)),,--duration $(DEMO_SECONDS))

demo-once: guest
	$(CARGO) build -p hcal
	./target/debug/hcal --config fixtures/demo/hcal.toml demo --once

# The same pieces as separate commands: hcal-emulator as its own process,
# then hcal enrich and hcal fetch against it.
demo-cli: guest
	$(CARGO) build -p hcal -p hcal-emulator
	scripts/demo.sh

# The same agenda straight from the fixture file, no network.
demo-offline: guest
	$(CARGO) build -p hcal
	./target/debug/hcal --config fixtures/demo/hcal.toml process \
	  --events fixtures/demo/events.json --user alice@example.com \
	  --from 2026-11-30T00:00:00Z --to 2026-12-07T00:00:00Z --now 2026-11-30T08:00:00Z \
	  --format agenda --time-zone Europe/Berlin

# The store's tests run on SQLite and on a throwaway PostgreSQL (a cluster
# under target/pg on a port of its own, started as the postgres user;
# Debian's postgresql installed when missing), stopped after, pass or fail.
# The property tests replay one fixed draw here, so that a run is the same
# run; exploring is the fuzzers' job (`make test PROPTEST_SEED=random` draws anew).
PROPTEST_SEED ?= 20261202
test: guest gateway
	@scripts/test-postgres.sh start >/dev/null
	@status=0; HCAL_TEST_POSTGRES=$$(cat target/pg/url) HCAL_REQUIRE_POSTGRES=1 \
	  PROPTEST_RNG_SEED=$(PROPTEST_SEED) \
	  $(CARGO) test --workspace --all-targets || status=$$?; \
	  scripts/test-postgres.sh stop; exit $$status
	$(CARGO) test --workspace --doc
	$(MAKE) interop
	$(MAKE) schemathesis
	$(MAKE) browser-test
	$(MAKE) web-test
	$(MAKE) fuzz-smoke
	$(MAKE) deploy-check

# The chaos run in full (host/tests/chaos.rs): 300 users, Google's and
# Webex's failure modes injected, 20 SIGKILLs, on SQLite (one worker) and on
# PostgreSQL (three); then every stored list must equal a fault-free sync,
# every due join button delivered under its one key, one provider meeting
# per event, the SQLite file intact. Prints its figures. `make test` runs
# the short form (30 users, 4 kills). CHAOS_SEED=N replays a run's dice.
chaos: guest
	@scripts/test-postgres.sh start >/dev/null
	@status=0; HCAL_TEST_POSTGRES=$$(cat target/pg/url) HCAL_REQUIRE_POSTGRES=1 HCAL_CHAOS=full \
	  $(if $(CHAOS_SEED),HCAL_CHAOS_SEED=$(CHAOS_SEED)) \
	  $(CARGO) test -p hcal --test chaos -- --nocapture --test-threads 1 || status=$$?; \
	  scripts/test-postgres.sh stop; exit $$status

# Coverage-guided fuzzing of the core's entry points (fuzz/, cargo fuzz on
# nightly): every target in turn for FUZZ_SECONDS on the committed seed
# corpus, grown in target/fuzz-corpus/; one summary line per target
# (execs, cov, ft). `make fuzz-smoke` is 20 s each on the seeds alone (not
# the grown corpus, which would take minutes to load), and part of `make test`.
FUZZ_SECONDS ?= 600
fuzz-setup:
	@rustup toolchain list 2>/dev/null | grep -q '^nightly' \
	  || rustup toolchain install nightly --profile minimal \
	  || { echo "hcal: fuzzing needs a nightly toolchain: rustup toolchain install nightly" >&2; exit 1; }
	@command -v cargo-fuzz >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked

fuzz: fuzz-setup
	fuzz/run.sh $(FUZZ_SECONDS)

# Where the machine has no nightly toolchain (no other can be fetched), the
# property tests of `make test` stand in, and this says so.
fuzz-smoke:
	@if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then \
	  $(MAKE) fuzz-setup && FUZZ_CORPUS=target/fuzz-smoke-corpus FUZZ_FRESH=1 fuzz/run.sh 20; \
	else \
	  echo "fuzz-smoke: no nightly toolchain here; the property tests (guest/tests/properties.rs, host/tests/differential.rs) stand in"; \
	fi

# Google's own Python client (google-api-python-client, google-auth) against
# the emulator: it must not notice it is not talking to Google.
PYVENV := target/interop-venv
# deploy/ checked by the tools that run it: systemd-analyze verify, nginx -t,
# caddy validate (Debian's nginx-light and caddy installed when missing).
deploy-check:
	$(CARGO) build -p hcal
	scripts/check-deploy.sh

interop:
	$(CARGO) build -p hcal-emulator
	@test -x $(PYVENV)/bin/python || python3 -m venv $(PYVENV)
	$(PYVENV)/bin/pip install --quiet --disable-pip-version-check --retries 5 --timeout 60 \
	  -r emulator/interop/requirements.txt
	emulator/interop/run.sh $(PYVENV)/bin/python target/debug/hcal-emulator

# schemathesis (pinned in host/tests/schemathesis/requirements.txt) against
# the live service, `hcal demo`: every check on every operation of the
# OpenAPI document it serves, as a room device, a signed-in person and a
# service token, a fixed seed (scripts/schemathesis.sh; ST_MAX_EXAMPLES,
# ST_SEED). Its reports and the service's log are in target/schemathesis/.
STVENV := target/schemathesis-venv
schemathesis: guest
	$(CARGO) build -p hcal
	@test -x $(STVENV)/bin/python || python3 -m venv $(STVENV)
	$(STVENV)/bin/pip install --quiet --disable-pip-version-check --retries 5 --timeout 60 \
	  -r host/tests/schemathesis/requirements.txt
	scripts/schemathesis.sh $(STVENV)/bin/schemathesis target/debug/hcal

# The core in JavaScript (browser/): the component `make guest` built,
# transpiled by jco into ES modules, with a small JS API; tested in Node and
# in Debian's headless Chromium (installed here if missing; playwright-core
# drives it, no browser download).
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser-setup: guest
	@command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 \
	  || { echo "hcal: the browser package needs Node.js 20 or newer with npm" >&2; exit 1; }
	@test -x $(CHROMIUM) || { echo "installing Debian's chromium for the headless tests" >&2; \
	  $(SUDO) apt-get install -y -q chromium >/dev/null 2>&1 \
	  || { $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q chromium >/dev/null; } \
	  || { echo "hcal: cannot install chromium: apt-get install chromium, or set CHROMIUM=/path/to/chromium" >&2; exit 1; }; }
	cd browser && npm ci --no-audit --no-fund --loglevel=error
	cd browser && node scripts/build.mjs

browser-test: browser-setup
	cd browser && node_modules/.bin/tsc -p test/tsconfig.json
	cd browser && CHROMIUM=$(CHROMIUM) node --test test/node.test.mjs test/chromium.test.mjs

# The web app end to end in headless Chromium against `hcal demo`: sign-in
# through the emulated Google, the meetings live, an answer, a join button,
# the admin console, hostile invitation text, sign-out (screenshots in
# target/browser-artifacts/webapp-*.png).
web-test: browser-setup
	$(CARGO) build -p hcal
	cd browser && CHROMIUM=$(CHROMIUM) node --test test/webapp.test.mjs

# The demo page on http://127.0.0.1:8000/browser/demo/ (the checkout served
# as it is, so "Load the demo week" finds fixtures/demo/events.json).
browser-demo: browser-setup
	@echo "hcal: open http://127.0.0.1:8000/browser/demo/ (Ctrl-C stops)"
	python3 -m http.server 8000 --bind 127.0.0.1

# The core benchmark's page through the transpiled component in Node, beside
# wasmtime's criterion figure (run `make bench` first for that one).
browser-bench: browser-setup
	$(CARGO) run -q --release -p hcal-benches --example bench_page -- target/browser-bench
	cd browser && node bench/node.mjs

lint: setup
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p hcal-core --target wasm32-wasip2 -- -D warnings
	$(CARGO) clippy -p hcal-gateway --target wasm32-wasip2 --target-dir target/gateway-build -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps -p hcal-core -p hcal -p hcal-emulator

bench: guest
	$(CARGO) bench -p hcal-benches
	python3 benches/report.py

clean:
	$(CARGO) clean
