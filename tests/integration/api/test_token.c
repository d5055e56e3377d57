/*
 * `gridhub token` and gh_token_verify against a real hub database: a
 * token is shown once and stored hashed, verifies as what it was made
 * for, and is refused with the reason told apart once its secret is wrong,
 * it is revoked or it has expired; tokens for a subscriber the policy does
 * not declare, or for a role with the wrong grid scope, are not made.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "grid_fixture.h"
#include "gridhub/util.h"
#include "harness.h"
#include "http.h"
#include "pipeline.h"
#include "stack.h"
#include "token.h"

static char *g_dir, *g_db, *g_conf, *g_log;
static PGconn *g_pg;

static void setup(void) {
    g_dir = gh_test_tmpdir();
    g_db = gh_test_create_db("token");
    g_conf = gh_test_api_conf(g_dir, g_db);
    g_log = gh_xasprintf("%s/cli.log", g_dir);
}

static void teardown(void) {
    if (g_pg) PQfinish(g_pg);
    gh_test_drop_db(g_db);
    gh_test_rmtree(g_dir);
    free(g_dir);
    free(g_db);
    free(g_conf);
    free(g_log);
}

TestSuite(token, .init = setup, .fini = teardown, .timeout = 60);

/* Runs `gridhub token ARGS... -c conf`; its exit status, its output in
 * *out (caller frees). */
static int cli(char **out, const char *a1, const char *a2, const char *a3,
               const char *a4, const char *a5, const char *a6) {
    remove(g_log);
    const char *argv[12] = {GH_BINARY, "token", "-c", g_conf};
    int n = 4;
    const char *a[6] = {a1, a2, a3, a4, a5, a6};
    for (int i = 0; i < 6 && a[i]; i++)
        argv[n++] = a[i];
    argv[n] = NULL;
    int rc = gh_test_run(argv, g_log, 30000);
    *out = gh_test_file_tail(g_log, 8192);
    return rc;
}

/* The token in `gridhub token create`'s output (its last line). */
static void refused(const char *tok, const char *why) {
    gh_token_info_t info;
    char err[512];
    cr_assert_eq(gh_token_verify(g_pg, tok, &info, err, sizeof(err)),
                 GH_ERR_NOT_FOUND, "accepted: %s", tok);
    cr_assert(strstr(err, why), "\"%s\" lacks \"%s\"", err, why);
    if (strlen(tok) > 12)
        cr_assert_null(strstr(err, tok + 12), "the secret in: %s", err);
}

