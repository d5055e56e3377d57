/* `gridhub token`: API tokens bound to a subscriber of the policy and a
 * role (hub/api/auth/token.h, docs/api.md) — created (shown once), listed,
 * revoked. */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "gridhub/avro.h"
#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "gridhub/util.h"
#include "hub.h"
#include "migrate.h"
#include "policy.h"
#include "token.h"

static const gh_conf_prop_t props[] = {
    {"args", GH_CONF_LIST, NULL, 1, 0, 0, NULL, NULL,
     "The verb and its operand, given as bare words: create | list | "
     "revoke ID."},
    {"token.subscriber", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "create: the policy's subscriber whose rules filter what the token "
     "reads."},
    {"token.role", GH_CONF_STR, "subscriber", 0, 0, 0, NULL, NULL,
     "create: subscriber, grid_worker, steward, security_officer or "
     "leadership."},
    {"token.grids", GH_CONF_LIST, NULL, 0, 0, 0, NULL, NULL,
     "create: the grid codes a grid_worker token may see (required for "
     "that role, refused for the others)."},
    {"token.expires.days", GH_CONF_INT, "365", 0, 0, 36500, NULL, NULL,
     "create: days until the token expires (0: never)."},
    {"token.note", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "create: what the token is for, shown by list."},
    {"token.reason", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "revoke: why (required)."},
    GH_CONF_INCLUDE_TABLE(gh_hub_props),
    GH_CONF_END};

/* The subscriber must be one the policy declares: a token for a name the
 * policy does not know could read nothing, or (after a policy change)
 * something unintended. */
static gh_err_t check_subscriber(const gh_conf_t *conf, const char *sub,
                                 char *err, size_t errsz) {
    gh_schemas_t *set = NULL;
    gh_policy_t *p = NULL;
    gh_err_t e = gh_schemas_load_dir(&set, gh_schemas_dir(conf), err, errsz);
    if (!e)
        e = gh_policy_load_file(gh_conf_get(conf, "policy.file"), set, &p, err,
                                errsz);
    if (!e && gh_policy_subscriber_find(p, sub) < 0)
        e = gh_seterr(err, errsz, GH_ERR_CONFIG,
                      "%s declares no subscriber \"%s\"",
                      gh_conf_get(conf, "policy.file"), sub);
    gh_policy_destroy(p);
    gh_schemas_destroy(set);
    return e;
}

/* Who runs the command, for the audit log (the database role is recorded
 * too, and that one no flag can set). */
static const char *os_user(void) {
    struct passwd *pw = getpwuid(getuid());
    return pw ? pw->pw_name : NULL;
}

static gh_err_t create(const gh_conf_t *conf, PGconn *db, char *err,
                       size_t errsz) {
    const char *sub = gh_conf_get(conf, "token.subscriber");
    int role = gh_token_role_parse(gh_conf_get(conf, "token.role"));
    if (!sub)
        return gh_seterr(err, errsz, GH_ERR_CONFIG,
                         "create needs --token-subscriber NAME");
    if (role < 0)
        return gh_seterr(err, errsz, GH_ERR_CONFIG,
                         "token.role=%s: expected subscriber, grid_worker, "
                         "steward, security_officer or leadership",
                         gh_conf_get(conf, "token.role"));
    gh_err_t e = check_subscriber(conf, sub, err, errsz);
    if (e) return e;
    char *grids = gh_xstrdup(gh_conf_get(conf, "token.grids")
                                 ? gh_conf_get(conf, "token.grids")
                                 : "");
    const char *g[64];
    int ng = 0;
    char *save = NULL;
    for (char *t = strtok_r(grids, ",", &save); t && ng < 64;
         t = strtok_r(NULL, ",", &save))
        g[ng++] = t;
    gh_token_spec_t spec = {
        .subscriber = sub,
        .role = (gh_token_role_t)role,
        .grids = g,
        .ngrids = ng,
        .expires_s = gh_conf_get_int(conf, "token.expires.days") * 86400,
        .note = gh_conf_get(conf, "token.note"),
        .created_by = os_user()};
    char token[GH_TOKEN_LEN + 1], id[GH_TOKEN_ID_LEN + 1];
    e = gh_token_create(db, &spec, token, id, err, errsz);
    if (e == GH_ERR_INVALID_ARG) e = GH_ERR_CONFIG;
    if (!e) {
        printf("token %s created for subscriber %s, role %s; it is shown "
               "this once and the hub keeps only its hash:\n%s\n",
               id, sub, gh_token_role_name(spec.role), token);
        OPENSSL_cleanse(token, sizeof(token));
    }
    free(grids);
    return e;
}

