#!/usr/bin/python3
"""Self-tests of tests/tools/policy_oracle.py, with hand-computed
expectations (the HMAC constants were computed with `openssl dgst -sha256
-mac HMAC`). Standard library only:

    /usr/bin/python3 tests/tools/test_policy_oracle.py [-v]
"""

import contextlib
import datetime as dt
import io
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import policy_oracle as po  # noqa: E402

ENTS = po.load_entities(po.DEFAULT_SCHEMAS)
SAMPLE = os.path.join(os.path.dirname(po.DEFAULT_SCHEMAS), "ops", "policy",
                      "city.policy")

HEX_A = "0123456789abcdef" * 4
HEX_B = "fedcba9876543210" * 4
HEX_C = "00112233445566778899aabbccddeeff" * 2
KEYS = {"a": bytes.fromhex(HEX_A), "b": bytes.fromhex(HEX_B),
        "c": bytes.fromhex(HEX_C)}
# openssl dgst -sha256 -mac HMAC -macopt hexkey:HEX_A, first 16 bytes
PSEUDO_A_123 = "7fdfaf9ab5e77fe664f84a12d559e007"   # person:P000000123
HASH_A_PHONE = "2d1d558ab4dde933ce947d66a40c4166"   # person.phone:13812345678
HASH_A_SKEY = "872fb488cd75d5c0ed13955711ec8374"    # person.sources.source_key:hjrk/R1
PSEUDO_A_009 = "d0470f3894fb22611e3bf0ebf01ea0e3"   # person:P000000009

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
UTC = dt.timezone.utc

HEAD = """\
subscriber.s.department=gongan
subscriber.s.role=test
subscriber.s.key=a
"""


def person(**kw):
    rec = {
        "person_id": "P000000123", "active": True,
        "id_number": "431302199001011234", "name": "张小红", "sex": "FEMALE",
        "birth_date": "1990-06-01", "phone": "13812345678",
        "address": "乐坪大道1号", "grid_code": "LP-DT-01",
        "sources": [{"department": "zongzhi", "source_key": "ZZ0001"},
                    {"department": "gongan", "source_key": "hjrk/R1"}],
        "provenance": [
            {"field": "name", "department": "gongan", "source_key": "hjrk/R1",
             "at": 1700000000000000},
            {"field": "phone", "department": "steward", "source_key": None,
             "at": None}],
        "absorbed_ids": ["P000000009"], "version": 3,
        "updated_at": "2026-01-02 03:04:05.123456+08",
    }
    rec.update(kw)
    return po.normalize_record(ENTS["person"], rec)


def policy(text, keys=KEYS, name="t.policy", env=None):
    return po.load_policy(name, ENTS, keys, env=env or {},
                          data=text.encode("utf-8"))


def errors_of(text, keys=KEYS, env=None):
    try:
        policy(text, keys, env=env)
    except po.PolicyError as e:
        return e.errors
    raise AssertionError("no error for:\n" + text)


def evaluate(text, rec=None, now=NOW, sub="s", tz=UTC):
    pol = policy(text)
    ev = po.Evaluator(pol, KEYS, now, tz)
    return ev.expected(sub, "person", rec or person())[0]


class Properties(unittest.TestCase):
    def test_syntax(self):
        data = (b"# comment\n! also a comment\n\n   \n"
                b"  a.b  =  value with # not a comment  \n"
                b"c=\n d = x=y\r\n")
        self.assertEqual(po.parse_properties("f", data, {}),
                         [(5, "a.b", "value with # not a comment"),
                          (6, "c", ""), (7, "d", "x=y")])

    def test_duplicate_key(self):
        with self.assertRaises(po.PolicyError) as cm:
            po.parse_properties("f.policy", b"a=1\nb=2\n a = 3\n", {})
        self.assertEqual(len(cm.exception.errors), 1)
        self.assertTrue(cm.exception.errors[0].startswith("f.policy:3: a: "))

    def test_env(self):
        self.assertEqual(po.parse_properties(
            "f", b"a=x${env:FOO}y${env:FOO}\n", {"FOO": "1"}),
            [(1, "a", "x1y1")])
        for data, msg in ((b"a=${env:NOPE}\n", "NOPE is not set"),
                          (b"a=${env:FOO\n", "unterminated"),
                          (b"a=${env:}\n", "bad variable name")):
            with self.assertRaises(po.PolicyError) as cm:
                po.parse_properties("f", data, {"FOO": "1"})
            self.assertIn("f:1: a: ", cm.exception.errors[0])
            self.assertIn(msg, cm.exception.errors[0])

    def test_bad_lines(self):
        with self.assertRaises(po.PolicyError) as cm:
            po.parse_properties("f", b"ok=1\nno equals\n=v\nx=\xff\n", {})
        e = cm.exception.errors
        self.assertEqual(len(e), 3)
        self.assertTrue(e[0].startswith("f:2: expected key=value"))
        self.assertTrue(e[1].startswith("f:3: empty key"))
        self.assertTrue(e[2].startswith("f:4: not valid UTF-8"))

    def test_version(self):
        data = (HEAD + "rows.s.person=all\n").encode()
        pol = po.load_policy("t", ENTS, None, {}, data)
        import hashlib
        self.assertEqual(pol.version, hashlib.sha256(data).hexdigest()[:16])
        self.assertEqual(len(pol.version), 16)


class KeyFile(unittest.TestCase):
    def write(self, text, mode=0o600):
        fd, p = tempfile.mkstemp()
        os.write(fd, text.encode())
        os.close(fd)
        os.chmod(p, mode)
        self.addCleanup(os.unlink, p)
        return p

    def test_ok(self):
        p = self.write("# keys\na=%s\nb = %s\n" % (HEX_A, HEX_B.upper()))
        self.assertEqual(po.load_keys(p), {"a": KEYS["a"], "b": KEYS["b"]})

    def test_errors(self):
        p = self.write("a=%s\nBad=%s\nc=abc\nd=%sz\ne=%s0\n" % (
            HEX_A, HEX_A, HEX_A, HEX_A))
        with self.assertRaises(po.PolicyError) as cm:
            po.load_keys(p)
        e = cm.exception.errors
        self.assertEqual(len(e), 4)
        self.assertTrue(e[0].startswith("%s:2: Bad: bad key name" % p))
        self.assertTrue(e[1].startswith("%s:3: c: the secret has 3" % p))
        self.assertTrue(e[2].startswith("%s:4: d: the secret must be hex" % p))
        self.assertTrue(e[3].startswith("%s:5: e: odd number" % p))

    def test_mode(self):
        p = self.write("a=%s\n" % HEX_A, 0o640)
        with self.assertRaises(po.PolicyError) as cm:
            po.load_keys(p)
        self.assertIn("readable by group or others", cm.exception.errors[0])
        self.assertEqual(po.load_keys(p, check_mode=False), {"a": KEYS["a"]})

    def test_policy_names_missing_key(self):
        e = errors_of(HEAD.replace("key=a", "key=zz"))
        self.assertEqual(e, ['t.policy:3: subscriber.s.key: no key "zz" in '
                             'the key file'])


