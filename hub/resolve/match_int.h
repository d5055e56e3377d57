/*
 * Internals of the identity-matching engine (gridhub/match.h), shared by
 * the files of hub/resolve/. Nothing here is part of the public API.
 *
 * Layout of the engine, one responsibility per file:
 *   intern.c   string arena and interning table
 *   set.c      record sets, normalization of raw records
 *   lend.c     the holder's flat lent to a foreign number's record
 *   compare.c  field comparators (Jaro-Winkler, edit distance) and levels
 *   tf.c       term-frequency table (name / pinyin -> count)
 *   model.c    configuration, priors, pins, weights, scoring, decisions
 *   u.c        training's u: value frequencies and random pairs
 *   em.c       training: m and lambda by EM, u corrected for matches
 *   block.c    blocking keys
 *   index.c    block index and parallel candidate-pair enumeration
 *   cluster.c  gh_match_cluster: the ambiguity filter, then union-find
 *              with kept-apart pairs and anchors (batch and hub)
 *   batch.c    gh_match_resolve
 *   eval.c     pairwise precision and recall against a ground truth
 */
#ifndef GH_MATCH_INT_H
#define GH_MATCH_INT_H

#include <stddef.h>
#include <stdint.h>

#include "gridhub/match.h"

/* ---- hashing ------------------------------------------------------------ */

static inline uint64_t gh__mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* A fast 64-bit hash of n bytes (not cryptographic; keys are ours). */
uint64_t gh__match_hash(const void *p, size_t n, uint64_t seed);

/* ---- string arena and interning (intern.c) ------------------------------ */

typedef struct gh__intern_slot {
    uint64_t hash;
    const char *s;
} gh__intern_slot_t;

/* Strings are copied into chunks that never move, so pointers stay valid
 * until clear/free. Interning makes equal strings share one pointer, which
 * saves memory (a household's address is stored once) and lets the
 * comparators test equality by pointer. */
typedef struct gh__intern {
    char **chunks;
    size_t nchunks, capchunks, cur; /* cur: chunk being filled */
    size_t used;                    /* bytes used in chunks[cur] */
    gh__intern_slot_t *slots;
    size_t cap, count; /* cap is a power of two (or 0) */
    size_t bytes;      /* string bytes stored, for statistics */
} gh__intern_t;

/* Copies s[0..n) plus a NUL into the arena without interning. */
const char *gh__intern_copy(gh__intern_t *in, const char *s, size_t n);
/* The interned copy of s[0..n) (NUL-terminated). */
const char *gh__intern_str(gh__intern_t *in, const char *s, size_t n);
/* Forgets every string, keeping the memory. */
void gh__intern_clear(gh__intern_t *in);
void gh__intern_free(gh__intern_t *in);

/* ---- records (set.c) ---------------------------------------------------- */

/* 0 unknown, 1 male, 2 female, from the spellings departments use. */
int gh__match_parse_sex(const char *s);
/* Days since 1970-01-01 from YYYY-MM-DD, YYYYMMDD or YYYY/MM/DD, or
 * GH_MATCH_NO_DATE. */
int32_t gh__match_parse_date(const char *s);
/* Inverse of gh_days_from_civil. */
void gh__match_civil(int32_t days, int *y, int *m, int *d);

/* ---- comparators (compare.c) -------------------------------------------- */

/* Birth level (1 equal .. 6 differ) of two known dates. */
int gh__match_birth_level(int32_t a, int32_t b);
/* 1 if a record's birth date and its valid ID number's embedded one are
 * too far apart for a typo: the number is likely someone else's. */
int gh__match_birth_foreign(int32_t rec, int32_t embedded);

/* Fills level[GH_MATCH_F__COUNT]. */
void gh__match_levels(const gh_match_rec_t *a, const gh_match_rec_t *b,
                      int *level);
int gh__match_level(gh_match_field_t f, const gh_match_rec_t *a,
                    const gh_match_rec_t *b);

/* ---- term frequencies (tf.c) -------------------------------------------- */

typedef struct gh__tf_slot {
    uint64_t hash;
    char *s; /* owned */
    int64_t count;
} gh__tf_slot_t;

typedef struct gh__tf {
    gh__tf_slot_t *slots;
    size_t cap, used;
    int64_t total;
} gh__tf_t;

void gh__tf_add(gh__tf_t *t, const char *s, int64_t delta);
int64_t gh__tf_count(const gh__tf_t *t, const char *s);
void gh__tf_free(gh__tf_t *t);

/* ---- model (model.c) ---------------------------------------------------- */

/* Probabilities never reach 0 or 1, so every weight is finite. */
#define GH__MATCH_M_FLOOR 1e-4
#define GH__MATCH_U_FLOOR 1e-9

