/* The steward queue over HTTP (role steward): the items, one item with its
 * evidence, and the decisions, made through hub/steward exactly as
 * `gridhub steward` makes them (same transaction, constraints,
 * re-resolution, outbox rows and audit entry), the token named as who
 * acted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "api_int.h"
#include "audit.h"
#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "gridhub/util.h"
#include "steward.h"

#define LOG "api"

static const char ITEMS[] = "/v1/steward/items";

/* A non-negative decimal id of at most 18 digits (a bigint). */
static int is_id(const char *s, size_t n) {
    return n && n <= 18 && strspn(s, "0123456789") >= n;
}

static gh__api_reply_t *db_failed(gh__api_reply_t *r, const char *err) {
    gh_log_warn(LOG, "%s", err);
    return gh__api_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                         "the hub database failed; try again later");
}

static void rollback(PGconn *db) {
    char ignore[256];
    gh_pg_exec(db, "ROLLBACK", ignore, sizeof(ignore));
}

/* GET /v1/steward/items?status=&kind=&limit= */
static void list_items(PGconn *db, struct MHD_Connection *conn,
                       gh__api_reply_t *r) {
    const char *status =
        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "status");
    const char *kind =
        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "kind");
    const char *lim =
        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit");
    if (!status || !*status) status = "open";
    if (strcmp(status, "open") && strcmp(status, "resolved") &&
        strcmp(status, "obsolete")) {
        gh__api_error(r, MHD_HTTP_BAD_REQUEST, "invalid_parameter",
                      "status: open, resolved or obsolete");
        return;
    }
    long limit = 50;
    if (lim) {
        char *end;
        limit = strtol(lim, &end, 10);
        if (!*lim || *end || limit < 1 || limit > 500) {
            gh__api_error(r, MHD_HTTP_BAD_REQUEST, "invalid_parameter",
                          "limit: a number from 1 to 500");
            return;
        }
    }
    char ls[24];
    snprintf(ls, sizeof(ls), "%ld", limit);
    const char *p[3] = {status, kind && *kind ? kind : NULL, ls};
    char err[1024];
    PGresult *res = gh_pg_query_what(
        db,
        "SELECT item_id, kind, status, person_a, person_b, field, "
        "score::float8, to_char(created_at AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), decision_id, (SELECT count(*) "
        "FROM steward_item WHERE status = $1 AND ($2::text IS NULL OR kind "
        "= $2)) FROM steward_item WHERE status = $1 AND ($2::text IS NULL "
        "OR kind = $2) ORDER BY item_id DESC LIMIT $3::int",
        3, p, "list steward items", err, sizeof(err));
    if (!res) {
        db_failed(r, err);
        return;
    }
    json_t *items = json_array();
    for (int i = 0; i < PQntuples(res); i++) {
        json_t *it = json_pack(
            "{s:I,s:s,s:s,s:s,s:s?,s:s?,s:o,s:s,s:o}", "item_id",
            (json_int_t)strtoll(PQgetvalue(res, i, 0), NULL, 10), "kind",
            PQgetvalue(res, i, 1), "status", PQgetvalue(res, i, 2), "person_a",
            PQgetvalue(res, i, 3), "person_b",
            PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4), "field",
            PQgetisnull(res, i, 5) ? NULL : PQgetvalue(res, i, 5), "score",
            PQgetisnull(res, i, 6) ? json_null()
                                   : json_real(atof(PQgetvalue(res, i, 6))),
            "created_at", PQgetvalue(res, i, 7), "decision",
            PQgetisnull(res, i, 8)
                ? json_null()
                : json_integer(strtoll(PQgetvalue(res, i, 8), NULL, 10)));
        json_array_append_new(items, it);
    }
    long long total =
        PQntuples(res) ? strtoll(PQgetvalue(res, 0, 9), NULL, 10) : 0;
    PQclear(res);
    r->status = MHD_HTTP_OK;
    r->body = json_pack("{s:s,s:I,s:o}", "status", status, "total",
                        (json_int_t)total, "items", items);
}

/* GET /v1/steward/items/{id}: the item, its decision and its evidence
 * (opened: it holds personal data), read in one transaction with its
 * audit entry, as `gridhub steward show` reads it. */
