/*
 * Kafka helpers over librdkafka.
 *
 * Every component takes `bootstrap.servers` and passes any `kafka.<name>`
 * property straight to librdkafka as `<name>` (e.g. kafka.security.protocol,
 * kafka.sasl.mechanisms, kafka.ssl.ca.location), so moving from the embedded
 * broker to a production cluster with TLS/SASL is configuration only. No
 * code path here knows whether the cluster is the mock.
 */
#ifndef GRIDHUB_KAFKA_H
#define GRIDHUB_KAFKA_H

#include <librdkafka/rdkafka.h>

#include "gridhub/conf.h"
#include "gridhub/error.h"
#include "gridhub/metrics.h"

/* Validator for the `kafka.` prefix property (gh_conf_validate_cb): checks
 * the name and value against librdkafka's own configuration table. */
int gh_kafka_validate_prop(const char *key, const char *value, char *errstr,
                           size_t errstr_size);

/* Table entries every Kafka-using component includes in its property table. */
#define GH_KAFKA_CONF_PROPS                                                    \
    {"bootstrap.servers",                                                      \
     GH_CONF_STR,                                                              \
     NULL,                                                                     \
     1,                                                                        \
     0,                                                                        \
     0,                                                                        \
     NULL,                                                                     \
     NULL,                                                                     \
     "Kafka bootstrap servers, host:port[,host:port...]. `gridhub broker` "    \
     "prints the embedded broker's."},                                         \
    {                                                                          \
        "kafka.", GH_CONF_PREFIX, NULL, 0, 0, 0, NULL, gh_kafka_validate_prop, \
            "Any librdkafka property, passed through with the `kafka.` "       \
            "prefix "                                                          \
            "removed (e.g. kafka.security.protocol=SASL_SSL)."                 \
    }

/* Creates a librdkafka configuration holding bootstrap.servers, the given
 * defaults (NULL-terminated key/value pairs, applied first) and then every
 * kafka.* property of `conf` (so the operator can override our defaults).
 * The caller owns the returned conf until it passes it to rd_kafka_new(). */
rd_kafka_conf_t *gh_kafka_conf_new(const gh_conf_t *conf,
                                   const char *const *defaults, char *errstr,
                                   size_t errstr_size);

/* A reliable producer: enable.idempotence=true, acks=all, unlimited
 * delivery timeout (a message is retried until the cluster takes it or the
 * process stops), lz4 compression, librdkafka logs routed to gh_log.
 * `dr_cb` (may be NULL) is called from gh/rd_kafka_poll() for each message;
 * `opaque` is the rd_kafka opaque. Returns NULL with errstr filled. The
 * caller owns the handle (rd_kafka_destroy after rd_kafka_flush). */
rd_kafka_t *gh_kafka_producer_new(
    const gh_conf_t *conf, const char *client_id,
    void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *),
    void *opaque, char *errstr, size_t errstr_size);

/* The lowest offset a complete-history consumer may start a partition at
 * (a gap an operator accepted), or -1 for none. */
typedef int64_t(gh_kafka_floor_cb)(void *ctx, const char *topic,
                                   int32_t partition);

/* A consumer in group `group_id` with manual offset commits
 * (enable.auto.commit=false). With complete_history a consumer that needs
 * every message (the hub; a subscriber building its view) never jumps
 * silently: a partition the group never committed starts at offset 0 if
 * the broker still holds it from there; anything else the broker no longer
 * holds surfaces as RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET
 * (auto.offset.reset=error), which the caller hands to
 * gh_kafka_check_gap(); `floor` (may be NULL; `floor_ctx` is borrowed and
 * must outlive the consumer) lets accepted gaps through. Otherwise the
 * consumer starts at the earliest message the broker holds. If `conf` has
 * metrics.refresh.ms, librdkafka's statistics are on at that interval and
 * feed gh_kafka_consumer_lag(). Owned by caller (gh_kafka_consumer_close).
 */
rd_kafka_t *gh_kafka_consumer_new(const gh_conf_t *conf, const char *group_id,
                                  const char *client_id, int complete_history,
                                  gh_kafka_floor_cb *floor, void *floor_ctx,
                                  char *errstr, size_t errstr_size);

/* For a complete-history consumer that polled `m`, an
 * RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET event: decides whether messages the
 * consumer has not read are gone from the broker (retention, a bounded
 * log, a consumer stalled too long): GH_ERR_DATA_LOSS, errstr naming the
 * topic, the partition, the first offset not read, what the broker still
 * holds, how many messages are gone, and the recovery (docs/operations.md,
 * "When the broker lost messages"). If nothing is gone, GH_ERR_KAFKA: the
 * caller creates a new consumer, which resumes at the committed offset.
 * (Partitions never read that the broker holds from offset 0 start there
 * by themselves.) */
gh_err_t gh_kafka_check_gap(rd_kafka_t *rk, const rd_kafka_message_t *m,
                            char *errstr, size_t errstr_size);

/* The largest message (key, value and headers) the producer accepts:
 * its message.max.bytes, less room for the record's own framing. */
size_t gh_kafka_max_message(rd_kafka_t *rk);

/* Sets one series of `f` (labels topic,partition) per partition the
 * consumer reads to how many messages it has not read yet (last stable
 * offset minus its position, or minus the committed offset before it read
 * anything), as of librdkafka's last statistics: never a broker request,
 * so it cannot stall a loop while the cluster is down (the figures then
 * age). Series of partitions no longer assigned are removed. Returns the
 * sum, or -1 (f untouched) before the first statistics or when the
 * consumer was made without metrics.refresh.ms. */
long long gh_kafka_consumer_lag(rd_kafka_t *consumer, gh_metrics_family_t *f);

/* Produces a dead-letter record: the original key and value bytes
 * unchanged, plus headers gh.error.reason, gh.error.component and, when
 * src_topic is not NULL, gh.source.topic / gh.source.partition /
 * gh.source.offset. A value that would not fit gh_kafka_max_message() is
 * cut to fit and gh.error.truncated says its original length, so that a
 * poison pill near the limit cannot block the dead-letter path too. Bytes
 * are copied. `msg_opaque` is passed to the delivery report. */
gh_err_t gh_kafka_produce_dead_letter(rd_kafka_t *rk, const char *dlq_topic,
                                      const void *key, size_t key_len,
                                      const void *value, size_t value_len,
                                      const char *component, const char *reason,
                                      const char *src_topic, int32_t partition,
                                      int64_t offset, void *msg_opaque,
                                      char *errstr, size_t errstr_size);

/* Closes a producer within a bound: waits up to timeout_ms (and, once a
 * stop is requested, no longer than what is left of the shutdown budget,
 * see gridhub/shutdown.h) for queued and in-flight messages to be
 * acknowledged, then purges the rest and destroys the handle. Delivery
 * reports of purged messages run during this call with
 * RD_KAFKA_RESP_ERR__PURGE_QUEUE or __PURGE_INFLIGHT. Returns how many
 * messages were still unacknowledged (0: everything delivered). Takes
 * ownership of rk; NULL returns 0. */
long gh_kafka_producer_close(rd_kafka_t *rk, int timeout_ms);

/* Leaves the consumer group and destroys the consumer, waiting at most
 * timeout_ms (clamped to the shutdown budget) for the group to
 * acknowledge: with the cluster unreachable the close is abandoned and the
 * group notices when the session times out. Never commits offsets. Takes
 * ownership of rk; NULL is a no-op. Returns 0 if the close completed, -1
 * if it was abandoned. */
int gh_kafka_consumer_close(rd_kafka_t *rk, int timeout_ms);

#endif
