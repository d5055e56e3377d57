/* Re-sealing the hub database under the active key while the hub runs
 * (`gridhub keys rotate`, docs/encryption.md). Each table is read in
 * ranges of pages (TID range scans), rows holding a value not sealed under
 * the target key are re-sealed in memory and written back with one UPDATE
 * per range that only takes rows still holding what was read: a row the
 * hub rewrote meanwhile is left to it (it seals with the active key once
 * it has re-read the key file) or to the next pass. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypt.h"
#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "gridhub/shutdown.h"
#include "gridhub/sqlarr.h"
#include "gridhub/util.h"

#define LOG "keys"
#define PAGES 128 /* heap pages per range */

typedef enum { TEXT, JSON, BYTES } kind_t;

typedef struct table {
    const char *name;
    kind_t kind;
    const char *cols[8]; /* NULL-terminated */
    const char *fields[8];
} table_t;

/* Every place a sealed value is stored. */
static const table_t TABLES[] = {
    {"source_person",
     TEXT,
     {"id_number_raw", "id_number", "id_clean", "phone", "n_phone", "address",
      "n_address", NULL},
     {"id_number", "id_number", "id_number", "phone", "phone", "address",
      "address", NULL}},
    {"person",
     TEXT,
     {"id_number", "phone", "address", NULL},
     {"id_number", "phone", "address", NULL}},
    {"person_override", TEXT, {"value", NULL}, {"override", NULL}},
    {"match_edge", JSON, {"evidence", NULL}, {GH_CRYPT_JSON, NULL}},
    {"steward_item", JSON, {"evidence", NULL}, {GH_CRYPT_JSON, NULL}},
    {"outbox", BYTES, {"payload", NULL}, {"payload", NULL}},
    {"outbox_rejected", BYTES, {"payload", NULL}, {"payload", NULL}},
};
#define NTABLES (sizeof(TABLES) / sizeof(TABLES[0]))

static int ncols(const table_t *t) {
    int n = 0;
    while (t->cols[n])
        n++;
    return n;
}

/* The SQL that reads column c as text, and the condition that it holds
 * something not sealed under the target ($3: 'gh1:<kid>:'). */
static void col_sql(gh_buf_t *sel, gh_buf_t *need, const table_t *t,
                    const char *c) {
    switch (t->kind) {
    case TEXT:
        gh_buf_printf(sel, ", %s", c);
        gh_buf_printf(need, "%s(%s IS NOT NULL AND left(%s, length($3)) <> $3)",
                      need->len ? " OR " : "", c, c);
        break;
    case JSON:
        gh_buf_printf(sel, ", %s::text", c);
        gh_buf_printf(need, "%s%s::text ~ ('\"gh1:(?!' || $4 || ':)')",
                      need->len ? " OR " : "", c);
        break;
    case BYTES:
        /* Only sealed payloads: a clear one (a signed head) stays. */
        gh_buf_printf(sel, ", convert_from(%s, 'UTF8')", c);
        gh_buf_printf(need,
                      "%s(substring(%s from 1 for 4) = '\\x6768313a'::bytea "
                      "AND substring(%s from 1 for length($3)) <> "
                      "convert_to($3, 'UTF8'))",
                      need->len ? " OR " : "", c, c);
        break;
    }
}

/* The re-sealed form of v (column j of t), or NULL if it stays. */
static char *reseal(gh_crypt_t *c, const char *kid, const table_t *t, int j,
                    const char *v, char *errstr, size_t errstr_size,
                    gh_err_t *e) {
    char pre[GH_CRYPT_KID_MAX + 8];
    snprintf(pre, sizeof(pre), GH_CRYPT_PREFIX "%s:", kid);
    if (t->kind == JSON) {
        if (!strstr(v, "\"" GH_CRYPT_PREFIX)) return NULL;
        char *out = gh_crypt_reseal_json(c, kid, v, errstr, errstr_size);
        if (!out) *e = GH_ERR_PARSE;
        return out;
    }
    size_t n = strlen(v);
    if (!strncmp(v, pre, strlen(pre))) return NULL;
    if (t->kind == BYTES && !gh_crypt_is_sealed(v, n)) return NULL;
    char *plain;
    size_t pl;
    *e = gh_crypt_open(c, t->fields[j], v, n, &plain, &pl, errstr, errstr_size);
    if (*e) return NULL;
    char *out = gh_crypt_seal_with(c, kid, t->fields[j], plain, pl);
    gh_free_secret(plain, pl);
    return out;
}

/* One range of pages of t: *found rows needed re-sealing, *done were
 * written. */
