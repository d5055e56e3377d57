/*
 * The schemas topic: every writer schema on Kafka itself, so that any
 * consumer decodes every gridhub topic with standard Avro and Kafka tools
 * and none of gridhub's files.
 *
 * Some schemas exist in no file: the change envelopes are composed at run
 * time (gridhub/avro.h, "Envelope composition"). Whoever writes Avro
 * publishes, before the first message written with a schema, one record to
 * a compacted topic (`schemas.topic`, default `_gridhub_schemas`):
 *
 *   key    the CRC-64-AVRO fingerprint of the schema's Parsing Canonical
 *          Form as 16 lowercase hex digits (the 8 bytes single-object
 *          encoding carries little-endian after C3 01, printed as one
 *          number: "%016" PRIx64);
 *   value  the schema's JSON text (gh_schema_json), self-contained;
 *   header gh.schema.name = the schema's full name (informational).
 *
 * Compaction keeps one record per fingerprint forever; publishing the same
 * schema again (every start of a writer) is harmless.
 *
 * Readers trust computation, never a record's word about itself: a record
 * is used only if the fingerprint computed from its value equals its key,
 * so a forged or corrupt record cannot make a message decode with the wrong
 * schema.
 *
 * On librdkafka's mock cluster (`gridhub broker`) the admin API is absent
 * (librdkafka 2.0's mock answers no CreateTopics, DescribeConfigs, ...):
 * gh_schema_topic_ensure() then relies on the mock creating topics on first
 * use (it has no compaction; it keeps everything in memory anyway).
 */
#ifndef GRIDHUB_SCHEMA_TOPIC_H
#define GRIDHUB_SCHEMA_TOPIC_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "gridhub/avro.h"
#include "gridhub/conf.h"
#include "gridhub/error.h"

/* The topic's default name. */
#define GH_SCHEMAS_TOPIC_DEFAULT "_gridhub_schemas"

/* The `schemas.topic` property of every component that writes or reads
 * Avro on Kafka. */
#define GH_SCHEMAS_TOPIC_PROP                                                  \
    {                                                                          \
        "schemas.topic", GH_CONF_STR, GH_SCHEMAS_TOPIC_DEFAULT, 0, 0, 0, NULL, \
            NULL,                                                              \
            "Compacted topic of every writer schema, so that any consumer "    \
            "decodes with standard Avro tools: key = CRC-64-AVRO "             \
            "fingerprint as 16 lowercase hex digits, value = the schema's "    \
            "JSON text, header `gh.schema.name` = its full name "              \
            "(docs/operations.md, \"The schemas topic\")."                     \
    }

/* The record key of fingerprint `fp`: 16 lowercase hex digits and a NUL. */
void gh_schema_topic_key(uint64_t fp, char out[17]);

/* Makes sure `topic` exists as a compacted topic: CreateTopics with
 * cleanup.policy=compact, 1 partition and the cluster's default
 * replication factor; a topic that already exists is fine (if the cluster
 * tells its configuration and it is not compacted, a warning says that
 * retention will delete schemas). `rk` is any client handle (borrowed).
 * Waits at most timeout_ms, and no longer than the shutdown budget once a
 * stop is requested.
 * On a cluster without the admin API (the mock cluster) it asks for the
 * topic's metadata instead, which creates it there.
 * Errors: GH_ERR_STOPPED (a stop was requested), GH_ERR_KAFKA (timed out,
 * not authorized to create a topic that does not exist, or another error;
 * errstr says which and what to do). Worth retrying. */
gh_err_t gh_schema_topic_ensure(rd_kafka_t *rk, const char *topic,
                                int timeout_ms, char *errstr,
                                size_t errstr_size);

/* Queues one record of schema `s` (borrowed; bytes are copied) on
 * `producer` (borrowed) for `topic`, asynchronously, with a NULL message
 * opaque: the caller's delivery reports and flush apply.
 * Contract: a writer publishes a schema, and waits until Kafka acknowledged
 * the record, before producing any message written with that schema; a
 * reader that finds the message can then find the schema.
 * Errors: GH_ERR_KAFKA if the producer refuses the record (queue full,
 * too large; errstr says why). */
gh_err_t gh_schema_topic_publish(rd_kafka_t *producer, const char *topic,
                                 const gh_schema_t *s, char *errstr,
                                 size_t errstr_size);

/* Reads all of `topic` and adds every schema in it to `set` (borrowed), as
 * a non-current version (gh_schemas_add_json with current = 0): a reader
 * finds it by fingerprint. Every partition is read from its beginning to
 * the high watermark it had when the call started, without a consumer
 * group and without committing anything. The consumer's configuration
 * comes from `conf` (bootstrap.servers and every kafka.* property, see
 * gh_kafka_conf_new), so TLS/SASL settings apply.
 * A record whose key is not the fingerprint computed from its value
 * (forged, corrupt, not a schema) is skipped with a warning naming its
 * partition and offset; tombstones are skipped; a schema already in the set
 * is fine. *added (may be NULL) receives how many schemas were new to the
 * set, also when an error ends the read early (what was read stays added).
 * Bounded by timeout_ms and the stop flag.
 * Errors: GH_ERR_NOT_FOUND (no such topic), GH_ERR_STOPPED, GH_ERR_KAFKA
 * (cluster unreachable, timed out), GH_ERR_CONFIG (a kafka.* property
 * librdkafka refuses). */
gh_err_t gh_schema_topic_load(gh_schemas_t *set, const gh_conf_t *conf,
                              const char *topic, int timeout_ms, size_t *added,
                              char *errstr, size_t errstr_size);

#endif
