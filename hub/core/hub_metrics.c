#include "hub_metrics.h"

#include <stdlib.h>

#include "gridhub/kafka.h"
#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "gridhub/util.h"

struct gh_hub_metrics {
    gh_metrics_t *m;
    int64_t refresh_ms, last_refresh;
    gh_metrics_family_t *dead, *lag;
    gh_metrics_series_t *read, *applied, *replayed, *relayed, *backlog, *batch;
    gh_metrics_series_t *records, *pairs, *links, *reviews, *persons, *retired,
        *items;
};

/* Batches take from milliseconds (a few events) to tens of seconds (a
 * snapshot's worth of records resolved at once). */
static const double batch_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                      1,     2.5,  5,     10,   30,  60,   120};

/* A counter or gauge without labels; *family (may be NULL) gets its
 * family, for a key figure. */
static gh_metrics_series_t *one(gh_metrics_family_t *f,
                                gh_metrics_family_t **family) {
    if (family) *family = f;
    return gh_metrics_series(f, NULL);
}

static gh_metrics_series_t *counter(gh_metrics_t *m, const char *name,
                                    const char *help,
                                    gh_metrics_family_t **family) {
    return one(gh_metrics_counter(m, name, help, NULL), family);
}

gh_hub_metrics_t *gh_hub_metrics_new(const gh_conf_t *conf, char *errstr,
                                     size_t errstr_size) {
    gh_metrics_t *m = gh_metrics_start(conf, "hub", "hub", errstr, errstr_size);
    if (!m) return NULL;
    gh_hub_metrics_t *hm = gh_xcalloc(1, sizeof(*hm));
    gh_metrics_family_t *applied, *persons, *backlog;
    hm->m = m;
    hm->refresh_ms = gh_conf_get_int(conf, "metrics.refresh.ms");
    hm->read = counter(m, "gridhub_hub_messages_read_total",
                       "Messages read from the department topics (events "
                       "and tombstones).",
                       NULL);
    hm->applied =
        counter(m, "gridhub_hub_messages_applied_total",
                "Change events applied to the hub database.", &applied);
    hm->replayed = counter(
        m, "gridhub_hub_messages_replayed_total",
        "Change events skipped as replays: at or before the position the "
        "hub already has for their row (re-reads after a restart).",
        NULL);
    hm->dead = gh_metrics_counter(
        m, "gridhub_hub_dead_letters_total",
        "Messages sent to the dead-letter topic, by reason class (decode, "
        "apply, ...; see docs/operations.md).",
        "reason");
    gh_metrics_series1(hm->dead, GH_DL_DECODE);
    gh_metrics_series1(hm->dead, GH_DL_APPLY);
    hm->batch =
        one(gh_metrics_histogram(m, "gridhub_hub_batch_duration_seconds",
                                 "Time to apply, resolve and commit one batch "
                                 "(its count is the number of batches).",
                                 NULL, batch_bounds,
                                 (int)(sizeof(batch_bounds) / sizeof(double))),
            NULL);
    hm->records = counter(m, "gridhub_hub_resolve_records_total",
                          "Changed source records resolved.", NULL);
    hm->pairs = counter(m, "gridhub_hub_resolve_pairs_scored_total",
                        "Record pairs scored by the matcher.", NULL);
    hm->links = counter(m, "gridhub_hub_resolve_pairs_linked_total",
                        "Pairs linked (same person), by score or by ID.", NULL);
    hm->reviews = counter(m, "gridhub_hub_resolve_pairs_review_total",
                          "Pairs sent to the stewards' review queue.", NULL);
    hm->persons = counter(m, "gridhub_hub_persons_written_total",
                          "Golden person versions written.", &persons);
    hm->retired = counter(m, "gridhub_hub_person_ids_retired_total",
                          "Person ids retired (merged into another, or "
                          "left without records).",
                          NULL);
    hm->items = counter(m, "gridhub_hub_steward_items_total",
                        "Steward review items opened or refreshed.", NULL);
    hm->relayed = counter(m, "gridhub_hub_view_messages_published_total",
                          "Outbox rows published to the subscriber view "
                          "topics and acknowledged by Kafka.",
                          NULL);
    hm->backlog = one(
        gh_metrics_gauge(m, "gridhub_hub_outbox_backlog_rows",
                         "Outbox rows not yet published (refreshed every "
                         "metrics.refresh.ms; ids of rolled-back rows count, "
                         "so it is an upper bound).",
                         NULL),
        &backlog);
    hm->lag = gh_metrics_gauge(
        m, "gridhub_hub_consumer_lag_messages",
        "Messages of each department topic partition not yet read by this "
        "hub (refreshed every metrics.refresh.ms).",
        "topic,partition");
    gh_metrics_figure(m, "consumer_lag_messages", hm->lag);
    gh_metrics_figure(m, "dead_letters", hm->dead);
    gh_metrics_figure(m, "outbox_backlog_rows", backlog);
    gh_metrics_figure(m, "messages_applied", applied);
    gh_metrics_figure(m, "persons_written", persons);
    return hm;
}

