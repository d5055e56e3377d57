/* Applying change events of every entity but persons (grids, buildings,
 * households, members, staff, events, registrations, ...) into
 * source_row: the row as the entity's canonical record in JSON, under the
 * same rules as persons — position order per key, replays and events
 * older than a TRUNCATE skipped, deletes kept as deleted rows, TOASTed
 * (Unchanged) values kept from the stored row, set-based per batch.
 * Nothing here knows an entity: the schema the topic's events were
 * decoded to says what the fields are. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply_int.h"
#include "gridhub/pg.h"
#include "gridhub/pgcopy.h"
#include "gridhub/sqlarr.h"
#include "gridhub/util.h"

typedef struct rstate {
    const char *dept, *entity, *key;
    gh_apply_pos_t pos;
    int written;      /* the upsert changed it (it was newer than the stored) */
    const char *text; /* the row as it stands (an event's); NULL: stored */
    json_t *doc;      /* or merged from partial rows (TOAST), owned */
    int64_t id_key;   /* as gh_apply_ev_t's; -1: keep the stored one */
    int stored_i;     /* its row in the read result, -1 if none */
} rstate_t;

typedef struct kref {
    int ev;
    const char *dept, *entity, *key;
} kref_t;

static int cmp3(const char *d1, const char *e1, const char *k1, const char *d2,
                const char *e2, const char *k2) {
    int c = strcmp(d1, d2);
    if (!c) c = strcmp(e1, e2);
    return c ? c : strcmp(k1, k2);
}

static int cmp_kref(const void *x, const void *y) {
    const kref_t *a = x, *b = y;
    int c = cmp3(a->dept, a->entity, a->key, b->dept, b->entity, b->key);
    return c ? c : a->ev - b->ev;
}

static int cmp_rstate(const void *x, const void *y) {
    const rstate_t *a = x, *b = y;
    return cmp3(a->dept, a->entity, a->key, b->dept, b->entity, b->key);
}

/* Reads the stored position and row of every key. */
static PGresult *read_stored(gh_apply_t *a, rstate_t *ks, int nk, char *errstr,
                             size_t errstr_size) {
    gh_sqlarr_t d = {0}, e = {0}, k = {0};
    gh_sqlarr_reset(&d);
    gh_sqlarr_reset(&e);
    gh_sqlarr_reset(&k);
    for (int i = 0; i < nk; i++) {
        gh_sqlarr_text(&d, ks[i].dept);
        gh_sqlarr_text(&e, ks[i].entity);
        gh_sqlarr_text(&k, ks[i].key);
    }
    const char *p[3] = {gh_sqlarr_get(&d), gh_sqlarr_get(&e),
                        gh_sqlarr_get(&k)};
    PGresult *r = gh_pg_query_what(
        a->db,
        "SELECT department, entity, source_key, pos_lsn, pos_seq, "
        "deleted::int, row::text FROM "
        "source_row WHERE (department, entity, source_key) IN (SELECT d, e, "
        "k FROM unnest($1::text[], $2::text[], $3::text[]) AS u(d, e, k))",
        3, p, "read entity rows", errstr, errstr_size);
    gh_sqlarr_free(&d);
    gh_sqlarr_free(&e);
    gh_sqlarr_free(&k);
    return r;
}

/* Binary COPY into a staging table, then one upsert from it: no array
 * literal to escape and parse for every value (docs/benchmarks.md, "Every
 * entity"). The table lives as long as the session; IF NOT EXISTS because
 * a rolled-back batch may have been the one to create it. */
static const char STAGE_SQL[] =
    "CREATE TEMP TABLE IF NOT EXISTS source_row_in (department text, entity "
    "text, source_key text, source_table text, pos_lsn bigint, pos_seq "
    "bigint, deleted boolean, row jsonb, id_key bigint) ON COMMIT DELETE ROWS";

