#!/usr/bin/python3
"""A department's pull-feed client for the demo (docs/api.md, "Pull feed").

    feed_client.py API_URL TOKEN_FILE ENTITY STATE_FILE [WAIT_SECONDS]

What a department without Kafka (and without a public endpoint for a
webhook) would run: reads GET /v1/feed/ENTITY from the cursor kept in
STATE_FILE (none: from the beginning) until the topic holds no more,
keeping the latest record per key as a department's table would (a null
record deletes the key), storing the cursor after each answer; then waits
once with a long poll (WAIT_SECONDS, default 10) and shows what arrived
and how long it took. Only the standard library: any department can run
it. Exit 1 on an HTTP error, with the API's error code and message.
"""
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

api, token_file, entity, state_file = sys.argv[1:5]
wait = int(sys.argv[5]) if len(sys.argv) > 5 else 10
token = open(token_file, encoding="utf-8").read().strip()


def get(cursor, max_, wait_):
    q = {"max": max_, "wait": wait_}
    if cursor:
        q["cursor"] = cursor
    url = f"{api}/v1/feed/{entity}?{urllib.parse.urlencode(q)}"
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=wait_ + 30) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        err = json.load(e).get("error", {})
        print(f"    HTTP {e.code} {err.get('code')}: {err.get('message')}")
        sys.exit(1)


try:
    cursor = open(state_file, encoding="utf-8").read().strip() or None
except FileNotFoundError:
    cursor = None

table, requests, messages = {}, 0, 0
t0 = time.monotonic()
while True:
    a = get(cursor, 1000, 0)
    requests += 1
    for m in a["messages"]:
        messages += 1
        if m["record"] is None:
            table.pop(m["key"], None)
        else:
            table[m["key"]] = m["record"]
    cursor = a["cursor"]
    # Stored after the answer is applied: a crash in between reads the
    # answer again (at least once), never skips it.
    open(state_file, "w", encoding="utf-8").write(cursor)
    if not a["messages"] and not a["more"]:
        break
took = time.monotonic() - t0
print(f"    read {messages} messages of {a['topic']} in {requests} requests "
      f"({took:.1f} s): {len(table)} residents held; cursor {cursor[:40]}"
      f"{'…' if len(cursor) > 40 else ''}")
sample = next(iter(table.values()), None)
if sample:
    shown = {k: v for k, v in sample.items()
             if k not in ("sources", "provenance", "absorbed_ids") and v not in (None, [], "")}
    print("    one of them: " + json.dumps(shown, ensure_ascii=False)[:160])

t0 = time.monotonic()
a = get(cursor, 100, wait)
took = time.monotonic() - t0
open(state_file, "w", encoding="utf-8").write(a["cursor"])
if a["messages"]:
    m = a["messages"][0]
    what = "a tombstone" if m["record"] is None else f"version {m['person_version']}"
    print(f"    a long poll (wait={wait}) returned after {took:.2f} s with "
          f"{len(a['messages'])} new messages (first: partition {m['partition']} "
          f"offset {m['offset']}, {what})")
else:
    print(f"    a long poll (wait={wait}) returned after {took:.2f} s: nothing new")
