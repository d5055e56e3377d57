/* The grid hierarchy derived from source_row: crosswalks, units, the
 * reference hierarchy, rosters and issues (grid.h). */
#include "grid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/pg.h"
#include "gridhub/sqlarr.h"
#include "gridhub/util.h"

const gh_conf_prop_t gh_grid_props[] = {
    {"grid.reference.department", GH_CONF_STR, "zongzhi", 0, 0, 0, NULL, NULL,
     "The department whose grid rows are the reference division (city -> "
     "district -> sub-district -> community -> grid); every other "
     "department's division is placed in it through its crosswalk."},
    {"grid.crosswalks", GH_CONF_LIST, NULL, 0, 0, 0, NULL, NULL,
     "`<department>:<file>` for each department with a division of its own, "
     "e.g. `zuzhi:connectors/zuzhi/grid_crosswalk.csv`: `own code,reference "
     "code` lines (the connectors' format). A code on two lines spans two "
     "grids; it is listed as an issue, not guessed."},
    GH_CONF_END};

typedef struct xw {
    char *dept, *own, *ref, *origin;
} xw_t;

/* A derived view the hub publishes: its entity, schema and a value to
 * fill. */
typedef struct view_slot {
    const char *entity, *fullname;
    const gh_schema_t *schema;
    avro_value_t val;
    int has_val;
} view_slot_t;

struct gh_grid {
    char *ref_dept;
    xw_t *xw;
    int nxw, capxw;
    const char *cur_dept; /* while reading a file */
    view_slot_t views[4];
    long long us[GH_GRID_NTIMES]; /* gh_grid_times */
    int64_t attr_sent_us;         /* the attributes' statement was sent */
};

static gh_err_t add_pair(void *ctx, const char *where, const char *from,
                         const char *to, char *errstr, size_t errstr_size) {
    gh_grid_t *g = ctx;
    if (!*from || !*to)
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "%s: an empty code (expected own code,reference "
                         "code)",
                         where);
    if (g->nxw == g->capxw) {
        g->capxw = g->capxw ? g->capxw * 2 : 256;
        g->xw = gh_xrealloc(g->xw, (size_t)g->capxw * sizeof(*g->xw));
    }
    g->xw[g->nxw++] = (xw_t){gh_xstrdup(g->cur_dept), gh_xstrdup(from),
                             gh_xstrdup(to), gh_xstrdup(where)};
    return GH_OK;
}

gh_grid_t *gh_grid_new(const gh_conf_t *conf, char *errstr,
                       size_t errstr_size) {
    gh_grid_t *g = gh_xcalloc(1, sizeof(*g));
    g->views[0] = (view_slot_t){"grid", "gridhub.view.Grid", NULL, {0}, 0};
    g->views[1] = (view_slot_t){"event", "gridhub.view.Event", NULL, {0}, 0};
    g->views[2] =
        (view_slot_t){"household", "gridhub.view.Household", NULL, {0}, 0};
    g->views[3] =
        (view_slot_t){"building", "gridhub.view.Building", NULL, {0}, 0};
    g->ref_dept = gh_xstrdup(gh_conf_get(conf, "grid.reference.department"));
    char **list = gh_conf_get_list(conf, "grid.crosswalks");
    gh_err_t e = GH_OK;
    for (int i = 0; list[i] && !e; i++) {
        char *t = list[i];
        char *colon = strchr(t, ':');
        if (!colon || colon == t || !colon[1]) {
            e = gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                          "grid.crosswalks: \"%s\" is not <department>:<file>",
                          t);
            break;
        }
        *colon = '\0';
        if (!strcmp(t, g->ref_dept)) {
            e = gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                          "grid.crosswalks: %s is the reference department "
                          "(grid.reference.department): its codes are the "
                          "reference",
                          t);
            break;
        }
        g->cur_dept = t;
        char why[1024];
        e = gh_read_pairs_file(colon + 1, add_pair, g, why, sizeof(why));
        if (e)
            e = gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                          "grid.crosswalks: %s", why);
    }
    g->cur_dept = NULL;
    gh_conf_list_free(list);
    if (e) {
        gh_grid_destroy(g);
        return NULL;
    }
    return g;
}

