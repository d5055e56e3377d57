/*
 * The steward queue and the audit log over `gridhub api` (issue 13): the
 * roles each endpoint takes (403 forbidden_role, audited), a steward
 * deciding an item through the same code as `gridhub steward` with the
 * token named in the decision and the audit log, the rules for request
 * bodies, and a security officer reading and verifying the audit log, then
 * finding it tampered with. Real pipeline, real HTTP, real PostgreSQL.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "body.h"
#include "gridhub/util.h"
#include "harness.h"
#include "http.h"
#include "pipeline.h"
#include "stack.h"
#include "token.h"

#define DDL GH_TEST_DATA_DIR "/dept/schema.sql"
#define MAPPING GH_TEST_DATA_DIR "/dept/mapping.properties"
#define SETTLE_MS 120000

static gh_test_stack_t *g_stack;
static PGconn *g_hub;
static gh_test_proc_t *g_api;

static void fini(void) {
    gh_test_proc_free(g_api);
    g_api = NULL;
    PQfinish(g_hub);
    g_hub = NULL;
    gh_test_stack_free(g_stack);
    g_stack = NULL;
}

TestSuite(api_steward, .timeout = 300, .fini = fini);

/* ---- gh__api_parse_action, no server ------------------------------------ */

static gh_err_t parse(const char *body, gh__api_action_t *a, char *err,
                      const char **field) {
    return gh__api_parse_action(body, strlen(body), a, field, err, 256);
}

Test(api_steward, parse_action) {
    gh__api_action_t a;
    char err[256];
    const char *f;
    cr_assert_eq(
        parse("{\"reason\":\"同一人\",\"value\":\"LP-DT-03\"}", &a, err, &f),
        GH_OK, "%s", err);
    cr_assert_str_eq(a.reason, "同一人");
    cr_assert_str_eq(a.value, "LP-DT-03");
    gh__api_action_clear(&a);

    cr_assert_eq(parse("{\"reason\":\"x\",\"value\":null}", &a, err, &f), GH_OK,
                 "%s", err);
    cr_assert_str_eq(a.value, "", "null clears the field");
    gh__api_action_clear(&a);

    cr_assert_eq(parse("{\"reason\":\"x\",\"records\":[\"test:M2\","
                       "\"gongan:hjrk/R1\"]}",
                       &a, err, &f),
                 GH_OK, "%s", err);
    cr_assert_eq(a.nrecords, 2);
    cr_assert_str_eq(a.records[1], "gongan:hjrk/R1");
    gh__api_action_clear(&a);

    /* Not JSON: the position is named. */
    cr_assert_eq(parse("{\"reason\": ", &a, err, &f), GH_ERR_PARSE);
    cr_assert(strstr(err, "line 1, column"), "%s", err);
    gh__api_action_clear(&a);
    cr_assert_eq(parse("[\"reason\"]", &a, err, &f), GH_ERR_PARSE);
    gh__api_action_clear(&a);
    cr_assert_eq(parse("", &a, err, &f), GH_ERR_PARSE);
    gh__api_action_clear(&a);
    /* A second reason could hide behind the first. */
    cr_assert_eq(parse("{\"reason\":\"a\",\"reason\":\"b\"}", &a, err, &f),
                 GH_ERR_PARSE, "duplicates are refused");
    cr_assert(strstr(err, "duplicate"), "%s", err);
    gh__api_action_clear(&a);

    /* Members: the field is named. */
    cr_assert_eq(parse("{\"value\":\"x\"}", &a, err, &f), GH_ERR_INVALID_ARG);
    cr_assert_str_eq(f, "reason");
    gh__api_action_clear(&a);
    cr_assert_eq(parse("{\"reason\":\"\"}", &a, err, &f), GH_ERR_INVALID_ARG);
    cr_assert_str_eq(f, "reason");
    gh__api_action_clear(&a);
    cr_assert_eq(parse("{\"reason\":\"a\\nforged line\"}", &a, err, &f),
                 GH_ERR_INVALID_ARG, "a reason is one line");
    gh__api_action_clear(&a);
    cr_assert_eq(parse("{\"reason\":7}", &a, err, &f), GH_ERR_INVALID_ARG);
    cr_assert_str_eq(f, "reason");
    gh__api_action_clear(&a);
    cr_assert_eq(parse("{\"reason\":\"x\",\"value\":3}", &a, err, &f),
                 GH_ERR_INVALID_ARG);
    cr_assert_str_eq(f, "value");
    gh__api_action_clear(&a);
    cr_assert_eq(
        parse("{\"reason\":\"x\",\"records\":[\"nocolon\"]}", &a, err, &f),
        GH_ERR_INVALID_ARG);
    cr_assert_str_eq(f, "records");
    gh__api_action_clear(&a);
    cr_assert_eq(parse("{\"reason\":\"x\",\"records\":[]}", &a, err, &f),
                 GH_ERR_INVALID_ARG);
    gh__api_action_clear(&a);
    cr_assert_eq(
        parse("{\"reason\":\"x\",\"by\":\"someone else\"}", &a, err, &f),
        GH_ERR_INVALID_ARG, "the actor is the token, not the body");
    cr_assert(strstr(err, "by: no such member"), "%s", err);
    gh__api_action_clear(&a);
    char big[1200];
    memset(big, 'x', sizeof(big));
    snprintf(big, sizeof(big), "{\"reason\":\"%01100d\"}", 0);
    cr_assert_eq(parse(big, &a, err, &f), GH_ERR_INVALID_ARG,
                 "a reason of 1100 bytes");
    gh__api_action_clear(&a);
}

