/*
 * The block index: for each key type, the records grouped by key (runs),
 * and the candidate-pair enumeration over it.
 *
 * A pair of duplicates typically shares four or five keys; it is scored
 * once, under the first key type it shares whose block was not skipped
 * (the per-record keys make that a few comparisons). Records are grouped
 * by sorting (key, record) entries with a radix sort: no hash table of
 * millions of blocks, and records within a block stay in ascending order.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gridhub/util.h"
#include "match_int.h"

#define K GH__KEY__COUNT
/* Pairs per unit of work handed to a thread: small enough to balance two
 * threads on one giant block type, large enough to keep the atomic
 * counter cold. */
#define CHUNK_PAIRS 50000

typedef struct type_ix {
    uint32_t *recs;      /* records of the kept runs, run after run */
    uint32_t *run_start; /* nruns + 1 offsets into recs */
    size_t nruns;
    uint64_t *oversize; /* sorted keys of the skipped blocks */
    size_t noversize;
} type_ix_t;

struct gh__match_index {
    size_t n;
    uint64_t *keys; /* n * K */
    type_ix_t t[K];
    size_t oversize_blocks;
    double pairs_upper;
};

int gh__match_threads(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 8 ? 8 : (int)n;
}

void gh__match_sort_kv(gh__kv_t *a, size_t n) {
    if (n < 2) return;
    gh__kv_t *tmp = gh_xmalloc(n * sizeof(*tmp));
    size_t *cnt = gh_xcalloc(4 * 65536, sizeof(*cnt));
    for (size_t i = 0; i < n; i++)
        for (int p = 0; p < 4; p++)
            cnt[p * 65536 + ((a[i].key >> (16 * p)) & 0xffff)]++;
    gh__kv_t *src = a, *dst = tmp;
    for (int p = 0; p < 4; p++) {
        size_t *c = cnt + p * 65536;
        /* A digit all keys share moves nothing: skip the pass. */
        if (c[(src[0].key >> (16 * p)) & 0xffff] == n) continue;
        size_t sum = 0;
        for (size_t d = 0; d < 65536; d++) {
            size_t v = c[d];
            c[d] = sum;
            sum += v;
        }
        for (size_t i = 0; i < n; i++)
            dst[c[(src[i].key >> (16 * p)) & 0xffff]++] = src[i];
        gh__kv_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != a) memcpy(a, src, n * sizeof(*a));
    free(cnt);
    free(tmp);
}

/* ---- building ----------------------------------------------------------- */

typedef struct build_job {
    gh__match_index_t *ix;
    const gh_match_set_t *set;
    size_t max_block;
    size_t lo, hi; /* records [lo, hi) */
} build_job_t;

static void *keys_worker(void *arg) {
    build_job_t *j = arg;
    for (size_t i = j->lo; i < j->hi; i++)
        gh__match_keys(gh_match_set_get(j->set, i), j->ix->keys + i * K);
    return NULL;
}

static void group_type(gh__match_index_t *ix, int t, size_t max_block,
                       size_t *oversize_out, double *pairs_out) {
    size_t n = 0;
    for (size_t i = 0; i < ix->n; i++)
        n += ix->keys[i * K + t] != 0;
    gh__kv_t *kv = gh_xmalloc((n ? n : 1) * sizeof(*kv));
    n = 0;
    for (size_t i = 0; i < ix->n; i++)
        if (ix->keys[i * K + t]) kv[n++] = (gh__kv_t){ix->keys[i * K + t], i};
    gh__match_sort_kv(kv, n);

    type_ix_t *ti = &ix->t[t];
    size_t nrec = 0, nruns = 0, nover = 0, caprun = 1024, capover = 16;
    ti->recs = gh_xmalloc((n ? n : 1) * sizeof(*ti->recs));
    ti->run_start = gh_xmalloc(caprun * sizeof(*ti->run_start));
    ti->oversize = gh_xmalloc(capover * sizeof(*ti->oversize));
    double pairs = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && kv[j].key == kv[i].key)
            j++;
        size_t k = j - i;
        if (k > max_block) {
            if (nover == capover) {
                capover *= 2;
                ti->oversize =
                    gh_xrealloc(ti->oversize, capover * sizeof(*ti->oversize));
            }
            ti->oversize[nover++] = kv[i].key; /* ascending: kv is sorted */
        } else if (k >= 2) {
            if (nruns + 2 > caprun) {
                caprun *= 2;
                ti->run_start =
                    gh_xrealloc(ti->run_start, caprun * sizeof(*ti->run_start));
            }
            ti->run_start[nruns++] = (uint32_t)nrec;
            for (size_t x = i; x < j; x++)
                ti->recs[nrec++] = (uint32_t)kv[x].val;
            pairs += (double)k * (double)(k - 1) / 2;
        }
        i = j;
    }
    ti->run_start[nruns] = (uint32_t)nrec;
    ti->nruns = nruns;
    ti->noversize = nover;
    free(kv);
    *oversize_out = nover;
    *pairs_out = pairs;
}

