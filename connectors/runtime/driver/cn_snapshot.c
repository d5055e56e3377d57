/* The consistent snapshot of every mapped table, and its end markers. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cn_int.h"
#include "gridhub/avro.h"
#include "gridhub/kafka.h"
#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "gridhub/shutdown.h"

#include "copy_text.h"

#define LOG "connector"

/* After a table's snapshot rows, a marker on every partition of its topic
 * (a null value under key "__snapshot__:<schema>.<table>", with headers
 * gh.snapshot.table, gh.snapshot.lsn and gh.snapshot.partitions): per
 * partition it follows every row of the snapshot, so a consumer that has
 * seen it on all partitions knows which rows the table holds — those at
 * the snapshot's position — and that any other it keeps was deleted. */
static gh_err_t snapshot_marker(cn_t *c, tstate_t *ts, uint64_t lsn,
                                gh_ack_txn_t *txn, char *errstr,
                                size_t errstr_size) {
    int parts = 0;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(c->rk, ts->topic, NULL);
    for (int attempt = 0; !parts && attempt < 30 && !gh_shutdown_requested();
         attempt++) {
        const struct rd_kafka_metadata *md = NULL;
        if (!rd_kafka_metadata(c->rk, 0, rkt, &md, 2000) &&
            md->topic_cnt == 1 && !md->topics[0].err)
            parts = md->topics[0].partition_cnt;
        if (md) rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(rkt);
    if (!parts)
        return gh_seterr(errstr, errstr_size, GH_ERR_KAFKA,
                         "snapshot of %s.%s: cannot learn the partitions of "
                         "%s for its end marker",
                         gh_map_table_schema(ts->t), gh_map_table_name(ts->t),
                         ts->topic);
    char *key = gh_xasprintf("__snapshot__:%s.%s", gh_map_table_schema(ts->t),
                             gh_map_table_name(ts->t));
    char lsnt[32], pt[16];
    snprintf(lsnt, sizeof(lsnt), "%" PRIu64, lsn);
    snprintf(pt, sizeof(pt), "%d", parts);
    gh_err_t e = GH_OK;
    for (int p = 0; p < parts && !e; p++) {
        rd_kafka_headers_t *h = rd_kafka_headers_new(3);
        rd_kafka_header_add(h, "gh.snapshot.table", -1, key + 13, -1);
        rd_kafka_header_add(h, "gh.snapshot.lsn", -1, lsnt, -1);
        rd_kafka_header_add(h, "gh.snapshot.partitions", -1, pt, -1);
        rd_kafka_resp_err_t err;
        while ((err = rd_kafka_producev(
                    c->rk, RD_KAFKA_V_TOPIC(ts->topic), RD_KAFKA_V_PARTITION(p),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                    RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_HEADERS(h),
                    RD_KAFKA_V_OPAQUE(txn), RD_KAFKA_V_END)) ==
                   RD_KAFKA_RESP_ERR__QUEUE_FULL &&
               !gh_shutdown_expired())
            rd_kafka_poll(c->rk, 50);
        if (err) {
            rd_kafka_headers_destroy(h);
            e = gh_seterr(errstr, errstr_size, GH_ERR_KAFKA,
                          "snapshot marker to %s [%d]: %s", ts->topic, p,
                          rd_kafka_err2str(err));
        } else {
            gh_ack_add(txn);
        }
    }
    free(key);
    return e;
}

gh_err_t gh__cn_snapshot(cn_t *c, PGconn *db, const char *snapname,
                         uint64_t lsn, char *errstr, size_t errstr_size) {
    gh_err_t e =
        gh_pg_exec(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                   errstr, errstr_size);
    if (e) return e;
    char *lit = PQescapeLiteral(db, snapname, strlen(snapname));
    char *sql = gh_xasprintf("SET TRANSACTION SNAPSHOT %s", lit);
    PQfreemem(lit);
    e = gh_pg_exec(db, sql, errstr, errstr_size);
    free(sql);
    if (e) return e;
    gh_ack_txn_t *txn = gh_ack_begin(&c->ack);
    gh_pgo_value_t *vals = NULL;
    long long total = 0;
    int64_t t0 = gh_now_ms();
    for (int i = 0; i < c->nts && !e; i++) {
        tstate_t *ts = &c->ts[i];
        int ncols;
        const char *const *cols = gh_map_table_columns(ts->t, &ncols);
        e = gh_map_table_bind(ts->t, ncols, cols, errstr, errstr_size);
        if (e) break;
        gh_buf_t q = {0};
        gh_buf_puts(&q, "COPY (SELECT ");
        for (int k = 0; k < ncols; k++) {
            char *id = PQescapeIdentifier(db, cols[k], strlen(cols[k]));
            gh_buf_printf(&q, "%s%s", k ? ", " : "", id);
            PQfreemem(id);
        }
        char *qs = PQescapeIdentifier(db, gh_map_table_schema(ts->t),
                                      strlen(gh_map_table_schema(ts->t)));
        char *qt = PQescapeIdentifier(db, gh_map_table_name(ts->t),
                                      strlen(gh_map_table_name(ts->t)));
        gh_buf_printf(&q, " FROM %s.%s) TO STDOUT", qs, qt);
        PQfreemem(qs);
        PQfreemem(qt);
        PGresult *r = PQexec(db, q.data);
        gh_buf_free(&q);
        if (PQresultStatus(r) != PGRES_COPY_OUT) {
            e = gh_pg_result_error(r, db, "snapshot COPY", errstr, errstr_size);
            PQclear(r);
            break;
        }
        PQclear(r);
        vals = gh_xrealloc(vals, (size_t)ncols * sizeof(*vals));
        long long rows = 0;
        for (;;) {
            char *line = NULL;
            int n = PQgetCopyData(db, &line, 0);
            if (n == -1) break;
            if (n < 0) {
                e = gh_seterr(errstr, errstr_size, GH_ERR_PG_CONNECT,
                              "snapshot COPY: %s", PQerrorMessage(db));
                break;
            }
            gh_pgo_tuple_t tup = {ncols, vals, 0};
            if (gh_copy_text_split(line, (size_t)n, vals, ncols)) {
                PQfreemem(line);
                e = gh_seterr(errstr, errstr_size, GH_ERR_PROTOCOL,
                              "snapshot COPY of %s.%s: malformed row",
                              gh_map_table_schema(ts->t),
                              gh_map_table_name(ts->t));
                break;
            }
            int bad = 0;
            char why[600];
            gh_enc_reset(c->enc);
            if (gh_enc_values(c->enc, vals, ncols, &bad, why, sizeof(why))) {
                char *reason = gh_xasprintf("column %s: %s", cols[bad], why);
                gh_buf_reset(&c->key); /* the key may be what is unreadable */
                e = gh__cn_dead_letter(c, ts, "encoding", 'r', &tup, cols,
                                       reason, lsn, txn, errstr, errstr_size);
                free(reason);
                PQfreemem(line);
                if (e) break;
                continue;
            }
            if (!gh_map_row_matches(ts->t, vals, ncols)) {
                PQfreemem(line);
                continue;
            }
            e = gh__cn_emit(c, ts, OP_R, NULL, &tup, cols, lsn, 0, 1, txn,
                            errstr, errstr_size);
            PQfreemem(line);
            if (e) break;
            rows++;
            gh_cn_metrics_progress(c->metrics, c->events);
            if ((rows & 1023) == 0) rd_kafka_poll(c->rk, 0);
        }
        r = PQgetResult(db);
        if (!e && PQresultStatus(r) != PGRES_COMMAND_OK)
            e = gh_pg_result_error(r, db, "snapshot COPY", errstr, errstr_size);
        PQclear(r);
        while ((r = PQgetResult(db)))
            PQclear(r);
        total += rows;
        if (!e) e = snapshot_marker(c, ts, lsn, txn, errstr, errstr_size);
        if (!e)
            gh_log_info(LOG, "snapshot of %s.%s: %lld rows",
                        gh_map_table_schema(ts->t), gh_map_table_name(ts->t),
                        rows);
    }
    free(vals);
    gh_ack_close(&c->ack, txn, 0, 0);
    char ignore[256];
    gh_pg_exec(db, "COMMIT", ignore, sizeof(ignore));
    if (e) return e;
    /* The snapshot counts as done only once Kafka has all of it. */
    while (!gh_ack_idle(&c->ack) && !c->ack.failed) {
        rd_kafka_poll(c->rk, 100);
        if (gh_shutdown_requested())
            return gh_seterr(errstr, errstr_size, GH_ERR_STOPPED,
                             "stopped during snapshot");
    }
    if (c->ack.failed)
        return gh_seterr(errstr, errstr_size, GH_ERR_KAFKA,
                         "snapshot delivery failed: %s", c->ack.failure);
    int64_t ms = gh_now_ms() - t0;
    gh_log_info(LOG, "snapshot done: %lld rows in %" PRId64 " ms (%.0f rows/s)",
                total, ms, ms > 0 ? total * 1000.0 / (double)ms : 0.0);
    return GH_OK;
}
