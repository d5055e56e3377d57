/* GET /v1/persons: find a resident by ID number (any form the normalizer
 * accepts), by phone, or by name and birth date (homophones and
 * traditional characters found too), as the caller's subscriber receives
 * them, with their grid, its staff and their household. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "api_int.h"
#include "audit.h"
#include "gridhub/idnum.h"
#include "gridhub/norm.h"
#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "gridhub/util.h"
#include "resolve.h"

/* The golden columns gh_view_fill_row reads, then whether the person's
 * current grid lies in the grids $2 (a grid worker's; '{}': no
 * restriction). */
#define PERSON_COLS                                                            \
    "p.person_id, p.version, floor(extract(epoch from p.updated_at) * "        \
    "1000000)::bigint, p.id_number, p.name, p.sex, p.birth_date::text, "       \
    "p.phone, p.address, p.grid_code, p.sources::text, p.provenance::text, "   \
    "p.absorbed_ids::text, person_attr_json(p.person_id) AS attrs, "           \
    "$2::text[] = '{}' OR EXISTS (SELECT 1 FROM grid g WHERE g.code = "        \
    "coalesce((SELECT a.grid_code FROM person_attr a WHERE a.person_id = "     \
    "p.person_id), p.grid_code) AND (g.path && $2::text[] OR g.code = ANY "    \
    "($2::text[]))) AS in_grids"
#define COL_IN_GRIDS 14

/* The active persons with a record under the blocking key $1. */
static const char FOUND_SQL[] =
    "WITH ids AS (SELECT DISTINCT sp.person_id FROM person_block b JOIN "
    "source_person sp ON sp.rec_id = b.rec_id WHERE b.block_key = "
    "$1::bigint AND NOT sp.deleted AND sp.person_id IS NOT NULL) "
    "SELECT " PERSON_COLS
    " FROM person p JOIN ids USING (person_id) WHERE p.active ORDER BY "
    "p.person_id LIMIT 20";

/* The active persons of the ids $1 (grid staff). */
static const char BY_ID_SQL[] =
    "SELECT " PERSON_COLS " FROM person p WHERE p.person_id = ANY "
    "($1::text[]) AND p.active ORDER BY p.person_id";

gh_err_t gh__api_persons_prepare(PGconn *db, char *err, size_t errsz) {
    gh_err_t e = gh_pg_prepare(db, "gh_api_found", FOUND_SQL, err, errsz);
    return e ? e : gh_pg_prepare(db, "gh_api_by_id", BY_ID_SQL, err, errsz);
}

/* What was asked: one blocking key and how it was made. */
typedef struct query {
    uint64_t key;
    const char *by;   /* id_number, phone, name+birth_date */
    const char *what; /* for messages: "this ID number" */
} query_t;

/* Reads the query string into q, or fills r with the error. */
static int parse_query(gh_api_t *a, struct MHD_Connection *conn, query_t *q,
                       gh__api_reply_t *r) {
    const char *id =
        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "id_number");
    const char *phone =
        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "phone");
    const char *name =
        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "name");
    const char *birth =
        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "birth_date");
    int given = (id && *id) + (phone && *phone) +
                ((name && *name) || (birth && *birth));
    if (given != 1) {
        gh__api_error(r, MHD_HTTP_BAD_REQUEST,
                      given ? "ambiguous_query" : "missing_parameter",
                      "give one of ?id_number=..., ?phone=... or "
                      "?name=...&birth_date=YYYY-MM-DD");
        return 0;
    }
    memset(q, 0, sizeof(*q));
    if (id && *id) {
        q->by = "id_number";
        q->what = "this ID number";
        q->key = gh_id_key(a->crypt, id);
        if (!q->key) {
            /* Normalized again only to say what is wrong with it. */
            char norm[19];
            gh_idnum_status_t st = gh_idnum_normalize(id, norm, NULL);
            gh__api_error(r, MHD_HTTP_BAD_REQUEST, "invalid_id_number",
                          "not a resident ID number: %s",
                          gh_idnum_status_str(st));
            return 0;
        }
        return 1;
    }
    gh_match_raw_t raw;
    memset(&raw, 0, sizeof(raw));
    if (phone && *phone) {
        char norm[GH_NORM_PHONE_MAX];
        if (gh_norm_phone(phone, norm, sizeof(norm)) <= 0) {
            gh__api_error(r, MHD_HTTP_BAD_REQUEST, "invalid_phone",
                          "not a phone number (a mobile or a landline with "
                          "its area code)");
            return 0;
        }
        q->by = "phone";
        q->what = "this phone number";
        raw.phone = phone;
        q->key = gh_search_key(a->crypt, "phone", &raw);
        return 1;
    }
    int y, m, d;
    char tail;
    if (!name || !*name || !birth ||
        sscanf(birth, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 ||
        m > 12 || d < 1 || d > 31 || y < 1880 || strlen(birth) != 10) {
        gh__api_error(r, MHD_HTTP_BAD_REQUEST,
                      name && *name ? "invalid_birth_date"
                                    : "missing_parameter",
                      "a name is searched with a birth date: "
                      "?name=...&birth_date=YYYY-MM-DD");
        return 0;
    }
    q->by = "name+birth_date";
    q->what = "this name and birth date";
    raw.name = name;
    raw.birth_date = birth;
    q->key = gh_search_key(a->crypt, "pinyin+birth", &raw);
    if (!q->key) {
        gh__api_error(r, MHD_HTTP_BAD_REQUEST, "invalid_name",
                      "the name has no letters or characters to search by");
        return 0;
    }
    return 1;
}

