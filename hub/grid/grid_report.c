/* `gridhub grid show | check | issues`: reading the grid hierarchy the
 * hub keeps (grid.h). Counts are recounted from the hub's tables at the
 * time of the call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grid.h"
#include "grid_int.h"
#include "gridhub/pg.h"
#include "gridhub/util.h"

/* Leaders, full-time and part-time members of grid g, as three columns. */
#define ROLE_COUNTS                                                            \
    "(SELECT count(*) FROM grid_staff_member m WHERE m.grid_code = g.code "    \
    "AND m.role = 'GRID_LEADER'), (SELECT count(*) FROM grid_staff_member m "  \
    "WHERE m.grid_code = g.code AND m.role = 'FULL_TIME_MEMBER'), (SELECT "    \
    "count(*) FROM grid_staff_member m WHERE m.grid_code = g.code AND m.role " \
    "= 'PART_TIME_MEMBER')"

static const char *verdict(long leaders, long full_time, char *buf,
                           size_t size) {
    if (leaders && full_time) return "meets 1+1+N";
    snprintf(buf, size, "fails 1+1+N: %s%s%s", leaders ? "" : "no grid leader",
             !leaders && !full_time ? ", " : "",
             full_time ? "" : "no full-time member");
    return buf;
}

const char *gh__grid_val(PGresult *r, int row, int col) {
    return PQgetisnull(r, row, col) ? "-" : PQgetvalue(r, row, col);
}

/* Counts over the grid and every grid under it. Residents are the active
 * golden persons whose grid is there; registration types come from the
 * residence_registration rows linked to them by ID. */
static const char COUNTS_SQL[] =
    "WITH sub AS (SELECT code FROM grid WHERE $1 = ANY (path)), res AS "
    "(SELECT person_id FROM person WHERE active AND grid_code IN (SELECT code "
    "FROM sub)), reg AS (SELECT DISTINCT ON (sp.person_id) sp.person_id, "
    "r.row ->> 'registration_type' AS t FROM source_row r JOIN person_block "
    "b ON b.block_key = r.id_key JOIN source_person sp ON sp.rec_id = "
    "b.rec_id WHERE r.entity = 'residence_registration' AND NOT r.deleted "
    "AND NOT sp.deleted AND sp.person_id IN (SELECT person_id FROM res) "
    "ORDER BY sp.person_id, r.row ->> 'updated_at' DESC NULLS LAST), ent AS "
    "(SELECT entity, department, row FROM source_row WHERE NOT deleted AND "
    "entity IN ('household', 'party_member', 'volunteer', 'grid_event', "
    "'civility_task') AND row ->> 'grid_code' IN (SELECT code FROM sub)) "
    "SELECT (SELECT count(*) FROM res), (SELECT count(*) FROM reg WHERE t = "
    "'HUKOU'), (SELECT count(*) FROM reg WHERE t = 'FLOATING'), (SELECT "
    "coalesce(string_agg(department || ' ' || n, ', ' ORDER BY department), "
    "'none') FROM (SELECT department, count(*) n FROM ent WHERE entity = "
    "'household' GROUP BY department) h), (SELECT count(*) FROM ent WHERE "
    "entity = 'party_member'), (SELECT count(*) FROM ent WHERE entity = "
    "'volunteer'), (SELECT count(*) FROM ent WHERE (entity = 'grid_event' "
    "AND coalesce(row ->> 'status', '') <> 'CLOSED') OR (entity = "
    "'civility_task' AND coalesce(row ->> 'status', '') = 'OPEN'))";

