/*
 * docs/openapi.json against the running `gridhub api` (issue 13): every
 * documented path and method is served (never "no such endpoint") to
 * each role its x-gridhub-roles names and refused 403 forbidden_role to
 * every other; undocumented paths are "no such endpoint"; a method a path
 * does not document is 405 with Allow naming the documented one; and
 * every JSON answer (200s and errors) validates against the response
 * schema the document gives for its status, a status the operation does
 * not list being a failure. Two departments' sample data through
 * connectors and the hub, as the api suite's (test_token.c).
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "grid_fixture.h"
#include "gridhub/util.h"
#include "harness.h"
#include "http.h"
#include "route.h"
#include "pipeline.h"
#include "stack.h"
#include "token.h"

#define OPENAPI GH_SOURCE_DIR "/docs/openapi.json"

TestSuite(api_openapi, .fini = gf_fini, .timeout = 240);

/* ---- a validator for the subset of OpenAPI 3.0 schemas the document uses */

static json_t *g_doc;

/* The schema `s` points to when it is a {"$ref": "#/..."}, else s. */
static json_t *deref(json_t *s) {
    for (int depth = 0; depth < 16; depth++) {
        const char *r = json_string_value(json_object_get(s, "$ref"));
        if (!r) return s;
        cr_assert(!strncmp(r, "#/", 2), "a $ref outside the document: %s", r);
        json_t *at = g_doc;
        char *path = gh_xstrdup(r + 2), *save = NULL;
        for (char *t = strtok_r(path, "/", &save); t && at;
             t = strtok_r(NULL, "/", &save))
            at = json_object_get(at, t);
        free(path);
        cr_assert_not_null(at, "a $ref to nothing: %s", r);
        s = at;
    }
    cr_assert_fail("$ref loop");
    return NULL;
}

static const char *const KNOWN[] = {
    "type",       "nullable",  "enum",        "required",
    "properties", "items",     "pattern",     "minimum",
    "maximum",    "minLength", "maxLength",   "minItems",
    "maxItems",   "default",   "description", "additionalProperties",
    NULL};

static int type_is(json_t *v, const char *t) {
    if (!strcmp(t, "object")) return json_is_object(v);
    if (!strcmp(t, "array")) return json_is_array(v);
    if (!strcmp(t, "string")) return json_is_string(v);
    if (!strcmp(t, "integer")) return json_is_integer(v);
    if (!strcmp(t, "number")) return json_is_number(v);
    if (!strcmp(t, "boolean")) return json_is_boolean(v);
    cr_assert_fail("type %s is not in the validator's subset", t);
    return 0;
}

