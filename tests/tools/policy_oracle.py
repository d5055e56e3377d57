#!/usr/bin/python3
"""policy_oracle.py: an independent evaluator of gridhub's access policy.

Written from docs/policy.md alone (not from hub/policy or hub/feed), so that
the leakage test compares two independent implementations: what the hub
sent each subscriber against what this file says it must receive.

Standard library only (Python 3.9+). The optional `dump` subcommand reads
subscriber topics with confluent_kafka; its Avro decoding is done here.

    policy_oracle.py validate --policy P [--keys K] [--now ISO]
    policy_oracle.py check    --policy P --keys K --persons persons.jsonl
                              --messages messages.jsonl [--now ISO] ...
    policy_oracle.py explain  --policy P --keys K (--persons F --person ID |
                              --record JSON) --subscriber S [--now ISO]
    policy_oracle.py keys     --generate KEYFILE --policy P
    policy_oracle.py dump     --bootstrap HOST:PORT --out messages.jsonl ...

Normalized forms (how values are compared):
  dates          'YYYY-MM-DD' text (an int is read as days since 1970-01-01)
  timestamps     integer microseconds since 1970-01-01T00:00:00Z; read from
                 ints (micros), ISO 8601 / PostgreSQL text with an offset
                 ('2026-01-02 03:04:05.5+08', '...T...Z'); shown as
                 'YYYY-MM-DDTHH:MM:SS.ffffffZ' (what `gridhub tail` prints)
  enums          the symbol as text ('FEMALE'); a golden value that is not a
                 symbol of the view's enum is null (as the view encodes it)
  provenance.at  a timestamp as above (the hub's jsonb holds micros)
  year action    an integer; of a timestamp, the UTC year
  withheld       a field in the subscriber's schema withheld for one record
                 (deny true, or `drop` wins there) is null in that record
Run with --help for every option; see ops/policy/README.md.
"""

import argparse
import collections
import datetime as dt
import difflib
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
import sys

NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
ASCII_WS = " \t\n\r\f\v"
EPOCH_DATE = dt.date(1970, 1, 1)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SCHEMAS = os.path.normpath(os.path.join(HERE, "..", "..", "schemas"))
DEFAULT_PREFIX = "hub.view"


class PolicyError(Exception):
    """One or more load errors, each 'file:line: name: message'."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


def did_you_mean(name, choices):
    m = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return " (did you mean %s?)" % m[0] if m else ""


# ---------------------------------------------------------------------------
# Properties files (policy and key file)


def expand_env(value, env):
    """${env:NAME} -> the variable's value; raises ValueError."""
    out = []
    i = 0
    while i < len(value):
        if value.startswith("${env:", i):
            close = value.find("}", i + 6)
            if close < 0:
                raise ValueError("unterminated ${env:...}")
            name = value[i + 6:close]
            if not name:
                raise ValueError("bad variable name in ${env:...}")
            if name not in env:
                raise ValueError("environment variable %s is not set" % name)
            out.append(env[name])
            i = close + 1
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def parse_properties(path, data=None, env=None):
    """Returns [(lineno, key, value)]; raises PolicyError.

    key=value per line; blank lines and lines starting with '#' or '!'
    (after leading whitespace) are skipped; key and value are trimmed of
    ASCII whitespace; no inline comments, no continuation lines; a key given
    twice is an error; ${env:NAME} in a value is expanded."""
    if data is None:
        with open(path, "rb") as f:
            data = f.read()
    if env is None:
        env = os.environ
    out, errors, seen = [], [], {}
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for n, raw in enumerate(lines, 1):
        where = "%s:%d" % (path, n)
        if b"\0" in raw:
            errors.append("%s: NUL byte in the line (not a text file?)" % where)
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            errors.append("%s: not valid UTF-8" % where)
            continue
        s = line.strip(ASCII_WS)
        if not s or s[0] in "#!":
            continue
        eq = s.find("=")
        if eq < 0:
            errors.append('%s: expected key=value, got "%s"' % (where, s))
            continue
        key, val = s[:eq].strip(ASCII_WS), s[eq + 1:].strip(ASCII_WS)
        if not key:
            errors.append("%s: empty key before '='" % where)
            continue
        if key in seen:
            errors.append("%s: %s: set twice in this file (first at line %d)"
                          % (where, key, seen[key]))
            continue
        seen[key] = n
        try:
            val = expand_env(val, env)
        except ValueError as e:
            errors.append("%s: %s: %s" % (where, key, e))
            continue
        out.append((n, key, val))
    if errors:
        raise PolicyError(errors)
    return out


def load_keys(path, check_mode=True, env=None):
    """Key file: name=hex secret (64+ hex digits). Returns {name: bytes}."""
    errors = []
    if check_mode:
        try:
            mode = os.stat(path).st_mode
        except OSError as e:
            raise PolicyError(["%s: cannot open: %s" % (path, e.strerror)])
        if mode & 0o077:
            errors.append("%s: readable by group or others (mode %04o); "
                          "chmod 600 it" % (path, stat.S_IMODE(mode)))
    try:
        props = parse_properties(path, env=env)
    except OSError as e:
        raise PolicyError(["%s: cannot open: %s" % (path, e.strerror)])
    keys = {}
    for n, k, v in props:
        where = "%s:%d: %s" % (path, n, k)
        if not NAME_RE.match(k):
            errors.append("%s: bad key name (1-64 of a-z 0-9 _ -, starting "
                          "with a letter)" % where)
        elif not re.fullmatch(r"[0-9a-fA-F]+", v):
            errors.append("%s: the secret must be hex digits" % where)
        elif len(v) < 64:
            errors.append("%s: the secret has %d hex digits, 64 or more "
                          "needed" % (where, len(v)))
        elif len(v) % 2:
            errors.append("%s: odd number of hex digits" % where)
        else:
            keys[k] = bytes.fromhex(v)
    if errors:
        raise PolicyError(errors)
    return keys


# ---------------------------------------------------------------------------
# Entities, from the view schemas


class FieldInfo:
    """A field of a view: kind is string, enum, date, timestamp, int,
    boolean, float, array_string, array_record or other."""

    def __init__(self, name, kind, nullable=False, ref=None, symbols=None,
                 subfields=None, parent=None):
        self.name = name          # full name: 'phone', 'sources.source_key'
        self.kind = kind
        self.nullable = nullable
        self.ref = ref            # entity named by "gridhub.ref"
        self.symbols = symbols
        self.subfields = subfields  # OrderedDict for array_record
        self.parent = parent

    def __repr__(self):
        return "FieldInfo(%s, %s)" % (self.name, self.kind)


class Entity:
    def __init__(self, name, key_field, fields, path):
        self.name = name
        self.key_field = key_field
        self.fields = fields      # OrderedDict of top-level FieldInfo
        self.path = path

    def field(self, full):
        """FieldInfo of 'f' or 'array.sub', or None."""
        if "." in full:
            top, sub = full.split(".", 1)
            fi = self.fields.get(top)
            if fi is None or fi.subfields is None:
                return None
            return fi.subfields.get(sub)
        return self.fields.get(full)

    def all_field_names(self):
        out = []
        for f, fi in self.fields.items():
            out.append(f)
            if fi.subfields:
                out.extend("%s.%s" % (f, s) for s in fi.subfields)
        return out


def _classify(t, named):
    """(kind, nullable, symbols, record-fields) of an Avro type JSON."""
    nullable = False
    if isinstance(t, list):
        branches = [b for b in t if b != "null"]
        nullable = len(branches) < len(t)
        if len(branches) != 1:
            return "other", nullable, None, None
        t = branches[0]
    if isinstance(t, str):
        if t in named:
            t = named[t]
        else:
            prim = {"string": "string", "int": "int", "long": "int",
                    "boolean": "boolean", "float": "float",
                    "double": "float"}
            return prim.get(t, "other"), nullable, None, None
    if not isinstance(t, dict):
        return "other", nullable, None, None
    typ = t.get("type")
    if "name" in t and typ in ("record", "enum", "fixed"):
        named[t["name"]] = t
        if t.get("namespace"):
            named[t["namespace"] + "." + t["name"]] = t
    lt = t.get("logicalType")
    if typ == "int" and lt == "date":
        return "date", nullable, None, None
    if typ == "long" and lt in ("timestamp-micros", "timestamp-millis"):
        return "timestamp", nullable, None, None
    if typ == "enum":
        return "enum", nullable, list(t.get("symbols", [])), None
    if typ == "record":
        return "record", nullable, None, t.get("fields", [])
    if typ == "array":
        ik, _, _, ifields = _classify(t.get("items"), named)
        if ik == "string":
            return "array_string", nullable, None, None
        if ik == "record":
            return "array_record", nullable, None, ifields
        return "other", nullable, None, None
    if isinstance(typ, (str, list, dict)):
        k, n2, sy, rf = _classify(typ, named)
        return k, nullable or n2, sy, rf
    return "other", nullable, None, None


def entity_from_schema(js, path, name=None, key=None):
    named = {}
    fields = collections.OrderedDict()
    for f in js.get("fields", []):
        kind, nullable, symbols, rfields = _classify(f["type"], named)
        ref = f.get("gridhub.ref")
        subs = None
        if kind == "array_record":
            subs = collections.OrderedDict()
            for sf in rfields:
                sk, sn, ssym, _ = _classify(sf["type"], named)
                subs[sf["name"]] = FieldInfo("%s.%s" % (f["name"], sf["name"]),
                                             sk, sn, sf.get("gridhub.ref"),
                                             ssym, None, f["name"])
        fields[f["name"]] = FieldInfo(f["name"], kind, nullable, ref, symbols,
                                      subs)
    return Entity(name or js.get("gridhub.view"),
                  key or js.get("gridhub.view.key"), fields, path)


