/* Golden records as JSON for the person table, their views for the
 * outbox. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "resolve_int.h"

/* The columns of a person as publishing and sweeps read it (as
 * gh_view_fill_row takes them, `active` 13), before its attributes. */
#define PUBLISH_COLS                                                           \
    "person_id, version, floor(extract(epoch from updated_at) * "              \
    "1000000)::bigint, id_number, name, sex, birth_date::text, phone, "        \
    "address, grid_code, sources::text, provenance::text, "                    \
    "absorbed_ids::text, active"

/* JSON texts of a person's sources, provenance and absorbed ids. */
void gh__res_person_json(gh_resolver_t *r, const comp_t *c,
                         const gh_golden_pick_t *pk, const char *const *ov,
                         const int64_t *ov_at, const char *absorbed_old,
                         char **ret, const char **into, size_t nret,
                         char **sources, char **prov, char **absorbed) {
    json_t *s = json_array(), *p = json_array(), *ab;
    for (size_t i = 0; i < c->n; i++) {
        const wrec_t *x = &r->w[c->mem[i]];
        json_t *o = json_object();
        json_object_set_new(o, "department", json_string(x->dept));
        json_object_set_new(o, "source_key", json_string(x->key));
        json_array_append_new(s, o);
    }
    for (int f = 0; f < GH_GOLDEN_NFIELDS; f++) {
        if (pk->src[f] == -1) continue;
        json_t *o = json_object();
        json_object_set_new(o, "field", json_string(gh_golden_field_name(f)));
        if (pk->src[f] == -2) {
            json_object_set_new(o, "department", json_string("steward"));
            json_object_set_new(o, "source_key", json_null());
            json_object_set_new(o, "at", json_integer(ov_at[f]));
        } else {
            const wrec_t *x = &r->w[c->mem[pk->src[f]]];
            json_object_set_new(o, "department", json_string(x->dept));
            json_object_set_new(o, "source_key", json_string(x->key));
            json_object_set_new(o, "at",
                                x->g.updated_us == INT64_MIN
                                    ? json_null()
                                    : json_integer(x->g.updated_us));
        }
        json_array_append_new(p, o);
        (void)ov;
    }
    ab = absorbed_old ? json_loads(absorbed_old, 0, NULL) : NULL;
    if (!json_is_array(ab)) {
        json_decref(ab);
        ab = json_array();
    }
    for (size_t i = 0; i < nret; i++)
        if (into[i] && !strcmp(into[i], c->pid))
            json_array_append_new(ab, json_string(ret[i]));
    *sources = json_dumps(s, JSON_COMPACT);
    *prov = json_dumps(p, JSON_COMPACT);
    *absorbed = json_dumps(ab, JSON_COMPACT);
    json_decref(s);
    json_decref(p);
    json_decref(ab);
}

gh_err_t gh__res_feed_row(gh_resolver_t *r, PGresult *res, int i, char *errstr,
                          size_t errstr_size) {
    if (!r->feed) return GH_OK;
    return gh_feed_put(r->feed, r->feed_entity, PQgetvalue(res, i, 0),
                       gh__res_ival(res, i, 1, 0),
                       gh_view_fill_row(r->view, res, i), errstr, errstr_size);
}

void gh__res_golden_begin(gh__res_golden_t *g) {
    memset(g, 0, sizeof(*g));
    for (int k = 0; k < GH__RES_GOLDEN_COLS; k++)
        gh_sqlarr_reset(&g->col[k]);
}

/* Whether golden field f is personal data, stored sealed wherever it is
 * kept (docs/encryption.md). */
static int sealed_field(int f) {
    return f == GH_GOLDEN_ID || f == GH_GOLDEN_PHONE || f == GH_GOLDEN_ADDRESS;
}

/* An attribute_conflict item for field f of a person (its evidence: every
 * department's value, with record and time). */