class ParseErrors(unittest.TestCase):
    """Every rule kind: an error naming file:line and the key."""

    def one(self, extra, line, key, fragment, count=1):
        e = errors_of(HEAD + extra)
        self.assertEqual(len(e), count, e)
        self.assertTrue(e[0].startswith("t.policy:%d: %s: " % (line, key)), e)
        self.assertIn(fragment, e[0])

    def test_subscriber(self):
        self.one("subscriber.S1.role=x\n", 4, "subscriber.S1.role",
                 "bad subscriber name")
        self.one("subscriber.s.colour=x\n", 4, "subscriber.s.colour",
                 "unknown attribute")
        self.one("subscriber.s.x.department=a\n", 4,
                 "subscriber.s.x.department", "expected subscriber.")
        self.one("subscriber.t.role=x\nsubscriber.t.key=a\n", 4,
                 "subscriber.t",
                 "subscriber.t.department is required")
        e = errors_of("subscriber.s.department=Gong An\n")
        self.assertTrue(e[0].startswith("t.policy:1: subscriber.s.department:"
                                        " bad department name"), e)

    def test_unknown_key(self):
        self.one("colums.s.person=all\n", 4, "colums.s.person", "unknown key")

    def test_rows(self):
        self.one("rows.x.person=all\n", 4, "rows.x.person",
                 'unknown subscriber "x"')
        self.one("rows.s.persn=all\n", 4, "rows.s.persn",
                 'unknown entity "persn" (did you mean person?)')
        self.one("rows.s.person=grid_code under\n", 4, "rows.s.person",
                 "under takes a string")
        self.one("rows.s.person=birth_date < 15\n", 4, "rows.s.person",
                 "cannot compare text with number")
        self.one("rows.s.person=gird_code = 'LP'\n", 4, "rows.s.person",
                 'unknown field "gird_code" of entity person '
                 '(did you mean grid_code?)')
        self.one("rows.s.person=sex = 'FEMALE' AND all\n", 4, "rows.s.person",
                 "keywords are lower case: AND")
        self.one("rows.s.person=sources.department = 'x'\n", 4,
                 "rows.s.person", "cannot be used in a condition")
        self.one("rows.s.person=updated_at is null\n", 4, "rows.s.person",
                 "cannot be used in a condition")
        self.one("rows.s.person=age(name) > 3\n", 4, "rows.s.person",
                 "age(name): name is not a date")
        self.one("rows.s.person=(all\n", 4, "rows.s.person", 'expected ")"')
        self.one("rows.s.person=\n", 4, "rows.s.person", "empty condition")
        self.one("rows.s.person=name = 'x\n", 4, "rows.s.person",
                 "unterminated string")
        self.one("rows.s.person=version in (1, 'a')\n", 4, "rows.s.person",
                 "cannot compare number with text")
        self.one("rows.s.person=age(birth_date) between 1 or 2\n", 4,
                 "rows.s.person", '"and" in between')
        self.one("rows.s.person=all all\n", 4, "rows.s.person", "unexpected")
        self.one("rows.s.person=name\n", 4, "rows.s.person",
                 "expected a comparison")
        self.one("rows.s.person=held_by(gongan)\n", 4, "rows.s.person",
                 "held_by takes a department as a string")
        self.one("rows.*.person=all\n", 4, "rows.*.person",
                 'unknown subscriber "*"')

    def test_deny(self):
        self.one("deny.s.person=age(birth_date) < '14'\n", 4, "deny.s.person",
                 "cannot compare number with text")
        self.one("deny.*.person.phon=all\n", 4, "deny.*.person.phon",
                 'unknown field "phon" of entity person (did you mean phone?)')
        self.one("deny.s.person.phone=phone ~ 'x'\n", 4, "deny.s.person.phone",
                 "unexpected character")
        self.one("deny.q.person.phone=all\n", 4, "deny.q.person.phone",
                 'unknown subscriber "q"')

    def test_field(self):
        self.one("field.s.person.phon=clear\n", 4, "field.s.person.phon",
                 'unknown field "phon" of entity person (did you mean phone?)')
        self.one("field.s.person.sex=mask 1 1\n", 4, "field.s.person.sex",
                 "mask 1 1 does not apply to sex (enum)")
        self.one("field.s.person.birth_date=hash\n", 4,
                 "field.s.person.birth_date", "hash does not apply")
        self.one("field.s.person.phone=year\n", 4, "field.s.person.phone",
                 "year does not apply")
        self.one("field.s.person.name=own\n", 4, "field.s.person.name",
                 "own applies to arrays of records")
        self.one("field.s.person.absorbed_ids=own\n", 4,
                 "field.s.person.absorbed_ids", "own applies")
        self.one("field.s.person.sources.source_key=own\n", 4,
                 "field.s.person.sources.source_key", "own applies")
        self.one("field.s.person.absorbed_ids=mask 1 1\n", 4,
                 "field.s.person.absorbed_ids", "does not apply")
        self.one("field.s.person.phone=mask 3\n", 4, "field.s.person.phone",
                 "mask takes two counts")
        self.one("field.s.person.phone=mask 3 -1\n", 4,
                 "field.s.person.phone", "mask takes two counts")
        self.one("field.s.person.phone=clear 2\n", 4, "field.s.person.phone",
                 "clear takes no argument")
        self.one("field.s.person.phone=claer\n", 4, "field.s.person.phone",
                 'unknown action "claer" (did you mean clear?)')
        self.one("field.s.person.phone=CLEAR\n", 4, "field.s.person.phone",
                 "unknown action")
        self.one("field.s.person=clear\n", 4, "field.s.person",
                 "expected field.<subscriber>.<entity>.<field>")
        self.one("field.*.person.phone=clear\n", 4, "field.*.person.phone",
                 'unknown subscriber "*"')
        # one error per field it would cover: 11 of 19 are not strings
        self.one("field.s.person.*=mask 1 1\n", 4, "field.s.person.*",
                 "mask 1 1 does not apply to sex (enum)", 11)

    def test_star_respects_own_lines(self):
        # *=hash would not apply to sex, birth_date, the attributes that
        # are not text, family_planning, sources, provenance, version,
        # updated_at: lines of their own make it valid.
        policy(HEAD + "field.s.person.*=hash\n"
               "field.s.person.sex=clear\nfield.s.person.birth_date=year\n"
               "field.s.person.registration_valid_until=year\n"
               "field.s.person.party_member=clear\n"
               "field.s.person.volunteer=drop\n"
               "field.s.person.family_planning=own\n"
               "field.s.person.sources=own\nfield.s.person.provenance=drop\n"
               "field.s.person.version=drop\nfield.s.person.updated_at=drop\n")

    def test_grant(self):
        g = ("grant.g.subscriber=s\ngrant.g.entity=person\n"
             "grant.g.fields=phone\ngrant.g.purpose=p\n"
             "grant.g.until=2030-01-01T00:00:00Z\n")
        policy(HEAD + g)
        self.one(g.replace("grant.g.until=2030-01-01T00:00:00Z\n", ""), 4,
                 "grant.g", "grant.g.until is required")
        self.one(g.replace("grant.g.purpose=p\n", ""), 4, "grant.g",
                 "grant.g.purpose is required")
        self.one(g.replace("00:00:00Z", "00:00:00"), 8, "grant.g.until",
                 "bad time")
        self.one(g.replace("2030-01-01T00:00:00Z", "2030-01-01"), 8,
                 "grant.g.until", "bad time")
        self.one(g + "grant.g.from=2030-01-01T08:00:00+08:00\n", 8,
                 "grant.g.until", "never be active")
        self.one(g.replace("subscriber=s", "subscriber=x"), 4,
                 "grant.g.subscriber", 'unknown subscriber "x"')
        self.one(g.replace("entity=person", "entity=house"), 5,
                 "grant.g.entity", 'unknown entity "house"')
        self.one(g.replace("fields=phone", "fields=phone, phon"), 6,
                 "grant.g.fields", 'unknown field "phon"')
        self.one(g.replace("fields=phone", "fields=phone,,name"), 6,
                 "grant.g.fields", "empty field name")
        self.one(g + "grant.g.action=year\n", 6, "grant.g.fields",
                 "year does not apply to phone")
        self.one(g + "grant.g.action=show\n", 9, "grant.g.action",
                 'unknown action "show"')
        self.one(g + "grant.g.rows=grid_code under LP\n", 9, "grant.g.rows",
                 "under takes a string")
        self.one(g + "grant.g.reason=x\n", 9, "grant.g.reason",
                 "unknown attribute")
        self.one(g.replace("grant.g.", "grant.G."), 4, "grant.G.subscriber",
                 "bad grant name", 5)  # one per line

    def test_type_conflict(self):
        g = ("grant.g.subscriber=s\ngrant.g.entity=person\n"
             "grant.g.fields=birth_date\ngrant.g.purpose=p\ngrant.g.action=year\n"
             "grant.g.until=2030-01-01T00:00:00Z\n")
        e = errors_of(HEAD + "field.s.person.birth_date=clear\n" + g)
        self.assertEqual(len(e), 1, e)
        self.assertTrue(e[0].startswith("t.policy:9: grant g: "), e)
        self.assertIn("different type", e[0])
        # drop does not count; year against year is fine
        policy(HEAD + g)
        policy(HEAD + "field.s.person.birth_date=year\n" + g)
        # a sub-field inherits its array's clear: a grant of year conflicts
        e = errors_of(HEAD + "field.s.person.provenance=clear\n" + g.replace(
            "birth_date", "provenance.at"))
        self.assertIn("provenance.at of s would have a different type", e[0])

    def test_errors_are_all_reported(self):
        e = errors_of(HEAD + "rows.s.person=x = 1\nfield.s.person.a=clear\n"
                      "field.s.person.phone=hash 1\n")
        self.assertEqual([x.split(":")[1] for x in e], ["4", "5", "6"])


