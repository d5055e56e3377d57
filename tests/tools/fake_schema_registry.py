#!/usr/bin/env python3
"""A tiny stand-in for the Confluent Schema Registry, for unit tests.

Implements only what gridhub's client uses:
  POST /subjects/<subject>/versions  {"schema": "<json>"}  -> {"id": N}
  GET  /schemas/ids/<id>                                   -> {"schema": "<json>"}

Ids are global, as in the real registry: the same schema text gets the same
id under every subject. A subject starting with "fail-" answers 500, so
tests can check how errors are reported.

GET /_stats answers {"get_ids": N}: how many schemas were asked for by id,
so tests can tell whether a client cached an answer.

Listens on 127.0.0.1 (port 0 picks a free one) and prints "PORT <n>" on
stdout once it accepts connections. It never outlives its test: it exits
when its stdin reaches end of file (the parent closed the pipe or died;
--no-stdin for a parent that kills it instead) or after --lifetime seconds
(default 60, at most 600), whichever comes first.
"""
import argparse
import http.server
import json
import os
import re
import sys
import threading
import urllib.parse

MAX_LIFETIME = 600.0
DEFAULT_LIFETIME = 60.0
CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class Registry:
    def __init__(self):
        self.lock = threading.Lock()
        self.by_id = {}
        self.by_text = {}
        self.subjects = {}
        self.get_ids = 0

    def register(self, subject, text):
        with self.lock:
            sid = self.by_text.get(text)
            if sid is None:
                sid = len(self.by_id) + 1
                self.by_id[sid] = text
                self.by_text[text] = sid
            versions = self.subjects.setdefault(subject, [])
            if sid not in versions:
                versions.append(sid)
            return sid

    def get(self, sid):
        with self.lock:
            self.get_ids += 1
            return self.by_id.get(sid)


REGISTRY = Registry()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, code, message):
        self.reply(status, {"error_code": code, "message": message})

    def do_POST(self):
        m = re.fullmatch(r"/subjects/([^/]+)/versions", self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if not m:
            return self.error(404, 404, "no such endpoint: " + self.path)
        subject = urllib.parse.unquote(m.group(1))
        if subject.startswith("fail-"):
            return self.error(500, 50001, "injected failure for " + subject)
        ctype = self.headers.get("Content-Type", "")
        if not ctype.startswith(CONTENT_TYPE):
            return self.error(415, 415, "unsupported content type " + ctype)
        try:
            text = json.loads(raw)["schema"]
            json.loads(text)
        except (ValueError, KeyError, TypeError) as e:
            return self.error(422, 42201, "invalid schema: %s" % e)
        self.reply(200, {"id": REGISTRY.register(subject, text)})

    def do_GET(self):
        if self.path == "/_stats":
            with REGISTRY.lock:
                return self.reply(200, {"get_ids": REGISTRY.get_ids})
        m = re.fullmatch(r"/schemas/ids/(\d+)", self.path)
        if not m:
            return self.error(404, 404, "no such endpoint: " + self.path)
        text = REGISTRY.get(int(m.group(1)))
        if text is None:
            return self.error(404, 40403, "Schema not found")
        self.reply(200, {"schema": text})

    def log_message(self, fmt, *args):
        if os.environ.get("FAKE_REGISTRY_VERBOSE"):
            sys.stderr.write("fake-registry: " + (fmt % args) + "\n")


def exit_on_stdin_eof():
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--lifetime", type=float, default=DEFAULT_LIFETIME)
    ap.add_argument("--no-stdin", action="store_true")
    args = ap.parse_args()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    lifetime = min(max(args.lifetime, 0.1), MAX_LIFETIME)
    threading.Timer(lifetime, lambda: os._exit(0)).start()
    if not args.no_stdin:
        threading.Thread(target=exit_on_stdin_eof, daemon=True).start()
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