/* ---- over HTTP ----------------------------------------------------------- */

typedef gh_test_http_t reply_t;

/* Set: the next bodies are sent chunked, without Content-Length. */
static int g_chunked;

/* `method` url with `token`, and `body` (NULL: none) sent as
 * `content_type`. */
static reply_t call(const char *method, const char *url, const char *token,
                    const char *content_type, const char *body) {
    gh_test_http_req_t q = {.method = method,
                            .token = token,
                            .content_type = content_type,
                            .body = body,
                            .chunked = g_chunked,
                            .timeout_ms = 60000};
    reply_t r = gh_test_http(url, &q);
    cr_assert_eq(r.rc, CURLE_OK, "%s %s: %s", method, url,
                 curl_easy_strerror(r.rc));
    return r;
}

/* Asserts `method path` with `token` (and a JSON `body`) is answered
 * `status` with error `code`. */
static void expect_error(const char *base, const char *method, const char *path,
                         const char *token, const char *ct, const char *body,
                         long status, const char *code) {
    char *url = gh_xasprintf("%s%s", base, path);
    reply_t r = call(method, url, token, ct, body);
    cr_assert_eq(r.status, status, "%s %s: %ld, expected %ld: %s", method, path,
                 r.status, status,
                 r.body ? json_dumps(r.body, JSON_COMPACT) : "(not JSON)");
    cr_assert_str_eq(gh_test_http_code(&r) ? gh_test_http_code(&r) : "", code,
                     "%s %s: %s", method, path, gh_test_http_message(&r));
    gh_test_http_clear(&r);
    free(url);
}

static int found(long status, json_t *body, void *ctx) {
    (void)ctx;
    return status == 200 && json_array_size(json_object_get(body, "persons"));
}

/* The -X arguments of the stack's hub (the API and tokens take them). */
static void stack_args(gh_test_stack_t *s, char **x) {
    char *ci = gh_test_conninfo(s->hub_db);
    gh_test_stack_hub_props(s, x);
    x[4] = gh_xasprintf("database.conninfo=%s", ci);
    free(ci);
}

