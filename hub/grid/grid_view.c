/* The grid and event views for subscribers (grid.h, "Subscriber views";
 * migration 016): what the triggers noted in view_dirty is refreshed in
 * the batch's transaction, set-based, and every record whose body changed
 * goes to the feed. The derivations themselves are SQL functions of the
 * migration, so the refresh and the recount check (grid_recount.c) share
 * them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "grid.h"
#include "grid_int.h"
#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "gridhub/util.h"

#define LOG "grid"

/* Columns of every statement returning view records: entity, id, active,
 * version, body (JSON text), updated_at (microseconds). */
#define VIEW_COLS                                                              \
    "e.entity, e.id, e.active, e.version, e.body::text, micros(e.updated_at)"

/* The per-kind arrays of the grids, events and households noted,
 * consumed. (The persons' notes are the attributes' and the resolver's.) */
static const char TAKE_SQL[] =
    "WITH d AS (DELETE FROM view_dirty WHERE kind IN ('event', 'household'%s) "
    "RETURNING kind, key) SELECT kind, array_agg(DISTINCT key)::text FROM d "
    "GROUP BY kind";

/* The persons' attributes under the attributes lock (7274003, after
 * hub/identity/resolve.c's resolution lock 7274001 and views lock 7274002
 * in the lock order: taken alone in a transaction of its own, on a
 * connection of its own beside the views transaction, or in the views
 * transaction after the views lock; the first %s is "BEGIN; " or ""): the
 * persons whose attributes may have changed get them again: those whose records
 * changed (noted 'person'), those holding records with the noted ID keys, and
 * the persons of the department person records family-planning records named
 * before or after a change (noted 'fp'; all three notes consumed). Their grids
 * are noted, and the households they head, are named after or are members of
 * if who they are may have moved (noted 'person', or retired:
 * person_attr_refresh, migration 029; a household's record depends
 * on who its head and members are, not on their attributes, and noting every
 * household from every refresh made rounds of views that changed nothing at
 * the end of a catch-up). Those whose
 * attributes changed are noted to publish under this transaction's id, and so
 * are the persons noted to publish that it takes (up to the third %s; "LIMIT
 * 0" with "false" takes none): taken in the same snapshot as their attribute
 * notes, so every person published went out with the attributes of the batches
 * that noted it. The other notes to publish of those whose attributes changed
 * are taken too (each is noted once again under this id): published, they go
 * out with everything those notes stood for, and, left beyond the limit, the
 * end of a tenth of the city's catch-up published 315,866 of its 415,866
 * residents a second time; deferred, one note a person stays, where every
 * round of a catch-up added one. The keys go as an array, the index condition
 * (migration 024): as a semi-join they were planned as a scan of the whole
 * table in every batch. Returns the transaction's id, how many persons'
 * attributes changed and how many persons' notes to publish it took within the
 * limit. */
static const char ATTR_FMT[] =
    "%sSELECT pg_advisory_xact_lock(7274003); "
    "WITH d AS (DELETE FROM view_dirty WHERE kind IN ('idkey', 'person', "
    "'fp') RETURNING kind, key), p AS (SELECT h.person_id FROM "
    "persons_holding_id_keys(ARRAY(SELECT DISTINCT key::bigint FROM d WHERE "
    "kind = 'idkey')) h UNION SELECT key FROM d WHERE kind = 'person' UNION "
    "SELECT sp.person_id FROM d JOIN source_person sp ON "
    "sp.department = split_part(d.key, ':', 1) AND "
    "sp.source_key = substr(d.key, strpos(d.key, ':') + 1) WHERE d.kind = "
    "'fp' AND sp.person_id IS NOT NULL), pk AS (SELECT DISTINCT key FROM "
    "view_dirty WHERE kind = 'publish' AND %s LIMIT %s), pd AS (DELETE FROM "
    "view_dirty v USING pk WHERE v.kind = 'publish' AND v.key = pk.key "
    "RETURNING v.key), c AS (SELECT unnest(person_attr_refresh(ARRAY("
    "SELECT person_id FROM p), ARRAY(SELECT key FROM d WHERE kind = "
    "'person'))) AS pid), pc AS (DELETE FROM view_dirty v "
    "USING c WHERE v.kind = 'publish' AND v.key = c.pid), n AS "
    "(INSERT INTO view_dirty (kind, key) SELECT DISTINCT 'publish', x FROM "
    "(SELECT pid FROM c UNION SELECT key FROM pd) u(x) ON CONFLICT DO "
    "NOTHING) SELECT pg_current_xact_id()::text, (SELECT count(*) FROM c), "
    "(SELECT count(*) FROM pk)";

