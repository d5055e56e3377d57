/* `gridhub audit bench`: the audit log's figures on this machine
 * (docs/benchmarks.md): hashing alone, appends through PostgreSQL in
 * batches (each its own transaction, as the hub's batches are), and a full
 * `verify`. Refuses a database whose audit log is not empty: it is for a
 * scratch database (ops/bench-audit.sh makes one). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cli_audit.h"
#include "gridhub/pg.h"
#include "gridhub/shutdown.h"
#include "gridhub/util.h"
#include "migrate.h"

/* A disclosure as the hub writes them: ~400 bytes. */
static json_t *body(uint64_t i) {
    static const char *const deps[] = {"gongan", "jisheng", "zongzhi",
                                       "chuangwen", "zuzhi"};
    json_t *f = json_object();
    static const char *const names[] = {"id_number",  "name",   "sex",
                                        "birth_date", "phone",  "address",
                                        "grid_code",  "sources"};
    for (int k = 0; k < 8; k++)
        json_object_set_new(f, names[k],
                            json_pack("{s:s, s:[s]}", "as",
                                      k == 0 ? "mask 6 4" : "clear", "from",
                                      deps[(i + (uint64_t)k) % 5]));
    return json_pack("{s:s, s:o, s:s, s:s, s:s, s:I}", "op", "put", "fields", f,
                     "policy", "7caca2a0a909880a", "plan",
                     "a6f509611de9a6f509611de9a6f50961", "purpose",
                     "grid-management", "record_version", (json_int_t)i);
}

gh_err_t gh_cli_audit_bench(const gh_conf_t *conf, PGconn *db, char *err,
                            size_t errsz) {
    uint64_t n = (uint64_t)gh_conf_get_int(conf, "entries");
    uint64_t batch = (uint64_t)gh_conf_get_int(conf, "batch");
    const char *kf = gh_conf_get(conf, "key");
    const char *pub = gh_conf_get(conf, "public.key");
    if (!kf || !pub)
        return gh_seterr(err, errsz, GH_ERR_INVALID_ARG,
                         "bench needs --key FILE --public-key FILE");
    gh_err_t e = gh_migrate_apply(db, err, errsz);
    if (e) return e;
    PGresult *r = gh_pg_query_what(db, "SELECT count(*) FROM audit_log", 0,
                                   NULL, "count audit entries", err, errsz);
    if (!r) return GH_ERR_PG;
    long have = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (have)
        return gh_seterr(err, errsz, GH_ERR_INVALID_ARG,
                         "bench appends synthetic entries: it needs a scratch "
                         "database whose audit log is empty (this one holds "
                         "%ld)",
                         have);

    /* 1. Hashing alone: the entries' leaves into the frontier. */
    int64_t t0 = gh_now_us();
    gh_merkle_frontier_t f;
    gh_merkle_frontier_init(&f);
    for (uint64_t i = 0; i < n; i++) {
        json_t *o = body(i);
        char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        uint8_t leaf[GH_MERKLE_HASH_LEN];
        gh_merkle_leaf_hash(s, strlen(s), leaf);
        gh_merkle_frontier_append(&f, leaf, NULL, NULL);
        free(s);
        json_decref(o);
    }
    double hs = (double)(gh_now_us() - t0) / 1e6;
    printf("  serialize + hash + tree, no database: %" PRIu64
           " entries in %.2f s: %.0f entries/s\n",
           n, hs, (double)n / hs);

    /* 2. Appends through PostgreSQL, batch by batch. */
    gh_audit_batch_t *b = gh_audit_batch_new();
    t0 = gh_now_us();
    for (uint64_t done = 0; !e && done < n && !gh_shutdown_requested();) {
        uint64_t k = n - done < batch ? n - done : batch;
        for (uint64_t i = 0; i < k; i++) {
            char key[33];
            snprintf(key, sizeof(key), "%032" PRIx64, done + i);
            json_t *o = body(done + i);
            char *t = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
            gh_audit_batch_add(b, "disclosure", "bench", "person", key, t);
            free(t);
            json_decref(o);
        }
        e = gh_pg_exec(db, "BEGIN", err, errsz);
        if (!e) e = gh_audit_append(db, b, err, errsz);
        if (!e) e = gh_pg_exec(db, "COMMIT", err, errsz);
        done += k;
    }
    gh_audit_batch_destroy(b);
    if (e) return e;
    double as = (double)(gh_now_us() - t0) / 1e6;
    printf("  appended through PostgreSQL in batches of %" PRIu64
           " (one transaction each): %" PRIu64
           " entries in %.2f s: %.0f entries/s\n",
           batch, n, as, (double)n / as);

    /* 3. One signed head, then verify over everything. */
    gh_audit_key_t *k = NULL, *pk = NULL;
    e = gh_audit_key_load_private(kf, &k, err, errsz);
    if (!e) e = gh_audit_key_load_public(pub, &pk, err, errsz);
    if (!e)
        e = gh_audit_issue_head(db, k, "hub.audit.heads",
                                gh_wallclock_us() / 1000, NULL, NULL, err,
                                errsz);
    if (!e) {
        gh_audit_key_t *keys[1] = {pk};
        gh_audit_verify_opts_t o = {keys, 1, NULL};
        t0 = gh_now_us();
        e = gh_audit_verify(db, &o, NULL, err, errsz);
        double vs = (double)(gh_now_us() - t0) / 1e6;
        if (!e)
            printf("  audit verify over %" PRIu64
                   " entries: %.2f s (%.0f entries/s; 10 M entries would "
                   "take ~%.0f s)\n",
                   n, vs, (double)n / vs, vs * 1e7 / (double)n);
    }
    gh_audit_key_destroy(k);
    gh_audit_key_destroy(pk);
    if (!e) {
        r = gh_pg_query_what(db,
                             "SELECT pg_size_pretty(pg_total_relation_size("
                             "'audit_log') + pg_total_relation_size("
                             "'audit_node'))",
                             0, NULL, "size the audit tables", err, errsz);
        if (!r) return GH_ERR_PG;
        printf("  audit tables: %s for %" PRIu64 " entries\n",
               PQgetvalue(r, 0, 0), n);
        PQclear(r);
    }
    return e;
}
