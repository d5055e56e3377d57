#!/usr/bin/python3
"""rfc6962.py: RFC 6962 Merkle tree hashes, inclusion paths and consistency
proofs, with the RFC 9162 verifiers for them. Standard library only.

Deliberately separate from the C implementation in hub/audit/ and written
from the RFC text alone, so that the C tests check that code against a second,
independent implementation rather than against itself.

    rfc6962.py leaf-hash HEX
    rfc6962.py root --entries-file F
    rfc6962.py prove-inclusion --entries-file F --index I --size N
    rfc6962.py prove-consistency --entries-file F --old-size M --size N
    rfc6962.py verify-inclusion --leaf-hash H --index I --size N --path P
                                --root R
    rfc6962.py verify-consistency --old-size M --old-root R1 --new-size N
                                  --new-root R2 --proof P

Hashes are hex, lists comma-separated ("" is the empty list). An entries file
has one entry per line in hex; blank lines are skipped, so "-" stands for the
empty entry. Exit 0: printed or verified; 1: not verified (why on stderr);
2: bad usage or input.
"""

import argparse
import hashlib
import sys

HASH_LEN = 32


def leaf_hash(entry):
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n):
    # RFC 6962 splits at the largest power of two strictly below n, which
    # keeps the left subtree perfect and lets logs append without rehashing.
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaf_hashes(hashes):
    n = len(hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashes[0]
    k = _split(n)
    return node_hash(root_from_leaf_hashes(hashes[:k]),
                     root_from_leaf_hashes(hashes[k:]))


def root(entries):
    return root_from_leaf_hashes([leaf_hash(e) for e in entries])


def _path(m, d):
    if len(d) == 1:
        return []
    k = _split(len(d))
    if m < k:
        return _path(m, d[:k]) + [root_from_leaf_hashes(d[k:])]
    return _path(m - k, d[k:]) + [root_from_leaf_hashes(d[:k])]


def inclusion_proof(leaf_hashes, index, size):
    if not 0 <= index < size <= len(leaf_hashes):
        raise ValueError("need 0 <= index < size <= number of leaves")
    return _path(index, leaf_hashes[:size])


def _subproof(m, d, whole):
    # `whole` says the old tree's root equals this subtree's root, so the
    # verifier already holds it and it must not be sent again.
    n = len(d)
    if m == n:
        return [] if whole else [root_from_leaf_hashes(d)]
    k = _split(n)
    if m <= k:
        return _subproof(m, d[:k], whole) + [root_from_leaf_hashes(d[k:])]
    return _subproof(m - k, d[k:], False) + [root_from_leaf_hashes(d[:k])]


def consistency_proof(leaf_hashes, old_size, size):
    # RFC 9162 defines proofs only for 0 < old_size; from the empty tree
    # there is nothing to prove and no agreed encoding.
    if not 1 <= old_size <= size <= len(leaf_hashes):
        raise ValueError("need 1 <= old_size <= size <= number of leaves")
    return _subproof(old_size, leaf_hashes[:size], True)


def inclusion_failure(leaf, index, size, path, root_hash):
    """Why the RFC 9162 2.1.3.2 check rejects, or None if it accepts."""
    if any(len(h) != HASH_LEN for h in (leaf, root_hash, *path)):
        return "a hash is not %d bytes" % HASH_LEN
    if not 0 <= index < size:
        return "index %d is not below tree size %d" % (index, size)
    fn, sn = index, size - 1
    r = leaf
    for p in path:
        if sn == 0:
            return "path is longer than the tree is deep"
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # A rightmost node with no sibling is promoted unchanged, so
            # skip the levels where it has none.
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        return "path is shorter than the tree is deep"
    if r != root_hash:
        return "path does not lead to the root"
    return None


def verify_inclusion(leaf_hash, index, size, path, root):
    return inclusion_failure(leaf_hash, index, size, path, root) is None


def consistency_failure(old_size, new_size, old_root, new_root, proof):
    """Why the RFC 9162 2.1.4.2 check rejects, or None if it accepts.

    old_size 0 is always rejected: RFC 9162 defines no proof from the empty
    tree, and accepting one would vouch for nothing."""
    if any(len(h) != HASH_LEN for h in (old_root, new_root, *proof)):
        return "a hash is not %d bytes" % HASH_LEN
    if old_size < 1:
        return "old size must be at least 1"
    if old_size > new_size:
        return "old size %d exceeds new size %d" % (old_size, new_size)
    if old_size == new_size:
        if proof:
            return "proof must be empty when the sizes are equal"
        if old_root != new_root:
            return "roots differ for equal sizes"
        return None
    if not proof:
        return "proof is empty"
    if old_size & (old_size - 1) == 0:
        # The old tree is a perfect subtree of the new one, so its root is
        # the starting node and the proof leaves it out.
        proof = [old_root] + list(proof)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return "proof is longer than needed"
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        return "proof is shorter than needed"
    if fr != old_root:
        return "proof does not lead to the old root"
    if sr != new_root:
        return "proof does not lead to the new root"
    return None


def verify_consistency(old_size, new_size, old_root, new_root, proof):
    return consistency_failure(old_size, new_size, old_root, new_root,
                               proof) is None


# ---- command line ---------------------------------------------------------

def _hex(text):
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not hex: %r" % text)


def _hash(text):
    if len(_hex(text)) != HASH_LEN:
        raise argparse.ArgumentTypeError("not a 32-byte hash: %r" % text)
    return _hex(text)


def _hash_list(text):
    return [_hash(t) for t in text.split(",")] if text else []


def _count(text):
    if int(text) < 0:  # argparse reports a ValueError as a usage error
        raise ValueError(text)
    return int(text)


def _read_leaf_hashes(name):
    with open(name, encoding="ascii") as f:
        lines = [line.strip() for line in f]
    try:
        return [leaf_hash(b"" if line == "-" else bytes.fromhex(line))
                for line in lines if line]
    except ValueError:
        raise ValueError("%s: a line is neither hex nor '-'" % name)


_OPTIONS = {
    "leaf-hash": [("entry", _hex)],
    "root": [("--entries-file", str)],
    "prove-inclusion": [("--entries-file", str), ("--index", _count),
                        ("--size", _count)],
    "prove-consistency": [("--entries-file", str), ("--old-size", _count),
                          ("--size", _count)],
    "verify-inclusion": [("--leaf-hash", _hash), ("--index", _count),
                         ("--size", _count), ("--path", _hash_list),
                         ("--root", _hash)],
    "verify-consistency": [("--old-size", _count), ("--old-root", _hash),
                           ("--new-size", _count), ("--new-root", _hash),
                           ("--proof", _hash_list)],
}


def _parser():
    p = argparse.ArgumentParser(
        prog="rfc6962.py", description="RFC 6962 Merkle tree reference; "
        "hashes are hex, lists comma-separated.")
    sub = p.add_subparsers(dest="cmd", required=True)
    for cmd, options in _OPTIONS.items():
        s = sub.add_parser(cmd)
        for name, kind in options:
            if name.startswith("--"):
                s.add_argument(name, type=kind, required=True)
            else:
                s.add_argument(name, type=kind, metavar="HEX")
    return p


def _run(a):
    if a.cmd == "leaf-hash":
        print(leaf_hash(a.entry).hex())
    elif a.cmd == "root":
        print(root_from_leaf_hashes(_read_leaf_hashes(a.entries_file)).hex())
    elif a.cmd.startswith("prove-"):
        hashes = _read_leaf_hashes(a.entries_file)
        if a.cmd == "prove-inclusion":
            proof = inclusion_proof(hashes, a.index, a.size)
        else:
            proof = consistency_proof(hashes, a.old_size, a.size)
        print(",".join(h.hex() for h in proof))
    elif a.cmd == "verify-inclusion":
        return _report(inclusion_failure(a.leaf_hash, a.index, a.size,
                                         a.path, a.root))
    else:
        return _report(consistency_failure(a.old_size, a.new_size, a.old_root,
                                           a.new_root, a.proof))
    return 0


def _report(why):
    if why:
        print("rfc6962.py: verification failed: " + why, file=sys.stderr)
        return 1
    print("OK")
    return 0


def main(argv=None):
    args = _parser().parse_args(argv)  # exits 2 on usage errors
    try:
        return _run(args)
    except (OSError, ValueError) as e:  # a bad file, or sizes beyond it
        print("rfc6962.py: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
