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

/* A disclosure body as the hub writes them (hub/feed/flush.c builds its
 * bodies the same way, into a reused buffer): ~400 bytes. */
static const char *body(gh_buf_t *b, uint64_t i) {
    static const char *const deps[] = {"gongan", "jisheng", "zongzhi",
                                       "chuangwen", "zuzhi"};
    static const char *const names[] = {"id_number",  "name",   "sex",
                                        "birth_date", "phone",  "address",
                                        "grid_code",  "sources"};
    gh_buf_reset(b);
    gh_buf_puts(b, "{\"op\":\"put\",\"fields\":{");
    for (int k = 0; k < 8; k++)
        gh_buf_printf(b, "%s\"%s\":{\"as\":\"%s\",\"from\":[\"%s\"]}",
                      k ? "," : "", names[k], k == 0 ? "mask 6 4" : "clear",
                      deps[(i + (uint64_t)k) % 5]);
    gh_buf_printf(b,
                  "},\"policy\":\"7caca2a0a909880a\",\"plan\":"
                  "\"a6f509611de9a6f509611de9a6f50961\",\"purpose\":\"grid-"
                  "management\",\"record_version\":%" PRIu64 "}",
                  i);
    return b->data;
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
    gh_buf_t bb = {0};
    for (uint64_t i = 0; i < n; i++) {
        const char *s = body(&bb, i);
        uint8_t leaf[GH_MERKLE_HASH_LEN];
        gh_merkle_leaf_hash(s, strlen(s), leaf);
        gh_merkle_frontier_append(&f, leaf, NULL, NULL);
    }
    double hs = (double)(gh_now_us() - t0) / 1e6;
    printf("  build + hash + tree, no database: %" PRIu64
           " entries in %.2f s: %.0f entries/s\n",
           n, hs, (double)n / hs);

    /* 2. Appends through PostgreSQL, batch by batch, to the demo's four
     * subscribers in turn. */
    static const char *const subs[] = {"gongan", "chuangwen", "jisheng",
                                       "zongzhi"};
    gh_audit_batch_t *b = gh_audit_batch_new();
    t0 = gh_now_us();
    for (uint64_t done = 0; !e && done < n && !gh_shutdown_requested();) {
        uint64_t k = n - done < batch ? n - done : batch;
        for (uint64_t i = 0; i < k; i++) {
            char key[33];
            snprintf(key, sizeof(key), "%032" PRIx64, done + i);
            gh_audit_batch_add(b, "disclosure", subs[(done + i) % 4], "person",
                               key, body(&bb, done + i));
        }
        e = gh_pg_exec(db, "BEGIN", err, errsz);
        if (!e) e = gh_audit_append(db, b, err, errsz);
        if (!e) e = gh_pg_exec(db, "COMMIT", err, errsz);
        done += k;
    }
    gh_audit_batch_destroy(b);
    gh_buf_free(&bb);
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
