/*
 * Internals shared by kafka.c and kafka_lag.c; the public contract is
 * gridhub/kafka.h.
 */
#ifndef GH_KAFKA_INT_H
#define GH_KAFKA_INT_H

#include <librdkafka/rdkafka.h>

#include "gridhub/conf.h"

/* If `conf` has metrics.refresh.ms, has librdkafka emit its statistics
 * that often (unless kafka.statistics.interval.ms says otherwise) and
 * keeps the consumer lag they report for gh_kafka_consumer_lag(); the lag
 * table becomes the consumer's opaque. Returns it (NULL: nothing
 * attached), for gh__kafka_lag_free() if rd_kafka_new() fails. */
void *gh__kafka_lag_attach(rd_kafka_conf_t *kc, const gh_conf_t *conf);
/* Frees what gh__kafka_lag_attach() attached (the opaque of a destroyed
 * consumer); NULL is a no-op. */
void gh__kafka_lag_free(void *opaque);

#endif
