/* `gridhub audit`: what a security officer runs (docs/audit.md): keys,
 * signed heads on demand, verification of the whole log, proofs anyone can
 * check, queries and the access matrix. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cli.h"
#include "cli_audit.h"
#include "gridhub/avro.h"
#include "gridhub/pg.h"
#include "policy.h"
#include "gridhub/shutdown.h"
#include "gridhub/util.h"

static const gh_conf_prop_t props[] = {
    {"args", GH_CONF_LIST, NULL, 1, 0, 0, NULL, NULL,
     "The verb, as a bare word: keygen | head | verify | prove | check-proof "
     "FILE | query | report | bench."},
    {"database.conninfo", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "head, verify, prove, query, report: the hub's database."},
    {"key", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "keygen: where to write the new signing key (mode 0600); head: the "
     "signing key (the hub's audit.signing.key.file)."},
    {"public.key", GH_CONF_LIST, NULL, 0, 0, 0, NULL, NULL,
     "keygen: where to write the public key; verify, check-proof: the "
     "public keys whose signed heads are trusted (several across a "
     "rotation)."},
    {"heads", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "verify: signed heads kept outside the database (one JSON per line, "
     "as the audit topic carries them)."},
    {"topic", GH_CONF_STR, "hub.audit.heads", 0, 0, 0, NULL, NULL,
     "head: the topic the head is published to (through the outbox)."},
    {"seq", GH_CONF_INT, "-1", 0, -1, INT64_MAX, NULL, NULL,
     "prove: the entry to prove included."},
    {"old.size", GH_CONF_INT, "0", 0, 0, INT64_MAX, NULL, NULL,
     "prove: the size of an earlier signed head to prove the latest "
     "consistent with."},
    {"size", GH_CONF_INT, "0", 0, 0, INT64_MAX, NULL, NULL,
     "prove: the size of the signed head to prove against (default: the "
     "latest)."},
    {"subscriber", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "query, report: only this subscriber."},
    {"department", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "query: only disclosures of data from this department."},
    {"record.key", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "query: only this record, by the subscriber's pseudonym."},
    {"person", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "query: only what concerns this hub person id: disclosures under each "
     "subscriber's pseudonym of it (needs policy.file and "
     "policy.keys.file, as in force then), steward decisions and reads "
     "naming it."},
    {"policy.file", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "query --person: the access policy (its subscribers)."},
    {"policy.keys.file", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "query --person: the subscribers' pseudonym keys."},
    GH_SCHEMAS_DIR_PROP,
    {"from", GH_CONF_STR, "-infinity", 0, 0, 0, NULL, NULL,
     "query, report: from this time (ISO 8601, inclusive)."},
    {"to", GH_CONF_STR, "infinity", 0, 0, 0, NULL, NULL,
     "query, report: to this time (exclusive)."},
    {"limit", GH_CONF_INT, "100", 0, 1, 10000000, NULL, NULL,
     "query: at most this many entries."},
    {"entries", GH_CONF_INT, "1000000", 0, 1, 1000000000, NULL, NULL,
     "bench: synthetic entries to append (to a scratch database)."},
    {"batch", GH_CONF_INT, "20000", 0, 1, 1000000, NULL, NULL,
     "bench: entries per transaction."},
    GH_CONF_END};

static gh_err_t load_publics(const gh_conf_t *conf, gh_audit_key_t ***keys,
                             int *n, char *err, size_t errsz) {
    const char *list = gh_conf_get(conf, "public.key");
    *keys = NULL;
    *n = 0;
    if (!list)
        return gh_seterr(err, errsz, GH_ERR_INVALID_ARG,
                         "needs --public-key FILE[,FILE...]");
    char *a = gh_xstrdup(list), *save = NULL;
    gh_err_t e = GH_OK;
    for (char *t = strtok_r(a, ",", &save); t && !e;
         t = strtok_r(NULL, ",", &save)) {
        *keys = gh_xrealloc(*keys, (size_t)(*n + 1) * sizeof(**keys));
        e = gh_audit_key_load_public(t, &(*keys)[*n], err, errsz);
        if (!e) (*n)++;
    }
    free(a);
    return e;
}

static void free_keys(gh_audit_key_t **keys, int n) {
    for (int i = 0; i < n; i++)
        gh_audit_key_destroy(keys[i]);
    free(keys);
}

/* The signed head of `size` (0: the latest) from audit_sth. */
static gh_err_t stored_head(PGconn *db, uint64_t size, gh_audit_sth_t *h,
                            char *err, size_t errsz) {
    char s[24];
    snprintf(s, sizeof(s), "%" PRIu64, size);
    const char *p[1] = {s};
    PGresult *r = gh_pg_query_what(
        db,
        "SELECT head FROM audit_sth WHERE $1::bigint = 0 OR size = $1 ORDER "
        "BY size DESC LIMIT 1",
        1, p, "read a signed head", err, errsz);
    if (!r) return GH_ERR_PG;
    gh_err_t e;
    if (PQntuples(r) == 1)
        e = gh_audit_sth_from_json(PQgetvalue(r, 0, 0), h, err, errsz);
    else if (size)
        e = gh_seterr(err, errsz, GH_ERR_NOT_FOUND,
                      "no signed head of size %" PRIu64, size);
    else
        e = gh_seterr(err, errsz, GH_ERR_NOT_FOUND,
                      "no signed head yet (the hub issues one every "
                      "audit.head.interval.ms; or run `gridhub audit head`)");
    PQclear(r);
    return e;
}

