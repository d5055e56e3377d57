/* `gridhub policy`: check a policy file, explain its decisions, generate
 * Kafka ACLs and key files (docs/policy.md, "Commands"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "crypt.h"
#include "cli.h"
#include "feed.h"
#include "gridhub/pg.h"
#include "gridhub/shutdown.h"
#include "gridhub/util.h"
#include "policy.h"
#include "view.h"

static const gh_conf_prop_t props[] = {
    {"args", GH_CONF_LIST, NULL, 1, 0, 0, NULL, NULL,
     "The verb and its operand, as bare words: check FILE | explain FILE | "
     "acls FILE | keys."},
    {"keys", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "check, explain: the key file to check against the policy (every "
     "subscriber's key present, file private)."},
    {"subscriber", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "explain: the subscriber."},
    {"entity", GH_CONF_STR, "person", 0, 0, 0, NULL, NULL,
     "explain: the entity."},
    {"field", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "explain: only this field (`sources.source_key` for one inside an "
     "array)."},
    {"person", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "explain: evaluate on this person's golden record (needs "
     "database.conninfo) and print it as the subscriber receives it."},
    {"at", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "explain: the moment to decide at (ISO 8601 with an offset; default "
     "now), for grants."},
    {"generate", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "keys: write a new key file here (mode 0600, never overwritten) with a "
     "random key per key name of --policy."},
    {"policy", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "keys: the policy whose key names to generate."},
    {"database.conninfo", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "explain --person: the hub's database."},
    {"crypt.key.file", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "explain --person: the hub's encryption keys (its crypt.key.file), to "
     "open the ID number, phone and address it stores sealed."},
    GH_SCHEMAS_DIR_PROP,
    {"view.topic.prefix", GH_CONF_STR, "hub.view", 0, 0, 0, NULL, NULL,
     "acls: the hub's view.topic.prefix."},
    {"source.topic.prefix", GH_CONF_STR, "gridhub", 0, 0, 0, NULL, NULL,
     "acls: the connectors' topic.prefix."},
    {"dlq.topic", GH_CONF_STR, "gridhub.dlq", 0, 0, 0, NULL, NULL,
     "acls: the dead-letter topic."},
    {"schemas.topic", GH_CONF_STR, "_gridhub_schemas", 0, 0, 0, NULL, NULL,
     "acls: the schemas topic."},
    {"heartbeat.topic", GH_CONF_STR, "gridhub.heartbeat", 0, 0, 0, NULL, NULL,
     "acls: the connectors' heartbeat topic."},
    {"group.id", GH_CONF_STR, "gridhub-hub", 0, 0, 0, NULL, NULL,
     "acls: the hub's consumer group."},
    GH_CONF_END};

/* Parses an ISO 8601 time through the policy's own parser: a one-grant
 * policy would be heavy; do it here with the same rules. */
static int parse_at(const char *s, int64_t *us) {
    int64_t days;
    const char *rest;
    int hh, mm, ss, n = 0;
    if (gh_date_parse_iso(s, &days, &rest) || *rest != 'T' ||
        sscanf(rest + 1, "%2d:%2d:%2d%n", &hh, &mm, &ss, &n) != 3 || n != 8)
        return -1;
    const char *z = rest + 9;
    int off = 0;
    if (!strcmp(z, "Z"))
        off = 0;
    else if ((z[0] == '+' || z[0] == '-') && strlen(z) == 6 && z[3] == ':')
        off = (z[0] == '+' ? 1 : -1) * (atoi(z + 1) * 60 + atoi(z + 4));
    else
        return -1;
    *us = (days * 86400 + hh * 3600 + mm * 60 + ss - off * 60) * 1000000;
    return 0;
}

static gh_err_t load(const gh_conf_t *conf, const char *file,
                     gh_schemas_t **set, gh_policy_t **p, char *err,
                     size_t errsz) {
    gh_err_t e = gh_schemas_load_dir(set, gh_schemas_dir(conf), err, errsz);
    if (!e) e = gh_policy_load_file(file, *set, p, err, errsz);
    if (!e && gh_conf_get(conf, "keys")) {
        gh_policy_keys_t *k = NULL;
        e = gh_policy_keys_load(gh_conf_get(conf, "keys"), &k, err, errsz);
        if (!e) e = gh_policy_keys_check(k, *p, err, errsz);
        gh_policy_keys_destroy(k);
    }
    return e;
}