static void conflict_item(gh_crypt_t *c, const comp_t *cp,
                          const gh_golden_src_t *srcs,
                          const gh_golden_pick_t *pk, int f, item_t **items,
                          size_t *nitems) {
    int seal = sealed_field(f);
    json_t *o = json_object(), *vs = json_array();
    json_object_set_new(o, "field", json_string(gh_golden_field_name(f)));
    json_object_set_new(
        o, "chosen", gh_crypt_json_string(c, seal, srcs[pk->src[f]].value[f]));
    for (size_t i = 0; i < cp->n; i++) {
        if (!srcs[i].value[f]) continue;
        json_t *x = json_object();
        json_object_set_new(x, "department", json_string(srcs[i].department));
        json_object_set_new(x, "source_key", json_string(srcs[i].source_key));
        json_object_set_new(x, "value",
                            gh_crypt_json_string(c, seal, srcs[i].value[f]));
        json_object_set_new(x, "updated_at",
                            srcs[i].updated_us == INT64_MIN
                                ? json_null()
                                : json_integer(srcs[i].updated_us));
        json_array_append_new(vs, x);
    }
    json_object_set_new(o, "values", vs);
    *items = gh_xrealloc(*items, (*nitems + 1) * sizeof(**items));
    item_t *it = &(*items)[(*nitems)++];
    memset(it, 0, sizeof(*it));
    it->kind = "attribute_conflict";
    it->pa = cp->pid;
    it->field = gh_golden_field_name(f);
    it->evidence = json_dumps(o, JSON_COMPACT);
    json_decref(o);
}

void gh__res_golden_add(gh_resolver_t *r, gh__res_golden_t *g, const comp_t *cp,
                        PGresult *ovr, PGresult *cur, char **ret,
                        const char **into, size_t nret, item_t **items,
                        size_t *nitems) {
    gh_golden_src_t *srcs = gh_xcalloc(cp->n + 1, sizeof(*srcs));
    for (size_t i = 0; i < cp->n; i++)
        srcs[i] = r->w[cp->mem[i]].g;
    const char *ov[GH_GOLDEN_NFIELDS] = {0};
    int64_t ov_at[GH_GOLDEN_NFIELDS] = {0};
    for (int i = gh__res_first_row(ovr, cp->pid);
         i < PQntuples(ovr) && !strcmp(PQgetvalue(ovr, i, 0), cp->pid); i++) {
        int f = gh_golden_field_index(PQgetvalue(ovr, i, 1));
        if (f < 0) continue;
        ov[f] = PQgetisnull(ovr, i, 2) ? "" : PQgetvalue(ovr, i, 2);
        ov_at[f] = gh__res_ival(ovr, i, 3, 0);
    }
    gh_golden_pick_t pk;
    gh_golden_choose(r->golden, srcs, (int)cp->n, ov, &pk);
    const char *absorbed_old = NULL;
    int ci = gh__res_first_row(cur, cp->pid);
    if (ci < PQntuples(cur) && !strcmp(PQgetvalue(cur, ci, 0), cp->pid))
        absorbed_old = PQgetvalue(cur, ci, 1);
    char *sj, *pj, *aj;
    gh__res_person_json(r, cp, &pk, ov, ov_at, absorbed_old, ret, into, nret,
                        &sj, &pj, &aj);
    gh_sqlarr_text(&g->col[0], cp->pid);
    for (int f = 0; f < GH_GOLDEN_NFIELDS; f++) {
        const char *v = pk.src[f] >= 0                ? srcs[pk.src[f]].value[f]
                        : pk.src[f] == -2 && ov[f][0] ? ov[f]
                                                      : NULL;
        /* A department that says "unknown" still says something when no
         * other one knows better. */
        for (size_t i = 0; !v && f == GH_GOLDEN_SEX && i < cp->n; i++)
            if (r->w[cp->mem[i]].sex_unknown) v = "UNKNOWN";
        if (v && r->crypt && sealed_field(f)) {
            char *s =
                gh_crypt_seal(r->crypt, gh_golden_field_name(f), v, strlen(v));
            gh_sqlarr_text(&g->col[1 + f], s);
            free(s);
        } else {
            gh_sqlarr_text(&g->col[1 + f], v);
        }
    }
    gh_sqlarr_text(&g->col[8], sj);
    gh_sqlarr_text(&g->col[9], pj);
    gh_sqlarr_text(&g->col[10], aj);
    free(sj);
    free(pj);
    free(aj);
    for (int f = 0; f < GH_GOLDEN_NFIELDS; f++)
        if (r->conflict_field[f] &&
            gh_golden_conflict(r->golden, srcs, (int)cp->n, &pk, f))
            conflict_item(r->crypt, cp, srcs, &pk, f, items, nitems);
    free(srcs);
}