static json_t *head_json(const gh_audit_sth_t *h) {
    char *s = gh_audit_sth_to_json(h);
    json_t *j = json_loads(s, 0, NULL);
    free(s);
    return j;
}

static json_t *hash_array(uint8_t p[][GH_MERKLE_HASH_LEN], int n) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++) {
        char hx[2 * GH_MERKLE_HASH_LEN + 1];
        gh_hex_encode(p[i], GH_MERKLE_HASH_LEN, hx);
        json_array_append_new(a, json_string(hx));
    }
    return a;
}

static gh_err_t prove(const gh_conf_t *conf, PGconn *db, char *err,
                      size_t errsz) {
    int64_t seq = (int64_t)gh_conf_get_int(conf, "seq");
    uint64_t old = (uint64_t)gh_conf_get_int(conf, "old.size");
    if ((seq < 0) == (old == 0))
        return gh_seterr(err, errsz, GH_ERR_INVALID_ARG,
                         "prove needs --seq N (inclusion) or --old-size M "
                         "(consistency), one of them");
    gh_audit_sth_t h;
    gh_err_t e = stored_head(db, (uint64_t)gh_conf_get_int(conf, "size"), &h,
                             err, errsz);
    if (e) return e;
    uint8_t p[GH_MERKLE_MAX_PROOF][GH_MERKLE_HASH_LEN];
    int len = 0;
    json_t *doc = json_object();
    if (seq >= 0) {
        if ((uint64_t)seq >= h.size) {
            json_decref(doc);
            return gh_seterr(err, errsz, GH_ERR_NOT_FOUND,
                             "entry %" PRId64 " is not covered by the signed "
                             "head of size %" PRIu64
                             " (wait for the next head)",
                             seq, h.size);
        }
        char s[24];
        snprintf(s, sizeof(s), "%" PRId64, seq);
        const char *pp[1] = {s};
        PGresult *r =
            gh_pg_query_what(db, "SELECT entry FROM audit_log WHERE seq = $1",
                             1, pp, "read the entry", err, errsz);
        if (!r)
            e = GH_ERR_PG;
        else if (PQntuples(r) != 1)
            e = gh_seterr(err, errsz, GH_ERR_DATA_LOSS,
                          "entry %" PRId64 " is missing from audit_log", seq);
        if (!e) {
            const char *entry = PQgetvalue(r, 0, 0);
            uint8_t leaf[GH_MERKLE_HASH_LEN];
            char lh[2 * GH_MERKLE_HASH_LEN + 1];
            gh_merkle_leaf_hash(entry, strlen(entry), leaf);
            gh_hex_encode(leaf, sizeof(leaf), lh);
            e = gh_merkle_inclusion_proof((uint64_t)seq, h.size,
                                          gh_audit_get_node, db, p, &len, err,
                                          errsz);
            json_object_set_new(doc, "kind", json_string("inclusion"));
            json_object_set_new(doc, "seq", json_integer(seq));
            json_object_set_new(doc, "entry", json_string(entry));
            json_object_set_new(doc, "leaf_hash", json_string(lh));
        }
        PQclear(r);
        if (!e) json_object_set_new(doc, "path", hash_array(p, len));
    } else {
        gh_audit_sth_t o;
        e = stored_head(db, old, &o, err, errsz);
        if (!e && o.size > h.size)
            e = gh_seterr(err, errsz, GH_ERR_INVALID_ARG,
                          "the old head (%" PRIu64 ") is larger than the new "
                          "one (%" PRIu64 ")",
                          o.size, h.size);
        if (!e)
            e = gh_merkle_consistency_proof(o.size, h.size, gh_audit_get_node,
                                            db, p, &len, err, errsz);
        if (!e) {
            json_object_set_new(doc, "kind", json_string("consistency"));
            json_object_set_new(doc, "old_head", head_json(&o));
            json_object_set_new(doc, "proof", hash_array(p, len));
        }
    }
    if (!e) {
        json_object_set_new(doc, "head", head_json(&h));
        json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        putchar('\n');
    }
    json_decref(doc);
    return e;
}

