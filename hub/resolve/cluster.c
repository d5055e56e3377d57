/*
 * Clustering (gh_match_cluster, the one clustering of the batch and the
 * hub): the ambiguity filter, then union-find over the link edges,
 * strongest first, refusing a union that would put a kept-apart pair into
 * one cluster.
 *
 * Each cluster root owns the list of records its members must stay apart
 * from (both directions are listed), merged small-to-large, so checking a
 * union costs the smaller list. Anchors (valid ID numbers) work the same
 * way with one value per root. Without kept-apart pairs or anchors the
 * order of the unions cannot change the result, and the sort is skipped.
 */
#include <stdlib.h>
#include <string.h>

#include "gridhub/idnum.h"
#include "gridhub/util.h"
#include "match_int.h"

#define NONE UINT32_MAX

typedef struct vec {
    uint32_t *v;
    uint32_t n, cap;
} vec_t;

typedef struct uf {
    uint32_t *parent, *size;
    uint64_t *anchor;  /* per root; NULL if no anchors */
    uint32_t *list_of; /* root -> index into lists, or NONE; NULL if none */
    vec_t *lists;
} uf_t;

static uint32_t find(uf_t *u, uint32_t x) {
    uint32_t r = x;
    while (u->parent[r] != r)
        r = u->parent[r];
    while (u->parent[x] != r) { /* path compression */
        uint32_t next = u->parent[x];
        u->parent[x] = r;
        x = next;
    }
    return r;
}

static void push(vec_t *v, uint32_t x) {
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 4;
        v->v = gh_xrealloc(v->v, v->cap * sizeof(*v->v));
    }
    v->v[v->n++] = x;
}

/* 1 if joining roots ra and rb would join a kept-apart pair. */
static int apart_conflict(uf_t *u, uint32_t ra, uint32_t rb) {
    if (!u->list_of) return 0;
    uint32_t la = u->list_of[ra], lb = u->list_of[rb];
    if (la == NONE || lb == NONE) return 0;
    if (u->lists[la].n > u->lists[lb].n) {
        uint32_t t = ra;
        ra = rb;
        rb = t;
        la = lb;
    }
    for (uint32_t i = 0; i < u->lists[la].n; i++)
        if (find(u, u->lists[la].v[i]) == rb) return 1;
    return 0;
}

static void join(uf_t *u, uint32_t ra, uint32_t rb) {
    if (u->size[ra] < u->size[rb]) {
        uint32_t t = ra;
        ra = rb;
        rb = t;
    }
    u->parent[rb] = ra;
    u->size[ra] += u->size[rb];
    if (u->anchor && !u->anchor[ra]) u->anchor[ra] = u->anchor[rb];
    if (!u->list_of) return;
    uint32_t la = u->list_of[ra], lb = u->list_of[rb];
    if (lb == NONE) return;
    if (la == NONE) {
        u->list_of[ra] = lb;
    } else {
        if (u->lists[la].n < u->lists[lb].n) { /* keep the longer list */
            uint32_t t = la;
            la = lb;
            lb = t;
            u->list_of[ra] = la;
        }
        for (uint32_t i = 0; i < u->lists[lb].n; i++)
            push(&u->lists[la], u->lists[lb].v[i]);
        free(u->lists[lb].v);
        u->lists[lb] = (vec_t){0};
    }
    u->list_of[rb] = NONE;
}

static int usable(uint8_t kind) {
    return kind == GH_MATCH_LINK || kind == GH_MATCH_LINK_ID ||
           kind == GH_MATCH_FORCED;
}

/* Forced first, then by descending score; ties by record indexes, so the
 * result does not depend on the order the edges were found in. */
static int edge_cmp(const void *pa, const void *pb) {
    const gh_match_edge_t *a = pa, *b = pb;
    int fa = a->kind == GH_MATCH_FORCED, fb = b->kind == GH_MATCH_FORCED;
    if (fa != fb) return fb - fa;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    if (a->a != b->a) return a->a < b->a ? -1 : 1;
    return a->b < b->b ? -1 : a->b > b->b;
}

