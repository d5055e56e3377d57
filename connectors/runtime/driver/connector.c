#include "connector.h"
#include "cn_int.h"

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
#include "gridhub/schema_topic.h"
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
    GH_SCHEMAS_TOPIC_PROP,
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

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    cn_t *c = opaque;
    if (!m->_private) { /* only schema records go without a transaction */
        gh__cn_schema_report(c, m);
        return;
    }
    if (m->err && !c->closing)
        gh_log_error(LOG, "delivery to %s failed: %s",
                     rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
    gh_ack_done(&c->ack, m->_private, m->err == 0, rd_kafka_err2str(m->err));
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
                    "SELECT confirmed_flush_lsn, active_pid, database, plugin, "
                    "wal_status = 'lost' FROM pg_replication_slots WHERE "
                    "slot_name = $1",
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
        if (!PQgetisnull(r, 0, 4) && PQgetvalue(r, 0, 4)[0] == 't' &&
            strcmp(gh_conf_get(c->conf, "snapshot.mode"), "always")) {
            /* max_slot_wal_keep_size let PostgreSQL remove WAL the slot
             * still needed: changes are gone, only a snapshot helps. */
            gh_seterr(errstr, errstr_size, GH_ERR_DATA_LOSS,
                      "replication slot %s was invalidated (wal_status lost: "
                      "it held more WAL than max_slot_wal_keep_size) and the "
                      "changes since %s are gone; recovery: gridhub resync "
                      "department %s, or start the connector once with "
                      "--snapshot-mode always (docs/operations.md)",
                      c->slot, PQgetvalue(r, 0, 0), c->dept);
            PQclear(r);
            return -3;
        }
    }
    PQclear(r);
    return n > 0;
}

/* One parseable line: what flowed in the window and how long a committed
 * transaction took to be acknowledged by Kafka (commit -> ack). */
void gh__cn_log_stats(cn_t *c, const char *what, const gh_hist_t *h,
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
        e = exists == -2   ? GH_ERR_CONFIG
            : exists == -3 ? GH_ERR_DATA_LOSS
                           : GH_ERR_PG;
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
            e = gh__cn_snapshot(c, db, snapname, cp, errstr, errstr_size);
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
    e = gh__cn_stream(c, repl, errstr, errstr_size);
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
    c.schema_topic = gh_conf_get(conf, "schemas.topic");
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
            ts->op_idx[k] =
                avro_schema_enum_get_by_name(ops, gh__cn_op_syms[k]);
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
    e = gh__cn_publish_schemas(&c, errstr, errstr_size);
    if (!e) warm_up(&c);
    int wait = (int)gh_conf_get_int(conf, "retry.backoff.ms");
    int wmax = (int)gh_conf_get_int(conf, "retry.backoff.max.ms");
    while (e != GH_ERR_STOPPED) { /* publishing ends only so, or well */
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
    gh__cn_log_stats(&c, "stopping, totals", &c.ack.latency_total, c.events, 0);
    if (gh_shutdown_requested()) e = stopped_line(&c, e, errstr, errstr_size);
    cn_free(&c);
    return e;
}
