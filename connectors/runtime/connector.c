#include "connector.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ack.h"
#include "cn_metrics.h"
#include "copy_text.h"
#include "encoding.h"
#include "gridhub/avro.h"
#include "gridhub/kafka.h"
#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "gridhub/shutdown.h"
#include "gridhub/util.h"
#include "mapping.h"
#include "pgoutput.h"
#include "repl.h"
#include "state.h"

#define LOG "connector"

const gh_conf_prop_t gh_connector_props[] = {
    {"name", GH_CONF_STR, NULL, 1, 0, 0, NULL, NULL,
     "Connector name: unique per department database; names the state file "
     "and appears in every event's source.connector."},
    {"mapping.file", GH_CONF_STR, NULL, 1, 0, 0, NULL, NULL,
     "The department's declarative mapping (connectors/<department>/"
     "mapping.properties)."},
    {"database.conninfo", GH_CONF_STR, NULL, 1, 0, 0, NULL, NULL,
     "libpq connection string of the department database, e.g. `host=db "
     "port=5432 dbname=zongzhi user=cdc`. The user needs REPLICATION and "
     "SELECT on the mapped tables (and CREATE on the database if the "
     "publication is to be created)."},
    GH_KAFKA_CONF_PROPS,
    GH_SCHEMAS_DIR_PROP,
    {"schema.registry.url", GH_CONF_STR, "", 0, 0, 0, NULL, NULL,
     "If set, values use Confluent framing with ids from this Schema "
     "Registry; otherwise Avro single-object encoding."},
    {"source.encoding", GH_CONF_STR, "", 0, 0, 0, NULL, NULL,
     "What the bytes of a SQL_ASCII department database are (GBK, GB18030, "
     "BIG5, ...; any iconv name): converted to UTF-8 at the edge. Empty: "
     "the database's own encoding, which PostgreSQL converts (every "
     "connection asks for UTF8). Either way a value that is not well-formed "
     "is a dead letter naming its column."},
    {"topic.prefix", GH_CONF_STR, "gridhub", 0, 0, 0, NULL, NULL,
     "Events go to `<topic.prefix>.<department>.<entity>`."},
    {"slot.name", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "Replication slot; default `gridhub_<department>`."},
    {"publication.name", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "Publication; default `gridhub_<department>`."},
    {"publication.autocreate", GH_CONF_BOOL, "true", 0, 0, 0, NULL, NULL,
     "Create the publication (or add missing mapped tables to it) at start."},
    {"snapshot.mode", GH_CONF_ENUM, "initial", 0, 0, 0, "initial|always|never",
     NULL,
     "`initial`: read every mapped table once, consistently with the stream, "
     "when the slot is new; `always`: take a new snapshot at this start "
     "(drop the slot, snapshot, stream), the recovery when the broker lost "
     "events (docs/operations.md); `never`: stream only. After each table "
     "a marker on every partition of its topic tells the hub which rows the "
     "snapshot had, so rows deleted while events were lost are deleted in "
     "the hub too."},
    {"state.dir", GH_CONF_STR, "state", 0, 0, 0, NULL, NULL,
     "Directory for the connector's small state file (whether the snapshot "
     "of the current slot finished)."},
    {"heartbeat.interval.ms", GH_CONF_INT, "10000", 0, 100, 3600000, NULL, NULL,
     "On an idle database, publish a heartbeat this often and, once Kafka "
     "acknowledged it, confirm the server's position so the slot does not "
     "hold WAL."},
    {"heartbeat.topic", GH_CONF_STR, "gridhub.heartbeat", 0, 0, 0, NULL, NULL,
     "Topic of heartbeat records."},
    {"stats.interval.ms", GH_CONF_INT, "30000", 0, 100, 86400000, NULL, NULL,
     "How often a `stats:` line (events, rate, commit-to-acknowledgement "
     "latency p50/p99/max) is logged."},
    {"status.interval.ms", GH_CONF_INT, "1000", 0, 10, 60000, NULL, NULL,
     "How often the confirmed position is reported to PostgreSQL."},
    GH_CONF_DLQ_PROP("rows that do not fit the mapping"),
    GH_CONF_RETRY_PROPS,
    GH_SHUTDOWN_TIMEOUT_PROP,
    GH_METRICS_PROPS,
    GH_CONF_LOG_PROPS,
    GH_CONF_END};