/* A delete keeps the last row it had (as source_person does); an update
 * that left the ID out (TOAST, id_key NULL) keeps the stored key. Only
 * what is newer than the stored row is written. */
static const char UPSERT_SQL[] =
    "INSERT INTO source_row AS s (department, entity, source_key, "
    "source_table, pos_lsn, pos_seq, deleted, row, id_key) SELECT "
    "department, entity, source_key, source_table, pos_lsn, pos_seq, "
    "deleted, coalesce(row, '{}'), CASE WHEN deleted THEN coalesce(id_key, "
    "0) ELSE coalesce(id_key, -1) END FROM source_row_in ON CONFLICT "
    "(department, entity, source_key) DO UPDATE SET source_table = "
    "EXCLUDED.source_table, pos_lsn = EXCLUDED.pos_lsn, pos_seq = "
    "EXCLUDED.pos_seq, deleted = EXCLUDED.deleted, row = CASE WHEN "
    "EXCLUDED.deleted THEN s.row ELSE EXCLUDED.row END, id_key = CASE WHEN "
    "EXCLUDED.deleted OR EXCLUDED.id_key = -1 THEN s.id_key ELSE "
    "EXCLUDED.id_key END, applied_at = now() WHERE (s.pos_lsn, s.pos_seq) < "
    "(EXCLUDED.pos_lsn, EXCLUDED.pos_seq) RETURNING department, entity, "
    "source_key";

/* Writes every key the batch changed; marks those written. */
static gh_err_t write_keys(gh_apply_t *a, rstate_t *ks, int nk, char *errstr,
                           size_t errstr_size) {
    gh_pgcopy_t *c = gh_pgcopy_new();
    gh_buf_t jb = {0};
    for (int i = 0; i < nk; i++) {
        rstate_t *k = &ks[i];
        if (!k->pos.dirty) continue;
        gh_pgcopy_row(c, 9);
        gh_pgcopy_text(c, k->dept);
        gh_pgcopy_text(c, k->entity);
        gh_pgcopy_text(c, k->key);
        gh_pgcopy_text(c, k->pos.table);
        gh_pgcopy_int8(c, k->pos.lsn);
        gh_pgcopy_int8(c, k->pos.seq);
        const char t = k->pos.deleted ? 1 : 0;
        gh_pgcopy_bytes(c, &t, 1); /* boolean */
        char *doc = k->doc ? json_dumps(k->doc, JSON_COMPACT) : NULL;
        const char *text = doc ? doc : k->text;
        if (text) {
            /* jsonb's binary form: a version byte, then the text. */
            gh_buf_reset(&jb);
            gh_buf_append(&jb, "\x01", 1);
            gh_buf_puts(&jb, text);
            gh_pgcopy_bytes(c, jb.data, jb.len);
        } else {
            gh_pgcopy_null(c);
        }
        free(doc);
        if (k->id_key == -1)
            gh_pgcopy_null(c);
        else
            gh_pgcopy_int8(c, k->id_key);
    }
    gh_buf_free(&jb);
    gh_err_t e = GH_OK;
    if (gh_pgcopy_rows(c)) {
        e = gh_pg_exec_what(a->db, STAGE_SQL, 0, NULL, "stage entity rows",
                            errstr, errstr_size);
        if (!e)
            e = gh_pgcopy_send(c, a->db,
                               "COPY source_row_in FROM STDIN (FORMAT binary)",
                               "stage entity rows", errstr, errstr_size);
        PGresult *r =
            e ? NULL
              : gh_pg_query_what(a->db, UPSERT_SQL, 0, NULL,
                                 "upsert entity rows", errstr, errstr_size);
        if (!e && !r) e = GH_ERR_PG;
        for (int i = 0; r && i < PQntuples(r); i++) {
            rstate_t key = {.dept = PQgetvalue(r, i, 0),
                            .entity = PQgetvalue(r, i, 1),
                            .key = PQgetvalue(r, i, 2)};
            rstate_t *k =
                bsearch(&key, ks, (size_t)nk, sizeof(*ks), cmp_rstate);
            if (!k) continue;
            k->written = 1;
            gh_apply_touch(a, k->entity);
        }
        PQclear(r);
        /* Emptied now, not only at commit: a batch retried one event at a
         * time inside the same transaction stages again. */
        if (!e)
            e = gh_pg_exec_what(a->db, "DELETE FROM source_row_in", 0, NULL,
                                "stage entity rows", errstr, errstr_size);
    }
    gh_pgcopy_destroy(c);
    return e;
}