/* The golden records upserted; RETURNING's list follows. */
#define GOLDEN_WRITE_SQL                                                       \
    "INSERT INTO person AS p (person_id, active, version, id_number, "         \
    "name, sex, birth_date, phone, address, grid_code, sources, "              \
    "provenance, absorbed_ids, merged_into) SELECT pid, true, 1, v0, v1, "     \
    "v2, v3::date, v4, v5, v6, s::jsonb, pr::jsonb, ab::jsonb, NULL FROM "     \
    "unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], "      \
    "$6::text[], $7::text[], $8::text[], $9::text[], $10::text[], "            \
    "$11::text[]) AS u(pid, v0, v1, v2, v3, v4, v5, v6, s, pr, ab) ON "        \
    "CONFLICT (person_id) DO UPDATE SET active = true, version = "             \
    "p.version + 1, id_number = EXCLUDED.id_number, name = "                   \
    "EXCLUDED.name, sex = EXCLUDED.sex, birth_date = EXCLUDED.birth_date, "    \
    "phone = EXCLUDED.phone, address = EXCLUDED.address, grid_code = "         \
    "EXCLUDED.grid_code, sources = EXCLUDED.sources, provenance = "            \
    "EXCLUDED.provenance, absorbed_ids = EXCLUDED.absorbed_ids, "              \
    "merged_into = NULL, updated_at = now() WHERE (p.active, p.id_number, "    \
    "p.name, p.sex, p.birth_date, p.phone, p.address, p.grid_code, "           \
    "p.sources, p.provenance, p.absorbed_ids) IS DISTINCT FROM (true, "        \
    "EXCLUDED.id_number, EXCLUDED.name, EXCLUDED.sex, "                        \
    "EXCLUDED.birth_date, EXCLUDED.phone, EXCLUDED.address, "                  \
    "EXCLUDED.grid_code, EXCLUDED.sources, EXCLUDED.provenance, "              \
    "EXCLUDED.absorbed_ids) RETURNING "

gh_err_t gh__res_golden_write(PGconn *db, gh__res_golden_t *g, int ids_only,
                              PGresult **out, char *errstr,
                              size_t errstr_size) {
    const char *p[GH__RES_GOLDEN_COLS];
    for (int k = 0; k < GH__RES_GOLDEN_COLS; k++)
        p[k] = gh_sqlarr_get(&g->col[k]);
    /* Only persons whose golden record changed come back (and get a new
     * version): their ids alone when they are only noted (deferred), for
     * their derived attributes, text and sealed fields would be made, sent
     * and opened for nothing (a few per cent of a catch-up's resolution). */
    *out = gh_pg_query_what(
        db,
        ids_only ? GOLDEN_WRITE_SQL "person_id"
                 : GOLDEN_WRITE_SQL
            "person_id, version, floor(extract(epoch from updated_at) * "
            "1000000)::bigint, id_number, name, sex, birth_date::text, "
            "phone, address, grid_code, sources::text, provenance::text, "
            "absorbed_ids::text, person_attr_json(person_id) AS attrs",
        GH__RES_GOLDEN_COLS, p, "write persons", errstr, errstr_size);
    for (int k = 0; k < GH__RES_GOLDEN_COLS; k++)
        gh_sqlarr_free(&g->col[k]);
    if (!*out) return gh_pg_failure(db);
    return GH_OK;
}

gh_err_t gh__res_open_person(gh_resolver_t *r, PGresult *res, char *errstr,
                             size_t errstr_size) {
    static const int cols[] = {3, 7, 8};
    static const char *const fields[] = {"id_number", "phone", "address"};
    return gh_crypt_open_result(r->crypt, res, cols, fields, 3, errstr,
                                errstr_size);
}

/* The persons of a text[] literal ($1), read to be published.
 * One version, one record (migration 026): a person goes out with the
 * version its last write gave it unless that version went out already
 * (with other attributes, or before a resolution's write was seen); then
 * with a new one, taken as it is read. A person a resolution is writing
 * right now (its row locked) is not waited for, which could make the two
 * transactions wait for each other: it is noted again ('publish') and
 * goes with the next views, as it will with the resolution's own notes.
 * Retired persons are read as they are (tombstones). Columns as
 * gh_view_fill_row reads them, `active` 13. */
