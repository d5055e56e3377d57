#include "cn_metrics.h"

#include <stdlib.h>

#include "gridhub/log.h"
#include "gridhub/util.h"

struct gh_cn_metrics {
    gh_metrics_t *m;
    char *slot;
    int64_t refresh_ms, last_publish, last_query;
    gh_metrics_family_t *dead;
    gh_metrics_series_t *events, *inflight, *unacked, *confirmed, *received,
        *slot_lag, *retained;
    /* The slot query in flight on `query_db`, if any. */
    PGconn *query_db;
    uint64_t progress_calls;
};

/* Commit-to-acknowledgement latency of a transaction: milliseconds when
 * all is well, seconds or more while Kafka is slow or down. */
static const double latency_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                        0.05,  0.1,    0.25,  0.5,  1,
                                        2.5,   5,      10,    30,   60};

static const char slot_sql[] =
    "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), "
    "pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) "
    "FROM pg_replication_slots WHERE slot_name = $1";

gh_cn_metrics_t *gh_cn_metrics_new(const gh_conf_t *conf, const char *name,
                                   const char *dept, const char *slot,
                                   gh_ack_t *ack, char *errstr,
                                   size_t errstr_size) {
    gh_metrics_t *m =
        gh_metrics_start(conf, "connector", name, errstr, errstr_size);
    if (!m) return NULL;
    gh_cn_metrics_t *cm = gh_xcalloc(1, sizeof(*cm));
    cm->m = m;
    cm->slot = gh_xstrdup(slot);
    cm->refresh_ms = gh_conf_get_int(conf, "metrics.refresh.ms");
    gh_metrics_family_t *events = gh_metrics_counter(
        m, "gridhub_connector_events_total",
        "Change events published (snapshot reads, creates, updates, deletes, "
        "truncates; tombstones and dead letters not counted).",
        NULL);
    cm->events = gh_metrics_series(events, NULL);
    cm->dead = gh_metrics_counter(
        m, "gridhub_connector_dead_letters_total",
        "Rows sent to the dead-letter topic, by reason class (mapping: the "
        "row does not fit the department's mapping).",
        "reason");
    gh_metrics_series1(cm->dead, "mapping");
    gh_metrics_family_t *inflight = gh_metrics_gauge(
        m, "gridhub_connector_transactions_in_flight",
        "Source transactions read but not yet fully acknowledged by Kafka "
        "(their end position is not confirmed yet).",
        NULL);
    cm->inflight = gh_metrics_series(inflight, NULL);
    cm->unacked = gh_metrics_series(
        gh_metrics_gauge(m, "gridhub_connector_unacknowledged_messages",
                         "Messages produced and not yet acknowledged by "
                         "Kafka.",
                         NULL),
        NULL);
    const char *sl[1] = {slot};
    cm->confirmed = gh_metrics_series(
        gh_metrics_gauge(m, "gridhub_connector_confirmed_lsn_bytes",
                         "Position confirmed to PostgreSQL as flushed "
                         "(everything before it is in Kafka), as a WAL byte "
                         "position (the pg_lsn as a number).",
                         "slot"),
        sl);
    cm->received = gh_metrics_series(
        gh_metrics_gauge(m, "gridhub_connector_received_lsn_bytes",
                         "Position read from the replication stream, as a "
                         "WAL byte position.",
                         "slot"),
        sl);
    gh_metrics_family_t *lag = gh_metrics_gauge(
        m, "gridhub_connector_slot_lag_bytes",
        "pg_current_wal_lsn() minus the slot's confirmed_flush_lsn: WAL "
        "written that this connector has not confirmed (refreshed every "
        "metrics.refresh.ms).",
        "slot");
    cm->slot_lag = gh_metrics_series(lag, sl);
    cm->retained = gh_metrics_series(
        gh_metrics_gauge(m, "gridhub_connector_slot_retained_wal_bytes",
                         "pg_current_wal_lsn() minus the slot's restart_lsn: "
                         "WAL the server keeps on disk for this slot.",
                         "slot"),
        sl);
    ack->latency_metric = gh_metrics_series(
        gh_metrics_histogram(
            m, "gridhub_connector_commit_to_ack_seconds",
            "From a transaction's commit in PostgreSQL to Kafka's "
            "acknowledgement of its last message.",
            NULL, latency_bounds,
            (int)(sizeof(latency_bounds) / sizeof(double))),
        NULL);
    const char *info[2] = {dept, slot};
    gh_metrics_set(
        gh_metrics_series(gh_metrics_gauge(m, "gridhub_connector_source_info",
                                           "Always 1; the labels say which "
                                           "department and slot.",
                                           "department,slot"),
                          info),
        1);
    gh_metrics_figure(m, "slot_lag_bytes", lag);
    gh_metrics_figure(m, "events", events);
    gh_metrics_figure(m, "dead_letters", cm->dead);
    gh_metrics_figure(m, "transactions_in_flight", inflight);
    return cm;
}