gh_err_t gh_apply_row_batch(gh_apply_t *a, avro_value_t *envs,
                            const char *const *entity, int n, int *status,
                            char **why, char *errstr, size_t errstr_size) {
    gh_apply_ev_t *ev = gh_xcalloc((size_t)n + 1, sizeof(*ev));
    kref_t *refs = gh_xcalloc((size_t)n + 1, sizeof(*refs));
    int *st_of = gh_xcalloc((size_t)n + 1, sizeof(int));
    rstate_t *ks = gh_xcalloc((size_t)n + 1, sizeof(*ks));
    PGresult *cur = NULL, *wm = NULL;
    gh_err_t e = GH_OK;
    int m = 0, nk = 0, any_partial = 0;
    for (int i = 0; i < n; i++) {
        status[i] = 0;
        why[i] = NULL;
        st_of[i] = -1;
        char reason[512];
        avro_value_t row;
        if (gh_apply_ev_head(&envs[i], &ev[i], &row, reason, sizeof(reason)) ||
            (strchr("cur", ev[i].op) &&
             gh_apply_row_render(a, entity[i], &row, &ev[i], reason,
                                 sizeof(reason)))) {
            status[i] = -1;
            why[i] = gh_xstrdup(reason);
            continue;
        }
        if (ev[i].op == 't') {
            e = gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                          "batch holds a TRUNCATE");
            goto out;
        }
        any_partial |= ev[i].partial;
        refs[m++] = (kref_t){i, ev[i].dept, entity[i], ev[i].key};
    }
    /* One state per key, in (department, entity, key) order. */
    qsort(refs, (size_t)m, sizeof(*refs), cmp_kref);
    for (int j = 0; j < m; j++) {
        const kref_t *x = &refs[j];
        if (!nk || cmp3(ks[nk - 1].dept, ks[nk - 1].entity, ks[nk - 1].key,
                        x->dept, x->entity, x->key))
            ks[nk++] = (rstate_t){.dept = x->dept,
                                  .entity = x->entity,
                                  .key = x->key,
                                  .id_key = -1,
                                  .stored_i = -1};
        st_of[x->ev] = nk - 1;
    }
    /* The stored rows are read only when a change left fields out
     * (TOAST): otherwise the upserts themselves skip what is not newer
     * than the stored row, and say which keys they wrote. */
    if (nk && any_partial) {
        cur = read_stored(a, ks, nk, errstr, errstr_size);
        if (!cur) {
            e = GH_ERR_PG;
            goto out;
        }
    }
    if (nk && !(wm = gh_apply_read_watermarks(a, errstr, errstr_size))) {
        e = GH_ERR_PG;
        goto out;
    }
    for (int i = 0; cur && i < PQntuples(cur); i++) {
        rstate_t key = {.dept = PQgetvalue(cur, i, 0),
                        .entity = PQgetvalue(cur, i, 1),
                        .key = PQgetvalue(cur, i, 2)};
        rstate_t *k = bsearch(&key, ks, (size_t)nk, sizeof(*ks), cmp_rstate);
        if (!k) continue;
        k->pos.exists = 1;
        k->stored_i = i;
        k->pos.lsn = strtoll(PQgetvalue(cur, i, 3), NULL, 10);
        k->pos.seq = strtoll(PQgetvalue(cur, i, 4), NULL, 10);
        k->pos.deleted = PQgetvalue(cur, i, 5)[0] == '1';
    }
    /* Fold the events in their order. */
    for (int i = 0; i < n; i++) {
        if (st_of[i] < 0) continue;
        gh_apply_ev_t *x = &ev[i];
        rstate_t *k = &ks[st_of[i]];
        if (!gh_apply_advance(&k->pos, wm, x)) continue;
        status[i] = 1;
        if (k->pos.deleted) continue;
        if (!(x->partial && x->id_key == -1)) k->id_key = x->id_key;
        if (!x->partial) {
            json_decref(k->doc);
            k->doc = NULL;
            k->text = x->text;
            continue;
        }
        /* A row without the fields a change left out (TOAST) is merged
         * into the row as it stands: this batch's, or the stored one. */
        if (!k->doc && k->text)
            k->doc = json_loads(k->text, 0, NULL);
        else if (!k->doc && k->stored_i >= 0 &&
                 !PQgetisnull(cur, k->stored_i, 6))
            k->doc = json_loads(PQgetvalue(cur, k->stored_i, 6), 0, NULL);
        json_t *part = json_loads(x->text, 0, NULL);
        if (k->doc) {
            json_object_update(k->doc, part);
            json_decref(part);
        } else {
            k->doc = part;
        }
    }
    e = write_keys(a, ks, nk, errstr, errstr_size);
    /* An event of a key the upsert left alone (the stored row is as new)
     * was a replay. */
    for (int i = 0; !e && i < n; i++)
        if (status[i] == 1 && !ks[st_of[i]].written) status[i] = 0;
