/* The replication stream: relations, row changes, heartbeats. */
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

#include "repl.h"

#define LOG "connector"

static tstate_t *ts_for(cn_t *c, gh_map_table_t *t) {
    for (int i = 0; i < c->nts; i++)
        if (c->ts[i].t == t) return &c->ts[i];
    return NULL;
}

static relinfo_t *rel_get(cn_t *c, uint32_t relid) {
    for (int i = 0; i < c->nrels; i++)
        if (c->rels[i].relid == relid) return &c->rels[i];
    return NULL;
}

static gh_err_t on_relation(cn_t *c, const gh_pgo_msg_t *m, char *errstr,
                            size_t errstr_size) {
    relinfo_t *ri = rel_get(c, m->relid);
    if (!ri) {
        c->rels =
            gh_xrealloc(c->rels, (size_t)(c->nrels + 1) * sizeof(*c->rels));
        ri = &c->rels[c->nrels++];
        memset(ri, 0, sizeof(*ri));
        ri->relid = m->relid;
    }
    free(ri->nsp);
    free(ri->rel);
    ri->nsp = gh_xstrdup(m->nspname);
    ri->rel = gh_xstrdup(m->relname);
    for (int i = 0; i < ri->ncols; i++)
        free(ri->colnames[i]);
    free(ri->colnames);
    ri->ncols = m->ncolumns;
    ri->colnames =
        gh_xcalloc((size_t)(m->ncolumns ? m->ncolumns : 1), sizeof(char *));
    for (int i = 0; i < m->ncolumns; i++)
        ri->colnames[i] = gh_xstrdup(m->columns[i].name);
    gh_map_table_t *maps[16];
    int n = gh_mapping_find_all(c->map, m->nspname, m->relname, maps, 16);
    if (n > 16)
        return gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                         "%s.%s is mapped %d times; at most 16 supported",
                         m->nspname, m->relname, n);
    for (int i = 0; i < ri->nts; i++)
        free(ri->bind_err[i]);
    free(ri->ts);
    free(ri->bind_err);
    ri->ts = gh_xcalloc((size_t)(n ? n : 1), sizeof(tstate_t *));
    ri->bind_err = gh_xcalloc((size_t)(n ? n : 1), sizeof(char *));
    ri->nts = n;
    for (int i = 0; i < n; i++) {
        ri->ts[i] = ts_for(c, maps[i]);
        char why[512];
        if (gh_map_table_bind(maps[i], ri->ncols,
                              (const char *const *)ri->colnames, why,
                              sizeof(why))) {
            /* Exiting would stop every table while the slot holds WAL. */
            ri->bind_err[i] = gh_xasprintf(
                "%s (dropped or renamed?): the rows of %s.%s go to the "
                "dead-letter topic until the table or the mapping is fixed",
                why, m->nspname, m->relname);
            gh_log_error(LOG, "%s", ri->bind_err[i]);
        }
    }
    return GH_OK;
}

static int keys_differ(tstate_t *ts, const gh_pgo_tuple_t *old,
                       const gh_pgo_tuple_t *new_) {
    char err[256];
    gh_buf_t a = {0}, b = {0};
    avro_value_t env, f, rec;
    /* Map both into the envelope's after slot only to compute their keys. */
    env = ts->env;
    avro_value_get_by_name(&env, "after", &f, NULL);
    avro_value_set_branch(&f, 1, &rec);
    int ea = gh_map_row(ts->t, old->cols, old->ncols, old->key_only, &rec, &a,
                        err, sizeof(err));
    int eb = gh_map_row(ts->t, new_->cols, new_->ncols, 0, &rec, &b, err,
                        sizeof(err));
    int differ =
        !ea && !eb && strcmp(a.data ? a.data : "", b.data ? b.data : "");
    gh_buf_free(&a);
    gh_buf_free(&b);
    return differ;
}