def load_entities(schemas_dir):
    """Every schema with "gridhub.view"; view_person.avsc is the person view
    even before it carries the attributes (key person_id, absorbed_ids a
    gridhub.ref to person)."""
    ents = {}
    try:
        names = sorted(os.listdir(schemas_dir))
    except OSError as e:
        raise PolicyError(["%s: cannot list: %s" % (schemas_dir, e.strerror)])
    for fn in names:
        if not fn.endswith(".avsc"):
            continue
        p = os.path.join(schemas_dir, fn)
        with open(p, encoding="utf-8") as f:
            js = json.load(f)
        if isinstance(js, dict) and js.get("gridhub.view"):
            e = entity_from_schema(js, p)
            ents[e.name] = e
    if "person" not in ents:
        p = os.path.join(schemas_dir, "view_person.avsc")
        if os.path.exists(p):
            with open(p, encoding="utf-8") as f:
                js = json.load(f)
            e = entity_from_schema(js, p, "person", "person_id")
            if "absorbed_ids" in e.fields and not e.fields["absorbed_ids"].ref:
                e.fields["absorbed_ids"].ref = "person"
            ents["person"] = e
    for e in ents.values():
        if not e.key_field or e.key_field not in e.fields:
            raise PolicyError(["%s: gridhub.view.key names no field" % e.path])
    return ents


# ---------------------------------------------------------------------------
# Conditions

KEYWORDS = {"and", "or", "not", "in", "between", "is", "null", "under", "all",
            "none", "own_department", "held_by", "age", "year"}
TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>'(?:[^']|'')*')
  | (?P<int>-?[0-9]+)
  | (?P<op>!=|<=|>=|=|<|>)
  | (?P<punct>[(),])
  | (?P<id>[A-Za-z_][A-Za-z0-9_.]*)