out:
    if (e) gh_apply_forget(n, status, why);
    PQclear(cur);
    PQclear(wm);
    for (int i = 0; i < nk; i++)
        json_decref(ks[i].doc);
    for (int i = 0; i < n; i++)
        gh_apply_ev_free(&ev[i]);
    free(ev);
    free(refs);
    free(st_of);
    free(ks);
    return e;
}

gh_err_t gh_apply_batch(gh_apply_t *a, avro_value_t *envs,
                        const char *const *entity, int n, int *status,
                        char **why, char *errstr, size_t errstr_size) {
    avro_value_t *pe = gh_xcalloc((size_t)n + 1, sizeof(*pe));
    avro_value_t *re = gh_xcalloc((size_t)n + 1, sizeof(*re));
    const char **rent = gh_xcalloc((size_t)n + 1, sizeof(*rent));
    int *pi = gh_xcalloc((size_t)n + 1, sizeof(int));
    int *ri = gh_xcalloc((size_t)n + 1, sizeof(int));
    int *st = gh_xcalloc((size_t)n + 1, sizeof(int));
    char **wh = gh_xcalloc((size_t)n + 1, sizeof(char *));
    int np = 0, nr = 0;
    for (int i = 0; i < n; i++) {
        status[i] = 0;
        why[i] = NULL;
        if (!strcmp(entity[i], "person")) {
            pi[np] = i;
            pe[np++] = envs[i];
        } else {
            ri[nr] = i;
            rent[nr] = entity[i];
            re[nr++] = envs[i];
        }
    }
    /* Persons and other entities live in separate tables: their order
     * relative to each other does not matter, only within a key. */
    gh_err_t e = GH_OK;
    if (np) {
        e = gh_apply_person_batch(a, pe, np, st, wh, errstr, errstr_size);
        for (int j = 0; !e && j < np; j++) {
            status[pi[j]] = st[j];
            why[pi[j]] = wh[j];
        }
    }
    if (!e && nr) {
        e = gh_apply_row_batch(a, re, rent, nr, st, wh, errstr, errstr_size);
        for (int j = 0; !e && j < nr; j++) {
            status[ri[j]] = st[j];
            why[ri[j]] = wh[j];
        }
    }
    if (e) gh_apply_forget(n, status, why);
    free(pe);
    free(re);
    free(rent);
    free(pi);
    free(ri);
    free(st);
    free(wh);
    return e;
}
