/* Applying a batch of person change events set-based: one query reads the
 * stored rows of every key in the batch, the events are folded in memory
 * in order (replays and events older than a TRUNCATE skipped, TOASTed
 * values kept), and one statement writes the upserts and one the deletes.
 * Round trips per batch instead of per event: this is what lets the hub
 * keep up with a department snapshot. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply_int.h"
#include "gridhub/pg.h"
#include "gridhub/util.h"
#include "gridhub/sqlarr.h"

typedef struct kstate {
    const char *dept, *key, *table;
    gh_apply_pos_t pos;
    int was_live; /* stored and not deleted before the batch */
    const char *old_name, *old_pinyin;
    char *val[GH_AF_N]; /* borrowed (events or stored rows) */
} kstate_t;

static int cmp_key(const char *d1, const char *k1, const char *d2,
                   const char *k2) {
    int c = strcmp(d1, d2);
    return c ? c : strcmp(k1, k2);
}

static const gh_apply_ev_t *g_sort_evs; /* qsort has no context argument */

static int cmp_ev_idx(const void *x, const void *y) {
    const gh_apply_ev_t *a = &g_sort_evs[*(const int *)x],
                        *b = &g_sort_evs[*(const int *)y];
    return cmp_key(a->dept, a->key, b->dept, b->key);
}

static int cmp_state(const void *x, const void *y) {
    const kstate_t *a = x, *b = y;
    return cmp_key(a->dept, a->key, b->dept, b->key);
}

PGresult *gh_apply_read_watermarks(gh_apply_t *a, char *errstr,
                                   size_t errstr_size) {
    return gh_pg_query_what(a->db,
                            "SELECT department, source_table, pos_lsn, "
                            "pos_seq FROM table_watermark",
                            0, NULL, "read truncate watermarks", errstr,
                            errstr_size);
}

int gh_apply_advance(gh_apply_pos_t *p, PGresult *wm, const gh_apply_ev_t *x) {
    if (gh_apply_truncated(wm, x)) return 0;
    if ((p->exists || p->dirty) &&
        (x->lsn < p->lsn || (x->lsn == p->lsn && x->seq <= p->seq)))
        return 0;
    p->lsn = x->lsn;
    p->seq = x->seq;
    p->table = x->table;
    p->dirty = 1;
    p->deleted = x->op == 'd';
    return 1;
}

int gh_apply_truncated(PGresult *wm, const gh_apply_ev_t *ev) {
    for (int i = 0; wm && i < PQntuples(wm); i++) {
        if (strcmp(PQgetvalue(wm, i, 0), ev->dept) ||
            strcmp(PQgetvalue(wm, i, 1), ev->table))
            continue;
        int64_t l = strtoll(PQgetvalue(wm, i, 2), NULL, 10);
        int64_t s = strtoll(PQgetvalue(wm, i, 3), NULL, 10);
        return l > ev->lsn || (l == ev->lsn && s >= ev->seq);
    }
    return 0;
}

