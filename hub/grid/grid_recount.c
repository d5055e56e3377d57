/* `gridhub grid recount`: every grid's counts recounted from the hub's
 * tables, with the residents' attributes derived afresh rather than read
 * from person_attr, against the grid records subscribers were sent;
 * every resident's stored attributes (current grid, building, household,
 * ...) against a fresh derivation; and every published building against
 * the records linked to it. A difference means the incremental
 * refresh missed a change. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grid.h"
#include "grid_int.h"
#include "gridhub/pg.h"

static const char RECOUNT_SQL[] =
    "WITH c AS (SELECT grid_code AS code FROM person WHERE active AND "
    "grid_code IS NOT NULL UNION SELECT code FROM grid UNION SELECT row ->> "
    "'grid_code' FROM source_row "
    "WHERE entity IN ('household', 'grid_event', 'civility_task') AND NOT "
    "deleted AND row ->> 'grid_code' IS NOT NULL), t AS (SELECT * FROM "
    "grid_tally_of(ARRAY(SELECT code FROM c), true)), v AS (SELECT * FROM "
    "grid_view_of(ARRAY(SELECT code FROM grid), (SELECT "
    "coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM t))) SELECT v.code, k, "
    "v.body ->> k, e.body ->> k FROM v LEFT JOIN entity_view e ON e.entity = "
    "'grid' AND e.id = v.code AND e.active CROSS JOIN unnest(ARRAY["
    "'residents', 'registered', 'floating', 'households', 'party_members', "
    "'volunteers', 'open_events']) AS k WHERE (v.body -> k) IS DISTINCT FROM "
    "(e.body -> k) UNION ALL SELECT id, 'published, but no such grid', NULL, "
    "NULL FROM entity_view WHERE entity = 'grid' AND active AND id NOT IN "
    "(SELECT code FROM grid) ORDER BY 1, 2";

/* Every active resident's attributes derived afresh against person_attr
 * (what the person view and the counts use): differences, the first 20,
 * and how many. */
static const char ATTRS_SQL[] =
    "WITH x AS (SELECT * FROM person_attr_fresh), d AS (SELECT "
    "coalesce(x.person_id, "
    "a.person_id) AS pid, (to_jsonb(a) - 'person_id')::text AS stored, "
    "jsonb_build_object('registration_type', x.registration_type, "
    "'valid_until', x.valid_until, 'party_member', x.party_member, "
    "'volunteer', x.volunteer, 'staff_role', x.staff_role, 'household_id', "
    "x.household_id, 'grid_code', x.grid_code, 'grid_basis', x.grid_basis, "
    "'grid_source', x.grid_source, 'grid_at', x.grid_at, 'building_id', "
    "x.building_id, 'building_no', x.building_no, 'unit_no', x.unit_no, "
    "'room_no', x.room_no, 'family_planning', x.family_planning)::text AS "
    "fresh FROM x FULL JOIN (SELECT a.* FROM "
    "person_attr a JOIN person p USING (person_id) WHERE p.active) a USING "
    "(person_id) WHERE (x.registration_type, x.valid_until, "
    "x.party_member, x.volunteer, x.staff_role, x.household_id, x.grid_code, "
    "x.grid_basis, x.grid_source, x.grid_at, x.building_id, x.building_no, "
    "x.unit_no, x.room_no, x.family_planning) IS DISTINCT FROM "
    "(a.registration_type, "
    "a.valid_until, a.party_member, a.volunteer, a.staff_role, "
    "a.household_id, a.grid_code, a.grid_basis, a.grid_source, a.grid_at, "
    "a.building_id, a.building_no, a.unit_no, a.room_no, "
    "a.family_planning)) SELECT pid, "
    "stored, fresh, count(*) OVER () FROM d ORDER BY pid LIMIT 20";

/* Runs a comparison returning (id, held, derived, count of all) for its
 * first differences, and prints them as "<kind> <id>: <held_as> <held>,
 * derived <derived>". *n: how many differ in all. */
static gh_err_t differences(PGconn *db, const char *sql, const char *what,
                            const char *kind, const char *held_as, FILE *out,
                            long *n, char *errstr, size_t errstr_size) {
    PGresult *r = gh_pg_query_what(db, sql, 0, NULL, what, errstr, errstr_size);
    if (!r) return GH_ERR_PG;
    for (int i = 0; i < PQntuples(r); i++)
        fprintf(out, "%s %s: %s %s, derived %s\n", kind, PQgetvalue(r, i, 0),
                held_as, gh__grid_val(r, i, 1), gh__grid_val(r, i, 2));
    *n = PQntuples(r) ? strtol(PQgetvalue(r, 0, 3), NULL, 10) : 0;
    PQclear(r);
    return GH_OK;
}

/* Every published building against the records linked to it, derived
 * afresh: differences (a building published with no record behind it, a
 * linked one not published, bodies that differ), the first 20, and how
 * many. */
