/*
 * The embedded broker: librdkafka's mock cluster (rdkafka_mock.h) run by our
 * own binary, for the demo and tests.
 *
 * Limits (librdkafka 2.0): everything is in memory and gone when the process
 * exits; each partition keeps at most about 5 MiB or 100k message sets
 * (the oldest are evicted); no log compaction, no ACLs, no TLS/SASL
 * listeners. Production uses a real Kafka cluster through bootstrap.servers;
 * nothing in gridhub depends on the mock.
 */
#ifndef GRIDHUB_BROKER_H
#define GRIDHUB_BROKER_H

#include "gridhub/conf.h"
#include "gridhub/error.h"

typedef struct gh_broker gh_broker_t;

/* Property table of `gridhub broker`. */
extern const gh_conf_prop_t gh_broker_props[];

/* Starts the mock cluster and creates the configured topics. Returns NULL
 * with errstr filled. `conf` is borrowed for the call only. */
gh_broker_t *gh_broker_new(const gh_conf_t *conf, char *errstr,
                           size_t errstr_size);
/* "127.0.0.1:port[,...]"; borrowed from the broker. */
const char *gh_broker_bootstraps(const gh_broker_t *b);
/* Creates a topic (no-op if it exists). */
gh_err_t gh_broker_create_topic(gh_broker_t *b, const char *topic,
                                int partitions, char *errstr,
                                size_t errstr_size);
/* Outage drill: up == 0 closes every mock broker's connections and
 * refuses new ones (topics and their messages are kept, as a Kafka
 * cluster that is unreachable for a while); up != 0 accepts them again. */
gh_err_t gh_broker_set_up(gh_broker_t *b, int up, char *errstr,
                          size_t errstr_size);
void gh_broker_destroy(gh_broker_t *b);

#endif
