#!/usr/bin/python3
"""Opens gridhub's sealed values (docs/encryption.md) in JSON lines.

    unseal.py --keys hub.keys < rows.jsonl > clear.jsonl

Each line is a JSON object (e.g. `SELECT row_to_json(p) FROM person p`);
every top-level string member of the form gh1:<key id>:<base64> is opened
as a value sealed for the field named like the member and replaced by it.
Written apart from the hub's C code, with python3-cryptography: it checks
the format the documentation gives (key derivation, synthetic nonce, GCM
with the field as additional data), not just that the hub agrees with
itself.
"""
import argparse
import base64
import hashlib
import hmac
import json
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def load_keys(path):
    keys = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            name, value = (x.strip() for x in line.split("=", 1))
            if name.startswith("key."):
                master = bytes.fromhex(value)
                keys[name[4:]] = (
                    hmac.new(master, b"gridhub aes-256-gcm key", hashlib.sha256).digest(),
                    hmac.new(master, b"gridhub synthetic nonce key", hashlib.sha256).digest(),
                )
    return keys


def unseal(keys, field, text):
    _, kid, b64 = text.split(":", 2)
    raw = base64.b64decode(b64, validate=True)
    enc, iv = keys[kid]
    nonce, body = raw[:12], raw[12:]
    plain = AESGCM(enc).decrypt(nonce, body, field.encode())
    want = hmac.new(iv, field.encode() + b"\0" + plain, hashlib.sha256).digest()[:12]
    if want != nonce:
        raise ValueError(f"{field}: the nonce is not the documented synthetic one")
    return plain.decode("utf-8")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keys", required=True, help="the hub's crypt.key.file")
    args = ap.parse_args()
    keys = load_keys(args.keys)
    opened = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        row = json.loads(line)
        for k, v in row.items():
            if isinstance(v, str) and v.startswith("gh1:"):
                row[k] = unseal(keys, k, v)
                opened += 1
        print(json.dumps(row, ensure_ascii=False))
    print(f"unseal: {opened} values opened", file=sys.stderr)


if __name__ == "__main__":
    main()
