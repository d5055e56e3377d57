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

int gh__res_cmp_pair(const void *x, const void *y) {
    const pair_t *a = x, *b = y;
    if (a->a != b->a) return a->a < b->a ? -1 : 1;
    return a->b < b->b ? -1 : a->b > b->b;
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
    uint64_t *all = NULL;
    size_t nall = 0, capall = 0;
    for (size_t i = 0; i < nchanged; i++) {
        /* A deleted record keeps its keys: a resident deleted and entered
         * again (a table reloaded) finds their old person id through it. */
        uint64_t k[16];
        size_t nk = gh_match_block_keys(gh__res_mrec(r, i), k, 16);
        /* Stored keyed: an unkeyed hash of an ID number or a phone can be
         * reversed by trying every number (docs/encryption.md). */
        for (size_t j = 0; j < nk; j++)
            k[j] = gh_crypt_blind64(r->crypt, "block", k[j]);
        for (size_t j = 0; j < nk; j++) {
            gh_sqlarr_int(a1, (int64_t)k[j]);
            gh_sqlarr_int(a2, r->w[i].rec_id);
            if (r->w[i].deleted) continue;
            if (nall == capall) {
                capall = capall ? capall * 2 : 256;
                all = gh_xrealloc(all, capall * sizeof(*all));
            }
            all[nall++] = k[j];
        }
    }
    *pairs_out = NULL;
    *npairs_out = 0;
    if (!a1->n) return GH_OK;
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
    gh_sqlarr_reset(a1);
    for (size_t i = 0; i < nall; i++)
        gh_sqlarr_int(a1, (int64_t)all[i]);
    p[0] = gh_sqlarr_get(a1);
    res = gh_pg_query_what(
        db,
        "SELECT b.block_key, b.rec_id FROM (SELECT DISTINCT k FROM "
        "unnest($1::bigint[]) AS k) u JOIN person_block b ON b.block_key "
        "= u.k ORDER BY b.block_key",
        1, p, "read blocks", errstr, errstr_size);
    free(all);
    if (!res) return GH_ERR_PG;
    int n = PQntuples(res);
    pair_t *pairs = NULL;
    size_t np = 0, cap = 0;
    for (int i = 0; i < n;) {
        int j = i;
        const char *k = PQgetvalue(res, i, 0);
        while (j < n && !strcmp(PQgetvalue(res, j, 0), k))
            j++;
        if (j - i > r->block_max) {
            (*oversize)++;
            i = j;
            continue;
        }
        for (int x = i; x < j; x++) {
            int64_t rx = gh__res_ival(res, x, 1, 0);
            long wx = gh__res_find(r, rx);
            if (wx < 0 || !r->w[wx].changed || r->w[wx].deleted) continue;
            for (int y = i; y < j; y++) {
                int64_t ry = gh__res_ival(res, y, 1, 0);
                if (ry == rx) continue;
                long wy = gh__res_find(r, ry);
                /* Two changed records: one pair, from the smaller id. */
                if (wy >= 0 && r->w[wy].changed && !r->w[wy].deleted && ry < rx)
                    continue;
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
    PQclear(res);
    if (np) qsort(pairs, np, sizeof(*pairs), gh__res_cmp_pair);
    size_t k = 0;
    for (size_t i = 0; i < np; i++)
        if (!k || gh__res_cmp_pair(&pairs[i], &pairs[k - 1]))
            pairs[k++] = pairs[i];
    *pairs_out = pairs;
    *npairs_out = k;
    return GH_OK;
}
