/*
 * A subscriber topic's message as the HTTP feeds carry it (`gh_topicjson_`):
 * the webhook's POSTs and the API's pull feed (GET /v1/feed/{entity}) give
 * each message the same JSON, so a receiver can switch between the two
 * without changing its parser (docs/api.md, "Feeds over HTTP").
 *
 * Values are decoded with their writer schema, which is one of the hub's
 * own view_schema rows: the relay publishes a schema before any record
 * written with it, so the table always holds the schema of a record on
 * the topic. Trust comes from that table, never from the message.
 */
#ifndef GH_TOPICJSON_H
#define GH_TOPICJSON_H

#include <jansson.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "gridhub/error.h"

/* A message copied out of librdkafka's, so that it can wait in a queue. */
typedef struct gh_topicjson_msg {
    int32_t partition;
    int64_t offset;
    int64_t timestamp_ms; /* Kafka's, -1 if none */
    char *key;            /* NULL: no key */
    unsigned char *value; /* NULL: tombstone */
    size_t len;
    char *outbox_id, *person_version; /* header values, NULL if absent */
} gh_topicjson_msg_t;

/* Copies m (a message, not an event) into *out; free with
 * gh_topicjson_msg_clear. */
void gh_topicjson_msg_copy(gh_topicjson_msg_t *out,
                           const rd_kafka_message_t *m);
/* Frees what *m holds (not m itself). */
void gh_topicjson_msg_clear(gh_topicjson_msg_t *m);

typedef struct gh_topicjson gh_topicjson_t;

/* A decoder knowing no schema yet; `registry_url` (may be NULL) as
 * gh_serde_new. Owned by the caller (gh_topicjson_destroy). */
gh_topicjson_t *gh_topicjson_new(const char *registry_url);
/* NULL is a no-op. */
void gh_topicjson_destroy(gh_topicjson_t *tj);

/* Learns every row of view_schema in `db` (GH_ERR_PG, or GH_ERR_PG_CONNECT
 * when the connection is lost). */
gh_err_t gh_topicjson_schemas_read(gh_topicjson_t *tj, PGconn *db, char *errstr,
                                   size_t errstr_size);

/* Sets in object `o` (borrowed) the members of message m: offset,
 * timestamp_ms, key, outbox_id, person_version (integers when they are
 * numbers), schema, schema_fingerprint and record (all three null for a
 * tombstone). A schema not known yet is looked up in `db`'s view_schema
 * once. GH_ERR_UNKNOWN_SCHEMA / GH_ERR_SERDE when the value cannot be
 * decoded even so, errstr naming the partition and offset. */
gh_err_t gh_topicjson_fill(gh_topicjson_t *tj, PGconn *db,
                           const gh_topicjson_msg_t *m, json_t *o, char *errstr,
                           size_t errstr_size);

#endif
