/* Applying person change events one at a time: the fallback path used
 * when a set-based batch (apply_batch.c) fails, so that one bad event can
 * be isolated and dead-lettered. Also the apply handle and truncates. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply_int.h"
#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "gridhub/util.h"

gh_apply_t *gh_apply_new(PGconn *db, gh_resolver_t *resolver,
                         const gh_schemas_t *schemas) {
    gh_apply_t *a = gh_xcalloc(1, sizeof(*a));
    a->db = db;
    a->resolver = resolver;
    a->schemas = schemas;
    a->crypt = resolver ? gh_resolver_crypt(resolver) : NULL;
    return a;
}

/* The parameters sealed, by index, and the field each is sealed for. */
static const struct {
    int param;
    const char *field;
} SEALED[GH_APPLY_NSEALED] = {
    {5, "id_number"},  /* id_number_raw */
    {6, "id_number"},  /* id_number */
    {11, "phone"},     /* phone */
    {12, "address"},   /* address */
    {17, "id_number"}, /* id_clean */
    {21, "phone"},     /* n_phone */
    {22, "address"},   /* n_address */
};

void gh_apply_seal(const gh_apply_t *a, const char **v,
                   char *sealed[GH_APPLY_NSEALED]) {
    for (int i = 0; i < GH_APPLY_NSEALED; i++) {
        sealed[i] = NULL;
        const char *x = v[SEALED[i].param];
        if (!a->crypt || !x) continue;
        sealed[i] = gh_crypt_seal(a->crypt, SEALED[i].field, x, strlen(x));
        v[SEALED[i].param] = sealed[i];
    }
}

void gh_apply_sealed_free(char *sealed[GH_APPLY_NSEALED]) {
    for (int i = 0; i < GH_APPLY_NSEALED; i++)
        free(sealed[i]);
}

gh_err_t gh_apply_open_stored(const gh_apply_t *a, PGresult *r, int first,
                              char *errstr, size_t errstr_size) {
    const int cols[3] = {first + GH_AF_ID_RAW, first + GH_AF_PHONE,
                         first + GH_AF_ADDRESS};
    static const char *const fields[3] = {"id_number", "phone", "address"};
    return gh_crypt_open_result(a->crypt, r, cols, fields, 3, errstr,
                                errstr_size);
}

void gh_apply_forget(int n, int *status, char **why) {
    for (int i = 0; i < n; i++) {
        free(why[i]);
        why[i] = NULL;
        status[i] = 0;
    }
}

static void untouch(gh_apply_t *a) {
    for (int i = 0; i < a->ntouched; i++)
        free(a->touched[i]);
    a->ntouched = 0;
}

void gh_apply_touch(gh_apply_t *a, const char *entity) {
    if (gh_apply_touched(a, entity) && strcmp(entity, "*")) return;
    for (int i = 0; i < a->ntouched; i++)
        if (!strcmp(a->touched[i], entity)) return;
    /* More entities than slots: as if a TRUNCATE touched them all. */
    if (a->ntouched == (int)(sizeof(a->touched) / sizeof(*a->touched)) - 1)
        entity = "*";
    a->touched[a->ntouched++] = gh_xstrdup(entity);
}

int gh_apply_touched(const gh_apply_t *a, const char *entity) {
    for (int i = 0; i < a->ntouched; i++)
        if (!strcmp(a->touched[i], entity) || !strcmp(a->touched[i], "*"))
            return 1;
    return 0;
}

void gh_apply_destroy(gh_apply_t *a) {
    if (!a) return;
    untouch(a);
    gh_apply_rowfmts_free(a);
    free(a->changed);
    free(a);
}

void gh_apply_set_conn(gh_apply_t *a, PGconn *db) {
    a->db = db;
    a->nchanged = 0;
    untouch(a);
}

static gh_err_t sqlerr(PGresult *r, PGconn *c, const char *what, char *errstr,
                       size_t errstr_size) {
    gh_err_t e = gh_pg_result_error(r, c, what, errstr, errstr_size);
    PQclear(r);
    return e;
}

void gh_apply_changed(gh_apply_t *a, int64_t rec_id, const char *old_name,
                      const char *old_pinyin) {
    if (a->nchanged == a->capchanged) {
        a->capchanged = a->capchanged ? a->capchanged * 2 : 256;
        a->changed = gh_xrealloc(a->changed, a->capchanged * sizeof(int64_t));
    }
    a->changed[a->nchanged++] = rec_id;
    if (old_name) gh_resolver_count_name(a->resolver, old_name, old_pinyin, -1);
}