/* 0 if `v` conforms to `schema`; else -1 with why in err (naming where). */
static int validate(json_t *schema, json_t *v, const char *where, char *err,
                    size_t errsz) {
    schema = deref(schema);
    cr_assert(json_is_object(schema), "%s: a schema is not an object", where);
    const char *k;
    json_t *kv;
    json_object_foreach(schema, k, kv) {
        int known = 0;
        for (int i = 0; KNOWN[i]; i++)
            known |= !strcmp(k, KNOWN[i]);
        cr_assert(known, "%s: keyword %s is not in the validator's subset",
                  where, k);
    }
    if (json_is_null(v)) {
        if (json_is_true(json_object_get(schema, "nullable"))) return 0;
        snprintf(err, errsz, "%s: null, not nullable", where);
        return -1;
    }
    const char *type = json_string_value(json_object_get(schema, "type"));
    if (type && !type_is(v, type)) {
        char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        snprintf(err, errsz, "%s: not a %s: %.200s", where, type, text);
        free(text);
        return -1;
    }
    json_t *en = json_object_get(schema, "enum");
    if (en) {
        int found = 0;
        size_t i;
        json_t *e;
        json_array_foreach(en, i, e) found |= json_equal(e, v);
        if (!found) {
            char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            snprintf(err, errsz, "%s: %.200s is not in the enum", where, text);
            free(text);
            return -1;
        }
    }
    const char *pat = json_string_value(json_object_get(schema, "pattern"));
    if (pat && json_is_string(v)) {
        regex_t re;
        cr_assert_eq(regcomp(&re, pat, REG_EXTENDED | REG_NOSUB), 0,
                     "%s: pattern %s is not an ERE", where, pat);
        int m = regexec(&re, json_string_value(v), 0, NULL, 0);
        regfree(&re);
        if (m) {
            snprintf(err, errsz, "%s: \"%.200s\" does not match %s", where,
                     json_string_value(v), pat);
            return -1;
        }
    }
    if (json_is_string(v)) {
        json_t *mn = json_object_get(schema, "minLength"),
               *mx = json_object_get(schema, "maxLength");
        size_t n = json_string_length(v);
        if ((mn && n < (size_t)json_integer_value(mn)) ||
            (mx && n > (size_t)json_integer_value(mx))) {
            snprintf(err, errsz, "%s: length %zu out of bounds", where, n);
            return -1;
        }
    }
    if (json_is_number(v)) {
        json_t *mn = json_object_get(schema, "minimum"),
               *mx = json_object_get(schema, "maximum");
        double x = json_number_value(v);
        if ((mn && x < json_number_value(mn)) ||
            (mx && x > json_number_value(mx))) {
            snprintf(err, errsz, "%s: %g out of bounds", where, x);
            return -1;
        }
    }
    if (json_is_array(v)) {
        json_t *mn = json_object_get(schema, "minItems"),
               *mx = json_object_get(schema, "maxItems");
        size_t n = json_array_size(v);
        if ((mn && n < (size_t)json_integer_value(mn)) ||
            (mx && n > (size_t)json_integer_value(mx))) {
            snprintf(err, errsz, "%s: %zu items out of bounds", where, n);
            return -1;
        }
        json_t *items = json_object_get(schema, "items");
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            if (!items) break;
            char w[512];
            snprintf(w, sizeof(w), "%s[%zu]", where, i);
            if (validate(items, e, w, err, errsz)) return -1;
        }
    }
    if (json_is_object(v)) {
        json_t *props = json_object_get(schema, "properties");
        json_t *req = json_object_get(schema, "required");
        size_t i;
        json_t *r;
        json_array_foreach(req, i, r) {
            if (!json_object_get(v, json_string_value(r))) {
                snprintf(err, errsz, "%s: required member %s missing", where,
                         json_string_value(r));
                return -1;
            }
        }
        json_t *addl = json_object_get(schema, "additionalProperties");
        json_object_foreach(v, k, kv) {
            char w[512];
            snprintf(w, sizeof(w), "%s.%s", where, k);
            json_t *ps = json_object_get(props, k);
            if (ps) {
                if (validate(ps, kv, w, err, errsz)) return -1;
            } else if (json_is_false(addl)) {
                snprintf(err, errsz, "%.400s: member not in the schema", w);
                return -1;
            } else if (json_is_object(addl)) {
                if (validate(addl, kv, w, err, errsz)) return -1;
            }
        }
    }
    return 0;
}

/* The JSON schema of `response` (a response object or a $ref to one). */
static json_t *response_schema(json_t *response) {
    json_t *s = json_object_get(
        json_object_get(json_object_get(deref(response), "content"),
                        "application/json"),
        "schema");
    cr_assert_not_null(s, "a response without an application/json schema");
    return s;
}

/* ---- HTTP ---------------------------------------------------------------- */

typedef gh_test_http_t reply_t;

/* `method` url with `token` as bearer and a `body` (may be NULL) sent as
 * `ct` (NULL: application/json). */
static reply_t call_ct(const char *method, const char *url, const char *token,
                       const char *body, const char *ct) {
    gh_test_http_req_t q = {.method = method,
                            .token = token,
                            .body = body,
                            .content_type =
                                body ? (ct ? ct : "application/json") : NULL};
    reply_t r = gh_test_http(url, &q);
    cr_assert_eq(r.rc, CURLE_OK, "%s %s: %s", method, url,
                 curl_easy_strerror(r.rc));
    return r;
}