""", re.VERBOSE)


class CondError(Exception):
    pass


def tokenize(text):
    toks, i = [], 0
    while i < len(text):
        m = TOKEN_RE.match(text, i)
        if not m:
            if text[i] == "'":
                raise CondError("unterminated string")
            raise CondError("unexpected character %r" % text[i])
        kind = m.lastgroup
        v = m.group(kind)
        if kind == "str":
            toks.append(("str", v[1:-1].replace("''", "'")))
        elif kind == "int":
            toks.append(("int", int(v)))
        elif kind == "id":
            if v.lower() in KEYWORDS and v not in KEYWORDS:
                raise CondError("keywords are lower case: %s" % v)
            toks.append(("kw" if v in KEYWORDS else "id", v))
        elif kind != "ws":
            toks.append((kind, v))
        i = m.end()
    toks.append(("end", None))
    return toks


def _desc(tok):
    k, v = tok
    if k == "end":
        return "end of condition"
    if k == "str":
        return "'%s'" % v
    return '"%s"' % v


class CondParser:
    """Recursive descent over the grammar in docs/policy.md; type-checks
    against the entity. AST nodes are tuples:
      ('const', bool) ('own',) ('held_by', d) ('and', a, b) ('or', a, b)
      ('not', a) ('cmp', op, l, r) ('in', l, [v]) ('between', l, lo, hi)
      ('isnull', l, negated) ('under', l, s)
    operands: ('field', f) ('lit', v) ('age', f) ('year', f)"""

    def __init__(self, text, entity):
        self.toks = tokenize(text)
        self.i = 0
        self.entity = entity
        self.refs = False  # depends on the record or the subscriber

    def peek(self, k=0):
        return self.toks[self.i + k]

    def take(self):
        t = self.toks[self.i]
        self.i += 1
        return t

    def accept(self, kind, value=None):
        t = self.peek()
        if t[0] == kind and (value is None or t[1] == value):
            self.i += 1
            return True
        return False

    def expect(self, kind, value, what):
        if not self.accept(kind, value):
            raise CondError("expected %s, got %s" % (what, _desc(self.peek())))

    def parse(self):
        if self.peek()[0] == "end":
            raise CondError("empty condition")
        node = self.cond()
        if self.peek()[0] != "end":
            raise CondError("unexpected %s" % _desc(self.peek()))
        return node

    def cond(self):
        node = self.and_()
        while self.accept("kw", "or"):
            node = ("or", node, self.and_())
        return node

    def and_(self):
        node = self.not_()
        while self.accept("kw", "and"):
            node = ("and", node, self.not_())
        return node

    def not_(self):
        if self.accept("kw", "not"):
            return ("not", self.not_())
        return self.primary()

    def primary(self):
        t = self.peek()
        if self.accept("punct", "("):
            node = self.cond()
            self.expect("punct", ")", '")"')
            return node
        if t == ("kw", "all"):
            self.take()
            return ("const", True)
        if t == ("kw", "none"):
            self.take()
            return ("const", False)
        if t == ("kw", "own_department"):
            self.take()
            self.refs = True
            return ("own",)
        if t == ("kw", "held_by"):
            self.take()
            self.expect("punct", "(", '"(" after held_by')
            s = self.take()
            if s[0] != "str":
                raise CondError("held_by takes a department as a string, "
                                "got %s" % _desc(s))
            self.expect("punct", ")", '")"')
            self.refs = True
            return ("held_by", s[1])
        left, ltype = self.operand()
        t = self.take()
        if t[0] == "op":
            right, rtype = self.operand()
            if ltype != rtype:
                raise CondError("cannot compare %s with %s (%s %s %s)"
                                % (ltype, rtype, self.show(left), t[1],
                                   self.show(right)))
            return ("cmp", t[1], left, right)
        if t == ("kw", "in"):
            self.expect("punct", "(", '"(" after in')
            vals = [self.literal(ltype, left)]
            while self.accept("punct", ","):
                vals.append(self.literal(ltype, left))
            self.expect("punct", ")", '")"')
            return ("in", left, vals)
        if t == ("kw", "between"):
            lo = self.literal(ltype, left)
            self.expect("kw", "and", '"and" in between')
            hi = self.literal(ltype, left)
            return ("between", left, lo, hi)
        if t == ("kw", "is"):
            neg = self.accept("kw", "not")
            self.expect("kw", "null", '"null"')
            return ("isnull", left, neg)
        if t == ("kw", "under"):
            s = self.take()
            if s[0] != "str":
                raise CondError("under takes a string, got %s" % _desc(s))
            if ltype != "text":
                raise CondError("under needs text, %s is a number"
                                % self.show(left))
            return ("under", left, s[1])
        raise CondError("expected a comparison, in, between, is or under "
                        "after %s, got %s" % (self.show(left), _desc(t)))

    @staticmethod
    def show(op):
        if op[0] == "lit":
            return "'%s'" % op[1] if isinstance(op[1], str) else str(op[1])
        if op[0] == "field":
            return op[1]
        return "%s(%s)" % (op[0], op[1])

    def literal(self, want, left):
        t = self.take()
        if t[0] == "str":
            typ = "text"
        elif t[0] == "int":
            typ = "number"
        else:
            raise CondError("expected a literal, got %s" % _desc(t))
        if typ != want:
            raise CondError("cannot compare %s with %s (%s and %s)"
                            % (want, typ, self.show(left),
                               self.show(("lit", t[1]))))
        return t[1]

    def field_ref(self, name, func=None):
        fi = self.entity.fields.get(name)
        if fi is None and self.entity.field(name) is not None:
            raise CondError("field %s cannot be used in a condition (only "
                            "top-level strings, enums, dates and integers)"
                            % name)
        if fi is None:
            raise CondError('unknown field "%s" of entity %s%s' % (
                name, self.entity.name,
                did_you_mean(name, self.entity.fields.keys())))
        self.refs = True
        if func:
            if fi.kind != "date":
                raise CondError("%s(%s): %s is not a date" % (func, name, name))
            return "number"
        if fi.kind in ("string", "enum", "date"):
            return "text"
        if fi.kind == "int":
            return "number"
        raise CondError("field %s cannot be used in a condition (only "
                        "top-level strings, enums, dates and integers)" % name)

    def operand(self):
        t = self.take()
        if t[0] == "str":
            return ("lit", t[1]), "text"
        if t[0] == "int":
            return ("lit", t[1]), "number"
        if t in (("kw", "age"), ("kw", "year")):
            self.expect("punct", "(", '"(" after %s' % t[1])
            f = self.take()
            if f[0] != "id":
                raise CondError("%s() takes a field, got %s" % (t[1], _desc(f)))
            typ = self.field_ref(f[1], t[1])
            self.expect("punct", ")", '")"')
            return (t[1], f[1]), typ
        if t[0] == "id":
            return ("field", t[1]), self.field_ref(t[1])
        raise CondError("expected a field or a literal, got %s" % _desc(t))


def parse_condition(text, entity):
    """Returns (ast, constant) where constant tells the condition depends on
    neither the record nor the subscriber."""
    p = CondParser(text, entity)
    ast = p.parse()
    return ast, not p.refs


def full_years(birth, today):
    return today.year - birth.year - ((today.month, today.day) <
                                      (birth.month, birth.day))


def _operand(op, ctx):
    kind = op[0]
    if kind == "lit":
        return op[1]
    v = ctx.record.get(op[1])
    if v is None:
        return None
    if kind == "field":
        return v
    d = dt.date.fromisoformat(v)
    if kind == "year":
        return d.year
    return full_years(d, ctx.today)  # age


def _key(v):
    return v.encode("utf-8") if isinstance(v, str) else v


def eval_cond(node, ctx):
    """SQL three-valued logic: True, False or None (unknown)."""
    k = node[0]
    if k == "const":
        return node[1]
    if k == "own":
        return any(s.get("department") == ctx.department
                   for s in ctx.record.get("sources") or [])
    if k == "held_by":
        return any(s.get("department") == node[1]
                   for s in ctx.record.get("sources") or [])
    if k == "and":
        a = eval_cond(node[1], ctx)
        if a is False:
            return False
        b = eval_cond(node[2], ctx)
        if b is False:
            return False
        return None if a is None or b is None else True
    if k == "or":
        a = eval_cond(node[1], ctx)
        if a is True:
            return True
        b = eval_cond(node[2], ctx)
        if b is True:
            return True
        return None if a is None or b is None else False
    if k == "not":
        a = eval_cond(node[1], ctx)
        return None if a is None else not a
    if k == "isnull":
        v = _operand(node[1], ctx)
        return (v is not None) if node[2] else (v is None)
    if k == "cmp":
        x = _operand(node[2], ctx)
        y = _operand(node[3], ctx)
        if x is None or y is None:
            return None
        x, y = _key(x), _key(y)
        return {"=": x == y, "!=": x != y, "<": x < y, "<=": x <= y,
                ">": x > y, ">=": x >= y}[node[1]]
    x = _operand(node[1], ctx)
    if x is None:
        return None
    if k == "in":
        return any(_key(x) == _key(v) for v in node[2])
    if k == "between":
        return _key(node[2]) <= _key(x) <= _key(node[3])
    if k == "under":
        return x == node[2] or x.startswith(node[2] + "-")
    raise AssertionError(node)


class Ctx:
    def __init__(self, record, department, today):
        self.record = record
        self.department = department
        self.today = today


# ---------------------------------------------------------------------------
# Actions

RANK = {"clear": 6, "own": 5, "mask": 4, "year": 3, "hash": 2, "drop": 1}
APPLIES = {
    "clear": None, "drop": None,
    "mask": {"string"},
    "hash": {"string", "array_string"},
    "year": {"date", "timestamp"},
    "own": {"array_record"},
}


class Action:
    def __init__(self, kind, first=0, last=0, origin="default", via=None):
        self.kind = kind
        self.first = first
        self.last = last
        self.origin = origin      # 'file:line' of the rule, or 'default'
        self.via = via            # text naming the rule

    def __str__(self):
        if self.kind == "mask":
            return "mask %d %d" % (self.first, self.last)
        return self.kind

    def __repr__(self):
        return "Action(%s @ %s)" % (self, self.origin)


def parse_action(text):
    parts = text.split()
    if not parts:
        raise ValueError("empty action")
    k = parts[0]
    if k == "mask":
        if len(parts) != 3 or not all(re.fullmatch(r"[0-9]+", p)
                                      for p in parts[1:]):
            raise ValueError('mask takes two counts: "mask <first> <last>", '
                             'got "%s"' % text)
        return Action("mask", int(parts[1]), int(parts[2]))
    if k in RANK and len(parts) == 1:
        return Action(k)
    if k in RANK:
        raise ValueError('%s takes no argument, got "%s"' % (k, text))
    raise ValueError('unknown action "%s"%s' % (
        k, did_you_mean(k, list(RANK))))


def applies(action, fi, entity):
    """None if the action applies to the field, else why not."""
    ok = APPLIES[action.kind]
    if action.kind == "own":
        if fi.kind != "array_record" or "department" not in fi.subfields:
            return "own applies to arrays of records with a department field"
        return None
    if ok is not None and fi.kind not in ok:
        kind = {"array_record": "an array of records",
                "array_string": "an array of strings"}.get(fi.kind, fi.kind)
        return "%s does not apply to %s (%s)" % (action, fi.name, kind)
    return None


def result_type(action, fi):
    if action.kind == "drop":
        return None
    if action.kind == "year":
        return "int"
    return fi.kind


# ---------------------------------------------------------------------------
# The policy


class Rule:
    def __init__(self, ast, constant, text, origin, key):
        self.ast = ast
        self.constant = constant
        self.text = text
        self.origin = origin
        self.key = key

    def const_true(self):
        return self.constant and eval_cond(self.ast, Ctx({}, None, None)) is True


class Subscriber:
    def __init__(self, name, line):
        self.name = name
        self.line = line
        self.attrs = {}
        self.lines = {}

    department = property(lambda s: s.attrs.get("department"))
    role = property(lambda s: s.attrs.get("role"))
    purpose = property(lambda s: s.attrs.get("purpose"))
    principal = property(lambda s: s.attrs.get("principal", "User:" + s.name))
    group = property(lambda s: s.attrs.get("group", s.name))
    key = property(lambda s: s.attrs.get("key", s.name))


class Grant:
    def __init__(self, name, line):
        self.name = name
        self.line = line
        self.attrs = {}
        self.lines = {}
        self.subscriber = self.entity = None
        self.fields = []
        self.action = None
        self.rows = None
        self.start = self.until = None

    def active(self, now):
        if self.start is not None and now < self.start:
            return False
        return now < self.until


SUB_ATTRS = ("department", "role", "purpose", "principal", "group", "key")
SUB_REQUIRED = ("department", "role")
GRANT_ATTRS = ("subscriber", "entity", "fields", "action", "rows", "purpose",
               "from", "until", "approved_by")
GRANT_REQUIRED = ("subscriber", "entity", "fields", "purpose", "until")
TIME_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})"
                     r"(?::(\d{2})(?:\.(\d{1,6}))?)?(Z|[+-]\d{2}:\d{2})$")


def parse_policy_time(text):
    """ISO 8601 with an offset -> aware datetime; raises ValueError."""
    m = TIME_RE.match(text)
    if not m:
        raise ValueError('bad time "%s": ISO 8601 with an offset, e.g. '
                         '2026-12-02T18:00:00+08:00 or 2026-12-02T10:00:00Z'
                         % text)
    y, mo, d, h, mi, s, frac, off = m.groups()
    if off == "Z":
        tz = dt.timezone.utc
    else:
        sign = 1 if off[0] == "+" else -1
        tz = dt.timezone(sign * dt.timedelta(hours=int(off[1:3]),
                                             minutes=int(off[4:6])))
    us = int((frac or "0").ljust(6, "0"))
    return dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0),
                       us, tz)


class Policy:
    def __init__(self, path, entities):
        self.path = path
        self.entities = entities
        self.version = None
        self.subscribers = collections.OrderedDict()
        self.rows = {}            # (sub, ent) -> Rule
        self.row_denies = {}      # (sub|*, ent) -> Rule
        self.field_lines = {}     # (sub, ent, field) -> Action
        self.star_lines = {}      # (sub, ent) -> Action
        self.field_denies = {}    # (sub|*, ent, field) -> Rule
        self.grants = collections.OrderedDict()
        self.connectors = {}      # department -> Kafka principal (ACLs)
        self.hub_principal = None

    # -- queries

    def shared_keys(self):
        by = collections.defaultdict(list)
        for s in self.subscribers.values():
            by[s.key].append(s.name)
        pairs = []
        for names in by.values():
            for i in range(len(names)):
                for j in range(i + 1, len(names)):
                    pairs.append((names[i], names[j]))
        return pairs

    def base_action(self, sub, ent, field):
        a = self.field_lines.get((sub, ent, field))
        if a:
            return a
        if "." not in field:
            a = self.star_lines.get((sub, ent))
            if a:
                return a
        return Action("drop", origin="default",
                      via="no field line: dropped (default deny)")

    def grants_for(self, sub, ent, field, now):
        """Grants of sub on field; all of them when now is None."""
        return [g for g in self.grants.values()
                if g.subscriber == sub and g.entity == ent and g.action
                and g.until is not None
                and field in g.fields and (now is None or g.active(now))]

    def denies_for(self, sub, ent, field=None):
        out = []
        for who in (sub, "*"):
            r = (self.row_denies.get((who, ent)) if field is None
                 else self.field_denies.get((who, ent, field)))
            if r:
                out.append(r)
        return out


def load_policy(path, entities, keys=None, env=None, data=None):
    """Parses and validates a policy file; raises PolicyError with every
    error found."""
    if data is None:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise PolicyError(["%s: cannot open: %s" % (path, e.strerror)])
    pol = Policy(path, entities)
    pol.version = hashlib.sha256(data).hexdigest()[:16]
    props = parse_properties(path, data, env)
    errors = []

    def err(n, key, msg):
        errors.append("%s:%d: %s: %s" % (path, n, key, msg))

    def entity_of(n, key, name):
        if name not in entities:
            err(n, key, 'unknown entity "%s"%s' % (name,
                                                   did_you_mean(name, entities)))
            return None
        return entities[name]

    def field_of(n, key, ent, name):
        fi = ent.field(name)
        if fi is None:
            err(n, key, 'unknown field "%s" of entity %s%s' % (
                name, ent.name, did_you_mean(name, ent.all_field_names())))
        return fi

    def cond_of(n, key, ent, text):
        try:
            ast, const = parse_condition(text, ent)
        except CondError as e:
            err(n, key, str(e))
            return None
        return Rule(ast, const, text, "%s:%d" % (path, n), key)

    later = []  # (n, key, kind, parts, value): need every subscriber first
    for n, key, val in props:
        parts = key.split(".")
        head = parts[0]
        if head == "subscriber":
            if len(parts) != 3:
                err(n, key, "expected subscriber.<name>.<attribute>")
                continue
            name, attr = parts[1], parts[2]
            if not NAME_RE.match(name):
                err(n, key, 'bad subscriber name "%s" (1-64 of a-z 0-9 _ -, '
                    'starting with a letter)' % name)
                continue
            if attr not in SUB_ATTRS:
                err(n, key, 'unknown attribute "%s" of a subscriber (%s)%s'
                    % (attr, ", ".join(SUB_ATTRS), did_you_mean(attr, SUB_ATTRS)))
                continue
            if not val:
                err(n, key, "empty value")
                continue
            if attr in ("department", "key") and not NAME_RE.match(val):
                err(n, key, 'bad %s name "%s" (1-64 of a-z 0-9 _ -, starting '
                    'with a letter)' % (attr, val))
                continue
            s = pol.subscribers.setdefault(name, Subscriber(name, n))
            s.attrs[attr] = val
            s.lines[attr] = n
        elif head == "grant":
            if len(parts) != 3:
                err(n, key, "expected grant.<name>.<attribute>")
                continue
            name, attr = parts[1], parts[2]
            if not NAME_RE.match(name):
                err(n, key, 'bad grant name "%s" (1-64 of a-z 0-9 _ -, '
                    'starting with a letter)' % name)
                continue
            if attr not in GRANT_ATTRS:
                err(n, key, 'unknown attribute "%s" of a grant (%s)%s'
                    % (attr, ", ".join(GRANT_ATTRS),
                       did_you_mean(attr, GRANT_ATTRS)))
                continue
            if not val:
                err(n, key, "empty value")
                continue
            g = pol.grants.setdefault(name, Grant(name, n))
            g.attrs[attr] = val
            g.lines[attr] = n
        elif head in ("rows", "deny", "field"):
            later.append((n, key, head, parts, val))
        elif head == "connector" and len(parts) == 3 and \
                parts[2] == "principal" and NAME_RE.match(parts[1]) and val:
            pol.connectors[parts[1]] = val   # Kafka ACLs only
        elif key == "hub.principal" and val:
            pol.hub_principal = val          # Kafka ACLs only
        else:
            err(n, key, 'unknown key (expected subscriber., rows., field., '
                'deny., grant., connector.<department>.principal or '
                'hub.principal)')

    for s in pol.subscribers.values():
        for a in SUB_REQUIRED:
            if a not in s.attrs:
                err(s.line, "subscriber.%s" % s.name,
                    "subscriber.%s.%s is required" % (s.name, a))

    def sub_of(n, key, name, star_ok):
        if star_ok and name == "*":
            return name
        if name not in pol.subscribers:
            err(n, key, 'unknown subscriber "%s"%s' % (
                name, did_you_mean(name, pol.subscribers)))
            return None
        return name

    for n, key, head, parts, val in later:
        if head == "rows" or (head == "deny" and len(parts) == 3):
            if len(parts) != 3:
                err(n, key, "expected rows.<subscriber>.<entity>")
                continue
            sub = sub_of(n, key, parts[1], head == "deny")
            ent = entity_of(n, key, parts[2])
            if not sub or not ent:
                continue
            r = cond_of(n, key, ent, val)
            if r:
                (pol.rows if head == "rows" else pol.row_denies)[
                    (sub, ent.name)] = r
            continue
        if len(parts) < 4:
            err(n, key, "expected %s.<subscriber>.<entity>.<field>" % head)
            continue
        fname = ".".join(parts[3:])
        sub = sub_of(n, key, parts[1], head == "deny")
        ent = entity_of(n, key, parts[2])
        if not sub or not ent:
            continue
        if head == "deny":
            if not field_of(n, key, ent, fname):
                continue
            r = cond_of(n, key, ent, val)
            if r:
                pol.field_denies[(sub, ent.name, fname)] = r
            continue
        try:
            action = parse_action(val)
        except ValueError as e:
            err(n, key, str(e))
            continue
        action.origin = "%s:%d" % (path, n)
        action.via = key
        if fname == "*":
            pol.star_lines[(sub, ent.name)] = action
            continue
        fi = field_of(n, key, ent, fname)
        if not fi:
            continue
        why = applies(action, fi, ent)
        if why:
            err(n, key, why)
            continue
        pol.field_lines[(sub, ent.name, fname)] = action

    # * lines: the action must apply to every top-level field it covers.
    for (sub, en), action in pol.star_lines.items():
        ent = entities[en]
        n = int(action.origin.rsplit(":", 1)[1])
        for f, fi in ent.fields.items():
            if (sub, en, f) in pol.field_lines:
                continue
            why = applies(action, fi, ent)
            if why:
                err(n, action.via, "%s (a field without a line of its own)"
                    % why)

    for g in pol.grants.values():
        gkey = "grant.%s" % g.name
        missing = [a for a in GRANT_REQUIRED if a not in g.attrs]
        for a in missing:
            err(g.line, gkey, "grant.%s.%s is required" % (g.name, a))
        if "subscriber" in g.attrs:
            g.subscriber = sub_of(g.lines["subscriber"], gkey + ".subscriber",
                                  g.attrs["subscriber"], False)
        ent = None
        if "entity" in g.attrs:
            ent = entity_of(g.lines["entity"], gkey + ".entity",
                            g.attrs["entity"])
            g.entity = ent.name if ent else None
        try:
            g.action = parse_action(g.attrs.get("action", "clear"))
            g.action.origin = "%s:%d" % (path, g.lines.get("action", g.line))
            g.action.via = "grant %s" % g.name
        except ValueError as e:
            err(g.lines["action"], gkey + ".action", str(e))
        for a in ("from", "until"):
            if a in g.attrs:
                try:
                    t = parse_policy_time(g.attrs[a])
                    if a == "from":
                        g.start = t
                    else:
                        g.until = t
                except ValueError as e:
                    err(g.lines[a], "%s.%s" % (gkey, a), str(e))
        if g.start is not None and g.until is not None and g.start >= g.until:
            err(g.lines["until"], gkey + ".until",
                "until is not after from: the grant would never be active")
        if ent is not None:
            if "rows" in g.attrs:
                g.rows = cond_of(g.lines["rows"], gkey + ".rows", ent,
                                 g.attrs["rows"])
            else:
                g.rows = Rule(("const", True), True, "all",
                              "%s:%d" % (path, g.line), gkey + ".rows")
            if "fields" in g.attrs:
                n = g.lines["fields"]
                seen = set()
                for f in g.attrs["fields"].split(","):
                    f = f.strip(ASCII_WS)
                    if not f:
                        err(n, gkey + ".fields", "empty field name in the list")
                        continue
                    if f in seen:
                        err(n, gkey + ".fields", "%s listed twice" % f)
                        continue
                    seen.add(f)
                    fi = field_of(n, gkey + ".fields", ent, f)
                    if not fi:
                        continue
                    if g.action:
                        why = applies(g.action, fi, ent)
                        if why:
                            err(n, gkey + ".fields", why)
                            continue
                    g.fields.append(f)

    # A field's type must not depend on which candidate wins.
    for sub in pol.subscribers:
        for en, ent in entities.items():
            for f in ent.all_field_names():
                fi = ent.field(f)
                cands = _static_candidates(pol, sub, en, f)
                types = {}
                for a in cands:
                    t = result_type(a, fi)
                    if t is not None:
                        types.setdefault(t, a)
                if len(types) > 1:
                    a = max(types.values(), key=lambda x: x.origin)
                    n = int(a.origin.rsplit(":", 1)[1]) \
                        if a.origin != "default" else 0
                    err(n, a.via or f, "%s of %s would have a different type "
                        "depending on the action that wins (%s)" % (
                            f, sub, ", ".join("%s: %s" % (x, x.origin)
                                              for x in types.values())))

    if keys is not None:
        for s in pol.subscribers.values():
            if s.key not in keys:
                n = s.lines.get("key", s.line)
                err(n, "subscriber.%s.key" % s.name,
                    'no key "%s" in the key file' % s.key)
    if errors:
        raise PolicyError(errors)
    return pol


def _static_candidates(pol, sub, en, f):
    """Every action a field may get for sub, any record, any time."""
    if "." in f:
        top = f.split(".", 1)[0]
        line = pol.field_lines.get((sub, en, f))
        base = [line] if line else _static_candidates(pol, sub, en, top)
        base = [a for a in base if a.kind != "own"] + \
            [Action("clear", origin=a.origin, via=a.via)
             for a in base if a.kind == "own"]
    else:
        base = [pol.base_action(sub, en, f)]
    return base + [g.action for g in pol.grants_for(sub, en, f, None)]


# ---------------------------------------------------------------------------
# Values: normalization


def norm_date(v):
    if v is None:
        return None
    if isinstance(v, bool):
        raise ValueError("not a date: %r" % v)
    if isinstance(v, int):
        return (EPOCH_DATE + dt.timedelta(days=v)).isoformat()
    if isinstance(v, dt.datetime):
        return v.date().isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
        dt.date.fromisoformat(v)
        return v
    raise ValueError("not a date: %r" % (v,))


TS_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})"
                   r"(?:\.(\d+))?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?(?::\d{2})?)$")


def norm_ts(v):
    """-> integer microseconds since the epoch (UTC)."""
    if v is None:
        return None
    if isinstance(v, bool):
        raise ValueError("not a timestamp: %r" % v)
    if isinstance(v, int):
        return v
    if isinstance(v, dt.datetime):
        if v.tzinfo is None:
            raise ValueError("timestamp without offset: %r" % v)
        return (v - EPOCH) // dt.timedelta(microseconds=1)
    if isinstance(v, str):
        m = TS_RE.match(v.strip())
        if not m:
            raise ValueError("not a timestamp with an offset: %r" % v)
        y, mo, d, h, mi, s, frac, off = m.groups()
        frac = (frac or "0")
        if len(frac) > 6:
            raise ValueError("more than microsecond precision: %r" % v)
        if off in ("Z", "z"):
            secs = 0
        else:
            sign = 1 if off[0] == "+" else -1
            digits = off[1:].replace(":", "")
            secs = sign * (int(digits[0:2]) * 3600 + int(digits[2:4] or 0) * 60
                           + int(digits[4:6] or 0))
        t = dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0),
                        tzinfo=dt.timezone.utc)
        us = (t - EPOCH) // dt.timedelta(microseconds=1)
        return us + int(frac.ljust(6, "0")) - secs * 1000000
    raise ValueError("not a timestamp: %r" % (v,))


def show_ts(us):
    if us is None:
        return None
    t = EPOCH + dt.timedelta(microseconds=us)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%06dZ" % t.microsecond


AVRO_WRAPPERS = {"null", "string", "int", "long", "boolean", "float",
                 "double", "bytes", "array", "map", "record", "enum", "fixed"}


def unwrap(v):
    """Avro's JSON encoding wraps union branches: {"string": "x"}."""
    if isinstance(v, dict) and len(v) == 1:
        (k, x), = v.items()
        if k in AVRO_WRAPPERS or "." in k:
            return x
    return v