/* Rows of (rec_id, old n_name, old n_pinyin) to the changed list. */
static void changed_rows(gh_apply_t *a, PGresult *r) {
    for (int i = 0; i < PQntuples(r); i++)
        gh_apply_changed(a, strtoll(PQgetvalue(r, i, 0), NULL, 10),
                         PQgetisnull(r, i, 1) ? NULL : PQgetvalue(r, i, 1),
                         PQgetisnull(r, i, 2) ? NULL : PQgetvalue(r, i, 2));
}

gh_err_t gh_apply_flush(gh_apply_t *a, gh_resolve_stats_t *st, char *errstr,
                        size_t errstr_size) {
    untouch(a);
    if (!a->nchanged) return GH_OK;
    /* Held already (advisory locks nest): in the mode the caller chose. */
    gh_err_t e = gh_resolver_lock_run(a->resolver, a->db,
                                      gh_resolver_shared(a->resolver), errstr,
                                      errstr_size);
    if (!e)
        e = gh_resolver_run(a->resolver, a->db, a->changed, a->nchanged, NULL,
                            0, st, errstr, errstr_size);
    a->nchanged = 0;
    return e;
}

void gh_apply_discard(gh_apply_t *a) {
    a->nchanged = 0;
    untouch(a);
}

/* Marks deleted every live record of (department p[0], table p[1]) older
 * than position (p[2], p[3]), moving it there, and queues persons for
 * resolution: a TRUNCATE (entity NULL: every entity the table feeds), or
 * the end of one entity's snapshot. *n (may be NULL) receives how many. */