static gh_err_t write_upserts(gh_apply_t *a, kstate_t *ks, int nk, char *errstr,
                              size_t errstr_size) {
    enum { NA = 25 };
    gh_sqlarr_t arr[NA];
    memset(arr, 0, sizeof(arr));
    for (int j = 0; j < NA; j++)
        gh_sqlarr_reset(&arr[j]);
    int n = 0;
    for (int i = 0; i < nk; i++) {
        kstate_t *k = &ks[i];
        if (!k->pos.dirty || k->pos.deleted) continue;
        gh_apply_norm_t nm;
        gh_apply_normalize(k->val, &nm);
        const char *v[NA] = {k->dept,
                             k->key,
                             k->pos.table,
                             NULL,
                             NULL,
                             k->val[GH_AF_ID_RAW],
                             nm.valid,
                             nm.status,
                             k->val[GH_AF_NAME],
                             k->val[GH_AF_SEX],
                             k->val[GH_AF_BIRTH],
                             k->val[GH_AF_PHONE],
                             k->val[GH_AF_ADDRESS],
                             k->val[GH_AF_GRID],
                             k->val[GH_AF_HOUSEHOLD],
                             k->val[GH_AF_REMARK],
                             k->val[GH_AF_UPDATED],
                             gh_apply_nz(nm.idn),
                             nm.code,
                             gh_apply_nz(nm.name),
                             gh_apply_nz(nm.pinyin),
                             gh_apply_nz(nm.phone),
                             gh_apply_nz(nm.address),
                             nm.sex,
                             NULL};
        char *sealed[GH_APPLY_NSEALED];
        gh_apply_seal(a, v, sealed);
        for (int j = 0; j < NA; j++) {
            if (j == 3)
                gh_sqlarr_int(&arr[j], k->pos.lsn);
            else if (j == 4)
                gh_sqlarr_int(&arr[j], k->pos.seq);
            else if (j == NA - 1) /* the keyed ID blocking key (apply.c) */
                gh_sqlarr_int(&arr[j], (int64_t)gh_resolver_id_key(
                                           a->resolver, k->val[GH_AF_ID_RAW]));
            else
                gh_sqlarr_text(&arr[j], v[j]);
        }
        gh_apply_sealed_free(sealed);
        if (k->was_live && k->old_name)
            gh_resolver_count_name(a->resolver, k->old_name, k->old_pinyin, -1);
        gh_resolver_count_name(a->resolver, gh_apply_nz(nm.name),
                               gh_apply_nz(nm.pinyin), +1);
        n++;
    }
    gh_err_t e = GH_OK;
    if (n) {
        const char *p[NA];
        for (int j = 0; j < NA; j++)
            p[j] = gh_sqlarr_get(&arr[j]);
        PGresult *r = gh_pg_query_what(
            a->db,
            "INSERT INTO source_person AS s (department, source_key, "
            "source_table, pos_lsn, pos_seq, deleted, id_number_raw, "
            "id_number, id_status, name, sex, birth_date, phone, address, "
            "grid_code, household_key, remark, source_updated_at, id_clean, "
            "id_code, n_name, n_pinyin, n_phone, n_address, sex_code, "
            "id_key) SELECT d, k, t, l, q, false, f0, f1, f2, f3, f4, "
            "f5::date, f6, f7, f8, f9, f10, f11::timestamptz, f12, "
            "f13::smallint, f14, f15, f16, f17, f18::smallint, f19 FROM "
            "unnest($1::text[], $2::text[], "
            "$3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::text[], "
            "$8::text[], $9::text[], $10::text[], $11::text[], $12::text[], "
            "$13::text[], $14::text[], $15::text[], $16::text[], $17::text[], "
            "$18::text[], $19::text[], $20::text[], $21::text[], $22::text[], "
            "$23::text[], $24::text[], $25::bigint[]) AS u(d, k, t, l, q, "
            "f0, f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12, f13, f14, "
            "f15, f16, f17, f18, f19) ON CONFLICT (department, source_key) DO "
            "UPDATE SET "
            "source_table = EXCLUDED.source_table, pos_lsn = EXCLUDED.pos_lsn, "
            "pos_seq = EXCLUDED.pos_seq, deleted = false, id_number_raw = "
            "EXCLUDED.id_number_raw, id_number = EXCLUDED.id_number, "
            "id_status = EXCLUDED.id_status, name = EXCLUDED.name, sex = "
            "EXCLUDED.sex, birth_date = EXCLUDED.birth_date, phone = "
            "EXCLUDED.phone, address = EXCLUDED.address, grid_code = "
            "EXCLUDED.grid_code, household_key = EXCLUDED.household_key, "
            "remark = EXCLUDED.remark, source_updated_at = "
            "EXCLUDED.source_updated_at, id_clean = EXCLUDED.id_clean, "
            "id_code = EXCLUDED.id_code, n_name = EXCLUDED.n_name, n_pinyin = "
            "EXCLUDED.n_pinyin, n_phone = EXCLUDED.n_phone, n_address = "
            "EXCLUDED.n_address, sex_code = EXCLUDED.sex_code, id_key = "
            "EXCLUDED.id_key, applied_at = now() RETURNING rec_id",
            NA, p, "upsert source records", errstr, errstr_size);
        if (!r)
            e = GH_ERR_PG;
        else {
            for (int i = 0; i < PQntuples(r); i++)
                gh_apply_changed(a, strtoll(PQgetvalue(r, i, 0), NULL, 10),
                                 NULL, NULL);
            PQclear(r);
        }
    }
    for (int j = 0; j < NA; j++)
        gh_sqlarr_free(&arr[j]);
    return e;
}