static int read_hashes(json_t *a, uint8_t p[][GH_MERKLE_HASH_LEN]) {
    if (!json_is_array(a) || json_array_size(a) > GH_MERKLE_MAX_PROOF)
        return -1;
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        const char *s = json_string_value(v);
        if (!s || gh_hex_decode(s, p[i], GH_MERKLE_HASH_LEN)) return -1;
    }
    return (int)json_array_size(a);
}

static gh_err_t signed_head(json_t *j, const char *what, gh_audit_key_t **keys,
                            int nkeys, gh_audit_sth_t *h, char *err,
                            size_t errsz) {
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    gh_err_t e = s ? gh_audit_sth_from_json(s, h, err, errsz)
                   : gh_seterr(err, errsz, GH_ERR_PARSE, "no \"%s\"", what);
    free(s);
    if (e) return e;
    for (int k = 0; k < nkeys; k++)
        if (gh_audit_sth_verify(keys[k], h)) return GH_OK;
    return gh_seterr(err, errsz, GH_ERR_DATA_LOSS,
                     "%s: the signature does not verify with the keys given",
                     what);
}

static gh_err_t check_proof(const gh_conf_t *conf, const char *file, char *err,
                            size_t errsz) {
    gh_audit_key_t **keys;
    int nkeys;
    gh_err_t e = load_publics(conf, &keys, &nkeys, err, errsz);
    if (e) return e;
    json_error_t je;
    json_t *doc = json_load_file(file, JSON_REJECT_DUPLICATES, &je);
    gh_audit_sth_t h, o;
    uint8_t p[GH_MERKLE_MAX_PROOF][GH_MERKLE_HASH_LEN];
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    if (!doc)
        e = gh_seterr(err, errsz, GH_ERR_PARSE, "%s:%d: %s", file, je.line,
                      je.text);
    else if (!kind)
        e = gh_seterr(err, errsz, GH_ERR_PARSE, "%s: no \"kind\"", file);
    if (!e)
        e = signed_head(json_object_get(doc, "head"), "head", keys, nkeys, &h,
                        err, errsz);
    if (!e && !strcmp(kind, "inclusion")) {
        const char *entry = json_string_value(json_object_get(doc, "entry"));
        json_t *seq = json_object_get(doc, "seq");
        int len = read_hashes(json_object_get(doc, "path"), p);
        uint8_t leaf[GH_MERKLE_HASH_LEN];
        if (!entry || !json_is_integer(seq) || len < 0)
            e = gh_seterr(err, errsz, GH_ERR_PARSE,
                          "%s: needs \"entry\", \"seq\" and \"path\"", file);
        else {
            gh_merkle_leaf_hash(entry, strlen(entry), leaf);
            if (!gh_merkle_verify_inclusion(leaf,
                                            (uint64_t)json_integer_value(seq),
                                            h.size, p, len, h.root))
                e = gh_seterr(err, errsz, GH_ERR_DATA_LOSS,
                              "%s: entry %" JSON_INTEGER_FORMAT
                              " is NOT proven included in the signed head of "
                              "size %" PRIu64,
                              file, json_integer_value(seq), h.size);
            else
                printf("proven: entry %" JSON_INTEGER_FORMAT
                       " is in the log the head of size %" PRIu64
                       " (key %s) signs\n",
                       json_integer_value(seq), h.size, h.key_id);
        }
    } else if (!e && !strcmp(kind, "consistency")) {
        e = signed_head(json_object_get(doc, "old_head"), "old_head", keys,
                        nkeys, &o, err, errsz);
        int len = e ? 0 : read_hashes(json_object_get(doc, "proof"), p);
        if (!e && len < 0)
            e = gh_seterr(err, errsz, GH_ERR_PARSE, "%s: needs \"proof\"",
                          file);
        if (!e && !gh_merkle_verify_consistency(o.size, h.size, o.root, h.root,
                                                p, len))
            e = gh_seterr(err, errsz, GH_ERR_DATA_LOSS,
                          "%s: the head of size %" PRIu64
                          " is NOT proven to extend the head of size %" PRIu64,
                          file, h.size, o.size);
        if (!e)
            printf("proven: the log of %" PRIu64 " entries extends the log "
                   "of %" PRIu64 " without changing it\n",
                   h.size, o.size);
    } else if (!e) {
        e = gh_seterr(err, errsz, GH_ERR_PARSE,
                      "%s: kind \"%s\" is neither inclusion nor consistency",
                      file, kind);
    }
    json_decref(doc);
    free_keys(keys, nkeys);
    return e;
}

