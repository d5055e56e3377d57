/* GET /v1/persons?id_number=ID: find a resident by ID number (any form the
 * normalizer accepts), as the caller's subscriber receives them. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "api_int.h"
#include "audit.h"
#include "gridhub/idnum.h"
#include "gridhub/pg.h"
#include "gridhub/util.h"
#include "resolve.h"

/* The active persons holding the ID key $1, with the golden columns
 * gh_view_fill_row reads, and whether their current grid lies in the
 * grids $2 (a grid worker's; '{}': no restriction). */
static const char PERSONS_SQL[] =
    "WITH ids AS (SELECT DISTINCT sp.person_id FROM person_block b JOIN "
    "source_person sp ON sp.rec_id = b.rec_id WHERE b.block_key = "
    "$1::bigint AND NOT sp.deleted AND sp.person_id IS NOT NULL) SELECT "
    "p.person_id, p.version, floor(extract(epoch from p.updated_at) * "
    "1000000)::bigint, p.id_number, p.name, p.sex, p.birth_date::text, "
    "p.phone, p.address, p.grid_code, p.sources::text, p.provenance::text, "
    "p.absorbed_ids::text, person_attr_json(p.person_id) AS attrs, "
    "$2::text[] = '{}' OR EXISTS (SELECT 1 FROM grid g WHERE g.code = "
    "coalesce((SELECT a.grid_code FROM person_attr a WHERE a.person_id = "
    "p.person_id), p.grid_code) AND (g.path && $2::text[] OR g.code = ANY "
    "($2::text[]))) AS in_grids FROM person p JOIN ids USING (person_id) "
    "WHERE p.active ORDER BY p.person_id LIMIT 20";

static gh_policy_plan_t *plan_of(gh_api_t *a, const char *subscriber, char *err,
                                 size_t errsz) {
    int s = gh_policy_subscriber_find(a->policy, subscriber);
    if (s < 0) {
        snprintf(err, errsz,
                 "the token's subscriber %s is no longer in the policy",
                 subscriber);
        return NULL;
    }
    if (!a->plans[s] &&
        gh_policy_plan_new(a->policy, s, a->person, gh_wallclock_us(), a->keys,
                           a->schemas, &a->plans[s], err, errsz))
        return NULL;
    return a->plans[s];
}

void gh__api_persons(gh_api_t *a, PGconn *db, const gh_token_info_t *who,
                     const char *url, const char *id_number,
                     gh__api_reply_t *r) {
    char err[1024], norm[19];
    if (!id_number || !*id_number) {
        gh__api_error(r, MHD_HTTP_BAD_REQUEST, "missing_parameter",
                      "give the resident's ID number: ?id_number=...");
        return;
    }
    uint64_t key = gh_id_key(a->crypt, id_number);
    if (!key) {
        /* Normalized again only to say what is wrong with it. */
        gh_idnum_status_t st = gh_idnum_normalize(id_number, norm, NULL);
        gh__api_error(r, MHD_HTTP_BAD_REQUEST, "invalid_id_number",
                      "not a resident ID number: %s", gh_idnum_status_str(st));
        return;
    }
    gh_policy_plan_t *pl = plan_of(a, who->subscriber, err, sizeof(err));
    if (!pl) {
        gh__api_error(r, MHD_HTTP_FORBIDDEN, "no_plan", "%s", err);
        return;
    }
    char keytxt[32];
    snprintf(keytxt, sizeof(keytxt), "%" PRId64, (int64_t)key);
    const char *grids = who->role == GH_TOKEN_GRID_WORKER ? who->grids : "{}";
    const char *p[2] = {keytxt, grids};
    /* The read and its audit entry commit together. */
    gh_err_t e = gh_pg_exec(db, "BEGIN", err, sizeof(err));
    PGresult *res = e ? NULL
                      : gh_pg_query_what(db, PERSONS_SQL, 2, p, "find persons",
                                         err, sizeof(err));
    static const int cols[] = {3, 7, 8};
    static const char *const fields[] = {"id_number", "phone", "address"};
    if (res)
        e = gh_crypt_open_result(a->crypt, res, cols, fields, 3, err,
                                 sizeof(err));
    else
        e = GH_ERR_PG;
    json_t *out = json_array();
    gh_buf_t seen = {0};
    int outside = 0;
    for (int i = 0; !e && i < PQntuples(res); i++) {
        if (*PQgetvalue(res, i, 14) != 't') {
            outside++;
            continue;
        }
        avro_value_t *full = gh_view_fill_row(a->view, res, i);
        gh_policy_rec_set(a->rec, full);
        if (!gh_policy_plan_in_scope(pl, a->rec)) {
            outside++;
            continue;
        }
        avro_value_t *o = NULL;
        e = gh_policy_plan_apply(pl, a->rec, &o, err, sizeof(err));
        if (e) break;
        json_array_append_new(out,
                              gh_avro_to_json(gh_policy_plan_schema(pl), o));
        gh_buf_printf(&seen, "%s%s", seen.len ? "," : "",
                      PQgetvalue(res, i, 0));
    }
    PQclear(res);
    if (!e) {
        /* What was disclosed names the persons (hub ids: the audit log is
         * the security officer's, not a subscriber's); a miss says why. */
        const char *why = json_array_size(out) ? NULL
                          : outside ? "outside the token's rows or grids"
                                    : "no resident holds the ID number";
        e = gh__api_audit(db, json_array_size(out) ? "read" : "refused", "GET",
                          url, who, json_array_size(out) ? seen.data : NULL,
                          why, err, sizeof(err));
    }
    if (!e) e = gh_pg_exec(db, "COMMIT", err, sizeof(err));
    gh_buf_free(&seen);
    if (e) {
        char ignore[256];
        gh_pg_exec(db, "ROLLBACK", ignore, sizeof(ignore));
        json_decref(out);
        gh__api_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                      "the lookup failed; try again later");
        return;
    }
    if (!json_array_size(out)) {
        /* Existence is not revealed to who may not see the person. */
        json_decref(out);
        gh__api_error(r, MHD_HTTP_NOT_FOUND, "not_found",
                      "no resident with this ID number that this token may "
                      "see");
        return;
    }
    r->status = MHD_HTTP_OK;
    r->body = json_pack("{s:o}", "persons", out);
}