def norm_value(fi, v, golden=True):
    """A value of field fi in normalized form. golden: a value read from
    the hub's database (a numeric text is a number, an enum value that is
    not a symbol is null, as the view encodes it); else a value a
    subscriber received (only the representation of dates and timestamps
    is normalized)."""
    v = unwrap(v)
    if v is None:
        return None
    k = fi.kind
    if k == "date":
        return norm_date(v)
    if k == "timestamp":
        return norm_ts(v)
    if k == "int" and golden:
        if isinstance(v, str) and re.fullmatch(r"-?\d+", v):
            return int(v)
        return v
    if k == "enum" and golden:
        return v if fi.symbols is None or v in fi.symbols else None
    if k == "array_record":
        out = []
        for el in v:
            if not isinstance(el, dict):
                out.append(el)
                continue
            el = dict(el)
            for sn, sfi in fi.subfields.items():
                if sn in el:
                    el[sn] = norm_value(sfi, el[sn], golden)
            out.append(el)
        return out
    return v


def normalize_record(entity, raw):
    """A golden record (persons.jsonl line) in normalized form; missing
    fields are null (arrays empty)."""
    rec = {}
    for f, fi in entity.fields.items():
        v = raw.get(f)
        if v is None and fi.kind in ("array_record", "array_string"):
            v = []
        if isinstance(v, str) and fi.kind in ("array_record", "array_string"):
            v = json.loads(v)  # a jsonb column dumped as text
        rec[f] = norm_value(fi, v)
    rec["active"] = raw.get("active", True) not in (False, "f", "false", 0)
    return rec