/* [[subscriber, pseudonym of pid], ...] under the policy and keys given,
 * as JSON text (caller frees), or NULL with err set. */
static char *pseudonyms(const gh_conf_t *conf, const char *pid, char *err,
                        size_t errsz) {
    const char *pf = gh_conf_get(conf, "policy.file"),
               *kf = gh_conf_get(conf, "policy.keys.file");
    if (!pf || !kf) {
        gh_seterr(err, errsz, GH_ERR_INVALID_ARG,
                  "--person needs --policy-file and --policy-keys-file (the "
                  "subscribers' pseudonyms of the person)");
        return NULL;
    }
    gh_schemas_t *set = NULL;
    gh_policy_t *p = NULL;
    gh_policy_keys_t *k = NULL;
    char *out = NULL;
    gh_err_t e = gh_schemas_load_dir(&set, gh_schemas_dir(conf), err, errsz);
    if (!e) e = gh_policy_load_file(pf, set, &p, err, errsz);
    if (!e) e = gh_policy_keys_load(kf, &k, err, errsz);
    int en = e ? -1 : gh_policy_entity_find(p, "person");
    if (!e && en < 0)
        e = gh_seterr(err, errsz, GH_ERR_CONFIG, "%s: no entity person", pf);
    json_t *a = json_array();
    for (int s = 0; !e && s < gh_policy_nsubscribers(p); s++) {
        gh_policy_plan_t *pl = NULL;
        e = gh_policy_plan_new(p, s, en, gh_wallclock_us(), k, set, &pl, err,
                               errsz);
        if (e) break;
        char key[33];
        gh_policy_plan_pseudonym(pl, pid, key);
        gh_policy_subscriber_t sb;
        gh_policy_subscriber(p, s, &sb);
        json_array_append_new(a, json_pack("[s,s]", sb.name, key));
        gh_policy_plan_destroy(pl);
    }
    if (!e) out = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    gh_policy_keys_destroy(k);
    gh_policy_destroy(p);
    gh_schemas_destroy(set);
    return out;
}

