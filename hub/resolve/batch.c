/*
 * gh_match_resolve: index, score every candidate pair on all threads
 * (keeping only the links), and cluster them with valid ID numbers as
 * anchors (gh_match_cluster, which also sets aside records that fit two
 * persons, exactly as the hub does).
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
    gh_match_cluster_stats_t cs;
    gh_match_cluster(n, edges, &total, NULL, 0, anchor, cluster_of, &cs);
    st->ambiguous = cs.ambiguous;
    st->kept_apart = cs.kept_apart;
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