void gh_grid_destroy(gh_grid_t *g) {
    if (!g) return;
    for (int i = 0; i < g->nxw; i++) {
        free(g->xw[i].dept);
        free(g->xw[i].own);
        free(g->xw[i].ref);
        free(g->xw[i].origin);
    }
    free(g->xw);
    for (size_t i = 0; i < sizeof(g->views) / sizeof(*g->views); i++)
        if (g->views[i].has_val) avro_value_decref(&g->views[i].val);
    free(g->ref_dept);
    free(g);
}

gh_err_t gh_grid_sync(gh_grid_t *g, PGconn *db, char *errstr,
                      size_t errstr_size) {
    gh_err_t e =
        gh_pg_exec(db, "DELETE FROM grid_crosswalk", errstr, errstr_size);
    gh_sqlarr_t a[4];
    memset(a, 0, sizeof(a));
    for (int j = 0; j < 4; j++)
        gh_sqlarr_reset(&a[j]);
    for (int i = 0; i < g->nxw; i++) {
        gh_sqlarr_text(&a[0], g->xw[i].dept);
        gh_sqlarr_text(&a[1], g->xw[i].own);
        gh_sqlarr_text(&a[2], g->xw[i].ref);
        gh_sqlarr_text(&a[3], g->xw[i].origin);
    }
    if (!e && g->nxw) {
        const char *p[4];
        for (int j = 0; j < 4; j++)
            p[j] = gh_sqlarr_get(&a[j]);
        /* A line repeated in a file says nothing new. */
        e = gh_pg_exec_what(
            db,
            "INSERT INTO grid_crosswalk (department, own_code, ref_code, "
            "origin) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], "
            "$4::text[]) ON CONFLICT DO NOTHING",
            4, p, "store grid crosswalks", errstr, errstr_size);
    }
    for (int j = 0; j < 4; j++)
        gh_sqlarr_free(&a[j]);
    return e ? e : gh_grid_refresh(g, db, errstr, errstr_size);
}

/* The refresh, one statement per derived table ($1: the reference
 * department). Small tables (a city has hundreds of grids and staff), so
 * they are rebuilt rather than patched. */