static void show_item(gh_api_t *a, PGconn *db, const gh_token_info_t *who,
                      const char *url, const char *id, gh__api_reply_t *r) {
    char err[1024];
    const char *p[1] = {id};
    json_t *extra = json_pack("{s:s}", "item", id);
    gh_err_t e = gh_pg_exec(db, "BEGIN", err, sizeof(err));
    if (!e)
        e = gh__api_audit(db, "read", "steward_item", url, who, id, NULL, extra,
                          err, sizeof(err));
    json_decref(extra);
    PGresult *res = NULL;
    if (!e &&
        !(res = gh_pg_query_what(
              db,
              "SELECT kind, status, person_a, person_b, field, score::float8, "
              "to_char(created_at AT TIME ZONE 'UTC', "
              "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), evidence::text, "
              "(SELECT json_build_object('decision', d.decision_id, "
              "'action', d.action, 'by', d.decided_by, 'at', "
              "to_char(d.decided_at AT TIME ZONE 'UTC', "
              "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), 'reason', d.reason)::text "
              "FROM steward_decision d WHERE d.decision_id = i.decision_id) "
              "FROM steward_item i WHERE item_id = $1::bigint",
              1, p, "read steward item", err, sizeof(err))))
        e = GH_ERR_PG;
    if (e) {
        rollback(db);
        db_failed(r, err);
        return;
    }
    if (!PQntuples(res)) {
        PQclear(res);
        rollback(db);
        gh__api_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no item %s", id);
        return;
    }
    char *opened =
        gh_crypt_open_json(a->crypt, PQgetvalue(res, 0, 7), err, sizeof(err));
    json_t *ev = opened ? json_loads(opened, 0, NULL) : NULL;
    if (opened) gh_free_secret(opened, strlen(opened));
    if (!ev || gh_pg_exec(db, "COMMIT", err, sizeof(err))) {
        PQclear(res);
        json_decref(ev);
        rollback(db);
        gh_log_warn(LOG, "steward item %s: %s", id, err);
        gh__api_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                      "the item's evidence cannot be read");
        return;
    }
    json_t *dec = PQgetisnull(res, 0, 8)
                      ? json_null()
                      : json_loads(PQgetvalue(res, 0, 8), 0, NULL);
    r->status = MHD_HTTP_OK;
    r->body = json_pack(
        "{s:{s:I,s:s,s:s,s:s,s:s?,s:s?,s:o,s:s,s:o,s:o}}", "item", "item_id",
        (json_int_t)strtoll(id, NULL, 10), "kind", PQgetvalue(res, 0, 0),
        "status", PQgetvalue(res, 0, 1), "person_a", PQgetvalue(res, 0, 2),
        "person_b", PQgetisnull(res, 0, 3) ? NULL : PQgetvalue(res, 0, 3),
        "field", PQgetisnull(res, 0, 4) ? NULL : PQgetvalue(res, 0, 4), "score",
        PQgetisnull(res, 0, 5) ? json_null()
                               : json_real(atof(PQgetvalue(res, 0, 5))),
        "created_at", PQgetvalue(res, 0, 6), "decision",
        dec ? dec : json_null(), "evidence", ev);
    PQclear(res);
}

/* The status a failed action is answered with. */
static void action_failed(gh__api_reply_t *r, gh_err_t e, const char *err) {
    if (e == GH_ERR_NOT_FOUND)
        gh__api_error(r, MHD_HTTP_NOT_FOUND, "not_found", "%s", err);
    else if (e == GH_ERR_INVALID_ARG)
        gh__api_error(r, MHD_HTTP_CONFLICT, "not_applicable", "%s", err);
    else
        db_failed(r, err);
}

/* The steward of `a`, made on first use: its own connection, resolver and
 * feed, as the command's. NULL with r filled. */
static gh_steward_t *steward_of(gh_api_t *a, gh__api_reply_t *r) {
    if (a->steward) return a->steward;
    char err[1024];
    a->steward = gh_steward_new(a->conf, err, sizeof(err));
    if (!a->steward) {
        gh_log_warn(LOG, "steward: %s", err);
        gh__api_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                      "stewardship cannot start; see the API's log");
    }
    return a->steward;
}

/* POST /v1/steward/items/{id}/{merge|keep-apart|choose} and
 * /v1/persons/{id}/split. `item` is the item (NULL for split), `pid` the
 * person (split). */
