/* The resolver's working set: records read from the hub database, kept
 * with their match records and golden candidates, found by rec_id. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "resolve_int.h"

/* ---- small helpers ---------------------------------------------------- */

const char *gh__res_val(PGresult *r, int i, int c) {
    return PQgetisnull(r, i, c) ? NULL : PQgetvalue(r, i, c);
}

int64_t gh__res_ival(PGresult *r, int i, int c, int64_t dflt) {
    return PQgetisnull(r, i, c) ? dflt : strtoll(PQgetvalue(r, i, c), NULL, 10);
}

void gh__res_keep(gh_resolver_t *r, PGresult *res) {
    if (r->nkeep == r->capkeep) {
        r->capkeep = r->capkeep ? r->capkeep * 2 : 16;
        r->keep = gh_xrealloc(r->keep, r->capkeep * sizeof(*r->keep));
    }
    r->keep[r->nkeep++] = res;
}

uint64_t gh__res_mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

void gh__res_hash_grow(gh_resolver_t *r) {
    size_t old = r->hmask ? r->hmask + 1 : 0;
    int64_t *ok = r->hkeys;
    uint32_t *ov = r->hvals;
    size_t cap = old ? old * 2 : 1024;
    r->hkeys = gh_xcalloc(cap, sizeof(int64_t));
    r->hvals = gh_xcalloc(cap, sizeof(uint32_t));
    r->hmask = cap - 1;
    for (size_t i = 0; i < old; i++)
        if (ov[i]) {
            size_t h = gh__res_mix((uint64_t)ok[i]) & r->hmask;
            while (r->hvals[h])
                h = (h + 1) & r->hmask;
            r->hkeys[h] = ok[i];
            r->hvals[h] = ov[i];
        }
    free(ok);
    free(ov);
}

/* w index of rec_id, or -1. */
long gh__res_find(const gh_resolver_t *r, int64_t rec_id) {
    if (!r->hmask) return -1;
    size_t h = gh__res_mix((uint64_t)rec_id) & r->hmask;
    while (r->hvals[h]) {
        if (r->hkeys[h] == rec_id) return (long)r->hvals[h] - 1;
        h = (h + 1) & r->hmask;
    }
    return -1;
}

/* Adds row i of res to the working set unless present; returns its index. */
size_t gh__res_add_row(gh_resolver_t *r, PGresult *res, int i, int changed) {
    int64_t id = gh__res_ival(res, i, C_REC, 0);
    long have = gh__res_find(r, id);
    if (have >= 0) {
        r->w[have].changed |= changed;
        return (size_t)have;
    }
    if ((r->nw + 1) * 2 > (r->hmask ? r->hmask + 1 : 0)) gh__res_hash_grow(r);
    if (r->nw == r->capw) {
        r->capw = r->capw ? r->capw * 2 : 256;
        r->w = gh_xrealloc(r->w, r->capw * sizeof(*r->w));
    }
    wrec_t *x = &r->w[r->nw];
    memset(x, 0, sizeof(*x));
    x->rec_id = id;
    x->dept = gh__res_val(res, i, C_DEPT);
    x->key = gh__res_val(res, i, C_KEY);
    x->old_pid = gh__res_val(res, i, C_PID);
    x->changed = changed;
    x->deleted = gh__res_ival(res, i, C_DELETED, 0) != 0;
    x->comp = -1;
    gh_match_rec_t m;
    memset(&m, 0, sizeof(m));
    m.department = x->dept;
    m.source_key = x->key;
    m.name = gh__res_val(res, i, C_NNAME);
    m.pinyin = gh__res_val(res, i, C_PINYIN);
    m.phone = gh__res_val(res, i, C_NPHONE);
    m.address = gh__res_val(res, i, C_NADDR);
    m.household_key = gh__res_val(res, i, C_HH);
    const char *idc = gh__res_val(res, i, C_IDCLEAN);
    if (idc) snprintf(m.id_number, sizeof(m.id_number), "%s", idc);
    m.id_status = (uint8_t)gh__res_ival(res, i, C_IDCODE, 2);
    m.sex = (uint8_t)gh__res_ival(res, i, C_SEX, 0);
    m.birth = (int32_t)gh__res_ival(res, i, C_BIRTH, GH_MATCH_NO_DATE);
    /* As the batch's normalization does (one engine, one record). */
    gh_match_fill_from_id(&m);
    x->midx = (uint32_t)gh_match_set_add(r->set, &m);
    gh_golden_src_t *g = &x->g;
    g->department = x->dept;
    g->source_key = x->key;
    /* Another resident's number is never this person's golden one. */
    g->value[GH_GOLDEN_ID] = m.id_foreign ? NULL : gh__res_val(res, i, C_ID);
    g->value[GH_GOLDEN_NAME] = gh__res_val(res, i, C_NNAME)
                                   ? gh__res_val(res, i, C_NNAME)
                                   : gh__res_val(res, i, C_NAME);
    const char *sx = gh__res_val(res, i, C_SEXTXT);
    g->value[GH_GOLDEN_SEX] = sx && strcmp(sx, "UNKNOWN") ? sx : NULL;
    x->sex_unknown = sx && !strcmp(sx, "UNKNOWN");
    g->value[GH_GOLDEN_BIRTH] = gh__res_val(res, i, C_BIRTHTXT);
    const char *np = gh__res_val(res, i, C_NPHONE);
    g->value[GH_GOLDEN_PHONE] = np && *np ? np : gh__res_val(res, i, C_PHONE);
    g->value[GH_GOLDEN_ADDRESS] = gh__res_val(res, i, C_ADDR);
    g->value[GH_GOLDEN_GRID] = gh__res_val(res, i, C_GRID);
    g->updated_us = gh__res_ival(res, i, C_UPDATED, INT64_MIN);
    g->position =
        gh__res_ival(res, i, C_LSN, 0) * 4096 + gh__res_ival(res, i, C_SEQ, 0);
    g->rec_id = id;
    size_t hh = gh__res_mix((uint64_t)id) & r->hmask;
    while (r->hvals[hh])
        hh = (hh + 1) & r->hmask;
    r->hkeys[hh] = id;
    r->hvals[hh] = (uint32_t)(r->nw + 1);
    return r->nw++;
}

