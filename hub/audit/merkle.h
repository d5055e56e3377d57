/*
 * Merkle trees as RFC 6962 (Certificate Transparency) defines them, for the
 * audit log: leaf = SHA-256(0x00 || entry), node = SHA-256(0x01 || left ||
 * right), the tree of n leaves split at the largest power of two below n.
 * Anyone with an RFC 6962 verifier can check what gridhub proves.
 *
 * Two halves. The frontier appends leaves one by one and knows the root of
 * everything appended so far in O(log n) memory: that is how the hub grows
 * the log and how `audit verify` streams over it. Proofs need the hashes of
 * older subtrees; they read them through a caller's function that returns
 * the hash of an aligned perfect subtree (level L, index i: leaves
 * [i * 2^L, (i + 1) * 2^L)), so the storage (the audit tables, an array in
 * a test) is the caller's business.
 *
 * Sizes and indexes are uint64_t; hashes are 32 bytes, caller-owned.
 */
#ifndef GH_MERKLE_H
#define GH_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "gridhub/error.h"

#define GH_MERKLE_HASH_LEN 32
/* A proof holds at most one hash per level of a tree of 2^64 leaves. */
#define GH_MERKLE_MAX_PROOF 64

void gh_merkle_leaf_hash(const void *entry, size_t len,
                         uint8_t out[GH_MERKLE_HASH_LEN]);
void gh_merkle_node_hash(const uint8_t left[GH_MERKLE_HASH_LEN],
                         const uint8_t right[GH_MERKLE_HASH_LEN],
                         uint8_t out[GH_MERKLE_HASH_LEN]);
/* The root of the empty tree: SHA-256 of nothing. */
void gh_merkle_empty_root(uint8_t out[GH_MERKLE_HASH_LEN]);

/* ---- The frontier -------------------------------------------------------
 * One perfect subtree per set bit of the size. A plain struct so that it
 * can live on the stack or inside another struct; start with
 * gh_merkle_frontier_init. */
typedef struct gh_merkle_frontier {
    uint64_t size;
    uint8_t peak[GH_MERKLE_MAX_PROOF][GH_MERKLE_HASH_LEN];
} gh_merkle_frontier_t;

void gh_merkle_frontier_init(gh_merkle_frontier_t *f);

/* Called for every perfect subtree an append completes, level >= 1 (level
 * 0 is the leaf the caller passed): the caller stores the ones it will
 * want for proofs. `hash` is borrowed for the call. */
typedef void gh_merkle_node_cb(void *opaque, int level, uint64_t index,
                               const uint8_t hash[GH_MERKLE_HASH_LEN]);

/* Appends one leaf hash; `cb` may be NULL. */
void gh_merkle_frontier_append(gh_merkle_frontier_t *f,
                               const uint8_t leaf[GH_MERKLE_HASH_LEN],
                               gh_merkle_node_cb *cb, void *opaque);
/* The root of the `f->size` leaves appended so far. */
void gh_merkle_frontier_root(const gh_merkle_frontier_t *f,
                             uint8_t out[GH_MERKLE_HASH_LEN]);

/* Rebuilds the frontier of a tree of `size` leaves from its perfect
 * subtrees (what a restarted hub reads back), through `get` as below. */
typedef gh_err_t gh_merkle_get_fn(void *opaque, int level, uint64_t index,
                                  uint8_t out[GH_MERKLE_HASH_LEN], char *errstr,
                                  size_t errstr_size);
gh_err_t gh_merkle_frontier_restore(gh_merkle_frontier_t *f, uint64_t size,
                                    gh_merkle_get_fn *get, void *opaque,
                                    char *errstr, size_t errstr_size);

/* ---- Proofs -------------------------------------------------------------
 * `get` returns the hash of the aligned perfect subtree (level, index) of
 * the tree; a failure (GH_ERR_NOT_FOUND for a subtree it does not hold) is
 * passed on. Hashes are written to out[0..*len-1], leaf side first, as RFC
 * 6962 orders them. */

/* MTH(D[begin:end]): the root of the leaves begin..end-1. */
gh_err_t gh_merkle_range_root(uint64_t begin, uint64_t end,
                              gh_merkle_get_fn *get, void *opaque,
                              uint8_t out[GH_MERKLE_HASH_LEN], char *errstr,
                              size_t errstr_size);
/* PATH(index, D[size]): GH_ERR_INVALID_ARG unless index < size. */
gh_err_t gh_merkle_inclusion_proof(uint64_t index, uint64_t size,
                                   gh_merkle_get_fn *get, void *opaque,
                                   uint8_t out[][GH_MERKLE_HASH_LEN], int *len,
                                   char *errstr, size_t errstr_size);
/* PROOF(old_size, D[size]): GH_ERR_INVALID_ARG unless
 * 0 < old_size <= size; empty when they are equal. */
gh_err_t gh_merkle_consistency_proof(uint64_t old_size, uint64_t size,
                                     gh_merkle_get_fn *get, void *opaque,
                                     uint8_t out[][GH_MERKLE_HASH_LEN],
                                     int *len, char *errstr,
                                     size_t errstr_size);

/* ---- Verification (RFC 9162 2.1.3.2 and 2.1.4.2) -------------------------
 * From the proof alone, never by rebuilding the tree. 1 if it proves the
 * claim, 0 if not (including a wrong length or index). */
int gh_merkle_verify_inclusion(const uint8_t leaf[GH_MERKLE_HASH_LEN],
                               uint64_t index, uint64_t size,
                               const uint8_t path[][GH_MERKLE_HASH_LEN],
                               int len, const uint8_t root[GH_MERKLE_HASH_LEN]);
/* An old size of 0 proves nothing (every tree extends the empty one, and
 * RFC 9162 leaves it out): 0. Equal sizes need an empty proof and equal
 * roots. */
int gh_merkle_verify_consistency(uint64_t old_size, uint64_t size,
                                 const uint8_t old_root[GH_MERKLE_HASH_LEN],
                                 const uint8_t root[GH_MERKLE_HASH_LEN],
                                 const uint8_t proof[][GH_MERKLE_HASH_LEN],
                                 int len);

#endif
