/*
 * The connector's metrics (docs/operations.md, "Metrics and health"): the
 * handles of its families in one place, and one-line hooks for
 * connector.c. The registry is served on metrics.listen when set.
 *
 * The replication slot's lag is queried on the session's normal
 * connection, never on the replication one, and asynchronously
 * (PQsendQueryParams, then PQconsumeInput on later turns), so a slow
 * database cannot stall the stream loop.
 *
 * Every hook accepts NULL and does nothing. The connector's thread calls
 * the hooks; the HTTP thread only reads.
 */
#ifndef GH_CN_METRICS_H
#define GH_CN_METRICS_H

#include <libpq-fe.h>
#include <stdint.h>

#include "ack.h"
#include "gridhub/conf.h"
#include "gridhub/metrics.h"

typedef struct gh_cn_metrics gh_cn_metrics_t;

/* Registers the connector's families (instance `name`, department `dept`,
 * replication slot `slot`; strings copied) and serves them if
 * metrics.listen is set. Points ack->latency_metric at the
 * commit-to-acknowledgement histogram. NULL with errstr if the endpoint
 * cannot start. */
gh_cn_metrics_t *gh_cn_metrics_new(const gh_conf_t *conf, const char *name,
                                   const char *dept, const char *slot,
                                   gh_ack_t *ack, char *errstr,
                                   size_t errstr_size);
/* Stops the endpoint and frees everything. NULL is a no-op. */
void gh_cn_metrics_destroy(gh_cn_metrics_t *cm);

/* Each turn of the stream loop: marks the connector running and its loop
 * alive, publishes its totals (at most every 100 ms), and every
 * metrics.refresh.ms asks `db` (the session's idle normal connection) for
 * the slot's lag, collecting the answer on a later turn. */
void gh_cn_metrics_tick(gh_cn_metrics_t *cm, PGconn *db, const gh_ack_t *ack,
                        long long events, uint64_t received);
/* While the snapshot reads rows (its connection is busy with COPY): the
 * loop is alive and `events` were published so far. */
void gh_cn_metrics_progress(gh_cn_metrics_t *cm, long long events);
/* One row dead-lettered, for `reason`, a class: "mapping" (does not fit
 * the mapping), "encoding" (not well-formed text), "layout" (a mapped column
 * missing), "oversized" (larger than Kafka takes). */
void gh_cn_metrics_dead_letter(gh_cn_metrics_t *cm, const char *reason);
/* The session ended with `why` and the connector is retrying. */
void gh_cn_metrics_degraded(gh_cn_metrics_t *cm, const char *why);

#endif