static const char BUILDINGS_SQL[] =
    "WITH f AS (SELECT * FROM building_view_of(ARRAY(SELECT DISTINCT "
    "view_id FROM view_link WHERE entity = 'building'))), e AS (SELECT id, "
    "body FROM entity_view WHERE entity = 'building' AND active), d AS "
    "(SELECT coalesce(f.id, e.id) AS id, e.body::text AS published, "
    "f.body::text AS derived FROM f FULL JOIN e USING (id) WHERE f.body IS "
    "DISTINCT FROM e.body) SELECT id, published, derived, count(*) OVER () "
    "FROM d ORDER BY id LIMIT 20";

static gh_err_t recount_buildings(PGconn *db, FILE *out, long *n, char *errstr,
                                  size_t errstr_size) {
    gh_err_t e =
        differences(db, BUILDINGS_SQL, "compare the published buildings",
                    "building", "published", out, n, errstr, errstr_size);
    if (e) return e;
    PGresult *c = *n ? NULL
                     : gh_pg_query_what(db,
                                        "SELECT count(*) FROM entity_view "
                                        "WHERE entity = 'building' AND active",
                                        0, NULL, "count the buildings", errstr,
                                        errstr_size);
    if (!*n && !c) return GH_ERR_PG;
    if (*n)
        fprintf(out,
                "buildings: %ld published records differ from their "
                "records (above, the first 20)\n",
                *n);
    else
        fprintf(out, "%s buildings: every published one equals its records\n",
                PQgetvalue(c, 0, 0));
    PQclear(c);
    return GH_OK;
}

/* Every active resident's attributes derived afresh, once, for both
 * checks (residents_of reads them when asked for fresh ones). */
static const char FRESH_SQL[] =
    "CREATE TEMP TABLE person_attr_fresh ON COMMIT DROP AS SELECT a.* FROM "
    "chunks_of(ARRAY(SELECT person_id FROM person WHERE active), 1000) AS "
    "c(ids), LATERAL person_attr_of(c.ids) a";

static gh_err_t recount(PGconn *db, FILE *out, long *mismatches, char *errstr,
                        size_t errstr_size) {
    gh_err_t fe = gh_pg_exec_what(db, FRESH_SQL, 0, NULL,
                                  "derive every resident's attributes afresh",
                                  errstr, errstr_size);
    if (fe) return fe;
    PGresult *r = gh_pg_query_what(db, RECOUNT_SQL, 0, NULL,
                                   "recount the grids", errstr, errstr_size);
    if (!r) return GH_ERR_PG;
    PGresult *n = gh_pg_query_what(
        db,
        "SELECT count(*), (SELECT count(*) FROM view_dirty), (SELECT "
        "count(*) FROM person WHERE active) FROM grid",
        0, NULL, "count the grids", errstr, errstr_size);
    if (!n) {
        PQclear(r);
        return GH_ERR_PG;
    }
    for (int i = 0; i < PQntuples(r); i++)
        fprintf(out, "%s %s: published %s, recounted %s\n",
                gh__grid_val(r, i, 0), gh__grid_val(r, i, 1),
                gh__grid_val(r, i, 3), gh__grid_val(r, i, 2));
    fprintf(out, "%s grids recounted: %s\n", PQgetvalue(n, 0, 0),
            PQntuples(r) ? "the published counts differ (above)"
                         : "every published count equals the recount");
    if (strcmp(PQgetvalue(n, 0, 1), "0"))
        fprintf(out,
                "note: %s noted changes are not refreshed yet (the views "
                "lag by up to views.refresh.interval.ms): a difference may "
                "be that lag; run it again\n",
                PQgetvalue(n, 0, 1));
    long bad_attrs = 0;
    gh_err_t e =
        differences(db, ATTRS_SQL, "compare every resident's attributes",
                    "person", "stored", out, &bad_attrs, errstr, errstr_size);
    if (!e)
        fprintf(out, "%s residents' attributes derived afresh: %s\n",
                PQgetvalue(n, 0, 2),
                bad_attrs ? "the stored ones differ (above, the first 20)"
                          : "every one equals what is stored");
    long bad_buildings = 0;
    if (!e) e = recount_buildings(db, out, &bad_buildings, errstr, errstr_size);
    if (mismatches) *mismatches = PQntuples(r) + bad_attrs + bad_buildings;
    PQclear(n);
    PQclear(r);
    return e;
}

gh_err_t gh_grid_recount(PGconn *db, FILE *out, long *mismatches, char *errstr,
                         size_t errstr_size) {
    /* One snapshot for every check: the counts, the attributes and the
     * pending notes are of the same instant. */
    gh_err_t e = gh_pg_exec(db, "BEGIN ISOLATION LEVEL REPEATABLE READ", errstr,
                            errstr_size);
    if (e) return e;
    e = recount(db, out, mismatches, errstr, errstr_size);
    gh_err_t ce = e ? gh_pg_exec(db, "ROLLBACK", NULL, 0)
                    : gh_pg_exec(db, "COMMIT", errstr, errstr_size);
    return e ? e : ce;
}