typedef struct group_job {
    gh__match_index_t *ix;
    size_t max_block;
    int first, step;
    size_t oversize[K];
    double pairs[K];
} group_job_t;

static void *group_worker(void *arg) {
    group_job_t *j = arg;
    for (int t = j->first; t < K; t += j->step)
        group_type(j->ix, t, j->max_block, &j->oversize[t], &j->pairs[t]);
    return NULL;
}

gh__match_index_t *gh__match_index_new(const gh_match_set_t *set,
                                       size_t max_block, int nthreads) {
    gh__match_index_t *ix = gh_xcalloc(1, sizeof(*ix));
    ix->n = gh_match_set_count(set);
    ix->keys = gh_xmalloc((ix->n ? ix->n : 1) * K * sizeof(*ix->keys));
    if (nthreads < 1) nthreads = 1;
    if (nthreads > K) nthreads = K;

    /* Contiguous ranges: threads writing neighbouring records' keys would
     * share cache lines. */
    build_job_t bj[K];
    pthread_t th[K];
    int started[K] = {0};
    for (int i = 0; i < nthreads; i++)
        bj[i] = (build_job_t){ix, set, max_block, ix->n * (size_t)i / nthreads,
                              ix->n * (size_t)(i + 1) / nthreads};
    for (int i = 1; i < nthreads; i++)
        started[i] = !pthread_create(&th[i], NULL, keys_worker, &bj[i]);
    for (int i = 1; i < nthreads; i++)
        if (!started[i]) keys_worker(&bj[i]);
    keys_worker(&bj[0]);
    for (int i = 1; i < nthreads; i++)
        if (started[i]) pthread_join(th[i], NULL);

    /* Sorting two types at once doubles the transient memory (two entry
     * arrays and their radix buffers), which even 15 million records
     * afford. */
    group_job_t gj[K];
    memset(gj, 0, sizeof(gj));
    for (int i = 0; i < nthreads; i++) {
        gj[i].ix = ix;
        gj[i].max_block = max_block;
        gj[i].first = i;
        gj[i].step = nthreads;
    }
    memset(started, 0, sizeof(started));
    for (int i = 1; i < nthreads; i++)
        started[i] = !pthread_create(&th[i], NULL, group_worker, &gj[i]);
    for (int i = 1; i < nthreads; i++)
        if (!started[i]) group_worker(&gj[i]);
    group_worker(&gj[0]);
    for (int i = 1; i < nthreads; i++)
        if (started[i]) pthread_join(th[i], NULL);
    for (int i = 0; i < nthreads; i++)
        for (int t = 0; t < K; t++) {
            ix->oversize_blocks += gj[i].oversize[t];
            ix->pairs_upper += gj[i].pairs[t];
        }
    return ix;
}

void gh__match_index_destroy(gh__match_index_t *ix) {
    if (!ix) return;
    for (int t = 0; t < K; t++) {
        free(ix->t[t].recs);
        free(ix->t[t].run_start);
        free(ix->t[t].oversize);
    }
    free(ix->keys);
    free(ix);
}

size_t gh__match_index_oversize(const gh__match_index_t *ix) {
    return ix->oversize_blocks;
}

double gh__match_index_pairs_upper(const gh__match_index_t *ix) {
    return ix->pairs_upper;
}

/* ---- enumeration -------------------------------------------------------- */

