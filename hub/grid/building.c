/* `gridhub grid building`: one golden building (standard address) across
 * departments (view building_record, migration 015). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grid.h"
#include "grid_int.h"
#include "gridhub/pg.h"
#include "gridhub/util.h"

gh_err_t gh_grid_building(PGconn *db, FILE *out, const char *id, char *errstr,
                          size_t errstr_size) {
    /* An address code, a golden id, or one department's record as
     * department:key. */
    const char *colon = strchr(id, ':');
    char *dept = colon ? gh_xstrndup(id, (size_t)(colon - id)) : gh_xstrdup("");
    const char *p[3] = {id, dept, colon ? colon + 1 : ""};
    PGresult *r = gh_pg_query_what(
        db,
        "WITH k AS (SELECT DISTINCT building_id FROM building_record WHERE "
        "building_id = $1 OR address_code = $1 OR (department = $2 AND "
        "source_key = $3)) SELECT r.building_id, r.department, r.source_key, "
        "r.grid_code, r.community, concat_ws('-', r.building_no, r.unit_no, "
        "r.room_no), (SELECT g.level FROM grid g WHERE g.code = r.grid_code) "
        "FROM building_record r JOIN k USING (building_id) ORDER BY 1, 2, 3",
        3, p, "read the building", errstr, errstr_size);
    free(dept);
    if (!r) return GH_ERR_PG;
    if (!PQntuples(r)) {
        PQclear(r);
        return gh_seterr(errstr, errstr_size, GH_ERR_NOT_FOUND,
                         "no building %s", id);
    }
    const char *cur = NULL;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *bid = PQgetvalue(r, i, 0);
        if (!cur || strcmp(cur, bid)) {
            /* Its grid: the finest one a record places it in. */
            const char *grid = NULL;
            for (int j = i;
                 j < PQntuples(r) && !strcmp(PQgetvalue(r, j, 0), bid); j++)
                if (!grid || !strcmp(gh__grid_val(r, j, 6), "GRID"))
                    grid = PQgetisnull(r, j, 3) ? grid : PQgetvalue(r, j, 3);
            fprintf(out, "building %s, grid %s\n", bid, grid ? grid : "-");
            cur = bid;
        }
        fprintf(out, "  %-9s %-24s grid %-10s community %-13s place %s\n",
                gh__grid_val(r, i, 1), gh__grid_val(r, i, 2),
                gh__grid_val(r, i, 3), gh__grid_val(r, i, 4),
                gh__grid_val(r, i, 5));
    }
    PQclear(r);
    return GH_OK;
}