gh_err_t gh_grid_show(PGconn *db, FILE *out, const char *code, char *errstr,
                      size_t errstr_size) {
    const char *p[1] = {code};
    PGresult *g = gh_pg_query_what(
        db,
        "SELECT g.code, g.name, g.level, g.parent_code, array_to_string("
        "g.path_names, ' / '), array_to_string(g.path, ' / '), " ROLE_COUNTS
        " FROM grid g WHERE g.code = $1",
        1, p, "read the grid", errstr, errstr_size);
    if (!g) return GH_ERR_PG;
    if (!PQntuples(g)) {
        PQclear(g);
        return gh_seterr(errstr, errstr_size, GH_ERR_NOT_FOUND,
                         "no grid %s in the reference division", code);
    }
    char vb[96];
    fprintf(out, "grid %s %s (%s)\n  path: %s (%s)\n  parent: %s\n",
            gh__grid_val(g, 0, 0), gh__grid_val(g, 0, 1), gh__grid_val(g, 0, 2),
            gh__grid_val(g, 0, 4), gh__grid_val(g, 0, 5),
            gh__grid_val(g, 0, 3));
    int is_grid = !strcmp(gh__grid_val(g, 0, 2), "GRID");
    long leaders = strtol(PQgetvalue(g, 0, 6), NULL, 10);
    long full = strtol(PQgetvalue(g, 0, 7), NULL, 10);
    long part = strtol(PQgetvalue(g, 0, 8), NULL, 10);
    fprintf(out, "  staff: %ld leader, %ld full-time, %ld part-time%s%s\n",
            leaders, full, part, is_grid ? "; " : "",
            is_grid ? verdict(leaders, full, vb, sizeof(vb)) : "");
    PQclear(g);

    PGresult *r = gh_pg_query_what(
        db,
        "SELECT role, coalesce(name, '?'), coalesce(person_id, "
        "'(no person)'), department, coalesce(organization, '') FROM "
        "grid_roster WHERE grid_code = $1 ORDER BY CASE role WHEN "
        "'GRID_LEADER' THEN 0 WHEN 'FULL_TIME_MEMBER' THEN 1 WHEN "
        "'PART_TIME_MEMBER' THEN 2 WHEN 'LIAISON' THEN 3 ELSE 4 END, "
        "department, source_key",
        1, p, "read the roster", errstr, errstr_size);
    if (!r) return GH_ERR_PG;
    for (int i = 0; i < PQntuples(r); i++)
        fprintf(out, "    %-17s %-8s %-12s %-9s %s\n", gh__grid_val(r, i, 0),
                gh__grid_val(r, i, 1), gh__grid_val(r, i, 2),
                gh__grid_val(r, i, 3), gh__grid_val(r, i, 4));
    PQclear(r);

    r = gh_pg_query_what(db,
                         "SELECT department, code, coalesce(name, '') FROM "
                         "grid_unit WHERE ref_code = $1 AND department <> "
                         "(SELECT department FROM grid_unit WHERE code = $1 "
                         "AND ref_code = $1 LIMIT 1) ORDER BY 1, 2",
                         1, p, "read the units placed here", errstr,
                         errstr_size);
    if (!r) return GH_ERR_PG;
    fprintf(out, "  other departments' units here:%s\n",
            PQntuples(r) ? "" : " none");
    for (int i = 0; i < PQntuples(r); i++)
        fprintf(out, "    %-9s %s %s\n", gh__grid_val(r, i, 0),
                gh__grid_val(r, i, 1), gh__grid_val(r, i, 2));
    PQclear(r);

    r = gh_pg_query_what(db, COUNTS_SQL, 1, p, "count the grid", errstr,
                         errstr_size);
    if (!r) return GH_ERR_PG;
    fprintf(out,
            "  counts (this grid and those under it): residents %s "
            "(registered here %s, floating %s), household records %s, "
            "party members %s, volunteers %s, open events %s\n",
            gh__grid_val(r, 0, 0), gh__grid_val(r, 0, 1), gh__grid_val(r, 0, 2),
            gh__grid_val(r, 0, 3), gh__grid_val(r, 0, 4), gh__grid_val(r, 0, 5),
            gh__grid_val(r, 0, 6));
    PQclear(r);
    return GH_OK;
}

gh_err_t gh_grid_check(PGconn *db, FILE *out, long *failing, char *errstr,
                       size_t errstr_size) {
    PGresult *r =
        gh_pg_query_what(db,
                         "SELECT g.code, coalesce(g.name, ''), " ROLE_COUNTS
                         " FROM grid g WHERE g.level = 'GRID' ORDER BY g.code",
                         0, NULL, "read the grids", errstr, errstr_size);
    if (!r) return GH_ERR_PG;
    long bad = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        long leaders = strtol(PQgetvalue(r, i, 2), NULL, 10);
        long full = strtol(PQgetvalue(r, i, 3), NULL, 10);
        if (leaders && full) continue;
        char vb[96];
        fprintf(out, "%s %s: %s\n", gh__grid_val(r, i, 0),
                gh__grid_val(r, i, 1), verdict(leaders, full, vb, sizeof(vb)));
        bad++;
    }
    fprintf(out,
            "%ld of %d grids meet 1+1+N (a grid leader and a full-time "
            "member)\n",
            (long)PQntuples(r) - bad, PQntuples(r));
    PQclear(r);
    if (failing) *failing = bad;
    return GH_OK;
}

gh_err_t gh_grid_issues(PGconn *db, FILE *out, long *n, char *errstr,
                        size_t errstr_size) {
    /* Rows of other entities naming a grid code the reference lacks are
     * counted live: they change with every batch. */
    PGresult *r = gh_pg_query_what(
        db,
        "SELECT kind, department, code, detail FROM grid_issue UNION ALL "
        "SELECT 'grid_code_unknown', department, code, format('%s rows of "
        "%s (%s) name grid %s, which the reference division does not have', "
        "count(*), department, string_agg(DISTINCT entity, ', '), code) FROM "
        "(SELECT department, entity, row ->> 'grid_code' AS code FROM "
        "source_row WHERE NOT deleted AND entity <> 'grid' UNION ALL SELECT "
        "department, 'person', grid_code FROM source_person WHERE NOT "
        "deleted) x WHERE code IS NOT NULL AND NOT EXISTS (SELECT 1 FROM grid "
        "g WHERE g.code = x.code) GROUP BY department, code ORDER BY 1, 2, 3",
        0, NULL, "read grid issues", errstr, errstr_size);
    if (!r) return GH_ERR_PG;
    for (int i = 0; i < PQntuples(r); i++)
        fprintf(out, "%-24s %-9s %-20s %s\n", gh__grid_val(r, i, 0),
                gh__grid_val(r, i, 1), gh__grid_val(r, i, 2),
                gh__grid_val(r, i, 3));
    fprintf(out, "%d grid issue%s\n", PQntuples(r),
            PQntuples(r) == 1 ? "" : "s");
    if (n) *n = PQntuples(r);
    PQclear(r);
    return GH_OK;
}