static reply_t call(const char *method, const char *url, const char *token,
                    const char *body) {
    return call_ct(method, url, token, body, NULL);
}

/* The Allow header of r ("" if none) into out (64 bytes). */
static const char *allow_of(const reply_t *r, char out[64]) {
    if (!gh_test_http_header(r, "Allow", out, 64)) out[0] = '\0';
    return out;
}

/* ---- the fixture (as test_token.c's api suite) ------------------------ */

static const char API_POLICY[] = "subscriber.test.department=test\n"
                                 "subscriber.test.role=tests\n"
                                 "rows.test.person=all\n"
                                 "field.test.person.*=clear\n"
                                 "rows.test.grid=all\n"
                                 "field.test.grid.*=clear\n"
                                 "field.test.grid.staff.person_id=hash\n"
                                 "rows.test.household=all\n"
                                 "field.test.household.*=clear\n"
                                 "rows.test.building=all\n"
                                 "field.test.building.*=clear\n"
                                 "rows.test.event=all\n"
                                 "field.test.event.*=clear\n";

static const char *const ROLES[] = {"subscriber", "grid_worker", "steward",
                                    "security_officer", "leadership"};
#define NROLES 5

/* ---- the server's endpoint table, read from its source ---------------- */

/* The bit of role `name` in ROLES; fails on an unknown one. */
static unsigned role_bit(const char *name) {
    for (int i = 0; i < NROLES; i++)
        if (!strcmp(ROLES[i], name)) return 1u << i;
    cr_assert_fail("unknown role %s", name);
    return 0;
}

/* The roles of a ROUTES row, e.g. ROLE(GH_TOKEN_STEWARD) | RESIDENT_ROLES. */
static unsigned roles_of_expr(const char *expr) {
    unsigned bits = 0;
    char *e = gh_xstrdup(expr), *save = NULL;
    for (char *t = strtok_r(e, "|", &save); t; t = strtok_r(NULL, "|", &save)) {
        t = gh_str_trim(t);
        char name[64];
        if (!strcmp(t, "ALL_ROLES"))
            bits |= (1u << NROLES) - 1;
        else if (!strcmp(t, "RESIDENT_ROLES"))
            bits |= role_bit("subscriber") | role_bit("grid_worker") |
                    role_bit("steward");
        else if (sscanf(t, "ROLE(GH_TOKEN_%63[A-Z_])", name) == 1) {
            for (char *c = name; *c; c++)
                if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
            bits |= role_bit(name);
        } else
            cr_assert_fail("ROUTES: roles \"%s\" not understood", t);
    }
    free(e);
    return bits;
}

typedef struct route {
    char pattern[128];
    int prefix;
    char method[8];
    unsigned roles;
} route_t;

/* ROUTES of hub/api/server/server.c: *n rows (at most max). */
static void read_routes(route_t *rt, int max, int *n) {
    char *src = gh_read_file(GH_SOURCE_DIR "/hub/api/server/server.c", NULL);
    cr_assert_not_null(src, "hub/api/server/server.c");
    char *p = strstr(src, "static const route_t ROUTES[] = {");
    cr_assert_not_null(p, "no ROUTES table in hub/api/server/server.c");
    char *end = strstr(p, "\n};");
    cr_assert_not_null(end);
    *end = '\0';
    p = strchr(p, '{') + 1;
    *n = 0;
    while ((p = strstr(p, "{\""))) {
        char roles[256];
        cr_assert_lt(*n, max);
        route_t *r = &rt[*n];
        cr_assert_eq(sscanf(p,
                            "{\"%127[^\"]\", %d, %*[A-Z_], \"%7[A-Z]\", "
                            "%255[^}]}",
                            r->pattern, &r->prefix, r->method, roles),
                     4, "ROUTES row not understood: %.80s", p);
        r->roles = roles_of_expr(roles);
        (*n)++;
        p++;
    }
    free(src);
    cr_assert_gt(*n, 0, "ROUTES is empty");
}