/* Opens the sealed columns of a PERSON_COLS result. */
static gh_err_t open_persons(gh_api_t *a, PGresult *res, char *err,
                             size_t errsz) {
    static const int cols[] = {3, 7, 8};
    static const char *const fields[] = {"id_number", "phone", "address"};
    return gh_crypt_open_result(a->crypt, res, cols, fields, 3, err, errsz);
}

/* Row i of a PERSON_COLS result as the plan gives it (*out NULL: outside
 * its rows); *raw (may be NULL) the full record. */
static gh_err_t person_of(gh_api_t *a, gh_policy_plan_t *pl, PGresult *res,
                          int i, json_t **out, json_t **raw, char *err,
                          size_t errsz) {
    avro_value_t *full = gh_view_fill_row(a->view, res, i);
    gh_policy_rec_set(a->ents[a->person].rec, full);
    if (raw)
        *raw = gh_avro_to_json(gh_policy_entity_schema(a->policy, a->person),
                               full);
    return gh__api_apply(a, a->person, pl, out, err, errsz);
}

static const char *str_of(json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

/* Adds to each staff member of `grid` (as sent) the phone their person
 * record gives the subscriber, matching members through the ids of the
 * full record `raw`: a member is found under the pseudonym the grid plan
 * gave, which is the one the person plan gives too. Their ids go to
 * `seen` (the audit entry's "staff"). */
static gh_err_t staff_phones(gh_api_t *a, PGconn *db, gh_policy_plan_t *ppl,
                             json_t *grid, json_t *raw, gh_buf_t *seen,
                             char *err, size_t errsz) {
    json_t *staff = json_object_get(grid, "staff");
    json_t *rstaff = json_object_get(raw, "staff");
    if (!json_array_size(staff) || !json_array_size(rstaff)) return GH_OK;
    gh_buf_t ids = {0};
    size_t i;
    json_t *m;
    json_array_foreach(rstaff, i, m) {
        const char *pid = str_of(m, "person_id");
        if (pid) gh_buf_printf(&ids, "%s\"%s\"", ids.len ? "," : "{", pid);
    }
    if (!ids.len) return GH_OK;
    gh_buf_printf(&ids, "}");
    const char *p[2] = {ids.data, "{}"};
    PGresult *res = gh_pg_query_prepared(db, "gh_api_by_id", 2, p,
                                         "read grid staff", err, errsz);
    gh_buf_free(&ids);
    if (!res) return GH_ERR_PG;
    gh_err_t e = open_persons(a, res, err, errsz);
    for (int r = 0; !e && r < PQntuples(res); r++) {
        json_t *person = NULL;
        e = person_of(a, ppl, res, r, &person, NULL, err, errsz);
        if (e || !person) continue;
        const char *phone = str_of(person, "phone");
        const char *id = PQgetvalue(res, r, 0);
        char alias[33];
        gh_policy_plan_pseudonym(ppl, id, alias);
        json_t *sm;
        size_t k;
        json_array_foreach(staff, k, sm) {
            const char *sid = str_of(sm, "person_id");
            if (!sid || (strcmp(sid, alias) && strcmp(sid, id))) continue;
            json_object_set(sm, "phone",
                            phone ? json_object_get(person, "phone")
                                  : json_null());
            gh_buf_printf(seen, "%s%s", seen->len ? "," : "", id);
        }
        json_decref(person);
    }
    PQclear(res);
    return e;
}

/* ---- Grid answers, kept a few seconds ----------------------------------
 *
 * Most lookups land in a few hundred grids, and a grid's answer (its path,
 * staff and their phones) is the same for every resident of it a
 * subscriber looks up, and costs as much as the resident: it is kept for
 * api.cache.grid.ms, shared by the threads, keyed by the subscriber, the
 * grid and the digests of the two plans that made it (a new grant or
 * policy is a new key). A staff change shows after at most that long; the
 * resident's own record is never kept. */

#define GRID_CACHE_MAX 10000

static char *cache_key(const gh_token_info_t *who, const char *code,
                       gh_policy_plan_t *gpl, gh_policy_plan_t *ppl) {
    return gh_xasprintf("%s\x1f%s\x1f%s\x1f%s", who->subscriber, code,
                        gh_policy_plan_digest(gpl), gh_policy_plan_digest(ppl));
}

/* The kept answer of `key`: 1 and *grid (a copy; NULL when the grid is
 * not the subscriber's) and the staff it discloses appended to seen. */
static int cache_get(gh_api_t *a, const char *key, json_t **grid,
                     gh_buf_t *seen) {
    gh_api_t *m = a->main ? a->main : a;
    if (m->grid_cache_us <= 0) return 0;
    int hit = 0;
    pthread_mutex_lock(&m->cache_lock);
    json_t *v = json_object_get(m->grid_cache, key);
    if (v && gh_now_us() - json_integer_value(json_object_get(v, "at")) <
                 m->grid_cache_us) {
        json_t *g = json_object_get(v, "grid");
        *grid = json_is_null(g) ? NULL : json_deep_copy(g);
        const char *st = str_of(v, "staff");
        if (st && *st) gh_buf_printf(seen, "%s%s", seen->len ? "," : "", st);
        hit = 1;
    }
    pthread_mutex_unlock(&m->cache_lock);
    return hit;
}

static void cache_put(gh_api_t *a, const char *key, const json_t *grid,
                      const char *staff) {
    gh_api_t *m = a->main ? a->main : a;
    if (m->grid_cache_us <= 0) return;
    json_t *v = json_pack("{s:o,s:s,s:I}", "grid",
                          grid ? json_deep_copy(grid) : json_null(), "staff",
                          staff, "at", (json_int_t)gh_now_us());
    pthread_mutex_lock(&m->cache_lock);
    if (json_object_size(m->grid_cache) >= GRID_CACHE_MAX)
        json_object_clear(m->grid_cache);
    json_object_set_new(m->grid_cache, key, v);
    pthread_mutex_unlock(&m->cache_lock);
}

/* The grid of the resident as the subscriber may see it, staff phones
 * added, from the cache or the views. */
static gh_err_t grid_of(gh_api_t *a, PGconn *db, const gh_token_info_t *who,
                        gh_policy_plan_t *ppl, const char *code, json_t **grid,
                        gh_buf_t *seen, char *err, size_t errsz) {
    *grid = NULL;
    int en = gh_policy_entity_find(a->policy, "grid");
    if (!code || en < 0) return GH_OK;
    gh_policy_plan_t *gpl = gh__api_plan(a, en, who->subscriber, err, errsz);
    if (!gpl) return GH_ERR_CONFIG;
    char *key = cache_key(who, code, gpl, ppl);
    if (cache_get(a, key, grid, seen)) {
        free(key);
        return GH_OK;
    }
    json_t *rgrid = NULL;
    gh_buf_t staff = {0};
    gh_err_t e =
        gh__api_view(a, db, who, "grid", code, grid, &rgrid, err, errsz);
    if (!e && *grid)
        e = staff_phones(a, db, ppl, *grid, rgrid, &staff, err, errsz);
    json_decref(rgrid);
    if (!e) {
        cache_put(a, key, *grid, staff.len ? staff.data : "");
        if (staff.len)
            gh_buf_printf(seen, "%s%s", seen->len ? "," : "", staff.data);
    }
    gh_buf_free(&staff);
    free(key);
    return e;
}

/* The resident as sent, with their grid (staff phones added) and
 * household as the subscriber may see them. */
static gh_err_t answer_of(gh_api_t *a, PGconn *db, const gh_token_info_t *who,
                          gh_policy_plan_t *ppl, json_t *person, json_t *raw,
                          gh_buf_t *seen, json_t **out, char *err,
                          size_t errsz) {
    json_t *grid = NULL, *hh = NULL;
    gh_err_t e = grid_of(a, db, who, ppl, str_of(raw, "grid_code"), &grid, seen,
                         err, errsz);
    if (!e)
        e = gh__api_view(a, db, who, "household", str_of(raw, "household_id"),
                         &hh, NULL, err, errsz);
    if (e) {
        json_decref(grid);
        json_decref(hh);
        return e;
    }
    *out = json_pack("{s:O,s:o?,s:o?}", "person", person, "grid", grid,
                     "household", hh);
    return GH_OK;
}

void gh__api_persons(gh_api_t *a, PGconn *db, struct MHD_Connection *conn,
                     const gh_token_info_t *who, const char *url,
                     gh__api_reply_t *r) {
    char err[1024];
    query_t q;
    if (!parse_query(a, conn, &q, r)) return;
    gh_policy_plan_t *pl =
        gh__api_plan(a, a->person, who->subscriber, err, sizeof(err));
    if (!pl) {
        gh__api_error(r, MHD_HTTP_FORBIDDEN, "no_plan", "%s", err);
        return;
    }
    char keytxt[32];
    snprintf(keytxt, sizeof(keytxt), "%" PRId64, (int64_t)q.key);
    const char *grids = who->role == GH_TOKEN_GRID_WORKER ? who->grids : "{}";
    const char *p[2] = {keytxt, grids};
    /* No transaction: the answer leaves only once its audit entry is
     * committed (gh__api_audit_read), and each statement reads committed
     * data; the grid and household views lag the persons anyway. */
    gh_err_t e = GH_OK;
    PGresult *res = gh_pg_query_prepared(db, "gh_api_found", 2, p,
                                         "find persons", err, sizeof(err));
    e = res ? open_persons(a, res, err, sizeof(err)) : GH_ERR_PG;
    json_t *found = json_array();
    gh_buf_t seen = {0}, staff = {0};
    int outside = 0;
    for (int i = 0; !e && i < PQntuples(res); i++) {
        if (*PQgetvalue(res, i, COL_IN_GRIDS) != 't') {
            outside++;
            continue;
        }
        json_t *person = NULL, *raw = NULL, *item = NULL;
        e = person_of(a, pl, res, i, &person, &raw, err, sizeof(err));
        if (!e && !person) outside++;
        char *pid = gh_xstrdup(PQgetvalue(res, i, 0));
        if (!e && person) {
            gh_buf_printf(&seen, "%s%s", seen.len ? "," : "", pid);
            e = answer_of(a, db, who, pl, person, raw, &staff, &item, err,
                          sizeof(err));
        }
        if (item) json_array_append_new(found, item);
        free(pid);
        json_decref(person);
        json_decref(raw);
    }
    PQclear(res);
    if (!e) {
        /* What was disclosed names the persons (hub ids: the audit log is
         * the security officer's, not a subscriber's); a miss says why. */
        char why[128];
        snprintf(why, sizeof(why), "%s",
                 outside ? "outside the token's rows or grids" : "");
        if (!outside) snprintf(why, sizeof(why), "no resident with %s", q.what);
        int hit = json_array_size(found) > 0;
        json_t *extra = json_pack("{s:s,s:s?}", "by", q.by, "staff",
                                  staff.len ? staff.data : NULL);
        e = gh__api_audit_read(a, hit ? "read" : "refused", "person", url, who,
                               hit ? seen.data : NULL, hit ? NULL : why, extra,
                               err, sizeof(err));
        json_decref(extra);
    }
    gh_buf_free(&seen);
    gh_buf_free(&staff);
    if (e) {
        gh_log_warn("api", "%s", err);
        json_decref(found);
        gh__api_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                      "the lookup failed; try again later");
        return;
    }
    if (!json_array_size(found)) {
        /* Existence is not revealed to who may not see the person. */
        json_decref(found);
        gh__api_error(r, MHD_HTTP_NOT_FOUND, "not_found",
                      "no resident with %s that this token may see", q.what);
        return;
    }
    r->status = MHD_HTTP_OK;
    r->body = json_pack("{s:s,s:o}", "matched_by", q.by, "persons", found);
}
