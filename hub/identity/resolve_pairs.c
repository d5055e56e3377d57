/* Blocking keys in and candidate pairs out; the evidence of a scored pair. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "resolve_int.h"

void gh__res_date_text(int32_t d, char out[11]) {
    if (d == GH_MATCH_NO_DATE)
        out[0] = '\0';
    else
        gh_date_format(d, out);
}

const char *gh__res_field_value(const gh_match_rec_t *m, int f, char *tmp) {
    switch (f) {
    case GH_MATCH_F_ID:
        return m->id_number[0] ? m->id_number : NULL;
    case GH_MATCH_F_NAME:
        return m->name;
    case GH_MATCH_F_BIRTH:
        gh__res_date_text(m->birth, tmp);
        return tmp[0] ? tmp : NULL;
    case GH_MATCH_F_SEX:
        return m->sex == 1 ? "MALE" : m->sex == 2 ? "FEMALE" : NULL;
    case GH_MATCH_F_PHONE:
        return m->phone;
    case GH_MATCH_F_ADDRESS:
        return m->address;
    default:
        return NULL;
    }
}

/* The evidence of a scored pair as JSON: the waterfall of the score and
 * the compared values side by side (caller frees). */
char *gh__res_evidence_json(gh_crypt_t *c, const gh_match_rec_t *a,
                            const gh_match_rec_t *b, gh_match_decision_t d,
                            const gh_match_explain_t *ex) {
    json_t *o = json_object(), *fs = json_array();
    json_object_set_new(o, "decision", json_string(gh_match_decision_name(d)));
    json_object_set_new(o, "score", json_real(ex->total));
    json_object_set_new(o, "probability", json_real(ex->probability));
    json_object_set_new(o, "prior", json_real(ex->prior));
    for (int f = 0; f < GH_MATCH_F__COUNT; f++) {
        char ta[11], tb[11];
        const char *va = gh__res_field_value(a, f, ta),
                   *vb = gh__res_field_value(b, f, tb);
        json_t *e = json_object();
        json_object_set_new(e, "field", json_string(gh_match_field_name(f)));
        json_object_set_new(e, "level",
                            json_string(gh_match_level_name(f, ex->level[f])));
        json_object_set_new(e, "weight", json_real(ex->weight[f]));
        /* Compared values that are personal data are sealed. */
        int seal = f == GH_MATCH_F_ID || f == GH_MATCH_F_PHONE ||
                   f == GH_MATCH_F_ADDRESS;
        json_object_set_new(e, "a", gh_crypt_json_string(c, seal, va));
        json_object_set_new(e, "b", gh_crypt_json_string(c, seal, vb));
        /* An address lent by the holders of a foreign number. */
        if (f == GH_MATCH_F_ADDRESS &&
            (a->address_from_id || b->address_from_id))
            json_object_set_new(e, "from_id",
                                json_string(a->address_from_id ? "a" : "b"));
        json_array_append_new(fs, e);
    }
    json_object_set_new(o, "fields", fs);
    json_t *ra = json_object(), *rb = json_object();
    json_object_set_new(ra, "department", json_string(a->department));
    json_object_set_new(ra, "source_key", json_string(a->source_key));
    json_object_set_new(rb, "department", json_string(b->department));
    json_object_set_new(rb, "source_key", json_string(b->source_key));
    json_object_set_new(o, "a", ra);
    json_object_set_new(o, "b", rb);
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(o);
    return s;
}

size_t gh__res_rec_keys(gh_resolver_t *r, size_t wi, int64_t out[16]) {
    uint64_t k[16];
    size_t nk = gh_match_block_keys(gh__res_mrec(r, wi), k, 16);
    /* Stored keyed: an unkeyed hash of an ID number or a phone can be
     * reversed by trying every number (docs/encryption.md). */
    for (size_t j = 0; j < nk; j++)
        out[j] = (int64_t)gh_crypt_blind64(r->crypt, "block", k[j]);
    return nk;
}

int gh__res_cmp_pair(const void *x, const void *y) {
    const pair_t *a = x, *b = y;
    if (a->a != b->a) return a->a < b->a ? -1 : 1;
    return a->b < b->b ? -1 : a->b > b->b;
}

