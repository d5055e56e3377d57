"""Prints residents as each subscriber received them (the demo's view).

    views.py show KEYFILE WORKDIR SUBSCRIBERS PERSON_ID...
    views.py pseudonym KEYFILE SUBSCRIBER PERSON_ID
    views.py counts WORKDIR SUBSCRIBERS
    views.py last WORKDIR SUBSCRIBER N FROM_LINE
    views.py grid KEYFILE FILE SUBSCRIBER CODE...

SUBSCRIBERS is a comma-separated list; each one's messages are the lines of
WORKDIR/sub.<name>.jsonl (`gridhub tail` output). A subscriber finds a
resident under its pseudonym, HMAC-SHA256(key, "person:<id>") cut to 16
bytes (docs/policy.md, "Keys and pseudonyms"): the demo computes it from the
key file, as the hub does, because nothing in a message names the hub's id.
"""
import hashlib
import hmac
import json
import sys


def keys_of(path):
    keys = {}
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            keys[k.strip()] = bytes.fromhex(v.strip())
    return keys


def pseudonym(key, pid, entity="person"):
    return hmac.new(key, f"{entity}:{pid}".encode(), hashlib.sha256).hexdigest()[:32]


COUNTS = ("residents", "registered", "floating", "households", "party_members",
          "volunteers", "open_events")


def grid(keyfile, path, sub, codes):
    """Each grid as the subscriber's topic (FILE, `gridhub tail` output of
    hub.view.<sub>.grid) holds it: the last record, and the residents count
    of every version received."""
    key = keys_of(keyfile)[sub]
    want = {pseudonym(key, c, "grid"): c for c in codes}
    seen = {c: [] for c in codes}
    for ln in open(path, encoding="utf-8"):
        m = json.loads(ln)
        if m.get("key") in want:
            seen[want[m["key"]]].append(m.get("value"))
    for c in codes:
        if not seen[c] or seen[c][-1] is None:
            print(f"    {c}: (not in {sub}'s view)")
            continue
        v = seen[c][-1]
        print(f"    {c} {v.get('name')} ({v.get('level')}), version {v.get('version')}:"
              f" {' / '.join(v.get('path_names') or [])}")
        staff = v.get("staff")
        if staff is not None:
            print("      staff: " + (", ".join(f"{m['role']} {m.get('name') or '?'} ({m['department']}"
                                           f"{', ' + m['person_id'][:10] + '…' if m.get('person_id') else ''})"
                                           for m in staff) or "none"))
            if v.get("meets_1_1_n") is not None:
                print(f"      1+1+N: {'met' if v['meets_1_1_n'] else 'NOT met'}")
        print("      counts: " + ", ".join(f"{k} {v[k]}" for k in COUNTS if k in v))
        hist = [str(x.get("residents")) for x in seen[c] if x]
        print(f"      residents in each version received: {' -> '.join(hist[-6:])}")


def short(v):
    if isinstance(v, list):
        if v and isinstance(v[0], dict):
            if "field" in v[0]:
                return f"[{len(v)} entries]"
            return "[" + ", ".join("/".join(str(x) for x in e.values()) for e in v) + "]"
        return "[" + ", ".join(str(x)[:10] + ("…" if len(str(x)) > 10 else "") for x in v) + "]"
    if isinstance(v, str) and len(v) == 32 and all(c in "0123456789abcdef" for c in v):
        return v[:10] + "…"
    return "-" if v is None else str(v)


def line(v):
    return "  ".join(f"{k}={short(x)}" for k, x in v.items()
                     if k not in ("version", "updated_at"))


def fold(path):
    held = {}
    for ln in open(path, encoding="utf-8"):
        m = json.loads(ln)
        held[m["key"]] = m.get("value")
    return held


def api(status, text):
    """An answer of GET /v1/persons (docs/api.md), folded for reading."""
    body = json.loads(text)
    if "error" in body:
        print(f"    HTTP {status} {body['error']['code']}: {body['error']['message']}")
        return
    print(f"    HTTP {status}, matched by {body['matched_by']}:")
    for a in body["persons"]:
        p = a["person"]
        print("      person: " + line({k: v for k, v in p.items()
                                        if k not in ("sources", "provenance", "absorbed_ids")}))
        g = a.get("grid")
        if g:
            print(f"      grid: {g['grid_code']} {' > '.join(g.get('path_names') or [])}")
            for m in g.get("staff") or []:
                print(f"        {m.get('role', '?'):<17} {m.get('name') or '-'} ({m.get('organization') or '-'})"
                      f"  phone {m.get('phone') or '-'}")
        else:
            print("      grid: (none it may see)")
        h = a.get("household")
        if h:
            # One line per member, with the departments recording them.
            seen = {}
            for m in h.get("members") or []:
                k = (m.get("person_id") or m.get("name"), m.get("relation"))
                seen.setdefault(k, [m.get("name") or "-", m.get("relation") or "", []])[2].append(
                    m.get("department") or "?")
            print("      household: " + ", ".join(f"{n} {r} ({'/'.join(d)})" for n, r, d in seen.values()))


def main():
    verb, args = sys.argv[1], sys.argv[2:]
    if verb == "api":
        api(args[0], sys.stdin.read())
        return
    if verb == "pseudonym":
        print(pseudonym(keys_of(args[0])[args[1]], args[2]))
        return
    if verb == "grid":
        grid(args[0], args[1], args[2], args[3:])
        return
    if verb == "counts":
        for s in args[1].split(","):
            held = fold(f"{args[0]}/sub.{s}.jsonl")
            print(f"    {s:<10} {sum(v is not None for v in held.values()):>6} residents")
        return
    if verb == "last":
        work, s, n, start = args[0], args[1], int(args[2]), int(args[3])
        lines = open(f"{work}/sub.{s}.jsonl", encoding="utf-8").read().splitlines()[start:]
        for ln in lines[-n:]:
            m = json.loads(ln)
            v = m.get("value")
            print(f"    {m['key'][:10]}…  " + ("(tombstone)" if v is None else line(v)))
        return
    keys = keys_of(args[0])
    work, subs, pids = args[1], args[2].split(","), args[3:]
    last = {}
    for s in subs:
        want = {pseudonym(keys[s], p): p for p in pids}
        for ln in open(f"{work}/sub.{s}.jsonl", encoding="utf-8"):
            m = json.loads(ln)
            if m.get("key") in want:
                last[(s, want[m["key"]])] = (m["key"], m.get("value"))
    for p in pids:
        print(f"  hub person {p}:")
        for s in subs:
            if (s, p) not in last:
                print(f"    {s:<10} (nothing: not in its view)")
                continue
            key, v = last[(s, p)]
            if v is None:
                print(f"    {s:<10} key {key[:10]}…  (tombstone: left its view)")
                continue
            print(f"    {s:<10} key {key[:10]}…  {line(v)}")


if __name__ == "__main__":
    main()