static gh_err_t query(const gh_conf_t *conf, PGconn *db, char *err,
                      size_t errsz) {
    char lim[24];
    snprintf(lim, sizeof(lim), "%lld",
             (long long)gh_conf_get_int(conf, "limit"));
    const char *pid = gh_conf_get(conf, "person");
    char *keys = NULL, *quoted = NULL;
    if (pid) {
        if (!(keys = pseudonyms(conf, pid, err, errsz)))
            return GH_ERR_INVALID_ARG;
        quoted = gh_xasprintf("\"%s\"", pid);
    }
    const char *p[8] = {gh_conf_get(conf, "from"),
                        gh_conf_get(conf, "to"),
                        gh_conf_get(conf, "subscriber"),
                        gh_conf_get(conf, "record.key"),
                        gh_conf_get(conf, "department"),
                        lim,
                        keys,
                        quoted};
    PGresult *r = gh_pg_query_what(
        db,
        "SELECT entry FROM audit_log a WHERE at >= $1::timestamptz AND at < "
        "$2::timestamptz AND ($3::text IS NULL OR subscriber = $3) AND "
        "($4::text IS NULL OR msg_key = $4) AND ($5::text IS NULL OR EXISTS "
        "(SELECT 1 FROM jsonb_each(a.entry::jsonb -> 'fields') f WHERE "
        "f.value -> 'from' ? $5)) AND ($7::jsonb IS NULL OR (a.kind = "
        "'disclosure' AND $7::jsonb @> jsonb_build_array(jsonb_build_array("
        "a.subscriber, a.msg_key))) OR (a.kind <> 'disclosure' AND "
        "position($8::text in a.entry) > 0)) ORDER BY seq LIMIT $6",
        8, p, "query the audit log", err, errsz);
    free(keys);
    free(quoted);
    if (!r) return GH_ERR_PG;
    for (int i = 0; i < PQntuples(r); i++)
        puts(PQgetvalue(r, i, 0));
    fprintf(stderr, "%d entries\n", PQntuples(r));
    PQclear(r);
    return GH_OK;
}

static gh_err_t report(const gh_conf_t *conf, PGconn *db, char *err,
                       size_t errsz) {
    const char *p[3] = {gh_conf_get(conf, "from"), gh_conf_get(conf, "to"),
                        gh_conf_get(conf, "subscriber")};
    PGresult *r = gh_pg_query_what(
        db,
        "SELECT a.subscriber, coalesce(d.dept, '(hub)'), f.key, f.value ->> "
        "'as', count(*) FROM audit_log a CROSS JOIN LATERAL "
        "jsonb_each(a.entry::jsonb -> 'fields') f LEFT JOIN LATERAL "
        "jsonb_array_elements_text(f.value -> 'from') d(dept) ON true WHERE "
        "a.kind = 'disclosure' AND a.at >= $1::timestamptz AND a.at < "
        "$2::timestamptz AND ($3::text IS NULL OR a.subscriber = $3) GROUP BY "
        "1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
        3, p, "build the access matrix", err, errsz);
    if (!r) return GH_ERR_PG;
    printf("access matrix %s .. %s: records disclosed per subscriber, source "
           "department, field and form\n",
           p[0], p[1]);
    printf("%-12s %-12s %-14s %-10s %10s\n", "subscriber", "department",
           "field", "as", "records");
    for (int i = 0; i < PQntuples(r); i++)
        printf("%-12s %-12s %-14s %-10s %10s\n", PQgetvalue(r, i, 0),
               PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
               PQgetvalue(r, i, 4));
    PQclear(r);
    return GH_OK;
}