# ---------------------------------------------------------------------------
# Evaluation


_HMACS = {}


def hmac16(key, text):
    """Lowercase hex of the first 16 bytes of HMAC-SHA256(key, text)."""
    h = _HMACS.get(key)
    if h is None:
        h = _HMACS[key] = hmac.new(key, digestmod=hashlib.sha256)
    h = h.copy()
    h.update(text.encode("utf-8"))
    return h.digest()[:16].hex()


def pseudonym(key, entity, ident):
    return hmac16(key, "%s:%s" % (entity, ident))


def mask(value, first, last):
    n = len(value)
    if n <= first + last:
        return "*" * n
    return value[:first] + "*" * (n - first - last) + value[n - last:]


def pick(cands, value=None):
    """The most permissive action; among masks, the larger first+last, then
    the larger first, whatever the value's length (docs/policy.md, "Which
    action wins")."""
    best = max(RANK[a.kind] for a in cands)
    top = [a for a in cands if RANK[a.kind] == best]
    if top[0].kind == "mask" and len(top) > 1:
        top.sort(key=lambda a: (a.first + a.last, a.first), reverse=True)
    return top[0]


class Evaluator:
    """Evaluates one policy with its keys at one instant."""

    def __init__(self, policy, keys, now, tz=None):
        self.pol = policy
        self.keys = keys or {}
        self.now = now
        local = now.astimezone(tz) if tz else now.astimezone()
        self.today = local.date()
        self._plans = {}

    def key_of(self, sub):
        s = self.pol.subscribers[sub]
        if s.key not in self.keys:
            raise PolicyError(['no key "%s" (subscriber %s) in the key file'
                               % (s.key, sub)])
        return self.keys[s.key]

    def pseudonym(self, sub, entity, ident):
        return pseudonym(self.key_of(sub), entity, ident)

    def ctx(self, sub, rec):
        return Ctx(rec, self.pol.subscribers[sub].department, self.today)

    def in_scope(self, sub, en, rec, why=None):
        rows = self.pol.rows.get((sub, en))
        if rows is None:
            if why is not None:
                why.append("no rows.%s.%s line: no records (default deny)"
                           % (sub, en))
            return False
        c = self.ctx(sub, rec)
        r = eval_cond(rows.ast, c)
        if why is not None:
            why.append("%s (%s) = %s: %s" % (rows.key, rows.origin, tv(r),
                                             rows.text))
        if r is not True:
            return False
        for d in self.pol.denies_for(sub, en):
            r = eval_cond(d.ast, c)
            if why is not None:
                why.append("%s (%s) = %s: %s" % (d.key, d.origin, tv(r), d.text))
            if r is True:
                return False
        return True

    def plan(self, sub, en, all_grants=False):
        """The fields of the subscriber's schema: OrderedDict field -> None
        or [sub-field names]. With all_grants, every grant in the file
        counts (the fields any message may ever hold); else the grants
        active now."""
        k = (sub, en, all_grants)
        if k in self._plans:
            return self._plans[k]
        pol, ent = self.pol, self.pol.entities[en]
        now = None if all_grants else self.now
        out = collections.OrderedDict()
        for f, fi in ent.fields.items():
            if any(d.const_true() for d in pol.denies_for(sub, en, f)):
                continue
            cands = [pol.base_action(sub, en, f)] + \
                [g.action for g in pol.grants_for(sub, en, f, now)]
            if all(a.kind == "drop" for a in cands):
                continue
            subs = None
            if fi.kind == "array_record":
                subs = []
                for sn in fi.subfields:
                    full = "%s.%s" % (f, sn)
                    if any(d.const_true() for d in pol.denies_for(sub, en, full)):
                        continue
                    line = pol.field_lines.get((sub, en, full))
                    sc = ([line] if line else cands) + \
                        [g.action for g in pol.grants_for(sub, en, full, now)]
                    if any(a.kind != "drop" for a in sc):
                        subs.append(sn)
            out[f] = subs
        self._plans[k] = out
        return out

    def decide(self, sub, en, field, rec, c, inherited=None, value=None):
        """(action, reason) for one field of one record; action None when a
        deny withholds it."""
        pol = self.pol
        for d in pol.denies_for(sub, en, field):
            if eval_cond(d.ast, c) is True:
                return None, "withheld by %s (%s): %s" % (d.key, d.origin,
                                                          d.text)
        line = pol.field_lines.get((sub, en, field))
        if "." in field and not line:
            base = inherited
        else:
            base = pol.base_action(sub, en, field)
        cands = [base]
        for g in pol.grants_for(sub, en, field, self.now):
            if eval_cond(g.rows.ast, c) is True:
                cands.append(g.action)
        return cands, None

    def expected(self, sub, en, rec, notes=None):
        """The record the subscriber must hold for rec (None if not in its
        view), and per field the action kind that won (for comparisons)."""
        if not rec.get("active", True):
            if notes is not None:
                notes.append("retired (active false): tombstoned")
            return None, None
        if not self.in_scope(sub, en, rec, notes):
            return None, None
        ent = self.pol.entities[en]
        key = self.key_of(sub)
        c = self.ctx(sub, rec)
        plan = self.plan(sub, en)
        out = collections.OrderedDict()
        kinds = {}
        for f, subs in plan.items():
            fi = ent.fields[f]
            v = rec.get(f)
            cands, why = self.decide(sub, en, f, rec, c)
            if cands is None:
                out[f] = None
                kinds[f] = "withheld"
                if notes is not None:
                    notes.append("%s: %s" % (f, why))
                continue
            a = pick(cands, v)
            kinds[f] = a.kind
            if notes is not None:
                notes.append("%s: %s%s" % (f, describe(a), alternatives(cands, a)))
            if a.kind == "drop":
                out[f] = None
                continue
            if fi.kind == "array_record":
                els = v or []
                if a.kind == "own":
                    dep = self.pol.subscribers[sub].department
                    els = [e for e in els if e.get("department") == dep]
                inh = Action("clear", origin=a.origin, via="%s (inherited)"
                             % a.via)
                res = [collections.OrderedDict() for _ in els]
                for sn in subs:
                    full = "%s.%s" % (f, sn)
                    sfi = fi.subfields[sn]
                    scands, swhy = self.decide(sub, en, full, rec, c, inh)
                    if scands is None:
                        kinds[full] = "withheld"
                        for r in res:
                            r[sn] = None
                        if notes is not None:
                            notes.append("%s: %s" % (full, swhy))
                        continue
                    chosen = None
                    for r, e in zip(res, els):
                        sa = pick(scands, e.get(sn))
                        chosen = chosen or sa
                        r[sn] = self.transform(key, en, ent, sfi, sa, e.get(sn))
                    sa = chosen or pick(scands)
                    kinds[full] = sa.kind
                    if notes is not None:
                        notes.append("%s: %s%s" % (full, describe(sa),
                                                   alternatives(scands, sa)))
                out[f] = res
            else:
                out[f] = self.transform(key, en, ent, fi, a, v)
        return out, kinds

    def transform(self, key, en, ent, fi, a, v):
        if v is None or a.kind == "drop":
            return None
        k = a.kind
        if k in ("clear", "own"):
            return v
        if k == "mask":
            return mask(v, a.first, a.last)
        if k == "year":
            if fi.kind == "date":
                return int(v[:4])
            return (EPOCH + dt.timedelta(microseconds=v)).year
        if k == "hash":
            ref = None
            if fi.name == ent.key_field:
                ref = en
            elif fi.ref:
                ref = fi.ref
            if ref:
                f = lambda x: pseudonym(key, ref, x)
            else:
                f = lambda x: hmac16(key, "%s.%s:%s" % (en, fi.name, x))
            if isinstance(v, list):
                return [f(x) for x in v]
            return f(v)
        raise AssertionError(k)


def tv(r):
    return {True: "true", False: "false", None: "unknown"}[r]


def describe(a):
    return "%s (%s%s)" % (a, a.via or "", "" if a.origin == "default"
                          else ", " + a.origin)


def alternatives(cands, chosen):
    rest = [c for c in cands if c is not chosen]
    if not rest:
        return ""
    return "; over " + ", ".join(describe(c) for c in rest)


# ---------------------------------------------------------------------------
# Inputs: persons, messages, times


def parse_now(text):
    if not text:
        return dt.datetime.now(dt.timezone.utc)
    try:
        return parse_policy_time(text)
    except ValueError:
        us = norm_ts(text)
        return EPOCH + dt.timedelta(microseconds=us)


def get_tz(name):
    if not name:
        return None
    from zoneinfo import ZoneInfo
    return ZoneInfo(name.lstrip(":"))


def load_persons(path, entity):
    persons = collections.OrderedDict()
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            raw = json.loads(line)
            try:
                rec = normalize_record(entity, raw)
            except ValueError as e:
                raise PolicyError(["%s:%d: %s" % (path, n, e)])
            pid = rec.get(entity.key_field)
            if pid is None:
                raise PolicyError(["%s:%d: no %s" % (path, n, entity.key_field)])
            if pid in persons:
                raise PolicyError(["%s:%d: %s %s given twice" % (
                    path, n, entity.key_field, pid)])
            persons[pid] = rec
    return persons


def load_messages(path, keep_value=None):
    """The messages of a dump, in order. keep_value(topic) false: the
    message keeps where it was and its key, not its value or schema (the
    check reads person topics only; a city's other views would otherwise
    hold gigabytes). Equal writer schemas are shared, not one copy per
    message."""
    out = []
    schemas = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            m = json.loads(line)
            m["_line"] = n
            if keep_value is not None and not keep_value(m.get("topic")):
                m.pop("value", None)
                m.pop("schema", None)
            elif m.get("schema") is not None:
                k = json.dumps(m["schema"], sort_keys=True)
                m["schema"] = schemas.setdefault(k, m["schema"])
            out.append(m)
    return out


