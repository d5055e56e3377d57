#!/usr/bin/env python3
"""Writes the binary seeds of the pgoutput fuzz target into corpus/pgoutput/.

Each seed is one pgoutput protocol-1 message as PostgreSQL sends it (see the
PostgreSQL documentation, "Logical Replication Message Formats"), for a
relation like a department's table. Run it again after changing it; the
text corpora of the other targets are plain files edited by hand, and the
avro seeds come from build-fuzz/tests/fuzz/avro_seeds (README.md).
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus",
                   "pgoutput")


def cstr(s):
    return s.encode() + b"\0"


def tuple_(values):
    out = struct.pack(">H", len(values))
    for v in values:
        if v is None:
            out += b"n"
        elif v == "UNCHANGED":
            out += b"u"
        else:
            b = v.encode()
            out += b"t" + struct.pack(">I", len(b)) + b
    return out


REL = 16385
COLUMNS = [(1, "rkbh", 1043, -1), (0, "xm", 1043, 54), (0, "sfzh", 25, -1),
           (0, "csrq", 1082, -1), (0, "gxsj", 1114, -1)]
ROW = ["R0001", "王建国", "11010519491231002X", "1949-12-31",
       "2024-05-01 08:30:00.123456"]

SEEDS = {
    "begin": b"B" + struct.pack(">QqI", 0x16B374D848, 767_000_000_000_000,
                                 7421),
    "commit": b"C\0" + struct.pack(">QQq", 0x16B374D848, 0x16B374D900,
                                   767_000_000_000_000),
    "origin": b"O" + struct.pack(">Q", 0x10) + cstr("node_a"),
    "relation": b"R" + struct.pack(">I", REL) + cstr("public") +
    cstr("zz_syrk") + b"d" + struct.pack(">H", len(COLUMNS)) + b"".join(
        struct.pack(">B", k) + cstr(n) + struct.pack(">Ii", oid, mod)
        for k, n, oid, mod in COLUMNS),
    "type": b"Y" + struct.pack(">I", 90001) + cstr("public") + cstr("xb_t"),
    "insert": b"I" + struct.pack(">I", REL) + b"N" + tuple_(ROW),
    "insert_nulls": b"I" + struct.pack(">I", REL) + b"N" +
    tuple_(["R0002", None, None, "", None]),
    "update": b"U" + struct.pack(">I", REL) + b"N" +
    tuple_(ROW[:2] + ["UNCHANGED"] + ROW[3:]),
    "update_key": b"U" + struct.pack(">I", REL) + b"K" +
    tuple_(["R0001", None, None, None, None]) + b"N" + tuple_(ROW),
    "update_old": b"U" + struct.pack(">I", REL) + b"O" + tuple_(ROW) + b"N" +
    tuple_(["R0001", "王建帼"] + ROW[2:]),
    "delete_key": b"D" + struct.pack(">I", REL) + b"K" +
    tuple_(["R0001", None, None, None, None]),
    "delete_old": b"D" + struct.pack(">I", REL) + b"O" + tuple_(ROW),
    "truncate": b"T" + struct.pack(">IB", 2, 1) + struct.pack(">II", REL,
                                                               REL + 1),
    "message": b"M\x01" + struct.pack(">Q", 0x10) + cstr("prefix") +
    struct.pack(">I", 3) + b"abc",
    "insert_empty": b"I" + struct.pack(">I", REL) + b"N" + tuple_([]),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        # A truncated copy: the decoder must say so, not read on.
        with open(os.path.join(OUT, name + "_cut"), "wb") as f:
            f.write(data[:max(1, len(data) * 2 // 3)])


if __name__ == "__main__":
    main()