static gh_err_t write_deletes(gh_apply_t *a, kstate_t *ks, int nk, char *errstr,
                              size_t errstr_size) {
    gh_sqlarr_t arr[5];
    memset(arr, 0, sizeof(arr));
    for (int j = 0; j < 5; j++)
        gh_sqlarr_reset(&arr[j]);
    for (int i = 0; i < nk; i++) {
        kstate_t *k = &ks[i];
        if (!k->pos.dirty || !k->pos.deleted) continue;
        gh_sqlarr_text(&arr[0], k->dept);
        gh_sqlarr_text(&arr[1], k->key);
        gh_sqlarr_text(&arr[2], k->pos.table);
        gh_sqlarr_int(&arr[3], k->pos.lsn);
        gh_sqlarr_int(&arr[4], k->pos.seq);
        if (k->was_live && k->old_name)
            gh_resolver_count_name(a->resolver, k->old_name, k->old_pinyin, -1);
    }
    gh_err_t e = GH_OK;
    if (arr[0].n) {
        const char *p[5];
        for (int j = 0; j < 5; j++)
            p[j] = gh_sqlarr_get(&arr[j]);
        PGresult *r = gh_pg_query_what(
            a->db,
            "INSERT INTO source_person (department, source_key, "
            "source_table, pos_lsn, pos_seq, deleted) SELECT d, "
            "k, t, l, q, true FROM unnest($1::text[], $2::text[], "
            "$3::text[], $4::bigint[], $5::bigint[]) AS u(d, k, "
            "t, l, q) ON CONFLICT (department, source_key) DO "
            "UPDATE SET deleted = true, pos_lsn = "
            "EXCLUDED.pos_lsn, pos_seq = EXCLUDED.pos_seq, "
            "applied_at = now() RETURNING rec_id",
            5, p, "delete source records", errstr, errstr_size);
        if (!r)
            e = GH_ERR_PG;
        else {
            for (int i = 0; i < PQntuples(r); i++)
                gh_apply_changed(a, strtoll(PQgetvalue(r, i, 0), NULL, 10),
                                 NULL, NULL);
            PQclear(r);
        }
    }
    for (int j = 0; j < 5; j++)
        gh_sqlarr_free(&arr[j]);
    return e;
}