Test(token, create_verify_revoke_expire) {
    char *out = NULL;
    int rc = cli(&out, "create", "--token-subscriber", "zongzhi",
                 "--token-role", "grid_worker", NULL);
    cr_assert_eq(rc, 2, "a grid worker without grids: exit %d: %s", rc, out);
    cr_assert(strstr(out, "needs at least one grid"), "%s", out);
    free(out);
    rc = cli(&out, "create", "--token-subscriber", "nobody", NULL, NULL, NULL);
    cr_assert_eq(rc, 2, "an unknown subscriber: exit %d: %s", rc, out);
    cr_assert(strstr(out, "declares no subscriber \"nobody\""), "%s", out);
    free(out);

    rc = cli(&out, "create", "--token-subscriber", "zongzhi", "--token-role",
             "grid_worker", "--token-grids=LP-DT-01,LP-DT-02");
    cr_assert_eq(rc, 0, "exit %d: %s", rc, out);
    char *tok = gh_test_token_of(out);
    free(out);

    g_pg = gh_test_pg_connect(g_db);
    /* Only the hash is kept. */
    cr_assert_eq(gh_test_count(g_pg,
                               "SELECT count(*) FROM api_token WHERE "
                               "secret_sha256 = sha256(convert_to('%s', "
                               "'UTF8')) AND position('%s' in "
                               "row(api_token.*)::text) = 0",
                               tok + 12, tok + 12),
                 1, "the table holds the secret's SHA-256, not the secret");

    gh_token_info_t info;
    char err[512];
    cr_assert_eq(gh_token_verify(g_pg, tok, &info, err, sizeof(err)), GH_OK,
                 "%s", err);
    cr_assert_str_eq(info.subscriber, "zongzhi");
    cr_assert_eq(info.role, GH_TOKEN_GRID_WORKER);
    cr_assert_str_eq(info.grids, "{LP-DT-01,LP-DT-02}");
    char id[GH_TOKEN_ID_LEN + 1];
    snprintf(id, sizeof(id), "%s", info.id);
    gh_token_info_clear(&info);
    cr_assert_eq(gh_test_count(g_pg,
                               "SELECT count(*) FROM api_token WHERE id = "
                               "'%s' AND last_used_at IS NOT NULL",
                               id),
                 1, "its use is recorded");

    char *wrong = gh_xstrdup(tok);
    wrong[GH_TOKEN_LEN - 1] = wrong[GH_TOKEN_LEN - 1] == 'A' ? 'B' : 'A';
    refused(wrong, "wrong secret");
    free(wrong);
    refused("gh_ffffffff_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde",
            "no such token");
    refused("not-a-token", "begin with gh_");

    rc = cli(&out, "revoke", id, NULL, NULL, NULL, NULL);
    cr_assert_eq(rc, 2, "revoke without a reason: exit %d: %s", rc, out);
    free(out);
    rc = cli(&out, "revoke", id, "--token-reason", "moved to another grid",
             NULL, NULL);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, out);
    free(out);
    refused(tok, "revoked");
    rc = cli(&out, "revoke", id, "--token-reason", "again", NULL, NULL);
    cr_assert_eq(rc, 2, "revoked twice: exit %d: %s", rc, out);
    free(out);

    /* A department subscriber's token, then past its expiry. */
    rc = cli(&out, "create", "--token-subscriber", "zongzhi", "--token-note",
             "governance centre web system", NULL);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, out);
    char *tok2 = gh_test_token_of(out);
    free(out);
    cr_assert_eq(gh_token_verify(g_pg, tok2, &info, err, sizeof(err)), GH_OK,
                 "%s", err);
    cr_assert_eq(info.role, GH_TOKEN_SUBSCRIBER);
    cr_assert_str_eq(info.grids, "{}");
    gh_token_info_clear(&info);
    gh_test_exec(g_pg,
                 "UPDATE api_token SET expires_at = now() - interval "
                 "'1 second' WHERE id = '%.*s'",
                 GH_TOKEN_ID_LEN, tok2 + 3);
    refused(tok2, "expired");

    /* Each creation and the revocation are in the audit log, with what
     * the token is bound to and never its secret. */
    cr_assert_eq(gh_test_count(g_pg,
                               "SELECT count(*) FROM audit_log WHERE kind = "
                               "'token' AND entry::jsonb ->> 'action' = "
                               "'create'"),
                 2, "two tokens created");
    cr_assert_eq(gh_test_count(g_pg,
                               "SELECT count(*) FROM audit_log WHERE kind = "
                               "'token' AND entry::jsonb @> '{\"action\": "
                               "\"revoke\", \"token\": \"%s\", "
                               "\"reason\": \"moved to another grid\"}'",
                               id),
                 1, "the revocation with its reason");
    cr_assert_eq(gh_test_count(g_pg,
                               "SELECT count(*) FROM audit_log WHERE kind = "
                               "'token' AND entry::jsonb @> '{\"action\": "
                               "\"create\", \"role\": \"grid_worker\", "
                               "\"grids\": [\"LP-DT-01\", "
                               "\"LP-DT-02\"]}' AND entry::jsonb ? "
                               "'db_role'"),
                 1, "the grid worker's token with its grids");
    cr_assert_eq(gh_test_count(g_pg,
                               "SELECT count(*) FROM audit_log WHERE "
                               "position('%s' in entry) > 0 OR "
                               "position('%s' in entry) > 0",
                               tok + 12, tok2 + 12),
                 0, "no secret in the audit log");

    rc = cli(&out, "list", NULL, NULL, NULL, NULL, NULL);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, out);
    cr_assert(strstr(out, "revoked"), "%s", out);
    cr_assert(strstr(out, "moved to another grid"), "%s", out);
    cr_assert(strstr(out, "expired"), "%s", out);
    cr_assert(strstr(out, "LP-DT-01,LP-DT-02"), "%s", out);
    cr_assert(strstr(out, "governance centre web system"), "%s", out);
    cr_assert_null(strstr(out, tok + 12), "list shows no secret: %s", out);
    free(out);
    free(tok);
    free(tok2);
}

/* ---- gridhub api ------------------------------------------------------- */

static size_t collect(char *p, size_t size, size_t n, void *opaque) {
    gh_buf_append(opaque, p, size * n);
    return size * n;
}