def view_topic(prefix, topic):
    """(subscriber, entity) of a topic named <prefix>.<subscriber>.<entity>,
    else (None, None)."""
    p = prefix + "."
    if not isinstance(topic, str) or not topic.startswith(p):
        return None, None
    rest = topic[len(p):]
    if "." not in rest:
        return None, None
    sub, ent = rest.rsplit(".", 1)
    return sub, ent


def schema_fields(schema):
    """{field: None or set(sub-fields)} of a writer schema (JSON or text);
    None if it is not a record schema."""
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except ValueError:
            return None
    if not isinstance(schema, dict) or schema.get("type") != "record":
        return None
    named = {}
    out = {}
    for f in schema.get("fields", []):
        kind, _, _, rf = _classify(f["type"], named)
        out[f["name"]] = {sf["name"] for sf in rf} if kind == "array_record" \
            else None
    return out


# ---------------------------------------------------------------------------
# check


class Checker:
    def __init__(self, ev, persons, messages, prefix, subs=None,
                 old_keys=(), strict_resend=False, old_evs=()):
        self.ev = ev
        # Evaluators of the policies in force before this one: a message of
        # the history may hold what any of them allowed; final records
        # answer to the current policy alone.
        self.old_evs = list(old_evs)
        self.pol = ev.pol
        self.persons = persons
        self.messages = messages
        self.prefix = prefix
        self.subs = subs or list(self.pol.subscribers)
        self.old_keys = list(old_keys)   # key files in use before a re-key
        self.strict_resend = strict_resend
        self.violations = []
        self.notes = []
        self.resends = 0

    def v(self, kind, sub, key=None, person=None, field=None, expected=None,
          got=None, detail=None):
        self.violations.append(dict(kind=kind, subscriber=sub, key=key,
                                    person=person, field=field,
                                    expected=expected, got=got, detail=detail))

    def topic_of(self, topic):
        return view_topic(self.prefix, topic)

    def run(self):
        en = "person"
        ent = self.pol.entities[en]
        by_topic = collections.OrderedDict()
        for m in self.messages:
            by_topic.setdefault(m.get("topic"), []).append(m)
        topics_of = collections.defaultdict(list)
        for t in by_topic:
            sub, e = self.topic_of(t)
            if sub is None:
                self.notes.append("topic %s: not %s.<subscriber>.<entity>, "
                                  "ignored" % (t, self.prefix))
                continue
            if sub not in self.pol.subscribers:
                self.v("topic", sub, detail="topic %s of a subscriber the "
                       "policy does not declare (%d messages)"
                       % (t, len(by_topic[t])))
                continue
            if e not in self.pol.entities:
                self.v("topic", sub, detail="topic %s of unknown entity %s"
                       % (t, e))
                continue
            if e != en:
                self.notes.append("topic %s: entity %s not checked" % (t, e))
                continue
            topics_of[sub].append(t)

        pseud = {}   # sub -> {pid: pseudonym}
        for sub in self.pol.subscribers:
            key = self.ev.key_of(sub)
            pseud[sub] = {pid: pseudonym(key, en, pid) for pid in self.persons}
        self.summary = []
        finals = {}
        for sub in self.subs:
            finals[sub] = self.check_subscriber(sub, en, ent,
                                                [m for t in topics_of[sub]
                                                 for m in by_topic[t]],
                                                topics_of[sub], pseud[sub])
        self.check_cross(en, pseud, finals)
        return self.violations

    def check_subscriber(self, sub, en, ent, msgs, topics, ps):
        ev = self.ev
        rev = {v: k for k, v in ps.items()}
        # Pseudonyms under the subscriber's former keys (re-keying): known
        # persons, whose records must all end tombstoned.
        old = {}
        kname = self.pol.subscribers[sub].key
        for ok in self.old_keys:
            if kname in ok and ok[kname] != ev.key_of(sub):
                for pid in self.persons:
                    old[pseudonym(ok[kname], en, pid)] = pid
        msgs = sorted(msgs, key=lambda m: (
            str(m.get("topic")),
            m["partition"] if isinstance(m.get("partition"), int) else -1,
            m["offset"] if isinstance(m.get("offset"), int) else m["_line"]))
        allowed = collections.OrderedDict(ev.plan(sub, en, all_grants=True))
        for oe in self.old_evs:
            if sub not in oe.pol.subscribers:
                continue
            for f, subs in oe.plan(sub, en, all_grants=True).items():
                if f not in allowed:
                    allowed[f] = subs
                elif allowed[f] is not None and subs is not None:
                    allowed[f] = list(allowed[f]) + [
                        x for x in subs if x not in allowed[f]]
        nviol0 = len(self.violations)
        # A key field that can only be hashed must equal the message key in
        # every message, not only the final ones.
        kf = ent.key_field
        kinds = {a.kind for a in _static_candidates(self.pol, sub, en, kf)
                 if a.kind != "drop"}
        kf_pseudonym = kinds == {"hash"}
        final = {}
        parts = {}
        last = {}
        for m in msgs:
            key, val = m.get("key"), m.get("value")
            where = "%s[%s]@%s" % (m.get("topic"), m.get("partition"),
                                   m.get("offset"))
            pid = rev.get(key) or old.get(key)
            if key is None:
                self.v("key", sub, detail="%s: message without a key" % where)
                continue
            if m.get("error"):
                self.v("value", sub, key=key, person=pid, detail="%s: could "
                       "not be decoded: %s" % (where, m["error"]))
                continue
            if pid is None:
                self.v("key", sub, key=key, detail="%s: key is not the "
                       "pseudonym of any person (raw id? wrong key?)" % where)
            # "A change to a field the subscriber does not see sends it
            # nothing": the same record twice in a row tells it something
            # changed (or is a redelivery after a crash).
            this = json.dumps([val, m.get("schema")], sort_keys=True)
            if key in last and last[key][0] == this:
                self.resends += 1
                if self.strict_resend:
                    self.v("resend", sub, key=key, person=pid, detail="%s: "
                           "same %s as the previous message of the key (%s)"
                           % (where, "tombstone" if val is None else "record",
                              last[key][1]))
            if isinstance(val, dict) and key in last:
                pv, nv = last[key][2], unwrap(val.get("version"))
                if isinstance(pv, int) and isinstance(nv, int) and nv < pv:
                    self.v("version", sub, key=key, person=pid,
                           field="version", expected=">= %d" % pv, got=nv,
                           detail="%s: version went down" % where)
            prev_version = last[key][2] if key in last else None
            if isinstance(val, dict) and isinstance(unwrap(val.get("version")),
                                                    int):
                prev_version = unwrap(val.get("version"))
            last[key] = (this, where, prev_version)
            p = m.get("partition")
            if parts.setdefault(key, p) != p:
                self.v("key", sub, key=key, person=pid, detail="%s: key seen "
                       "in partitions %s and %s" % (where, parts[key], p))
            if val is not None:
                self.check_fields(sub, key, pid, where, val, m.get("schema"),
                                  allowed, ent)
                kv = unwrap(val.get(kf)) if isinstance(val, dict) else None
                if kf_pseudonym and kv is not None and kv != key:
                    self.v("value", sub, key=key, person=pid, field=kf,
                           expected=key, got=kv, detail="%s: a hashed %s "
                           "must equal the message key" % (where, kf))
                final[key] = (val, m)
            else:
                final.pop(key, None)
        expected = {}
        for pid, rec in self.persons.items():
            exp, kinds = ev.expected(sub, en, rec)
            if exp is not None:
                expected[ps[pid]] = (pid, exp, kinds)
        for key in sorted(set(final) - set(expected)):
            pid = rev.get(key)
            rec = self.persons.get(pid)
            if key in old:
                pid = old[key]
                why = "pseudonym under the former key: tombstone missing"
            elif rec is None:
                why = "unknown key"
            elif not rec["active"]:
                why = "person is retired (active false): tombstone missing"
            else:
                why = "person is not in the subscriber's view"
            self.v("extra-key", sub, key=key, person=pid, detail=why)
        for key in sorted(set(expected) - set(final)):
            pid = expected[key][0]
            self.v("missing-key", sub, key=key, person=pid,
                   detail="in the view, but no live record in the topic")
        for key in sorted(set(expected) & set(final)):
            pid, exp, kinds = expected[key]
            self.compare(sub, key, pid, ent, exp, kinds, final[key][0])
        self.summary.append(
            "%s: topics %s, %d messages, %d final keys, %d expected, "
            "%d violations" % (sub, ",".join(topics) or "(none)", len(msgs),
                               len(final), len(expected),
                               len(self.violations) - nviol0))
        return final

    def check_fields(self, sub, key, pid, where, val, schema, allowed, ent):
        if not isinstance(val, dict):
            self.v("value", sub, key=key, person=pid,
                   detail="%s: value is not a record" % where)
            return
        for f, x in val.items():
            if f not in allowed:
                self.v("extra-field", sub, key=key, person=pid, field=f,
                       got=x, detail="%s: field the policy never allows "
                       "this subscriber" % where)
                continue
            x = unwrap(x)
            if allowed[f] is not None and isinstance(x, list):
                for el in x:
                    for sf in (el if isinstance(el, dict) else {}):
                        if sf not in allowed[f]:
                            self.v("extra-field", sub, key=key, person=pid,
                                   field="%s.%s" % (f, sf), got=el[sf],
                                   detail="%s: sub-field the policy never "
                                   "allows this subscriber" % where)
        if schema is None:
            return
        sf = schema_fields(schema)
        if sf is None:
            return
        for f, subs in sf.items():
            if f not in allowed:
                self.v("schema-field", sub, key=key, person=pid, field=f,
                       detail="%s: writer schema has a field the policy "
                       "never allows this subscriber" % where)
            elif subs and allowed[f] is not None:
                for s in sorted(subs - set(allowed[f])):
                    self.v("schema-field", sub, key=key, person=pid,
                           field="%s.%s" % (f, s),
                           detail="%s: writer schema has a sub-field the "
                           "policy never allows this subscriber" % where)

    def compare(self, sub, key, pid, ent, exp, kinds, got):
        if not isinstance(got, dict):
            self.v("value", sub, key=key, person=pid, expected=exp, got=got)
            return
        for f in got:
            if f not in exp:
                self.v("extra-field", sub, key=key, person=pid, field=f,
                       got=got[f], detail="final record has a field the "
                       "subscriber's schema must not have now")
        for f, e in exp.items():
            if f not in got:
                self.v("missing-field", sub, key=key, person=pid, field=f,
                       expected=e, detail="final record lacks the field")
                continue
            fi = ent.fields[f]
            kind = kinds.get(f)
            try:
                g = self.norm_got(fi, kind, got[f], kinds, f)
            except (ValueError, TypeError, AttributeError) as x:
                self.v("value", sub, key=key, person=pid, field=f,
                       expected=e, got=got[f], detail=str(x))
                continue
            if fi.kind == "array_record" and isinstance(e, list) and \
                    isinstance(g, list) and len(e) == len(g):
                for i, (ee, ge) in enumerate(zip(e, g)):
                    if not isinstance(ge, dict):
                        self.v("value", sub, key=key, person=pid,
                               field="%s[%d]" % (f, i), expected=ee, got=ge)
                        continue
                    for s in ge:
                        if s not in ee:
                            self.v("extra-field", sub, key=key, person=pid,
                                   field="%s[%d].%s" % (f, i, s), got=ge[s])
                    for s, ev_ in ee.items():
                        full = "%s.%s" % (f, s)
                        if s not in ge:
                            self.v("missing-field", sub, key=key, person=pid,
                                   field="%s[%d].%s" % (f, i, s), expected=ev_)
                        elif ge[s] != ev_:
                            self.v(self.kind_of(kinds.get(full)), sub,
                                   key=key, person=pid,
                                   field="%s[%d].%s" % (f, i, s),
                                   expected=ev_, got=ge[s],
                                   detail="action %s" % kinds.get(full))
            elif g != e:
                self.v(self.kind_of(kind), sub, key=key, person=pid, field=f,
                       expected=e, got=got[f], detail="action %s" % kind)

    @staticmethod
    def kind_of(action_kind):
        return "mask" if action_kind == "mask" else "value"

    def norm_got(self, fi, kind, v, kinds, f):
        v = unwrap(v)
        if v is None:
            return None
        if kind in ("year", "hash", "mask", "withheld", "drop"):
            return v
        if fi.kind == "array_record":
            out = []
            for el in v:
                if not isinstance(el, dict):
                    out.append(el)
                    continue
                el = dict(el)
                for sn, sfi in fi.subfields.items():
                    if sn in el:
                        sk = kinds.get("%s.%s" % (f, sn))
                        el[sn] = unwrap(el[sn])
                        if sk in ("clear", "own") and el[sn] is not None:
                            el[sn] = norm_value(sfi, el[sn], golden=False)
                out.append(el)
            return out
        return norm_value(fi, v, golden=False)

    def check_cross(self, en, pseud, finals):
        """(c) pseudonyms of one person differ across subscribers that do
        not share a key."""
        subs = list(self.pol.subscribers.values())
        for i in range(len(subs)):
            for j in range(i + 1, len(subs)):
                a, b = subs[i], subs[j]
                if a.key == b.key:
                    continue
                same = [pid for pid in self.persons
                        if pseud[a.name][pid] == pseud[b.name][pid]]
                for pid in same:
                    self.v("cross", a.name, key=pseud[a.name][pid], person=pid,
                           detail="same pseudonym for %s and %s, which do not "
                           "share a key" % (a.name, b.name))
                if a.name in finals and b.name in finals:
                    for k in sorted(set(finals[a.name]) & set(finals[b.name])):
                        self.v("cross", a.name, key=k,
                               detail="key in the topics of both %s and %s, "
                               "which do not share a key" % (a.name, b.name))