/* Per-code tallies of the grid codes $1 again. */
static const char TALLY_SQL[] =
    "WITH d AS (SELECT DISTINCT unnest($1::text[]) AS code), t AS (SELECT * "
    "FROM grid_tally_of(ARRAY(SELECT code FROM d), false)), del AS (DELETE "
    "FROM grid_tally x WHERE x.code IN (SELECT code FROM d) AND NOT EXISTS "
    "(SELECT 1 FROM t WHERE t.code = x.code)) INSERT INTO grid_tally AS x "
    "SELECT * FROM t ON CONFLICT (code) DO UPDATE SET residents = "
    "EXCLUDED.residents, registered = EXCLUDED.registered, floating = "
    "EXCLUDED.floating, households = EXCLUDED.households, party_members = "
    "EXCLUDED.party_members, volunteers = EXCLUDED.volunteers, open_events = "
    "EXCLUDED.open_events";

/* The grid records of the codes $1 and every grid above them; grids the
 * hierarchy no longer has leave the view. */
static const char GRIDS_SQL[] =
    "WITH a AS (SELECT DISTINCT unnest(g.path) AS code FROM grid g WHERE "
    "g.code = ANY ($1::text[])), v AS (SELECT * FROM grid_view_of(ARRAY("
    "SELECT code FROM a), NULL)) SELECT * FROM entity_view_put('grid', (SELECT "
    "coalesce(jsonb_agg(jsonb_build_object('id', code, 'body', body)), "
    "'[]') FROM v), ARRAY(SELECT code FROM a UNION SELECT id FROM "
    "entity_view e WHERE e.entity = 'grid' AND e.active AND NOT EXISTS "
    "(SELECT 1 FROM grid g WHERE g.code = e.id))) AS e";

/* The event records of the rows $1 (department:entity:source_key). */
static const char EVENTS_SQL[] =
    "SELECT * FROM entity_view_put('event', (SELECT coalesce(jsonb_agg("
    "jsonb_build_object('id', id, 'body', body)), '[]') FROM "
    "event_view_of($1::text[])), $1::text[]) AS e";

/* The building records noted (department:source_key) placed and linked
 * anew, the residents of the buildings concerned noted; and the golden
 * buildings noted gone derived again (tombstoned if no record is left:
 * migration 019's mend). */
static const char BUILDINGS_SQL[] =
    "WITH d AS (DELETE FROM view_dirty WHERE kind IN ('building', "
    "'building_gone') RETURNING kind, key) SELECT * FROM building_refresh("
    "ARRAY(SELECT DISTINCT key FROM d WHERE kind = 'building'), ARRAY(SELECT "
    "DISTINCT key FROM d WHERE kind = 'building_gone')) AS e";

/* Row i of a result with VIEW_COLS from column 0, into the feed: a put of
 * the body completed with version and updated_at, or a tombstone. */
static gh_err_t feed_row(gh_grid_t *g, gh_feed_t *f, PGresult *r, int i,
                         char *errstr, size_t errstr_size) {
    const char *ent = PQgetvalue(r, i, 0), *id = PQgetvalue(r, i, 1);
    int en = gh_feed_entity(f, ent);
    if (en < 0) return GH_OK; /* no view schema for it: kept, not sent */
    int64_t version = strtoll(PQgetvalue(r, i, 3), NULL, 10);
    if (PQgetvalue(r, i, 2)[0] != 't') {
        gh_feed_gone(f, en, id, version);
        return GH_OK;
    }
    avro_value_t *val = gh__grid_view_value(g, ent);
    if (!val)
        return gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA,
                         "no view schema for entity %s", ent);
    gh_err_t e = gh_grid_view_fill(
        gh__grid_view_schema(g, ent), ent, id, PQgetvalue(r, i, 4), version,
        strtoll(PQgetvalue(r, i, 5), NULL, 10), val, NULL, errstr, errstr_size);
    return e ? e : gh_feed_put(f, en, id, version, val, errstr, errstr_size);
}

