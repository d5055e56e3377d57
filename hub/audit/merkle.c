/*
 * RFC 6962 Merkle trees: hashing, the append frontier, proofs and their
 * verification. See merkle.h.
 */
#include "merkle.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* SHA-256 fetched once: OpenSSL 3 looks an algorithm up (under a lock)
 * on every one-shot SHA256() and every init with EVP_sha256(), which cost
 * more than hashing a few hundred bytes with the CPU's SHA instructions. */
static EVP_MD *g_sha256;
static pthread_once_t g_sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void) {
    g_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static void sha256_parts(const void *a, size_t alen, const void *b, size_t blen,
                         uint8_t out[GH_MERKLE_HASH_LEN]) {
    pthread_once(&g_sha256_once, fetch_sha256);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!g_sha256 || !c || !EVP_DigestInit_ex2(c, g_sha256, NULL) ||
        !EVP_DigestUpdate(c, a, alen) ||
        (blen && !EVP_DigestUpdate(c, b, blen)) ||
        !EVP_DigestFinal_ex(c, out, NULL))
        abort(); /* only allocation failure gets here */
    EVP_MD_CTX_free(c);
}

void gh_merkle_leaf_hash(const void *entry, size_t len,
                         uint8_t out[GH_MERKLE_HASH_LEN]) {
    static const uint8_t zero = 0x00;
    sha256_parts(&zero, 1, entry, len, out);
}

void gh_merkle_node_hash(const uint8_t left[GH_MERKLE_HASH_LEN],
                         const uint8_t right[GH_MERKLE_HASH_LEN],
                         uint8_t out[GH_MERKLE_HASH_LEN]) {
    uint8_t buf[1 + 2 * GH_MERKLE_HASH_LEN];
    buf[0] = 0x01;
    memcpy(buf + 1, left, GH_MERKLE_HASH_LEN);
    memcpy(buf + 1 + GH_MERKLE_HASH_LEN, right, GH_MERKLE_HASH_LEN);
    sha256_parts(buf, sizeof(buf), NULL, 0, out);
}

void gh_merkle_empty_root(uint8_t out[GH_MERKLE_HASH_LEN]) {
    sha256_parts("", 0, NULL, 0, out);
}

/* ---- Frontier ------------------------------------------------------------ */

void gh_merkle_frontier_init(gh_merkle_frontier_t *f) {
    memset(f, 0, sizeof(*f));
}

void gh_merkle_frontier_append(gh_merkle_frontier_t *f,
                               const uint8_t leaf[GH_MERKLE_HASH_LEN],
                               gh_merkle_node_cb *cb, void *opaque) {
    uint8_t h[GH_MERKLE_HASH_LEN];
    memcpy(h, leaf, sizeof(h));
    /* Binary increment: each carry merges two equal perfect subtrees. */
    uint64_t idx = f->size; /* the new leaf's index at level 0 */
    int level = 0;
    while (f->size >> level & 1) {
        gh_merkle_node_hash(f->peak[level], h, h);
        level++;
        idx >>= 1;
        if (cb) cb(opaque, level, idx, h);
    }
    memcpy(f->peak[level], h, sizeof(h));
    f->size++;
}

void gh_merkle_frontier_root(const gh_merkle_frontier_t *f,
                             uint8_t out[GH_MERKLE_HASH_LEN]) {
    if (!f->size) {
        gh_merkle_empty_root(out);
        return;
    }
    /* The smallest subtree is the rightmost; RFC 6962's split puts each
     * larger one on the left of everything after it. */
    int level = 0;
    while (!(f->size >> level & 1))
        level++;
    uint8_t r[GH_MERKLE_HASH_LEN];
    memcpy(r, f->peak[level], sizeof(r));
    for (level++; level < 64; level++)
        if (f->size >> level & 1) gh_merkle_node_hash(f->peak[level], r, r);
    memcpy(out, r, sizeof(r));
}