struct gh_match_model {
    /* m and u per field and level; index 0 (cannot compare) unused. */
    double m[GH_MATCH_F__COUNT][GH_MATCH_MAX_LEVELS];
    double u[GH_MATCH_F__COUNT][GH_MATCH_MAX_LEVELS];
    uint8_t pin_m[GH_MATCH_F__COUNT][GH_MATCH_MAX_LEVELS];
    uint8_t pin_u[GH_MATCH_F__COUNT][GH_MATCH_MAX_LEVELS];
    double lambda;
    int pin_lambda;
    /* P(phone and address both equal | different persons): a household
     * shares both, so the two agreements are not independent evidence. */
    double u_household;
    int pin_household;

    double w[GH_MATCH_F__COUNT][GH_MATCH_MAX_LEVELS]; /* log2(m/u) */
    double prior;                                     /* log2 odds */
    double w_household; /* weight of phone + address both equal */

    double link_threshold, review_threshold;
    long long em_max_pairs, em_iterations, block_max_size;
    int tf_enabled;
    double tf_floor;
    gh__tf_t tf_name, tf_pinyin;

    int iterations, converged;
};

/* Recomputes w, prior and w_household after m/u/lambda changed. */
void gh__match_model_update(gh_match_model_t *m);
/* Renormalizes the unpinned values of one field so the levels sum to 1,
 * with floors. */
void gh__match_normalize(double *p, const uint8_t *pinned, int levels,
                         double floor);

/* ---- chance agreement (u.c) ---------------------------------------------- */

/* Level distribution of random pairs of the set: p[f][l], levels 1..
 * summing to 1, or p[f][0] = -1 when the field was never comparable; and
 * the chance that two records share phone and flat (-1: not computable).
 * id_near: u of the ID level "one digit off", measured on different
 * persons already (no correction for matches; -1: not computable).
 * Relies on the set interning strings (equal values share a pointer). */
void gh__match_random_levels(const gh_match_set_t *set,
                             double p[GH_MATCH_F__COUNT][GH_MATCH_MAX_LEVELS],
                             double *household, double *id_near);

/* ---- blocking (block.c) ------------------------------------------------- */

/* Key types, in the order a pair is attributed to (see index.c). */
enum {
    GH__KEY_ID17 = 0,
    GH__KEY_PINYIN_BIRTH,
    GH__KEY_SURNAME_BIRTH_SEX,
    GH__KEY_NAME_YEAR,
    GH__KEY_PHONE,
    GH__KEY_NAME_ADDRESS,
    GH__KEY_PINYIN_MONTHDAY,
    GH__KEY__COUNT
};

/* One key per type (0 = the record has no such key). */
void gh__match_keys(const gh_match_rec_t *r, uint64_t keys[GH__KEY__COUNT]);
const char *gh__match_key_name(int type);
/* Bitmask (1 << gh_match_field_t) of the fields a key type is built from:
 * its blocks force their agreement. */
unsigned gh__match_key_fields(int type);

/* ---- block index and pair enumeration (index.c) ------------------------- */

typedef struct gh__match_index gh__match_index_t;

/* Computes every record's keys and groups records by key, type by type;
 * blocks larger than max_block are skipped and counted. */
gh__match_index_t *gh__match_index_new(const gh_match_set_t *set,
                                       size_t max_block, int nthreads);
void gh__match_index_destroy(gh__match_index_t *ix);
size_t gh__match_index_oversize(const gh__match_index_t *ix);
/* Upper bound of the candidate pairs (sum of k(k-1)/2 over the blocks). */
double gh__match_index_pairs_upper(const gh__match_index_t *ix);

/* Called once per candidate pair (a < b) by one of the workers; `wctx` is
 * the worker's own context. */
typedef void(gh__match_pair_fn)(void *wctx, uint32_t a, uint32_t b);

/* Enumerates every candidate pair exactly once (a pair sharing several
 * keys is visited under the first shared key type whose block was not
 * skipped), on nthreads threads, worker i getting wctx[i]. If sample < 1
 * only pairs whose hash falls below sample * 2^64 are visited (a
 * deterministic sample). */
void gh__match_index_pairs(const gh__match_index_t *ix, int nthreads,
                           double sample, gh__match_pair_fn *fn, void **wctx);

/* Every pair of the kept blocks of one key type, including pairs that
 * also share other keys (EM's per-key training sessions). */
void gh__match_index_type_pairs(const gh__match_index_t *ix, int type,
                                int nthreads, double sample,
                                gh__match_pair_fn *fn, void **wctx);
/* Number of pairs gh__match_index_type_pairs would visit unsampled. */
double gh__match_index_type_pairs_count(const gh__match_index_t *ix, int type);

/* Number of worker threads to use: the online CPUs, at most 8. */
int gh__match_threads(void);

/* LSD radix sort of (key, value) entries by key; stable. */
typedef struct gh__kv {
    uint64_t key;
    uint64_t val;
} gh__kv_t;
void gh__match_sort_kv(gh__kv_t *a, size_t n);

#endif