uint64_t gh_match_anchor(const gh_match_rec_t *r) {
    /* A number likely someone else's must not hold its record apart from
     * its holder's other records, nor pull it to the number's owner. An
     * upgraded 15-digit number had no check character to catch a typo,
     * so it holds nothing apart either. */
    if (r->id_status != GH_IDNUM_OK || !r->id_number[0] || r->id_foreign)
        return 0;
    uint64_t h = gh__match_hash(r->id_number, 18, 0xa11c);
    return h ? h : 1;
}

/* Union-find over the edges; returns the number refused. */
static size_t cluster(size_t n, const gh_match_edge_t *edges, size_t n_edges,
                      const uint32_t (*apart)[2], size_t n_apart,
                      const uint64_t *anchor, uint32_t *cluster_of) {
    uf_t u = {0};
    if (anchor) {
        u.anchor = gh_xmalloc((n ? n : 1) * sizeof(*u.anchor));
        memcpy(u.anchor, anchor, n * sizeof(*u.anchor));
    }
    u.parent = gh_xmalloc((n ? n : 1) * sizeof(*u.parent));
    u.size = gh_xmalloc((n ? n : 1) * sizeof(*u.size));
    for (size_t i = 0; i < n; i++) {
        u.parent[i] = (uint32_t)i;
        u.size[i] = 1;
    }
    size_t nlists = 0;
    if (n_apart) {
        u.list_of = gh_xmalloc((n ? n : 1) * sizeof(*u.list_of));
        memset(u.list_of, 0xff, (n ? n : 1) * sizeof(*u.list_of));
        u.lists = gh_xcalloc(2 * n_apart, sizeof(*u.lists));
        for (size_t i = 0; i < n_apart; i++) {
            uint32_t x = apart[i][0], y = apart[i][1];
            if (x >= n || y >= n || x == y) continue;
            for (int side = 0; side < 2; side++) {
                uint32_t p = side ? y : x, q = side ? x : y;
                if (u.list_of[p] == NONE) u.list_of[p] = (uint32_t)nlists++;
                push(&u.lists[u.list_of[p]], q);
            }
        }
    }

    const gh_match_edge_t *order = edges;
    gh_match_edge_t *sorted = NULL;
    if (n_apart || anchor) {
        size_t k = 0;
        sorted = gh_xmalloc((n_edges ? n_edges : 1) * sizeof(*sorted));
        for (size_t i = 0; i < n_edges; i++)
            if (usable(edges[i].kind)) sorted[k++] = edges[i];
        qsort(sorted, k, sizeof(*sorted), edge_cmp);
        order = sorted;
        n_edges = k;
    }
    size_t skipped = 0;
    for (size_t i = 0; i < n_edges; i++) {
        const gh_match_edge_t *e = &order[i];
        if (!usable(e->kind) || e->a >= n || e->b >= n) continue;
        uint32_t ra = find(&u, e->a), rb = find(&u, e->b);
        if (ra == rb) continue;
        /* A manual merge holds even against a kept-apart pair: the steward
         * who made it has the last word. */
        if (e->kind != GH_MATCH_FORCED &&
            ((u.anchor && u.anchor[ra] && u.anchor[rb] &&
              u.anchor[ra] != u.anchor[rb]) ||
             apart_conflict(&u, ra, rb))) {
            skipped++;
            continue;
        }
        join(&u, ra, rb);
    }

    /* size[] is free now: reuse it for "smallest member of the root". */
    for (size_t i = 0; i < n; i++)
        u.size[i] = NONE;
    for (size_t i = 0; i < n; i++) {
        uint32_t r = find(&u, (uint32_t)i);
        if (u.size[r] == NONE) u.size[r] = (uint32_t)i;
        cluster_of[i] = u.size[r];
    }
    for (size_t i = 0; i < nlists; i++)
        free(u.lists[i].v);
    free(u.lists);
    free(u.list_of);
    free(sorted);
    free(u.parent);
    free(u.size);
    free(u.anchor);
    return skipped;
}

/* ---- the ambiguity filter ---------------------------------------------- */

