"""Google's own Python client against hcal-emulator.

google-api-python-client (with its bundled discovery documents) and
google-auth, pointed at the emulator only through the key file's token_uri and
the client's api_endpoint. Lists, inserts, patches (with an etag), watches and
reads vacation settings, and checks the answers. Exits non-zero on any failure.

    python3 google_client.py BASE_URL KEY_FILE
"""

import http.server
import json
import sys
import threading
import uuid

from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

CALENDAR = "https://www.googleapis.com/auth/calendar"
GMAIL = "https://www.googleapis.com/auth/gmail.settings.basic"


def main(base, key_file):
    info = json.load(open(key_file))
    creds = service_account.Credentials.from_service_account_info(
        info, scopes=[CALENDAR, GMAIL], subject="alice@example.com"
    )
    calendar = build(
        "calendar", "v3", credentials=creds, static_discovery=True,
        client_options={"api_endpoint": base + "/calendar/v3/"},
    )
    gmail = build(
        "gmail", "v1", credentials=creds, static_discovery=True,
        client_options={"api_endpoint": base + "/"},
    )

    page = calendar.events().list(
        calendarId="primary", timeMin="2026-11-30T00:00:00Z", timeMax="2026-12-07T00:00:00Z",
        singleEvents=True, orderBy="startTime", maxResults=5,
    ).execute()
    items = page["items"]
    assert page["kind"] == "calendar#events", page
    assert len(items) == 5 and "nextPageToken" in page, page
    starts = [e["start"].get("dateTime", e["start"].get("date")) for e in items]
    print("list: first page", [e["summary"] for e in items])
    rest = calendar.events().list(
        calendarId="primary", timeMin="2026-11-30T00:00:00Z", timeMax="2026-12-07T00:00:00Z",
        singleEvents=True, orderBy="startTime", maxResults=5, pageToken=page["nextPageToken"],
    ).execute()
    print("list: next page", len(rest["items"]), "items;", "nextSyncToken" in rest or "nextPageToken" in rest)

    event = calendar.events().insert(calendarId="primary", body={
        "summary": "Interop check @webex",
        "start": {"dateTime": "2026-12-03T10:00:00+01:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-12-03T10:30:00+01:00", "timeZone": "Europe/Berlin"},
        "attendees": [{"email": "bob@example.com"}],
    }).execute()
    print("insert:", event["id"], event["etag"])

    patched = calendar.events().patch(
        calendarId="primary", eventId=event["id"], body={"location": "@webex"},
    ).execute()
    assert patched["location"] == "@webex" and patched["etag"] != event["etag"], patched
    print("patch: etag", event["etag"], "->", patched["etag"])

    stale = calendar.events().patch(calendarId="primary", eventId=event["id"], body={"summary": "x"})
    stale.headers["If-Match"] = event["etag"]
    try:
        stale.execute()
        raise AssertionError("a stale If-Match was accepted")
    except HttpError as error:
        assert error.resp.status == 412, error
        print("patch with a stale etag: 412", error.error_details)

    received = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    channel_id = "interop-" + str(uuid.uuid4())
    channel = calendar.events().watch(calendarId="primary", body={
        "id": channel_id, "type": "web_hook",
        "address": "http://127.0.0.1:%d/hook" % server.server_port, "token": "t0k3n",
    }).execute()
    print("watch:", channel["resourceId"])
    calendar.events().patch(calendarId="primary", eventId=event["id"], body={"summary": "Interop v2"}).execute()
    for _ in range(100):
        if len(received) >= 2:
            break
        threading.Event().wait(0.05)
    states = [h.get("x-goog-resource-state") for h in received]
    assert states[:2] == ["sync", "exists"], received
    assert received[0].get("x-goog-channel-token") == "t0k3n", received
    print("push:", states, [h.get("x-goog-message-number") for h in received])
    calendar.channels().stop(body={"id": channel_id, "resourceId": channel["resourceId"]}).execute()

    vacation = gmail.users().settings().getVacation(userId="me").execute()
    print("vacation:", vacation)
    calendar.events().delete(calendarId="primary", eventId=event["id"]).execute()
    try:
        calendar.events().delete(calendarId="primary", eventId=event["id"]).execute()
        raise AssertionError("deleting twice was accepted")
    except HttpError as error:
        assert error.resp.status == 410, error
    print("google-api-python-client: all calls answered as Google would")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