static gh_err_t check(const gh_policy_t *p) {
    printf("%s: policy version %s\n", gh_policy_name(p), gh_policy_version(p));
    for (int i = 0; i < gh_policy_nsubscribers(p); i++) {
        gh_policy_subscriber_t s;
        gh_policy_subscriber(p, i, &s);
        printf("  subscriber %-12s department %-10s role %s (key %s, "
               "principal %s)\n",
               s.name, s.department, s.role, s.key, s.principal);
    }
    for (int i = 0; i < gh_policy_nentities(p); i++)
        printf("  entity %s (%s)\n", gh_policy_entity_name(p, i),
               gh_schema_fullname(gh_policy_entity_schema(p, i)));
    const char *w = gh_policy_warnings(p);
    if (*w) printf("warnings:\n%s", w);
    printf("OK\n");
    return GH_OK;
}

/* The golden record of one person into the view's value. */
static gh_err_t person(const gh_conf_t *conf, gh_view_t *v, const char *pid,
                       PGconn **db, avro_value_t **out, char *err,
                       size_t errsz) {
    const char *ci = gh_conf_get(conf, "database.conninfo");
    if (!ci)
        return gh_seterr(err, errsz, GH_ERR_CONFIG,
                         "--person needs --database-conninfo (the hub's "
                         "database)");
    *db = gh_pg_connect(ci, 0, err, errsz);
    if (!*db) return GH_ERR_PG_CONNECT;
    /* The read and its audit entry commit together. */
    if (gh_pg_exec(*db, "BEGIN", err, errsz)) return GH_ERR_PG;
    const char *p[1] = {pid};
    PGresult *r = gh_pg_query_what(
        *db,
        "SELECT person_id, version, floor(extract(epoch from updated_at) * "
        "1000000)::bigint, id_number, name, sex, birth_date::text, phone, "
        "address, grid_code, sources::text, provenance::text, "
        "absorbed_ids::text, person_attr_json(person_id) AS attrs FROM "
        "person WHERE person_id = $1 AND active",
        1, p, "read the person", err, errsz);
    if (!r) return GH_ERR_PG;
    if (!PQntuples(r)) {
        PQclear(r);
        return gh_seterr(err, errsz, GH_ERR_INVALID_ARG,
                         "no active person %s in the hub", pid);
    }
    const char *ck = gh_conf_get(conf, "crypt.key.file");
    gh_crypt_t *c = ck ? gh_crypt_new(ck, err, errsz) : NULL;
    static const int cols[] = {3, 7, 8};
    static const char *const fields[] = {"id_number", "phone", "address"};
    gh_err_t e = ck && !c
                     ? GH_ERR_CONFIG
                     : gh_crypt_open_result(c, r, cols, fields, 3, err, errsz);
    gh_crypt_destroy(c);
    if (!e) {
        json_t *b = json_pack("{s:s,s:s,s:s}", "command", "policy explain",
                              "what", pid, "subscriber",
                              gh_conf_get(conf, "subscriber")
                                  ? gh_conf_get(conf, "subscriber")
                                  : "");
        e = gh_audit_append_one(*db, "read", "person", b, err, errsz);
        json_decref(b);
    }
    if (!e) e = gh_pg_exec(*db, "COMMIT", err, errsz);
    if (e) {
        PQclear(r);
        return e;
    }
    *out = gh_view_fill_row(v, r, 0);
    PQclear(r);
    return GH_OK;
}