/* One row change for one of the table's mappings. */
static gh_err_t on_row_change(cn_t *c, relinfo_t *ri, tstate_t *ts,
                              const char *bind_err, const gh_pgo_msg_t *m,
                              char *errstr, size_t errstr_size) {
    const char *const *cols = (const char *const *)ri->colnames;
    const gh_pgo_tuple_t *nt = &m->new_tuple, *ot = &m->old_tuple;
    const char *unreadable = c->enc_bad ? c->enc_why : bind_err;
    if (unreadable) {
        gh_buf_reset(&c->key); /* the key may be what is unreadable */
        return gh__cn_dead_letter(c, ts, c->enc_bad ? "encoding" : "layout",
                                  m->kind == 'I'   ? 'c'
                                  : m->kind == 'U' ? 'u'
                                                   : 'd',
                                  m->kind == 'D' ? ot : nt, cols, unreadable,
                                  c->final_lsn, c->txn, errstr, errstr_size);
    }
    switch (m->kind) {
    case 'I':
        if (!gh_map_row_matches(ts->t, nt->cols, nt->ncols)) return GH_OK;
        return gh__cn_emit(c, ts, OP_C, NULL, nt, cols, c->final_lsn, ++c->seq,
                           0, c->txn, errstr, errstr_size);
    case 'U':
        if (!gh_map_row_matches(ts->t, nt->cols, nt->ncols))
            /* The row left the mapping's filter (e.g. a registration was
             * cancelled): for subscribers it is gone. */
            return gh__cn_emit(c, ts, OP_D, nt, NULL, cols, c->final_lsn,
                               ++c->seq, 0, c->txn, errstr, errstr_size);
        if (m->old_kind == 'K' && keys_differ(ts, ot, nt)) {
            /* A new primary key is a new row for subscribers (as Debezium
             * does it): delete + tombstone of the old key, create of the
             * new. */
            gh_err_t e = gh__cn_emit(c, ts, OP_D, ot, NULL, cols, c->final_lsn,
                                     ++c->seq, 0, c->txn, errstr, errstr_size);
            if (e) return e;
            return gh__cn_emit(c, ts, OP_C, NULL, nt, cols, c->final_lsn,
                               ++c->seq, 0, c->txn, errstr, errstr_size);
        }
        return gh__cn_emit(c, ts, OP_U, m->old_kind == 'O' ? ot : NULL, nt,
                           cols, c->final_lsn, ++c->seq, 0, c->txn, errstr,
                           errstr_size);
    case 'D':
        return gh__cn_emit(c, ts, OP_D, ot, NULL, cols, c->final_lsn, ++c->seq,
                           0, c->txn, errstr, errstr_size);
    }
    return GH_OK;
}

static gh_err_t on_change(cn_t *c, const gh_pgo_msg_t *m, uint64_t lsn,
                          char *errstr, size_t errstr_size) {
    if (!c->txn)
        return gh_seterr(errstr, errstr_size, GH_ERR_PROTOCOL,
                         "row change outside a transaction");
    if (m->kind == 'T') {
        gh_err_t e = GH_OK;
        for (int i = 0; i < m->nrelids && !e; i++) {
            relinfo_t *ri = rel_get(c, m->relids[i]);
            for (int k = 0; ri && k < ri->nts && !e; k++) {
                tstate_t *ts = ri->ts[k];
                e = gh__cn_build_event(c, ts, OP_T, NULL, NULL, c->final_lsn,
                                       ++c->seq, 0, errstr, errstr_size);
                if (e) break;
                gh_buf_reset(&c->key);
                gh_buf_printf(&c->key, "__truncate__:%s.%s", ri->nsp, ri->rel);
                gh_buf_reset(&c->val);
                e = gh_serde_encode(c->serde, ts->topic,
                                    gh_map_table_envelope(ts->t), &ts->env,
                                    &c->val, errstr, errstr_size);
                if (!e)
                    e = gh__cn_produce(c, ts->topic, c->key.data, c->key.len,
                                       c->val.data, c->val.len, c->txn, errstr,
                                       errstr_size);
                c->events++;
            }
        }
        return e;
    }
    relinfo_t *ri = rel_get(c, m->relid);
    if (!ri)
        return gh_seterr(errstr, errstr_size, GH_ERR_PROTOCOL,
                         "change for relation %u before its RELATION message",
                         m->relid);
    (void)lsn;
    gh_err_t e = GH_OK;
    for (int k = 0; k < ri->nts && !e; k++)
        e = on_row_change(c, ri, ri->ts[k], ri->bind_err[k], m, errstr,
                          errstr_size);
    return e;
}

/* Checks (and converts, see encoding.h) the text of a change's tuples in
 * place; a failure is remembered in c->enc_bad for on_row_change. */
static void text_check(cn_t *c, gh_pgo_msg_t *m) {
    c->enc_bad = 0;
    gh_enc_reset(c->enc);
    gh_pgo_tuple_t *tups[2] = {&m->new_tuple, &m->old_tuple};
    for (int i = 0; i < 2 && !c->enc_bad; i++) {
        int bad = 0;
        char why[480];
        if (!gh_enc_values(c->enc, tups[i]->cols, tups[i]->ncols, &bad, why,
                           sizeof(why)))
            continue;
        relinfo_t *ri = rel_get(c, m->relid);
        const char *col = ri && bad < ri->ncols ? ri->colnames[bad] : "?";
        snprintf(c->enc_why, sizeof(c->enc_why), "column %s: %s", col, why);
        c->enc_bad = 1;
    }
}

static gh_err_t heartbeat(cn_t *c, char *errstr, size_t errstr_size) {
    char l[18];
    gh_lsn_format(c->received, l);
    char *v = gh_xasprintf(
        "{\"connector\":\"%s\",\"department\":\"%s\",\"lsn\":\"%s\","
        "\"ts_us\":%" PRId64 "}",
        c->name, c->dept, l, gh_wallclock_us());
    gh_ack_txn_t *t = gh_ack_begin(&c->ack);
    gh_err_t e = gh__cn_produce(c, c->hb_topic, c->name, strlen(c->name), v,
                                strlen(v), t, errstr, errstr_size);
    gh_ack_close(&c->ack, t, c->received, 0);
    free(v);
    return e;
}