static int run(gh_conf_t *conf) {
    char err[4096];
    char *a = gh_xstrdup(gh_conf_get(conf, "args")), *save = NULL;
    char *verb = strtok_r(a, ",", &save), *file = strtok_r(NULL, ",", &save);
    gh_err_t e = GH_OK;
    PGconn *db = NULL;
    int needs_db = verb && (!strcmp(verb, "head") || !strcmp(verb, "verify") ||
                            !strcmp(verb, "prove") || !strcmp(verb, "query") ||
                            !strcmp(verb, "report") || !strcmp(verb, "bench"));
    if (!verb || (file && strcmp(verb, "check-proof")) ||
        (!file && !strcmp(verb, "check-proof")) ||
        (!needs_db && strcmp(verb, "keygen") && strcmp(verb, "check-proof")))
        e = gh_seterr(err, sizeof(err), GH_ERR_INVALID_ARG,
                      "expected keygen, head, verify, prove, check-proof FILE, "
                      "query, report or bench (see --help)");
    if (!e && needs_db) {
        const char *ci = gh_conf_get(conf, "database.conninfo");
        if (!ci)
            e = gh_seterr(err, sizeof(err), GH_ERR_INVALID_ARG,
                          "%s needs --database-conninfo", verb);
        else if (!(db = gh_pg_connect(ci, 0, err, sizeof(err))))
            e = GH_ERR_PG_CONNECT;
    }
    if (!e && !strcmp(verb, "keygen")) {
        const char *k = gh_conf_get(conf, "key"),
                   *pub = gh_conf_get(conf, "public.key");
        if (!k || !pub || strchr(pub, ','))
            e = gh_seterr(err, sizeof(err), GH_ERR_INVALID_ARG,
                          "keygen needs --key FILE --public-key FILE");
        else if (!(e = gh_audit_key_generate(k, pub, err, sizeof(err))))
            printf("wrote %s (mode 0600) and %s\n", k, pub);
    } else if (!e && !strcmp(verb, "head")) {
        gh_audit_key_t *k = NULL;
        const char *kf = gh_conf_get(conf, "key");
        gh_audit_sth_t h;
        int issued = 0;
        e = kf ? gh_audit_key_load_private(kf, &k, err, sizeof(err))
               : gh_seterr(err, sizeof(err), GH_ERR_INVALID_ARG,
                           "head needs --key FILE (the signing key)");
        if (!e)
            e = gh_audit_issue_head(db, k, gh_conf_get(conf, "topic"),
                                    gh_wallclock_us() / 1000, &issued, &h, err,
                                    sizeof(err));
        if (!e) {
            char *j = gh_audit_sth_to_json(&h);
            printf("%s\n", j);
            fprintf(stderr, "%s\n",
                    issued ? "issued" : "the log did not grow: latest head");
            free(j);
        }
        gh_audit_key_destroy(k);
    } else if (!e && !strcmp(verb, "verify")) {
        gh_audit_key_t **keys;
        int n;
        e = load_publics(conf, &keys, &n, err, sizeof(err));
        if (!e) {
            gh_audit_verify_opts_t o = {keys, n, gh_conf_get(conf, "heads")};
            e = gh_audit_verify(db, &o, stdout, err, sizeof(err));
        }
        free_keys(keys, n);
    } else if (!e && !strcmp(verb, "prove")) {
        e = prove(conf, db, err, sizeof(err));
    } else if (!e && !strcmp(verb, "check-proof")) {
        e = check_proof(conf, file, err, sizeof(err));
    } else if (!e && !strcmp(verb, "query")) {
        e = query(conf, db, err, sizeof(err));
    } else if (!e && !strcmp(verb, "report")) {
        e = report(conf, db, err, sizeof(err));
    } else if (!e && !strcmp(verb, "bench")) {
        e = gh_cli_audit_bench(conf, db, err, sizeof(err));
    }
    PQfinish(db);
    free(a);
    if (!e) return GH_EXIT_OK;
    fprintf(stderr, "gridhub audit: %s%s\n",
            e == GH_ERR_DATA_LOSS ? "FAILED: " : "", err);
    return gh_cli_exit_code(e);
}

const gh_cli_cmd_t gh_cli_audit = {
    "audit",
    "the audit log: verify it, prove disclosures, query it, print who "
    "received what",
    "  gridhub audit keygen --key audit.key --public-key audit.pub\n"
    "  gridhub audit head --key audit.key --database-conninfo ...\n"
    "  gridhub audit verify --public-key audit.pub [--heads heads.jsonl] "
    "--database-conninfo ...\n"
    "  gridhub audit prove --seq 123 [--size N] --database-conninfo ... > "
    "proof.json\n"
    "  gridhub audit prove --old-size 1000 --database-conninfo ... > "
    "proof.json\n"
    "  gridhub audit check-proof proof.json --public-key audit.pub\n"
    "  gridhub audit query [--subscriber S] [--department D] [--record-key "
    "K] [--from T] [--to T] --database-conninfo ...\n"
    "  gridhub audit query --person P000000042 --policy-file city.policy "
    "--policy-keys-file city.keys --database-conninfo ...\n"
    "  gridhub audit report --from 2026-12-01 --to 2026-12-02 "
    "--database-conninfo ...\n"
    "  gridhub audit bench --entries 1000000 --key k --public-key p "
    "--database-conninfo <scratch database>\n"
    "verify exits 1 and names the first bad entry when the log was "
    "altered. Format and guarantees: docs/audit.md.",
    props,
    run,
    0,
    NULL};
