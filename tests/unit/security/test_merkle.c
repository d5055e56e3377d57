/* RFC 6962 Merkle trees (hub/audit/merkle.c): roots against the published
 * Certificate Transparency vectors and a naive recursion written here from
 * the RFC's definition with OpenSSL directly; every proof of small trees
 * verified and every tampered one refused; proofs cross-checked in both
 * directions with tests/tools/rfc6962.py, written separately. */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "merkle.h"

#define H GH_MERKLE_HASH_LEN
#define MAXN 300

static uint8_t g_leaf[MAXN][H];

static void sha(const uint8_t *a, size_t na, const uint8_t *b, size_t nb,
                const uint8_t *c, size_t nc, uint8_t out[H]) {
    EVP_MD_CTX *x = EVP_MD_CTX_new();
    EVP_DigestInit_ex(x, EVP_sha256(), NULL);
    EVP_DigestUpdate(x, a, na);
    if (nb) EVP_DigestUpdate(x, b, nb);
    if (nc) EVP_DigestUpdate(x, c, nc);
    EVP_DigestFinal_ex(x, out, NULL);
    EVP_MD_CTX_free(x);
}

/* MTH(D[b:e]) straight from RFC 6962 2.1 over g_leaf. */
static void naive(uint64_t b, uint64_t e, uint8_t out[H]) {
    if (e - b == 1) {
        memcpy(out, g_leaf[b], H);
        return;
    }
    uint64_t k = 1;
    while (k * 2 < e - b)
        k *= 2;
    uint8_t l[H], r[H];
    naive(b, b + k, l);
    naive(b + k, e, r);
    static const uint8_t one = 1;
    sha(&one, 1, l, H, r, H, out);
}

static gh_err_t get(void *opaque, int level, uint64_t index, uint8_t out[H],
                    char *errstr, size_t errstr_size) {
    uint64_t n = *(uint64_t *)opaque;
    uint64_t b = index << level, e = (index + 1) << level;
    if (e > n)
        return gh_seterr(errstr, errstr_size, GH_ERR_NOT_FOUND,
                         "no subtree %d/%llu", level,
                         (unsigned long long)index);
    naive(b, e, out);
    return GH_OK;
}

static void make_leaves(void) {
    for (int i = 0; i < MAXN; i++) {
        char entry[32];
        int n = snprintf(entry, sizeof(entry), "entry %d", i);
        static const uint8_t zero = 0;
        sha(&zero, 1, (const uint8_t *)entry, (size_t)n, NULL, 0, g_leaf[i]);
    }
}

static void hex(const uint8_t *b, size_t n, char *out) {
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

static void unhex(const char *s, uint8_t *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        cr_assert_eq(sscanf(s + 2 * i, "%2x", &v), 1, "hex: %s", s);
        out[i] = (uint8_t)v;
    }
}

Test(merkle, certificate_transparency_vectors) {
    static const char *entries[8] = {"",
                                     "00",
                                     "10",
                                     "2021",
                                     "3031",
                                     "40414243",
                                     "5051525354555657",
                                     "606162636465666768696a6b6c6d6e6f"};
    static const char *roots[8] = {
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};
    gh_merkle_frontier_t f;
    gh_merkle_frontier_init(&f);
    uint8_t r[H];
    char rh[2 * H + 1];
    gh_merkle_frontier_root(&f, r);
    hex(r, H, rh);
    cr_assert_str_eq(rh,
                     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934c"
                     "a495991b7852b855",
                     "the empty tree's root is SHA-256 of nothing");
    for (int i = 0; i < 8; i++) {
        uint8_t e[16], leaf[H];
        size_t n = strlen(entries[i]) / 2;
        unhex(entries[i], e, n);
        gh_merkle_leaf_hash(e, n, leaf);
        gh_merkle_frontier_append(&f, leaf, NULL, NULL);
        gh_merkle_frontier_root(&f, r);
        hex(r, H, rh);
        cr_assert_str_eq(rh, roots[i], "root of the first %d vectors", i + 1);
    }
}

Test(merkle, long_entries_hash_like_short_ones) {
    size_t n = 5000;
    uint8_t *e = malloc(n), a[H], b[H];
    for (size_t i = 0; i < n; i++)
        e[i] = (uint8_t)(i * 7);
    gh_merkle_leaf_hash(e, n, a);
    static const uint8_t zero = 0;
    sha(&zero, 1, e, n, NULL, 0, b);
    cr_assert_arr_eq(a, b, H, "leaf hash past the stack buffer");
    free(e);
}