static gh_err_t range(gh_crypt_t *c, PGconn *db, const char *kid,
                      const table_t *t, long from, long to, long *found,
                      long *done, char *errstr, size_t errstr_size) {
    int nc = ncols(t);
    gh_buf_t sel = {0}, need = {0}, q = {0};
    for (int j = 0; j < nc; j++)
        col_sql(&sel, &need, t, t->cols[j]);
    gh_buf_printf(&q,
                  "SELECT ctid::text%s FROM %s WHERE ctid >= ('(' || $1 || "
                  "',0)')::tid AND ctid < ('(' || $2 || ',0)')::tid AND "
                  "$3::text IS NOT NULL AND $4::text IS NOT NULL AND (%s)",
                  sel.data, t->name, need.data);
    char a[32], b[32], pre[GH_CRYPT_KID_MAX + 8];
    snprintf(a, sizeof(a), "%ld", from);
    snprintf(b, sizeof(b), "%ld", to);
    snprintf(pre, sizeof(pre), GH_CRYPT_PREFIX "%s:", kid);
    const char *p[4] = {a, b, pre, kid};
    PGresult *r = gh_pg_query_what(db, q.data, 4, p, "read sealed values",
                                   errstr, errstr_size);
    gh_buf_free(&sel);
    gh_buf_free(&need);
    if (!r) {
        gh_buf_free(&q);
        return GH_ERR_PG;
    }
    gh_sqlarr_t arr[1 + 2 * 8];
    for (int j = 0; j < 1 + 2 * nc; j++) {
        memset(&arr[j], 0, sizeof(arr[j]));
        gh_sqlarr_reset(&arr[j]);
    }
    gh_err_t e = GH_OK;
    long rows = 0;
    for (int i = 0; i < PQntuples(r) && !e; i++) {
        gh_sqlarr_text(&arr[0], PQgetvalue(r, i, 0));
        for (int j = 0; j < nc && !e; j++) {
            int isnull = PQgetisnull(r, i, 1 + j);
            const char *v = isnull ? NULL : PQgetvalue(r, i, 1 + j);
            char *nv =
                v ? reseal(c, kid, t, j, v, errstr, errstr_size, &e) : NULL;
            gh_sqlarr_text(&arr[1 + 2 * j], v);
            gh_sqlarr_text(&arr[2 + 2 * j], nv ? nv : v);
            free(nv);
        }
        rows++;
    }
    PQclear(r);
    *found += rows;
    if (!e && rows) {
        const char *cast = t->kind == JSON ? "::jsonb" : "";
        gh_buf_reset(&q);
        gh_buf_printf(&q, "UPDATE %s t SET ", t->name);
        for (int j = 0; j < nc; j++) {
            if (t->kind == BYTES)
                gh_buf_printf(&q, "%s%s = convert_to(u.n%d, 'UTF8')",
                              j ? ", " : "", t->cols[j], j);
            else
                gh_buf_printf(&q, "%s%s = u.n%d%s", j ? ", " : "", t->cols[j],
                              j, cast);
        }
        gh_buf_puts(&q, " FROM unnest($1::tid[]");
        for (int j = 0; j < nc; j++)
            gh_buf_printf(&q, ", $%d::text[], $%d::text[]", 2 + 2 * j,
                          3 + 2 * j);
        gh_buf_puts(&q, ") AS u(tid");
        for (int j = 0; j < nc; j++)
            gh_buf_printf(&q, ", o%d, n%d", j, j);
        gh_buf_puts(&q, ") WHERE t.ctid = u.tid");
        for (int j = 0; j < nc; j++) {
            if (t->kind == BYTES)
                gh_buf_printf(&q,
                              " AND t.%s IS NOT DISTINCT FROM "
                              "convert_to(u.o%d, 'UTF8')",
                              t->cols[j], j);
            else
                gh_buf_printf(&q, " AND t.%s%s IS NOT DISTINCT FROM u.o%d",
                              t->cols[j], t->kind == JSON ? "::text" : "", j);
        }
        const char *up[1 + 2 * 8];
        for (int j = 0; j < 1 + 2 * nc; j++)
            up[j] = gh_sqlarr_get(&arr[j]);
        PGresult *u =
            gh_pg_query_what(db, q.data, 1 + 2 * nc, up,
                             "write re-sealed values", errstr, errstr_size);
        if (!u)
            e = GH_ERR_PG;
        else {
            *done += strtol(PQcmdTuples(u), NULL, 10);
            PQclear(u);
        }
    }
    for (int j = 0; j < 1 + 2 * nc; j++)
        gh_sqlarr_free(&arr[j]);
    gh_buf_free(&q);
    return e;
}