gh_err_t gh_grid_view_fill(const gh_schema_t *s, const char *entity,
                           const char *id, const char *body, int64_t version,
                           int64_t updated_us, avro_value_t *val,
                           json_t **record, char *errstr, size_t errstr_size) {
    if (record) *record = NULL;
    json_error_t je;
    json_t *j = json_loads(body, 0, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        return gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA,
                         "%s %s: stored view body is not an object", entity,
                         id);
    }
    json_object_set_new(j, "version", json_integer(version));
    json_object_set_new(j, "updated_at", json_integer(updated_us));
    char why[512];
    gh_err_t e = gh_avro_from_json(s, j, val, why, sizeof(why));
    if (e) {
        json_decref(j);
        return gh_seterr(errstr, errstr_size, e, "%s %s: %s", entity, id, why);
    }
    if (record)
        *record = j;
    else
        json_decref(j);
    return GH_OK;
}

static gh_err_t feed_rows(gh_grid_t *g, gh_feed_t *f, PGresult *r,
                          long *changed, char *errstr, size_t errstr_size) {
    *changed += PQntuples(r);
    for (int i = 0; f && i < PQntuples(r); i++) {
        gh_err_t e = feed_row(g, f, r, i, errstr, errstr_size);
        if (e) return e;
    }
    return GH_OK;
}

/* Runs a statement returning view records, with one array parameter
 * unless arr is NULL, and feeds them. */
static gh_err_t refresh(gh_grid_t *g, PGconn *db, gh_feed_t *f, const char *sql,
                        const char *arr, const char *what, long *changed,
                        char *errstr, size_t errstr_size) {
    const char *p[1] = {arr};
    PGresult *r = gh_pg_query_what(db, sql, arr ? 1 : 0, arr ? p : NULL, what,
                                   errstr, errstr_size);
    if (!r) return GH_ERR_PG;
    gh_err_t e = feed_rows(g, f, r, changed, errstr, errstr_size);
    PQclear(r);
    return e;
}

/* The events and households noted, and with `with_grids` the grids,
 * consumed and refreshed. */
static gh_err_t aggregate(gh_grid_t *g, PGconn *db, gh_feed_t *f,
                          int with_grids, long *n, char *errstr,
                          size_t errstr_size) {
    char sql[sizeof(TAKE_SQL) + 16];
    snprintf(sql, sizeof(sql), TAKE_SQL, with_grids ? ", 'grid'" : "");
    PGresult *r = gh_pg_query_what(db, sql, 0, NULL, "take the noted changes",
                                   errstr, errstr_size);
    if (!r) return GH_ERR_PG;
    const char *grids = "{}", *events = "{}", *hh = "{}";
    for (int i = 0; i < PQntuples(r); i++) {
        const char *k = PQgetvalue(r, i, 0), *v = PQgetvalue(r, i, 1);
        if (!strcmp(k, "grid")) grids = v;
        if (!strcmp(k, "event")) events = v;
        if (!strcmp(k, "household")) hh = v;
    }
    gh_err_t e = GH_OK;
    if (strcmp(grids, "{}")) {
        const char *p[1] = {grids};
        e = gh_pg_exec_what(db, TALLY_SQL, 1, p, "count the grids", errstr,
                            errstr_size);
        if (!e)
            e = refresh(g, db, f, GRIDS_SQL, grids, "refresh grid views", n,
                        errstr, errstr_size);
    }
    if (!e && strcmp(events, "{}"))
        e = refresh(g, db, f, EVENTS_SQL, events, "refresh event views", n,
                    errstr, errstr_size);
    if (!e && strcmp(hh, "{}"))
        e = refresh(g, db, f,
                    "SELECT * FROM household_refresh($1::text[]) AS e", hh,
                    "refresh household views", n, errstr, errstr_size);
    PQclear(r);
    return e;
}

gh_err_t gh_grid_buildings(gh_grid_t *g, PGconn *db, gh_feed_t *f,
                           long *changed, char *errstr, size_t errstr_size) {
    long n = 0;
    int64_t t0 = gh_now_us();
    gh_err_t e = refresh(g, db, f, BUILDINGS_SQL, NULL,
                         "refresh building views", &n, errstr, errstr_size);
    int64_t t1 = gh_now_us();
    if (!e && f && n) e = gh_feed_flush(f, db, NULL, errstr, errstr_size);
    gh__grid_time(g, 0, t1 - t0);
    gh__grid_time(g, 3, gh_now_us() - t1);
    if (f) gh_feed_discard(f);
    if (changed) *changed += n;
    return e;
}

