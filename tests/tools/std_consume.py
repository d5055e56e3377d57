#!/usr/bin/python3
"""Reads gridhub topics the way any consumer can: standard tools only.

Uses nothing of gridhub (no code, no schema files): only the Kafka client
(confluent_kafka) and the Apache Avro library (avro), as Debian ships them
(python3-confluent-kafka, python3-avro; run it with /usr/bin/python3).

1. Reads the whole schemas topic (default _gridhub_schemas): key = the
   CRC-64-AVRO fingerprint of the schema's Parsing Canonical Form as 16
   lowercase hex digits, value = the schema's JSON. Each record's key is
   checked against the fingerprint computed here from the value (with the
   avro library's canonical form, corrected for one bug of avro 1.11.1,
   see canonical_form()); a record whose key does not match is skipped
   with a warning on stderr.
2. Reads each given topic from its beginning to its end (the high
   watermarks when reading starts) and prints one JSON line per message:
   {"topic", "partition", "offset", "key", "value"}, the value decoded with
   avro.io.DatumReader and the writer schema:
     - single-object encoding: C3 01, 8-byte little-endian fingerprint, body;
     - Confluent framing: 00, 4-byte big-endian registry id, body, with the
       schema from --registry (GET /schemas/ids/<id>).
   A null value (tombstone) prints as null. Logical types come back from
   the avro library as date/datetime objects and are printed as ISO-8601
   strings: dates as YYYY-MM-DD, timestamps in UTC as
   YYYY-MM-DDTHH:MM:SS.ffffffZ. Bytes print as a string of code points
   0-255. A message that cannot be decoded prints with "error" instead of
   "value".

Exit status: 0 when every message decoded, 1 when some did not, 2 on bad
arguments or an unreadable topic (missing, not read to its end in time).
"""
import argparse
import datetime
import decimal
import io
import json
import os
import sys
import urllib.request
import uuid

try:
    import avro.io
    import avro.schema
    from confluent_kafka import (OFFSET_BEGINNING, Consumer, KafkaError,
                                 TopicPartition)
except ImportError as e:  # the test reports this as a failure, not a skip
    sys.stderr.write(
        "std_consume: %s: install python3-avro and python3-confluent-kafka "
        "(ops/install-deps.sh) and run with /usr/bin/python3\n" % e)
    sys.exit(2)

CRC64_EMPTY = 0xC15D213AA4D7A795


def _crc64_table():
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (CRC64_EMPTY & -(fp & 1))
        table.append(fp)
    return table


_TABLE = _crc64_table()


def crc64_avro(data):
    """The Avro specification's 64-bit Rabin fingerprint."""
    fp = CRC64_EMPTY
    for b in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ b) & 0xFF]
    return fp


PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes",
              "string"}