gh_err_t gh_merkle_frontier_restore(gh_merkle_frontier_t *f, uint64_t size,
                                    gh_merkle_get_fn *get, void *opaque,
                                    char *errstr, size_t errstr_size) {
    gh_merkle_frontier_init(f);
    uint64_t offset = 0;
    for (int level = 63; level >= 0; level--) {
        if (!(size >> level & 1)) continue;
        gh_err_t e = get(opaque, level, offset >> level, f->peak[level], errstr,
                         errstr_size);
        if (e) return e;
        offset += (uint64_t)1 << level;
    }
    f->size = size;
    return GH_OK;
}

/* ---- Proofs -------------------------------------------------------------- */

/* The largest power of two strictly below n (n >= 2). */
static uint64_t split_of(uint64_t n) {
    uint64_t k = 1;
    while (k << 1 < n)
        k <<= 1;
    return k;
}

gh_err_t gh_merkle_range_root(uint64_t begin, uint64_t end,
                              gh_merkle_get_fn *get, void *opaque,
                              uint8_t out[GH_MERKLE_HASH_LEN], char *errstr,
                              size_t errstr_size) {
    if (end <= begin)
        return gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                         "merkle: empty range [%llu, %llu)",
                         (unsigned long long)begin, (unsigned long long)end);
    uint64_t n = end - begin;
    if (!(n & (n - 1)) && !(begin & (n - 1))) {
        int level = __builtin_ctzll(n);
        return get(opaque, level, begin >> level, out, errstr, errstr_size);
    }
    uint64_t k = split_of(n);
    uint8_t l[GH_MERKLE_HASH_LEN], r[GH_MERKLE_HASH_LEN];
    gh_err_t e = gh_merkle_range_root(begin, begin + k, get, opaque, l, errstr,
                                      errstr_size);
    if (!e)
        e = gh_merkle_range_root(begin + k, end, get, opaque, r, errstr,
                                 errstr_size);
    if (!e) gh_merkle_node_hash(l, r, out);
    return e;
}

typedef struct proof {
    gh_merkle_get_fn *get;
    void *opaque;
    uint8_t (*out)[GH_MERKLE_HASH_LEN];
    int len;
    char *errstr;
    size_t errstr_size;
} proof_t;

static gh_err_t push_range(proof_t *p, uint64_t begin, uint64_t end) {
    if (p->len >= GH_MERKLE_MAX_PROOF)
        return gh_seterr(p->errstr, p->errstr_size, GH_ERR_INVALID_ARG,
                         "merkle: proof longer than %d hashes",
                         GH_MERKLE_MAX_PROOF);
    return gh_merkle_range_root(begin, end, p->get, p->opaque, p->out[p->len++],
                                p->errstr, p->errstr_size);
}

/* PATH(m, D[begin:end]) of RFC 6962 2.1.1. */
static gh_err_t path(proof_t *p, uint64_t m, uint64_t begin, uint64_t end) {
    uint64_t n = end - begin;
    if (n <= 1) return GH_OK;
    uint64_t k = split_of(n);
    gh_err_t e;
    if (m < k) {
        if ((e = path(p, m, begin, begin + k))) return e;
        return push_range(p, begin + k, end);
    }
    if ((e = path(p, m - k, begin + k, end))) return e;
    return push_range(p, begin, begin + k);
}

/* SUBPROOF(m, D[begin:end], b) of RFC 6962 2.1.2. */
static gh_err_t subproof(proof_t *p, uint64_t m, uint64_t begin, uint64_t end,
                         int whole) {
    uint64_t n = end - begin;
    if (m == n) return whole ? GH_OK : push_range(p, begin, end);
    uint64_t k = split_of(n);
    gh_err_t e;
    if (m <= k) {
        if ((e = subproof(p, m, begin, begin + k, whole))) return e;
        return push_range(p, begin + k, end);
    }
    if ((e = subproof(p, m - k, begin + k, end, 0))) return e;
    return push_range(p, begin, begin + k);
}