static gh_err_t delete_older(gh_apply_t *a, const char *entity,
                             const char *const p[4], const char *what, long *n,
                             char *errstr, size_t errstr_size) {
    long total = 0;
    if (!entity || !strcmp(entity, "person")) {
        PGresult *r = PQexecParams(
            a->db,
            "WITH t AS (UPDATE source_person SET deleted = true, pos_lsn = "
            "$3, pos_seq = $4, applied_at = now() WHERE department = $1 AND "
            "source_table = $2 AND NOT deleted AND (pos_lsn, pos_seq) < "
            "($3::bigint, $4::bigint) RETURNING rec_id, n_name, n_pinyin) "
            "SELECT * FROM t",
            4, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            return sqlerr(r, a->db, what, errstr, errstr_size);
        changed_rows(a, r);
        total += PQntuples(r);
        PQclear(r);
    }
    if (!entity || strcmp(entity, "person")) {
        const char *q[5] = {p[0], p[1], p[2], p[3], entity};
        PGresult *r = PQexecParams(
            a->db,
            "UPDATE source_row SET deleted = true, pos_lsn = $3, pos_seq = "
            "$4, applied_at = now() WHERE department = $1 AND source_table = "
            "$2 AND NOT deleted AND (pos_lsn, pos_seq) < ($3::bigint, "
            "$4::bigint) AND ($5::text IS NULL OR entity = $5)",
            5, NULL, q, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            return sqlerr(r, a->db, what, errstr, errstr_size);
        long n_rows = strtol(PQcmdTuples(r), NULL, 10);
        if (n_rows) gh_apply_touch(a, entity ? entity : "*");
        total += n_rows;
        PQclear(r);
    }
    if (n) *n = total;
    return GH_OK;
}

gh_err_t gh_apply_truncate(gh_apply_t *a, const gh_apply_ev_t *ev, char *errstr,
                           size_t errstr_size) {
    char lsn[32], seq[32];
    snprintf(lsn, sizeof(lsn), "%" PRId64, ev->lsn);
    snprintf(seq, sizeof(seq), "%" PRId64, ev->seq);
    const char *p[4] = {ev->dept, ev->table, lsn, seq};
    PGresult *r = PQexecParams(
        a->db,
        "INSERT INTO table_watermark VALUES ($1, $2, $3, $4) ON "
        "CONFLICT (department, source_table) DO UPDATE SET "
        "pos_lsn = $3, pos_seq = $4 WHERE (table_watermark.pos_lsn, "
        "table_watermark.pos_seq) < ($3::bigint, $4::bigint)",
        4, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return sqlerr(r, a->db, "truncate watermark", errstr, errstr_size);
    PQclear(r);
    return delete_older(a, NULL, p, "truncate", NULL, errstr, errstr_size);
}

gh_err_t gh_apply_snapshot_marker(gh_apply_t *a, const char *dept,
                                  const char *entity, const char *table,
                                  int64_t lsn, int part, int parts, long *swept,
                                  char *errstr, size_t errstr_size) {
    if (swept) *swept = 0;
    char l[32], pt[16], ps[16];
    snprintf(l, sizeof(l), "%" PRId64, lsn);
    snprintf(pt, sizeof(pt), "%d", part);
    snprintf(ps, sizeof(ps), "%d", parts);
    const char *p[6] = {dept, table, l, pt, ps, entity};
    PGresult *r = PQexecParams(
        a->db,
        "WITH i AS (INSERT INTO snapshot_marker (department, source_table, "
        "snapshot_lsn, part, parts, entity) VALUES ($1, $2, $3, $4, $5, $6) "
        "ON CONFLICT DO NOTHING RETURNING part) SELECT count(*) + (SELECT "
        "count(*) FROM i) FROM snapshot_marker WHERE department = $1 AND "
        "source_table = $2 AND snapshot_lsn = $3 AND entity = $6",
        6, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return sqlerr(r, a->db, "record snapshot marker", errstr, errstr_size);
    long seen = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (seen < parts) return GH_OK;
    /* Every row of the snapshot is at (lsn, 0) or later: (lsn, -1) is
     * older than all of them and younger than anything before. */
    const char *q[4] = {dept, table, l, "-1"};
    gh_err_t e = delete_older(a, entity, q, "sweep after snapshot", swept,
                              errstr, errstr_size);
    if (e) return e;
    const char *f[4] = {dept, table, l, entity};
    r = PQexecParams(a->db,
                     "DELETE FROM snapshot_marker WHERE department = $1 AND "
                     "source_table = $2 AND snapshot_lsn <= $3 AND entity = $4",
                     4, NULL, f, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return sqlerr(r, a->db, "forget snapshot markers", errstr, errstr_size);
    PQclear(r);
    return GH_OK;
}

gh_err_t gh_apply_person_event(gh_apply_t *a, avro_value_t *env, int *applied,
                               char *errstr, size_t errstr_size) {
    if (applied) *applied = 0;
    gh_apply_ev_t ev;
    gh_err_t e = gh_apply_ev_parse(env, &ev, errstr, errstr_size);
    if (e) return e;
    PGresult *cur = NULL;
    char lsn[32], seq[32];
    snprintf(lsn, sizeof(lsn), "%" PRId64, ev.lsn);
    snprintf(seq, sizeof(seq), "%" PRId64, ev.seq);
    if (ev.op == 't') {
        e = gh_apply_truncate(a, &ev, errstr, errstr_size);
        if (!e && applied) *applied = 1;
        goto out;
    }
    /* The stored row (if any) and whether a TRUNCATE made this stale. */
    const char *pk[5] = {ev.dept, ev.key, ev.table, lsn, seq};
    cur = PQexecParams(
        a->db,
        "SELECT pos_lsn, pos_seq, deleted, EXISTS (SELECT 1 FROM "
        "table_watermark w WHERE w.department = $1 AND w.source_table = $3 "
        "AND (w.pos_lsn, w.pos_seq) >= ($4::bigint, $5::bigint)), "
        "n_name, n_pinyin, " GH_APPLY_STORED_COLS " FROM (SELECT 1) one LEFT "
        "JOIN source_person ON department = $1 AND source_key = $2",
        5, NULL, pk, NULL, NULL, 0);
    if (PQresultStatus(cur) != PGRES_TUPLES_OK) {
        e = sqlerr(cur, a->db, "read source record", errstr, errstr_size);
        cur = NULL;
        goto out;
    }
    if (PQgetvalue(cur, 0, 3)[0] == 't') goto out; /* before a TRUNCATE */
    e = gh_apply_open_stored(a, cur, 6, errstr, errstr_size);
    if (e) goto out;
    int exists = !PQgetisnull(cur, 0, 0);
    if (exists) {
        long long cl = strtoll(PQgetvalue(cur, 0, 0), NULL, 10);
        long long cs = strtoll(PQgetvalue(cur, 0, 1), NULL, 10);
        if (ev.lsn < cl || (ev.lsn == cl && ev.seq <= cs))
            goto out; /* replay or older */
    }
    int live = exists && PQgetvalue(cur, 0, 2)[0] == 'f';
    const char *old_name =
        live && !PQgetisnull(cur, 0, 4) ? PQgetvalue(cur, 0, 4) : NULL;
    const char *old_pin =
        live && !PQgetisnull(cur, 0, 5) ? PQgetvalue(cur, 0, 5) : NULL;
    enum { OLD = 6 }; /* first stored field column */

    if (ev.op == 'd') {
        const char *p[5] = {ev.dept, ev.key, ev.table, lsn, seq};
        PGresult *r = PQexecParams(
            a->db,
            "INSERT INTO source_person (department, source_key, source_table, "
            "pos_lsn, pos_seq, deleted) VALUES ($1, $2, $3, $4, $5, true) ON "
            "CONFLICT (department, source_key) DO UPDATE SET deleted = true, "
            "pos_lsn = $4, pos_seq = $5, applied_at = now() RETURNING rec_id",
            5, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            e = sqlerr(r, a->db, "delete source record", errstr, errstr_size);
            goto out;
        }
        gh_apply_changed(a, strtoll(PQgetvalue(r, 0, 0), NULL, 10), old_name,
                         old_pin);
        PQclear(r);
        if (applied) *applied = 1;
        goto out;
    }
    /* UNCHANGED (TOAST) keeps the stored value. */
    for (int f = 0; f < GH_AF_N; f++)
        if (ev.unchanged[f] && exists && !PQgetisnull(cur, 0, OLD + f))
            ev.val[f] = gh_xstrdup(PQgetvalue(cur, 0, OLD + f));
    gh_apply_norm_t n;
    gh_apply_normalize(ev.val, &n);
    /* The keyed ID blocking key: what the other entities' rows name the
     * resident by (source_row.id_key), so the views find their rows by
     * one key per record. */
    char idk[24];
    snprintf(idk, sizeof(idk), "%lld",
             (long long)gh_resolver_id_key(a->resolver, ev.val[GH_AF_ID_RAW]));
    const char *p[25] = {ev.dept,
                         ev.key,
                         ev.table,
                         lsn,
                         seq,
                         ev.val[GH_AF_ID_RAW],
                         n.valid,
                         n.status,
                         ev.val[GH_AF_NAME],
                         ev.val[GH_AF_SEX],
                         ev.val[GH_AF_BIRTH],
                         ev.val[GH_AF_PHONE],
                         ev.val[GH_AF_ADDRESS],
                         ev.val[GH_AF_GRID],
                         ev.val[GH_AF_HOUSEHOLD],
                         ev.val[GH_AF_REMARK],
                         ev.val[GH_AF_UPDATED],
                         gh_apply_nz(n.idn),
                         n.code,
                         gh_apply_nz(n.name),
                         gh_apply_nz(n.pinyin),
                         gh_apply_nz(n.phone),
                         gh_apply_nz(n.address),
                         n.sex,
                         idk};
    char *sealed[GH_APPLY_NSEALED];
    gh_apply_seal(a, p, sealed);
    PGresult *r = PQexecParams(
        a->db,
        "INSERT INTO source_person (department, source_key, source_table, "
        "pos_lsn, pos_seq, deleted, id_number_raw, id_number, id_status, "
        "name, sex, birth_date, phone, address, grid_code, household_key, "
        "remark, source_updated_at, id_clean, id_code, n_name, n_pinyin, "
        "n_phone, n_address, sex_code, id_key) VALUES ($1, $2, $3, $4, $5, "
        "false, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, "
        "$17::timestamptz, $18, $19, $20, $21, $22, $23, $24, $25) ON "
        "CONFLICT "
        "(department, source_key) DO UPDATE SET source_table = $3, pos_lsn "
        "= $4, pos_seq = $5, deleted = false, id_number_raw = $6, id_number "
        "= $7, id_status = $8, name = $9, sex = $10, birth_date = $11, "
        "phone = $12, address = $13, grid_code = $14, household_key = $15, "
        "remark = $16, source_updated_at = $17::timestamptz, id_clean = $18, "
        "id_code = $19, n_name = $20, n_pinyin = $21, n_phone = $22, "
        "n_address = $23, sex_code = $24, id_key = $25, applied_at = now() "
        "RETURNING rec_id",
        25, NULL, p, NULL, NULL, 0);
    gh_apply_sealed_free(sealed);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        e = sqlerr(r, a->db, "upsert source record", errstr, errstr_size);
        goto out;
    }
    gh_apply_changed(a, strtoll(PQgetvalue(r, 0, 0), NULL, 10), old_name,
                     old_pin);
    PQclear(r);
    gh_resolver_count_name(a->resolver, gh_apply_nz(n.name),
                           gh_apply_nz(n.pinyin), +1);
    if (applied) *applied = 1;
out:
    PQclear(cur);
    gh_apply_ev_free(&ev);
    return e;
}

gh_err_t gh_apply_event(gh_apply_t *a, avro_value_t *env, const char *entity,
                        int *applied, char *errstr, size_t errstr_size) {
    if (!strcmp(entity, "person"))
        return gh_apply_person_event(a, env, applied, errstr, errstr_size);
    if (applied) *applied = 0;
    gh_apply_ev_t ev;
    avro_value_t row;
    gh_err_t e = gh_apply_ev_head(env, &ev, &row, errstr, errstr_size);
    if (e) return e;
    int is_truncate = ev.op == 't';
    if (is_truncate) e = gh_apply_truncate(a, &ev, errstr, errstr_size);
    gh_apply_ev_free(&ev);
    if (is_truncate) {
        if (!e && applied) *applied = 1;
        return e;
    }
    /* A batch of one has the contract of a single event. */
    int st = 0;
    char *why = NULL;
    e = gh_apply_row_batch(a, env, &entity, 1, &st, &why, errstr, errstr_size);
    if (!e && st < 0)
        e = gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA, "%s", why);
    free(why);
    if (!e && applied) *applied = st;
    return e;
}