class Conditions(unittest.TestCase):
    def ev(self, cond, today=dt.date(2026, 6, 1), dept="gongan", **kw):
        ast, _ = po.parse_condition(cond, ENTS["person"])
        return po.eval_cond(ast, po.Ctx(person(**kw), dept, today))

    def test_comparisons(self):
        self.assertIs(self.ev("name = '张小红'"), True)
        self.assertIs(self.ev("name != '张小红'"), False)
        self.assertIs(self.ev("sex = 'FEMALE'"), True)
        self.assertIs(self.ev("birth_date < '1990-06-02'"), True)
        self.assertIs(self.ev("birth_date >= '1990-06-02'"), False)
        self.assertIs(self.ev("version > 2 and version <= 3"), True)
        self.assertIs(self.ev("3 = version"), True)
        self.assertIs(self.ev("'a' < 'b'"), True)
        # bytes: 'Z' (0x5a) < 'a' (0x61) < '张' (0xe5...)
        self.assertIs(self.ev("'Z' < 'a' and 'a' < '张'"), True)
        self.assertIs(self.ev("phone = id_number"), False)
        self.assertIs(self.ev("name = 'it''s'", name="it's"), True)
        self.assertIs(self.ev("-1 < version"), True)

    def test_in_between(self):
        self.assertIs(self.ev("grid_code in ('LP-DT-01', 'LP-TJ')"), True)
        self.assertIs(self.ev("grid_code in ('LP-DT')"), False)
        self.assertIs(self.ev("version between 3 and 5"), True)
        self.assertIs(self.ev("version between 1 and 3"), True)
        self.assertIs(self.ev("version between 4 and 5"), False)
        self.assertIs(self.ev("version between 5 and 1"), False)

    def test_under(self):
        self.assertIs(self.ev("grid_code under 'LP'"), True)
        self.assertIs(self.ev("grid_code under 'LP-DT'"), True)
        self.assertIs(self.ev("grid_code under 'LP-DT-01'"), True)
        self.assertIs(self.ev("grid_code under 'LP-D'"), False)
        self.assertIs(self.ev("grid_code under 'LP-DT-0'"), False)
        self.assertIs(self.ev("grid_code under 'LP-DT'", grid_code="LP-DTX"),
                      False)
        self.assertIs(self.ev("grid_code under 'LP-DT'", grid_code="LP-DT"),
                      True)
        self.assertIsNone(self.ev("grid_code under 'LP'", grid_code=None))

    def test_departments(self):
        self.assertIs(self.ev("own_department"), True)
        self.assertIs(self.ev("own_department", dept="jisheng"), False)
        self.assertIs(self.ev("held_by('zongzhi')"), True)
        self.assertIs(self.ev("held_by('zuzhi')"), False)
        self.assertIs(self.ev("own_department", sources=[]), False)

    def test_three_valued(self):
        n = dict(phone=None)
        self.assertIsNone(self.ev("phone = '1'", **n))
        self.assertIsNone(self.ev("phone != '1'", **n))
        self.assertIsNone(self.ev("not phone = '1'", **n))
        self.assertIs(self.ev("none and phone = '1'", **n), False)
        self.assertIs(self.ev("phone = '1' and none", **n), False)
        self.assertIsNone(self.ev("all and phone = '1'", **n))
        self.assertIs(self.ev("all or phone = '1'", **n), True)
        self.assertIs(self.ev("phone = '1' or all", **n), True)
        self.assertIsNone(self.ev("none or phone = '1'", **n))
        self.assertIsNone(self.ev("phone in ('1', '2')", **n))
        self.assertIsNone(self.ev("age(birth_date) between 1 and 200",
                                  birth_date=None))
        self.assertIsNone(self.ev("year(birth_date) = 1990", birth_date=None))
        self.assertIs(self.ev("phone is null", **n), True)
        self.assertIs(self.ev("phone is not null", **n), False)
        self.assertIs(self.ev("not (phone is null)", **n), False)
        self.assertIs(self.ev("not not all"), True)
        # precedence: not > and > or
        self.assertIs(self.ev("all or none and none"), True)
        self.assertIs(self.ev("(all or none) and none"), False)
        self.assertIs(self.ev("not none and none"), False)

    def test_age(self):
        b = dict(birth_date="2000-06-01")
        self.assertEqual(self.ev("age(birth_date) = 26", **b), True)
        self.assertEqual(self.ev("age(birth_date) = 25", today=dt.date(
            2026, 5, 31), **b), True)
        self.assertEqual(self.ev("year(birth_date) = 2000", **b), True)
        leap = dict(birth_date="2004-02-29")
        self.assertIs(self.ev("age(birth_date) = 21", today=dt.date(
            2026, 2, 28), **leap), True)
        self.assertIs(self.ev("age(birth_date) = 22", today=dt.date(
            2026, 3, 1), **leap), True)
        self.assertIs(self.ev("age(birth_date) = 24", today=dt.date(
            2028, 2, 29), **leap), True)

    def test_age_uses_local_date(self):
        text = HEAD + "rows.s.person=age(birth_date) >= 18\n" \
            "field.s.person.name=clear\n"
        rec = person(birth_date="2008-06-02")
        sh = dt.timezone(dt.timedelta(hours=8))
        # 2026-06-01T16:30Z is 2026-06-02 00:30 in Shanghai: 18 there
        at = dt.datetime(2026, 6, 1, 16, 30, tzinfo=UTC)
        self.assertIsNotNone(evaluate(text, rec, at, tz=sh))
        self.assertIsNone(evaluate(text, rec, at, tz=UTC))
        at = dt.datetime(2026, 6, 1, 15, 59, 59, tzinfo=UTC)
        self.assertIsNone(evaluate(text, rec, at, tz=sh))

    def test_constant(self):
        for c, const in (("all", True), ("none", True), ("1 = 1", True),
                         ("own_department", False), ("name is null", False),
                         ("held_by('x')", False)):
            self.assertEqual(po.parse_condition(c, ENTS["person"])[1], const, c)