static const struct {
    const char *what, *table, *sql;
} REFRESH[] = {
    {"rebuild grid units", "grid_unit",
     "INSERT INTO grid_unit (department, "
     "code, name, level, parent_code, ref_code) SELECT DISTINCT ON "
     "(s.department, s.row ->> 'grid_code') s.department, s.row ->> "
     "'grid_code', s.row ->> 'name', s.row ->> 'level', s.row ->> "
     "'parent_code', CASE WHEN s.department = $1 THEN s.row ->> 'grid_code' "
     "ELSE (SELECT min(c.ref_code) FROM grid_crosswalk c WHERE c.department "
     "= s.department AND c.own_code = s.row ->> 'grid_code' HAVING count(*) "
     "= 1) END FROM source_row s WHERE s.entity = 'grid' AND NOT s.deleted "
     "AND s.row ->> 'grid_code' IS NOT NULL ORDER BY s.department, s.row "
     "->> 'grid_code', s.source_key"},
    /* Roots are units without a (known) parent; a unit on a cycle is
     * reachable from none and stays out (an issue below). */
    {"rebuild the grid hierarchy", "grid",
     "WITH t AS (WITH RECURSIVE u AS (SELECT code, "
     "name, level, parent_code FROM grid_unit WHERE department = $1), r AS "
     "(SELECT code, name, level, parent_code, 0 AS depth, ARRAY[code] AS "
     "path, ARRAY[coalesce(name, code)] AS names FROM u WHERE parent_code "
     "IS NULL OR parent_code NOT IN (SELECT code FROM u) UNION ALL SELECT "
     "u.code, u.name, u.level, u.parent_code, r.depth + 1, r.path || "
     "u.code, r.names || coalesce(u.name, u.code) FROM u JOIN r ON "
     "u.parent_code = r.code WHERE u.code <> ALL (r.path) AND r.depth < 32) "
     "SELECT DISTINCT ON (code) * FROM r ORDER BY code, depth) INSERT INTO "
     "grid (code, name, level, parent_code, depth, path, path_names) SELECT "
     "code, name, level, parent_code, depth, path, names FROM t"},
    {"rebuild grid rosters", "grid_staff_member",
     "INSERT INTO "
     "grid_staff_member (department, source_key, grid_code, role, name, "
     "organization, id_key) SELECT department, source_key, row ->> "
     "'grid_code', row ->> 'role', row ->> 'name', row ->> 'organization', "
     "id_key FROM source_row WHERE entity = 'grid_staff' AND NOT deleted"},
    {"list grid issues", "grid_issue",
     "INSERT INTO grid_issue (kind, "
     "department, code, detail) SELECT 'unit_unmapped', u.department, "
     "u.code, format('%s''s unit %s (%s) is in no crosswalk: what it holds "
     "cannot be placed in a grid', u.department, u.code, coalesce(u.name, "
     "'no name')) FROM grid_unit u WHERE u.department <> $1 AND NOT EXISTS "
     "(SELECT 1 FROM grid_crosswalk c WHERE c.department = u.department AND "
     "c.own_code = u.code) UNION ALL SELECT 'unit_ambiguous', department, "
     "own_code, format('%s''s unit %s maps to %s grids (%s): what it holds "
     "cannot be placed in one', department, own_code, count(*), "
     "string_agg(ref_code || ' at ' || origin, ', ' ORDER BY ref_code)) FROM "
     "grid_crosswalk GROUP BY department, own_code HAVING count(*) > 1 UNION "
     "ALL SELECT 'crosswalk_target_unknown', c.department, c.own_code, "
     "format('%s maps %s to %s, which the reference division (%s) does not "
     "have', c.origin, c.own_code, c.ref_code, $1) FROM grid_crosswalk c "
     "WHERE NOT EXISTS (SELECT 1 FROM grid g WHERE g.code = c.ref_code) "
     "UNION ALL SELECT 'parent_unknown', u.department, u.code, format('grid "
     "%s (%s) names parent %s, which the reference division does not have', "
     "u.code, coalesce(u.name, 'no name'), u.parent_code) FROM grid_unit u "
     "WHERE u.department = $1 AND u.parent_code IS NOT NULL AND NOT EXISTS "
     "(SELECT 1 FROM grid_unit p WHERE p.department = $1 AND p.code = "
     "u.parent_code) UNION ALL SELECT 'cycle', u.department, u.code, "
     "format('grid %s (%s) is its own ancestor: it is left out of the "
     "hierarchy', u.code, coalesce(u.name, 'no name')) FROM grid_unit u "
     "WHERE u.department = $1 AND NOT EXISTS (SELECT 1 FROM grid g WHERE "
     "g.code = u.code) UNION ALL SELECT 'staff_grid_unknown', m.department, "
     "m.source_key, format('staff %s (%s, %s) is in grid %s, which the "
     "reference division does not have', coalesce(m.name, '?'), "
     "coalesce(m.role, '?'), m.department, coalesce(m.grid_code, '(none)')) "
     "FROM grid_staff_member m WHERE m.grid_code IS NULL OR NOT EXISTS "
     "(SELECT 1 FROM grid g WHERE g.code = m.grid_code) ON CONFLICT DO "
     "NOTHING"},
};

/* The hierarchy as events and buildings see it (codes, names, levels,
 * paths): they are refreshed only when it changed, not when a roster
 * did. */
static const char HIERARCHY_SQL[] =
    "SELECT md5(coalesce(string_agg(concat_ws('|', code, name, level, "
    "parent_code, path::text, path_names::text), ',' ORDER BY code), '')) "
    "FROM grid";

static char *hierarchy_digest(PGconn *db, char *errstr, size_t errstr_size) {
    PGresult *r = gh_pg_query_what(db, HIERARCHY_SQL, 0, NULL,
                                   "read the hierarchy", errstr, errstr_size);
    if (!r) return NULL;
    char *d = gh_xstrdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return d;
}