/* One pass over every table: *seen rows needed re-sealing, *done were. */
static gh_err_t pass(gh_crypt_t *c, PGconn *db, const char *kid, long *seen,
                     long *done, char *errstr, size_t errstr_size) {
    *seen = 0;
    for (size_t i = 0; i < NTABLES; i++) {
        const table_t *t = &TABLES[i];
        const char *p[1] = {t->name};
        PGresult *r =
            gh_pg_query_what(db,
                             "SELECT pg_relation_size($1::regclass) / "
                             "current_setting('block_size')::bigint",
                             1, p, "size a table", errstr, errstr_size);
        if (!r) return GH_ERR_PG;
        long pages = strtol(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        long found = 0, wrote = 0;
        /* Updated rows may move to pages past the first size: go on
         * until the ranges pass the table's end as it is then. */
        for (long from = 0; from <= pages; from += PAGES) {
            if (gh_shutdown_requested())
                return gh_seterr(errstr, errstr_size, GH_ERR_STOPPED,
                                 "stopped during the rotation (run it again "
                                 "to finish: it goes on where values are "
                                 "not yet re-sealed)");
            gh_err_t e = range(c, db, kid, t, from, from + PAGES, &found,
                               &wrote, errstr, errstr_size);
            if (e) return e;
        }
        if (found)
            gh_log_info(LOG,
                        "%s: %ld rows re-sealed under key %s (%ld left "
                        "to the next pass)",
                        t->name, wrote, kid, found - wrote);
        *seen += found;
        *done += wrote;
    }
    return GH_OK;
}

gh_err_t gh_crypt_rotate_db(gh_crypt_t *c, PGconn *db, const char *kid,
                            int max_passes, long *rows, char *errstr,
                            size_t errstr_size) {
    *rows = 0;
    long seen = 0;
    /* Done when a whole pass finds nothing: a hub that had not yet re-read
     * the key file may have sealed new values under the old key behind
     * an earlier pass. */
    for (int i = 0; i < max_passes; i++) {
        gh_err_t e = pass(c, db, kid, &seen, rows, errstr, errstr_size);
        if (e) return e;
        if (!seen) return GH_OK;
        gh_shutdown_sleep_ms(1000); /* time for a hub to re-read the keys */
    }
    return gh_seterr(errstr, errstr_size, GH_ERR_RETRY,
                     "%ld rows still held values under other keys in the "
                     "last of %d passes (is a hub running with an old copy "
                     "of the key file?)",
                     seen, max_passes);
}

gh_err_t gh_crypt_count_db(PGconn *db, FILE *out, char *errstr,
                           size_t errstr_size) {
    for (size_t i = 0; i < NTABLES; i++) {
        const table_t *t = &TABLES[i];
        for (int j = 0; t->cols[j]; j++) {
            gh_buf_t q = {0};
            const char *c = t->cols[j];
            if (t->kind == TEXT)
                gh_buf_printf(&q,
                              "SELECT CASE WHEN left(%s, 4) = 'gh1:' THEN "
                              "split_part(%s, ':', 2) ELSE 'clear' END, "
                              "count(*) FROM %s WHERE %s IS NOT NULL GROUP BY "
                              "1 ORDER BY 1",
                              c, c, t->name, c);
            else if (t->kind == JSON)
                gh_buf_printf(&q,
                              "SELECT m[1], count(*) FROM %s, "
                              "regexp_matches(%s::text, '\"gh1:([^:\"]*):', "
                              "'g') AS m GROUP BY 1 ORDER BY 1",
                              t->name, c);
            else
                gh_buf_printf(&q,
                              "SELECT CASE WHEN substring(%s from 1 for 4) = "
                              "'\\x6768313a'::bytea THEN split_part("
                              "convert_from(substring(%s from 1 for 40), "
                              "'SQL_ASCII'), ':', 2) ELSE 'clear' END, "
                              "count(*) FROM %s WHERE %s IS NOT NULL GROUP "
                              "BY 1 ORDER BY 1",
                              c, c, t->name, c);
            PGresult *r =
                gh_pg_query_what(db, q.data, 0, NULL, "count sealed values",
                                 errstr, errstr_size);
            gh_buf_free(&q);
            if (!r) return GH_ERR_PG;
            for (int k = 0; k < PQntuples(r); k++)
                fprintf(out, "%-18s %-14s %-8s %s\n", t->name, c,
                        PQgetvalue(r, k, 0), PQgetvalue(r, k, 1));
            PQclear(r);
        }
    }
    return GH_OK;
}
