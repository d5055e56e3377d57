/* One row change into events, dead letters and Kafka messages. */
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

#define LOG "connector"

const char *const gh__cn_op_syms[5] = {"c", "u", "d", "r", "t"};

gh_err_t gh__cn_produce(cn_t *c, const char *topic, const void *key,
                        size_t klen, const void *val, size_t vlen,
                        gh_ack_txn_t *txn, char *errstr, size_t errstr_size) {
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            c->rk, RD_KAFKA_V_TOPIC(topic),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, klen),
            RD_KAFKA_V_VALUE((void *)val, vlen), RD_KAFKA_V_OPAQUE(txn),
            RD_KAFKA_V_END);
        if (!err) {
            gh_ack_add(txn);
            return GH_OK;
        }
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return gh_seterr(errstr, errstr_size, GH_ERR_KAFKA,
                             "produce to %s: %s", topic, rd_kafka_err2str(err));
        if (gh_shutdown_expired())
            return gh_seterr(errstr, errstr_size, GH_ERR_STOPPED,
                             "stopped with the producer queue full");
        rd_kafka_poll(c->rk, gh_shutdown_clamp_ms(50));
    }
}

/* s[0..n) as a JSON string: UTF-8 kept, any other byte as \xHH. */
static json_t *json_escaped(const char *s, size_t n) {
    gh_buf_t b = {0};
    gh_buf_append(&b, "", 0);
    gh_utf8_escape(&b, s, n);
    json_t *j = json_stringn(b.data, b.len);
    gh_buf_free(&b);
    return j;
}

/* Longest column value a dead letter carries whole: the dead letter must
 * fit in a Kafka message even when the row is there for being too big. */
#define DL_VALUE_MAX 65536

/* A column value for a dead letter: a string if it is UTF-8, else
 * {"bytes_hex": "D5C5..."}, which keeps the exact bytes for a replay; a
 * value over DL_VALUE_MAX is {"truncated_from_bytes": n} instead. */
static json_t *json_value(const char *s, size_t n) {
    if (n > DL_VALUE_MAX)
        return json_pack("{s:I}", "truncated_from_bytes", (json_int_t)n);
    if (gh_utf8_valid(s, n, NULL) && !memchr(s, 0, n))
        return json_stringn(s, n);
    gh_buf_t b = {0};
    for (size_t i = 0; i < n; i++)
        gh_buf_printf(&b, "%02X", (unsigned char)s[i]);
    json_t *j = json_pack("{s:s}", "bytes_hex", b.data ? b.data : "");
    gh_buf_free(&b);
    return j;
}

/* Dead letter for a row that does not fit its mapping: the value is a JSON
 * document of the raw row so that a steward can read and replay it. */
