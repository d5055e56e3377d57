#include "apply.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/idnum.h"
#include "gridhub/log.h"
#include "gridhub/norm.h"
#include "gridhub/pg.h"
#include "gridhub/util.h"

struct gh_apply {
    PGconn *db;
    gh_resolver_t *resolver;
    int64_t *changed; /* rec_ids changed in the open batch */
    size_t nchanged, capchanged;
};

/* The person fields stored per source record, in table-column order. */
enum {
    F_ID_RAW,
    F_NAME,
    F_SEX,
    F_BIRTH,
    F_PHONE,
    F_ADDRESS,
    F_GRID,
    F_HOUSEHOLD,
    F_REMARK,
    F_UPDATED,
    NF
};
static const char *const fnames[NF] = {
    "id_number", "name",      "sex",           "birth_date", "phone",
    "address",   "grid_code", "household_key", "remark",     "updated_at"};

gh_apply_t *gh_apply_new(PGconn *db, gh_resolver_t *resolver) {
    gh_apply_t *a = gh_xcalloc(1, sizeof(*a));
    a->db = db;
    a->resolver = resolver;
    return a;
}

void gh_apply_destroy(gh_apply_t *a) {
    if (!a) return;
    free(a->changed);
    free(a);
}

void gh_apply_set_conn(gh_apply_t *a, PGconn *db) {
    a->db = db;
    a->nchanged = 0;
}

/* ---- reading the envelope ---------------------------------------------------
 */

enum { V_NULL = 0, V_VALUE = 1, V_UNCHANGED = 2 };

/* Reads a scalar (possibly union) field as text into out. */
static int field_text(avro_value_t *rec, const char *name, gh_buf_t *out) {
    avro_value_t fv, v;
    gh_buf_reset(out);
    if (avro_value_get_by_name(rec, name, &fv, NULL)) return V_NULL;
    v = fv;
    if (avro_value_get_type(&fv) == AVRO_UNION)
        avro_value_get_current_branch(&fv, &v);
    switch (avro_value_get_type(&v)) {
    case AVRO_NULL:
        return V_NULL;
    case AVRO_ENUM: {
        avro_schema_t s = avro_value_get_schema(&v);
        int sym;
        avro_value_get_enum(&v, &sym);
        if (!strcmp(avro_schema_type_name(s), "Unchanged")) return V_UNCHANGED;
        gh_buf_puts(out, avro_schema_enum_get(s, sym));
        return V_VALUE;
    }
    case AVRO_STRING: {
        const char *p;
        size_t n;
        avro_value_get_string(&v, &p, &n);
        gh_buf_append(out, p, n ? n - 1 : 0);
        return V_VALUE;
    }
    case AVRO_INT32: {
        int32_t i;
        avro_value_get_int(&v, &i);
        gh_buf_printf(out, "%" PRId32, i);
        return V_VALUE;
    }
    case AVRO_INT64: {
        int64_t l;
        avro_value_get_long(&v, &l);
        gh_buf_printf(out, "%" PRId64, l);
        return V_VALUE;
    }
    default:
        return V_NULL;
    }
}

static int64_t get_long(avro_value_t *rec, const char *name) {
    avro_value_t v;
    int64_t l = 0;
    if (!avro_value_get_by_name(rec, name, &v, NULL))
        avro_value_get_long(&v, &l);
    return l;
}

static gh_err_t sqlerr(PGresult *r, PGconn *c, const char *what, char *errstr,
                       size_t errstr_size) {
    gh_err_t e = gh_pg_result_error(r, c, what, errstr, errstr_size);
    PQclear(r);
    return e;
}

/* Remembers a changed record for the batch's resolution. */
static void changed(gh_apply_t *a, PGresult *r) {
    for (int i = 0; i < PQntuples(r); i++) {
        if (a->nchanged == a->capchanged) {
            a->capchanged = a->capchanged ? a->capchanged * 2 : 256;
            a->changed =
                gh_xrealloc(a->changed, a->capchanged * sizeof(int64_t));
        }
        a->changed[a->nchanged++] = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        if (PQnfields(r) >= 3 && !PQgetisnull(r, i, 1))
            gh_resolver_count_name(a->resolver, PQgetvalue(r, i, 1),
                                   PQgetvalue(r, i, 2), -1);
    }
}