gh_err_t gh_apply_person_batch(gh_apply_t *a, avro_value_t *envs, int n,
                               int *status, char **why, char *errstr,
                               size_t errstr_size) {
    gh_apply_ev_t *ev = gh_xcalloc((size_t)n + 1, sizeof(*ev));
    int *ok = gh_xcalloc((size_t)n + 1, sizeof(int));
    int *idx = gh_xcalloc((size_t)n + 1, sizeof(int));
    int *st_of = gh_xcalloc((size_t)n + 1, sizeof(int));
    kstate_t *ks = gh_xcalloc((size_t)n + 1, sizeof(*ks));
    PGresult *cur = NULL, *wm = NULL;
    gh_err_t e = GH_OK;
    int m = 0, nk = 0;
    for (int i = 0; i < n; i++) {
        status[i] = 0;
        why[i] = NULL;
        char reason[512];
        if (gh_apply_ev_parse(&envs[i], &ev[i], reason, sizeof(reason))) {
            status[i] = -1;
            why[i] = gh_xstrdup(reason);
            continue;
        }
        if (ev[i].op == 't') {
            /* Rare: the per-event path applies truncates in order. */
            e = gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                          "batch holds a TRUNCATE");
            goto out;
        }
        ok[i] = 1;
        idx[m++] = i;
    }
    /* One state per key, in (department, key) order. */
    g_sort_evs = ev;
    qsort(idx, (size_t)m, sizeof(int), cmp_ev_idx);
    gh_sqlarr_t kd = {0}, kk = {0};
    gh_sqlarr_reset(&kd);
    gh_sqlarr_reset(&kk);
    for (int j = 0; j < m; j++) {
        const gh_apply_ev_t *x = &ev[idx[j]];
        if (!nk || cmp_key(ks[nk - 1].dept, ks[nk - 1].key, x->dept, x->key)) {
            kstate_t *k = &ks[nk++];
            k->dept = x->dept;
            k->key = x->key;
            gh_sqlarr_text(&kd, x->dept);
            gh_sqlarr_text(&kk, x->key);
        }
        st_of[idx[j]] = nk - 1;
    }
    if (nk) {
        const char *p[2] = {gh_sqlarr_get(&kd), gh_sqlarr_get(&kk)};
        cur = gh_pg_query_what(
            a->db,
            "SELECT department, source_key, pos_lsn, pos_seq, "
            "deleted::int, n_name, n_pinyin, " GH_APPLY_STORED_COLS
            " FROM source_person WHERE (department, source_key) IN "
            "(SELECT d, k FROM unnest($1::text[], $2::text[]) AS u(d, k))",
            2, p, "read source records", errstr, errstr_size);
        if (cur) wm = gh_apply_read_watermarks(a, errstr, errstr_size);
    }
    gh_sqlarr_free(&kd);
    gh_sqlarr_free(&kk);
    if (nk && (!cur || !wm)) {
        e = GH_ERR_PG;
        goto out;
    }
    enum { OLD = 7 };
    if (cur && (e = gh_apply_open_stored(a, cur, OLD, errstr, errstr_size)))
        goto out;
    for (int i = 0; cur && i < PQntuples(cur); i++) {
        kstate_t key = {PQgetvalue(cur, i, 0), PQgetvalue(cur, i, 1)};
        kstate_t *k = bsearch(&key, ks, (size_t)nk, sizeof(*ks), cmp_state);
        if (!k) continue;
        k->pos.exists = 1;
        k->pos.lsn = strtoll(PQgetvalue(cur, i, 2), NULL, 10);
        k->pos.seq = strtoll(PQgetvalue(cur, i, 3), NULL, 10);
        k->pos.deleted = PQgetvalue(cur, i, 4)[0] == '1';
        k->was_live = !k->pos.deleted;
        k->old_name = PQgetisnull(cur, i, 5) ? NULL : PQgetvalue(cur, i, 5);
        k->old_pinyin = PQgetisnull(cur, i, 6) ? NULL : PQgetvalue(cur, i, 6);
        for (int f = 0; f < GH_AF_N; f++)
            k->val[f] = PQgetisnull(cur, i, OLD + f)
                            ? NULL
                            : PQgetvalue(cur, i, OLD + f);
    }
    /* Fold the events in their order. */
    for (int i = 0; i < n; i++) {
        if (!ok[i]) continue;
        gh_apply_ev_t *x = &ev[i];
        kstate_t *k = &ks[st_of[i]];
        if (!gh_apply_advance(&k->pos, wm, x)) continue;
        status[i] = 1;
        if (k->pos.deleted) continue;
        for (int f = 0; f < GH_AF_N; f++)
            if (!x->unchanged[f]) k->val[f] = x->val[f];
    }
    e = write_upserts(a, ks, nk, errstr, errstr_size);
    if (!e) e = write_deletes(a, ks, nk, errstr, errstr_size);
out:
    if (e) gh_apply_forget(n, status, why);
    PQclear(cur);
    PQclear(wm);
    for (int i = 0; i < n; i++)
        gh_apply_ev_free(&ev[i]);
    free(ev);
    free(ok);
    free(idx);
    free(st_of);
    free(ks);
    return e;
}