def fmt_json(v):
    return json.dumps(v, ensure_ascii=False, sort_keys=False)


def print_violation(x, out):
    parts = ["VIOLATION", x["kind"], "subscriber=%s" % x["subscriber"]]
    if x["key"] is not None:
        parts.append("key=%s" % x["key"])
    if x["person"] is not None:
        parts.append("person=%s" % x["person"])
    if x["field"] is not None:
        parts.append("field=%s" % x["field"])
    if x["expected"] is not None or x["kind"] in ("value", "mask"):
        parts.append("expected=%s" % fmt_json(x["expected"]))
    if x["got"] is not None or x["kind"] in ("value", "mask"):
        parts.append("got=%s" % fmt_json(x["got"]))
    if x["detail"]:
        parts.append("(%s)" % x["detail"])
    print(" ".join(parts), file=out)


# ---------------------------------------------------------------------------
# dump: read subscriber topics (optional confluent_kafka)


class AvroReader:
    """Avro binary decoding to natural JSON (what `gridhub tail` prints):
    dates 'YYYY-MM-DD', timestamps ISO ...Z, unions unwrapped."""

    def __init__(self, data):
        self.b = data
        self.i = 0

    def long(self):
        shift = n = 0
        while True:
            c = self.b[self.i]
            self.i += 1
            n |= (c & 0x7F) << shift
            shift += 7
            if not c & 0x80:
                break
        return (n >> 1) ^ -(n & 1)

    def raw(self, n):
        s = self.b[self.i:self.i + n]
        if len(s) != n:
            raise ValueError("truncated Avro value")
        self.i += n
        return s

    def read(self, t, named):
        if isinstance(t, list):
            return self.read(t[self.long()], named)
        if isinstance(t, str):
            if t in named:
                return self.read(named[t], named)
            t = {"type": t}
        typ = t["type"]
        if isinstance(typ, (dict, list)):
            return self.read(typ, named)
        if typ in ("record", "enum", "fixed") and "name" in t:
            named[t["name"]] = t
            if t.get("namespace"):
                named[t["namespace"] + "." + t["name"]] = t
        lt = t.get("logicalType")
        if typ == "null":
            return None
        if typ == "boolean":
            return self.raw(1) != b"\0"
        if typ in ("int", "long"):
            v = self.long()
            if lt == "date":
                return norm_date(v)
            if lt == "timestamp-micros":
                return show_ts(v)
            if lt == "timestamp-millis":
                return show_ts(v * 1000)
            return v
        if typ == "float":
            import struct
            return struct.unpack("<f", self.raw(4))[0]
        if typ == "double":
            import struct
            return struct.unpack("<d", self.raw(8))[0]
        if typ == "string":
            return self.raw(self.long()).decode("utf-8", "replace")
        if typ == "bytes":
            return self.raw(self.long()).decode("latin-1")
        if typ == "fixed":
            return self.raw(t["size"]).decode("latin-1")
        if typ == "enum":
            return t["symbols"][self.long()]
        if typ in ("array", "map"):
            out = [] if typ == "array" else {}
            while True:
                n = self.long()
                if n == 0:
                    break
                if n < 0:
                    n = -n
                    self.long()
                for _ in range(n):
                    if typ == "array":
                        out.append(self.read(t["items"], named))
                    else:
                        k = self.raw(self.long()).decode("utf-8")
                        out[k] = self.read(t["values"], named)
            return out
        if typ == "record":
            return collections.OrderedDict(
                (f["name"], self.read(f["type"], named)) for f in t["fields"])
        raise ValueError("unsupported Avro type %r" % typ)


def cmd_dump(args):
    try:
        from confluent_kafka import Consumer, KafkaError, TopicPartition
    except ImportError:
        print("dump needs the confluent_kafka module (python3-confluent-kafka)",
              file=sys.stderr)
        return 2
    import time
    import urllib.request
    conf = {"bootstrap.servers": args.bootstrap,
            "group.id": "policy-oracle-%d" % os.getpid(),
            "enable.auto.commit": False, "auto.offset.reset": "earliest"}
    for kv in args.X or []:
        k, _, v = kv.partition("=")
        conf[k] = v
    c = Consumer(conf)
    md = c.list_topics(timeout=10)

    def read_all(topics, sink):
        tps = []
        for t in topics:
            for p in md.topics[t].partitions:
                lo, hi = c.get_watermark_offsets(TopicPartition(t, p),
                                                 timeout=10)
                if hi > lo:
                    tps.append((t, p, lo, hi))
        c.assign([TopicPartition(t, p, lo) for t, p, lo, hi in tps])
        left = {(t, p): hi for t, p, lo, hi in tps}
        deadline = time.time() + args.timeout
        while left and time.time() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise RuntimeError(str(m.error()))
            sink(m)
            # Messages are decoded and written as they come, which takes
            # longer than reading: the timeout is for a broker that stops
            # answering, counted from the last message.
            deadline = time.time() + args.timeout
            k = (m.topic(), m.partition())
            if k in left and m.offset() + 1 >= left[k]:
                del left[k]
        if left:
            raise RuntimeError("timed out reading %s" % sorted(left))
        c.unassign()

    schemas = {}

    def schema_of(m):
        if m.value() is not None:
            schemas[m.key().decode()] = json.loads(m.value())

    if args.schemas_topic in md.topics:
        read_all([args.schemas_topic], schema_of)
    topics = sorted(t for t in md.topics if t.startswith(args.prefix + "."))
    reg = {}
    out = open(args.out, "w", encoding="utf-8") if args.out != "-" \
        else sys.stdout
    count = [0]

    def write(m):
        val, schema, err = m.value(), None, None
        rec = None
        if val is not None:
            try:
                if val[:2] == b"\xc3\x01":
                    fp = val[2:10][::-1].hex()
                    schema = schemas.get(fp, schemas.get(val[2:10].hex()))
                    if schema is None:
                        raise ValueError("fingerprint %s not in %s"
                                         % (fp, args.schemas_topic))
                    body = val[10:]
                elif val[:1] == b"\0" and args.registry:
                    sid = int.from_bytes(val[1:5], "big")
                    if sid not in reg:
                        with urllib.request.urlopen(
                                "%s/schemas/ids/%d" % (args.registry, sid)) as r:
                            reg[sid] = json.loads(json.load(r)["schema"])
                    schema, body = reg[sid], val[5:]
                else:
                    raise ValueError("unknown framing")
                rec = AvroReader(body).read(schema, {})
            except (ValueError, IndexError, KeyError) as e:
                err = str(e)
        line = collections.OrderedDict(
            topic=m.topic(), partition=m.partition(), offset=m.offset(),
            key=m.key().decode("utf-8", "replace") if m.key() else None,
            value=rec, schema=schema)
        if err:
            line["error"] = err
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
        count[0] += 1

    read_all(topics, write)
    if out is not sys.stdout:
        out.close()
    c.close()
    print("%d messages from %d topics" % (count[0], len(topics)),
          file=sys.stderr)
    return 0