def _primitive_forms(node):
    """The spec's [PRIMITIVES] rule, applied again after [STRIP]."""
    if isinstance(node, dict):
        if set(node) == {"type"} and node["type"] in PRIMITIVES:
            return node["type"]
        return {k: _primitive_forms(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_primitive_forms(v) for v in node]
    return node


def canonical_form(schema):
    """The Parsing Canonical Form of a parsed schema.

    avro 1.11.1's own canonical_form strips a logicalType but leaves
    {"type":"int"} where the specification's PRIMITIVES rule asks for
    "int" (the Java library gives "int"), so its fingerprints of schemas
    with logical types differ from every other implementation's. Collapse
    those objects, keeping the library's key order and escaping."""
    pcf = json.loads(schema.canonical_form)
    return json.dumps(_primitive_forms(pcf), separators=(",", ":"))


def warn(msg):
    sys.stderr.write("std_consume: %s\n" % msg)


def consumer(bootstrap):
    return Consumer({
        "bootstrap.servers": bootstrap,
        # assign() needs a group id; nothing joins or commits.
        "group.id": "std-consume-%d" % os.getpid(),
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "auto.offset.reset": "earliest",
        "log_level": 3,
    })


def read_topic(c, topic, deadline_s):
    """Yields every message of `topic` up to its high watermarks."""
    md = c.list_topics(timeout=10)  # all topics: asking for one may create it
    if topic not in md.topics or md.topics[topic].error is not None:
        raise RuntimeError("topic %s does not exist" % topic)
    ends = {}
    for p in md.topics[topic].partitions:
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        if hi > lo:
            ends[p] = hi
    if not ends:
        return
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
    until = datetime.datetime.now().timestamp() + deadline_s
    while ends:
        if datetime.datetime.now().timestamp() > until:
            raise RuntimeError("%s: partitions %s not read to their end in "
                               "%d s" % (topic, sorted(ends), deadline_s))
        m = c.poll(0.2)
        if m is None:
            continue
        p = m.partition()
        if m.error():
            if m.error().code() != KafkaError._PARTITION_EOF:
                raise RuntimeError("%s [%d]: %s" % (topic, p, m.error()))
            if p in ends and m.offset() >= ends[p]:
                del ends[p]
            continue
        if p not in ends:
            continue
        if m.offset() + 1 >= ends[p]:
            del ends[p]
        yield m
    c.unassign()


def load_schemas(c, topic, deadline_s):
    """fingerprint (int) -> parsed schema, from the schemas topic."""
    schemas = {}
    for m in read_topic(c, topic, deadline_s):
        where = "%s [%d] offset %d" % (topic, m.partition(), m.offset())
        if m.value() is None:
            continue
        try:
            key = m.key().decode("ascii")
            fp = int(key, 16)
            if len(key) != 16 or key != key.lower():
                raise ValueError("not 16 lowercase hex digits")
            s = avro.schema.parse(m.value().decode("utf-8"))
        except Exception as e:  # noqa: BLE001 - any bad record is skipped
            warn("%s: skipped: %s" % (where, e))
            continue
        computed = crc64_avro(canonical_form(s).encode("utf-8"))
        if computed != fp:
            warn("%s: key %s is not the fingerprint of its schema (%016x); "
                 "skipped" % (where, key, computed))
            continue
        schemas[fp] = s
    return schemas


def plain(v):
    """A decoded Avro datum as JSON-ready data."""
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, datetime.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return v.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(v, datetime.date):
        return v.isoformat()
    if isinstance(v, datetime.time):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.decode("latin-1")
    if isinstance(v, (decimal.Decimal, uuid.UUID)):
        return str(v)
    return v


class Decoder:
    def __init__(self, schemas, registry):
        self.schemas = schemas
        self.registry = registry.rstrip("/") if registry else None
        self.by_id = {}

    def writer(self, raw):
        if len(raw) >= 10 and raw[0] == 0xC3 and raw[1] == 0x01:
            fp = int.from_bytes(raw[2:10], "little")
            if fp not in self.schemas:
                raise LookupError("unknown fingerprint %016x" % fp)
            return self.schemas[fp], raw[10:]
        if len(raw) >= 5 and raw[0] == 0x00:
            sid = int.from_bytes(raw[1:5], "big")
            if sid not in self.by_id:
                if not self.registry:
                    raise LookupError("Confluent-framed (schema id %d) and "
                                      "no --registry given" % sid)
                url = "%s/schemas/ids/%d" % (self.registry, sid)
                with urllib.request.urlopen(url, timeout=10) as r:
                    text = json.loads(r.read().decode("utf-8"))["schema"]
                self.by_id[sid] = avro.schema.parse(text)
            return self.by_id[sid], raw[5:]
        raise ValueError("neither single-object encoding nor Confluent "
                         "framing")

    def decode(self, raw):
        schema, body = self.writer(raw)
        buf = io.BytesIO(body)
        datum = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(buf))
        if buf.tell() != len(body):
            raise ValueError("%d trailing bytes" % (len(body) - buf.tell()))
        return plain(datum)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bootstrap-servers", required=True)
    ap.add_argument("--schemas-topic", default="_gridhub_schemas")
    ap.add_argument("--registry", help="Schema Registry URL, for Confluent "
                    "framing")
    ap.add_argument("--timeout", type=int, default=60,
                    help="seconds allowed to read each topic to its end")
    ap.add_argument("topics", nargs="+")
    a = ap.parse_args()
    c = consumer(a.bootstrap_servers)
    bad = 0
    try:
        schemas = load_schemas(c, a.schemas_topic, a.timeout)
        warn("%d schemas from %s" % (len(schemas), a.schemas_topic))
        dec = Decoder(schemas, a.registry)
        for topic in a.topics:
            for m in read_topic(c, topic, a.timeout):
                key = m.key()
                line = {"topic": topic, "partition": m.partition(),
                        "offset": m.offset(),
                        "key": None if key is None
                        else key.decode("utf-8", "replace")}
                if m.value() is None:
                    line["value"] = None
                else:
                    try:
                        line["value"] = dec.decode(m.value())
                    except Exception as e:  # noqa: BLE001 - reported per line
                        line["error"] = "%s: %s" % (type(e).__name__, e)
                        bad += 1
                print(json.dumps(line, ensure_ascii=False, sort_keys=True))
    except RuntimeError as e:
        warn(str(e))
        return 2
    finally:
        c.close()
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