static int g_nodes;
static void on_node(void *opaque, int level, uint64_t index,
                    const uint8_t hash[H]) {
    uint64_t n = *(uint64_t *)opaque;
    uint8_t want[H];
    char err[128];
    cr_assert_eq(get(&n, level, index, want, err, sizeof(err)), GH_OK,
                 "node %d/%llu reported before it is complete", level,
                 (unsigned long long)index);
    cr_assert_arr_eq(hash, want, H, "node %d/%llu", level,
                     (unsigned long long)index);
    g_nodes++;
}

Test(merkle, frontier_root_nodes_and_restore) {
    make_leaves();
    gh_merkle_frontier_t f;
    gh_merkle_frontier_init(&f);
    g_nodes = 0;
    for (uint64_t n = 1; n <= MAXN; n++) {
        gh_merkle_frontier_append(&f, g_leaf[n - 1], on_node, &n);
        uint8_t r[H], want[H];
        gh_merkle_frontier_root(&f, r);
        naive(0, n, want);
        cr_assert_arr_eq(r, want, H, "root of %llu leaves",
                         (unsigned long long)n);
        char err[256];
        cr_assert_eq(gh_merkle_range_root(0, n, get, &n, r, err, sizeof(err)),
                     GH_OK, "%s", err);
        cr_assert_arr_eq(r, want, H, "range root of %llu leaves",
                         (unsigned long long)n);
        gh_merkle_frontier_t g;
        cr_assert_eq(
            gh_merkle_frontier_restore(&g, n, get, &n, err, sizeof(err)), GH_OK,
            "%s", err);
        cr_assert_eq(g.size, n);
        gh_merkle_frontier_root(&g, r);
        cr_assert_arr_eq(r, want, H, "restored root of %llu leaves",
                         (unsigned long long)n);
    }
    /* Every perfect subtree of level >= 1 is completed exactly once: n
     * leaves make n - popcount(n) of them. */
    cr_assert_eq(g_nodes, MAXN - __builtin_popcount(MAXN));
}

Test(merkle, every_inclusion_proof_verifies_tampered_ones_do_not) {
    make_leaves();
    uint8_t p[GH_MERKLE_MAX_PROOF][H], q[GH_MERKLE_MAX_PROOF + 1][H];
    char err[256];
    for (uint64_t n = 1; n <= 70; n++) {
        uint8_t root[H], root1[H];
        naive(0, n, root);
        naive(0, n + 1, root1);
        for (uint64_t i = 0; i < n; i++) {
            int len;
            cr_assert_eq(gh_merkle_inclusion_proof(i, n, get, &n, p, &len, err,
                                                   sizeof(err)),
                         GH_OK, "%s", err);
            cr_assert(gh_merkle_verify_inclusion(g_leaf[i], i, n, p, len, root),
                      "leaf %llu of %llu", (unsigned long long)i,
                      (unsigned long long)n);
            cr_assert_not(gh_merkle_verify_inclusion(g_leaf[(i + 1) % 280], i,
                                                     n, p, len, root),
                          "another leaf");
            if (n > 1)
                cr_assert_not(gh_merkle_verify_inclusion(g_leaf[i], (i + 1) % n,
                                                         n, p, len, root),
                              "wrong index %llu/%llu", (unsigned long long)i,
                              (unsigned long long)n);
            /* The size is bound by the root (and the signed head), not
             * by the path's shape: claim n + 1 with n + 1's root. */
            cr_assert_not(
                gh_merkle_verify_inclusion(g_leaf[i], i, n + 1, p, len, root1),
                "wrong size %llu/%llu", (unsigned long long)i,
                (unsigned long long)n);
            cr_assert_not(
                gh_merkle_verify_inclusion(g_leaf[i], n, n, p, len, root),
                "index == size");
            for (int k = 0; k < len; k++) {
                p[k][k % H] ^= 0x40;
                cr_assert_not(
                    gh_merkle_verify_inclusion(g_leaf[i], i, n, p, len, root),
                    "flipped byte in hash %d", k);
                p[k][k % H] ^= 0x40;
            }
            if (len > 0)
                cr_assert_not(gh_merkle_verify_inclusion(g_leaf[i], i, n, p,
                                                         len - 1, root),
                              "truncated");
            memcpy(q, p, sizeof(p));
            memcpy(q[len], root, H);
            cr_assert_not(
                gh_merkle_verify_inclusion(g_leaf[i], i, n, q, len + 1, root),
                "extended");
        }
    }
    int len;
    uint64_t n = 5;
    cr_assert_eq(
        gh_merkle_inclusion_proof(5, 5, get, &n, p, &len, err, sizeof(err)),
        GH_ERR_INVALID_ARG);
    cr_assert_eq(len, 0);
}