/* Two anchors' links within this many bits of each other are a tie. */
#define AMBIGUITY_BITS 2.0

typedef struct cand {
    uint32_t rec; /* the record without an anchor */
    float score;
    uint64_t anchor; /* the partner's */
} cand_t;

static int cand_cmp(const void *pa, const void *pb) {
    const cand_t *a = pa, *b = pb;
    if (a->rec != b->rec) return a->rec < b->rec ? -1 : 1;
    return a->score > b->score ? -1 : a->score < b->score;
}

static uint64_t pair_key(uint32_t a, uint32_t b) {
    return a < b ? (uint64_t)a << 32 | b : (uint64_t)b << 32 | a;
}

static int u64_cmp(const void *pa, const void *pb) {
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return a < b ? -1 : a > b;
}

static int in_sorted(const uint64_t *v, size_t n, uint64_t x) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && v[lo] == x;
}

/* A probabilistic or ID link (not forced) between an anchored record and
 * one without an anchor, both < n. */
static int cross_link(size_t n, const uint64_t *anchor,
                      const gh_match_edge_t *e) {
    if (e->kind != GH_MATCH_LINK && e->kind != GH_MATCH_LINK_ID) return 0;
    if (e->a >= n || e->b >= n) return 0;
    return !anchor[e->a] != !anchor[e->b];
}

/*
 * Step 1 of gh_match_cluster. A forced edge is a steward's decision, not
 * evidence: it neither makes a record ambiguous nor is dropped (it holds
 * whatever the filter says). A link between a kept-apart pair is no
 * candidate either, or keeping a record apart from one of two namesakes
 * would leave it stuck between them. Returns the number of records cut
 * loose; edges are filtered in place, in order.
 */
static size_t drop_ambiguous(size_t n, const uint64_t *anchor,
                             gh_match_edge_t *edges, size_t *n_edges,
                             const uint32_t (*apart)[2], size_t n_apart) {
    uint64_t *ap = NULL;
    if (n_apart) {
        ap = gh_xmalloc(n_apart * sizeof(*ap));
        for (size_t i = 0; i < n_apart; i++)
            ap[i] = pair_key(apart[i][0], apart[i][1]);
        qsort(ap, n_apart, sizeof(*ap), u64_cmp);
    }
    size_t nc = 0, cap = 1024;
    cand_t *c = gh_xmalloc(cap * sizeof(*c));
    for (size_t i = 0; i < *n_edges; i++) {
        const gh_match_edge_t *e = &edges[i];
        if (!cross_link(n, anchor, e)) continue;
        if (ap && in_sorted(ap, n_apart, pair_key(e->a, e->b))) continue;
        if (nc == cap) {
            cap *= 2;
            c = gh_xrealloc(c, cap * sizeof(*c));
        }
        uint64_t aa = anchor[e->a], ab = anchor[e->b];
        c[nc++] =
            aa ? (cand_t){e->b, e->score, aa} : (cand_t){e->a, e->score, ab};
    }
    free(ap);
    qsort(c, nc, sizeof(*c), cand_cmp);
    /* Records to cut loose, sorted (c is sorted by record). */
    size_t nbad = 0;
    uint64_t *bad = gh_xmalloc((nc ? nc : 1) * sizeof(*bad));
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
            if (!cross_link(n, anchor, e) ||
                !in_sorted(bad, nbad, anchor[e->a] ? e->b : e->a))
                edges[k++] = *e;
        }
        *n_edges = k;
    }
    free(bad);
    return nbad;
}

void gh_match_cluster(size_t n, gh_match_edge_t *edges, size_t *n_edges,
                      const uint32_t (*apart)[2], size_t n_apart,
                      const uint64_t *anchor, uint32_t *cluster_of,
                      gh_match_cluster_stats_t *st) {
    gh_match_cluster_stats_t local;
    if (!st) st = &local;
    memset(st, 0, sizeof(*st));
    if (anchor)
        st->ambiguous =
            drop_ambiguous(n, anchor, edges, n_edges, apart, n_apart);
    st->kept_apart =
        cluster(n, edges, *n_edges, apart, n_apart, anchor, cluster_of);
}