Test(api_steward, queue_roles_bodies_and_audit) {
    g_stack = gh_test_stack_new(DDL, MAPPING);
    gh_test_stack_t *s = g_stack;
    char slot[64];
    snprintf(slot, sizeof(slot), "slot.name=gh_test_apist_%d", (int)getpid());
    const char *const copts[] = {slot, NULL};
    gh_test_stack_start_connector(s, copts);
    gh_test_stack_start_hub(s, NULL);
    g_hub = gh_test_pg_connect(s->hub_db);
    gh_test_wait_streaming(s);
    /* One ID typed on two people: an open shared_id item. */
    char idn[19];
    gh_test_make_id18(idn, 1975, 5, 6, 33);
    gh_test_insert_row(s->dept, "S1", "李秀兰", idn, 2, "1975-05-06",
                       "13600000001", "大塘小区1栋101", "G1");
    gh_test_insert_row(s->dept, "S2", "赵志强", idn, 1, "2001-11-12",
                       "13600000009", "童家社区9栋909", "G2");
    gh_test_wait_settled(s, g_hub, SETTLE_MS);
    char *item = gh_test_scalar(g_hub, "SELECT item_id FROM steward_item "
                                       "WHERE kind = 'shared_id' AND status = "
                                       "'open'");
    cr_assert_not_null(item, "no open shared_id item");

    char *x[5];
    stack_args(s, x);
    char sid[9], uid[9], oid[9];
    char *t_steward = gh_test_stack_token(s, "test", "steward", NULL);
    char *t_sub = gh_test_stack_token(s, "test", "subscriber", NULL);
    char *t_sec = gh_test_stack_token(s, "test", "security_officer", NULL);
    /* The tokens' ids, as the audit log names them (gh_<id>_<secret>). */
    snprintf(sid, sizeof(sid), "%.*s", GH_TOKEN_ID_LEN, t_steward + 3);
    snprintf(uid, sizeof(uid), "%.*s", GH_TOKEN_ID_LEN, t_sub + 3);
    snprintf(oid, sizeof(oid), "%.*s", GH_TOKEN_ID_LEN, t_sec + 3);

    char *key = gh_xasprintf("%s/audit.key", s->dir);
    char *pub = gh_xasprintf("%s/audit.pub", s->dir);
    const char *kg[] = {"keygen", "--key", key, "--public-key", pub, NULL};
    char *out = NULL;
    int rc = gh_test_stack_cli(s, "audit", NULL, kg, &out);
    cr_assert_eq(rc, 0, "audit keygen: %s", out);
    free(out);

    char *urlfile = gh_xasprintf("%s/api.url", s->dir);
    char *alog = gh_xasprintf("%s/api.log", s->dir);
    const char *argv[] = {GH_BINARY,
                          "api",
                          "-X",
                          x[4],
                          "-X",
                          x[0],
                          "-X",
                          x[1],
                          "-X",
                          x[2],
                          "-X",
                          x[3],
                          "--api-audit-public-key",
                          pub,
                          "--api-listen",
                          "127.0.0.1:0",
                          "--api-listen-file",
                          urlfile,
                          NULL};
    g_api = gh_test_spawn(argv, alog);
    char *base = gh_test_listen_url(urlfile, alog, 30000);
    char url[512];

    /* The queue, as the steward sees it. */
    snprintf(url, sizeof(url), "%s/v1/steward/items?status=open", base);
    reply_t r = call("GET", url, t_steward, NULL, NULL);
    cr_assert_eq(r.status, 200, "list: %ld %s", r.status,
                 gh_test_http_message(&r));
    cr_assert_eq(json_integer_value(json_object_get(r.body, "total")), 1);
    json_t *it = json_array_get(json_object_get(r.body, "items"), 0);
    cr_assert_eq(json_integer_value(json_object_get(it, "item_id")),
                 strtoll(item, NULL, 10));
    cr_assert_str_eq(json_string_value(json_object_get(it, "kind")),
                     "shared_id");
    gh_test_http_clear(&r);
    expect_error(base, "GET", "/v1/steward/items?status=nonsense", t_steward,
                 NULL, NULL, 400, "invalid_parameter");

    /* One item with its evidence (personal data: the read is audited). */
    snprintf(url, sizeof(url), "%s/v1/steward/items/%s", base, item);
    r = call("GET", url, t_steward, NULL, NULL);
    cr_assert_eq(r.status, 200, "show: %ld %s", r.status,
                 gh_test_http_message(&r));
    json_t *ev = json_object_get(json_object_get(r.body, "item"), "evidence");
    cr_assert(json_is_object(ev), "evidence: %s",
              json_dumps(r.body, JSON_COMPACT));
    char *evs = json_dumps(ev, JSON_COMPACT);
    cr_assert(strstr(evs, "李秀兰") && strstr(evs, "赵志强"),
              "both records in the evidence, opened: %s", evs);
    free(evs);
    gh_test_http_clear(&r);
    cr_assert_eq(gh_test_count(g_hub,
                               "SELECT count(*) FROM audit_log WHERE kind = "
                               "'read' AND entity = 'steward_item' AND "
                               "entry::jsonb ->> 'token' = '%s'",
                               sid),
                 1, "the steward's read of the item is audited");
    expect_error(base, "GET", "/v1/steward/items/999999", t_steward, NULL, NULL,
                 404, "not_found");

    /* Roles: a subscriber reads neither the queue nor the audit log; a
     * steward not the audit log; a security officer not residents. */
    expect_error(base, "GET", "/v1/steward/items", t_sub, NULL, NULL, 403,
                 "forbidden_role");
    expect_error(base, "GET", "/v1/audit/entries", t_sub, NULL, NULL, 403,
                 "forbidden_role");
    expect_error(base, "GET", "/v1/audit/verify", t_steward, NULL, NULL, 403,
                 "forbidden_role");
    expect_error(base, "GET", "/v1/persons?phone=13600000001", t_sec, NULL,
                 NULL, 403, "forbidden_role");
    snprintf(url, sizeof(url), "/v1/steward/items/%s/keep-apart", item);
    expect_error(base, "POST", url, t_sub, "application/json",
                 "{\"reason\":\"x\"}", 403, "forbidden_role");
    cr_assert_eq(gh_test_count(g_hub,
                               "SELECT count(*) FROM audit_log WHERE kind = "
                               "'refused' AND entry::jsonb ->> 'why' LIKE "
                               "'role %% may not call this endpoint' AND "
                               "entry::jsonb ->> 'token' IN ('%s', '%s', "
                               "'%s')",
                               sid, uid, oid),
                 5, "each refusal by role is audited with its token");

    /* Bodies. */
    expect_error(base, "POST", url, t_steward, "text/plain",
                 "{\"reason\":\"x\"}", 415, "unsupported_media_type");
    expect_error(base, "POST", url, t_steward, "application/json",
                 "{\"reason\": \"x\",", 400, "invalid_json");
    expect_error(base, "POST", url, t_steward, "application/json",
                 "{\"reason\":\"x\",\"by\":\"someone\"}", 400, "invalid_field");
    expect_error(base, "POST", url, t_steward, "application/json",
                 "{\"reason\":\"x\",\"value\":\"v\"}", 400, "invalid_field");
    expect_error(base, "POST", url, t_steward, "application/json", "{}", 400,
                 "invalid_field");
    size_t bn = GH_API_BODY_MAX + 100;
    char *huge = gh_xcalloc(bn + 1, 1);
    memset(huge, ' ', bn);
    memcpy(huge, "{\"reason\":\"", 11);
    memcpy(huge + bn - 3, "\"}\n", 3);
    expect_error(base, "POST", url, t_steward, "application/json", huge, 413,
                 "body_too_large");
    /* Without a length to refuse at the headers: read up to the limit,
     * the rest dropped, still 413. */
    g_chunked = 1;
    expect_error(base, "POST", url, t_steward, "application/json", huge, 413,
                 "body_too_large");
    g_chunked = 0;
    free(huge);
    char *bogus = gh_xasprintf("/v1/steward/items/%s/approve", item);
    expect_error(base, "POST", bogus, t_steward, "application/json",
                 "{\"reason\":\"x\"}", 404, "unknown_action");
    free(bogus);
    char *full = gh_xasprintf("%s%s", base, url);
    r = call("GET", full, t_steward, NULL, NULL);
    cr_assert_eq(r.status, 405);
    cr_assert(strcasestr(r.headers, "\nAllow: POST"), "%s", r.headers);
    gh_test_http_clear(&r);
    cr_assert_eq(gh_test_count(g_hub, "SELECT count(*) FROM steward_decision"),
                 0, "no refused body made a decision");

    /* The decision, through the same code as the command line. */
    r = call("POST", full, t_steward, "application/json; charset=utf-8",
             "{\"reason\":\"两个人, 身份证号录错\"}");
    cr_assert_eq(r.status, 200, "keep-apart: %ld %s", r.status,
                 gh_test_http_message(&r));
    cr_assert_str_eq(json_string_value(json_object_get(r.body, "action")),
                     "keep-apart");
    json_int_t dec = json_integer_value(json_object_get(r.body, "decision"));
    cr_assert_gt(dec, 0);
    gh_test_http_clear(&r);
    cr_assert_eq(gh_test_count(g_hub,
                               "SELECT count(*) FROM steward_item WHERE "
                               "item_id = %s AND status = 'resolved' AND "
                               "decision_id = %lld",
                               item, (long long)dec),
                 1, "the item is resolved by the decision");
    cr_assert_eq(gh_test_count(g_hub,
                               "SELECT count(*) FROM steward_decision WHERE "
                               "decision_id = %lld AND action = 'keep-apart' "
                               "AND decided_by = 'api token %s'",
                               (long long)dec, sid),
                 1, "the token is who decided");
    cr_assert_gt(gh_test_count(g_hub,
                               "SELECT count(*) FROM steward_constraint WHERE "
                               "kind = 'apart' AND decision_id = %lld",
                               (long long)dec),
                 0, "the records are kept apart from now on");
    cr_assert_eq(gh_test_count(g_hub,
                               "SELECT count(*) FROM audit_log WHERE kind = "
                               "'steward' AND entry::jsonb ->> 'token' = '%s' "
                               "AND (entry::jsonb ->> 'decision')::bigint = "
                               "%lld AND entry::jsonb ->> 'db_role' IS NOT "
                               "NULL",
                               sid, (long long)dec),
                 1, "the decision's audit entry names the token");
    /* An item decided is not decided again. */
    r = call("POST", full, t_steward, "application/json",
             "{\"reason\":\"again\"}");
    cr_assert_eq(r.status, 409, "again: %ld", r.status);
    cr_assert_str_eq(gh_test_http_code(&r), "not_applicable");
    gh_test_http_clear(&r);
    free(full);
    /* A split maps onto gh_steward_split: S1's person has one record, so
     * nothing would be left of it. */
    char *p1 = gh_test_scalar(g_hub, "SELECT person_id FROM source_person "
                                     "WHERE source_key = 'S1'");
    char *sp = gh_xasprintf("/v1/persons/%s/split", p1);
    expect_error(base, "POST", sp, t_steward, "application/json",
                 "{\"reason\":\"x\",\"records\":[\"test:S1\"]}", 409,
                 "not_applicable");
    expect_error(base, "POST", sp, t_steward, "application/json",
                 "{\"reason\":\"x\"}", 400, "invalid_field");
    free(sp);
    free(p1);

    /* The security officer reads the log, paged, filtered. */
    snprintf(url, sizeof(url), "%s/v1/audit/entries?kind=steward&token=%s",
             base, sid);
    r = call("GET", url, t_sec, NULL, NULL);
    cr_assert_eq(r.status, 200, "entries: %ld %s", r.status,
                 gh_test_http_message(&r));
    json_t *es = json_object_get(r.body, "entries");
    cr_assert_eq(json_array_size(es), 1, "%s",
                 json_dumps(r.body, JSON_COMPACT));
    cr_assert_str_eq(
        json_string_value(json_object_get(json_array_get(es, 0), "action")),
        "keep-apart");
    gh_test_http_clear(&r);
    snprintf(url, sizeof(url), "%s/v1/audit/entries?limit=2", base);
    r = call("GET", url, t_sec, NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(json_array_size(json_object_get(r.body, "entries")), 2);
    json_int_t next =
        json_integer_value(json_object_get(r.body, "next_since_seq"));
    json_int_t seq1 = json_integer_value(json_object_get(
        json_array_get(json_object_get(r.body, "entries"), 1), "seq"));
    cr_assert_eq(next, seq1, "the next page starts after the last entry");
    gh_test_http_clear(&r);
    snprintf(url, sizeof(url), "%s/v1/audit/entries?limit=2&since_seq=%lld",
             base, (long long)next);
    r = call("GET", url, t_sec, NULL, NULL);
    cr_assert_gt(
        json_integer_value(json_object_get(
            json_array_get(json_object_get(r.body, "entries"), 0), "seq")),
        next);
    gh_test_http_clear(&r);
    expect_error(base, "GET", "/v1/audit/entries?since_seq=-4", t_sec, NULL,
                 NULL, 400, "invalid_parameter");
    cr_assert_eq(gh_test_count(g_hub,
                               "SELECT count(*) FROM audit_log WHERE kind = "
                               "'read' AND entity = 'audit' AND entry::jsonb "
                               "->> 'token' = '%s'",
                               oid),
                 3, "reading the audit log is audited");

    /* Reads committed in groups by the audit writer (many at once share
     * a transaction) keep the log whole: each is there, and the
     * verification below covers them. */
    snprintf(url, sizeof(url), "%s/v1/persons?phone=13600000001", base);
    cr_assert_eq(gh_test_http_concurrent(url, t_sub, 32, found, NULL), 32,
                 "thirty-two lookups at once");
    cr_assert_eq(gh_test_count(g_hub,
                               "SELECT count(*) FROM audit_log WHERE kind = "
                               "'read' AND entity = 'person' AND entry::jsonb "
                               "->> 'token' = '%s'",
                               uid),
                 32, "each of them audited");

    /* Verification: intact, then tampered with. */
    snprintf(url, sizeof(url), "%s/v1/audit/verify", base);
    r = call("GET", url, t_sec, NULL, NULL);
    cr_assert_eq(r.status, 200, "verify: %ld %s", r.status,
                 gh_test_http_message(&r));
    cr_assert(json_is_true(json_object_get(r.body, "ok")), "%s",
              json_dumps(r.body, JSON_COMPACT));
    cr_assert_gt(json_integer_value(json_object_get(r.body, "entries")), 5);
    cr_assert_eq(strlen(json_string_value(json_object_get(r.body, "root"))),
                 64);
    cr_assert_eq(json_array_size(json_object_get(r.body, "problems")), 0);
    gh_test_http_clear(&r);
    gh_test_exec(g_hub,
                 "SET session_replication_role = replica; UPDATE audit_log "
                 "SET entry = replace(entry, 'keep-apart', 'merge') WHERE "
                 "kind = 'steward'; SET session_replication_role = origin");
    r = call("GET", url, t_sec, NULL, NULL);
    cr_assert_eq(r.status, 200, "verify: %ld %s", r.status,
                 gh_test_http_message(&r));
    cr_assert(json_is_false(json_object_get(r.body, "ok")),
              "a rewritten decision goes unnoticed: %s",
              json_dumps(r.body, JSON_COMPACT));
    const char *p0 = json_string_value(
        json_array_get(json_object_get(r.body, "problems"), 0));
    cr_assert(p0 && strstr(p0, "modified"), "%s", p0 ? p0 : "(none)");
    gh_test_http_clear(&r);

    cr_assert_eq(gh_test_stop(g_api, 10000), 0, "api stops on SIGTERM");
    for (int i = 0; i < 5; i++)
        free(x[i]);
    free(base);
    free(urlfile);
    free(alog);
    free(key);
    free(pub);
    free(t_steward);
    free(t_sub);
    free(t_sec);
    free(item);
}
