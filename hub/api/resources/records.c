/* GET /v1/grids/{code}, /v1/households/{id}, /v1/buildings/{id},
 * /v1/events/{id}: one derived record as the token's subscriber receives
 * it on its topic; grid workers see only what lies in their grids. The
 * endpoint table (server.c) says which entity a path serves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "api_int.h"
#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "gridhub/util.h"

/* 1 if grid `code` lies in the grids `grids` ({A,B}) or under them. */
static gh_err_t in_grids(PGconn *db, const char *code, const char *grids,
                         int *in, char *err, size_t errsz) {
    const char *p[2] = {code ? code : "", grids};
    PGresult *r = gh_pg_query_what(
        db,
        "SELECT EXISTS (SELECT 1 FROM grid g WHERE g.code = $1 AND (g.path && "
        "$2::text[] OR g.code = ANY ($2::text[])))",
        2, p, "check the token's grids", err, errsz);
    if (!r) return GH_ERR_PG;
    *in = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return GH_OK;
}

void gh__api_record(gh_api_t *a, PGconn *db, const gh_token_info_t *who,
                    const char *url, const char *entity, const char *id,
                    gh__api_reply_t *r) {
    if (!*id || strchr(id, '/') || strlen(id) > 256) {
        gh__api_error(r, MHD_HTTP_NOT_FOUND, "not_found",
                      "no such endpoint: %s (see docs/api.md)", url);
        return;
    }
    char err[1024];
    json_t *out = NULL, *raw = NULL;
    /* No transaction, as for persons (persons.c): the answer leaves only
     * once its audit entry is committed, and each statement reads
     * committed data. */
    gh_err_t e =
        gh__api_view(a, db, who, entity, id, &out, &raw, err, sizeof(err));
    int in = 1;
    if (!e && out && who->role == GH_TOKEN_GRID_WORKER) {
        const char *code = json_string_value(json_object_get(raw, "grid_code"));
        e = in_grids(db, code, who->grids, &in, err, sizeof(err));
    }
    const char *why = !out  ? "no such record for the token's subscriber"
                      : !in ? "outside the token's grids"
                            : NULL;
    char what[300];
    snprintf(what, sizeof(what), "%s:%s", entity, id);
    if (!e)
        e = gh__api_audit_read(a, why ? "refused" : "read", entity, url, who,
                               why ? NULL : what, why, NULL, err, sizeof(err));
    json_decref(raw);
    if (e) {
        gh_log_warn("api", "%s", err);
        json_decref(out);
        gh__api_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                      "the lookup failed; try again later");
        return;
    }
    if (why) {
        /* Existence is not revealed to who may not see the record. */
        json_decref(out);
        gh__api_error(r, MHD_HTTP_NOT_FOUND, "not_found",
                      "no %s %s that this token may see", entity, id);
        return;
    }
    r->status = MHD_HTTP_OK;
    r->body = json_pack("{s:o}", entity, out);
}