gh_err_t gh_apply_flush(gh_apply_t *a, gh_resolve_stats_t *st, char *errstr,
                        size_t errstr_size) {
    if (!a->nchanged) return GH_OK;
    gh_err_t e = gh_resolver_lock(a->db, errstr, errstr_size);
    if (!e)
        e = gh_resolver_run(a->resolver, a->db, a->changed, a->nchanged, NULL,
                            0, st, errstr, errstr_size);
    a->nchanged = 0;
    return e;
}

void gh_apply_discard(gh_apply_t *a) {
    a->nchanged = 0;
}

/* ---- applying one event
 * --------------------------------------------------------- */

static gh_err_t apply_truncate(gh_apply_t *a, const char *dept,
                               const char *table, const char *lsn,
                               const char *seq, char *errstr,
                               size_t errstr_size) {
    const char *p[4] = {dept, table, lsn, seq};
    PGresult *r =
        PQexecParams(a->db,
                     "INSERT INTO table_watermark VALUES ($1, $2, $3, $4) ON "
                     "CONFLICT (department, "
                     "source_table) DO UPDATE SET pos_lsn = $3, pos_seq = $4 "
                     "WHERE (table_watermark.pos_lsn, "
                     "table_watermark.pos_seq) < ($3::bigint, $4::bigint)",
                     4, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return sqlerr(r, a->db, "truncate watermark", errstr, errstr_size);
    PQclear(r);
    r = PQexecParams(
        a->db,
        "WITH t AS (UPDATE source_person SET deleted = true, pos_lsn = $3, "
        "pos_seq = $4, applied_at = now() WHERE department = $1 AND "
        "source_table = $2 AND NOT deleted AND (pos_lsn, pos_seq) < "
        "($3::bigint, "
        "$4::bigint) RETURNING rec_id, n_name, n_pinyin) SELECT * FROM t",
        4, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return sqlerr(r, a->db, "truncate", errstr, errstr_size);
    changed(a, r);
    PQclear(r);
    return GH_OK;
}

/* Avro timestamp-micros -> "YYYY-MM-DD HH:MM:SS.ffffff+00" (new string);
 * floor division keeps times before 1970 right. */
static char *micros_to_iso(int64_t us) {
    int64_t secs = us / 1000000, frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        secs--;
    }
    int64_t days = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    char d[11];
    gh_date_format(days, d);
    return gh_xasprintf("%s %02d:%02d:%02d.%06d+00", d, (int)(sod / 3600),
                        (int)(sod / 60 % 60), (int)(sod % 60), (int)frac);
}

/* The sex code the matcher compares: 1 male, 2 female, 0 unknown. */
static const char *sex_code(const char *sex) {
    if (!sex) return "0";
    return !strcmp(sex, "MALE") ? "1" : !strcmp(sex, "FEMALE") ? "2" : "0";
}

gh_err_t gh_apply_person_event(gh_apply_t *a, avro_value_t *env, int *applied,
                               char *errstr, size_t errstr_size) {
    if (applied) *applied = 0;
    gh_buf_t b = {0};
    avro_value_t src, opv, rowu, row;
    if (avro_value_get_by_name(env, "source", &src, NULL) ||
        avro_value_get_by_name(env, "op", &opv, NULL))
        return gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA,
                         "not a change envelope");
    field_text(env, "op", &b);
    char op = b.data ? b.data[0] : '?';
    field_text(&src, "department", &b);
    char *dept = gh_buf_detach(&b);
    field_text(&src, "table", &b);
    char *table = gh_buf_detach(&b);
    char lsn[32], seq[32];
    snprintf(lsn, sizeof(lsn), "%" PRId64, get_long(&src, "lsn"));
    snprintf(seq, sizeof(seq), "%" PRId64, get_long(&src, "seq"));
    gh_err_t e = GH_OK;
    char *key = NULL;
    PGresult *cur = NULL;

    if (op == 't') {
        e = apply_truncate(a, dept, table, lsn, seq, errstr, errstr_size);
        if (applied) *applied = 1;
        goto out;
    }
    /* The row this event is about: `after`, or `before` for a delete. */
    avro_value_get_by_name(env, op == 'd' ? "before" : "after", &rowu, NULL);
    if (avro_value_get_current_branch(&rowu, &row) ||
        avro_value_get_type(&row) != AVRO_RECORD) {
        e = gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA,
                      "'%c' event without a row", op);
        goto out;
    }
    if (field_text(&row, "source_key", &b) != V_VALUE) {
        e = gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA,
                      "event without source_key");
        goto out;
    }
    key = gh_buf_detach(&b);

    /* The stored row (if any) and whether a TRUNCATE made this stale. */
    const char *pk4[5] = {dept, key, table, lsn, seq};
    cur = PQexecParams(
        a->db,
        "SELECT pos_lsn, pos_seq, deleted, EXISTS (SELECT 1 FROM "
        "table_watermark w WHERE w.department = $1 AND w.source_table = $3 "
        "AND (w.pos_lsn, w.pos_seq) >= ($4::bigint, $5::bigint)), "
        "id_number_raw, name, sex, birth_date::text, phone, address, "
        "grid_code, household_key, remark, source_updated_at::text FROM "
        "(SELECT 1) one LEFT JOIN source_person ON department = $1 AND "
        "source_key = $2",
        5, NULL, pk4, NULL, NULL, 0);
    if (PQresultStatus(cur) != PGRES_TUPLES_OK) {
        e = sqlerr(cur, a->db, "read source record", errstr, errstr_size);
        cur = NULL;
        goto out;
    }
    if (PQgetvalue(cur, 0, 3)[0] == 't') goto out; /* before a TRUNCATE */
    int exists = !PQgetisnull(cur, 0, 0);
    if (exists) {
        long long cl = strtoll(PQgetvalue(cur, 0, 0), NULL, 10);
        long long cs = strtoll(PQgetvalue(cur, 0, 1), NULL, 10);
        long long el = strtoll(lsn, NULL, 10), es = strtoll(seq, NULL, 10);
        if (el < cl || (el == cl && es <= cs)) goto out; /* replay or older */
    }
    enum { OLD = 4 }; /* first stored field column */

    if (op == 'd') {
        const char *p[5] = {dept, key, table, lsn, seq};
        PGresult *r = PQexecParams(
            a->db,
            "WITH old AS (SELECT n_name, n_pinyin FROM source_person WHERE "
            "department = $1 AND source_key = $2 AND NOT deleted) INSERT INTO "
            "source_person (department, source_key, source_table, pos_lsn, "
            "pos_seq, deleted) VALUES ($1, $2, $3, $4, $5, true) ON CONFLICT "
            "(department, source_key) DO UPDATE SET deleted = true, pos_lsn = "
            "$4, pos_seq = $5, applied_at = now() RETURNING rec_id, (SELECT "
            "n_name FROM old), (SELECT n_pinyin FROM old)",
            5, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            e = sqlerr(r, a->db, "delete source record", errstr, errstr_size);
            goto out;
        }
        changed(a, r);
        PQclear(r);
        if (applied) *applied = 1;
        goto out;
    }

    /* c, u, r: new values as SQL text; UNCHANGED (TOAST) keeps the stored
     * value. Avro dates and timestamps arrive as numbers (negative before
     * 1970) and are formatted here, not guessed from their text later. */
    char *vals[NF];
    for (int f = 0; f < NF; f++) {
        int k = field_text(&row, fnames[f], &b);
        if (k == V_UNCHANGED)
            vals[f] = exists && !PQgetisnull(cur, 0, OLD + f)
                          ? gh_xstrdup(PQgetvalue(cur, 0, OLD + f))
                          : NULL;
        else if (k == V_VALUE && f == F_BIRTH) {
            char d[11];
            gh_date_format(strtoll(b.data, NULL, 10), d);
            vals[f] = gh_xstrdup(d);
        } else if (k == V_VALUE && f == F_UPDATED)
            vals[f] = micros_to_iso(strtoll(b.data, NULL, 10));
        else if (k == V_VALUE)
            vals[f] = gh_buf_detach(&b);
        else
            vals[f] = NULL;
    }
    /* Normalized copies for matching (gridhub/norm.h, gridhub/idnum.h). */
    char idn[19], code[8], nname[GH_NORM_NAME_MAX], npin[GH_NORM_PINYIN_MAX];
    char nphone[GH_NORM_PHONE_MAX], naddr[GH_NORM_ADDR_MAX];
    gh_idnum_status_t st = gh_idnum_normalize(vals[F_ID_RAW], idn, NULL);
    const char *id_norm = gh_idnum_is_valid(st) ? idn : NULL;
    snprintf(code, sizeof(code), "%d", (int)st);
    gh_norm_name(vals[F_NAME], nname, sizeof(nname));
    gh_norm_pinyin(nname, npin, sizeof(npin));
    gh_norm_phone(vals[F_PHONE], nphone, sizeof(nphone));
    gh_norm_address(vals[F_ADDRESS], naddr, sizeof(naddr));
    const char *p[25] = {dept,
                         key,
                         table,
                         lsn,
                         seq,
                         vals[F_ID_RAW],
                         id_norm,
                         gh_idnum_status_str(st),
                         vals[F_NAME],
                         vals[F_SEX],
                         vals[F_BIRTH],
                         vals[F_PHONE],
                         vals[F_ADDRESS],
                         vals[F_GRID],
                         vals[F_HOUSEHOLD],
                         vals[F_REMARK],
                         vals[F_UPDATED],
                         idn[0] ? idn : NULL,
                         code,
                         nname[0] ? nname : NULL,
                         npin[0] ? npin : NULL,
                         nphone[0] ? nphone : NULL,
                         naddr[0] ? naddr : NULL,
                         sex_code(vals[F_SEX]),
                         NULL};
    PGresult *r = PQexecParams(
        a->db,
        "WITH old AS (SELECT n_name, n_pinyin FROM source_person WHERE "
        "department = $1 AND source_key = $2 AND NOT deleted) "
        "INSERT INTO source_person (department, source_key, source_table, "
        "pos_lsn, pos_seq, deleted, id_number_raw, id_number, id_status, "
        "name, sex, birth_date, phone, address, grid_code, household_key, "
        "remark, source_updated_at, id_clean, id_code, n_name, n_pinyin, "
        "n_phone, n_address, sex_code) VALUES ($1, $2, $3, $4, $5, false, "
        "$6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, "
        "$17::timestamptz, $18, $19, $20, $21, $22, $23, $24) ON CONFLICT "
        "(department, source_key) DO UPDATE SET source_table = $3, pos_lsn "
        "= $4, pos_seq = $5, deleted = false, id_number_raw = $6, id_number "
        "= $7, id_status = $8, name = $9, sex = $10, birth_date = $11, "
        "phone = $12, address = $13, grid_code = $14, household_key = $15, "
        "remark = $16, source_updated_at = $17::timestamptz, id_clean = $18, "
        "id_code = $19, n_name = $20, n_pinyin = $21, n_phone = $22, "
        "n_address = $23, sex_code = $24, applied_at = now() RETURNING "
        "rec_id, (SELECT n_name FROM old), (SELECT n_pinyin FROM old)",
        24, NULL, p, NULL, NULL, 0);
    for (int f = 0; f < NF; f++)
        free(vals[f]);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        e = sqlerr(r, a->db, "upsert source record", errstr, errstr_size);
        goto out;
    }
    changed(a, r);
    PQclear(r);
    gh_resolver_count_name(a->resolver, p[19], p[20], +1);
    if (applied) *applied = 1;
out:
    PQclear(cur);
    gh_buf_free(&b);
    free(dept);
    free(table);
    free(key);
    return e;
}
