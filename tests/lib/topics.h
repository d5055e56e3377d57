/*
 * Direct Kafka probes for tests: how much a topic holds, read without a
 * consumer group (for JSON values `gridhub tail` cannot decode: dead letters
 * and heartbeats).
 */
#ifndef GH_TEST_TOPICS_H
#define GH_TEST_TOPICS_H

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdint.h>

/* A consumer for assign()-style reads (partition EOF events on, no commits).
 * Caller owns it (rd_kafka_destroy). Fails the test on error. */
rd_kafka_t *gh_test_raw_consumer(const char *bootstrap);
/* Partition count of `topic`; 0 if it does not exist (yet). */
int gh_test_partitions(rd_kafka_t *rk, const char *topic);
void gh_test_watermarks(rd_kafka_t *rk, const char *topic, int partition,
                        int64_t *lo, int64_t *hi);
/* Messages held by a comma-separated list of topics (sum of high - low
 * watermarks; 0 for a topic that does not exist). */
long gh_test_topics_size(const char *bootstrap, const char *topics);

/* Waits up to timeout_ms for the topics (comma-separated) to hold at
 * least n messages; 1 if they do, 0 on timeout. */
int gh_test_wait_topics_size(const char *bootstrap, const char *topics, long n,
                             int timeout_ms);

/* Every message of `topic` as {partition, offset, key, value, headers}
 * with key and value as strings (null when absent or not UTF-8), read
 * without a consumer group up to the high watermarks at the time of the
 * call. New reference. */
json_t *gh_test_read_raw(const char *bootstrap, const char *topic);

#endif