const gh_match_rec_t *gh__res_mrec(const gh_resolver_t *r, size_t wi) {
    return gh_match_set_get(r->set, r->w[wi].midx);
}

void gh__res_reset_run(gh_resolver_t *r) {
    gh_match_set_clear(r->set);
    r->nw = 0;
    if (r->hmask) memset(r->hvals, 0, (r->hmask + 1) * sizeof(uint32_t));
    for (size_t i = 0; i < r->nkeep; i++)
        PQclear(r->keep[i]);
    r->nkeep = 0;
}

gh_err_t gh__res_open_recs(gh_resolver_t *r, PGresult *res, char *errstr,
                           size_t errstr_size) {
    static const int cols[] = {C_NPHONE, C_NADDR, C_IDCLEAN,
                               C_ID,     C_PHONE, C_ADDR};
    static const char *const fields[] = {"phone",     "address", "id_number",
                                         "id_number", "phone",   "address"};
    return gh_crypt_open_result(r->crypt, res, cols, fields, 6, errstr,
                                errstr_size);
}

gh_err_t gh__res_load_rows(gh_resolver_t *r, PGconn *db, const char *sql,
                           const char *param, int changed, const char *what,
                           char *errstr, size_t errstr_size) {
    const char *p[1] = {param};
    PGresult *res = gh_pg_query_what(db, sql, 1, p, what, errstr, errstr_size);
    if (!res) return GH_ERR_PG;
    gh__res_keep(r, res);
    gh_err_t e = gh__res_open_recs(r, res, errstr, errstr_size);
    if (e) return e;
    for (int i = 0; i < PQntuples(res); i++)
        gh__res_add_row(r, res, i, changed);
    return GH_OK;
}

/* ---- one run ------------------------------------------------------------ */

/* The first row of `r` (sorted by column 0 in byte order) whose column 0
 * is `key`, or the row where it would be. */
int gh__res_first_row(PGresult *r, const char *key) {
    int lo = 0, hi = PQntuples(r);
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (strcmp(PQgetvalue(r, mid, 0), key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int gh__res_cmp_str(const void *x, const void *y) {
    return strcmp(*(char *const *)x, *(char *const *)y);
}

int gh__res_in_strs(char **v, size_t n, const char *s) {
    return s && n && bsearch(&s, v, n, sizeof(char *), gh__res_cmp_str) != NULL;
}

size_t gh__res_uniq_strs(char **v, size_t n) {
    if (!n) return 0;
    qsort(v, n, sizeof(char *), gh__res_cmp_str);
    size_t k = 1;
    for (size_t i = 1; i < n; i++)
        if (strcmp(v[i], v[k - 1])) v[k++] = v[i];
    return k;
}
