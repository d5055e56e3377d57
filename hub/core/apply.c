#include "apply.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/idnum.h"
#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "gridhub/util.h"

struct gh_apply {
    PGconn *db;
    gh_serde_t *serde;
    const gh_schema_t *view;
    char **subs;
    char **topics;
    int nsubs;
    avro_value_t vval;
    gh_buf_t buf;
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
gh_apply_t *gh_apply_new(PGconn *db, gh_serde_t *serde, const gh_schema_t *view,
                         const char *const *subscribers,
                         const char *view_prefix) {
    gh_apply_t *a = gh_xcalloc(1, sizeof(*a));
    a->db = db;
    a->serde = serde;
    a->view = view;
    while (subscribers[a->nsubs])
        a->nsubs++;
    a->subs = gh_xcalloc((size_t)a->nsubs + 1, sizeof(char *));
    a->topics = gh_xcalloc((size_t)a->nsubs + 1, sizeof(char *));
    for (int i = 0; i < a->nsubs; i++) {
        a->subs[i] = gh_xstrdup(subscribers[i]);
        a->topics[i] =
            gh_xasprintf("%s.%s.person", view_prefix, subscribers[i]);
    }
    char err[256];
    if (gh_schema_new_value(view, &a->vval, err, sizeof(err))) {
        gh_log_error("hub", "cannot instantiate the view schema: %s", err);
        abort();
    }
    return a;
}

void gh_apply_destroy(gh_apply_t *a) {
    if (!a) return;
    for (int i = 0; i < a->nsubs; i++) {
        free(a->subs[i]);
        free(a->topics[i]);
    }
    free(a->subs);
    free(a->topics);
    avro_value_decref(&a->vval);
    gh_buf_free(&a->buf);
    free(a);
}

void gh_apply_set_conn(gh_apply_t *a, PGconn *db) {
    a->db = db;
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

/* ---- golden person
 * ------------------------------------------------------------ */

static gh_err_t sqlerr(PGresult *r, PGconn *c, const char *what, char *errstr,
                       size_t errstr_size) {
    gh_err_t e = gh_pg_result_error(r, c, what, errstr, errstr_size);
    PQclear(r);
    return e;
}

/* Sets a (possibly nullable) field of the view record from text, converting
 * by its Avro type (date from YYYY-MM-DD, enum by symbol). */
static void view_set(avro_value_t *rec, const char *name, const char *text) {
    avro_value_t fv, v;
    if (avro_value_get_by_name(rec, name, &fv, NULL)) return;
    v = fv;
    if (avro_value_get_type(&fv) == AVRO_UNION) {
        avro_schema_t us = avro_value_get_schema(&fv);
        int nb = (int)avro_schema_union_size(us), nullb = -1, valb = -1;
        for (int b = 0; b < nb; b++) {
            if (is_avro_null(avro_schema_union_branch(us, b)))
                nullb = b;
            else if (valb < 0)
                valb = b;
        }
        if (!text ||
            (valb >= 0 && is_avro_enum(avro_schema_union_branch(us, valb)) &&
             avro_schema_enum_get_by_name(avro_schema_union_branch(us, valb),
                                          text) < 0)) {
            if (nullb >= 0) {
                avro_value_set_branch(&fv, nullb, &v);
                avro_value_set_null(&v);
            }
            return;
        }
        avro_value_set_branch(&fv, valb, &v);
    }
    if (!text) return;
    switch (avro_value_get_type(&v)) {
    case AVRO_STRING:
        avro_value_set_string(&v, text);
        break;
    case AVRO_ENUM: {
        int sym = avro_schema_enum_get_by_name(avro_value_get_schema(&v), text);
        avro_value_set_enum(&v, sym < 0 ? 0 : sym);
        break;
    }
    case AVRO_INT32: {
        int64_t days;
        if (gh_date_parse_iso(text, &days, NULL) == 0)
            avro_value_set_int(&v, (int32_t)days);
        else
            avro_value_set_int(&v, atoi(text));
        break;
    }
    case AVRO_INT64:
        avro_value_set_long(&v, strtoll(text, NULL, 10));
        break;
    default:
        break;
    }
}

static gh_err_t outbox_put(gh_apply_t *a, const char *person_id,
                           int64_t version, const gh_buf_t *payload,
                           char *errstr, size_t errstr_size) {
    char ver[32];
    snprintf(ver, sizeof(ver), "%" PRId64, version);
    for (int i = 0; i < a->nsubs; i++) {
        const char *p[4] = {a->topics[i], person_id,
                            payload ? payload->data : NULL, ver};
        int lens[4] = {0, 0, payload ? (int)payload->len : 0, 0};
        int fmts[4] = {0, 0, 1, 0};
        PGresult *r = PQexecParams(
            a->db,
            "INSERT INTO outbox (topic, msg_key, payload, person_id, "
            "version) VALUES ($1, $2, $3, $2, $4)",
            4, NULL, p, lens, fmts, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            return sqlerr(r, a->db, "outbox insert", errstr, errstr_size);
        PQclear(r);
    }
    return GH_OK;
}

/* Golden columns compared and published, in SELECT order. */
enum { G_ID, G_NAME, G_SEX, G_BIRTH, G_PHONE, G_ADDRESS, G_GRID, NG };
static const char *const gcols[NG] = {
    "id_number", "name", "sex", "birth_date", "phone", "address", "grid_code"};

static gh_err_t recompute_person(gh_apply_t *a, const char *match_key,
                                 char *errstr, size_t errstr_size) {
    const char *p1[1] = {match_key};
    PGresult *srt = NULL;
    PGresult *src = PQexecParams(
        a->db,
        "SELECT id_number, name, sex, birth_date::text, phone, address, "
        "grid_code, "
        "department, source_key FROM source_person WHERE match_key = $1 AND "
        "NOT deleted "
        "ORDER BY pos_lsn DESC, pos_seq DESC, department, source_key",
        1, NULL, p1, NULL, NULL, 0);
    if (PQresultStatus(src) != PGRES_TUPLES_OK)
        return sqlerr(src, a->db, "read source records", errstr, errstr_size);
    PGresult *cur = PQexecParams(
        a->db,
        "SELECT person_id, active, version, id_number, name, sex, "
        "birth_date::text, phone, address, grid_code, sources::text "
        "FROM person WHERE match_key = $1 FOR UPDATE",
        1, NULL, p1, NULL, NULL, 0);
    if (PQresultStatus(cur) != PGRES_TUPLES_OK) {
        PQclear(src);
        return sqlerr(cur, a->db, "read person", errstr, errstr_size);
    }
    int nsrc = PQntuples(src), exists = PQntuples(cur) > 0;
    gh_err_t e = GH_OK;
    char *person_id = exists ? gh_xstrdup(PQgetvalue(cur, 0, 0)) : NULL;
    int64_t version = exists ? strtoll(PQgetvalue(cur, 0, 2), NULL, 10) : 0;
    int active = exists && PQgetvalue(cur, 0, 1)[0] == 't';

    if (nsrc == 0) {
        if (active) {
            char ver[32];
            snprintf(ver, sizeof(ver), "%" PRId64, version + 1);
            const char *p[2] = {person_id, ver};
            PGresult *r = PQexecParams(
                a->db,
                "UPDATE person SET active = false, version = $2, "
                "sources = '[]', updated_at = now() WHERE person_id = $1",
                2, NULL, p, NULL, NULL, 0);
            if (PQresultStatus(r) != PGRES_COMMAND_OK)
                e = sqlerr(r, a->db, "retire person", errstr, errstr_size);
            else {
                PQclear(r);
                e = outbox_put(a, person_id, version + 1, NULL, errstr,
                               errstr_size);
            }
        }
        goto out;
    }
    /* Golden values: per field, the most recent non-null. */
    const char *g[NG];
    for (int f = 0; f < NG; f++) {
        g[f] = NULL;
        for (int i = 0; i < nsrc && !g[f]; i++)
            if (!PQgetisnull(src, i, f)) g[f] = PQgetvalue(src, i, f);
    }
    /* Sorted by (department, source_key) for a stable comparison. */
    srt = PQexecParams(
        a->db,
        "SELECT coalesce(jsonb_agg(jsonb_build_object('department', "
        "department, 'source_key', source_key) ORDER BY department, "
        "source_key), '[]')::text FROM source_person WHERE match_key = "
        "$1 AND NOT deleted",
        1, NULL, p1, NULL, NULL, 0);
    if (PQresultStatus(srt) != PGRES_TUPLES_OK) {
        e = sqlerr(srt, a->db, "read sources", errstr, errstr_size);
        srt = NULL;
        goto out;
    }
    const char *sources = PQgetvalue(srt, 0, 0);

    int changed = !exists || !active || strcmp(PQgetvalue(cur, 0, 10), sources);
    for (int f = 0; f < NG && !changed; f++) {
        int cn = PQgetisnull(cur, 0, 3 + f);
        if (cn != (g[f] == NULL) ||
            (!cn && strcmp(PQgetvalue(cur, 0, 3 + f), g[f])))
            changed = 1;
    }
    if (!changed) {
        goto out;
    }
    if (!exists) {
        PGresult *r = PQexec(
            a->db,
            "SELECT 'P' || lpad(nextval('person_id_seq')::text, 9, '0')");
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            e = sqlerr(r, a->db, "allocate person id", errstr, errstr_size);
            goto out;
        }
        person_id = gh_xstrdup(PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    version++;
    char ver[32];
    snprintf(ver, sizeof(ver), "%" PRId64, version);
    const char *p[11] = {person_id,    match_key, ver,        g[G_ID],
                         g[G_NAME],    g[G_SEX],  g[G_BIRTH], g[G_PHONE],
                         g[G_ADDRESS], g[G_GRID], sources};
    PGresult *r = PQexecParams(a->db,
                               "INSERT INTO person (person_id, match_key, "
                               "active, version, id_number, name, sex, "
                               "birth_date, phone, address, grid_code, "
                               "sources, updated_at) VALUES ($1, $2, true, "
                               "$3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, "
                               "now()) ON CONFLICT (person_id) DO "
                               "UPDATE SET active = true, version = $3, "
                               "id_number = $4, name = $5, sex = $6, "
                               "birth_date = $7, phone = $8, address = $9, "
                               "grid_code = $10, sources = $11::jsonb, "
                               "updated_at = now() RETURNING (extract(epoch "
                               "from updated_at) * 1000000)::bigint",
                               11, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        e = sqlerr(r, a->db, "upsert person", errstr, errstr_size);
        goto out;
    }
    const char *updated_us = PQgetvalue(r, 0, 0);

    /* The view record as subscribers see it. */
    avro_value_t *v = &a->vval, arr, el, x;
    avro_value_reset(v);
    view_set(v, "person_id", person_id);
    for (int k = 0; k < NG; k++)
        view_set(v, gcols[k], g[k]);
    view_set(v, "version", ver);
    view_set(v, "updated_at", updated_us);
    PQclear(r);
    if (!avro_value_get_by_name(v, "sources", &arr, NULL)) {
        for (int i = 0; i < nsrc; i++) {
            avro_value_append(&arr, &el, NULL);
            avro_value_get_by_name(&el, "department", &x, NULL);
            avro_value_set_string(&x, PQgetvalue(src, i, 7));
            avro_value_get_by_name(&el, "source_key", &x, NULL);
            avro_value_set_string(&x, PQgetvalue(src, i, 8));
        }
    }
    gh_buf_reset(&a->buf);
    /* The same bytes go to every subscriber for now; per-subscriber policy
     * (masking, pseudonyms) will encode per topic here. */
    e = gh_serde_encode(a->serde, a->topics[0], a->view, v, &a->buf, errstr,
                        errstr_size);
    if (!e) e = outbox_put(a, person_id, version, &a->buf, errstr, errstr_size);
out:
    free(person_id);
    PQclear(srt);
    PQclear(src);
    PQclear(cur);
    return e;
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
        "$4::bigint) RETURNING match_key) SELECT DISTINCT match_key FROM t",
        4, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return sqlerr(r, a->db, "truncate", errstr, errstr_size);
    gh_err_t e = GH_OK;
    for (int i = 0; i < PQntuples(r) && !e; i++)
        e = recompute_person(a, PQgetvalue(r, i, 0), errstr, errstr_size);
    PQclear(r);
    return e;
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

static char *match_key_for(const char *dept, const char *key,
                           const char *id_norm) {
    return id_norm ? gh_xasprintf("id:%s", id_norm)
                   : gh_xasprintf("src:%s:%s", dept, key);
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
    char *key = NULL, *new_mk = NULL, *old_mk = NULL;
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

    const char *pw[4] = {dept, table, lsn, seq};
    PGresult *wm =
        PQexecParams(a->db,
                     "SELECT 1 FROM table_watermark WHERE department = $1 AND "
                     "source_table = $2 AND (pos_lsn, pos_seq) >= ($3::bigint, "
                     "$4::bigint)",
                     4, NULL, pw, NULL, NULL, 0);
    if (PQresultStatus(wm) != PGRES_TUPLES_OK) {
        e = sqlerr(wm, a->db, "read watermark", errstr, errstr_size);
        goto out;
    }
    int stale = PQntuples(wm) > 0;
    PQclear(wm);
    if (stale) goto out;

    const char *pk[2] = {dept, key};
    cur = PQexecParams(
        a->db,
        "SELECT pos_lsn, pos_seq, deleted, match_key, id_number_raw, name, "
        "sex, "
        "birth_date::text, phone, address, grid_code, household_key, remark, "
        "source_updated_at::text FROM source_person WHERE department = $1 AND "
        "source_key = $2 FOR UPDATE",
        2, NULL, pk, NULL, NULL, 0);
    if (PQresultStatus(cur) != PGRES_TUPLES_OK) {
        e = sqlerr(cur, a->db, "read source record", errstr, errstr_size);
        cur = NULL;
        goto out;
    }
    int exists = PQntuples(cur) > 0;
    if (exists) {
        long long cl = strtoll(PQgetvalue(cur, 0, 0), NULL, 10);
        long long cs = strtoll(PQgetvalue(cur, 0, 1), NULL, 10);
        long long el = strtoll(lsn, NULL, 10), es = strtoll(seq, NULL, 10);
        if (el < cl || (el == cl && es <= cs)) goto out; /* replay or older */
        if (PQgetvalue(cur, 0, 2)[0] == 'f')
            old_mk = gh_xstrdup(PQgetvalue(cur, 0, 3));
    }

    if (op == 'd') {
        const char *p[5] = {dept, key, table, lsn, seq};
        PGresult *r =
            PQexecParams(a->db,
                         "INSERT INTO source_person (department, source_key, "
                         "source_table, pos_lsn, "
                         "pos_seq, deleted, match_key) VALUES ($1, $2, $3, $4, "
                         "$5, true, 'src:' || $1 || "
                         "':' || $2) ON CONFLICT (department, source_key) DO "
                         "UPDATE SET deleted = true, "
                         "pos_lsn = $4, pos_seq = $5, applied_at = now()",
                         5, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            e = sqlerr(r, a->db, "delete source record", errstr, errstr_size);
            goto out;
        }
        PQclear(r);
        if (old_mk) e = recompute_person(a, old_mk, errstr, errstr_size);
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
            vals[f] = exists && !PQgetisnull(cur, 0, 4 + f)
                          ? gh_xstrdup(PQgetvalue(cur, 0, 4 + f))
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
    char idn[19];
    gh_idnum_status_t st = gh_idnum_normalize(vals[F_ID_RAW], idn, NULL);
    const char *id_norm = gh_idnum_is_valid(st) ? idn : NULL;
    new_mk = match_key_for(dept, key, id_norm);
    const char *ts = vals[F_UPDATED];
    const char *p[18] = {dept,
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
                         ts,
                         new_mk};
    PGresult *r = PQexecParams(
        a->db,
        "INSERT INTO source_person (department, source_key, source_table, "
        "pos_lsn, pos_seq, "
        "deleted, id_number_raw, id_number, id_status, name, sex, birth_date, "
        "phone, address, "
        "grid_code, household_key, remark, source_updated_at, match_key) "
        "VALUES ($1, $2, $3, "
        "$4, $5, false, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, "
        "$17::timestamptz, $18) ON CONFLICT (department, source_key) "
        "DO UPDATE SET "
        "source_table = $3, pos_lsn = $4, pos_seq = $5, deleted = false, "
        "id_number_raw = $6, "
        "id_number = $7, id_status = $8, name = $9, sex = $10, birth_date = "
        "$11, phone = $12, "
        "address = $13, grid_code = $14, household_key = $15, remark = $16, "
        "source_updated_at = $17::timestamptz, match_key = $18, "
        "applied_at = now()",
        18, NULL, p, NULL, NULL, 0);
    for (int f = 0; f < NF; f++)
        free(vals[f]);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        e = sqlerr(r, a->db, "upsert source record", errstr, errstr_size);
        goto out;
    }
    PQclear(r);
    e = recompute_person(a, new_mk, errstr, errstr_size);
    if (!e && old_mk && strcmp(old_mk, new_mk))
        e = recompute_person(a, old_mk, errstr, errstr_size);
    if (applied) *applied = 1;
out:
    PQclear(cur);
    gh_buf_free(&b);
    free(dept);
    free(table);
    free(key);
    free(new_mk);
    free(old_mk);
    return e;
}