static const char TAKE_SQL[] =
    "WITH ids AS (SELECT DISTINCT unnest($1::text[]) AS pid), l AS (SELECT "
    "p.person_id, p.version <= p.published_version AS "
    "sent FROM person p WHERE p.person_id IN (SELECT pid FROM ids) AND "
    "p.active FOR UPDATE SKIP LOCKED), u AS (UPDATE person p SET version "
    "= p.version + l.sent::int, published_version = p.version + "
    "l.sent::int, updated_at = CASE WHEN l.sent THEN now() ELSE "
    "p.updated_at END FROM l WHERE p.person_id = l.person_id RETURNING "
    "p.*), again AS "
    "(INSERT INTO view_dirty (kind, key) SELECT 'publish', i.pid FROM ids "
    "i JOIN person q ON q.person_id = i.pid WHERE q.active AND NOT EXISTS "
    "(SELECT 1 FROM l WHERE l.person_id = i.pid) ON CONFLICT DO NOTHING) "
    "SELECT " PUBLISH_COLS ", person_attr_json(person_id) AS attrs FROM u "
    "UNION ALL SELECT " PUBLISH_COLS ", NULL FROM person WHERE person_id "
    "IN (SELECT pid FROM ids) AND NOT active";
#define TAKE_WHAT "version and read persons to publish"

gh_err_t gh__res_mark_published(PGconn *db, PGresult *res, char *errstr,
                                size_t errstr_size) {
    gh_sqlarr_t ids = {0};
    gh_sqlarr_reset(&ids);
    for (int i = 0; i < PQntuples(res); i++)
        gh_sqlarr_text(&ids, PQgetvalue(res, i, 0));
    const char *p[1] = {gh_sqlarr_get(&ids)};
    gh_err_t e = gh_pg_exec_what(
        db,
        "UPDATE person SET published_version = version WHERE person_id IN "
        "(SELECT person_id FROM person WHERE person_id = ANY ($1::text[]) AND "
        "published_version < version FOR UPDATE SKIP LOCKED)",
        1, p, "note the versions published", errstr, errstr_size);
    gh_sqlarr_free(&ids);
    return e;
}

gh_err_t gh_resolver_feed_page(void *ctx, gh_feed_t *f, PGconn *db, int entity,
                               const char *after, int limit, char **last,
                               int *n, char *errstr, size_t errstr_size) {
    gh_resolver_t *r = ctx;
    *last = NULL;
    *n = 0;
    char lim[32];
    snprintf(lim, sizeof(lim), "%d", limit);
    const char *p[2] = {after, lim};
    PGresult *res = gh_pg_query_what(db,
                                     "SELECT " PUBLISH_COLS
                                     ", person_attr_json(person_id) AS attrs "
                                     "FROM person WHERE person_id > $1 ORDER "
                                     "BY person_id LIMIT $2",
                                     2, p, "read persons", errstr, errstr_size);
    if (!res) return GH_ERR_PG;
    gh_err_t e = gh__res_open_person(r, res, errstr, errstr_size);
    int rows = PQntuples(res);
    for (int i = 0; i < rows && !e; i++) {
        const char *pid = PQgetvalue(res, i, 0);
        if (PQgetvalue(res, i, 13)[0] == 't')
            e = gh_feed_put(f, entity, pid, gh__res_ival(res, i, 1, 0),
                            gh_view_fill_row(r->view, res, i), errstr,
                            errstr_size);
        else
            gh_feed_gone(f, entity, pid, gh__res_ival(res, i, 1, 0));
    }
    /* A sweep sends each person's version as it is, to the subscriber
     * whose plan changed (the same version under another plan is another
     * record by design); that version has gone out, so views publishing
     * the person again take a new one (migration 026). */
    if (!e && rows) e = gh__res_mark_published(db, res, errstr, errstr_size);
    if (!e && rows) *last = gh_xstrdup(PQgetvalue(res, rows - 1, 0));
    *n = rows;
    PQclear(res);
    return e;
}

void gh_resolver_defer_feed(gh_resolver_t *r, int on) {
    r->defer_feed = on;
    gh_sqlarr_reset(&r->written);
}

void gh_resolver_publish_discard(gh_resolver_t *r) {
    gh_sqlarr_reset(&r->written);
}

gh_err_t gh_resolver_publish_later(gh_resolver_t *r, PGconn *db,
                                   const char *changed, char *errstr,
                                   size_t errstr_size) {
    if (!changed || !*changed) changed = "{}";
    if (!r->written.n && !strcmp(changed, "{}")) return GH_OK;
    const char *p[2] = {r->written.n ? gh_sqlarr_get(&r->written) : "{}",
                        changed};
    gh_err_t e = gh_pg_exec_what(
        db,
        "INSERT INTO view_dirty SELECT DISTINCT 'publish', unnest($1::text[] "
        "|| $2::text[]) ON CONFLICT DO NOTHING",
        2, p, "note persons to publish", errstr, errstr_size);
    gh_sqlarr_reset(&r->written);
    return e;
}

