/*
 * Internals shared by kafka.c and kafka_lag.c; the public contract is
 * gridhub/kafka.h.
 */
#ifndef GH_KAFKA_INT_H
#define GH_KAFKA_INT_H

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "gridhub/conf.h"

#include "gridhub/kafka.h"

/* The opaque of every consumer gh_kafka_consumer_new() makes: what its
 * callbacks need. Freed by gh_kafka_consumer_close(). */
typedef struct gh__consumer_ctx {
    gh_kafka_floor_cb *floor; /* complete-history consumers; may be NULL */
    void *floor_ctx;
    void *lag; /* kafka_lag.c's table, NULL without metrics */
} gh__consumer_ctx_t;

/* If `conf` has metrics.refresh.ms, has librdkafka emit its statistics
 * that often (unless kafka.statistics.interval.ms says otherwise) and
 * keeps the consumer lag they report for gh_kafka_consumer_lag(), in a
 * table it returns (NULL: nothing attached) for the consumer's
 * gh__consumer_ctx_t.lag. */
void *gh__kafka_lag_attach(rd_kafka_conf_t *kc, const gh_conf_t *conf);
/* Frees a table of gh__kafka_lag_attach(); NULL is a no-op. */
void gh__kafka_lag_free(void *lag);
/* The lag of one partition object of librdkafka's statistics (borrowed),
 * -1 when unknown or not assigned; kafka_lag.c says from where to where. */
int64_t gh__kafka_partition_lag(const json_t *partition);

#endif