typedef struct tstate {
    gh_map_table_t *t;
    avro_value_t env;
    char *topic;
    int op_idx[5];   /* c u d r t */
    int snap_idx[3]; /* false true last */
} tstate_t;

typedef struct relinfo {
    uint32_t relid;
    tstate_t **ts; /* the mappings of this table (none: not captured) */
    int nts;
    char *nsp, *rel;
    char **colnames; /* current column layout, for dead letters */
    int ncols;
    /* Per mapping: why it cannot read the current layout (a mapped column
     * dropped or renamed), NULL if it can. Its rows become dead letters
     * until the table or the mapping is fixed; the rest streams on. */
    char **bind_err;
} relinfo_t;

typedef struct cn {
    const gh_conf_t *conf;
    const char *name, *dept, *dlq, *hb_topic;
    char *slot, *pub, *dbname, *state_path;
    gh_schemas_t *schemas;
    gh_serde_t *serde;
    gh_mapping_t *map;
    rd_kafka_t *rk;
    gh_ack_t ack;
    tstate_t *ts;
    int nts;
    relinfo_t *rels;
    int nrels;
    gh_buf_t key, val, key2;
    uint64_t received;
    /* current transaction */
    gh_ack_txn_t *txn;
    uint64_t final_lsn;
    int64_t seq, commit_us;
    uint32_t xid;
    long long events, dead_letters;
    int closing;        /* purging at exit: failed reports are expected */
    size_t max_msg;     /* largest message Kafka takes (gh_kafka_max_message) */
    int snapshot_taken; /* snapshot.mode=always: once per process */
    gh_enc_t *enc;
    /* The current change's tuples could not be read as text: each mapping
     * of the table dead-letters it for this reason. */
    int enc_bad;
    char enc_why[512];
    gh_cn_metrics_t *metrics;
    PGconn *db; /* the session's normal connection, idle while streaming */
} cn_t;

enum { OP_C, OP_U, OP_D, OP_R, OP_T };
static const char *const op_syms[] = {"c", "u", "d", "r", "t"};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    cn_t *c = opaque;
    if (!m->_private) return;
    if (m->err && !c->closing)
        gh_log_error(LOG, "delivery to %s failed: %s",
                     rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
    gh_ack_done(&c->ack, m->_private, m->err == 0, rd_kafka_err2str(m->err));
}

