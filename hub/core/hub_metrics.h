/*
 * The hub's metrics (docs/operations.md, "Metrics and health"): the
 * handles of its families in one place, and one-line hooks for hub.c's
 * loop. The registry is served on metrics.listen when set.
 *
 * Dead letters are counted by reason class, a label value from this small
 * set (add to it, and to docs/operations.md, when a new class appears):
 *   decode     the bytes are not an event this hub can read
 *   apply      the event could not be applied to the hub database
 *   untrusted, oversized, encoding   (classes of the hostile-input checks)
 *   mapping    (connectors: a row that does not fit the mapping)
 *
 * Every hook accepts NULL and does nothing. Single-threaded use: the hub's
 * thread calls the hooks, the HTTP thread only reads.
 */
#ifndef GH_HUB_METRICS_H
#define GH_HUB_METRICS_H

#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>
#include <stdint.h>

#include "gridhub/conf.h"
#include "gridhub/metrics.h"
#include "resolve.h"

#define GH_DL_DECODE "decode"
#define GH_DL_APPLY "apply"
#define GH_DL_UNTRUSTED "untrusted" /* origin.h: topic/department, position */

typedef struct gh_hub_metrics gh_hub_metrics_t;

/* Registers the hub's families and serves them if metrics.listen is set.
 * NULL with errstr if the endpoint cannot start. `conf` is borrowed. */
gh_hub_metrics_t *gh_hub_metrics_new(const gh_conf_t *conf, char *errstr,
                                     size_t errstr_size);
/* Stops the endpoint and frees everything. NULL is a no-op. */
void gh_hub_metrics_destroy(gh_hub_metrics_t *hm);

/* Each turn of the consumer loop, between transactions: marks the hub
 * running and its loop alive; every metrics.refresh.ms also refreshes the
 * outbox backlog (one index lookup on `db`) and the consumer lag (from
 * librdkafka's statistics, no broker request). */
void gh_hub_metrics_tick(gh_hub_metrics_t *hm, PGconn *db,
                         rd_kafka_t *consumer);
/* After a batch of `messages` polled messages took `us` to apply, resolve
 * and commit: the hub's running totals (applied, skipped as replays) and
 * its resolution totals. */
void gh_hub_metrics_batch(gh_hub_metrics_t *hm, int messages, int64_t us,
                          long long applied, long long skipped,
                          const gh_resolve_stats_t *rs);
/* One message dead-lettered, for `reason` (GH_DL_* above). */
void gh_hub_metrics_dead_letter(gh_hub_metrics_t *hm, const char *reason);
/* `rows` outbox rows were published, acknowledged and trimmed. */
void gh_hub_metrics_relayed(gh_hub_metrics_t *hm, int rows);
/* The session ended with `why` and the hub is retrying. */
void gh_hub_metrics_degraded(gh_hub_metrics_t *hm, const char *why);

#endif
