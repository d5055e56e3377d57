#!/usr/bin/python3
"""A department's webhook receiver for the demo (docs/api.md, "Webhooks").

    webhook_receiver.py SECRET_FILE PORT_FILE OUT_JSONL

Listens on a free loopback port (written to PORT_FILE), verifies each
POST's signature and timestamp as docs/api.md tells receivers to, answers
401 to a bad one and 200 to a good one, and appends one line per POST to
OUT_JSONL: partition, offsets, records, tombstones, whether the signature
held, and the first record's name. Stops on SIGTERM.
"""
import hashlib
import hmac
import json
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

secret = open(sys.argv[1], "rb").read().splitlines()[0].strip()
out = open(sys.argv[3], "a", encoding="utf-8")


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        ts = self.headers.get("X-Gridhub-Timestamp", "")
        sig = self.headers.get("X-Gridhub-Signature", "")
        mac = hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256)
        ok = ts.isdigit() and abs(time.time() - int(ts)) <= 300 and \
            hmac.compare_digest("v1=" + mac.hexdigest(), sig)
        line = {"signature_valid": ok}
        if ok:
            d = json.loads(body)
            msgs = d["messages"]
            recs = [m["record"] for m in msgs if m["record"] is not None]
            line.update(subscriber=d["subscriber"], partition=d["partition"],
                        first=msgs[0]["offset"], last=msgs[-1]["offset"],
                        records=len(recs), tombstones=len(msgs) - len(recs),
                        sample=(recs[0].get("name") if recs else None))
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
        out.flush()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Receiver)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
with open(sys.argv[2], "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