/* `method` url with `token` as bearer (NULL: none); the status, the body
 * parsed in *body (new reference; NULL if not JSON). */
static long request(const char *method, const char *url, const char *token,
                    json_t **body) {
    gh_buf_t b = {0};
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char auth[256];
    if (token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    cr_assert_eq(rc, CURLE_OK, "%s %s: %s", method, url,
                 curl_easy_strerror(rc));
    char *text = gh_buf_detach(&b);
    *body = json_loads(text ? text : "", 0, NULL);
    free(text);
    return status;
}

/* An answer of the concurrent lookups: 200 with `name` (ctx) as the
 * first person's name. */
static int named(long status, json_t *body, void *ctx) {
    const char *got = json_string_value(json_object_get(
        json_object_get(json_array_get(json_object_get(body, "persons"), 0),
                        "person"),
        "name"));
    return status == 200 && got && !strcmp(got, ctx);
}

static const char *code_of(json_t *body) {
    return json_string_value(
        json_object_get(json_object_get(body, "error"), "code"));
}

static int file_exists(void *path) {
    return access(path, R_OK) == 0;
}

/* Spawns `gridhub api` (argv) and waits for the base URL it writes to
 * urlfile: *base (caller frees). */
static gh_test_proc_t *start_api(const char *const *argv, const char *urlfile,
                                 const char *alog, char **base) {
    gh_test_proc_t *api = gh_test_spawn(argv, alog);
    *base = gh_test_listen_url(urlfile, alog, 30000);
    return api;
}

Test(token, api_whoami_and_refusals) {
    char *out = NULL;
    int rc = cli(&out, "create", "--token-subscriber", "zongzhi",
                 "--token-role", "grid_worker", "--token-grids=LP-DT-01");
    cr_assert_eq(rc, 0, "exit %d: %s", rc, out);
    char *tok = gh_test_token_of(out);
    free(out);

    char *urlfile = gh_xasprintf("%s/api.url", g_dir);
    char *alog = gh_xasprintf("%s/api.log", g_dir);
    const char *argv[] = {GH_BINARY,
                          "api",
                          "-c",
                          g_conf,
                          "--api-listen",
                          "127.0.0.1:0",
                          "--api-listen-file",
                          urlfile,
                          NULL};
    char *base = NULL;
    gh_test_proc_t *api = start_api(argv, urlfile, alog, &base);
    char url[512];
    snprintf(url, sizeof(url), "%s/v1/whoami", base);

    json_t *body = NULL;
    long st = request("GET", url, tok, &body);
    cr_assert_eq(st, 200, "whoami: %ld", st);
    cr_assert_str_eq(json_string_value(json_object_get(body, "subscriber")),
                     "zongzhi");
    cr_assert_str_eq(json_string_value(json_object_get(body, "role")),
                     "grid_worker");
    cr_assert_str_eq(
        json_string_value(json_array_get(json_object_get(body, "grids"), 0)),
        "LP-DT-01");
    cr_assert_eq(json_array_size(json_object_get(body, "grids")), 1);
    json_decref(body);

    st = request("GET", url, NULL, &body);
    cr_assert_eq(st, 401);
    cr_assert_str_eq(code_of(body), "unauthenticated");
    json_decref(body);
    st = request("GET", url, "gh_nonsense", &body);
    cr_assert_eq(st, 401);
    cr_assert_str_eq(code_of(body), "token_refused");
    json_decref(body);
    char *wrong = gh_xstrdup(tok);
    wrong[GH_TOKEN_LEN - 1] = wrong[GH_TOKEN_LEN - 1] == 'A' ? 'B' : 'A';
    st = request("GET", url, wrong, &body);
    cr_assert_eq(st, 401);
    cr_assert_str_eq(code_of(body), "token_refused");
    json_decref(body);
    free(wrong);

    snprintf(url, sizeof(url), "%s/v1/nothing", base);
    st = request("GET", url, tok, &body);
    cr_assert_eq(st, 404);
    cr_assert_str_eq(code_of(body), "not_found");
    json_decref(body);
    snprintf(url, sizeof(url), "%s/v1/whoami", base);
    st = request("DELETE", url, tok, &body);
    cr_assert_eq(st, 405);
    cr_assert_str_eq(code_of(body), "method_not_allowed");
    json_decref(body);

    char id[GH_TOKEN_ID_LEN + 1];
    snprintf(id, sizeof(id), "%.*s", GH_TOKEN_ID_LEN, tok + 3);
    rc = cli(&out, "revoke", id, "--token-reason", "test", NULL, NULL);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, out);
    free(out);
    st = request("GET", url, tok, &body);
    cr_assert_eq(st, 401, "a revoked token: %ld", st);
    cr_assert_str_eq(code_of(body), "token_refused");
    json_decref(body);

    /* Each refusal is in the audit log, the reason told apart, never the
     * secret. */
    g_pg = gh_test_pg_connect(g_db);
    cr_assert_eq(gh_test_count(g_pg,
                               "SELECT count(*) FROM audit_log WHERE kind = "
                               "'refused' AND entry::jsonb ->> 'command' = "
                               "'api'"),
                 4, "four refusals audited");
    cr_assert_eq(gh_test_count(g_pg,
                               "SELECT count(*) FROM audit_log WHERE kind = "
                               "'refused' AND entry::jsonb ->> 'token' = '%s' "
                               "AND entry::jsonb ->> 'why' LIKE '%%revoked%%'",
                               id),
                 1, "the revoked token's refusal names it");
    cr_assert_eq(gh_test_count(g_pg, "SELECT count(*) FROM audit_log WHERE "
                                     "entry::jsonb ->> 'why' LIKE '%%wrong "
                                     "secret%%'"),
                 1, "the wrong secret told apart");
    cr_assert_eq(gh_test_count(g_pg,
                               "SELECT count(*) FROM audit_log WHERE "
                               "position('%s' in entry) > 0",
                               tok + 12),
                 0, "no secret in the audit log");

    cr_assert_eq(gh_test_stop(api, 10000), 0, "api stops on SIGTERM");
    gh_test_proc_free(api);
    cr_assert_not(file_exists(urlfile), "api.listen.file removed at exit");
    free(base);
    free(alog);
    free(urlfile);
    free(tok);
}

