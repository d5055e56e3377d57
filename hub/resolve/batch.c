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
    gh_match_edge_t *items; /* for the steward, when asked for */
    size_t nitems, capitems;
    int want_items;
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
        goto item;
    case GH_MATCH_ID_CONFLICT:
        w->st.id_conflicts++;
        goto item;
    case GH_MATCH_TWO_IDS:
        w->st.two_ids++;
        goto item;
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
    return;
item:
    if (!w->want_items) return;
    if (w->nitems == w->capitems) {
        w->capitems = w->capitems ? 2 * w->capitems : 1024;
        w->items = gh_xrealloc(w->items, w->capitems * sizeof(*w->items));
    }
    w->items[w->nitems++] = (gh_match_edge_t){a, b, (float)ex.total, d};
}

/* Concatenates the workers' arrays of one kind (taking ownership). */
static gh_match_edge_t *gather(worker_t *w, int nthreads, int items,
                               size_t *total) {
    *total = 0;
    for (int i = 0; i < nthreads; i++)
        *total += items ? w[i].nitems : w[i].nedges;
    gh_match_edge_t *all = gh_xmalloc((*total ? *total : 1) * sizeof(*all));
    size_t k = 0;
    for (int i = 0; i < nthreads; i++) {
        gh_match_edge_t *v = items ? w[i].items : w[i].edges;
        size_t nv = items ? w[i].nitems : w[i].nedges;
        if (nv) memcpy(all + k, v, nv * sizeof(*all));
        k += nv;
        free(v);
    }
    return all;
}

gh_err_t gh_match_resolve(const gh_match_model_t *m, gh_match_set_t *set,
                          uint32_t *cluster_of, gh_match_batch_stats_t *st,
                          char *errstr, size_t errstr_size) {
    return gh_match_resolve_items(m, set, cluster_of, st, NULL, NULL, errstr,
                                  errstr_size);
}

gh_err_t gh_match_resolve_items(const gh_match_model_t *m, gh_match_set_t *set,
                                uint32_t *cluster_of,
                                gh_match_batch_stats_t *st,
                                gh_match_edge_t **items, size_t *n_items,
                                char *errstr, size_t errstr_size) {
    size_t n = gh_match_set_count(set);
    gh_match_batch_stats_t local;
    if (!st) st = &local;
    memset(st, 0, sizeof(*st));
    st->records = n;
    if (items) *items = NULL;
    if (n_items) *n_items = 0;
    if (n >= UINT32_MAX)
        return gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                         "%zu records: at most %u can be resolved at once", n,
                         UINT32_MAX - 1);
    st->lent_addresses = gh_match_set_lend_addresses(set);

    int nthreads = gh__match_threads();
    int64_t t0 = gh_now_us();
    gh__match_index_t *ix =
        gh__match_index_new(set, (size_t)m->block_max_size, nthreads);
    worker_t *w = gh_xcalloc((size_t)nthreads, sizeof(*w));
    void **ctx = gh_xmalloc((size_t)nthreads * sizeof(*ctx));
    for (int i = 0; i < nthreads; i++) {
        w[i].m = m;
        w[i].set = set;
        w[i].want_items = items != NULL;
        ctx[i] = &w[i];
    }
    int64_t t1 = gh_now_us();
    gh__match_index_pairs(ix, nthreads, 1.0, on_pair, ctx);
    int64_t t2 = gh_now_us();
    st->oversize_blocks = gh__match_index_oversize(ix);
    gh__match_index_destroy(ix);

    for (int i = 0; i < nthreads; i++) {
        st->candidate_pairs += w[i].st.candidate_pairs;
        st->links += w[i].st.links;
        st->links_id += w[i].st.links_id;
        st->reviews += w[i].st.reviews;
        st->id_conflicts += w[i].st.id_conflicts;
        st->two_ids += w[i].st.two_ids;
    }
    size_t total, nit;
    gh_match_edge_t *edges = gather(w, nthreads, 0, &total);
    gh_match_edge_t *its = gather(w, nthreads, 1, &nit);
    uint64_t *anchor = gh_xmalloc((n ? n : 1) * sizeof(*anchor));
    for (size_t i = 0; i < n; i++) {
        const gh_match_rec_t *r = gh_match_set_get(set, i);
        anchor[i] = gh_match_anchor(r);
        st->foreign_ids += r->id_foreign;
    }
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
    /* What clustering joined anyway (through other records) is no longer
     * a question for the steward. */
    size_t k = 0;
    for (size_t i = 0; i < nit; i++)
        if (cluster_of[its[i].a] != cluster_of[its[i].b]) its[k++] = its[i];
    if (items && k) {
        *items = its;
        *n_items = k;
    } else {
        free(its);
    }
    free(edges);
    free(ctx);
    free(w);
    return GH_OK;
}