static int cmp_i64(const void *x, const void *y) {
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

/* Steps 1-2: replaces the blocking keys of the changed records and finds
 * the candidate pairs. */
gh_err_t gh__res_block_and_pair(gh_resolver_t *r, PGconn *db, gh_sqlarr_t *a1,
                                gh_sqlarr_t *a2, pair_t **pairs_out,
                                size_t *npairs_out, long long *oversize,
                                char *errstr, size_t errstr_size) {
    size_t nchanged = r->nw;
    gh_sqlarr_reset(a1);
    gh_sqlarr_reset(a2);
    pair_t *kr = NULL;   /* (key, rec_id) to store */
    int64_t *all = NULL; /* the live records' keys, to read their blocks */
    size_t nkr = 0, capkr = 0, nall = 0, capall = 0;
    for (size_t i = 0; i < nchanged; i++) {
        /* A deleted record keeps its keys: a resident deleted and entered
         * again (a table reloaded) finds their old person id through it. */
        int64_t k[16];
        size_t nk = gh__res_rec_keys(r, i, k);
        for (size_t j = 0; j < nk; j++) {
            int64_t bk = k[j];
            if (nkr == capkr) {
                capkr = capkr ? capkr * 2 : 256;
                kr = gh_xrealloc(kr, capkr * sizeof(*kr));
            }
            kr[nkr++] = (pair_t){bk, r->w[i].rec_id};
            if (r->w[i].deleted) continue;
            if (nall == capall) {
                capall = capall ? capall * 2 : 256;
                all = gh_xrealloc(all, capall * sizeof(*all));
            }
            all[nall++] = bk;
        }
    }
    *pairs_out = NULL;
    *npairs_out = 0;
    if (!nkr) {
        free(all);
        return GH_OK;
    }
    /* In the index's order: a batch's keys are random hashes, and inserted
     * in order they walk the B-tree's leaves once instead of jumping
     * between them (100,000 keys into 6.5M: 0.55 s sorted, 0.8-1.0 s in
     * random order, docs/performance.md). */
    qsort(kr, nkr, sizeof(*kr), gh__res_cmp_pair);
    for (size_t i = 0; i < nkr; i++) {
        if (i && !gh__res_cmp_pair(&kr[i], &kr[i - 1])) continue;
        gh_sqlarr_int(a1, kr[i].a);
        gh_sqlarr_int(a2, kr[i].b);
    }
    free(kr);
    const char *p[2] = {gh_sqlarr_get(a1), gh_sqlarr_get(a2)};
    PGresult *res = gh_pg_query_what(
        db,
        "INSERT INTO person_block SELECT unnest($1::bigint[]), "
        "unnest($2::bigint[]) ON CONFLICT DO NOTHING",
        2, p, "write blocking keys", errstr, errstr_size);
    if (!res) {
        free(all);
        return GH_ERR_PG;
    }
    PQclear(res);
    if (!nall) {
        free(all);
        return GH_OK;
    }
    qsort(all, nall, sizeof(*all), cmp_i64);
    gh_sqlarr_reset(a1);
    for (size_t i = 0; i < nall; i++)
        if (!i || all[i] != all[i - 1]) gh_sqlarr_int(a1, all[i]);
    free(all);
    p[0] = gh_sqlarr_get(a1);
    res = gh_pg_query_what(
        db,
        "SELECT b.block_key, b.rec_id FROM unnest($1::bigint[]) AS u(k) "
        "JOIN person_block b ON b.block_key = u.k",
        1, p, "read blocks", errstr, errstr_size);
    if (!res) return GH_ERR_PG;
    /* Grouped here rather than by an ORDER BY: PostgreSQL sorted 228,000
     * rows a batch on average at a tenth of the city, more than the default
     * work_mem holds. */
    size_t n = (size_t)PQntuples(res);
    pair_t *br = gh_xcalloc(n + 1, sizeof(*br));
    for (size_t i = 0; i < n; i++)
        br[i] = (pair_t){gh__res_ival(res, (int)i, 0, 0),
                         gh__res_ival(res, (int)i, 1, 0)};
    PQclear(res);
    qsort(br, n, sizeof(*br), gh__res_cmp_pair);
    /* Per row of a block: whether it is a live changed record (it pairs
     * with every other row). */
    unsigned char *live = gh_xcalloc(n + 1, 1);
    for (size_t i = 0; i < n; i++) {
        long w = gh__res_find(r, br[i].b);
        live[i] = w >= 0 && r->w[w].changed && !r->w[w].deleted;
    }
    pair_t *pairs = NULL;
    size_t np = 0, cap = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && br[j].a == br[i].a)
            j++;
        if (j - i > (size_t)r->block_max) {
            (*oversize)++;
            i = j;
            continue;
        }
        for (size_t x = i; x < j; x++) {
            if (!live[x]) continue;
            int64_t rx = br[x].b;
            for (size_t y = i; y < j; y++) {
                int64_t ry = br[y].b;
                if (ry == rx) continue;
                /* Two changed records: one pair, from the smaller id. */
                if (live[y] && ry < rx) continue;
                if (np == cap) {
                    cap = cap ? cap * 2 : 256;
                    pairs = gh_xrealloc(pairs, cap * sizeof(*pairs));
                }
                pairs[np].a = rx < ry ? rx : ry;
                pairs[np].b = rx < ry ? ry : rx;
                np++;
            }
        }
        i = j;
    }
    free(live);
    free(br);
    if (np) qsort(pairs, np, sizeof(*pairs), gh__res_cmp_pair);
    size_t k = 0;
    for (size_t i = 0; i < np; i++)
        if (!k || gh__res_cmp_pair(&pairs[i], &pairs[k - 1]))
            pairs[k++] = pairs[i];
    *pairs_out = pairs;
    *npairs_out = k;
    return GH_OK;
}