/* The first route taking url (as server.c's route_of()), or -1. */
static int route_index(const route_t *rt, int n, const char *url) {
    for (int i = 0; i < n; i++)
        if (gh__api_path_matches(rt[i].pattern, rt[i].prefix, url)) return i;
    return -1;
}

/* `path` with each {parameter} replaced by `with`. */
static void concretize(const char *path, const char *with, char *out,
                       size_t outsz) {
    size_t o = 0;
    for (const char *c = path; *c && o + strlen(with) + 1 < outsz; c++) {
        if (*c == '{') {
            o += (size_t)snprintf(out + o, outsz - o, "%s", with);
            c = strchr(c, '}');
            cr_assert_not_null(c, "%s: unclosed {", path);
        } else {
            out[o++] = *c;
        }
    }
    out[o] = '\0';
}

/* The document's roles of an operation, as bits. */
static unsigned roles_of_op(json_t *op) {
    unsigned bits = 0;
    size_t i;
    json_t *rn;
    json_array_foreach(json_object_get(op, "x-gridhub-roles"), i, rn) {
        bits |= role_bit(json_string_value(rn));
    }
    return bits;
}

/* Every row of ROUTES is documented (some path the row serves, with its
 * method and exactly its roles), and every documented operation is served
 * by the row the server would pick, with that method and those roles. */
static void check_routes_documented(json_t *paths) {
    route_t rt[64];
    int n = 0;
    read_routes(rt, 64, &n);
    int *covered = gh_xcalloc((size_t)n, sizeof(int));
    const char *path;
    json_t *item;
    json_object_foreach(paths, path, item) {
        char concrete[512];
        concretize(path, "1", concrete, sizeof(concrete));
        int r = route_index(rt, n, concrete);
        cr_assert_geq(r, 0, "%s is documented; ROUTES has no row for it", path);
        const char *m;
        json_t *op;
        json_object_foreach(item, m, op) {
            cr_assert_eq(strcasecmp(m, rt[r].method), 0,
                         "%s %s is documented; ROUTES serves %s there", m, path,
                         rt[r].method);
            cr_assert_eq(roles_of_op(op), rt[r].roles,
                         "%s %s: x-gridhub-roles differ from ROUTES' (%s)", m,
                         path, rt[r].pattern);
            covered[r] = 1;
        }
    }
    for (int i = 0; i < n; i++)
        cr_assert(covered[i],
                  "ROUTES serves %s %s%s; docs/openapi.json has no path for it",
                  rt[i].method, rt[i].pattern, rt[i].prefix ? "..." : "");
    free(covered);
}

/* ---- the checks ------------------------------------------------------- */

/* `r`, the answer to `method path` of operation `op`, is JSON and
 * conforms to the schema `op` documents for its status. */
static void conforms(json_t *op, const char *method, const char *path,
                     const reply_t *r) {
    char *text = r->body ? json_dumps(r->body, JSON_COMPACT) : NULL;
    cr_assert_not_null(r->body, "%s %s: %ld, not JSON", method, path,
                       r->status);
    char st[8];
    snprintf(st, sizeof(st), "%ld", r->status);
    json_t *resp = json_object_get(json_object_get(op, "responses"), st);
    cr_assert_not_null(resp,
                       "%s %s: status %ld is not documented for the "
                       "operation: %.300s",
                       method, path, r->status, text);
    char err[1024], where[256];
    snprintf(where, sizeof(where), "%s %s %ld", method, path, r->status);
    cr_assert_eq(
        validate(response_schema(resp), r->body, where, err, sizeof(err)), 0,
        "%s; the answer: %.600s", err, text);
    free(text);
}