void gh_cn_metrics_destroy(gh_cn_metrics_t *cm) {
    if (!cm) return;
    gh_metrics_destroy(cm->m);
    free(cm->slot);
    free(cm);
}

/* Collects the slot query's answer if it has come; never waits. */
static void collect(gh_cn_metrics_t *cm, PGconn *db) {
    if (db != cm->query_db || !PQconsumeInput(db)) {
        /* A new session, or the connection broke: the answer is lost. */
        cm->query_db = NULL;
        return;
    }
    if (PQisBusy(db)) return;
    PGresult *r;
    while ((r = PQgetResult(db))) {
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
            if (!PQgetisnull(r, 0, 0))
                gh_metrics_set(cm->slot_lag, atof(PQgetvalue(r, 0, 0)));
            if (!PQgetisnull(r, 0, 1))
                gh_metrics_set(cm->retained, atof(PQgetvalue(r, 0, 1)));
        } else if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            gh_log_debug("connector", "metrics: slot lag: %s",
                         PQresultErrorMessage(r));
        }
        PQclear(r);
    }
    cm->query_db = NULL;
}

static void query_slot(gh_cn_metrics_t *cm, PGconn *db, int64_t now) {
    if (cm->query_db) collect(cm, db);
    if (cm->query_db || !db || now - cm->last_query < cm->refresh_ms ||
        PQtransactionStatus(db) != PQTRANS_IDLE)
        return;
    const char *params[1] = {cm->slot};
    cm->last_query = now;
    if (PQsendQueryParams(db, slot_sql, 1, NULL, params, NULL, NULL, 0))
        cm->query_db = db;
    else
        gh_log_debug("connector", "metrics: slot lag: %s", PQerrorMessage(db));
}

void gh_cn_metrics_tick(gh_cn_metrics_t *cm, PGconn *db, const gh_ack_t *ack,
                        long long events, uint64_t received) {
    if (!cm) return;
    int64_t now = gh_now_ms();
    /* A turn per replication message: publish at most every 100 ms (the
     * unacknowledged count walks the in-flight transactions). */
    if (now - cm->last_publish >= 100) {
        cm->last_publish = now;
        gh_metrics_progress(cm->m);
        gh_metrics_set_state(cm->m, GH_METRICS_RUNNING, NULL);
        gh_metrics_set(cm->events, (double)events);
        gh_metrics_set(cm->inflight, (double)ack->inflight_txns);
        gh_metrics_set(cm->unacked, (double)gh_ack_outstanding(ack));
        gh_metrics_set(cm->confirmed, (double)ack->confirmed);
        gh_metrics_set(cm->received, (double)received);
    }
    query_slot(cm, db, now);
}

void gh_cn_metrics_progress(gh_cn_metrics_t *cm, long long events) {
    if (!cm || (++cm->progress_calls & 255)) return;
    gh_metrics_progress(cm->m);
    gh_metrics_set(cm->events, (double)events);
}

void gh_cn_metrics_dead_letter(gh_cn_metrics_t *cm, const char *reason) {
    if (cm) gh_metrics_inc(gh_metrics_series1(cm->dead, reason));
}

void gh_cn_metrics_degraded(gh_cn_metrics_t *cm, const char *why) {
    if (cm) gh_metrics_set_state(cm->m, GH_METRICS_DEGRADED, why);
}