gh_err_t gh__cn_dead_letter(cn_t *c, tstate_t *ts, const char *class, char op,
                            const gh_pgo_tuple_t *tup,
                            const char *const *colnames, const char *reason,
                            uint64_t lsn, gh_ack_txn_t *txn, char *errstr,
                            size_t errstr_size) {
    json_t *doc = json_object();
    json_object_set_new(doc, "department", json_string(c->dept));
    json_object_set_new(doc, "connector", json_string(c->name));
    json_object_set_new(doc, "schema", json_string(gh_map_table_schema(ts->t)));
    json_object_set_new(doc, "table", json_string(gh_map_table_name(ts->t)));
    char ops[2] = {op, 0};
    json_object_set_new(doc, "op", json_string(ops));
    char l[18];
    gh_lsn_format(lsn, l);
    json_object_set_new(doc, "lsn", json_string(l));
    json_object_set_new(doc, "reason", json_escaped(reason, strlen(reason)));
    /* Only the columns the mapping reads: the rest of a department's row
     * is not ours to copy. */
    int nmapped = 0;
    const char *const *mapped = gh_map_table_columns(ts->t, &nmapped);
    json_t *row = json_object();
    for (int i = 0; tup && i < tup->ncols; i++) {
        const gh_pgo_value_t *v = &tup->cols[i];
        const char *name = colnames ? colnames[i] : NULL;
        int wanted = !name;
        for (int k = 0; name && k < nmapped && !wanted; k++)
            wanted = !strcmp(mapped[k], name);
        if (!wanted) continue;
        char idx[16];
        if (!name) {
            snprintf(idx, sizeof(idx), "%d", i);
            name = idx;
        }
        json_t *key = json_escaped(name, strlen(name));
        json_object_set_new(row, json_string_value(key),
                            v->kind == GH_PGO_TEXT ? json_value(v->data, v->len)
                            : v->kind == GH_PGO_UNCHANGED
                                ? json_string("__unchanged__")
                                : json_null());
        json_decref(key);
    }
    json_object_set_new(doc, "row", row);
    char *text = json_dumps(doc, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(doc);
    if (!text)
        return gh_seterr(errstr, errstr_size, GH_ERR_NOMEM,
                         "cannot build the dead letter for %s.%s",
                         gh_map_table_schema(ts->t), gh_map_table_name(ts->t));
    char *reason_full = gh_xasprintf("%s (department %s)", reason, c->dept);
    char *comp = gh_xasprintf("connector:%s", c->name);
    /* Tracked like an event: the LSN is not confirmed before Kafka has the
     * dead letter, so a crash cannot lose it. */
    gh_err_t e = gh_kafka_produce_dead_letter(
        c->rk, c->dlq, c->key.data, c->key.len, text, strlen(text), comp,
        reason_full, NULL, 0, 0, txn, errstr, errstr_size);
    if (!e) gh_ack_add(txn);
    free(comp);
    free(reason_full);
    free(text);
    c->dead_letters++;
    gh_cn_metrics_dead_letter(c->metrics, class);
    gh_log_warn(LOG, "dead letter (%s.%s): %s", gh_map_table_schema(ts->t),
                gh_map_table_name(ts->t), reason);
    return e;
}

/* Fills ts->env with one event; key of the row into c->key. */
gh_err_t gh__cn_build_event(cn_t *c, tstate_t *ts, int op,
                            const gh_pgo_tuple_t *before,
                            const gh_pgo_tuple_t *after, uint64_t lsn,
                            int64_t seq, int snapshot, char *errstr,
                            size_t errstr_size) {
    avro_value_t *env = &ts->env, f, br, rec;
    avro_value_reset(env);
    gh_buf_reset(&c->key);
    avro_value_get_by_name(env, "op", &f, NULL);
    avro_value_set_enum(&f, ts->op_idx[op]);
    const gh_pgo_tuple_t *tups[2] = {before, after};
    const char *names[2] = {"before", "after"};
    for (int i = 0; i < 2; i++) {
        avro_value_get_by_name(env, names[i], &f, NULL);
        if (!tups[i]) {
            avro_value_set_branch(&f, 0, &br);
            avro_value_set_null(&br);
            continue;
        }
        avro_value_set_branch(&f, 1, &rec);
        /* The key comes from `after` when there is one. */
        gh_buf_t *kb = (i == 1 || !after) ? &c->key : &c->key2;
        gh_buf_reset(kb);
        gh_err_t e =
            gh_map_row(ts->t, tups[i]->cols, tups[i]->ncols, tups[i]->key_only,
                       &rec, kb, errstr, errstr_size);
        if (e) return e;
    }
    avro_value_t src, v;
    avro_value_get_by_name(env, "source", &src, NULL);
    avro_value_get_by_name(&src, "department", &v, NULL);
    avro_value_set_string(&v, c->dept);
    avro_value_get_by_name(&src, "connector", &v, NULL);
    avro_value_set_string(&v, c->name);
    avro_value_get_by_name(&src, "database", &v, NULL);
    avro_value_set_string(&v, c->dbname);
    avro_value_get_by_name(&src, "schema", &v, NULL);
    avro_value_set_string(&v, gh_map_table_schema(ts->t));
    avro_value_get_by_name(&src, "table", &v, NULL);
    avro_value_set_string(&v, gh_map_table_name(ts->t));
    avro_value_get_by_name(&src, "lsn", &v, NULL);
    avro_value_set_long(&v, (int64_t)lsn);
    avro_value_get_by_name(&src, "seq", &v, NULL);
    avro_value_set_long(&v, seq);
    avro_value_get_by_name(&src, "txid", &f, NULL);
    if (snapshot) {
        avro_value_set_branch(&f, 0, &br);
        avro_value_set_null(&br);
    } else {
        avro_value_set_branch(&f, 1, &br);
        avro_value_set_long(&br, c->xid);
    }
    avro_value_get_by_name(&src, "commit_time", &f, NULL);
    if (snapshot) {
        avro_value_set_branch(&f, 0, &br);
        avro_value_set_null(&br);
    } else {
        avro_value_set_branch(&f, 1, &br);
        avro_value_set_long(&br, c->commit_us);
    }
    avro_value_get_by_name(&src, "snapshot", &v, NULL);
    avro_value_set_enum(&v, ts->snap_idx[snapshot]);
    avro_value_get_by_name(env, "ts", &v, NULL);
    avro_value_set_long(&v, gh_wallclock_us());
    return GH_OK;
}

gh_err_t gh__cn_emit(cn_t *c, tstate_t *ts, int op,
                     const gh_pgo_tuple_t *before, const gh_pgo_tuple_t *after,
                     const char *const *colnames, uint64_t lsn, int64_t seq,
                     int snapshot, gh_ack_txn_t *txn, char *errstr,
                     size_t errstr_size) {
    char why[1024];
    gh_err_t e = gh__cn_build_event(c, ts, op, before, after, lsn, seq,
                                    snapshot, why, sizeof(why));
    if (e == GH_ERR_MAPPING) {
        e = gh__cn_dead_letter(c, ts, "mapping", gh__cn_op_syms[op][0],
                               after ? after : before, colnames, why, lsn, txn,
                               errstr, errstr_size);
        return e;
    }
    if (e) return gh_seterr(errstr, errstr_size, e, "%s", why);
    gh_buf_reset(&c->val);
    e = gh_serde_encode(c->serde, ts->topic, gh_map_table_envelope(ts->t),
                        &ts->env, &c->val, errstr, errstr_size);
    if (e) return e;
    if (c->val.len + c->key.len > c->max_msg) {
        /* Producing it would fail for good and stop the connector at the
         * same row after every restart: set it aside, loudly. */
        snprintf(why, sizeof(why),
                 "oversized: the event is %zu bytes, more than Kafka accepts "
                 "(%zu, from kafka.message.max.bytes)",
                 c->val.len + c->key.len, c->max_msg);
        gh_log_error(LOG, "%s.%s: %s; sent to %s instead",
                     gh_map_table_schema(ts->t), gh_map_table_name(ts->t), why,
                     c->dlq);
        return gh__cn_dead_letter(c, ts, "oversized", gh__cn_op_syms[op][0],
                                  after ? after : before, colnames, why, lsn,
                                  txn, errstr, errstr_size);
    }
    e = gh__cn_produce(c, ts->topic, c->key.data, c->key.len, c->val.data,
                       c->val.len, txn, errstr, errstr_size);
    if (e) return e;
    c->events++;
    if (op == OP_D) /* tombstone, so compaction can forget the row */
        e = gh__cn_produce(c, ts->topic, c->key.data, c->key.len, NULL, 0, txn,
                           errstr, errstr_size);
    return e;
}
