/* The hub's relay: outbox rows to the subscriber topics, in id order,
 * deleted once Kafka acknowledged them. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypt.h"
#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "gridhub/schema_topic.h"
#include "gridhub/shutdown.h"
#include "hub_int.h"

#define LOG "hub"

void gh__hub_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    gh__out_t *h = opaque;
    h->pending--;
    rd_kafka_headers_t *hd = NULL;
    const void *idv = NULL;
    size_t idl = 0;
    if ((m->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
         m->err == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE) &&
        !rd_kafka_message_headers(m, &hd) &&
        !rd_kafka_header_get_last(hd, "gh.outbox.id", &idv, &idl) && idv &&
        idl < 32) {
        /* The broker's limit is below ours: set the row aside (relay) rather
         * than fail every relay round on it. */
        char num[32];
        memcpy(num, idv, idl);
        num[idl] = '\0';
        if (h->ntoo_large == h->captoo_large) {
            h->captoo_large = h->captoo_large ? h->captoo_large * 2 : 16;
            h->too_large = gh_xrealloc(h->too_large, (size_t)h->captoo_large *
                                                         sizeof(int64_t));
        }
        h->too_large[h->ntoo_large++] = strtoll(num, NULL, 10);
        return;
    }
    if (m->err && !h->closing) {
        h->delivery_failed = 1;
        gh_log_error(LOG, "delivery to %s failed: %s",
                     rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
    }
}

gh_err_t gh__hub_drain(gh__out_t *h, char *errstr, size_t errstr_size) {
    while (h->pending > 0 && !h->delivery_failed && !gh_shutdown_expired())
        rd_kafka_poll(h->producer, gh_shutdown_clamp_ms(100));
    if (h->delivery_failed)
        return gh_seterr(errstr, errstr_size, GH_ERR_KAFKA,
                         "a message could not be delivered; not committing");
    if (h->pending > 0)
        return gh_seterr(errstr, errstr_size, GH_ERR_TIMED_OUT,
                         "%ld messages not acknowledged by Kafka within "
                         "shutdown.timeout.ms",
                         h->pending);
    return GH_OK;
}

/* Moves an outbox row that cannot be sent (larger than Kafka accepts, or
 * a sealed payload that does not open) into outbox_rejected with `why`,
 * with an error in the log: one bad row must not hold back every row
 * after it (docs/operations.md, "Oversized records"). */
static gh_err_t set_aside(PGconn *db, int64_t id, const char *why, char *errstr,
                          size_t errstr_size) {
    char idt[32];
    snprintf(idt, sizeof(idt), "%" PRId64, id);
    const char *p[2] = {idt, why};
    gh_err_t e = gh_pg_exec_what(
        db,
        "INSERT INTO outbox_rejected (id, topic, msg_key, payload, person_id, "
        "version, created_at, reason) SELECT id, topic, msg_key, payload, "
        "person_id, version, created_at, $2 FROM outbox WHERE id = $1 ON "
        "CONFLICT (id) DO NOTHING",
        2, p, "set an outbox row aside", errstr, errstr_size);
    if (!e)
        gh_log_error(LOG,
                     "outbox row %s: %s: set aside in outbox_rejected, the "
                     "relay goes on",
                     idt, why);
    return e;
}

static gh_err_t set_aside_size(PGconn *db, int64_t id, size_t size,
                               char *errstr, size_t errstr_size) {
    char why[200];
    snprintf(why, sizeof(why),
             "%zu bytes: larger than Kafka accepts (kafka.message.max.bytes "
             "here, max.message.bytes on the broker)",
             size);
    return set_aside(db, id, why, errstr, errstr_size);
}

/* One attempt at creating the schemas topic, bounded so that the relay's
 * retry logs and backs off rather than hanging on a silent cluster. */
#define ENSURE_TIMEOUT_MS 10000

/* Publishes every view schema this process has not published yet to the
 * schemas topic and waits for Kafka's acknowledgement, so that a consumer
 * that finds a record finds its schema (gridhub/schema_topic.h). The
 * schemas come from view_schema, not from memory: a steward command may
 * have written records with a schema this process never made. Publishing
 * again after a restart is harmless (the topic is compacted by key). */