Test(merkle, every_consistency_proof_verifies_tampered_ones_do_not) {
    make_leaves();
    uint8_t p[GH_MERKLE_MAX_PROOF][H];
    char err[256];
    for (uint64_t n = 1; n <= 70; n++) {
        uint8_t root[H], root1[H];
        naive(0, n, root);
        naive(0, n + 1, root1);
        for (uint64_t m = 1; m <= n; m++) {
            uint8_t old[H];
            naive(0, m, old);
            int len;
            cr_assert_eq(gh_merkle_consistency_proof(m, n, get, &n, p, &len,
                                                     err, sizeof(err)),
                         GH_OK, "%s", err);
            cr_assert(gh_merkle_verify_consistency(m, n, old, root, p, len),
                      "%llu -> %llu", (unsigned long long)m,
                      (unsigned long long)n);
            if (m == n) {
                cr_assert_eq(len, 0);
                continue;
            }
            cr_assert_not(
                gh_merkle_verify_consistency(m, n, root, root, p, len),
                "wrong old root");
            cr_assert_not(gh_merkle_verify_consistency(m, n, old, old, p, len),
                          "wrong new root");
            cr_assert_not(
                gh_merkle_verify_consistency(m, n + 1, old, root1, p, len),
                "wrong size %llu -> %llu", (unsigned long long)m,
                (unsigned long long)n);
            if (m > 1)
                cr_assert_not(
                    gh_merkle_verify_consistency(m - 1, n, old, root, p, len),
                    "wrong old size");
            for (int k = 0; k < len; k++) {
                p[k][(k * 5) % H] ^= 1;
                cr_assert_not(
                    gh_merkle_verify_consistency(m, n, old, root, p, len),
                    "flipped byte in hash %d of %llu -> %llu", k,
                    (unsigned long long)m, (unsigned long long)n);
                p[k][(k * 5) % H] ^= 1;
            }
            cr_assert_not(
                gh_merkle_verify_consistency(m, n, old, root, p, len - 1),
                "truncated");
        }
    }
    int len;
    uint64_t n = 5;
    cr_assert_eq(
        gh_merkle_consistency_proof(0, 5, get, &n, p, &len, err, sizeof(err)),
        GH_ERR_INVALID_ARG);
    cr_assert_eq(
        gh_merkle_consistency_proof(6, 5, get, &n, p, &len, err, sizeof(err)),
        GH_ERR_INVALID_ARG);
    uint8_t r[H];
    naive(0, 5, r);
    cr_assert_not(gh_merkle_verify_consistency(0, 5, r, r, p, 0),
                  "an old size of 0 proves nothing");
}

/* ---- Cross-checks with the independent Python implementation ----------- */

static char g_entries[512];

static void write_entries(int n) {
    const char *tmp = getenv("TMPDIR"); /* ops/test.sh's scratch directory */
    snprintf(g_entries, sizeof(g_entries), "%s/gh_merkle_entries.%d",
             tmp && *tmp ? tmp : "/tmp", getpid());
    FILE *f = fopen(g_entries, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < n; i++) {
        char entry[32], h[80];
        int k = snprintf(entry, sizeof(entry), "entry %d", i);
        hex((const uint8_t *)entry, (size_t)k, h);
        fprintf(f, "%s\n", h);
    }
    fclose(f);
}

/* Runs `cmd`, returns its exit status; its first output line in out. */
static int run(const char *cmd, char *out, size_t outsz) {
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "%s", cmd);
    if (out) {
        out[0] = '\0';
        if (fgets(out, (int)outsz, p)) out[strcspn(out, "\n")] = '\0';
    }
    char sink[256];
    while (fgets(sink, sizeof(sink), p))
        ;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void join(uint8_t p[][H], int len, char *out) {
    out[0] = '\0';
    for (int i = 0; i < len; i++) {
        if (i) strcat(out, ",");
        hex(p[i], H, out + strlen(out));
    }
}

static int split(const char *s, uint8_t p[][H]) {
    int n = 0;
    while (*s) {
        unhex(s, p[n++], H);
        s += 2 * H;
        if (*s == ',') s++;
    }
    return n;
}

#define TOOL "/usr/bin/python3 " GH_SOURCE_DIR "/tests/tools/rfc6962.py"

