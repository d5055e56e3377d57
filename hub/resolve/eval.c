/*
 * Pairwise precision and recall from contingency counts: with n_ct records
 * of true person t in cluster c, correct pairs are sum C(n_ct, 2),
 * predicted pairs sum C(n_c, 2), true pairs sum C(n_t, 2). Pairs involving
 * at least one record with an error of kind k: C(n, 2) - C(n - e, 2) with
 * e the records of the group that have it.
 */
#include <stdlib.h>
#include <string.h>

#include "gridhub/idnum.h"
#include "gridhub/util.h"
#include "match_int.h"

#define NK GH_MATCH_EVAL_KINDS

static double c2(double x) {
    return x * (x - 1) / 2;
}

/* Walks groups of equal keys (kv sorted) and adds, per group, C(n, 2) to
 * *all and, per kind, C(n, 2) - C(n - e, 2) to each[k]. Returns the number
 * of groups. `shift` selects the part of the key that defines a group. */
static size_t groups(const gh__kv_t *kv, size_t n, int shift,
                     const uint32_t *kinds, double *all, double each[NK]) {
    size_t ngroups = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && kv[j].key >> shift == kv[i].key >> shift)
            j++;
        double e[NK] = {0};
        if (kinds)
            for (size_t x = i; x < j; x++)
                for (uint32_t b = kinds[kv[x].val]; b; b &= b - 1)
                    e[__builtin_ctz(b)]++;
        double k = (double)(j - i);
        *all += c2(k);
        for (int b = 0; b < NK; b++)
            if (e[b]) each[b] += c2(k) - c2(k - e[b]);
        ngroups++;
        i = j;
    }
    return ngroups;
}

void gh_match_evaluate(size_t n, const uint32_t *cluster, const uint32_t *truth,
                       const uint32_t *kinds, gh_match_eval_t *out) {
    memset(out, 0, sizeof(*out));
    gh__kv_t *kv = gh_xmalloc((n ? n : 1) * sizeof(*kv));
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (truth[i] == UINT32_MAX) continue;
        kv[m++] = (gh__kv_t){(uint64_t)cluster[i] << 32 | truth[i], i};
        if (kinds)
            for (uint32_t b = kinds[i]; b; b &= b - 1)
                out->kind[__builtin_ctz(b)].records++;
    }
    out->records = m;
    double found[NK] = {0}, predicted[NK] = {0}, want[NK] = {0};
    gh__match_sort_kv(kv, m);
    groups(kv, m, 0, kinds, &out->correct_pairs, found);
    out->predicted_clusters =
        groups(kv, m, 32, kinds, &out->predicted_pairs, predicted);
    for (size_t i = 0; i < m; i++)
        kv[i].key = (uint32_t)kv[i].key; /* the truth label alone */
    gh__match_sort_kv(kv, m);
    out->true_clusters = groups(kv, m, 0, kinds, &out->true_pairs, want);
    free(kv);
    for (int b = 0; b < NK; b++) {
        out->kind[b].true_pairs = want[b];
        out->kind[b].found_pairs = found[b];
        out->kind[b].false_pairs = predicted[b] - found[b];
    }
    out->precision = out->predicted_pairs > 0
                         ? out->correct_pairs / out->predicted_pairs
                         : 1;
    out->recall =
        out->true_pairs > 0 ? out->correct_pairs / out->true_pairs : 1;
    double s = out->precision + out->recall;
    out->f1 = s > 0 ? 2 * out->precision * out->recall / s : 0;
}

uint64_t gh_match_id_key(const gh_match_rec_t *r) {
    /* A foreign number decides nothing: it is not compared. */
    if (!gh_idnum_is_valid(r->id_status) || r->id_foreign) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 17; i++) {
        if (r->id_number[i] < '0' || r->id_number[i] > '9') return 0;
        v = v * 10 + (uint64_t)(r->id_number[i] - '0');
    }
    return v + 1;
}

typedef struct idrow {
    uint64_t cp; /* cluster << 32 | person */
    uint64_t id;
    uint32_t kinds;
} idrow_t;