/* ---- find a resident by ID number ----------------------------------------
 *
 * 综治's and 公安's real files through connectors and the hub; then
 * `gridhub api` on the hub database: 王丽, found by her ID typed with a
 * lowercase check character, as each token's subscriber receives her (in
 * clear for one, masked and without her phone for the other), a grid
 * worker finding her only in her own grid, bad and unknown IDs, and every
 * read and miss in the audit log.
 */

TestSuite(api, .fini = gf_fini, .timeout = 240);

static const char API_POLICY[] = "subscriber.test.department=test\n"
                                 "subscriber.test.role=tests\n"
                                 "rows.test.person=all\n"
                                 "field.test.person.*=clear\n"
                                 "subscriber.masked.department=masked\n"
                                 "subscriber.masked.role=tests\n"
                                 "rows.masked.person=all\n"
                                 "field.masked.person.name=clear\n"
                                 "field.masked.person.id_number=mask 6 4\n"
                                 "field.masked.person.grid_code=clear\n"
                                 "rows.test.grid=all\n"
                                 "field.test.grid.*=clear\n"
                                 "field.test.grid.staff.person_id=hash\n"
                                 "rows.test.household=all\n"
                                 "field.test.household.*=clear\n";

/* The grid in an answer: its path from the city down, and its staff
 * with their roles; 李娜 and 张伟, residents the hub knows, with the phones
 * their records hold. */
static void check_grid_and_staff(json_t *g, const char *grid) {
    cr_assert(json_is_object(g), "her grid is in the answer");
    cr_assert_str_eq(json_string_value(json_object_get(g, "grid_code")), grid);
    json_t *path = json_object_get(g, "path");
    cr_assert_gt(json_array_size(path), 1, "a path from the top");
    cr_assert_str_eq(
        json_string_value(json_array_get(path, json_array_size(path) - 1)),
        grid);
    json_t *staff = json_object_get(g, "staff");
    cr_assert_gt(json_array_size(staff), 0, "the grid's staff");
    int phones = 0;
    size_t i;
    json_t *m;
    json_array_foreach(staff, i, m) {
        cr_assert_not_null(json_string_value(json_object_get(m, "role")));
        const char *ph = json_string_value(json_object_get(m, "phone"));
        const char *nm = json_string_value(json_object_get(m, "name"));
        if (ph && nm && !strcmp(nm, "张伟"))
            phones += !strcmp(ph, "13807381001");
        if (ph && nm && !strcmp(nm, "李娜"))
            phones += !strcmp(ph, "13807381002");
    }
    cr_assert_eq(phones, 2, "张伟's and 李娜's phones: %s",
                 json_dumps(staff, JSON_COMPACT));
}