static gh_err_t list(PGconn *db, char *err, size_t errsz) {
    PGresult *r = gh_pg_query_what(
        db,
        "SELECT id, subscriber, role, array_to_string(grids, ','), CASE WHEN "
        "revoked_at IS NOT NULL THEN 'revoked ' || to_char(revoked_at, "
        "'YYYY-MM-DD') || ': ' || coalesce(revoked_reason, '') WHEN "
        "expires_at <= now() THEN 'expired' ELSE 'valid' || coalesce(' until "
        "' || to_char(expires_at, 'YYYY-MM-DD'), '') END, coalesce(to_char("
        "last_used_at, 'YYYY-MM-DD HH24:MI'), 'never'), coalesce(note, '') "
        "FROM api_token ORDER BY created_at, id",
        0, NULL, "list the tokens", err, errsz);
    if (!r) return GH_ERR_PG;
    printf("%-9s %-16s %-17s %-20s %-8s %s\n", "id", "subscriber", "role",
           "state", "used", "grids / note");
    for (int i = 0; i < PQntuples(r); i++)
        printf("%-9s %-16s %-17s %-20s %-8s %s%s%s\n", PQgetvalue(r, i, 0),
               PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 4),
               PQgetvalue(r, i, 5), PQgetvalue(r, i, 3),
               *PQgetvalue(r, i, 3) && *PQgetvalue(r, i, 6) ? " / " : "",
               PQgetvalue(r, i, 6));
    PQclear(r);
    return GH_OK;
}

static int run(gh_conf_t *conf) {
    char err[2048];
    char *copy = gh_xstrdup(gh_conf_get(conf, "args")), *save = NULL;
    const char *verb = strtok_r(copy, ",", &save);
    const char *operand = strtok_r(NULL, ",", &save);
    const char *extra = strtok_r(NULL, ",", &save);
    int rv = verb && !strcmp(verb, "revoke");
    if (!verb || extra || rv != !!operand ||
        (!rv && strcmp(verb, "create") && strcmp(verb, "list"))) {
        fprintf(stderr,
                "gridhub token: expected create, list or revoke ID, got "
                "\"%s\" (see --help)\n",
                gh_conf_get(conf, "args"));
        free(copy);
        return 2;
    }
    if (rv && !gh_conf_get(conf, "token.reason")) {
        fprintf(stderr, "gridhub token revoke: --token-reason TEXT is "
                        "required (it is kept with the token)\n");
        free(copy);
        return 2;
    }
    PGconn *db = gh_pg_connect(gh_conf_get(conf, "database.conninfo"), 0, err,
                               sizeof(err));
    if (!db) {
        gh_log_error("token", "%s", err);
        free(copy);
        return 1;
    }
    gh_err_t e = gh_migrate_apply(db, err, sizeof(err));
    if (!e && !strcmp(verb, "create"))
        e = create(conf, db, err, sizeof(err));
    else if (!e && rv)
        e = gh_token_revoke(db, operand, gh_conf_get(conf, "token.reason"),
                            os_user(), err, sizeof(err));
    else if (!e)
        e = list(db, err, sizeof(err));
    PQfinish(db);
    if (!e && rv) printf("token %s revoked\n", operand);
    if (e) fprintf(stderr, "gridhub token %s: %s\n", verb, err);
    free(copy);
    return !e ? 0 : e == GH_ERR_CONFIG || e == GH_ERR_NOT_FOUND ? 2 : 1;
}

const gh_cli_cmd_t gh_cli_token = {
    "token",
    "API tokens: create one bound to a subscriber of the policy and a role "
    "(shown once, stored hashed), list them, revoke one",
    "Examples (with the hub's properties file):\n"
    "  gridhub token create --token-subscriber zongzhi --token-role "
    "grid_worker --token-grids LP-DT-01,LP-DT-02 -c hub.properties\n"
    "  gridhub token list -c hub.properties\n"
    "  gridhub token revoke 3f9a01c2 --token-reason 'left the job' -c "
    "hub.properties\n"
    "See docs/api.md.",
    props,
    run,
    0,
    "Exit status: 0 done; 1 failed (database); 2 bad arguments, a "
    "subscriber the policy does not declare, or no such token to revoke."};