static int idrow_cmp(const void *a, const void *b) {
    const idrow_t *x = a, *y = b;
    if (x->cp != y->cp) return x->cp < y->cp ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

void gh_match_evaluate_id(size_t n, const uint32_t *cluster,
                          const uint32_t *truth, const uint32_t *kinds,
                          const uint64_t *id_key, gh_match_eval_t *out) {
    /* Only records with a valid number can be in such a pair: sort those
     * by (cluster, person, number) and count C(n, 2) per run. */
    idrow_t *rows = gh_xmalloc((n ? n : 1) * sizeof(*rows));
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (truth[i] != UINT32_MAX && id_key[i])
            rows[m++] = (idrow_t){(uint64_t)cluster[i] << 32 | truth[i],
                                  id_key[i], kinds ? kinds[i] : 0};
    qsort(rows, m, sizeof(*rows), idrow_cmp);
    out->id_pairs = 0;
    for (int b = 0; b < NK; b++)
        out->kind[b].id_pairs = 0;
    for (size_t i = 0; i < m;) {
        size_t j = i + 1;
        while (j < m && rows[j].cp == rows[i].cp && rows[j].id == rows[i].id)
            j++;
        double e[NK] = {0}, k = (double)(j - i);
        for (size_t x = i; x < j; x++)
            for (uint32_t b = rows[x].kinds; b; b &= b - 1)
                e[__builtin_ctz(b)]++;
        out->id_pairs += c2(k);
        for (int b = 0; b < NK; b++)
            if (e[b]) out->kind[b].id_pairs += c2(k) - c2(k - e[b]);
        i = j;
    }
    free(rows);
}

typedef struct splitrow {
    uint32_t person, cluster;
    uint64_t anchor;
    uint32_t kinds;
} splitrow_t;

static int splitrow_cmp(const void *a, const void *b) {
    const splitrow_t *x = a, *y = b;
    if (x->person != y->person) return x->person < y->person ? -1 : 1;
    return x->cluster < y->cluster ? -1 : x->cluster > y->cluster;
}

static int u32_cmp(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

void gh_match_evaluate_split(size_t n, const uint32_t *cluster,
                             const uint32_t *truth, const uint64_t *anchor,
                             const uint32_t *kinds, int kind_bit,
                             const gh_match_edge_t *items, size_t n_items,
                             gh_match_split_eval_t *out) {
    memset(out, 0, sizeof(*out));
    /* Persons told: an item between two of their records in two
     * clusters. */
    uint32_t *told = gh_xmalloc((n_items ? n_items : 1) * sizeof(*told));
    size_t nt = 0;
    for (size_t i = 0; i < n_items; i++) {
        uint32_t a = items[i].a, b = items[i].b;
        if (a >= n || b >= n || truth[a] == UINT32_MAX ||
            truth[a] != truth[b] || cluster[a] == cluster[b])
            continue;
        told[nt++] = truth[a];
    }
    qsort(told, nt, sizeof(*told), u32_cmp);
    /* Persons split: records in clusters whose anchors differ. A
     * cluster's anchor is any member's non-zero one (clustering never
     * joins two). */
    splitrow_t *rows = gh_xmalloc((n ? n : 1) * sizeof(*rows));
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (truth[i] != UINT32_MAX)
            rows[m++] = (splitrow_t){truth[i], cluster[i], anchor[i],
                                     kinds ? kinds[i] : 0};
    qsort(rows, m, sizeof(*rows), splitrow_cmp);
    for (size_t i = 0; i < m;) {
        size_t j = i;
        uint64_t first = 0;
        int split = 0;
        uint32_t k = 0;
        while (j < m && rows[j].person == rows[i].person) {
            k |= rows[j].kinds;
            if (rows[j].anchor) {
                if (!first)
                    first = rows[j].anchor;
                else if (rows[j].anchor != first)
                    split = 1;
            }
            j++;
        }
        if (split) {
            int has = nt && bsearch(&rows[i].person, told, nt, sizeof(*told),
                                    u32_cmp) != NULL;
            int of_kind = kind_bit >= 0 && kind_bit < 32 && (k >> kind_bit & 1);
            out->split++;
            out->told += (size_t)has;
            out->kind_split += (size_t)of_kind;
            out->kind_told += (size_t)(of_kind && has);
        }
        i = j;
    }
    free(rows);
    free(told);
}