static gh_err_t produce(cn_t *c, const char *topic, const void *key,
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
static gh_err_t dead_letter(cn_t *c, tstate_t *ts, const char *class, char op,
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
static gh_err_t build_event(cn_t *c, tstate_t *ts, int op,
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

static gh_err_t emit(cn_t *c, tstate_t *ts, int op,
                     const gh_pgo_tuple_t *before, const gh_pgo_tuple_t *after,
                     const char *const *colnames, uint64_t lsn, int64_t seq,
                     int snapshot, gh_ack_txn_t *txn, char *errstr,
                     size_t errstr_size) {
    char why[1024];
    gh_err_t e = build_event(c, ts, op, before, after, lsn, seq, snapshot, why,
                             sizeof(why));
    if (e == GH_ERR_MAPPING) {
        e = dead_letter(c, ts, "mapping", op_syms[op][0],
                        after ? after : before, colnames, why, lsn, txn, errstr,
                        errstr_size);
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
        return dead_letter(c, ts, "oversized", op_syms[op][0],
                           after ? after : before, colnames, why, lsn, txn,
                           errstr, errstr_size);
    }
    e = produce(c, ts->topic, c->key.data, c->key.len, c->val.data, c->val.len,
                txn, errstr, errstr_size);
    if (e) return e;
    c->events++;
    if (op == OP_D) /* tombstone, so compaction can forget the row */
        e = produce(c, ts->topic, c->key.data, c->key.len, NULL, 0, txn, errstr,
                    errstr_size);
    return e;
}

/* ---- setup -----------------------------------------------------------------
 */

static gh_err_t ensure_publication(cn_t *c, PGconn *db, char *errstr,
                                   size_t errstr_size) {
    const char *params[1] = {c->pub};
    PGresult *r =
        gh_pg_query(db, "SELECT 1 FROM pg_publication WHERE pubname = $1", 1,
                    params, errstr, errstr_size);
    if (!r) return GH_ERR_PG;
    int exists = PQntuples(r) > 0;
    PQclear(r);
    char *qp = PQescapeIdentifier(db, c->pub, strlen(c->pub));
    gh_err_t e = GH_OK;
    for (int i = 0; i < c->nts && !e; i++) {
        const char *s = gh_map_table_schema(c->ts[i].t),
                   *t = gh_map_table_name(c->ts[i].t);
        const char *p2[3] = {c->pub, s, t};
        r = gh_pg_query(
            db,
            "SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND "
            "schemaname = $2 AND tablename = $3",
            3, p2, errstr, errstr_size);
        if (!r) {
            e = GH_ERR_PG;
            break;
        }
        int in = PQntuples(r) > 0;
        PQclear(r);
        if (in) continue;
        if (!gh_conf_get_bool(c->conf, "publication.autocreate")) {
            e = gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                          "publication %s does not include %s.%s and "
                          "publication.autocreate=false",
                          c->pub, s, t);
            break;
        }
        char *qs = PQescapeIdentifier(db, s, strlen(s));
        char *qt = PQescapeIdentifier(db, t, strlen(t));
        char *sql = exists
                        ? gh_xasprintf("ALTER PUBLICATION %s ADD TABLE %s.%s",
                                       qp, qs, qt)
                        : gh_xasprintf("CREATE PUBLICATION %s FOR TABLE %s.%s",
                                       qp, qs, qt);
        e = gh_pg_exec(db, sql, errstr, errstr_size);
        if (!e) gh_log_info(LOG, "%s", sql);
        exists = 1;
        free(sql);
        PQfreemem(qs);
        PQfreemem(qt);
    }
    PQfreemem(qp);
    return e;
}

/* Returns 1 and the confirmed LSN if the slot exists, 0 if not, -1 on error. */
static int slot_state(cn_t *c, PGconn *db, uint64_t *confirmed, int *active_pid,
                      char *errstr, size_t errstr_size) {
    const char *params[1] = {c->slot};
    PGresult *r =
        gh_pg_query(db,
                    "SELECT confirmed_flush_lsn, active_pid, database, plugin "
                    "FROM pg_replication_slots WHERE slot_name = $1",
                    1, params, errstr, errstr_size);
    if (!r) return -1;
    int n = PQntuples(r);
    if (n) {
        *confirmed = 0;
        if (!PQgetisnull(r, 0, 0)) gh_lsn_parse(PQgetvalue(r, 0, 0), confirmed);
        *active_pid = PQgetisnull(r, 0, 1) ? 0 : atoi(PQgetvalue(r, 0, 1));
        if (strcmp(PQgetvalue(r, 0, 2), c->dbname) ||
            strcmp(PQgetvalue(r, 0, 3), "pgoutput")) {
            gh_seterr(
                errstr, errstr_size, GH_ERR_CONFIG,
                "replication slot %s belongs to database %s with plugin %s, "
                "not %s/pgoutput: choose another slot.name",
                c->slot, PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3), c->dbname);
            PQclear(r);
            return -2;
        }
    }
    PQclear(r);
    return n > 0;
}

static tstate_t *ts_for(cn_t *c, gh_map_table_t *t) {
    for (int i = 0; i < c->nts; i++)
        if (c->ts[i].t == t) return &c->ts[i];
    return NULL;
}

/* ---- snapshot
 * ---------------------------------------------------------------- */

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

static gh_err_t snapshot(cn_t *c, PGconn *db, const char *snapname,
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
                e = dead_letter(c, ts, "encoding", 'r', &tup, cols, reason, lsn,
                                txn, errstr, errstr_size);
                free(reason);
                PQfreemem(line);
                if (e) break;
                continue;
            }
            if (!gh_map_row_matches(ts->t, vals, ncols)) {
                PQfreemem(line);
                continue;
            }
            e = emit(c, ts, OP_R, NULL, &tup, cols, lsn, 0, 1, txn, errstr,
                     errstr_size);
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

/* ---- streaming
 * --------------------------------------------------------------- */

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
        return dead_letter(c, ts, c->enc_bad ? "encoding" : "layout",
                           m->kind == 'I'   ? 'c'
                           : m->kind == 'U' ? 'u'
                                            : 'd',
                           m->kind == 'D' ? ot : nt, cols, unreadable,
                           c->final_lsn, c->txn, errstr, errstr_size);
    }
    switch (m->kind) {
    case 'I':
        if (!gh_map_row_matches(ts->t, nt->cols, nt->ncols)) return GH_OK;
        return emit(c, ts, OP_C, NULL, nt, cols, c->final_lsn, ++c->seq, 0,
                    c->txn, errstr, errstr_size);
    case 'U':
        if (!gh_map_row_matches(ts->t, nt->cols, nt->ncols))
            /* The row left the mapping's filter (e.g. a registration was
             * cancelled): for subscribers it is gone. */
            return emit(c, ts, OP_D, nt, NULL, cols, c->final_lsn, ++c->seq, 0,
                        c->txn, errstr, errstr_size);
        if (m->old_kind == 'K' && keys_differ(ts, ot, nt)) {
            /* A new primary key is a new row for subscribers (as Debezium
             * does it): delete + tombstone of the old key, create of the
             * new. */
            gh_err_t e = emit(c, ts, OP_D, ot, NULL, cols, c->final_lsn,
                              ++c->seq, 0, c->txn, errstr, errstr_size);
            if (e) return e;
            return emit(c, ts, OP_C, NULL, nt, cols, c->final_lsn, ++c->seq, 0,
                        c->txn, errstr, errstr_size);
        }
        return emit(c, ts, OP_U, m->old_kind == 'O' ? ot : NULL, nt, cols,
                    c->final_lsn, ++c->seq, 0, c->txn, errstr, errstr_size);
    case 'D':
        return emit(c, ts, OP_D, ot, NULL, cols, c->final_lsn, ++c->seq, 0,
                    c->txn, errstr, errstr_size);
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
                e = build_event(c, ts, OP_T, NULL, NULL, c->final_lsn, ++c->seq,
                                0, errstr, errstr_size);
                if (e) break;
                gh_buf_reset(&c->key);
                gh_buf_printf(&c->key, "__truncate__:%s.%s", ri->nsp, ri->rel);
                gh_buf_reset(&c->val);
                e = gh_serde_encode(c->serde, ts->topic,
                                    gh_map_table_envelope(ts->t), &ts->env,
                                    &c->val, errstr, errstr_size);
                if (!e)
                    e = produce(c, ts->topic, c->key.data, c->key.len,
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
    gh_err_t e = produce(c, c->hb_topic, c->name, strlen(c->name), v, strlen(v),
                         t, errstr, errstr_size);
    gh_ack_close(&c->ack, t, c->received, 0);
    free(v);
    return e;
}

/* One parseable line: what flowed in the window and how long a committed
 * transaction took to be acknowledged by Kafka (commit -> ack). */
static void log_stats(cn_t *c, const char *what, const gh_hist_t *h,
                      long long events, int64_t window_ms) {
    char l[18];
    gh_lsn_format(c->ack.confirmed, l);
    gh_log_info(
        LOG,
        "%s: events=%lld rate=%.0f/s dead_letters=%lld txns=%llu "
        "p50_ms=%.2f p99_ms=%.2f max_ms=%.2f confirmed=%s inflight=%ld",
        what, events, window_ms > 0 ? events * 1000.0 / (double)window_ms : 0.0,
        c->dead_letters, (unsigned long long)h->n,
        gh_hist_quantile(h, 0.5) / 1000.0, gh_hist_quantile(h, 0.99) / 1000.0,
        h->max / 1000.0, l, c->ack.inflight_txns);
}

static gh_err_t stream(cn_t *c, PGconn *repl, char *errstr,
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
            log_stats(c, "stats", &c->ack.latency_window,
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
static gh_err_t raw_bytes_if_sql_ascii(cn_t *c, PGconn *db, char *errstr,
                                       size_t errstr_size) {
    const char *enc = PQparameterStatus(db, "server_encoding");
    const char *declared = gh_conf_get(c->conf, "source.encoding");
    if (!enc || strcmp(enc, "SQL_ASCII")) {
        if (declared && *declared)
            return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                             "source.encoding=%s, but database %s is %s, "
                             "which PostgreSQL converts itself: "
                             "source.encoding is for SQL_ASCII databases only",
                             declared, c->dbname, enc ? enc : "(unknown)");
        return GH_OK;
    }
    if (PQsetClientEncoding(db, "SQL_ASCII"))
        return gh_seterr(errstr, errstr_size, GH_ERR_PG_CONNECT,
                         "cannot read database %s as raw bytes: %s", c->dbname,
                         PQerrorMessage(db));
    return GH_OK;
}

/* One session: connect, (re)snapshot if needed, stream. Returns the error
 * that ended it. */
static gh_err_t session(cn_t *c, char *errstr, size_t errstr_size) {
    const char *ci = gh_conf_get(c->conf, "database.conninfo");
    int b0 = (int)gh_conf_get_int(c->conf, "retry.backoff.ms");
    int bmax = (int)gh_conf_get_int(c->conf, "retry.backoff.max.ms");
    PGconn *db = gh_pg_connect_retry(ci, 0, "department database", b0, bmax);
    if (!db) return gh_seterr(errstr, errstr_size, GH_ERR_STOPPED, "stopped");
    free(c->dbname);
    c->dbname = gh_xstrdup(PQdb(db));
    PGconn *repl = NULL;
    char *snapname = NULL;
    gh_err_t e = raw_bytes_if_sql_ascii(c, db, errstr, errstr_size);
    if (!e) e = ensure_publication(c, db, errstr, errstr_size);
    if (e) goto out;
    uint64_t confirmed = 0;
    int active = 0;
    int exists = slot_state(c, db, &confirmed, &active, errstr, errstr_size);
    if (exists < 0) {
        e = exists == -2 ? GH_ERR_CONFIG : GH_ERR_PG;
        goto out;
    }
    gh_state_t st;
    gh_state_read(c->state_path, &st);
    int snapshot_done = exists && st.snapshot_done && !strcmp(st.slot, c->slot);
    if (exists && active) {
        e = gh_seterr(
            errstr, errstr_size, GH_ERR_PG_CONNECT,
            "replication slot %s is still in use by server process %d "
            "(a previous connector session?)",
            c->slot, active);
        goto out;
    }
    repl = gh_pg_connect_retry(ci, 1, "department database (replication)", b0,
                               bmax);
    if (!repl) {
        e = gh_seterr(errstr, errstr_size, GH_ERR_STOPPED, "stopped");
        goto out;
    }
    e = raw_bytes_if_sql_ascii(c, repl, errstr, errstr_size);
    if (e) goto out;
    uint64_t start = 0;
    const char *mode = gh_conf_get(c->conf, "snapshot.mode");
    if (snapshot_done && !strcmp(mode, "always") && !c->snapshot_taken) {
        gh_log_warn(LOG,
                    "snapshot.mode=always: dropping slot %s and taking a new "
                    "snapshot",
                    c->slot);
        snapshot_done = 0;
    }
    if (!snapshot_done) {
        if (exists) {
            if (strcmp(mode, "always") || c->snapshot_taken)
                gh_log_warn(LOG,
                            "slot %s exists but its snapshot never finished: "
                            "dropping and starting over (subscribers may see "
                            "some rows twice)",
                            c->slot);
            char *lit = PQescapeLiteral(db, c->slot, strlen(c->slot));
            char *sql =
                gh_xasprintf("SELECT pg_drop_replication_slot(%s)", lit);
            PQfreemem(lit);
            e = gh_pg_exec(db, sql, errstr, errstr_size);
            free(sql);
            if (e) goto out;
        }
        uint64_t cp;
        e = gh_repl_create_slot(repl, c->slot, &cp, &snapname, errstr,
                                errstr_size);
        if (e) goto out;
        char l[18];
        gh_lsn_format(cp, l);
        gh_log_info(LOG, "created slot %s at %s", c->slot, l);
        if (strcmp(mode, "never")) {
            e = snapshot(c, db, snapname, cp, errstr, errstr_size);
            if (e) goto out;
        }
        c->snapshot_taken = 1;
        e = gh_state_write(c->state_path, c->slot, cp, errstr, errstr_size);
        if (e) goto out;
        start = cp;
        confirmed = cp;
    }
    c->ack.confirmed =
        confirmed > c->ack.confirmed ? confirmed : c->ack.confirmed;
    if (c->received < c->ack.confirmed) c->received = c->ack.confirmed;
    e = gh_repl_start(repl, c->slot, start, c->pub, errstr, errstr_size);
    if (e) goto out;
    {
        char l[18];
        gh_lsn_format(start ? start : confirmed, l);
        gh_log_info(LOG, "streaming %s from slot %s at %s", c->dbname, c->slot,
                    l);
    }
    c->db = db;
    e = stream(c, repl, errstr, errstr_size);
out:
    free(snapname);
    PQfinish(repl);
    PQfinish(db);
    return e;
}

/* Looks up the event topics once before any event exists, so that the
 * producer's metadata, leaders and (on the embedded broker) topic creation
 * are not paid for by the first committed transaction's latency. Best
 * effort: an unreachable cluster is retried by librdkafka anyway. */
static void warm_up(cn_t *c) {
    for (int i = 0; i < c->nts && !gh_shutdown_requested(); i++) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(c->rk, c->ts[i].topic, NULL);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err = rd_kafka_metadata(c->rk, 0, rkt, &md, 2000);
        if (err)
            gh_log_warn(LOG, "metadata for %s: %s (continuing)", c->ts[i].topic,
                        rd_kafka_err2str(err));
        if (md) rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
    }
}

static int retryable(gh_err_t e) {
    return e == GH_ERR_PG_CONNECT || e == GH_ERR_PG;
}

/* Closes the producer within the shutdown budget and logs the one line a
 * stop ends with: what was left for the next start, if anything. Returns
 * GH_ERR_TIMED_OUT if something was; otherwise GH_ERR_STOPPED, unless the
 * run ended in an error a restart cannot cure. */
static gh_err_t stopped_line(cn_t *c, gh_err_t e, char *errstr,
                             size_t errstr_size) {
    long txns = c->ack.inflight_txns, msgs = gh_ack_outstanding(&c->ack);
    c->closing = 1;
    long unacked = gh_kafka_producer_close(c->rk, 5000);
    c->rk = NULL;
    char l[18];
    gh_lsn_format(c->ack.confirmed, l);
    if (!txns && !unacked) {
        gh_log_info(LOG, "stopped cleanly at %s: nothing left in flight", l);
        return e == GH_OK || e == GH_ERR_STOPPED || retryable(e) ||
                       e == GH_ERR_KAFKA
                   ? GH_ERR_STOPPED
                   : e;
    }
    gh_log_warn(LOG,
                "stopped after shutdown.timeout.ms=%lld with work left for the "
                "next start: %ld transactions (%ld messages) not acknowledged "
                "by Kafka; PostgreSQL sends them again from the confirmed "
                "position %s",
                gh_conf_get_int(c->conf, "shutdown.timeout.ms"), txns,
                msgs > unacked ? msgs : unacked, l);
    return gh_seterr(errstr, errstr_size, GH_ERR_TIMED_OUT,
                     "work left for the next start (see the line above)");
}

static void cn_free(cn_t *c) {
    for (int i = 0; i < c->nts; i++) {
        avro_value_decref(&c->ts[i].env);
        free(c->ts[i].topic);
    }
    free(c->ts);
    for (int i = 0; i < c->nrels; i++) {
        free(c->rels[i].nsp);
        free(c->rels[i].rel);
        free(c->rels[i].ts);
        for (int k = 0; k < c->rels[i].nts; k++)
            free(c->rels[i].bind_err[k]);
        free(c->rels[i].bind_err);
        for (int k = 0; k < c->rels[i].ncols; k++)
            free(c->rels[i].colnames[k]);
        free(c->rels[i].colnames);
    }
    free(c->rels);
    c->closing = 1;
    gh_kafka_producer_close(c->rk, 5000);
    c->rk = NULL;
    gh_ack_clear(&c->ack);
    gh_enc_destroy(c->enc);
    gh_cn_metrics_destroy(c->metrics);
    gh_mapping_destroy(c->map);
    gh_serde_destroy(c->serde);
    gh_schemas_destroy(c->schemas);
    gh_buf_free(&c->key);
    gh_buf_free(&c->key2);
    gh_buf_free(&c->val);
    free(c->slot);
    free(c->pub);
    free(c->dbname);
    free(c->state_path);
}

gh_err_t gh_connector_run(const gh_conf_t *conf, char *errstr,
                          size_t errstr_size) {
    cn_t c;
    memset(&c, 0, sizeof(c));
    c.conf = conf;
    c.name = gh_conf_get(conf, "name");
    c.dlq = gh_conf_get(conf, "dlq.topic");
    c.hb_topic = gh_conf_get(conf, "heartbeat.topic");
    gh_err_t e = gh_schemas_load_dir(&c.schemas, gh_schemas_dir(conf), errstr,
                                     errstr_size);
    if (e) return e;
    c.map = gh_mapping_load(gh_conf_get(conf, "mapping.file"), c.schemas,
                            errstr, errstr_size);
    if (!c.map) {
        cn_free(&c);
        return GH_ERR_MAPPING;
    }
    c.dept = gh_mapping_department(c.map);
    const char *slot = gh_conf_get(conf, "slot.name");
    const char *pub = gh_conf_get(conf, "publication.name");
    c.slot = slot ? gh_xstrdup(slot) : gh_xasprintf("gridhub_%s", c.dept);
    c.pub = pub ? gh_xstrdup(pub) : gh_xasprintf("gridhub_%s", c.dept);
    const char *dir = gh_conf_get(conf, "state.dir");
    if (mkdir(dir, 0700) && errno != EEXIST) {
        e = gh_seterr(errstr, errstr_size, GH_ERR_IO, "state.dir %s: %s", dir,
                      strerror(errno));
        cn_free(&c);
        return e;
    }
    c.state_path = gh_xasprintf("%s/%s.state", dir, c.name);
    c.enc =
        gh_enc_new(gh_conf_get(conf, "source.encoding"), errstr, errstr_size);
    if (!c.enc) {
        cn_free(&c);
        return GH_ERR_CONFIG;
    }
    c.metrics = gh_cn_metrics_new(conf, c.name, c.dept, c.slot, &c.ack, errstr,
                                  errstr_size);
    if (!c.metrics) {
        cn_free(&c);
        return GH_ERR_IO;
    }
    c.serde = gh_serde_new(c.schemas, gh_conf_get(conf, "schema.registry.url"));
    c.nts = gh_mapping_table_count(c.map);
    c.ts = gh_xcalloc((size_t)c.nts, sizeof(*c.ts));
    for (int i = 0; i < c.nts; i++) {
        tstate_t *ts = &c.ts[i];
        ts->t = gh_mapping_table(c.map, i);
        ts->topic = gh_xasprintf("%s.%s.%s", gh_conf_get(conf, "topic.prefix"),
                                 c.dept, gh_map_table_entity(ts->t));
        const gh_schema_t *env = gh_map_table_envelope(ts->t);
        e = gh_schema_new_value(env, &ts->env, errstr, errstr_size);
        if (e) {
            c.nts = i;
            cn_free(&c);
            return e;
        }
        avro_schema_t es = gh_schema_avro(env);
        avro_schema_t ops = avro_schema_record_field_get(es, "op");
        for (int k = 0; k < 5; k++)
            ts->op_idx[k] = avro_schema_enum_get_by_name(ops, op_syms[k]);
        avro_schema_t src = avro_schema_record_field_get(es, "source");
        avro_schema_t snap = avro_schema_record_field_get(src, "snapshot");
        static const char *const snaps[] = {"false", "true", "last"};
        for (int k = 0; k < 3; k++)
            ts->snap_idx[k] = avro_schema_enum_get_by_name(snap, snaps[k]);
    }
    char *client = gh_xasprintf("gridhub-connector-%s", c.name);
    c.rk = gh_kafka_producer_new(conf, client, dr_cb, &c, errstr, errstr_size);
    free(client);
    if (!c.rk) {
        cn_free(&c);
        return GH_ERR_KAFKA;
    }
    c.max_msg = gh_kafka_max_message(c.rk);
    gh_log_info(LOG,
                "connector %s: department %s, %d mapped tables, slot %s, "
                "publication %s",
                c.name, c.dept, c.nts, c.slot, c.pub);
    warm_up(&c);
    int wait = (int)gh_conf_get_int(conf, "retry.backoff.ms");
    int wmax = (int)gh_conf_get_int(conf, "retry.backoff.max.ms");
    for (;;) {
        e = session(&c, errstr, errstr_size);
        if (e == GH_ERR_STOPPED || gh_shutdown_requested()) {
            e = GH_ERR_STOPPED;
            break;
        }
        if (!retryable(e)) break;
        gh_log_warn(LOG, "%s; retrying in %d ms", errstr, wait);
        gh_cn_metrics_degraded(c.metrics, errstr);
        /* A half-read transaction is resent from the confirmed position. */
        if (c.txn) {
            gh_ack_close(&c.ack, c.txn, 0, 0);
            c.txn = NULL;
        }
        gh_shutdown_sleep_ms(wait);
        wait = wait * 2 > wmax ? wmax : wait * 2;
    }
    log_stats(&c, "stopping, totals", &c.ack.latency_total, c.events, 0);
    if (gh_shutdown_requested()) e = stopped_line(&c, e, errstr, errstr_size);
    cn_free(&c);
    return e;
}