static gh_err_t explain(const gh_conf_t *conf, gh_schemas_t *set,
                        const gh_policy_t *p, char *err, size_t errsz) {
    const char *sub = gh_conf_get(conf, "subscriber");
    int s = sub ? gh_policy_subscriber_find(p, sub) : -1;
    int en = gh_policy_entity_find(p, gh_conf_get(conf, "entity"));
    if (s < 0)
        return gh_seterr(err, errsz, GH_ERR_INVALID_ARG,
                         "--subscriber: %s is not a subscriber of the policy",
                         sub ? sub : "(none given)");
    if (en < 0)
        return gh_seterr(err, errsz, GH_ERR_INVALID_ARG,
                         "--entity: %s is not an entity of the policy",
                         gh_conf_get(conf, "entity"));
    int64_t now = gh_wallclock_us();
    const char *at = gh_conf_get(conf, "at");
    if (at && parse_at(at, &now))
        return gh_seterr(err, errsz, GH_ERR_INVALID_ARG,
                         "--at: \"%s\" is not a time like "
                         "2026-12-02T18:00:00+08:00",
                         at);
    gh_policy_rec_t *rec = NULL;
    gh_view_t *v = NULL;
    PGconn *db = NULL;
    avro_value_t *full = NULL;
    gh_err_t e = GH_OK;
    const char *pid = gh_conf_get(conf, "person");
    if (pid) {
        v = gh_view_new(NULL, gh_policy_entity_schema(p, en), "", err, errsz);
        e = v ? person(conf, v, pid, &db, &full, err, errsz) : GH_ERR_SCHEMA;
        if (!e) {
            rec = gh_policy_rec_new(p, en);
            gh_policy_rec_set(rec, full);
        }
    }
    if (!e)
        e = gh_policy_explain(p, s, en, gh_conf_get(conf, "field"), rec, now,
                              stdout, err, errsz);
    /* The record as received: under a throwaway key, so the pseudonyms
     * shown are not the real ones (they would link feeds). */
    if (!e && rec) {
        gh_policy_keys_t *k = NULL;
        char tmp[] = "/tmp/gh-explain-keys.XXXXXX";
        int fd = mkstemp(tmp);
        if (fd >= 0) {
            gh_policy_subscriber_t sb;
            gh_policy_subscriber(p, s, &sb);
            dprintf(fd, "%s=%064d\n", sb.key, 0);
            close(fd);
            e = gh_policy_keys_load(tmp, &k, err, errsz);
            unlink(tmp);
        }
        gh_policy_plan_t *pl = NULL;
        if (!e && k)
            e = gh_policy_plan_new(p, s, en, now, k, set, &pl, err, errsz);
        if (!e && pl && gh_policy_plan_in_scope(pl, rec)) {
            avro_value_t *o = NULL;
            e = gh_policy_plan_apply(pl, rec, &o, err, errsz);
            if (!e) {
                json_t *j = gh_avro_to_json(gh_policy_plan_schema(pl), o);
                char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
                printf("as received (hashes under a stand-in key):\n%s\n",
                       text);
                free(text);
                json_decref(j);
            }
        }
        gh_policy_plan_destroy(pl);
        gh_policy_keys_destroy(k);
    }
    gh_policy_rec_destroy(rec);
    gh_view_destroy(v);
    PQfinish(db);
    return e;
}

static int run(gh_conf_t *conf) {
    char err[8192];
    char *a = gh_xstrdup(gh_conf_get(conf, "args")), *save = NULL;
    char *verb = strtok_r(a, ",", &save), *file = strtok_r(NULL, ",", &save);
    gh_schemas_t *set = NULL;
    gh_policy_t *p = NULL;
    gh_err_t e = GH_OK;
    if (verb && !strcmp(verb, "keys") && !file) {
        const char *out = gh_conf_get(conf, "generate"),
                   *pf = gh_conf_get(conf, "policy");
        if (!out || !pf)
            e = gh_seterr(err, sizeof(err), GH_ERR_INVALID_ARG,
                          "keys needs --generate KEYFILE --policy FILE");
        if (!e) e = load(conf, pf, &set, &p, err, sizeof(err));
        if (!e) e = gh_policy_keys_generate(out, p, err, sizeof(err));
        if (!e) printf("wrote %s (mode 0600)\n", out);
    } else if (!verb || !file || strtok_r(NULL, ",", &save) ||
               (strcmp(verb, "check") && strcmp(verb, "explain") &&
                strcmp(verb, "acls"))) {
        e = gh_seterr(err, sizeof(err), GH_ERR_INVALID_ARG,
                      "expected check FILE, explain FILE, acls FILE or keys "
                      "(see --help)");
    } else {
        e = load(conf, file, &set, &p, err, sizeof(err));
        if (!e && !strcmp(verb, "check")) e = check(p);
        if (!e && !strcmp(verb, "explain"))
            e = explain(conf, set, p, err, sizeof(err));
        if (!e && !strcmp(verb, "acls")) {
            gh_policy_topics_t t = {gh_conf_get(conf, "view.topic.prefix"),
                                    gh_conf_get(conf, "source.topic.prefix"),
                                    gh_conf_get(conf, "dlq.topic"),
                                    gh_conf_get(conf, "schemas.topic"),
                                    gh_conf_get(conf, "heartbeat.topic"),
                                    gh_conf_get(conf, "group.id")};
            gh_policy_acls(p, &t, stdout);
        }
    }
    gh_policy_destroy(p);
    gh_schemas_destroy(set);
    free(a);
    if (!e) return GH_EXIT_OK;
    fprintf(stderr, "gridhub policy: %s\n", err);
    return gh_cli_exit_code(e);
}

const gh_cli_cmd_t gh_cli_policy = {
    "policy",
    "check an access policy, explain its decisions, generate Kafka ACLs "
    "and key files",
    "  gridhub policy check city.policy [--keys city.keys]\n"
    "  gridhub policy explain city.policy --subscriber chuangwen "
    "[--field phone] [--person P000000123 --database-conninfo ...]\n"
    "  gridhub policy acls city.policy > acls.sh\n"
    "  gridhub policy keys --generate city.keys --policy city.policy\n"
    "The policy's format: docs/policy.md.",
    props,
    run,
    0,
    NULL};
