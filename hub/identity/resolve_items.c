/* The steward queue of the persons a run touched (resolve.h, step 6). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "resolve_int.h"

int gh__res_cmp_item(const void *x, const void *y) {
    const item_t *a = x, *b = y;
    int c = strcmp(a->kind, b->kind);
    if (!c) c = strcmp(a->pa, b->pa);
    if (!c) c = strcmp(a->pb ? a->pb : "", b->pb ? b->pb : "");
    if (!c) c = strcmp(a->field ? a->field : "", b->field ? b->field : "");
    return c;
}

/* Step 10: the open items about the persons of this run become exactly
 * the ones the current state supports: pairs scored for review (or one ID
 * on two people, or two IDs on what looks like one) that sit in two
 * persons not kept apart, and attribute
 * conflicts found by survivorship. */
gh_err_t gh__res_refresh_items(gh_resolver_t *r, PGconn *db,
                               const size_t *members, size_t nm, char **touched,
                               size_t ntouched, char **ret, size_t nret,
                               const comp_t *comps, size_t ncomp,
                               item_t *conflicts, size_t nconflicts,
                               gh_resolve_stats_t *st, char *errstr,
                               size_t errstr_size) {
    gh_sqlarr_t a[9];
    memset(a, 0, sizeof(a));
    item_t *items = NULL;
    size_t n = 0;
    gh_err_t e = GH_OK;
    const char *p[9];
    PGresult *res;
    gh_sqlarr_reset(&a[0]);
    for (size_t i = 0; i < nm; i++)
        gh_sqlarr_int(&a[0], r->w[members[i]].rec_id);
    p[0] = gh_sqlarr_get(&a[0]);
    res = nm ? gh_pg_query_what(
                   db,
                   "SELECT e.a, e.b, e.kind, e.score, e.evidence::text, "
                   "sa.person_id, sb.person_id FROM match_edge e JOIN "
                   "source_person sa ON sa.rec_id = e.a JOIN source_person sb "
                   "ON sb.rec_id = e.b WHERE e.kind IN (1, 4, 5) AND (e.a = "
                   "ANY($1::bigint[]) OR e.b = ANY($1::bigint[])) AND NOT "
                   "sa.deleted AND NOT sb.deleted AND sa.person_id IS "
                   "DISTINCT FROM sb.person_id AND NOT EXISTS (SELECT 1 FROM "
                   "steward_constraint c WHERE c.kind = 'apart' AND c.a = e.a "
                   "AND c.b = e.b)",
                   1, p, "read review pairs", errstr, errstr_size)
             : NULL;
    if (nm && !res) {
        e = GH_ERR_PG;
        goto out;
    }
    int nres = res ? PQntuples(res) : 0;
    if (res) gh__res_keep(r, res);
    items = gh_xcalloc((size_t)nres + nconflicts + 1, sizeof(*items));
    for (int i = 0; i < nres; i++) {
        const char *pa = gh__res_val(res, i, 5), *pb = gh__res_val(res, i, 6);
        if (!pa || !pb) continue;
        item_t *it = &items[n++];
        int swap = strcmp(pa, pb) > 0;
        long kind = gh__res_ival(res, i, 2, 1);
        it->kind = kind == GH_MATCH_ID_CONFLICT ? "shared_id"
                   : kind == GH_MATCH_TWO_IDS   ? "two_ids"
                                                : "possible_duplicate";
        it->pa = swap ? pb : pa;
        it->pb = swap ? pa : pb;
        it->ra = gh__res_ival(res, i, swap ? 1 : 0, 0);
        it->rb = gh__res_ival(res, i, swap ? 0 : 1, 0);
        it->score = strtod(PQgetvalue(res, i, 3), NULL);
        it->evidence = (char *)gh__res_val(res, i, 4);
    }
    for (size_t i = 0; i < nconflicts; i++)
        items[n++] = conflicts[i];
    if (n) qsort(items, n, sizeof(*items), gh__res_cmp_item);
    size_t k = 0; /* one item per key: the best-scored pair */
    for (size_t i = 0; i < n; i++) {
        if (k && !gh__res_cmp_item(&items[i], &items[k - 1])) {
            if (items[i].score > items[k - 1].score) items[k - 1] = items[i];
            continue;
        }
        items[k++] = items[i];
    }
    n = k;

    /* open items of these persons that no longer hold (grid_conflict
     * items are the views' to close: migration 018) */
    gh_sqlarr_reset(&a[1]);
    for (size_t i = 0; i < ntouched; i++)
        gh_sqlarr_text(&a[1], touched[i]);
    for (size_t i = 0; i < nret; i++)
        gh_sqlarr_text(&a[1], ret[i]);
    for (size_t i = 0; i < ncomp; i++)
        gh_sqlarr_text(&a[1], comps[i].pid);
    p[0] = gh_sqlarr_get(&a[1]);
    res = gh_pg_query_what(
        db,
        "SELECT item_id, kind, person_a, coalesce(person_b, ''), "
        "coalesce(field, '') FROM steward_item WHERE status = 'open' AND "
        "(person_a = ANY($1::text[]) OR person_b = ANY($1::text[])) AND "
        "kind <> 'grid_conflict'",
        1, p, "read open items", errstr, errstr_size);
    if (!res) {
        e = GH_ERR_PG;
        goto out;
    }
    gh_sqlarr_reset(&a[2]);
    for (int i = 0; i < PQntuples(res); i++) {
        item_t key = {PQgetvalue(res, i, 1),
                      PQgetvalue(res, i, 2),
                      PQgetvalue(res, i, 3),
                      PQgetvalue(res, i, 4),
                      0,
                      0,
                      0,
                      NULL};
        if (!key.pb[0]) key.pb = NULL;
        if (!key.field[0]) key.field = NULL;
        if (!n || !bsearch(&key, items, n, sizeof(*items), gh__res_cmp_item))
            gh_sqlarr_int(&a[2], gh__res_ival(res, i, 0, 0));
    }
    PQclear(res);
    if (a[2].n) {
        p[0] = gh_sqlarr_get(&a[2]);
        res = gh_pg_query_what(
            db,
            "UPDATE steward_item SET status = 'obsolete', updated_at = "
            "now() WHERE item_id = ANY($1::bigint[])",
            1, p, "close items", errstr, errstr_size);
        if (!res) {
            e = GH_ERR_PG;
            goto out;
        }
        PQclear(res);
    }
    if (!n) goto out;
    for (int j = 0; j < 8; j++)
        gh_sqlarr_reset(&a[j]);
    for (size_t i = 0; i < n; i++) {
        gh_sqlarr_text(&a[0], items[i].kind);
        gh_sqlarr_text(&a[1], items[i].pa);
        gh_sqlarr_text(&a[2], items[i].pb);
        gh_sqlarr_text(&a[3], items[i].field);
        if (items[i].ra)
            gh_sqlarr_int(&a[4], items[i].ra);
        else
            gh_sqlarr_text(&a[4], NULL);
        if (items[i].rb)
            gh_sqlarr_int(&a[5], items[i].rb);
        else
            gh_sqlarr_text(&a[5], NULL);
        char sc[32];
        snprintf(sc, sizeof(sc), "%.4f", items[i].score);
        gh_sqlarr_text(&a[6], items[i].ra ? sc : NULL);
        gh_sqlarr_text(&a[7], items[i].evidence ? items[i].evidence : "{}");
    }
    for (int j = 0; j < 8; j++)
        p[j] = gh_sqlarr_get(&a[j]);
    res = gh_pg_query_what(
        db,
        "INSERT INTO steward_item AS s (kind, person_a, person_b, field, "
        "rec_a, rec_b, score, evidence) SELECT * FROM unnest($1::text[], "
        "$2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], "
        "$7::real[], $8::jsonb[]) ON CONFLICT (kind, person_a, "
        "(coalesce(person_b, '')), (coalesce(field, ''))) WHERE status = "
        "'open' DO UPDATE SET rec_a = EXCLUDED.rec_a, rec_b = "
        "EXCLUDED.rec_b, score = EXCLUDED.score, evidence = "
        "EXCLUDED.evidence, updated_at = now() WHERE (s.rec_a, s.rec_b, "
        "s.evidence) IS DISTINCT FROM (EXCLUDED.rec_a, EXCLUDED.rec_b, "
        "EXCLUDED.evidence)",
        8, p, "write items", errstr, errstr_size);
    if (!res) {
        e = GH_ERR_PG;
        goto out;
    }
    st->items += atoll(PQcmdTuples(res));
    PQclear(res);
out:
    free(items);
    for (int j = 0; j < 9; j++)
        gh_sqlarr_free(&a[j]);
    return e;
}