static gh_err_t publish_schemas(gh__out_t *h, PGconn *db, char *errstr,
                                size_t errstr_size) {
    const char *topic = gh_conf_get(h->conf, "schemas.topic");
    const char *p[1] = {gh_sqlarr_get(&h->published)};
    PGresult *r = PQexecParams(
        db,
        "SELECT fingerprint, name, schema FROM view_schema WHERE fingerprint "
        "<> ALL($1::text[]) ORDER BY fingerprint",
        1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        gh_err_t e =
            gh_pg_result_error(r, db, "read view schemas", errstr, errstr_size);
        PQclear(r);
        return e;
    }
    int n = PQntuples(r);
    gh_err_t e = GH_OK;
    if (n > 0 && !h->schema_topic_ready) {
        e = gh_schema_topic_ensure(h->producer, topic, ENSURE_TIMEOUT_MS,
                                   errstr, errstr_size);
        if (!e) h->schema_topic_ready = 1;
    }
    for (int i = 0; i < n && !e; i++) {
        rd_kafka_headers_t *hd = rd_kafka_headers_new(1);
        rd_kafka_header_add(hd, "gh.schema.name", -1, PQgetvalue(r, i, 1), -1);
        rd_kafka_resp_err_t err;
        while ((err = rd_kafka_producev(
                    h->producer, RD_KAFKA_V_TOPIC(topic),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                    RD_KAFKA_V_KEY(PQgetvalue(r, i, 0),
                                   (size_t)PQgetlength(r, i, 0)),
                    RD_KAFKA_V_VALUE(PQgetvalue(r, i, 2),
                                     (size_t)PQgetlength(r, i, 2)),
                    RD_KAFKA_V_HEADERS(hd), RD_KAFKA_V_END)) ==
                   RD_KAFKA_RESP_ERR__QUEUE_FULL &&
               !gh_shutdown_expired())
            rd_kafka_poll(h->producer, gh_shutdown_clamp_ms(50));
        if (err) {
            rd_kafka_headers_destroy(hd);
            e = gh_seterr(
                errstr, errstr_size, GH_ERR_KAFKA,
                "publish schema %s to %s: %s%s", PQgetvalue(r, i, 0), topic,
                rd_kafka_err2str(err),
                err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE
                    ? " (the schema is larger than kafka.message.max.bytes or "
                      "the topic's max.message.bytes: no view record written "
                      "with it is published until the limit is raised)"
                    : "");
            break;
        }
        h->pending++;
    }
    if (!e && n > 0) e = gh__hub_drain(h, errstr, errstr_size);
    for (int i = 0; i < n && !e; i++) {
        gh_sqlarr_text(&h->published, PQgetvalue(r, i, 0));
        gh_log_info(LOG, "view schema %s (%s) published to %s",
                    PQgetvalue(r, i, 1), PQgetvalue(r, i, 0), topic);
    }
    PQclear(r);
    return e;
}

/* One page of the relay: up to `lim` outbox rows in id order published,
 * acknowledged and deleted; *np: how many rows the page had. */
