#!/usr/bin/python3
"""Self-tests of tests/tools/rfc6962.py. Standard library only:

    /usr/bin/python3 tests/tools/test_rfc6962.py [-v]

The fixed vectors are the certificate-transparency project's published test
data (merkle_tree_test.cc, reused by trillian); the small ones are also
re-derived here with hashlib alone. The property tests then check, for every
tree of 1..70 leaves, that the RFC 6962 provers and the RFC 9162 verifiers
agree with each other and with the recursive MTH, and that tampering with a
proof, index, size or root is rejected.

Note on "wrong size": a proof carries no size of its own; the root pins it.
The same path can verify against the *same* root under another size whose
tree has the same shape along that path (e.g. leaf 0 of 3 leaves claimed as
leaf 0 of 4). So a wrong size is tested together with that size's own root,
which is the claim a cheating log would have to make.
"""

import hashlib
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import rfc6962 as r  # noqa: E402

TOOL = os.path.join(HERE, "rfc6962.py")

CT_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
             "606162636465666768696a6b6c6d6e6f"]
CT_ROOTS = [  # CT_ROOTS[n - 1] is MTH of the first n leaves
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
H96A = "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"
H5F0 = "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"
H6B4 = "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"
HBC1 = "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"
HCA8 = "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"
H0EB = "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"
HB08 = "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"
CT_PATHS = {  # (index, size) -> PATH, published with the roots above
    (0, 1): [],
    (0, 8): [H96A, H5F0, H6B4],
    (5, 8): [HBC1, HCA8, CT_ROOTS[3]],
    (2, 3): [CT_ROOTS[1]],
    (1, 5): [CT_ROOTS[0], H5F0, HBC1],
}
CT_PROOFS = {  # (old size, size) -> PROOF
    (1, 1): [],
    (1, 8): [H96A, H5F0, H6B4],
    (6, 8): [H0EB, HCA8, CT_ROOTS[3]],
    (2, 5): [H5F0, HBC1],
    (6, 7): [H0EB, HB08, CT_ROOTS[3]],
}

MAX = 70
LEAVES = [r.leaf_hash(b"entry %d" % i) for i in range(2 * MAX + 1)]
ROOTS = [r.root_from_leaf_hashes(LEAVES[:n]) for n in range(2 * MAX + 1)]
EXHAUSTIVE_FLIPS = 16  # every byte of every element up to this tree size


def sha(data):
    return hashlib.sha256(data).digest()


def flipped(h, pos):
    return h[:pos] + bytes([h[pos] ^ 0x01]) + h[pos + 1:]


def flip_positions(n, salt):
    return range(32) if n <= EXHAUSTIVE_FLIPS else {0, 31, salt % 32}


def unhex(items):
    return [bytes.fromhex(h) for h in items]


class Vectors(unittest.TestCase):
    def test_hand_derived(self):
        e0, e1, e2 = sha(b"\x00"), sha(b"\x00\x00"), sha(b"\x00\x10")
        self.assertEqual(r.root([]), sha(b""))
        self.assertEqual(r.leaf_hash(b""), e0)
        self.assertEqual(r.root([b""]).hex(), CT_ROOTS[0])
        self.assertEqual(e1.hex(), H96A)
        two = sha(b"\x01" + e0 + e1)
        self.assertEqual(two.hex(), CT_ROOTS[1])
        self.assertEqual(sha(b"\x01" + two + e2).hex(), CT_ROOTS[2])
        self.assertEqual(r.node_hash(e0, e1), two)

    def test_published_roots(self):
        leaves = unhex(CT_LEAVES)
        for n in range(1, 9):
            self.assertEqual(r.root(leaves[:n]).hex(), CT_ROOTS[n - 1], n)

    def test_published_proofs(self):
        hashes = [r.leaf_hash(e) for e in unhex(CT_LEAVES)]
        for (i, n), want in CT_PATHS.items():
            path = r.inclusion_proof(hashes, i, n)
            self.assertEqual([h.hex() for h in path], want, (i, n))
            self.assertTrue(r.verify_inclusion(
                hashes[i], i, n, path, bytes.fromhex(CT_ROOTS[n - 1])))
        for (m, n), want in CT_PROOFS.items():
            proof = r.consistency_proof(hashes, m, n)
            self.assertEqual([h.hex() for h in proof], want, (m, n))
            self.assertTrue(r.verify_consistency(
                m, n, bytes.fromhex(CT_ROOTS[m - 1]),
                bytes.fromhex(CT_ROOTS[n - 1]), proof))

    def test_provers_refuse_bad_sizes(self):
        for args in [(0, 0), (3, 3), (-1, 3), (0, 71)]:
            self.assertRaises(ValueError, r.inclusion_proof, LEAVES[:70],
                              *args)
        for args in [(0, 5), (6, 5), (1, 71)]:
            self.assertRaises(ValueError, r.consistency_proof, LEAVES[:70],
                              *args)


class InclusionProperties(unittest.TestCase):
    def test_every_path(self):
        for n in range(1, MAX + 1):
            for i in range(n):
                self.check(i, n, r.inclusion_proof(LEAVES, i, n))

    def check(self, i, n, path):
        leaf, good = LEAVES[i], ROOTS[n]
        ok = r.verify_inclusion
        self.assertTrue(ok(leaf, i, n, path, good), (i, n))
        for j, h in enumerate(path):
            for pos in flip_positions(n, i + j):
                bad = path[:j] + [flipped(h, pos)] + path[j + 1:]
                self.assertFalse(ok(leaf, i, n, bad, good), (i, n, j, pos))
        for other in {i - 1, i + 1, i ^ 1, n, -1} - {i}:
            self.assertFalse(ok(leaf, other, n, path, good), (i, n, other))
        self.assertFalse(ok(LEAVES[i + 1], i, n, path, good), (i, n))
        for size in {n - 1, n + 1, i, 2 * n} - {n}:
            self.assertFalse(ok(leaf, i, size, path, ROOTS[size]),
                             (i, n, size))
        zero = bytes(32)
        for bad in [path[:-1], path[1:], path + [zero], [zero] + path,
                    path + path[-1:]]:
            if bad != path:
                self.assertFalse(ok(leaf, i, n, bad, good), (i, n, bad))
        # The length checks must fire on their own, not only via the root.
        why = r.inclusion_failure(leaf, i, n, path + [good], good)
        self.assertIn("longer", why, (i, n))
        if path:
            why = r.inclusion_failure(leaf, i, n, path[:-1], good)
            self.assertIn("shorter", why, (i, n))
        for root in [flipped(good, i % 32), ROOTS[n - 1], ROOTS[n + 1]]:
            self.assertFalse(ok(leaf, i, n, path, root), (i, n))

    def test_malformed_hashes(self):
        path = r.inclusion_proof(LEAVES, 2, 5)
        self.assertFalse(r.verify_inclusion(LEAVES[2][:31], 2, 5, path,
                                            ROOTS[5]))
        long_elem = path[:1] + [path[1] + b"\0"] + path[2:]
        self.assertIn("32 bytes", r.inclusion_failure(LEAVES[2], 2, 5,
                                                      long_elem, ROOTS[5]))


class ConsistencyProperties(unittest.TestCase):
    def test_every_proof(self):
        for n in range(1, MAX + 1):
            for m in range(1, n + 1):
                self.check(m, n, r.consistency_proof(LEAVES, m, n))

    def check(self, m, n, proof):
        old, new = ROOTS[m], ROOTS[n]
        ok = r.verify_consistency
        self.assertTrue(ok(m, n, old, new, proof), (m, n))
        self.assertEqual(proof == [], m == n, (m, n))
        for j, h in enumerate(proof):
            for pos in flip_positions(n, m + j):
                bad = proof[:j] + [flipped(h, pos)] + proof[j + 1:]
                self.assertFalse(ok(m, n, old, new, bad), (m, n, j, pos))
        for m2, n2 in {(m - 1, n), (m + 1, n), (m, n - 1), (m, n + 1),
                       (n, n), (m, m)} - {(m, n)}:
            if 0 <= m2 and 0 <= n2 <= MAX + 1:
                self.assertFalse(ok(m2, n2, ROOTS[m2], ROOTS[n2], proof),
                                 (m, n, m2, n2))
        zero = bytes(32)
        for bad in [proof[:-1], proof[1:], proof + [zero], [zero] + proof,
                    proof + proof[-1:], [old] + proof]:
            if bad != proof:
                self.assertFalse(ok(m, n, old, new, bad), (m, n, bad))
        if m < n:  # the length checks must fire on their own
            why = r.consistency_failure(m, n, old, new, proof + [new])
            self.assertIn("longer", why, (m, n))
            why = r.consistency_failure(m, n, old, new, proof[:-1])
            self.assertRegex(why, "shorter|empty", (m, n))
        for o, w in [(flipped(old, n % 32), new), (old, flipped(new, m % 32)),
                     (ROOTS[m - 1], new), (old, ROOTS[n + 1]), (new, old)]:
            if (o, w) != (old, new):
                self.assertFalse(ok(m, n, o, w, proof), (m, n))

    def test_edges(self):
        ok = r.verify_consistency
        # Documented choice: nothing is provable from the empty tree.
        self.assertFalse(ok(0, 0, ROOTS[0], ROOTS[0], []))
        self.assertFalse(ok(0, 5, ROOTS[0], ROOTS[5], []))
        self.assertFalse(ok(6, 5, ROOTS[6], ROOTS[5], []))
        self.assertTrue(ok(5, 5, ROOTS[5], ROOTS[5], []))
        self.assertFalse(ok(5, 5, ROOTS[5], ROOTS[5], [ROOTS[5]]))
        self.assertFalse(ok(5, 5, ROOTS[5], ROOTS[4], []))
        self.assertFalse(ok(4, 5, ROOTS[4], ROOTS[5], []))
        proof = r.consistency_proof(LEAVES, 3, 7)
        self.assertFalse(ok(3, 7, ROOTS[3], ROOTS[7][:31], proof))
        long_elem = proof[:1] + [proof[1] + b"\0"] + proof[2:]
        self.assertIn("32 bytes", r.consistency_failure(
            3, 7, ROOTS[3], ROOTS[7], long_elem))


class Cli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.entries = os.path.join(cls.tmp.name, "entries")
        with open(cls.entries, "w") as f:  # "-" is the empty entry
            f.write("-\n\n" + "\n".join(CT_LEAVES[1:]) + "\n\n")
        cls.bad = os.path.join(cls.tmp.name, "bad")
        with open(cls.bad, "w") as f:
            f.write("00\nxyz\n")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_tool(self, *args, want):
        p = subprocess.run([sys.executable, TOOL] + list(args),
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, want, (args, p.stdout, p.stderr))
        if want == 1:
            self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
        return p.stdout.strip()

    def test_leaf_hash(self):
        self.assertEqual(self.run_tool("leaf-hash", "", want=0), CT_ROOTS[0])
        self.assertEqual(self.run_tool("leaf-hash", "00", want=0), H96A)
        self.run_tool("leaf-hash", "0g", want=2)
        self.run_tool("leaf-hash", want=2)
        self.run_tool("no-such-command", want=2)

    def test_root(self):
        self.assertEqual(self.run_tool("root", "--entries-file", self.entries,
                                       want=0), CT_ROOTS[7])
        self.run_tool("root", "--entries-file", self.bad, want=2)
        self.run_tool("root", "--entries-file", self.entries + ".none",
                      want=2)
        self.run_tool("root", want=2)

    def test_prove_inclusion(self):
        f = ("prove-inclusion", "--entries-file", self.entries)
        self.assertEqual(self.run_tool(*f, "--index", "5", "--size", "8",
                                       want=0), ",".join(CT_PATHS[(5, 8)]))
        self.assertEqual(self.run_tool(*f, "--index", "0", "--size", "1",
                                       want=0), "")
        for i, n in [("8", "8"), ("0", "9"), ("-1", "8"), ("x", "8")]:
            self.run_tool(*f, "--index", i, "--size", n, want=2)

    def test_prove_consistency(self):
        f = ("prove-consistency", "--entries-file", self.entries)
        self.assertEqual(self.run_tool(*f, "--old-size", "6", "--size", "8",
                                       want=0), ",".join(CT_PROOFS[(6, 8)]))
        self.assertEqual(self.run_tool(*f, "--old-size", "3", "--size", "3",
                                       want=0), "")
        for m, n in [("0", "8"), ("5", "4"), ("2", "9")]:
            self.run_tool(*f, "--old-size", m, "--size", n, want=2)

    def test_verify_inclusion(self):
        def v(leaf, i, n, path, root, want):
            return self.run_tool("verify-inclusion", "--leaf-hash", leaf,
                                 "--index", i, "--size", n, "--path", path,
                                 "--root", root, want=want)
        path = ",".join(CT_PATHS[(5, 8)])
        leaf5 = r.leaf_hash(bytes.fromhex(CT_LEAVES[5])).hex()
        v(leaf5, "5", "8", path, CT_ROOTS[7], 0)
        v(CT_ROOTS[0], "0", "1", "", CT_ROOTS[0], 0)
        v(leaf5, "4", "8", path, CT_ROOTS[7], 1)
        v(leaf5, "8", "8", path, CT_ROOTS[7], 1)
        v(leaf5, "5", "8", path, CT_ROOTS[6], 1)
        v(leaf5, "5", "8", path.rsplit(",", 1)[0], CT_ROOTS[7], 1)
        v(leaf5, "5", "8", path, CT_ROOTS[7][:-2], 2)
        v(leaf5, "5", "8", path + ",", CT_ROOTS[7], 2)
        v(leaf5, "-1", "8", path, CT_ROOTS[7], 2)

    def test_verify_consistency(self):
        def v(m, old, n, new, proof, want):
            return self.run_tool("verify-consistency", "--old-size", m,
                                 "--old-root", old, "--new-size", n,
                                 "--new-root", new, "--proof", proof,
                                 want=want)
        proof = ",".join(CT_PROOFS[(6, 8)])
        v("6", CT_ROOTS[5], "8", CT_ROOTS[7], proof, 0)
        v("3", CT_ROOTS[2], "3", CT_ROOTS[2], "", 0)
        v("6", CT_ROOTS[4], "8", CT_ROOTS[7], proof, 1)
        v("5", CT_ROOTS[4], "8", CT_ROOTS[7], proof, 1)
        v("6", CT_ROOTS[5], "8", CT_ROOTS[7], proof + "," + H96A, 1)
        v("3", CT_ROOTS[2], "3", CT_ROOTS[3], "", 1)
        v("0", CT_ROOTS[0], "8", CT_ROOTS[7], "", 1)
        v("6", CT_ROOTS[5], "8", "zz", proof, 2)
        self.run_tool("verify-consistency", "--old-size", "6", want=2)

    def test_round_trip(self):
        proof = self.run_tool("prove-consistency", "--entries-file",
                              self.entries, "--old-size", "3", "--size", "7",
                              want=0)
        self.assertEqual(self.run_tool(
            "verify-consistency", "--old-size", "3", "--old-root",
            CT_ROOTS[2], "--new-size", "7", "--new-root", CT_ROOTS[6],
            "--proof", proof, want=0), "OK")


if __name__ == "__main__":
    unittest.main()