gh_err_t gh__cn_stream(cn_t *c, PGconn *repl, char *errstr,
                       size_t errstr_size) {
    gh_pgo_msg_t m;
    memset(&m, 0, sizeof(m));
    gh_repl_msg_t rm;
    memset(&rm, 0, sizeof(rm));
    int64_t status_every = gh_conf_get_int(c->conf, "status.interval.ms");
    int64_t hb_every = gh_conf_get_int(c->conf, "heartbeat.interval.ms");
    int64_t stats_every = gh_conf_get_int(c->conf, "stats.interval.ms");
    int64_t last_status = 0, last_hb = gh_now_ms(), last_stats = gh_now_ms();
    long long last_events = c->events;
    uint64_t last_sent_flush = 0;
    gh_err_t e = GH_OK;
    while (!e) {
        int wait = 100;
        int n = gh_repl_read(repl, &rm, wait, errstr, errstr_size);
        if (n < 0) {
            e = GH_ERR_PG_CONNECT;
            break;
        }
        int reply = 0;
        if (n == 1 && rm.type == 'w') {
            e = gh_pgo_decode(rm.payload, rm.payload_len, &m, errstr,
                              errstr_size);
            if (e) break;
            switch (m.kind) {
            case 'B':
                c->txn = gh_ack_begin(&c->ack);
                c->final_lsn = m.final_lsn;
                c->commit_us = m.commit_time_us;
                c->xid = m.xid;
                c->seq = 0;
                break;
            case 'C':
                if (c->txn)
                    gh_ack_close(&c->ack, c->txn, m.end_lsn, c->commit_us);
                c->txn = NULL;
                if (m.end_lsn > c->received) c->received = m.end_lsn;
                break;
            case 'R':
                e = on_relation(c, &m, errstr, errstr_size);
                break;
            case 'I':
            case 'U':
            case 'D':
                text_check(c, &m);
                e = on_change(c, &m, rm.data_start, errstr, errstr_size);
                break;
            case 'T':
                e = on_change(c, &m, rm.data_start, errstr, errstr_size);
                break;
            default:
                break;
            }
            rd_kafka_poll(c->rk, 0);
        } else if (n == 1 && rm.type == 'k') {
            /* Between transactions the server's position is safe to confirm
             * once everything before it is delivered (see heartbeat). */
            if (!c->txn && rm.wal_end > c->received) c->received = rm.wal_end;
            reply = rm.reply_requested;
        } else {
            rd_kafka_poll(c->rk, 0);
        }
        if (e) break;
        gh_cn_metrics_tick(c->metrics, c->db, &c->ack, c->events, c->received);
        char fatal[512];
        if (rd_kafka_fatal_error(c->rk, fatal, sizeof(fatal)))
            return gh_seterr(errstr, errstr_size, GH_ERR_KAFKA,
                             "Kafka producer failed fatally: %s", fatal);
        if (c->ack.failed)
            return gh_seterr(errstr, errstr_size, GH_ERR_KAFKA,
                             "delivery failed: %s", c->ack.failure);
        int64_t now = gh_now_ms();
        if (!c->txn && gh_ack_idle(&c->ack) && c->received > c->ack.confirmed &&
            now - last_hb >= hb_every) {
            e = heartbeat(c, errstr, errstr_size);
            last_hb = now;
        }
        if (reply || now - last_status >= status_every ||
            c->ack.confirmed > last_sent_flush + (1 << 24)) {
            e = gh_repl_send_status(
                repl,
                c->received > c->ack.confirmed ? c->received : c->ack.confirmed,
                c->ack.confirmed, 0, errstr, errstr_size);
            last_sent_flush = c->ack.confirmed;
            last_status = now;
        }
        if (now - last_stats >= stats_every) {
            gh__cn_log_stats(c, "stats", &c->ack.latency_window,
                             c->events - last_events, now - last_stats);
            gh_hist_reset(&c->ack.latency_window);
            last_events = c->events;
            last_stats = now;
        }
        /* Stop taking new work, but read a transaction already begun to
         * its end (within the budget) so that it can be confirmed. */
        if (gh_shutdown_requested() && (!c->txn || gh_shutdown_expired()))
            break;
    }
    gh_repl_release(&rm);
    gh_pgo_msg_free(&m);
    if (!e && gh_shutdown_requested()) {
        /* Let Kafka acknowledge what was read, within the budget, and
         * confirm it before leaving; the rest PostgreSQL resends. */
        while (!gh_ack_settled(&c->ack) && !c->ack.failed &&
               !gh_shutdown_expired())
            rd_kafka_poll(c->rk, gh_shutdown_clamp_ms(100));
        char ignore[256];
        gh_repl_send_status(repl, c->ack.confirmed, c->ack.confirmed, 0, ignore,
                            sizeof(ignore));
        return GH_ERR_STOPPED;
    }
    return e;
}

/* A SQL_ASCII database stores bytes as typed and PostgreSQL refuses to
 * send anything but valid UTF-8 to a UTF8 client, so one unconvertible row
 * would stop the snapshot or the stream for good. Such a database is read
 * as raw bytes and checked or converted here instead (encoding.h);
 * source.encoding only makes sense for it. */
