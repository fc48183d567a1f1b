# hcal — the two commands are `make demo` and `make test`; both set themselves up.
CARGO ?= cargo
GUEST_WASM := target/wasm32-wasip2/guest/hcal_core.wasm

.PHONY: setup guest build demo demo-once demo-cli demo-offline test interop lint bench clean

# The wasm target is not installed by rust-toolchain.toml here (RUSTUP_AUTO_INSTALL=0).
setup:
	@rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2 \
	  || rustup target add wasm32-wasip2 \
	  || { echo "hcal: cannot install the wasm32-wasip2 target; install rustup, then run: rustup target add wasm32-wasip2" >&2; exit 1; }

# The core component, built for size.
guest: setup
	$(CARGO) build -p hcal-core --target wasm32-wasip2 --profile guest
	@ls -l $(GUEST_WASM) | awk '{print "core component: " $$5 " bytes (" $$9 ")"}'

# The component and the release binary, with the component beside it.
build: guest
	$(CARGO) build --release -p hcal
	cp $(GUEST_WASM) target/release/hcal_core.wasm
	@echo "built target/release/hcal and target/release/hcal_core.wasm"

# The main job on the embedded defaults: the demo organisation on the
# emulated Google and Webex (in-process, loopback HTTP) served by hcal:
# users activated, everyone synced into the store (SQLite, sealed), each
# agenda printed, the API's URL, then two meetings booked live whose join
# buttons are printed as they fire. `hcal demo` alone runs until Ctrl-C;
# `make demo-once` is one cycle with a summary.
demo: guest
	$(CARGO) build -p hcal
	./target/debug/hcal --config fixtures/demo/hcal.toml demo --duration 30

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
	  --format agenda

test: guest
	$(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc
	$(MAKE) interop

# Google's own Python client (google-api-python-client, google-auth) against
# the emulator: it must not notice it is not talking to Google.
PYVENV := target/interop-venv
interop:
	$(CARGO) build -p hcal-emulator
	@test -x $(PYVENV)/bin/python || python3 -m venv $(PYVENV)
	$(PYVENV)/bin/pip install --quiet --disable-pip-version-check --retries 5 --timeout 60 \
	  -r emulator/interop/requirements.txt
	emulator/interop/run.sh $(PYVENV)/bin/python target/debug/hcal-emulator

lint: setup
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p hcal-core --target wasm32-wasip2 -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps -p hcal-core -p hcal -p hcal-emulator

bench: guest
	$(CARGO) bench -p hcal-benches
	python3 benches/report.py

clean:
	$(CARGO) clean
