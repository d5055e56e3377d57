/* `gridhub grid household`: one golden household across departments
 * (views household_record and household_membership, migration 014). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grid.h"
#include "grid_int.h"
#include "gridhub/pg.h"
#include "gridhub/util.h"

/* Prints household `hid`; 0 if it has no record. */
static gh_err_t print_household(PGconn *db, FILE *out, const char *hid,
                                char *errstr, size_t errstr_size) {
    const char *p[1] = {hid};
    PGresult *r = gh_pg_query_what(
        db,
        "SELECT department, household_number, coalesce(head_name, '?'), "
        "coalesce(head_person_id, '(no person)'), grid_code, member_count "
        "FROM household_record WHERE household_id = $1 ORDER BY department, "
        "source_key",
        1, p, "read the household's records", errstr, errstr_size);
    if (!r) return GH_ERR_PG;
    fprintf(out, "household %s: %d department record%s\n", hid, PQntuples(r),
            PQntuples(r) == 1 ? "" : "s");
    for (int i = 0; i < PQntuples(r); i++)
        fprintf(out,
                "  %-9s number %-18s head %s (%s), grid %s, %s members "
                "recorded\n",
                gh__grid_val(r, i, 0), gh__grid_val(r, i, 1),
                gh__grid_val(r, i, 2), gh__grid_val(r, i, 3),
                gh__grid_val(r, i, 4), gh__grid_val(r, i, 5));
    PQclear(r);
    r = gh_pg_query_what(
        db,
        "SELECT coalesce(person_id, '(no person)'), string_agg(DISTINCT "
        "name, '/'), string_agg(department || ' ' || coalesce(relation, "
        "'?'), ', ' ORDER BY department) FROM household_membership WHERE "
        "household_id = $1 GROUP BY person_id ORDER BY person_id",
        1, p, "read the household's members", errstr, errstr_size);
    if (!r) return GH_ERR_PG;
    fprintf(out, "  members (%d persons):\n", PQntuples(r));
    for (int i = 0; i < PQntuples(r); i++)
        fprintf(out, "    %-12s %-10s %s\n", gh__grid_val(r, i, 0),
                gh__grid_val(r, i, 1), gh__grid_val(r, i, 2));
    PQclear(r);
    return GH_OK;
}

gh_err_t gh_grid_household(PGconn *db, FILE *out, const char *id, char *errstr,
                           size_t errstr_size) {
    const char *p[1] = {id};
    /* A household id, or a person: the households they head or are a
     * member of. */
    PGresult *r = gh_pg_query_what(
        db,
        "SELECT household_id FROM household_record WHERE household_id = $1 "
        "OR head_person_id = $1 UNION SELECT household_id FROM "
        "household_membership WHERE person_id = $1 AND household_id IS NOT "
        "NULL ORDER BY 1",
        1, p, "find the household", errstr, errstr_size);
    if (!r) return GH_ERR_PG;
    gh_err_t e = GH_OK;
    if (!PQntuples(r))
        e = gh_seterr(errstr, errstr_size, GH_ERR_NOT_FOUND,
                      "no household %s, and no household with person %s", id,
                      id);
    for (int i = 0; !e && i < PQntuples(r); i++)
        e = print_household(db, out, PQgetvalue(r, i, 0), errstr, errstr_size);
    PQclear(r);
    return e;
}