static gh_err_t relay_page(gh__out_t *h, PGconn *db, const char *lim, int *np,
                           char *errstr, size_t errstr_size) {
    *np = 0;
    const char *p[1] = {lim};
    PGresult *r =
        PQexecParams(db,
                     "SELECT id, topic, msg_key, payload, version FROM outbox "
                     "ORDER BY id LIMIT $1",
                     1, NULL, p, NULL, NULL, 1);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        gh_err_t e =
            gh_pg_result_error(r, db, "read outbox", errstr, errstr_size);
        PQclear(r);
        return e;
    }
    int n = PQntuples(r);
    if (n == 0) {
        PQclear(r);
        return GH_OK;
    }
    /* Every way out of the loop below releases r once, at its end. */
    gh_err_t e = publish_schemas(h, db, errstr, errstr_size);
    gh_sqlarr_t sent = {0}; /* the ids read, deleted once acknowledged */
    gh_sqlarr_reset(&sent);
    for (int i = 0; i < n && !e; i++) {
        /* Binary results: int8 big-endian. */
        const unsigned char *idb = (const unsigned char *)PQgetvalue(r, i, 0);
        int64_t id = 0;
        for (int k = 0; k < 8; k++)
            id = id << 8 | idb[k];
        const unsigned char *vb = (const unsigned char *)PQgetvalue(r, i, 4);
        int64_t ver = 0;
        for (int k = 0; k < 8 && !PQgetisnull(r, i, 4); k++)
            ver = ver << 8 | vb[k];
        gh_sqlarr_int(&sent, id);
        char idtxt[32], vertxt[32];
        snprintf(idtxt, sizeof(idtxt), "%" PRId64, id);
        snprintf(vertxt, sizeof(vertxt), "%" PRId64, ver);
        int isnull = PQgetisnull(r, i, 3);
        void *val = isnull ? NULL : PQgetvalue(r, i, 3);
        size_t vlen = isnull ? 0 : (size_t)PQgetlength(r, i, 3);
        char *plain = NULL; /* a sealed payload opened */
        if (gh_crypt_is_sealed(val, vlen)) {
            char why[512];
            if (gh_crypt_open(h->crypt, "payload", val, vlen, &plain, &vlen,
                              why, sizeof(why))) {
                e = set_aside(db, id, why, errstr, errstr_size);
                continue;
            }
            val = plain;
        }
        rd_kafka_headers_t *hd = rd_kafka_headers_new(2);
        rd_kafka_header_add(hd, "gh.outbox.id", -1, idtxt, -1);
        rd_kafka_header_add(hd, "gh.person.version", -1, vertxt, -1);
        rd_kafka_resp_err_t err;
        while ((err = rd_kafka_producev(
                    h->producer, RD_KAFKA_V_TOPIC(PQgetvalue(r, i, 1)),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                    RD_KAFKA_V_KEY(PQgetvalue(r, i, 2),
                                   (size_t)PQgetlength(r, i, 2)),
                    RD_KAFKA_V_VALUE(val, vlen), RD_KAFKA_V_HEADERS(hd),
                    RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL &&
               !gh_shutdown_expired())
            rd_kafka_poll(h->producer, gh_shutdown_clamp_ms(50));
        gh_free_secret(plain, vlen);
        if (err) /* not queued: the headers are still ours */
            rd_kafka_headers_destroy(hd);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            h->left_outbox = n;
            e = gh_seterr(errstr, errstr_size, GH_ERR_TIMED_OUT,
                          "producer queue full when shutdown.timeout.ms ran "
                          "out");
        } else if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
            e = set_aside_size(db, id, vlen, errstr, errstr_size);
        } else if (err) {
            e = gh_seterr(errstr, errstr_size, GH_ERR_KAFKA, "produce view: %s",
                          rd_kafka_err2str(err));
        } else {
            h->pending++;
        }
    }
    PQclear(r);
    if (!e) e = gh__hub_drain(h, errstr, errstr_size);
    if (e == GH_ERR_TIMED_OUT) h->left_outbox = n;
    for (int i = 0; !e && i < h->ntoo_large; i++)
        e = set_aside_size(db, h->too_large[i], 0, errstr, errstr_size);
    h->ntoo_large = 0;
    /* The rows read, not every id up to the last: a row written outside
     * the views lock (a signed tree head) may commit with a smaller id
     * after this page was read, and is sent by the next page. */
    const char *pd[1] = {gh_sqlarr_get(&sent)};
    if (!e)
        e = gh_pg_exec_what(db,
                            "DELETE FROM outbox WHERE id = ANY ($1::int8[])", 1,
                            pd, "trim outbox", errstr, errstr_size);
    gh_sqlarr_free(&sent);
    if (e) return e;
    gh_hub_metrics_relayed(h->metrics, n);
    *np = n;
    return GH_OK;
}

/* Several hub instances share one outbox: one relays at a time, each page
 * in a transaction holding this lock, so that no instance sends a row that
 * another has sent and deleted, after that other sent a newer record of
 * the same key (the newest record of a key must stay the last one). An
 * instance that finds the lock taken leaves the rows to the one holding
 * it, or to its own next turn. A lock of its own, not the views lock
 * (gh_resolver_lock_views, which it shared by accident of numbering):
 * the writers of the feeds hold that one until they commit, so their rows
 * commit in id order, and the relay need not wait for them. */
#define RELAY_LOCK "7274003"

/* A crash between sending and deleting republishes: subscribers may see a
 * view record twice, always with the same person version (documented). */
gh_err_t gh__hub_relay(gh__out_t *h, PGconn *db, int *busy, char *errstr,
                       size_t errstr_size) {
    char lim[32];
    snprintf(lim, sizeof(lim), "%lld",
             gh_conf_get_int(h->conf, "outbox.batch"));
    for (;;) {
        int n = 0, mine = 0;
        gh_err_t e = gh_pg_exec(db, "BEGIN", errstr, errstr_size);
        if (!e) {
            PGresult *r = gh_pg_query_what(
                db, "SELECT pg_try_advisory_xact_lock(" RELAY_LOCK ")", 0, NULL,
                "take the relay lock", errstr, errstr_size);
            if (!r)
                e = GH_ERR_PG;
            else
                mine = PQgetvalue(r, 0, 0)[0] == 't';
            PQclear(r);
        }
        if (!e && mine) e = relay_page(h, db, lim, &n, errstr, errstr_size);
        if (!e) e = gh_pg_exec(db, "COMMIT", errstr, errstr_size);
        if (e) {
            char ignore[256];
            if (PQtransactionStatus(db) != PQTRANS_IDLE)
                gh_pg_exec(db, "ROLLBACK", ignore, sizeof(ignore));
            return e;
        }
        if (busy) *busy = !mine;
        if (!mine || n < atoi(lim)) return GH_OK;
        if (gh_shutdown_expired()) {
            h->left_outbox = -1; /* more pages, not counted */
            return gh_seterr(errstr, errstr_size, GH_ERR_TIMED_OUT,
                             "outbox not empty when shutdown.timeout.ms ran "
                             "out");
        }
    }
}