gh_err_t gh_merkle_inclusion_proof(uint64_t index, uint64_t size,
                                   gh_merkle_get_fn *get, void *opaque,
                                   uint8_t out[][GH_MERKLE_HASH_LEN], int *len,
                                   char *errstr, size_t errstr_size) {
    *len = 0;
    if (index >= size)
        return gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                         "merkle: leaf %llu is not in a tree of %llu",
                         (unsigned long long)index, (unsigned long long)size);
    proof_t p = {get, opaque, out, 0, errstr, errstr_size};
    gh_err_t e = path(&p, index, 0, size);
    *len = e ? 0 : p.len;
    return e;
}

gh_err_t gh_merkle_consistency_proof(uint64_t old_size, uint64_t size,
                                     gh_merkle_get_fn *get, void *opaque,
                                     uint8_t out[][GH_MERKLE_HASH_LEN],
                                     int *len, char *errstr,
                                     size_t errstr_size) {
    *len = 0;
    if (!old_size || old_size > size)
        return gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                         "merkle: no consistency proof from %llu to %llu "
                         "(needs 0 < old size <= size)",
                         (unsigned long long)old_size,
                         (unsigned long long)size);
    proof_t p = {get, opaque, out, 0, errstr, errstr_size};
    gh_err_t e = subproof(&p, old_size, 0, size, 1);
    *len = e ? 0 : p.len;
    return e;
}

/* ---- Verification ---------------------------------------------------------
 */

int gh_merkle_verify_inclusion(const uint8_t leaf[GH_MERKLE_HASH_LEN],
                               uint64_t index, uint64_t size,
                               const uint8_t path_[][GH_MERKLE_HASH_LEN],
                               int len,
                               const uint8_t root[GH_MERKLE_HASH_LEN]) {
    if (index >= size || len < 0 || len > GH_MERKLE_MAX_PROOF) return 0;
    uint64_t fn = index, sn = size - 1;
    uint8_t r[GH_MERKLE_HASH_LEN];
    memcpy(r, leaf, sizeof(r));
    for (int i = 0; i < len; i++) {
        if (!sn) return 0;
        if ((fn & 1) || fn == sn) {
            gh_merkle_node_hash(path_[i], r, r);
            if (!(fn & 1))
                while (!(fn & 1) && fn) {
                    fn >>= 1;
                    sn >>= 1;
                }
        } else {
            gh_merkle_node_hash(r, path_[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && !memcmp(r, root, sizeof(r));
}

int gh_merkle_verify_consistency(uint64_t old_size, uint64_t size,
                                 const uint8_t old_root[GH_MERKLE_HASH_LEN],
                                 const uint8_t root[GH_MERKLE_HASH_LEN],
                                 const uint8_t proof[][GH_MERKLE_HASH_LEN],
                                 int len) {
    if (!old_size || old_size > size || len < 0 || len > GH_MERKLE_MAX_PROOF)
        return 0;
    if (old_size == size)
        return len == 0 && !memcmp(old_root, root, GH_MERKLE_HASH_LEN);
    if (!len) return 0;
    /* When the old tree is a perfect subtree of the new one, the proof
     * leaves out its root, which the verifier already has. */
    const uint8_t *first = proof[0];
    int i = 1;
    if (!(old_size & (old_size - 1))) {
        first = old_root;
        i = 0;
    }
    uint64_t fn = old_size - 1, sn = size - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    uint8_t fr[GH_MERKLE_HASH_LEN], sr[GH_MERKLE_HASH_LEN];
    memcpy(fr, first, sizeof(fr));
    memcpy(sr, first, sizeof(sr));
    for (; i < len; i++) {
        if (!sn) return 0;
        if ((fn & 1) || fn == sn) {
            gh_merkle_node_hash(proof[i], fr, fr);
            gh_merkle_node_hash(proof[i], sr, sr);
            if (!(fn & 1))
                while (!(fn & 1) && fn) {
                    fn >>= 1;
                    sn >>= 1;
                }
        } else {
            gh_merkle_node_hash(sr, proof[i], sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && !memcmp(fr, old_root, sizeof(fr)) &&
           !memcmp(sr, root, sizeof(sr));
}