/* Persons published per statement and flush: the end of a catch-up
 * publishes every resident it changed in one views transaction (415,866
 * at a tenth of the city), and the rows read, the feed's candidates for
 * every subscriber and their encodings are held in memory per chunk. */
#define PUBLISH_CHUNK 10000

/* Sends the statement taking the chunk of `ids` (column 0) from row
 * `from`. */
static gh_err_t send_take(PGconn *db, PGresult *ids, int from, char *errstr,
                          size_t errstr_size) {
    int to = from + PUBLISH_CHUNK < PQntuples(ids) ? from + PUBLISH_CHUNK
                                                   : PQntuples(ids);
    gh_sqlarr_t chunk = {0};
    gh_sqlarr_reset(&chunk);
    for (int i = from; i < to; i++)
        gh_sqlarr_text(&chunk, PQgetvalue(ids, i, 0));
    const char *p[1] = {gh_sqlarr_get(&chunk)};
    gh_err_t e = gh_pg_send_params_what(db, TAKE_SQL, 1, p, TAKE_WHAT, errstr,
                                        errstr_size);
    gh_sqlarr_free(&chunk);
    return e;
}

/* The result of the statement send_take sent, in *res (caller
 * PQclear()s), or an error. */
static gh_err_t await_take(PGconn *db, PGresult **res, char *errstr,
                           size_t errstr_size) {
    *res = gh_pg_await_what(db, TAKE_WHAT, errstr, errstr_size);
    if (*res) return GH_OK;
    return gh_pg_failure(db);
}

/* The persons taken (`res`) put to the feed, encoded for every
 * subscriber. A person retired (merged away, or left without records)
 * since it was noted goes as a tombstone: resolution notes retired ids
 * too. */
static gh_err_t put_taken(gh_resolver_t *r, PGresult *res, char *errstr,
                          size_t errstr_size) {
    gh_err_t e = gh__res_open_person(r, res, errstr, errstr_size);
    for (int i = 0; i < PQntuples(res) && !e; i++) {
        if (PQgetvalue(res, i, 13)[0] == 't')
            e = gh__res_feed_row(r, res, i, errstr, errstr_size);
        else if (r->feed)
            gh_feed_gone(r->feed, r->feed_entity, PQgetvalue(res, i, 0),
                         gh__res_ival(res, i, 1, 0));
    }
    return e;
}

gh_err_t gh_resolver_publish_noted(gh_resolver_t *r, PGconn *db,
                                   const char *xid, long *n, char *errstr,
                                   size_t errstr_size) {
    if (n) *n = 0;
    const char *p[1] = {xid};
    PGresult *ids = gh_pg_query_what(
        db,
        "WITH d AS (DELETE FROM view_dirty WHERE kind = 'publish' AND xid = "
        "$1::xid8 RETURNING key) SELECT DISTINCT key FROM d",
        1, p, "take the persons noted to publish", errstr, errstr_size);
    if (!ids) return GH_ERR_PG;
    long put = 0;
    int all = PQntuples(ids);
    PGresult *cur = NULL;
    gh_err_t e = all ? send_take(db, ids, 0, errstr, errstr_size) : GH_OK;
    if (all && !e) e = await_take(db, &cur, errstr, errstr_size);
    /* Pipelined by hand: the next chunk's statement runs in PostgreSQL
     * while this process encodes the current one (a third of the
     * publication's time), and its result is read before the current
     * chunk's flush needs the connection. Flushes keep the chunks' order,
     * and with it the audit chain's. */
    for (int i = 0; i < all && !e; i += PUBLISH_CHUNK) {
        int sent = 0;
        if (i + PUBLISH_CHUNK < all) {
            e = send_take(db, ids, i + PUBLISH_CHUNK, errstr, errstr_size);
            sent = !e;
        }
        if (!e) e = put_taken(r, cur, errstr, errstr_size);
        PGresult *nx = NULL;
        if (sent) {
            /* Always read, so the connection is left with nothing in
             * flight; the first error is the one kept. */
            char aerr[1024];
            gh_err_t ae = await_take(db, &nx, aerr, sizeof(aerr));
            if (ae && !e) e = gh_seterr(errstr, errstr_size, ae, "%s", aerr);
        }
        if (!e && r->feed && PQntuples(cur))
            e = gh_feed_flush(r->feed, db, NULL, errstr, errstr_size);
        if (r->feed) gh_feed_discard(r->feed);
        put += PQntuples(cur);
        PQclear(cur);
        cur = nx;
    }
    PQclear(cur);
    PQclear(ids);
    if (n) *n = put;
    return e;
}
