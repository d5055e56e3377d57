/*
 * gh_match_resolve: index, score every candidate pair on all threads
 * (keeping only the links), set aside records that fit two persons, and
 * cluster with valid ID numbers as anchors.
 */
#include <stdlib.h>
#include <string.h>

#include "gridhub/util.h"
#include "match_int.h"

typedef struct worker {
    const gh_match_model_t *m;
    const gh_match_set_t *set;
    gh_match_edge_t *edges; /* links only: all clustering needs */
    size_t nedges, cap;
    gh_match_batch_stats_t st;
} worker_t;

static void on_pair(void *wctx, uint32_t a, uint32_t b) {
    worker_t *w = wctx;
    gh_match_explain_t ex;
    gh_match_decision_t d = gh_match_score(w->m, gh_match_set_get(w->set, a),
                                           gh_match_set_get(w->set, b), &ex);
    w->st.candidate_pairs++;
    switch (d) {
    case GH_MATCH_REVIEW:
        w->st.reviews++;
        return;
    case GH_MATCH_ID_CONFLICT:
        w->st.id_conflicts++;
        return;
    case GH_MATCH_LINK:
        w->st.links++;
        break;
    case GH_MATCH_LINK_ID:
        w->st.links_id++;
        break;
    default:
        return;
    }
    if (w->nedges == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 4096;
        w->edges = gh_xrealloc(w->edges, w->cap * sizeof(*w->edges));
    }
    w->edges[w->nedges++] = (gh_match_edge_t){a, b, (float)ex.total, d};
}

/* Two persons' links within this many bits of each other are a tie. */
#define AMBIGUITY_BITS 2.0

typedef struct cand {
    uint32_t rec; /* the record without a valid ID */
    float score;
    uint64_t anchor; /* the partner's */
} cand_t;

static int cand_cmp(const void *pa, const void *pb) {
    const cand_t *a = pa, *b = pb;
    if (a->rec != b->rec) return a->rec < b->rec ? -1 : 1;
    return a->score > b->score ? -1 : a->score < b->score;
}

/*
 * A record without a valid ID (a child's 计生 row) that links about as
 * well to two persons with different valid IDs (two children of one name
 * born the same day) cannot be placed: linking it to either is a coin
 * toss, and linking it to both would merge them. Its links to records
 * with a valid ID are dropped (the steward's review list has the pairs).
 * Returns the number of such records; edges are filtered in place.
 */
static size_t drop_ambiguous(const uint64_t *anchor, gh_match_edge_t *edges,
                             size_t *n_edges) {
    size_t nc = 0, cap = 1024;
    cand_t *c = gh_xmalloc(cap * sizeof(*c));
    for (size_t i = 0; i < *n_edges; i++) {
        const gh_match_edge_t *e = &edges[i];
        uint64_t aa = anchor[e->a], ab = anchor[e->b];
        if (!aa == !ab) continue;
        if (nc == cap) {
            cap *= 2;
            c = gh_xrealloc(c, cap * sizeof(*c));
        }
        c[nc++] =
            aa ? (cand_t){e->b, e->score, aa} : (cand_t){e->a, e->score, ab};
    }
    qsort(c, nc, sizeof(*c), cand_cmp);
    /* Records to cut loose, sorted (c is sorted by record). */
    size_t nbad = 0;
    uint32_t *bad = gh_xmalloc((nc ? nc : 1) * sizeof(*bad));
    for (size_t i = 0; i < nc;) {
        size_t j = i + 1;
        while (j < nc && c[j].rec == c[i].rec)
            j++;
        /* c[i] is the best; is another anchor close behind? */
        for (size_t k = i + 1; k < j; k++)
            if (c[k].anchor != c[i].anchor &&
                c[k].score >= c[i].score - AMBIGUITY_BITS) {
                bad[nbad++] = c[i].rec;
                break;
            }
        i = j;
    }
    free(c);
    if (nbad) {
        size_t k = 0;
        for (size_t i = 0; i < *n_edges; i++) {
            const gh_match_edge_t *e = &edges[i];
            uint32_t x = anchor[e->a] ? e->b : e->a;
            int drop = !anchor[e->a] != !anchor[e->b];
            if (drop) {
                size_t lo = 0, hi = nbad;
                while (lo < hi) {
                    size_t mid = (lo + hi) / 2;
                    if (bad[mid] < x)
                        lo = mid + 1;
                    else
                        hi = mid;
                }
                drop = lo < nbad && bad[lo] == x;
            }
            if (!drop) edges[k++] = *e;
        }
        *n_edges = k;
    }
    free(bad);
    return nbad;
}

gh_err_t gh_match_resolve(const gh_match_model_t *m, const gh_match_set_t *set,
                          uint32_t *cluster_of, gh_match_batch_stats_t *st,
                          char *errstr, size_t errstr_size) {
    size_t n = gh_match_set_count(set);
    gh_match_batch_stats_t local;
    if (!st) st = &local;
    memset(st, 0, sizeof(*st));
    st->records = n;
    if (n >= UINT32_MAX)
        return gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                         "%zu records: at most %u can be resolved at once", n,
                         UINT32_MAX - 1);

    int nthreads = gh__match_threads();
    int64_t t0 = gh_now_us();
    gh__match_index_t *ix =
        gh__match_index_new(set, (size_t)m->block_max_size, nthreads);
    worker_t *w = gh_xcalloc((size_t)nthreads, sizeof(*w));
    void **ctx = gh_xmalloc((size_t)nthreads * sizeof(*ctx));
    for (int i = 0; i < nthreads; i++) {
        w[i].m = m;
        w[i].set = set;
        ctx[i] = &w[i];
    }
    int64_t t1 = gh_now_us();
    gh__match_index_pairs(ix, nthreads, 1.0, on_pair, ctx);
    int64_t t2 = gh_now_us();
    st->oversize_blocks = gh__match_index_oversize(ix);
    gh__match_index_destroy(ix);

    size_t total = 0;
    for (int i = 0; i < nthreads; i++)
        total += w[i].nedges;
    gh_match_edge_t *edges = w[0].edges;
    if (nthreads > 1) {
        edges = gh_xmalloc((total ? total : 1) * sizeof(*edges));
        size_t k = 0;
        for (int i = 0; i < nthreads; i++) {
            if (w[i].nedges)
                memcpy(edges + k, w[i].edges, w[i].nedges * sizeof(*edges));
            k += w[i].nedges;
            free(w[i].edges);
        }
    }
    for (int i = 0; i < nthreads; i++) {
        st->candidate_pairs += w[i].st.candidate_pairs;
        st->links += w[i].st.links;
        st->links_id += w[i].st.links_id;
        st->reviews += w[i].st.reviews;
        st->id_conflicts += w[i].st.id_conflicts;
    }
    uint64_t *anchor = gh_xmalloc((n ? n : 1) * sizeof(*anchor));
    for (size_t i = 0; i < n; i++)
        anchor[i] = gh_match_anchor(gh_match_set_get(set, i));
    st->ambiguous = drop_ambiguous(anchor, edges, &total);
    st->kept_apart =
        gh_match_cluster_anchored(n, edges, total, NULL, 0, anchor, cluster_of);
    free(anchor);
    int64_t t3 = gh_now_us();
    st->block_s = (double)(t1 - t0) / 1e6;
    st->score_s = (double)(t2 - t1) / 1e6;
    st->cluster_s = (double)(t3 - t2) / 1e6;
    for (size_t i = 0; i < n; i++)
        st->clusters += cluster_of[i] == i;
    free(edges);
    free(ctx);
    free(w);
    return GH_OK;
}