class Actions(unittest.TestCase):
    def test_mask(self):
        self.assertEqual(po.mask("13812345678", 3, 4), "138****5678")
        self.assertEqual(po.mask("1234567", 3, 4), "*******")
        self.assertEqual(po.mask("12345678", 3, 4), "123*5678")
        self.assertEqual(po.mask("张小红", 1, 0), "张**")
        self.assertEqual(po.mask("张小红", 1, 1), "张*红")
        self.assertEqual(po.mask("张小", 1, 1), "**")
        self.assertEqual(po.mask("abc", 0, 0), "***")
        self.assertEqual(po.mask("", 0, 0), "")
        self.assertEqual(po.mask("😀ab😀", 1, 1), "😀**😀")

    def test_pseudonym_and_hash(self):
        self.assertEqual(po.pseudonym(KEYS["a"], "person", "P000000123"),
                         PSEUDO_A_123)
        self.assertEqual(po.hmac16(KEYS["a"], "person.phone:13812345678"),
                         HASH_A_PHONE)

    def test_every_action(self):
        text = HEAD + """rows.s.person=all
field.s.person.person_id=hash
field.s.person.id_number=mask 6 4
field.s.person.name=clear
field.s.person.sex=drop
field.s.person.birth_date=year
field.s.person.phone=hash
field.s.person.grid_code=clear
field.s.person.sources=own
field.s.person.sources.source_key=hash
field.s.person.provenance=clear
field.s.person.provenance.at=year
field.s.person.absorbed_ids=hash
field.s.person.updated_at=year
"""
        got = evaluate(text)
        self.assertEqual(list(got.items()), [
            ("person_id", PSEUDO_A_123),
            ("id_number", "431302********1234"),
            ("name", "张小红"),
            ("birth_date", 1990),
            ("phone", HASH_A_PHONE),
            ("grid_code", "LP-DT-01"),
            ("sources", [{"department": "gongan", "source_key": HASH_A_SKEY}]),
            ("provenance", [
                {"field": "name", "department": "gongan",
                 "source_key": "hjrk/R1", "at": 2023},
                {"field": "phone", "department": "steward",
                 "source_key": None, "at": None}]),
            ("absorbed_ids", [PSEUDO_A_009]),
            # 2026-01-02 03:04:05+08 is 2026-01-01 19:04:05 UTC
            ("updated_at", 2026),
        ])

    def test_timestamp_year_is_utc(self):
        text = HEAD + "rows.s.person=all\nfield.s.person.updated_at=year\n"
        got = evaluate(text, person(updated_at="2026-01-01 07:00:00+08"))
        self.assertEqual(got["updated_at"], 2025)
        got = evaluate(text, person(updated_at="2025-12-31T20:00:00-05:00"))
        self.assertEqual(got["updated_at"], 2026)

    def test_clear_values_and_nulls(self):
        text = HEAD + "rows.s.person=all\nfield.s.person.*=clear\n"
        got = evaluate(text, person(phone=None, birth_date=None, sex="X"))
        self.assertEqual(got["person_id"], "P000000123")
        self.assertIsNone(got["phone"])
        self.assertIsNone(got["birth_date"])
        self.assertIsNone(got["sex"])  # not a symbol of the enum
        self.assertEqual(got["updated_at"], 1767294245123456)
        self.assertEqual(got["absorbed_ids"], ["P000000009"])
        self.assertEqual(got["provenance"][0]["at"], 1700000000000000)
        text = HEAD + "rows.s.person=all\nfield.s.person.phone=mask 1 1\n" \
            "field.s.person.id_number=hash\nfield.s.person.birth_date=year\n"
        got = evaluate(text, person(phone=None, id_number=None,
                                    birth_date=None))
        self.assertEqual(dict(got), {"phone": None, "id_number": None,
                                     "birth_date": None})

    def test_default_deny(self):
        text = HEAD + "rows.s.person=all\n"
        self.assertEqual(dict(evaluate(text)), {})
        self.assertIsNone(evaluate(HEAD + "field.s.person.name=clear\n"))

    def test_star_and_subfields(self):
        text = HEAD + """rows.s.person=all
field.s.person.*=clear
field.s.person.person_id=drop
field.s.person.sources.source_key=drop
field.s.person.provenance=drop
field.s.person.provenance.field=clear
"""
        got = evaluate(text)
        self.assertNotIn("person_id", got)
        self.assertNotIn("provenance", got)  # its sub-field line is moot
        self.assertEqual(got["sources"], [{"department": "zongzhi"},
                                          {"department": "gongan"}])
        self.assertEqual(got["phone"], "13812345678")

    def test_deny_field(self):
        text = HEAD + """rows.s.person=all
field.s.person.*=clear
deny.s.person.address=all
deny.*.person.phone=grid_code under 'LP-DT'
deny.*.person.sources.source_key=held_by('zongzhi')
deny.s.person.name=phone is null
"""
        pol = policy(text)
        ev = po.Evaluator(pol, KEYS, NOW, UTC)
        plan = ev.plan("s", "person")
        self.assertNotIn("address", plan)
        self.assertIn("phone", plan)
        self.assertEqual(plan["sources"], ["department", "source_key"])
        got, kinds = ev.expected("s", "person", person())
        self.assertIsNone(got["phone"])
        self.assertEqual(kinds["phone"], "withheld")
        self.assertEqual(got["sources"], [
            {"department": "zongzhi", "source_key": None},
            {"department": "gongan", "source_key": None}])
        self.assertEqual(got["name"], "张小红")   # phone is null: unknown
        got, _ = ev.expected("s", "person", person(
            grid_code="LP-TJ-01", sources=[{"department": "gongan",
                                            "source_key": "k"}]))
        self.assertEqual(got["phone"], "13812345678")
        self.assertEqual(got["sources"], [{"department": "gongan",
                                           "source_key": "k"}])
        got, _ = ev.expected("s", "person", person(phone=None))
        self.assertIsNone(got["name"])
        # a deny on null (unknown) does not apply
        got, _ = ev.expected("s", "person", person(grid_code=None))
        self.assertEqual(got["phone"], "13812345678")


