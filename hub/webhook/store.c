/* Delivery state in the hub database (table webhook_offset, migration
 * 022): the offsets are the webhook's only memory across restarts. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "gridhub/shutdown.h"
#include "webhook_int.h"

#define LOG "webhook"

/* An arbitrary constant, the advisory lock of the one webhook process a
 * hub database may have: two would POST every batch twice and race on
 * the offsets. */
#define WEBHOOK_LOCK 7263540177LL

gh_err_t gh__webhook_store_lock(gh_webhook_t *w, char *errstr,
                                size_t errstr_size) {
    char sql[64];
    snprintf(sql, sizeof(sql), "SELECT pg_try_advisory_lock(%lld)",
             WEBHOOK_LOCK);
    PGresult *r = gh_pg_query_what(w->db, sql, 0, NULL, "take the webhook lock",
                                   errstr, errstr_size);
    if (!r) return GH_ERR_PG;
    int got = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!got)
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "another gridhub webhook delivers from this hub "
                         "database (it holds advisory lock %lld): run one",
                         WEBHOOK_LOCK);
    return GH_OK;
}

gh_err_t gh__webhook_store_get(gh_webhook_t *w, const wh_part_t *p,
                               int64_t *next, char *errstr,
                               size_t errstr_size) {
    char part[16];
    snprintf(part, sizeof(part), "%d", (int)p->partition);
    const char *v[3] = {w->targets[p->target].subscriber, p->topic, part};
    PGresult *r =
        gh_pg_query_what(w->db,
                         "SELECT next_offset FROM webhook_offset "
                         "WHERE subscriber = $1 AND topic = $2 "
                         "AND partition = $3",
                         3, v, "read webhook_offset", errstr, errstr_size);
    if (!r) return gh_pg_failure(w->db);
    *next = PQntuples(r) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    return GH_OK;
}

gh_err_t gh__webhook_store_delivered(gh_webhook_t *w, const wh_part_t *p,
                                     int64_t next, int n, int status,
                                     char *errstr, size_t errstr_size) {
    char part[16], off[32], cnt[16], st[16];
    snprintf(part, sizeof(part), "%d", (int)p->partition);
    snprintf(off, sizeof(off), "%" PRId64, next);
    snprintf(cnt, sizeof(cnt), "%d", n);
    snprintf(st, sizeof(st), "%d", status);
    const char *v[6] = {
        w->targets[p->target].subscriber, p->topic, part, off, cnt, st};
    /* GREATEST: a second process on the same database (which the advisory
     * lock rules out) or a replayed call can never move it back. */
    return gh_pg_exec_what(
        w->db,
        "INSERT INTO webhook_offset AS o (subscriber, topic, partition, "
        "next_offset, delivered, attempts, last_status, last_attempt_at, "
        "last_delivered_at) VALUES ($1, $2, $3, $4, $5, 0, $6, now(), now()) "
        "ON CONFLICT (subscriber, topic, partition) DO UPDATE SET "
        "next_offset = GREATEST(o.next_offset, EXCLUDED.next_offset), "
        "delivered = o.delivered + EXCLUDED.delivered, attempts = 0, "
        "last_status = EXCLUDED.last_status, last_error = NULL, "
        "last_attempt_at = now(), last_delivered_at = now()",
        6, v, "record a webhook delivery", errstr, errstr_size);
}

gh_err_t gh__webhook_store_failed(gh_webhook_t *w, const wh_part_t *p,
                                  int status, const char *why, char *errstr,
                                  size_t errstr_size) {
    char part[16], off[32], st[16];
    snprintf(part, sizeof(part), "%d", (int)p->partition);
    /* A partition never delivered has no offset yet: the batch's first. */
    snprintf(off, sizeof(off), "%" PRId64,
             p->next >= 0 ? p->next : p->q[0].offset);
    snprintf(st, sizeof(st), "%d", status);
    const char *v[6] = {
        w->targets[p->target].subscriber, p->topic, part, off, st, why};
    return gh_pg_exec_what(
        w->db,
        "INSERT INTO webhook_offset AS o (subscriber, topic, partition, "
        "next_offset, attempts, last_status, last_error, last_attempt_at) "
        "VALUES ($1, $2, $3, $4, 1, $5, $6, now()) "
        "ON CONFLICT (subscriber, topic, partition) DO UPDATE SET "
        "attempts = o.attempts + 1, last_status = EXCLUDED.last_status, "
        "last_error = EXCLUDED.last_error, last_attempt_at = now()",
        6, v, "record a failed webhook delivery", errstr, errstr_size);
}

gh_err_t gh__webhook_store_reconnect(gh_webhook_t *w, char *errstr,
                                     size_t errstr_size) {
    if (w->db && PQstatus(w->db) == CONNECTION_OK) return GH_OK;
    PQfinish(w->db);
    w->db = gh_pg_connect_retry(
        gh_conf_get(w->conf, "database.conninfo"), 0, "hub",
        (int)gh_conf_get_int(w->conf, "retry.backoff.ms"),
        (int)gh_conf_get_int(w->conf, "retry.backoff.max.ms"));
    if (!w->db)
        return gh_seterr(errstr, errstr_size, GH_ERR_STOPPED,
                         "stopped while reconnecting to the hub database");
    gh_log_info(LOG, "reconnected to the hub database");
    /* The lock ended with the old session. */
    return gh__webhook_store_lock(w, errstr, errstr_size);
}