static void act(gh_api_t *a, const gh_token_info_t *who, const char *action,
                const char *item, const char *pid, const char *body, size_t len,
                gh__api_reply_t *r) {
    int merge = !strcmp(action, "merge"), apart = !strcmp(action, "keep-apart"),
        choose = !strcmp(action, "choose"), split = !strcmp(action, "split");
    if (!merge && !apart && !choose && !split) {
        gh__api_error(r, MHD_HTTP_NOT_FOUND, "unknown_action",
                      "no action \"%.64s\": merge, keep-apart or choose",
                      action);
        return;
    }
    gh__api_action_t in;
    const char *field_bad = NULL;
    char err[1024];
    gh_err_t e =
        gh__api_parse_action(body, len, &in, &field_bad, err, sizeof(err));
    if (e == GH_ERR_PARSE) {
        gh__api_error(r, MHD_HTTP_BAD_REQUEST, "invalid_json",
                      "the body is not a JSON object: %s", err);
        goto out;
    }
    if (e) {
        gh__api_error(r, MHD_HTTP_BAD_REQUEST, "invalid_field", "%s", err);
        goto out;
    }
    if ((in.value && !choose) || (in.records && !split) ||
        (choose && !in.value) || (split && !in.records)) {
        const char *f = choose || in.value ? "value" : "records";
        gh__api_error(r, MHD_HTTP_BAD_REQUEST, "invalid_field", "%s: %s %s", f,
                      (choose && !in.value) || (split && !in.records)
                          ? "required by"
                          : "not taken by",
                      action);
        goto out;
    }
    gh_steward_t *s = steward_of(a, r);
    if (!s) goto out;
    /* The token is who decided; the holder cannot name someone else. */
    char by[64];
    snprintf(by, sizeof(by), "api token %s", who->id);
    char pa[32] = "", pb[32] = "", field[32] = "";
    if (item && (e = gh_steward_item_persons(s, item, pa, pb, field, err,
                                             sizeof(err)))) {
        action_failed(r, e, err);
        goto out;
    }
    if ((merge || apart) && !pb[0]) {
        gh__api_error(r, MHD_HTTP_CONFLICT, "not_applicable",
                      "item %s is about one person's field: use choose", item);
        goto out;
    }
    if (choose && !field[0]) {
        gh__api_error(r, MHD_HTTP_CONFLICT, "not_applicable",
                      "item %s is not about a field: use merge or keep-apart",
                      item);
        goto out;
    }
    /* What the actions print is for the command line; the API answers
     * from gh_steward_last. */
    FILE *sink = fopen("/dev/null", "w");
    if (!sink) {
        gh__api_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                      "cannot open /dev/null");
        goto out;
    }
    gh_steward_set_token(s, who->id, who->subscriber);
    if (merge)
        e = gh_steward_merge(s, sink, item, pa, pb, by, in.reason, err,
                             sizeof(err));
    else if (apart)
        e = gh_steward_keep_apart(s, sink, item, pa, pb, by, in.reason, err,
                                  sizeof(err));
    else if (choose)
        e = gh_steward_choose(s, sink, item, pa, field, in.value, by, in.reason,
                              err, sizeof(err));
    else
        e = gh_steward_split(s, sink, pid, (const char *const *)in.records,
                             in.nrecords, by, in.reason, err, sizeof(err));
    gh_steward_set_token(s, NULL, NULL);
    fclose(sink);
    if (e == GH_ERR_PG_CONNECT) {
        /* The steward's connection is its own and does not reconnect:
         * made again at the next action. */
        gh_steward_destroy(a->steward);
        a->steward = NULL;
    }
    if (e) {
        action_failed(r, e, err);
        goto out;
    }
    const gh_steward_result_t *res = gh_steward_last(s);
    r->status = MHD_HTTP_OK;
    r->body =
        json_pack("{s:s,s:I,s:o,s:I,s:I,s:s}", "action", action, "decision",
                  (json_int_t)strtoll(res->decision, NULL, 10), "item",
                  item ? json_integer(strtoll(item, NULL, 10)) : json_null(),
                  "persons_rewritten", (json_int_t)res->persons, "ids_retired",
                  (json_int_t)res->retired, "by", by);
out:
    gh__api_action_clear(&in);
}

void gh__api_steward(gh_api_t *a, PGconn *db, struct MHD_Connection *conn,
                     const gh_token_info_t *who, const char *method,
                     const char *url, const char *body, size_t len,
                     gh__api_reply_t *r) {
    int post = !strcmp(method, "POST");
    if (!strcmp(url, ITEMS)) {
        list_items(db, conn, r);
        return;
    }
    if (!strncmp(url, "/v1/persons/", 12)) {
        /* /v1/persons/{id}/split */
        const char *id = url + 12;
        size_t n = strcspn(id, "/");
        char pid[32];
        if (n >= sizeof(pid)) {
            gh__api_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no person %.*s",
                          32, id);
            return;
        }
        snprintf(pid, sizeof(pid), "%.*s", (int)n, id);
        act(a, who, "split", NULL, pid, body, len, r);
        return;
    }
    const char *id = url + sizeof(ITEMS); /* past "/v1/steward/items/" */
    size_t n = strcspn(id, "/");
    if (!is_id(id, n)) {
        gh__api_error(r, MHD_HTTP_NOT_FOUND, "not_found",
                      "no item %.32s: items are numbers", id);
        return;
    }
    char item[24];
    snprintf(item, sizeof(item), "%.*s", (int)n, id);
    if (!post)
        show_item(a, db, who, url, item, r);
    else
        act(a, who, id + n + 1, item, NULL, body, len, r);
}