class Rows(unittest.TestCase):
    def test_rows_and_denies(self):
        base = HEAD + "field.s.person.name=clear\n"
        self.assertIsNone(evaluate(base))  # no rows line
        self.assertIsNotNone(evaluate(base + "rows.s.person=all\n"))
        self.assertIsNone(evaluate(base + "rows.s.person=none\n"))
        self.assertIsNone(evaluate(base + "rows.s.person=phone = 'x'\n",
                                   person(phone=None)))  # unknown
        self.assertIsNone(evaluate(base + "rows.s.person=all\n"
                                   "deny.s.person=sex = 'FEMALE'\n"))
        self.assertIsNone(evaluate(base + "rows.s.person=all\n"
                                   "deny.*.person=own_department\n"))
        # a deny that is unknown does not apply
        self.assertIsNotNone(evaluate(base + "rows.s.person=all\n"
                                      "deny.*.person=phone = 'x'\n",
                                      person(phone=None)))
        self.assertIsNone(evaluate(base + "rows.s.person=all\n",
                                   person(active=False)))

    def test_women_15_49(self):
        text = HEAD + "rows.s.person=sex = 'FEMALE' and age(birth_date) " \
            "between 15 and 49\nfield.s.person.name=clear\n"
        cases = [("2011-06-01", True), ("2011-06-02", False),
                 ("1976-06-02", True), ("1976-06-01", False)]
        for b, inside in cases:
            got = evaluate(text, person(birth_date=b))
            self.assertEqual(got is not None, inside, b)
        self.assertIsNone(evaluate(text, person(sex="MALE")))
        self.assertIsNone(evaluate(text, person(sex=None)))
        self.assertIsNone(evaluate(text, person(birth_date=None)))


class Grants(unittest.TestCase):
    TEXT = HEAD + """rows.s.person=grid_code under 'LP'
field.s.person.phone=mask 3 4
grant.g.subscriber=s
grant.g.entity=person
grant.g.fields=phone,address
grant.g.rows=grid_code under 'LP-DT'
grant.g.purpose=epidemic
grant.g.from=2026-06-01T08:00:00+08:00
grant.g.until=2026-06-02T00:00:00Z
"""

    def at(self, now, rec=None, text=None):
        return evaluate(text or self.TEXT, rec, now)

    def test_window(self):
        got = self.at(NOW)
        self.assertEqual((got["phone"], got["address"]),
                         ("13812345678", "乐坪大道1号"))
        # from is inclusive: 2026-06-01T00:00:00Z
        got = self.at(dt.datetime(2026, 6, 1, tzinfo=UTC))
        self.assertEqual(got["phone"], "13812345678")
        got = self.at(dt.datetime(2026, 5, 31, 23, 59, 59, tzinfo=UTC))
        self.assertEqual(dict(got), {"phone": "138****5678"})
        # until is exclusive: lapsed
        got = self.at(dt.datetime(2026, 6, 2, tzinfo=UTC))
        self.assertEqual(dict(got), {"phone": "138****5678"})

    def test_rows_of_grant(self):
        got = self.at(NOW, person(grid_code="LP-TJ-01"))
        self.assertEqual(dict(got), {"phone": "138****5678", "address": None})
        # never widens the row scope
        self.assertIsNone(self.at(NOW, person(grid_code="CQ-XX-01")))
        self.assertIsNone(self.at(NOW, person(grid_code=None)))

    def test_deny_wins_over_grant(self):
        text = self.TEXT + "deny.*.person.phone=version = 3\n"
        got = self.at(NOW, text=text)
        self.assertIsNone(got["phone"])
        self.assertEqual(got["address"], "乐坪大道1号")
        got = self.at(NOW, person(version=4), text=text)
        self.assertEqual(got["phone"], "13812345678")

    def test_schema_follows_active_grants(self):
        pol = policy(self.TEXT)
        for now, fields in ((NOW, ["phone", "address"]),
                            (dt.datetime(2027, 1, 1, tzinfo=UTC), ["phone"])):
            ev = po.Evaluator(pol, KEYS, now, UTC)
            self.assertEqual(list(ev.plan("s", "person")), fields)
            self.assertEqual(list(ev.plan("s", "person", True)),
                             ["phone", "address"])

    def test_most_permissive(self):
        def g(name, field, action, rows="all"):
            return ("grant.%s.subscriber=s\ngrant.%s.entity=person\n"
                    "grant.%s.fields=%s\ngrant.%s.action=%s\n"
                    "grant.%s.rows=%s\ngrant.%s.purpose=p\n"
                    "grant.%s.until=2030-01-01T00:00:00Z\n" % (
                        name, name, name, field, name, action, name, rows,
                        name, name))
        base = HEAD + "rows.s.person=all\n"
        # clear > mask > hash > drop
        t = base + "field.s.person.phone=hash\n" + g("a", "phone", "mask 3 4")
        self.assertEqual(evaluate(t)["phone"], "138****5678")
        t += g("b", "phone", "clear")
        self.assertEqual(evaluate(t)["phone"], "13812345678")
        # year > hash: not comparable on one field (types); year > drop
        t = base + g("a", "birth_date", "year")
        self.assertEqual(evaluate(t)["birth_date"], 1990)
        # clear > own
        t = base + "field.s.person.sources=own\n" + g("a", "sources", "clear")
        self.assertEqual(len(evaluate(t)["sources"]), 2)
        # own > drop, sub-fields inherit the winner
        t = base + g("a", "sources", "own")
        self.assertEqual(evaluate(t)["sources"],
                         [{"department": "gongan", "source_key": "hjrk/R1"}])
        # the larger first+last wins, whatever the value's length
        t = base + "field.s.person.phone=mask 3 4\n" + g("a", "phone",
                                                         "mask 5 4")
        self.assertEqual(evaluate(t)["phone"], "13812**5678")
        self.assertEqual(evaluate(t, person(phone="123456789"))["phone"],
                         "*********")  # mask 5 4 wins and keeps nothing
        t = base + "field.s.person.phone=mask 2 4\n" + g("a", "phone",
                                                         "mask 4 2")
        self.assertEqual(evaluate(t)["phone"], "1381*****78")
        # hash > drop, on the key field it is the pseudonym
        t = base + g("a", "person_id", "hash")
        self.assertEqual(evaluate(t)["person_id"], PSEUDO_A_123)
        # a grant whose rows are unknown does not cover the record
        t = base + "field.s.person.phone=hash\n" + g(
            "a", "phone", "clear", "grid_code = 'x'")
        self.assertEqual(evaluate(t, person(grid_code=None))["phone"],
                         HASH_A_PHONE)
        # a grant on a sub-field
        t = base + "field.s.person.sources=clear\n" \
            "field.s.person.sources.source_key=drop\n" + g(
                "a", "sources.source_key", "hash", "own_department")
        self.assertEqual(evaluate(t)["sources"][1]["source_key"], HASH_A_SKEY)
        self.assertEqual(evaluate(t, person(sources=[
            {"department": "x", "source_key": "k"}]))["sources"],
            [{"department": "x", "source_key": None}])