Test(api_openapi, the_document_and_the_server_agree) {
    json_error_t je;
    g_doc = json_load_file(OPENAPI, 0, &je);
    cr_assert_not_null(g_doc, "%s: %s (line %d)", OPENAPI, je.text, je.line);
    const char *ver = json_string_value(json_object_get(g_doc, "openapi"));
    cr_assert(ver && !strncmp(ver, "3.0.", 4), "OpenAPI 3.0.x: %s",
              ver ? ver : "(none)");
    json_t *paths = json_object_get(g_doc, "paths");
    cr_assert(json_is_object(paths) && json_object_size(paths) > 0,
              "a paths object");
    check_routes_documented(paths);

    gh_test_stack_t *s = gf_two_departments(
        "zongzhi", "gongan",
        "gridhub.zongzhi.grid,gridhub.zongzhi.person,gridhub.zongzhi."
        "grid_staff,gridhub.zongzhi.building,gridhub.zongzhi.grid_event,"
        "gridhub.gongan.building,gridhub.gongan.person,gridhub.gongan."
        "residence_registration,gridhub.gongan.household,gridhub.gongan."
        "household_member",
        NULL);
    gh_test_stack_set_policy(s, API_POLICY);
    gf_wait_grids_published(s);
    gf_wait_hub("王丽 placed by her building",
                "SELECT a.grid_code FROM person_attr a JOIN source_person sp "
                "USING (person_id) WHERE sp.department = 'gongan' AND "
                "sp.source_key = 'hjrk/R43130200010002'",
                "LP-DT-01");
    gf_wait_hub("her household",
                "SELECT count(*) FROM person_attr a JOIN entity_view v ON "
                "v.entity = 'household' AND v.id = a.household_id WHERE "
                "a.person_id = (SELECT person_id FROM source_person WHERE "
                "department = 'gongan' AND source_key = "
                "'hjrk/R43130200010002')",
                "1");
    gf_wait_hub("an event derived",
                "SELECT count(*) > 0 FROM entity_view WHERE entity = 'event'",
                "t");
    char *pid =
        gh_test_scalar(gf_hub, "SELECT person_id FROM source_person WHERE "
                               "department = 'gongan' AND source_key = "
                               "'hjrk/R43130200010002'");
    char *hh = gh_test_scalar(gf_hub,
                              "SELECT household_id FROM person_attr "
                              "WHERE person_id = '%s'",
                              pid);
    char *building = gh_test_scalar(
        gf_hub, "SELECT coalesce((SELECT id FROM entity_view WHERE entity = "
                "'building' ORDER BY id LIMIT 1), 'B-none')");
    char *event = gh_test_scalar(
        gf_hub, "SELECT coalesce((SELECT id FROM entity_view WHERE entity = "
                "'event' ORDER BY id LIMIT 1), 'E-none')");
    /* An item to read (the sample data makes none): obsolete, so the
     * actions on it are refused 409 and the test changes nothing. */
    char *item = gh_test_scalar(
        gf_hub,
        "INSERT INTO steward_item (kind, status, person_a, person_b, score, "
        "evidence) VALUES ('shared_id', 'obsolete', '%s', '%s', 0.5, "
        "'{\"note\": \"api_openapi\"}') RETURNING item_id",
        pid, pid);

    char *x[4];
    gh_test_stack_hub_props(s, x);
    char *tok[NROLES];
    for (int i = 0; i < NROLES; i++)
        tok[i] = gh_test_stack_token(s, "test", ROLES[i],
                                     i == 1 ? "LP-DT-01" : NULL);

    char *urlfile = gh_xasprintf("%s/api.url", s->dir);
    char *alog = gh_xasprintf("%s/api.log", s->dir);
    char *ci = gh_test_conninfo(s->hub_db);
    char *cix = gh_xasprintf("database.conninfo=%s", ci);
    char *oax = gh_xasprintf("api.openapi.file=%s", OPENAPI);
    const char *argv[] = {GH_BINARY,
                          "api",
                          "-X",
                          cix,
                          "-X",
                          x[0],
                          "-X",
                          x[1],
                          "-X",
                          x[2],
                          "-X",
                          x[3],
                          "-X",
                          oax,
                          "--api-listen",
                          "127.0.0.1:0",
                          "--api-listen-file",
                          urlfile,
                          NULL};
    gh_test_proc_t *api = gh_test_spawn(argv, alog);
    char *base = gh_test_listen_url(urlfile, alog, 30000);

    /* What each path parameter is given: real records where there are. */
    const char *const values[][2] = {
        {"/v1/grids/{code}", "LP-DT-01"}, {"/v1/households/{id}", hh},
        {"/v1/buildings/{id}", building}, {"/v1/events/{id}", event},
        {"/v1/persons/{id}/split", pid},  {"/v1/steward/items/{id}", item},
        {"/v1/feed/{entity}", "person"}};
    static const char *const STEWARD_ACTIONS = "/v1/steward/items/{id}/";
    static const char *const METHODS[] = {"get",    "put",   "post",
                                          "delete", "patch", NULL};

    int operations = 0, answers = 0;
    const char *path;
    json_t *item_;
    json_object_foreach(paths, path, item_) {
        /* The URL: parameters replaced by their values. */
        char concrete[512];
        const char *brace = strchr(path, '{');
        const char *val = NULL;
        if (brace) {
            for (size_t i = 0; i < sizeof(values) / sizeof(*values); i++)
                if (!strcmp(values[i][0], path)) val = values[i][1];
            if (!strncmp(path, STEWARD_ACTIONS, strlen(STEWARD_ACTIONS)))
                val = item;
            cr_assert_not_null(val, "%s: no value for its parameter", path);
            const char *end = strchr(brace, '}');
            snprintf(concrete, sizeof(concrete), "%.*s%s%s",
                     (int)(brace - path), path, val, end + 1);
        } else {
            snprintf(concrete, sizeof(concrete), "%s", path);
        }
        const char *query =
            !strcmp(path, "/v1/persons") ? "?id_number=43130219830715022x"
            : !strcmp(path, "/v1/steward/items") ? "?status=obsolete"
                                                 : "";
        char url[1024];
        snprintf(url, sizeof(url), "%s%s%s", base, concrete, query);

        const char *documented = NULL;
        for (int m = 0; METHODS[m]; m++) {
            json_t *op = json_object_get(item_, METHODS[m]);
            if (!op) continue;
            cr_assert_null(documented, "%s: one method per path here", path);
            documented = METHODS[m];
            operations++;
            char method[8];
            snprintf(method, sizeof(method), "%s", METHODS[m]);
            for (char *c = method; *c; c++)
                *c = (char)(*c - 'a' + 'A');
            /* Its path parameters conform to their schemas. */
            size_t i;
            json_t *prm;
            json_array_foreach(json_object_get(op, "parameters"), i, prm) {
                if (strcmp(json_string_value(json_object_get(prm, "in")),
                           "path"))
                    continue;
                json_t *v = json_string(val);
                char err[512];
                cr_assert_eq(validate(json_object_get(prm, "schema"), v, path,
                                      err, sizeof(err)),
                             0, "the value given: %s", err);
                json_decref(v);
            }
            /* A body the document takes. */
            const char *body = NULL;
            json_t *rb = json_object_get(op, "requestBody");
            if (rb) {
                body = strstr(path, "/split")
                           ? "{\"reason\":\"openapi test\",\"records\":"
                             "[\"nobody:none\"]}"
                       : strstr(path, "/choose")
                           ? "{\"reason\":\"openapi test\",\"value\":\"x\"}"
                           : "{\"reason\":\"openapi test\"}";
                json_t *b = json_loads(body, 0, NULL);
                char err[512];
                cr_assert_eq(
                    validate(response_schema(rb), b, path, err, sizeof(err)), 0,
                    "the body sent: %s", err);
                json_decref(b);
            }
            json_t *roles = json_object_get(op, "x-gridhub-roles");
            cr_assert(json_is_array(roles) && json_array_size(roles),
                      "%s %s: no x-gridhub-roles", method, path);
            for (int r = 0; r < NROLES; r++) {
                int allowed = 0;
                json_t *rn;
                json_array_foreach(roles, i, rn) allowed |=
                    !strcmp(json_string_value(rn), ROLES[r]);
                reply_t rep = call(method, url, tok[r], body);
                answers++;
                cr_log_info("%s %s (%s): %ld %s", method, concrete, ROLES[r],
                            rep.status,
                            gh_test_http_code(&rep) ? gh_test_http_code(&rep)
                                                    : "");
                conforms(op, method, path, &rep);
                if (allowed) {
                    cr_assert(!(rep.status == 404 &&
                                strstr(gh_test_http_message(&rep),
                                       "no such endpoint")),
                              "%s %s (%s): the server does not serve it: %s",
                              method, concrete, ROLES[r],
                              gh_test_http_message(&rep));
                    cr_assert_neq(rep.status, 403, "%s %s (%s): %s", method,
                                  concrete, ROLES[r],
                                  gh_test_http_message(&rep));
                    cr_assert_neq(rep.status, 405, "%s %s (%s): %s", method,
                                  concrete, ROLES[r],
                                  gh_test_http_message(&rep));
                } else {
                    cr_assert_eq(rep.status, 403, "%s %s (%s): %ld", method,
                                 concrete, ROLES[r], rep.status);
                    cr_assert_str_eq(gh_test_http_code(&rep), "forbidden_role");
                }
                gh_test_http_clear(&rep);
            }
        }
        cr_assert_not_null(documented, "%s: no operation", path);
        /* Another method: 405 with Allow naming the documented one. */
        const char *other = strcmp(documented, "get") ? "GET" : "DELETE";
        reply_t rep = call(other, url, tok[2], NULL);
        cr_assert_eq(rep.status, 405, "%s %s: %ld", other, concrete,
                     rep.status);
        char allow[64];
        cr_assert_eq(strcasecmp(allow_of(&rep, allow), documented), 0,
                     "%s %s: Allow: %s, documented %s", other, concrete, allow,
                     documented);
        char err[1024];
        cr_assert_eq(
            validate(response_schema(json_object_get(
                         json_object_get(json_object_get(g_doc, "components"),
                                         "responses"),
                         "Error405")),
                     rep.body, "405", err, sizeof(err)),
            0, "%s", err);
        gh_test_http_clear(&rep);
    }
    cr_assert_geq(operations, 10, "the endpoints documented");

    /* Errors the loop above does not provoke, each valid against its
     * operation's schema for the status. */
    char *item_path = gh_xasprintf("/v1/steward/items/%s/merge", item);
    char *big = gh_xmalloc(17 * 1024 + 32);
    snprintf(big, 32, "{\"reason\":\"");
    memset(big + strlen(big), 'a', 17 * 1024);
    strcpy(big + 17 * 1024, "\"}");
    const struct {
        const char *doc, *method, *path, *token, *body, *ct;
        long status;
        const char *code;
    } errs[] = {
        {"/v1/persons", "get", "/v1/persons", tok[0], NULL, NULL, 400,
         "missing_parameter"},
        {"/v1/persons", "get", "/v1/persons?phone=12", tok[0], NULL, NULL, 400,
         "invalid_phone"},
        {"/v1/steward/items", "get", "/v1/steward/items?limit=0", tok[2], NULL,
         NULL, 400, "invalid_parameter"},
        {"/v1/audit/entries", "get", "/v1/audit/entries?token=zz", tok[3], NULL,
         NULL, 400, "invalid_parameter"},
        {"/v1/whoami", "get", "/v1/whoami", "gh_nonsense", NULL, NULL, 401,
         "token_refused"},
        {"/v1/feed/{entity}", "get", "/v1/feed/person?cursor=v1.grid.0", tok[0],
         NULL, NULL, 400, "bad_cursor"},
        {"/v1/feed/{entity}", "get", "/v1/feed/nosuch", tok[0], NULL, NULL, 404,
         "not_found"},
        {"/v1/steward/items/{id}/merge", "post", item_path, tok[2], "{", NULL,
         400, "invalid_json"},
        {"/v1/steward/items/{id}/merge", "post", item_path, tok[2],
         "{\"reason\":\"x\"}", "text/plain", 415, "unsupported_media_type"},
        {"/v1/steward/items/{id}/merge", "post", item_path, tok[2], big, NULL,
         413, "body_too_large"},
    };
    for (size_t i = 0; i < sizeof(errs) / sizeof(*errs); i++) {
        char u[512];
        snprintf(u, sizeof(u), "%s%s", base, errs[i].path);
        char method[8];
        snprintf(method, sizeof(method), "%s",
                 !strcmp(errs[i].method, "get") ? "GET" : "POST");
        reply_t rep =
            call_ct(method, u, errs[i].token, errs[i].body, errs[i].ct);
        cr_assert_eq(rep.status, errs[i].status, "%s %s: %ld %s", method,
                     errs[i].path, rep.status, gh_test_http_message(&rep));
        cr_assert_str_eq(gh_test_http_code(&rep) ? gh_test_http_code(&rep) : "",
                         errs[i].code, "%s %s", method, errs[i].path);
        conforms(json_object_get(json_object_get(paths, errs[i].doc),
                                 errs[i].method),
                 method, errs[i].doc, &rep);
        gh_test_http_clear(&rep);
    }
    free(big);
    free(item_path);

    /* Paths the document does not have are none the server serves. */
    static const char *const undocumented[] = {
        "/v1/nope", "/v1/persons/extra/x", "/v1/whoami/x", "/v1/grids/a/b",
        "/v2/whoami"};
    for (size_t i = 0; i < sizeof(undocumented) / sizeof(*undocumented); i++) {
        cr_assert_null(json_object_get(paths, undocumented[i]));
        char url[512];
        snprintf(url, sizeof(url), "%s%s", base, undocumented[i]);
        reply_t rep = call("GET", url, tok[2], NULL);
        cr_assert_eq(rep.status, 404, "%s: %ld", undocumented[i], rep.status);
        cr_assert_str_eq(gh_test_http_code(&rep), "not_found");
        cr_assert(strstr(gh_test_http_message(&rep), "no such endpoint"),
                  "%s: %s", undocumented[i], gh_test_http_message(&rep));
        char err[1024];
        cr_assert_eq(
            validate(response_schema(json_object_get(
                         json_object_get(json_object_get(g_doc, "components"),
                                         "responses"),
                         "Error404")),
                     rep.body, undocumented[i], err, sizeof(err)),
            0, "%s", err);
        gh_test_http_clear(&rep);
    }

    /* The server serves the document itself, unchanged. */
    char url[512];
    snprintf(url, sizeof(url), "%s/v1/openapi.json", base);
    reply_t rep = call("GET", url, tok[4], NULL);
    cr_assert_eq(rep.status, 200);
    cr_assert(json_equal(rep.body, g_doc), "/v1/openapi.json is the file");
    gh_test_http_clear(&rep);
    cr_log_info("%d operations, %d answers checked", operations, answers);

    cr_assert_eq(gh_test_stop(api, 10000), 0, "api stops on SIGTERM");
    gh_test_proc_free(api);
    for (int i = 0; i < 4; i++)
        free(x[i]);
    for (int i = 0; i < NROLES; i++)
        free(tok[i]);
    free(pid);
    free(hh);
    free(building);
    free(event);
    free(item);
    free(base);
    free(ci);
    free(cix);
    free(oax);
    free(alog);
    free(urlfile);
    json_decref(g_doc);
    g_doc = NULL;
    gh_test_stop_clean(s);
}