gh_err_t gh_grid_refresh(gh_grid_t *g, PGconn *db, char *errstr,
                         size_t errstr_size) {
    const char *p[1] = {g->ref_dept};
    char *before = hierarchy_digest(db, errstr, errstr_size);
    if (!before) return GH_ERR_PG;
    for (size_t i = 0; i < sizeof(REFRESH) / sizeof(*REFRESH); i++) {
        char del[64];
        snprintf(del, sizeof(del), "DELETE FROM %s", REFRESH[i].table);
        gh_err_t e = gh_pg_exec_what(db, del, 0, NULL, REFRESH[i].what, errstr,
                                     errstr_size);
        /* Not every statement needs the reference department. */
        int np = strstr(REFRESH[i].sql, "$1") ? 1 : 0;
        if (!e)
            e = gh_pg_exec_what(db, REFRESH[i].sql, np, p, REFRESH[i].what,
                                errstr, errstr_size);
        if (e) {
            free(before);
            return e;
        }
    }
    char *after = hierarchy_digest(db, errstr, errstr_size);
    if (!after) {
        free(before);
        return GH_ERR_PG;
    }
    int moved = strcmp(before, after) != 0;
    free(before);
    free(after);
    /* Every grid's record (its roster, its path) may have changed; every
     * event's path and every building's community and path only if the
     * hierarchy did (a full refresh of the buildings takes seconds). */
    gh_err_t e = gh_pg_exec_what(
        db,
        "INSERT INTO view_dirty SELECT 'grid', code FROM grid ON CONFLICT DO "
        "NOTHING",
        0, NULL, "note the grids to refresh", errstr, errstr_size);
    if (e || !moved) return e;
    return gh_pg_exec_what(
        db,
        "INSERT INTO view_dirty SELECT 'event', department || ':' || entity "
        "|| ':' || source_key FROM source_row WHERE entity IN ('grid_event', "
        "'civility_task') UNION ALL SELECT 'building', department || ':' || "
        "source_key FROM source_row WHERE entity = 'building' ON CONFLICT DO "
        "NOTHING",
        0, NULL, "note the events and buildings to refresh", errstr,
        errstr_size);
}

gh_err_t gh_grid_use_views(gh_grid_t *g, const gh_schemas_t *set, char *errstr,
                           size_t errstr_size) {
    for (size_t i = 0; i < sizeof(g->views) / sizeof(*g->views); i++) {
        view_slot_t *v = &g->views[i];
        if (v->has_val) avro_value_decref(&v->val);
        v->has_val = 0;
        v->schema = gh_schemas_get(set, v->fullname);
        if (!v->schema) continue;
        gh_err_t e =
            gh_schema_new_value(v->schema, &v->val, errstr, errstr_size);
        if (e) return e;
        v->has_val = 1;
    }
    return GH_OK;
}

void gh_grid_times(const gh_grid_t *g, long long us[GH_GRID_NTIMES]) {
    for (int i = 0; i < GH_GRID_NTIMES; i++)
        us[i] = g ? g->us[i] : 0;
}

void gh__grid_time(gh_grid_t *g, int step, long long us) {
    g->us[step] += us;
}

void gh__grid_attr_sent(gh_grid_t *g) {
    g->attr_sent_us = gh_now_us();
}

void gh__grid_attr_done(gh_grid_t *g) {
    g->us[1] += gh_now_us() - g->attr_sent_us;
}

avro_value_t *gh__grid_view_value(gh_grid_t *g, const char *entity) {
    for (size_t i = 0; i < sizeof(g->views) / sizeof(*g->views); i++)
        if (g->views[i].has_val && !strcmp(g->views[i].entity, entity))
            return &g->views[i].val;
    return NULL;
}

const gh_schema_t *gh__grid_view_schema(gh_grid_t *g, const char *entity) {
    for (size_t i = 0; i < sizeof(g->views) / sizeof(*g->views); i++)
        if (!strcmp(g->views[i].entity, entity)) return g->views[i].schema;
    return NULL;
}
