#!/usr/bin/env python3
"""Regenerate the fuzzers' seed corpus in fuzz/corpus/<target>/ from the
repository's fixtures (fixtures/core, fixtures/demo), the third-party suites
in ../shared/conformance (libical's RRULE cases, MeetingBar's meeting-link
cases), and the inputs of past findings (fuzz/regressions/<target>/). Deterministic: the same sources give the same files (named by the
SHA-1 of their content, as libFuzzer names its own). Run from anywhere:

    python3 fuzz/seed.py

`make fuzz` copies this corpus to target/fuzz-corpus/ and grows it there; the
committed one stays small.
"""

import base64
import glob
import hashlib
import json
import os
import random
import shutil
import sys

FUZZ = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(FUZZ)
CONFORMANCE = os.path.join(os.path.dirname(ROOT), "shared", "conformance")
TARGETS = ["page", "event", "rrule", "html", "links", "open"]
# Keep each seed small: libFuzzer's -max_len defaults to the largest seed.
MAX_SEED_BYTES = 16 * 1024


def read(path):
    with open(path, "rb") as f:
        return f.read()


def fixture_inputs():
    """(path, bytes) of every fixture page, the broken ones too."""
    paths = sorted(glob.glob(os.path.join(ROOT, "fixtures", "core", "*", "input*.json")))
    paths.append(os.path.join(ROOT, "fixtures", "demo", "events.json"))
    return [(p, read(p)) for p in paths]


def fixture_items():
    """Every event item of the fixture pages that parse as JSON."""
    items = []
    for _, data in fixture_inputs():
        try:
            doc = json.loads(data)
        except ValueError:
            continue
        pages = doc if isinstance(doc, list) else [doc]
        for page in pages:
            if isinstance(page, dict) and isinstance(page.get("items"), list):
                items.extend(i for i in page["items"] if isinstance(i, dict))
            elif isinstance(page, dict) and "id" in page:
                items.append(page)
    return items


def meetingbar_cases():
    with open(os.path.join(CONFORMANCE, "meetingbar", "cases.json")) as f:
        return json.load(f)


def meetingbar_fields(case):
    """The case's texts by our field names."""
    fields = dict(case.get("fields") or {})
    text = case.get("text")
    if text:
        where = case.get("field", "any")
        fields[{"any": "notes", "notes": "notes", "location": "location",
                "event_url": "event_url"}.get(where, "notes")] = text
    return fields


def meetingbar_event(i, case):
    fields = meetingbar_fields(case)
    event = {
        "id": f"mb{i}",
        "summary": "MeetingBar case",
        "organizer": {"email": "alice@example.com", "self": True},
        "start": {"dateTime": "2026-12-01T09:00:00Z"},
        "end": {"dateTime": "2026-12-01T10:00:00Z"},
    }
    if "notes" in fields:
        event["description"] = fields["notes"]
    if "location" in fields:
        event["location"] = fields["location"]
    if "event_url" in fields:
        event["source"] = {"url": fields["event_url"], "title": "x"}
    if "conference_url" in fields:
        event["conferenceData"] = {"entryPoints": [
            {"entryPointType": "video", "uri": fields["conference_url"]}]}
    return event


def libical_cases():
    """(dtstart, rrule, start_at) of every case of libical's suite."""
    cases = []
    current = None
    with open(os.path.join(CONFORMANCE, "libical", "icalrecur_test.txt")) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("RRULE:"):
                current = {"rrule": line, "dtstart": None, "start_at": None}
                cases.append(current)
            elif current is not None and line.startswith("DTSTART"):
                current["dtstart"] = line
            elif current is not None and line.startswith("START-AT:"):
                current["start_at"] = line
    return cases


def basic(google_time):
    """Google's start as a DTSTART line (wall clock as written)."""
    if not isinstance(google_time, dict):
        return None
    if isinstance(google_time.get("date"), str):
        return "DTSTART;VALUE=DATE:" + google_time["date"].replace("-", "")
    text = google_time.get("dateTime")
    if not isinstance(text, str) or len(text) < 19:
        return None
    local = text[:19].replace("-", "").replace(":", "")
    zone = google_time.get("timeZone")
    if zone:
        return f"DTSTART;TZID={zone}:{local}"
    return f"DTSTART:{local}Z" if text.endswith("Z") else f"DTSTART:{local}"


def jwe(rng, iv_len=12, ct_len=None, tag_len=16, header=None):
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    header = header if header is not None else b64(b'{"alg":"dir","enc":"A256GCM"}')
    ct_len = rng.randrange(0, 64) if ct_len is None else ct_len
    part = lambda n: b64(bytes(rng.randrange(256) for _ in range(n)))
    return f"{header}..{part(iv_len)}.{part(ct_len)}.{part(tag_len)}"