static int is_oversize(const type_ix_t *ti, uint64_t key) {
    size_t lo = 0, hi = ti->noversize;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ti->oversize[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ti->noversize && ti->oversize[lo] == key;
}

/* 1 if the pair (a, b) is already visited under an earlier key type. */
static int seen_before(const gh__match_index_t *ix, uint32_t a, uint32_t b,
                       int t) {
    const uint64_t *ka = ix->keys + (size_t)a * K,
                   *kb = ix->keys + (size_t)b * K;
    for (int s = 0; s < t; s++)
        if (ka[s] && ka[s] == kb[s] && !is_oversize(&ix->t[s], ka[s])) return 1;
    return 0;
}

typedef struct chunk {
    int type;
    uint32_t first_run, end_run;
} chunk_t;

typedef struct pairs_job {
    const gh__match_index_t *ix;
    const chunk_t *chunks;
    size_t nchunks;
    size_t *next; /* shared, atomic */
    uint64_t threshold;
    int sample, dedupe;
    gh__match_pair_fn *fn;
    void *wctx;
} pairs_job_t;

static void *pairs_worker(void *arg) {
    pairs_job_t *j = arg;
    const gh__match_index_t *ix = j->ix;
    for (;;) {
        size_t c = __atomic_fetch_add(j->next, 1, __ATOMIC_RELAXED);
        if (c >= j->nchunks) break;
        const chunk_t *ch = &j->chunks[c];
        const type_ix_t *ti = &ix->t[ch->type];
        for (uint32_t r = ch->first_run; r < ch->end_run; r++) {
            const uint32_t *recs = ti->recs + ti->run_start[r];
            uint32_t k = ti->run_start[r + 1] - ti->run_start[r];
            for (uint32_t x = 0; x < k; x++)
                for (uint32_t y = x + 1; y < k; y++) {
                    uint32_t a = recs[x], b = recs[y];
                    if (j->sample && gh__mix64(((uint64_t)a << 32 | b) ^
                                               0x5a5a) >= j->threshold)
                        continue;
                    if (j->dedupe && seen_before(ix, a, b, ch->type)) continue;
                    j->fn(j->wctx, a, b);
                }
        }
    }
    return NULL;
}

static void run_pairs(const gh__match_index_t *ix, int only_type, int nthreads,
                      double sample, gh__match_pair_fn *fn, void **wctx) {
    size_t nchunks = 0, cap = 256;
    chunk_t *chunks = gh_xmalloc(cap * sizeof(*chunks));
    for (int t = 0; t < K; t++) {
        if (only_type >= 0 && t != only_type) continue;
        const type_ix_t *ti = &ix->t[t];
        uint32_t first = 0;
        double cost = 0;
        for (uint32_t r = 0; r < ti->nruns; r++) {
            double k = ti->run_start[r + 1] - ti->run_start[r];
            cost += k * (k - 1) / 2;
            if (cost >= CHUNK_PAIRS || r + 1 == ti->nruns) {
                if (nchunks == cap) {
                    cap *= 2;
                    chunks = gh_xrealloc(chunks, cap * sizeof(*chunks));
                }
                chunks[nchunks++] = (chunk_t){t, first, r + 1};
                first = r + 1;
                cost = 0;
            }
        }
    }
    size_t next = 0;
    if (nthreads < 1) nthreads = 1;
    if (nthreads > 64) nthreads = 64;
    pairs_job_t jobs[64];
    pthread_t th[64];
    int started[64] = {0};
    uint64_t threshold = sample >= 1 ? UINT64_MAX
                         : sample <= 0
                             ? 0
                             : (uint64_t)(sample * 18446744073709551616.0);
    for (int i = 0; i < nthreads; i++)
        jobs[i] =
            (pairs_job_t){ix,         chunks,        nchunks, &next,  threshold,
                          sample < 1, only_type < 0, fn,      wctx[i]};
    for (int i = 1; i < nthreads; i++)
        started[i] = !pthread_create(&th[i], NULL, pairs_worker, &jobs[i]);
    pairs_worker(&jobs[0]);
    for (int i = 1; i < nthreads; i++)
        if (started[i]) pthread_join(th[i], NULL);
    free(chunks);
}

void gh__match_index_pairs(const gh__match_index_t *ix, int nthreads,
                           double sample, gh__match_pair_fn *fn, void **wctx) {
    run_pairs(ix, -1, nthreads, sample, fn, wctx);
}

void gh__match_index_type_pairs(const gh__match_index_t *ix, int type,
                                int nthreads, double sample,
                                gh__match_pair_fn *fn, void **wctx) {
    run_pairs(ix, type, nthreads, sample, fn, wctx);
}

double gh__match_index_type_pairs_count(const gh__match_index_t *ix, int type) {
    const type_ix_t *ti = &ix->t[type];
    double pairs = 0;
    for (size_t r = 0; r < ti->nruns; r++) {
        double k = ti->run_start[r + 1] - ti->run_start[r];
        pairs += k * (k - 1) / 2;
    }
    return pairs;
}