class Sample(unittest.TestCase):
    """ops/policy/city.policy loads, and gives each subscriber what the
    comments say."""

    def setUp(self):
        keys = {k: KEYS["a"] for k in ("gongan", "jisheng", "zongzhi")}
        keys["chuangwen"] = KEYS["b"]
        with open(SAMPLE, "rb") as f:
            self.pol = po.load_policy("city.policy", ENTS, keys, {}, f.read())
        self.ev = po.Evaluator(self.pol, keys, NOW, UTC)

    def exp(self, sub, **kw):
        return self.ev.expected(sub, "person", person(**kw))[0]

    def test_subscribers(self):
        self.assertGreaterEqual(set(self.pol.subscribers),
                                {"gongan", "chuangwen", "jisheng"})
        self.assertEqual(len(self.pol.grants), 1)
        g = self.pol.grants["epidemic_dt"]
        self.assertGreater(g.until, dt.datetime(2090, 1, 1, tzinfo=UTC))

    def test_gongan(self):
        got = self.exp("gongan")
        self.assertEqual(got["person_id"], PSEUDO_A_123)
        for f in ("id_number", "name", "phone", "address", "grid_code"):
            self.assertEqual(got[f], person()[f])
        self.assertEqual(len(got["sources"]), 2)
        self.assertNotIn("provenance", got)

    def test_chuangwen(self):
        got = self.exp("chuangwen", grid_code="LP-TJ-02")
        self.assertEqual(got["phone"], "138****5678")
        self.assertEqual(got["id_number"], "431302********1234")
        self.assertEqual(got["birth_date"], 1990)
        self.assertNotIn("address", got)
        self.assertEqual(got["sources"], [])
        got = self.exp("chuangwen", sources=[
            {"department": "chuangwen", "source_key": "7"}])
        self.assertEqual(got["sources"], [{"department": "chuangwen"}])
        self.assertEqual(got["phone"], "13812345678")   # the grant
        self.assertIsNone(self.exp("chuangwen", grid_code="CQ-JS-01"))
        self.assertIsNone(self.exp("chuangwen", birth_date="2012-06-02"))
        self.assertIsNotNone(self.exp("chuangwen", birth_date="2012-06-01"))
        self.assertIsNotNone(self.exp("chuangwen", birth_date=None))

    def test_jisheng(self):
        got = self.exp("jisheng")
        self.assertEqual(got["phone"], HASH_A_PHONE)
        self.assertEqual(got["id_number"], person()["id_number"])
        self.assertEqual(got["sources"], [])
        self.assertIsNone(self.exp("jisheng", sex="MALE"))
        self.assertIsNone(self.exp("jisheng", birth_date="1976-06-01"))

    def test_pseudonyms_differ(self):
        self.assertNotEqual(self.ev.pseudonym("gongan", "person", "P1"),
                            self.ev.pseudonym("chuangwen", "person", "P1"))


# ---------------------------------------------------------------------------
# The checker, end to end through the CLI


CHECK_POLICY = """\
subscriber.s.department=gongan
subscriber.s.role=test
subscriber.s.key=a
subscriber.t.department=jisheng
subscriber.t.role=test
subscriber.t.key=b
rows.s.person=grid_code under 'LP'
field.s.person.person_id=hash
field.s.person.name=clear
field.s.person.phone=mask 3 4
field.s.person.birth_date=clear
field.s.person.updated_at=clear
field.s.person.sources=own
field.s.person.sources.source_key=drop
rows.t.person=all
field.t.person.name=clear
"""


