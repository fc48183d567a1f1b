#!/usr/bin/env python3
"""Per-target totals of the fuzz runs recorded in target/fuzz-logs/history.tsv
(written by fuzz/run.sh), as Markdown for fuzz/README.md: CPU seconds and
executions summed over every run, and the last run's exec/s, cov, ft and
corpus size. Add `--since DATE` (ISO, UTC) to count only later runs.

    python3 fuzz/summary.py [--since 2026-12-02T00:00:00Z] [HISTORY]
"""

import csv
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUDGET = 3600  # the CPU seconds per target


def main(argv):
    since = ""
    if len(argv) >= 2 and argv[0] == "--since":
        since, argv = argv[1], argv[2:]
    path = argv[0] if argv else os.path.join(ROOT, "target", "fuzz-logs", "history.tsv")
    totals = {}
    with open(path) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["date"] < since:
                continue
            t = totals.setdefault(row["target"], {"cpu": 0, "execs": 0, "runs": 0, "found": 0})
            t["cpu"] += int(row["cpu_seconds"] or 0)
            t["execs"] += int(row["execs"] or 0)
            t["runs"] += 1
            t["found"] += row["result"] != "ok"
            t["last"] = row
    print("| target | runs | CPU s | executions | last exec/s | last cov | last ft | corpus files | runs that found something | CPU s still to the hour |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for target in ["page", "event", "rrule", "html", "links", "open"]:
        t = totals.get(target)
        if not t:
            continue
        last = t["last"]
        print(f"| `{target}` | {t['runs']} | {t['cpu']:,} | {t['execs']:,} | {int(last['exec_per_s'] or 0):,} "
              f"| {int(last['cov'] or 0):,} | {int(last['ft'] or 0):,} | {int(last['corpus'] or 0):,} "
              f"| {t['found']} | {max(0, BUDGET - t['cpu']):,} |")


if __name__ == "__main__":
    main(sys.argv[1:])