# ---------------------------------------------------------------------------
# CLI


def load_all(args, need_keys=True):
    ents = load_entities(args.schemas)
    keys = None
    if getattr(args, "keys", None):
        keys = load_keys(args.keys, check_mode=not args.no_key_mode_check)
    elif need_keys:
        raise PolicyError(["--keys is required"])
    pol = load_policy(args.policy, ents, keys)
    now = parse_now(args.now)
    ev = Evaluator(pol, keys, now, get_tz(args.tz))
    return pol, keys, ev


def cmd_validate(args):
    pol, keys, ev = load_all(args, need_keys=False)
    print("%s: version %s, %d subscribers, %d grants" % (
        pol.path, pol.version, len(pol.subscribers), len(pol.grants)))
    for a, b in pol.shared_keys():
        print("shared key: %s and %s receive the same pseudonyms" % (a, b))
    for g in pol.grants.values():
        print("grant %s (%s -> %s): %s" % (
            g.name, g.subscriber, ",".join(g.fields),
            "active" if g.active(ev.now) else "not active at %s"
            % ev.now.isoformat()))
    for s in pol.subscribers:
        for en in pol.entities:
            now_plan = ev.plan(s, en)
            all_plan = ev.plan(s, en, all_grants=True)
            print("schema %s.%s: %s" % (s, en, show_plan(now_plan)))
            if list(all_plan.items()) != list(now_plan.items()):
                print("  with every grant: %s" % show_plan(all_plan))
    return 0


def show_plan(plan):
    return ", ".join(f if subs is None else "%s{%s}" % (f, ",".join(subs))
                     for f, subs in plan.items()) or "(no fields)"


def cmd_check(args):
    pol, keys, ev = load_all(args)
    ent = pol.entities["person"]
    persons = load_persons(args.persons, ent)
    msgs = load_messages(args.messages,
                         lambda t: view_topic(args.prefix, t)[1] == "person")
    for s in args.subscriber or []:
        if s not in pol.subscribers:
            raise PolicyError(["--subscriber %s: not in the policy" % s])
    old = [load_keys(p, check_mode=not args.no_key_mode_check)
           for p in args.old_keys or []]
    old_evs = [Evaluator(load_policy(op, pol.entities, keys), keys, ev.now,
                         get_tz(args.tz))
               for op in args.old_policy or []]
    ck = Checker(ev, persons, msgs, args.prefix, args.subscriber, old,
                 args.strict_resend, old_evs)
    viol = ck.run()
    for v in viol[:args.max_violations] if args.max_violations else viol:
        print_violation(v, sys.stdout)
    if args.max_violations and len(viol) > args.max_violations:
        print("... %d more violations" % (len(viol) - args.max_violations))
    for n in ck.notes:
        print("note: %s" % n)
    if ck.resends and not args.strict_resend:
        print("note: %d messages repeat the previous message of their key "
              "(a redelivery, or a change the subscriber cannot see that "
              "was sent anyway; --strict-resend makes them violations)"
              % ck.resends)
    print("policy %s version %s at %s (local date %s)" % (
        pol.path, pol.version, ev.now.isoformat(), ev.today.isoformat()))
    for line in ck.summary:
        print(line)
    kinds = collections.Counter(v["kind"] for v in viol)
    print("%d persons, %d messages: %d violations%s" % (
        len(persons), len(msgs), len(viol),
        " (" + ", ".join("%s %d" % kv for kv in sorted(kinds.items())) + ")"
        if viol else ""))
    return 1 if viol else 0


def cmd_explain(args):
    pol, keys, ev = load_all(args)
    en = args.entity
    if en not in pol.entities:
        raise PolicyError(["--entity %s: unknown" % en])
    if args.subscriber not in pol.subscribers:
        raise PolicyError(["--subscriber %s: not in the policy" % args.subscriber])
    ent = pol.entities[en]
    if args.record:
        rec = normalize_record(ent, json.loads(args.record))
    else:
        if not args.persons or not args.person:
            raise PolicyError(["explain needs --record, or --persons and "
                               "--person"])
        persons = load_persons(args.persons, ent)
        if args.person not in persons:
            raise PolicyError(["--person %s: not in %s" % (args.person,
                                                           args.persons)])
        rec = persons[args.person]
    sub = args.subscriber
    s = pol.subscribers[sub]
    pid = rec[ent.key_field]
    print("policy %s version %s; now %s, local date %s" % (
        pol.path, pol.version, ev.now.isoformat(), ev.today.isoformat()))
    print("subscriber %s (department %s, key %s), entity %s, %s %s" % (
        sub, s.department, s.key, en, ent.key_field, pid))
    print("pseudonym: %s" % ev.pseudonym(sub, en, pid))
    print("schema now: %s" % show_plan(ev.plan(sub, en)))
    print("schema with every grant: %s" % show_plan(ev.plan(sub, en, True)))
    notes = []
    exp, kinds = ev.expected(sub, en, rec, notes)
    for n in notes:
        print("  " + n)
    if exp is None:
        print("not in the view: the key holds no record (tombstone)")
        return 0
    out = collections.OrderedDict()
    for f, v in exp.items():
        fi = ent.fields[f]
        if fi.kind == "timestamp" and kinds.get(f) == "clear":
            v = show_ts(v)
        elif fi.kind == "array_record" and v:
            v = [collections.OrderedDict(
                (k, show_ts(x) if fi.subfields[k].kind == "timestamp" and
                 kinds.get("%s.%s" % (f, k)) == "clear" else x)
                for k, x in el.items()) for el in v]
        out[f] = v
    print("record: %s" % json.dumps(out, ensure_ascii=False, indent=2))
    return 0


def cmd_keys(args):
    ents = load_entities(args.schemas)
    pol = load_policy(args.policy, ents)
    names = []
    for s in pol.subscribers.values():
        if s.key not in names:
            names.append(s.key)
    if os.path.exists(args.generate) and not args.force:
        raise PolicyError(["%s exists (use --force to replace it)"
                           % args.generate])
    fd = os.open(args.generate, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("# pseudonym keys for %s (version %s)\n" % (pol.path,
                                                           pol.version))
        for n in names:
            f.write("%s=%s\n" % (n, secrets.token_hex(32)))
    print("%s: %d keys" % (args.generate, len(names)))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="policy_oracle.py",
        description="Independent evaluator of docs/policy.md.")
    sp = ap.add_subparsers(dest="cmd", required=True)

    def common(p, keys=True):
        p.add_argument("--policy", required=True, help="the policy file")
        if keys:
            p.add_argument("--keys", help="the key file (name=hex secret)")
            p.add_argument("--no-key-mode-check", action="store_true",
                           help="accept a key file readable by others")
        p.add_argument("--schemas", default=DEFAULT_SCHEMAS,
                       help="directory of the view schemas (default %(default)s)")
        p.add_argument("--now", help="evaluation instant, ISO 8601 with an "
                       "offset (default: the current time)")
        p.add_argument("--tz", help="the hub's time zone for age() (default: "
                       "TZ from the environment, else the system's)")

    p = sp.add_parser("validate", help="load a policy, print its version, "
                      "grants and each subscriber's schema fields")
    common(p)
    p.set_defaults(func=cmd_validate)

    p = sp.add_parser("check", help="check consumed subscriber topics "
                      "against the policy")
    common(p)
    p.add_argument("--persons", required=True,
                   help="golden persons, one JSON object a line")
    p.add_argument("--messages", required=True,
                   help="consumed messages, one JSON object a line: topic, "
                   "partition, offset, key, value, schema")
    p.add_argument("--prefix", default=DEFAULT_PREFIX,
                   help="view topic prefix (default %(default)s)")
    p.add_argument("--subscriber", action="append",
                   help="check only this subscriber (repeatable)")
    p.add_argument("--old-keys", action="append", metavar="KEYFILE",
                   help="a key file in use before a re-key (repeatable): "
                   "pseudonyms under it are known, and must end tombstoned")
    p.add_argument("--old-policy", action="append", metavar="POLICY",
                   help="a policy in force before --policy (repeatable): "
                   "messages of the history may hold the fields it allowed; "
                   "final records answer to --policy alone")
    p.add_argument("--strict-resend", action="store_true",
                   help="a message equal to the previous one of its key is "
                   "a violation (default: counted in a note)")
    p.add_argument("--max-violations", type=int, default=0,
                   help="print at most this many violations (0: all)")
    p.set_defaults(func=cmd_check)

    p = sp.add_parser("explain", help="the expected record of one person "
                      "for one subscriber, with every decision")
    common(p)
    p.add_argument("--subscriber", required=True)
    p.add_argument("--entity", default="person")
    p.add_argument("--persons", help="golden persons (JSON lines)")
    p.add_argument("--person", help="the person's id in --persons")
    p.add_argument("--record", help="the golden record as JSON instead")
    p.set_defaults(func=cmd_explain)

    p = sp.add_parser("keys", help="write a key file with a fresh key per "
                      "key name the policy uses")
    p.add_argument("--generate", required=True, metavar="KEYFILE")
    p.add_argument("--policy", required=True)
    p.add_argument("--schemas", default=DEFAULT_SCHEMAS)
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=cmd_keys)

    p = sp.add_parser("dump", help="read every view topic into "
                      "messages.jsonl (needs confluent_kafka)")
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--out", default="-")
    p.add_argument("--prefix", default=DEFAULT_PREFIX)
    p.add_argument("--schemas-topic", default="_gridhub_schemas")
    p.add_argument("--registry", help="Schema Registry URL (Confluent "
                   "framing)")
    p.add_argument("--timeout", type=float, default=60,
                   help="seconds without a message before the topics are "
                   "given up as unreadable")
    p.add_argument("-X", action="append", metavar="KEY=VALUE",
                   help="librdkafka property")
    p.set_defaults(func=cmd_dump)

    args = ap.parse_args(argv)
    try:
        return args.func(args)
    except PolicyError as e:
        for line in e.errors:
            print(line, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