gh_err_t gh_grid_attributes_send(gh_grid_t *g, PGconn *adb, int in_tx,
                                 long publish_max, char *errstr,
                                 size_t errstr_size) {
    char lim[32], *sql;
    if (publish_max > 0)
        snprintf(lim, sizeof(lim), "%ld", publish_max);
    else
        snprintf(lim, sizeof(lim), "%s", publish_max ? "0" : "ALL");
    size_t len = sizeof(ATTR_FMT) + 64;
    sql = gh_xmalloc(len);
    snprintf(sql, len, ATTR_FMT, in_tx ? "" : "BEGIN; ",
             publish_max < 0 ? "false" : "true", lim);
    gh_err_t e = gh_pg_send_what(adb, sql, "derive person attributes", errstr,
                                 errstr_size);
    free(sql);
    if (!e) gh__grid_attr_sent(g);
    return e;
}

gh_err_t gh_grid_attributes_finish(gh_grid_t *g, PGconn *adb, int in_tx,
                                   char xid[GH_GRID_XID_LEN], long *changed,
                                   long *taken, char *errstr,
                                   size_t errstr_size) {
    xid[0] = 0;
    *changed = *taken = 0;
    PGresult *r =
        gh_pg_await_what(adb, "derive person attributes", errstr, errstr_size);
    gh__grid_attr_done(g);
    gh_err_t e = r ? GH_OK : gh_pg_failure(adb);
    if (r && (PQntuples(r) != 1 || PQnfields(r) != 3))
        e = gh_seterr(errstr, errstr_size, GH_ERR_PG,
                      "derive person attributes: %d rows of %d columns, "
                      "expected one of 3",
                      PQntuples(r), PQnfields(r));
    if (!e) {
        snprintf(xid, GH_GRID_XID_LEN, "%s", PQgetvalue(r, 0, 0));
        *changed = strtol(PQgetvalue(r, 0, 1), NULL, 10);
        *taken = strtol(PQgetvalue(r, 0, 2), NULL, 10);
    }
    PQclear(r);
    if (in_tx) return e; /* the caller's to end */
    if (!e) e = gh_pg_exec(adb, "COMMIT", errstr, errstr_size);
    if (!e) return GH_OK;
    /* Not committed: no id to publish under (a failed COMMIT too). */
    xid[0] = 0;
    char ignore[256];
    if (PQtransactionStatus(adb) != PQTRANS_IDLE)
        gh_pg_exec(adb, "ROLLBACK", ignore, sizeof(ignore));
    return e;
}

gh_err_t gh_grid_aggregates(gh_grid_t *g, PGconn *db, gh_feed_t *f, int grids,
                            long *changed, char *errstr, size_t errstr_size) {
    long n = 0;
    int64_t t0 = gh_now_us();
    gh_err_t e = aggregate(g, db, f, grids, &n, errstr, errstr_size);
    int64_t t1 = gh_now_us();
    if (!e && f && n) e = gh_feed_flush(f, db, NULL, errstr, errstr_size);
    gh__grid_time(g, 2, t1 - t0);
    gh__grid_time(g, 3, gh_now_us() - t1);
    if (f) gh_feed_discard(f);
    if (changed) *changed += n;
    return e;
}

gh_err_t gh_grid_household_members(gh_grid_t *g, PGconn *db, char *errstr,
                                   size_t errstr_size) {
    int64_t t0 = gh_now_us();
    gh_err_t e =
        gh_pg_exec_what(db, "SELECT household_members_note()", 0, NULL,
                        "note households' members", errstr, errstr_size);
    gh__grid_time(g, 2, gh_now_us() - t0);
    return e;
}

gh_err_t gh_grid_view_page(void *ctx, gh_feed_t *f, PGconn *db, int entity,
                           const char *after, int limit, char **last, int *n,
                           char *errstr, size_t errstr_size) {
    gh_grid_t *g = ctx;
    *last = NULL;
    *n = 0;
    char lim[32];
    snprintf(lim, sizeof(lim), "%d", limit);
    const char *p[3] = {gh_policy_entity_name(gh_feed_policy(f), entity), after,
                        lim};
    PGresult *r = gh_pg_query_what(
        db,
        "SELECT " VIEW_COLS " FROM entity_view e WHERE e.entity = $1 AND e.id "
        "> $2 ORDER BY e.id LIMIT $3",
        3, p, "read views", errstr, errstr_size);
    if (!r) return GH_ERR_PG;
    long ignore = 0;
    gh_err_t e = feed_rows(g, f, r, &ignore, errstr, errstr_size);
    int rows = PQntuples(r);
    if (!e && rows) *last = gh_xstrdup(PQgetvalue(r, rows - 1, 1));
    *n = rows;
    PQclear(r);
    return e;
}