def seeds():
    corpus = {t: [] for t in TARGETS}
    items = fixture_items()
    cases = meetingbar_cases()

    # page: every fixture page, and each MeetingBar case as an event.
    for _, data in fixture_inputs():
        corpus["page"].append(data)
    for i, case in enumerate(cases):
        if case.get("kind") == "safelink_cleanup":
            continue
        page = {"kind": "calendar#events", "timeZone": "Europe/Berlin",
                "items": [meetingbar_event(i, case)]}
        corpus["page"].append(json.dumps(page).encode())

    # event: each fixture item alone (a single event is a page of one); the
    # whole pages are page's seeds.
    for item in items:
        corpus["event"].append(json.dumps(item).encode())

    # rrule: libical's cases (START-AT as the window), and the fixtures'
    # series with their own starts.
    for case in libical_cases():
        lines = [case["dtstart"] or "", case["rrule"]]
        if case["start_at"]:
            lines.append(case["start_at"])
        corpus["rrule"].append("\n".join(lines).encode())
    for item in items:
        if isinstance(item.get("recurrence"), list):
            lines = [basic(item.get("start")) or ""]
            lines += [r for r in item["recurrence"] if isinstance(r, str)]
            lines += ["START-AT:20261130T000000", "END-AT:20261207T000000"]
            corpus["rrule"].append("\n".join(lines).encode())

    # html: the fixtures' descriptions, MeetingBar's texts, some broken markup.
    for item in items:
        if isinstance(item.get("description"), str):
            corpus["html"].append(item["description"].encode())
    for case in cases:
        for text in meetingbar_fields(case).values():
            if isinstance(text, str) and "<" in text:
                corpus["html"].append(text.encode())
    corpus["html"] += [
        b"<p>Agenda:</p><ul><li>One &amp; two</li></ul>",
        b"<a href=\"https://zoom.us/j/1\" <b <<<>>> <p unterminated='x >text <!-- never closed",
        b"<div>" * 40 + b"x" + b"</div>" * 3,
        b"a<script>x()</script>b<style>p{}</STYLE>c<!-- d -->e",
        b"&#x68;ttps &amp; &bogus; &#0; &#x110000; &#99999999999; &nbsp;&nbsp;",
        b"<A HREF=mailto:bob@example.com>bob</A><br/><TD>1</TD><th>2</th>",
    ]

    # links: MeetingBar's texts (each field in its place, NUL-separated:
    # conference entry, event URL, location, description).
    for case in cases:
        fields = meetingbar_fields(case)
        parts = [fields.get("conference_url", ""), fields.get("event_url", ""),
                 fields.get("location", ""), fields.get("notes", "")]
        corpus["links"].append("\0".join(parts).rstrip("\0").encode())
    for item in items:
        for key in ("location", "description", "hangoutLink"):
            if isinstance(item.get(key), str) and "://" in item[key]:
                corpus["links"].append(item[key].encode())

    # open: well-formed JWEs under some other key (they must not open),
    # and broken ones of every kind.
    rng = random.Random(0x6863616C)
    for n in (0, 1, 15, 16, 17, 100, 300):
        corpus["open"].append(jwe(rng, ct_len=n).encode())
    corpus["open"] += [
        jwe(rng, iv_len=11).encode(), jwe(rng, iv_len=16).encode(),
        jwe(rng, tag_len=15).encode(), jwe(rng, header="e30").encode(),
        jwe(rng, header="bm90IGpzb24").encode(),
        b"eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0.abc.def.ghi.jkl",
        b"abc.def", b"", b"....", b"a.b.c.d.e.f",
        b"Board meeting\nRoom 4\n\nalice@example.com",
    ]

    for target, files in corpus.items():
        corpus[target] = [f for f in files if len(f) <= MAX_SEED_BYTES]
    # What the fuzzers found (each also a regression test in
    # guest/tests/properties.rs) stays in the corpus, whatever its size.
    for path in sorted(glob.glob(os.path.join(FUZZ, "regressions", "*", "*"))):
        target = os.path.basename(os.path.dirname(path))
        if target in corpus:
            corpus[target].append(read(path))
    return corpus


def main():
    corpus = seeds()
    total = 0
    for target in TARGETS:
        out = os.path.join(FUZZ, "corpus", target)
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        names = set()
        for data in corpus[target]:
            name = hashlib.sha1(data).hexdigest()
            names.add(name)
            with open(os.path.join(out, name), "wb") as f:
                f.write(data)
        size = sum(os.path.getsize(os.path.join(out, n)) for n in names)
        total += size
        print(f"{target}: {len(names)} files, {size} bytes")
    print(f"total: {total} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