class Check(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        d = self.dir.name
        self.policy = os.path.join(d, "p.policy")
        with open(self.policy, "w") as f:
            f.write(CHECK_POLICY)
        self.keys = os.path.join(d, "k")
        with open(self.keys, "w") as f:
            f.write("a=%s\nb=%s\n" % (HEX_A, HEX_B))
        os.chmod(self.keys, 0o600)
        self.persons = [
            {"person_id": "P000000123", "active": True, "name": "张小红",
             "phone": "13812345678", "birth_date": "1990-06-01",
             "grid_code": "LP-DT-01", "version": 1,
             "updated_at": "2026-01-02T03:04:05.5+08:00",
             "sources": [{"department": "gongan", "source_key": "k1"},
                         {"department": "zuzhi", "source_key": "k2"}]},
            {"person_id": "P000000124", "active": True, "name": "李四",
             "grid_code": "CQ-JS-01", "version": 1, "sources": [],
             "updated_at": "2026-01-02 00:00:00+00"},
            {"person_id": "P000000125", "active": False, "name": "王五",
             "grid_code": "LP-DT-01", "version": 2, "sources": [],
             "updated_at": "2026-01-02 00:00:00+00"},
        ]
        pa = lambda i: po.pseudonym(KEYS["a"], "person", i)
        pb = lambda i: po.pseudonym(KEYS["b"], "person", i)
        self.good_s = {
            "person_id": pa("P000000123"), "name": "张小红",
            "phone": "138****5678", "birth_date": "1990-06-01",
            "updated_at": "2026-01-01T19:04:05.500000Z",
            "sources": [{"department": "gongan"}]}
        self.msgs = [
            {"topic": "hub.view.s.person", "partition": 0, "offset": 0,
             "key": pa("P000000125"), "value": {"person_id": pa("P000000125"),
                                                "name": "王五", "phone": None,
                                                "birth_date": None,
                                                "updated_at": 0,
                                                "sources": []}},
            {"topic": "hub.view.s.person", "partition": 0, "offset": 1,
             "key": pa("P000000125"), "value": None},
            {"topic": "hub.view.s.person", "partition": 1, "offset": 0,
             "key": pa("P000000123"), "value": self.good_s,
             "schema": {"type": "record", "name": "Person", "fields": [
                 {"name": "person_id", "type": "string"},
                 {"name": "name", "type": ["null", "string"]},
                 {"name": "phone", "type": ["null", "string"]},
                 {"name": "birth_date", "type": ["null", {
                     "type": "int", "logicalType": "date"}]},
                 {"name": "updated_at", "type": {
                     "type": "long", "logicalType": "timestamp-micros"}},
                 {"name": "sources", "type": {"type": "array", "items": {
                     "type": "record", "name": "S", "fields": [
                         {"name": "department", "type": "string"}]}}}]}},
            {"topic": "hub.view.t.person", "partition": 0, "offset": 0,
             "key": pb("P000000123"), "value": {"name": "张小红"}},
            {"topic": "hub.view.t.person", "partition": 0, "offset": 1,
             "key": pb("P000000124"), "value": {"name": "李四"}},
        ]

    def run_check(self, msgs=None, persons=None, extra=()):
        d = self.dir.name
        pp, mp = os.path.join(d, "persons.jsonl"), os.path.join(d, "m.jsonl")
        with open(pp, "w") as f:
            for p in persons or self.persons:
                f.write(json.dumps(p, ensure_ascii=False) + "\n")
        with open(mp, "w") as f:
            for m in msgs if msgs is not None else self.msgs:
                f.write(json.dumps(m, ensure_ascii=False) + "\n")
        out = io.StringIO()
        with contextlib.redirect_stdout(out), \
                contextlib.redirect_stderr(out):
            rc = po.main(["check", "--policy", self.policy, "--keys",
                          self.keys, "--persons", pp, "--messages", mp,
                          "--now", "2026-06-01T12:00:00Z", "--tz", "UTC"]
                         + list(extra))
        return rc, out.getvalue()

    def test_clean(self):
        rc, out = self.run_check()
        self.assertEqual(rc, 0, out)
        self.assertIn("0 violations", out)

    def test_avro_json_and_days(self):
        m = json.loads(json.dumps(self.msgs))
        v = m[2]["value"]
        v["birth_date"] = {"int": 7456}   # 1990-06-01 as days
        v["phone"] = {"string": "138****5678"}
        v["updated_at"] = 1767294245500000
        rc, out = self.run_check(m)
        self.assertEqual(rc, 0, out)

    def violations(self, msgs=None, persons=None):
        rc, out = self.run_check(msgs, persons)
        self.assertEqual(rc, 1, out)
        return [l for l in out.splitlines() if l.startswith("VIOLATION")]

    def test_mask_wrong(self):
        m = json.loads(json.dumps(self.msgs))
        m[2]["value"]["phone"] = "138*****678"
        v = self.violations(m)
        self.assertEqual(len(v), 1, v)
        self.assertIn("VIOLATION mask subscriber=s", v[0])
        self.assertIn('field=phone expected="138****5678" got="138*****678"',
                      v[0])
        self.assertIn("person=P000000123", v[0])

    def test_extra_field(self):
        m = json.loads(json.dumps(self.msgs))
        m[0]["value"]["address"] = "x"
        m[2]["schema"]["fields"].append({"name": "id_number", "type": "string"})
        m[2]["value"]["sources"][0]["source_key"] = "k1"
        v = self.violations(m)
        kinds = sorted(x.split()[1] + ":" + [p for p in x.split()
                                             if p.startswith("field=")][0]
                       for x in v)
        self.assertEqual(kinds, [
            "extra-field:field=address",
            "extra-field:field=sources.source_key",
            "extra-field:field=sources[0].source_key",
            "schema-field:field=id_number"])

    def test_old_policy_allows_the_history_only(self):
        # An address in an earlier message of a record that is tombstoned
        # afterwards: a violation under this policy alone, fine when an
        # earlier policy allowed addresses; a final record still answers to
        # the current policy.
        m = json.loads(json.dumps(self.msgs))
        m[0]["value"]["address"] = "x"
        self.assertEqual(len(self.violations(m)), 1)
        old = os.path.join(self.dir.name, "old.policy")
        with open(self.policy) as f, open(old, "w") as g:
            g.write(f.read() + "field.s.person.address=clear\n")
        rc, out = self.run_check(m, extra=["--old-policy", old])
        self.assertEqual(rc, 0, out)
        m[2]["value"]["address"] = "x"
        rc, out = self.run_check(m, extra=["--old-policy", old])
        self.assertEqual(rc, 1, out)
        self.assertIn("final record has a field", out)

    def test_raw_key_and_missing(self):
        m = json.loads(json.dumps(self.msgs))
        m[2]["key"] = "P000000123"
        v = self.violations(m)
        self.assertTrue(any(x.startswith("VIOLATION key subscriber=s "
                                         "key=P000000123") for x in v), v)
        self.assertTrue(any("missing-key" in x and "person=P000000123" in x
                            for x in v), v)
        self.assertTrue(any("extra-key" in x for x in v), v)
        # a hashed key field must equal the key
        self.assertTrue(any(x.startswith("VIOLATION value") and
                            "field=person_id" in x for x in v), v)

    def test_tombstone_missing_and_out_of_view(self):
        m = json.loads(json.dumps(self.msgs))
        del m[1]
        pa = po.pseudonym(KEYS["a"], "person", "P000000124")
        m.append({"topic": "hub.view.s.person", "partition": 0, "offset": 2,
                  "key": pa, "value": {"name": "李四"}})
        v = self.violations(m)
        self.assertEqual(len(v), 2, v)
        self.assertTrue(any("person=P000000125" in x and "retired" in x
                            for x in v), v)
        self.assertTrue(any("person=P000000124" in x and "not in the "
                            "subscriber's view" in x for x in v), v)

    def test_shared_secret(self):
        with open(self.keys, "w") as f:
            f.write("a=%s\nb=%s\n" % (HEX_A, HEX_A))
        m = json.loads(json.dumps(self.msgs))
        pa = lambda i: po.pseudonym(KEYS["a"], "person", i)
        m[3]["key"], m[4]["key"] = pa("P000000123"), pa("P000000124")
        v = self.violations(m)
        self.assertTrue(all(x.startswith("VIOLATION cross") for x in v), v)
        self.assertEqual(len(v), 4, v)  # 3 persons + 1 key in both topics

    def test_wrong_value_and_partition(self):
        m = json.loads(json.dumps(self.msgs))
        m[2]["value"]["birth_date"] = "1990-06-02"
        m.append(dict(m[2], partition=0, offset=9))
        v = self.violations(m)
        self.assertEqual(len(v), 2, v)
        self.assertTrue(any("seen in partitions" in x for x in v), v)
        self.assertTrue(any('field=birth_date expected="1990-06-01" '
                            'got="1990-06-02"' in x for x in v), v)

    def test_rekey(self):
        old = os.path.join(self.dir.name, "old")
        with open(old, "w") as f:
            f.write("a=%s\nb=%s\n" % (HEX_C, HEX_B))
        os.chmod(old, 0o600)
        pc = lambda i: po.pseudonym(KEYS["c"], "person", i)
        m = [{"topic": "hub.view.s.person", "partition": 0, "offset": 0,
              "key": pc("P000000123"), "value": {"name": "张小红"}},
             {"topic": "hub.view.s.person", "partition": 0, "offset": 1,
              "key": pc("P000000124"), "value": {"name": "李四"}},
             {"topic": "hub.view.s.person", "partition": 0, "offset": 2,
              "key": pc("P000000123"), "value": None}] + self.msgs
        rc, out = self.run_check(m, extra=["--old-keys", old])
        self.assertEqual(rc, 1, out)
        v = [l for l in out.splitlines() if l.startswith("VIOLATION")]
        self.assertEqual(len(v), 1, v)
        self.assertIn("person=P000000124 (pseudonym under the former key: "
                      "tombstone missing)", v[0])
        rc, out = self.run_check(m[:1] + m[2:], extra=["--old-keys", old])
        self.assertEqual(rc, 0, out)
        rc, out = self.run_check(m[:1] + m[2:])   # without: unknown keys
        self.assertEqual(rc, 1, out)

    def test_resend_and_version(self):
        m = json.loads(json.dumps(self.msgs))
        m.insert(3, dict(m[2], offset=1))
        m[3]["value"] = dict(m[3]["value"])
        rc, out = self.run_check(m)
        self.assertEqual(rc, 0, out)
        self.assertIn("note: 1 messages repeat the previous message", out)
        rc, out = self.run_check(m, extra=["--strict-resend"])
        self.assertEqual(rc, 1, out)
        self.assertIn("VIOLATION resend subscriber=s", out)
        # versions must not go down
        m = json.loads(json.dumps(self.msgs))
        pb = po.pseudonym(KEYS["b"], "person", "P000000124")
        m.insert(3, {"topic": "hub.view.t.person", "partition": 0,
                     "offset": 5, "key": pb, "value": {"version": 7}})
        m.append({"topic": "hub.view.t.person", "partition": 0,
                  "offset": 6, "key": pb, "value": {"name": "李四",
                                                    "version": 6}})
        v = self.violations(m)
        self.assertTrue(any(x.startswith("VIOLATION version subscriber=t")
                            for x in v), v)

    def test_unknown_topic_subscriber(self):
        m = json.loads(json.dumps(self.msgs))
        m.append({"topic": "hub.view.x.person", "partition": 0, "offset": 0,
                  "key": "k", "value": None})
        v = self.violations(m)
        self.assertEqual(len(v), 1, v)
        self.assertIn("does not declare", v[0])

    def test_explain(self):
        d = self.dir.name
        pp = os.path.join(d, "persons.jsonl")
        with open(pp, "w") as f:
            for p in self.persons:
                f.write(json.dumps(p, ensure_ascii=False) + "\n")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = po.main(["explain", "--policy", self.policy, "--keys",
                          self.keys, "--persons", pp, "--person",
                          "P000000123", "--subscriber", "s", "--now",
                          "2026-06-01T12:00:00Z", "--tz", "UTC"])
        self.assertEqual(rc, 0)
        text = out.getvalue()
        self.assertIn("pseudonym: %s" % PSEUDO_A_123, text)
        self.assertIn('"phone": "138****5678"', text)
        self.assertIn("phone: mask 3 4 (field.s.person.phone, %s:10)"
                      % self.policy, text)

    def test_load_error_exit(self):
        with open(self.policy, "a") as f:
            f.write("field.s.person.phon=clear\n")
        rc, out = self.run_check()
        self.assertEqual(rc, 2)
        self.assertIn("p.policy:17: field.s.person.phon: unknown field", out)


class Avro(unittest.TestCase):
    def test_reader(self):
        # {"a": "hé", "b": null|long 3, "d": date 1, "e": [1, 2], "s": enum}
        schema = {"type": "record", "name": "R", "fields": [
            {"name": "a", "type": "string"},
            {"name": "b", "type": ["null", "long"]},
            {"name": "d", "type": {"type": "int", "logicalType": "date"}},
            {"name": "t", "type": {"type": "long",
                                   "logicalType": "timestamp-micros"}},
            {"name": "e", "type": {"type": "array", "items": "long"}},
            {"name": "s", "type": {"type": "enum", "name": "E",
                                   "symbols": ["X", "Y"]}}]}
        body = bytes([6]) + "hé".encode() + bytes([2, 6, 2, 2, 4, 2, 4, 0, 2])
        got = po.AvroReader(body).read(schema, {})
        self.assertEqual(dict(got), {"a": "hé", "b": 3, "d": "1970-01-02",
                                     "t": "1970-01-01T00:00:00.000001Z",
                                     "e": [1, 2], "s": "Y"})


class Messages(unittest.TestCase):
    def test_only_kept_topics_hold_values_and_schemas_are_shared(self):
        schema = {"type": "record", "name": "p", "fields": []}
        lines = [
            {"topic": "v.s.person", "partition": 0, "offset": 0, "key": "k1",
             "value": {"a": 1}, "schema": schema},
            {"topic": "v.s.grid", "partition": 0, "offset": 0, "key": "g1",
             "value": {"b": 2}, "schema": schema},
            {"topic": "v.s.person", "partition": 1, "offset": 0, "key": "k2",
             "value": {"a": 3}, "schema": dict(schema)},
        ]
        fd, p = tempfile.mkstemp()
        self.addCleanup(os.unlink, p)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for m in lines:
                f.write(json.dumps(m) + "\n\n")
        got = po.load_messages(p, lambda t: t.endswith(".person"))
        self.assertEqual([m["key"] for m in got], ["k1", "g1", "k2"])
        self.assertEqual([m["_line"] for m in got], [1, 3, 5])
        self.assertEqual(got[0]["value"], {"a": 1})
        self.assertNotIn("value", got[1])
        self.assertNotIn("schema", got[1])
        self.assertEqual(got[1]["topic"], "v.s.grid")
        self.assertIs(got[0]["schema"], got[2]["schema"])
        every = po.load_messages(p)
        self.assertEqual(every[1]["value"], {"b": 2})


if __name__ == "__main__":
    unittest.main()
