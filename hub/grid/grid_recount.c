/* `gridhub grid recount`: every grid's counts recounted from the hub's
 * tables, with the residents' attributes derived afresh rather than read
 * from person_attr, against the grid records subscribers were sent. A
 * difference means the incremental refresh missed a change. */
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

gh_err_t gh_grid_recount(PGconn *db, FILE *out, long *mismatches, char *errstr,
                         size_t errstr_size) {
    PGresult *r = gh_pg_query_what(db, RECOUNT_SQL, 0, NULL,
                                   "recount the grids", errstr, errstr_size);
    if (!r) return GH_ERR_PG;
    PGresult *n = gh_pg_query_what(
        db, "SELECT count(*), (SELECT count(*) FROM view_dirty) FROM grid", 0,
        NULL, "count the grids", errstr, errstr_size);
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
    if (mismatches) *mismatches = PQntuples(r);
    PQclear(n);
    PQclear(r);
    return GH_OK;
}