Test(merkle, proofs_agree_with_the_independent_implementation, .timeout = 120) {
    make_leaves();
    const uint64_t n = 37;
    write_entries((int)n);
    uint64_t nn = n;
    uint8_t root[H], p[GH_MERKLE_MAX_PROOF][H];
    char rh[2 * H + 1], lh[2 * H + 1], cmd[8192],
        path[GH_MERKLE_MAX_PROOF * 65], out[GH_MERKLE_MAX_PROOF * 65 + 2],
        err[256];
    naive(0, n, root);
    hex(root, H, rh);
    snprintf(cmd, sizeof(cmd), TOOL " root --entries-file %s", g_entries);
    cr_assert_eq(run(cmd, out, sizeof(out)), 0, "%s", cmd);
    cr_assert_str_eq(out, rh, "the two implementations' roots of %d leaves",
                     (int)n);

    /* Ours verified by theirs, theirs by ours. */
    static const uint64_t idx[] = {0, 1, 15, 16, 31, 32, 36};
    for (size_t k = 0; k < sizeof(idx) / sizeof(idx[0]); k++) {
        uint64_t i = idx[k];
        int len;
        cr_assert_eq(gh_merkle_inclusion_proof(i, n, get, &nn, p, &len, err,
                                               sizeof(err)),
                     GH_OK, "%s", err);
        join(p, len, path);
        hex(g_leaf[i], H, lh);
        snprintf(cmd, sizeof(cmd),
                 TOOL " verify-inclusion --leaf-hash %s --index %llu --size "
                      "%llu --path '%s' --root %s 2>&1",
                 lh, (unsigned long long)i, (unsigned long long)n, path, rh);
        cr_assert_eq(run(cmd, out, sizeof(out)), 0, "%s: %s", cmd, out);
        snprintf(cmd, sizeof(cmd),
                 TOOL " prove-inclusion --entries-file %s --index %llu --size "
                      "%llu",
                 g_entries, (unsigned long long)i, (unsigned long long)n);
        cr_assert_eq(run(cmd, out, sizeof(out)), 0, "%s", cmd);
        cr_assert_str_eq(out, path, "inclusion proof of %llu",
                         (unsigned long long)i);
        uint8_t theirs[GH_MERKLE_MAX_PROOF][H];
        int tl = split(out, theirs);
        cr_assert(
            gh_merkle_verify_inclusion(g_leaf[i], i, n, theirs, tl, root));
    }
    /* A tampered proof: theirs refuses it too. */
    int len;
    gh_merkle_inclusion_proof(3, n, get, &nn, p, &len, err, sizeof(err));
    p[1][0] ^= 1;
    join(p, len, path);
    hex(g_leaf[3], H, lh);
    snprintf(cmd, sizeof(cmd),
             TOOL " verify-inclusion --leaf-hash %s --index 3 --size %llu "
                  "--path '%s' --root %s 2>/dev/null",
             lh, (unsigned long long)n, path, rh);
    cr_assert_eq(run(cmd, NULL, 0), 1, "a tampered proof must fail: %s", cmd);

    static const uint64_t olds[] = {1, 2, 7, 8, 16, 20, 36, 37};
    for (size_t k = 0; k < sizeof(olds) / sizeof(olds[0]); k++) {
        uint64_t m = olds[k];
        uint8_t old[H];
        char oh[2 * H + 1];
        naive(0, m, old);
        hex(old, H, oh);
        cr_assert_eq(gh_merkle_consistency_proof(m, n, get, &nn, p, &len, err,
                                                 sizeof(err)),
                     GH_OK, "%s", err);
        join(p, len, path);
        snprintf(cmd, sizeof(cmd),
                 TOOL " verify-consistency --old-size %llu --old-root %s "
                      "--new-size %llu --new-root %s --proof '%s' 2>&1",
                 (unsigned long long)m, oh, (unsigned long long)n, rh, path);
        cr_assert_eq(run(cmd, out, sizeof(out)), 0, "%s: %s", cmd, out);
        snprintf(cmd, sizeof(cmd),
                 TOOL " prove-consistency --entries-file %s --old-size %llu "
                      "--size %llu",
                 g_entries, (unsigned long long)m, (unsigned long long)n);
        cr_assert_eq(run(cmd, out, sizeof(out)), 0, "%s", cmd);
        cr_assert_str_eq(out, path, "consistency proof %llu -> %llu",
                         (unsigned long long)m, (unsigned long long)n);
    }
    unlink(g_entries);
}