void gh_hub_metrics_destroy(gh_hub_metrics_t *hm) {
    if (!hm) return;
    gh_metrics_destroy(hm->m);
    free(hm);
}

/* Rows between the oldest and the newest outbox id: two index lookups on
 * the primary key however long the backlog, where count(*) would read it
 * all. Ids are only ever trimmed from the oldest end. */
static void refresh_backlog(gh_hub_metrics_t *hm, PGconn *db) {
    char err[256];
    PGresult *r =
        gh_pg_query(db, "SELECT coalesce(max(id) - min(id) + 1, 0) FROM outbox",
                    0, NULL, err, sizeof(err));
    if (!r) {
        gh_log_debug("hub", "metrics: outbox backlog: %s", err);
        return;
    }
    gh_metrics_set(hm->backlog, atof(PQgetvalue(r, 0, 0)));
    PQclear(r);
}

void gh_hub_metrics_tick(gh_hub_metrics_t *hm, PGconn *db,
                         rd_kafka_t *consumer) {
    if (!hm) return;
    gh_metrics_progress(hm->m);
    gh_metrics_set_state(hm->m, GH_METRICS_RUNNING, NULL);
    int64_t now = gh_now_ms();
    if (hm->last_refresh && now - hm->last_refresh < hm->refresh_ms) return;
    hm->last_refresh = now;
    if (db && PQtransactionStatus(db) == PQTRANS_IDLE) refresh_backlog(hm, db);
    gh_kafka_consumer_lag(consumer, hm->lag);
}

void gh_hub_metrics_batch(gh_hub_metrics_t *hm, int messages, int64_t us,
                          long long applied, long long skipped,
                          const gh_resolve_stats_t *rs) {
    if (!hm) return;
    gh_metrics_add(hm->read, messages);
    gh_metrics_observe(hm->batch, (double)us / 1e6);
    gh_metrics_set(hm->applied, (double)applied);
    gh_metrics_set(hm->replayed, (double)skipped);
    gh_metrics_set(hm->records, (double)rs->records);
    gh_metrics_set(hm->pairs, (double)rs->pairs);
    gh_metrics_set(hm->links, (double)rs->links);
    gh_metrics_set(hm->reviews, (double)rs->reviews);
    gh_metrics_set(hm->persons, (double)rs->persons);
    gh_metrics_set(hm->retired, (double)rs->retired);
    gh_metrics_set(hm->items, (double)rs->items);
    gh_metrics_progress(hm->m);
}

void gh_hub_metrics_dead_letter(gh_hub_metrics_t *hm, const char *reason) {
    if (hm) gh_metrics_inc(gh_metrics_series1(hm->dead, reason));
}

void gh_hub_metrics_relayed(gh_hub_metrics_t *hm, int rows) {
    if (!hm) return;
    gh_metrics_add(hm->relayed, rows);
    gh_metrics_progress(hm->m);
}

void gh_hub_metrics_degraded(gh_hub_metrics_t *hm, const char *why) {
    if (hm) gh_metrics_set_state(hm->m, GH_METRICS_DEGRADED, why);
}
