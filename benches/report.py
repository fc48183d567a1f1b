#!/usr/bin/env python3
"""Print the medians criterion measured (target/criterion) and the ratios the
issues ask for. Run by `make bench` after `cargo bench`."""
import json, pathlib, sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
medians = {}
for est in root.glob("**/new/estimates.json"):
    bench = est.parent.parent.relative_to(root).as_posix()
    medians[bench] = json.loads(est.read_text())["median"]["point_estimate"]  # ns

def show(ns):
    return f"{ns / 1e6:.3f} ms" if ns >= 1e5 else f"{ns / 1e3:.2f} µs"

print(f"{'benchmark':44} {'median':>12}")
for bench in sorted(medians):
    print(f"{bench:44} {show(medians[bench]):>12}")

events = 250
comp, native = medians.get("process_page/component"), medians.get("process_page/native")
if comp and native:
    print(f"\nprocess_page: component {events / (comp / 1e9):,.0f} events/s, native {events / (native / 1e9):,.0f} events/s, "
          f"component/native time ratio {comp / native:.2f}")