Test(api, find_a_resident_by_id_number) {
    gh_test_stack_t *s = gf_two_departments(
        "zongzhi", "gongan",
        "gridhub.zongzhi.grid,gridhub.zongzhi.person,gridhub.zongzhi."
        "grid_staff,gridhub.zongzhi.building,gridhub.gongan.building,"
        "gridhub.gongan.person,gridhub.gongan.residence_registration,"
        "gridhub.gongan.household,gridhub.gongan.household_member",
        NULL);
    gh_test_stack_set_policy(s, API_POLICY);
    gf_wait_grids_published(s);
    gf_wait_hub("王丽 resolved",
                "SELECT count(*) FROM source_person WHERE department = "
                "'gongan' AND source_key = 'hjrk/R43130200010002' AND "
                "person_id IS NOT NULL",
                "1");
    char *pid =
        gh_test_scalar(gf_hub, "SELECT person_id FROM source_person WHERE "
                               "department = 'gongan' AND source_key = "
                               "'hjrk/R43130200010002'");
    gf_wait_hub("王丽 placed by her building",
                "SELECT a.grid_code FROM person_attr a JOIN source_person sp "
                "USING (person_id) WHERE sp.department = 'gongan' AND "
                "sp.source_key = 'hjrk/R43130200010002'",
                "LP-DT-01");
    char *grid = gh_test_scalar(
        gf_hub,
        "SELECT coalesce((SELECT grid_code FROM person_attr WHERE person_id "
        "= '%s'), (SELECT grid_code FROM person WHERE person_id = '%s'))",
        pid, pid);
    /* Her grid's staff who are residents the hub knows (李娜, 张伟) and
     * her household, derived; her grid is her building's (LP-DT-01). */
    char *wq = gh_xasprintf("SELECT count(*) FROM entity_view v, jsonb_array_"
                            "elements(v.body -> 'staff') m WHERE v.entity = "
                            "'grid' AND v.id = '%s' AND m ->> 'person_id' IS "
                            "NOT NULL",
                            grid);
    gf_wait_hub("her grid's staff known as persons", wq, "2");
    free(wq);
    gf_wait_hub("her household",
                "SELECT count(*) FROM person_attr a JOIN entity_view v ON "
                "v.entity = 'household' AND v.id = a.household_id WHERE "
                "a.person_id = (SELECT person_id FROM source_person WHERE "
                "department = 'gongan' AND source_key = "
                "'hjrk/R43130200010002')",
                "1");
    char *other = gh_test_scalar(gf_hub,
                                 "SELECT code FROM grid WHERE level = 'GRID' "
                                 "AND NOT ('%s' = ANY (path) OR code = '%s') "
                                 "ORDER BY code LIMIT 1",
                                 grid, grid);
    char *x[4];
    gh_test_stack_hub_props(s, x);
    char *t_test = gh_test_stack_token(s, "test", "subscriber", NULL);
    char *t_masked = gh_test_stack_token(s, "masked", "subscriber", NULL);
    char *t_here = gh_test_stack_token(s, "test", "grid_worker", grid);
    char *t_there = gh_test_stack_token(s, "test", "grid_worker", other);

    char *urlfile = gh_xasprintf("%s/api.url", s->dir);
    char *alog = gh_xasprintf("%s/api.log", s->dir);
    char *ci = gh_test_conninfo(s->hub_db);
    char *cix = gh_xasprintf("database.conninfo=%s", ci);
    const char *argv[] = {
        GH_BINARY, "api", "-X",           cix,           "-X",
        x[0],      "-X",  x[1],           "-X",          x[2],
        "-X",      x[3],  "--api-listen", "127.0.0.1:0", "--api-listen-file",
        urlfile,   NULL};
    char *base = NULL;
    gh_test_proc_t *api = start_api(argv, urlfile, alog, &base);
    char url[512];
    /* Her ID with a lowercase check character: the normalizer's form. */
    snprintf(url, sizeof(url), "%s/v1/persons?id_number=43130219830715022x",
             base);

    json_t *body = NULL;
    long st = request("GET", url, t_test, &body);
    cr_assert_eq(st, 200, "lookup: %ld", st);
    cr_assert_eq(json_array_size(json_object_get(body, "persons")), 1);
    json_t *a0 = json_array_get(json_object_get(body, "persons"), 0);
    json_t *p0 = json_object_get(a0, "person");
    cr_assert_str_eq(json_string_value(json_object_get(p0, "name")), "王丽");
    cr_assert_str_eq(json_string_value(json_object_get(p0, "id_number")),
                     "43130219830715022X");
    cr_assert_str_eq(json_string_value(json_object_get(p0, "phone")),
                     "13807381011");
    cr_assert_str_eq(json_string_value(json_object_get(p0, "grid_code")), grid);
    /* Her grid with its path and its staff, their phones from their own
     * records as this subscriber may see them. */
    check_grid_and_staff(json_object_get(a0, "grid"), grid);
    json_t *hh = json_object_get(a0, "household");
    cr_assert(json_is_object(hh), "her household: %s",
              json_dumps(a0, JSON_COMPACT));
    cr_assert_gt(json_array_size(json_object_get(hh, "members")), 0);
    json_decref(body);

    st = request("GET", url, t_masked, &body);
    cr_assert_eq(st, 200, "masked lookup: %ld", st);
    a0 = json_array_get(json_object_get(body, "persons"), 0);
    p0 = json_object_get(a0, "person");
    cr_assert_str_eq(json_string_value(json_object_get(p0, "id_number")),
                     "431302********022X");
    cr_assert_null(json_object_get(p0, "phone"), "no phone for masked");
    cr_assert(json_is_null(json_object_get(a0, "grid")),
              "no grid rule: no grid");
    cr_assert(json_is_null(json_object_get(a0, "household")), "nor household");
    json_decref(body);

    /* By phone, and by name and birth date: 王麗 (traditional) and 汪丽
     * (a homophone) find her, a day/month swap too. */
    static const char *const other_forms[] = {
        "phone=138-0738-1011", "phone=%2B86%2013807381011",
        "name=%E7%8E%8B%E9%BA%97&birth_date=1983-07-15",
        "name=%E6%B1%AA%E4%B8%BD&birth_date=1983-07-15",
        "name=%E7%8E%8B%E4%B8%BD&birth_date=1983-15-07"};
    for (size_t i = 0; i < sizeof(other_forms) / sizeof(*other_forms); i++) {
        char u[512];
        snprintf(u, sizeof(u), "%s/v1/persons?%s", base, other_forms[i]);
        st = request("GET", u, t_test, &body);
        if (i == 4) {
            /* Not a date: refused, not guessed. */
            cr_assert_eq(st, 400, "%s: %ld", other_forms[i], st);
            cr_assert_str_eq(code_of(body), "invalid_birth_date");
            json_decref(body);
            continue;
        }
        cr_assert_eq(st, 200, "%s: %ld", other_forms[i], st);
        a0 = json_array_get(json_object_get(body, "persons"), 0);
        cr_assert_str_eq(json_string_value(json_object_get(
                             json_object_get(a0, "person"), "name")),
                         "王丽", "%s", other_forms[i]);
        json_decref(body);
    }
    static const char *const refused[][2] = {
        {"phone=12", "invalid_phone"},
        {"name=%E7%8E%8B%E4%B8%BD", "invalid_birth_date"},
        {"birth_date=1983-07-15", "missing_parameter"},
        {"phone=13807381011&id_number=43130219830715022X", "ambiguous_query"},
        {"name=%21%21&birth_date=1983-07-15", "invalid_name"}};
    for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
        char u[512];
        snprintf(u, sizeof(u), "%s/v1/persons?%s", base, refused[i][0]);
        st = request("GET", u, t_test, &body);
        cr_assert_eq(st, 400, "%s: %ld", refused[i][0], st);
        cr_assert_str_eq(code_of(body), refused[i][1], "%s", refused[i][0]);
        json_decref(body);
    }

    /* Her grid alone, for this subscriber and no other. */
    snprintf(url, sizeof(url), "%s/v1/grids/%s", base, grid);
    st = request("GET", url, t_test, &body);
    cr_assert_eq(st, 200, "the grid: %ld", st);
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(body, "grid"), "grid_code")),
                     grid);
    json_decref(body);
    st = request("GET", url, t_masked, &body);
    cr_assert_eq(st, 404, "no grid rule: %ld", st);
    json_decref(body);
    st = request("GET", url, t_there, &body);
    cr_assert_eq(st, 404, "another grid's worker: %ld", st);
    json_decref(body);
    st = request("GET", url, t_here, &body);
    cr_assert_eq(st, 200, "the grid's own worker: %ld", st);
    json_decref(body);
    snprintf(url, sizeof(url), "%s/v1/persons?id_number=43130219830715022x",
             base);

    st = request("GET", url, t_here, &body);
    cr_assert_eq(st, 200, "the grid worker of %s: %ld", grid, st);
    json_decref(body);
    st = request("GET", url, t_there, &body);
    cr_assert_eq(st, 404, "the grid worker of %s: %ld", other, st);
    cr_assert_str_eq(code_of(body), "not_found");
    json_decref(body);

    snprintf(url, sizeof(url), "%s/v1/persons?id_number=12345", base);
    st = request("GET", url, t_test, &body);
    cr_assert_eq(st, 400);
    cr_assert_str_eq(code_of(body), "invalid_id_number");
    json_decref(body);
    snprintf(url, sizeof(url), "%s/v1/persons?id_number=110101199001011237",
             base);
    st = request("GET", url, t_test, &body);
    cr_assert_eq(st, 404, "an ID nobody holds: %ld", st);
    json_decref(body);
    snprintf(url, sizeof(url), "%s/v1/persons", base);
    st = request("GET", url, t_test, &body);
    cr_assert_eq(st, 400);
    cr_assert_str_eq(code_of(body), "missing_parameter");
    json_decref(body);

    /* Forty at once: every thread's worker answers the same. */
    snprintf(url, sizeof(url), "%s/v1/persons?id_number=43130219830715022x",
             base);
    cr_assert_eq(gh_test_http_concurrent(url, t_test, 40, named, "王丽"), 40,
                 "forty concurrent lookups");

    /* Three reads of her by ID, with the token and its subscriber (and
     * the forty); two misses with why. */
    cr_assert_eq(gh_test_count(gf_hub,
                               "SELECT count(*) FROM audit_log WHERE kind = "
                               "'read' AND entry::jsonb ->> 'command' = 'api' "
                               "AND entry::jsonb ->> 'what' = '%s' AND "
                               "entry::jsonb ->> 'by' = 'id_number'",
                               pid),
                 43, "the reads of 王丽 by ID audited");
    cr_assert_eq(gh_test_count(gf_hub,
                               "SELECT count(*) FROM audit_log WHERE kind = "
                               "'read' AND entry::jsonb ->> 'what' = '%s' AND "
                               "entry::jsonb ->> 'by' <> 'id_number'",
                               pid),
                 4, "four reads by phone or name audited");
    cr_assert_eq(gh_test_count(gf_hub,
                               "SELECT count(*) FROM audit_log WHERE kind = "
                               "'read' AND entry::jsonb ->> 'what' = '%s' AND "
                               "entry::jsonb ->> 'staff' IS NOT NULL",
                               pid),
                 46, "the staff disclosed with her grid audited");
    cr_assert_eq(gh_test_count(gf_hub,
                               "SELECT count(*) FROM audit_log WHERE kind = "
                               "'read' AND entity = 'grid'"),
                 2, "the grid reads audited");
    cr_assert_eq(gh_test_count(gf_hub,
                               "SELECT count(*) FROM audit_log WHERE kind = "
                               "'refused' AND entry::jsonb ->> 'why' LIKE "
                               "'outside%%' AND entry::jsonb ->> 'role' = "
                               "'grid_worker'"),
                 2, "the other grid's worker refused her and her grid");
    cr_assert_eq(gh_test_count(gf_hub,
                               "SELECT count(*) FROM audit_log WHERE kind = "
                               "'refused' AND entry::jsonb ->> 'why' = 'no "
                               "resident with this ID number'"),
                 1, "the unknown ID audited");
    cr_assert_eq(gh_test_stop(api, 10000), 0, "api stops on SIGTERM");
    gh_test_proc_free(api);
    for (int i = 0; i < 4; i++)
        free(x[i]);
    free(t_test);
    free(t_masked);
    free(t_here);
    free(t_there);
    free(pid);
    free(grid);
    free(other);
    free(base);
    free(ci);
    free(cix);
    free(alog);
    free(urlfile);
    gh_test_stop_clean(s);
}
