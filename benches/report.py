#!/usr/bin/env python3
"""Print the medians criterion measured (target/criterion) and the ratios the
issues ask for. Run by `make bench` after `cargo bench`."""
import json, pathlib, sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
medians, elements = {}, {}
for est in root.glob("**/new/estimates.json"):
    bench = est.parent.parent.relative_to(root).as_posix()
    medians[bench] = json.loads(est.read_text())["median"]["point_estimate"]  # ns
    meta = json.loads((est.parent / "benchmark.json").read_text())
    throughput = meta.get("throughput") or {}
    if "Elements" in throughput:
        elements[bench] = throughput["Elements"]

def show(ns):
    return f"{ns / 1e6:.3f} ms" if ns >= 1e5 else f"{ns / 1e3:.2f} µs"

def per_second(bench):
    return elements[bench] / (medians[bench] / 1e9)

print(f"{'benchmark':58} {'median':>12} {'per second':>14}")
for bench in sorted(medians):
    rate = f"{per_second(bench):,.0f}" if bench in elements else ""
    print(f"{bench:58} {show(medians[bench]):>12} {rate:>14}")

comp, native = medians.get("process_page/component"), medians.get("process_page/native")
if comp and native:
    print(f"\nprocess_page: component {per_second('process_page/component'):,.0f} events/s, "
          f"native {per_second('process_page/native'):,.0f} events/s, component/native time ratio {comp / native:.2f}")

cases = sorted({b.split("/")[2] for b in medians if b.startswith("recurrence/")})
if cases:
    print(f"\n{'rule':34} {'component':>12} {'native':>12} {'rrule crate':>12} {'comp/rrule':>11}  (instances/s)")
    for case in cases:
        rates = {impl: per_second(f"recurrence/{impl}/{case}") for impl in ("component", "native", "rrule_crate")
                 if f"recurrence/{impl}/{case}" in medians}
        if len(rates) == 3:
            print(f"{case:34} {rates['component']:>12,.0f} {rates['native']:>12,.0f} {rates['rrule_crate']:>12,.0f} "
                  f"{rates['component'] / rates['rrule_crate']:>11.2f}")

sync = "google_full_sync/events_250_per_page"
if sync in medians:
    pages = -(-elements[sync] // 250)
    print(f"\ngoogle full sync (client + emulator on loopback): {per_second(sync):,.0f} events/s, "
          f"{pages / (medians[sync] / 1e9):,.0f} requests/s ({elements[sync]} events in {pages} pages of 250)")
if "google_request/settings_get" in medians:
    print(f"google single request (settings.get): {per_second('google_request/settings_get'):,.0f} requests/s")

figures_file = root / "service_1000x50" / "figures.json"
if figures_file.exists():
    f = json.loads(figures_file.read_text())
    full, inc = f["full_sync"], f["incremental_1pct"]
    events = f["users"] * f["events_per_user"]
    print(f"\nservice, {f['users']} users x {f['events_per_user']} events (emulator in-process, SQLite file):")
    for bench, label in (("service_1000x50/full_sync", "full sync"), ("service_1000x50/incremental_1pct", "incremental, 1% of users changed")):
        if bench in medians:
            print(f"  {label}: median {show(medians[bench])}")
    print(f"  full sync (first run): {full['seconds']:.2f} s, {events / full['seconds']:,.0f} events/s, "
          f"{full['google_calls']} Google calls {full['google_calls_by_method']}")
    print(f"  incremental (first run): {inc['seconds'] * 1000:.0f} ms, {inc['syncs']} syncs, "
          f"{inc['google_calls']} Google calls for {inc['users_called_as']} users {inc['google_calls_by_method']}")
    reads = f.get("reads_during_full_sync")
    if reads and reads.get("reads"):
        print(f"  a meeting list read during another full sync: p50 {reads['p50_ms']:.2f} ms, "
              f"p99 {reads['p99_ms']:.2f} ms, slowest {reads['max_ms']:.1f} ms ({reads['reads']} reads)")
    rss, base = f.get("peak_rss_bytes"), f.get("rss_emulator_started_bytes")
    if rss and base:
        print(f"  peak RSS {rss / 2**20:,.0f} MiB (emulator with its {events:,} events included; "
              f"the service's part {(rss - base) / 2**20:,.0f} MiB); store {f['store_bytes'] / 2**20:,.0f} MiB")
