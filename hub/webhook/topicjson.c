/* A subscriber topic's message as JSON; see topicjson.h. */
#include "topicjson.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/avro.h"
#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "gridhub/schema_topic.h"
#include "gridhub/util.h"

#define LOG "topicjson"

struct gh_topicjson {
    gh_schemas_t *set;
    gh_serde_t *serde;
};

static char *header(const rd_kafka_message_t *m, const char *name) {
    rd_kafka_headers_t *h = NULL;
    const void *v = NULL;
    size_t n = 0;
    if (rd_kafka_message_headers(m, &h) || !h ||
        rd_kafka_header_get_last(h, name, &v, &n) || !v)
        return NULL;
    return gh_xstrndup(v, n);
}

void gh_topicjson_msg_copy(gh_topicjson_msg_t *q, const rd_kafka_message_t *m) {
    memset(q, 0, sizeof(*q));
    q->partition = m->partition;
    q->offset = m->offset;
    q->timestamp_ms = rd_kafka_message_timestamp(m, NULL);
    if (m->key) q->key = gh_xstrndup(m->key, m->key_len);
    if (m->payload) {
        q->value = gh_xmalloc(m->len + 1);
        memcpy(q->value, m->payload, m->len);
        q->len = m->len;
    }
    q->outbox_id = header(m, "gh.outbox.id");
    q->person_version = header(m, "gh.person.version");
}

void gh_topicjson_msg_clear(gh_topicjson_msg_t *m) {
    free(m->key);
    free(m->value);
    free(m->outbox_id);
    free(m->person_version);
    memset(m, 0, sizeof(*m));
}

gh_topicjson_t *gh_topicjson_new(const char *registry_url) {
    gh_topicjson_t *tj = gh_xcalloc(1, sizeof(*tj));
    tj->set = gh_schemas_new();
    tj->serde = gh_serde_new(tj->set, registry_url);
    return tj;
}

void gh_topicjson_destroy(gh_topicjson_t *tj) {
    if (!tj) return;
    gh_serde_destroy(tj->serde);
    gh_schemas_destroy(tj->set);
    free(tj);
}

gh_err_t gh_topicjson_schemas_read(gh_topicjson_t *tj, PGconn *db, char *errstr,
                                   size_t errstr_size) {
    PGresult *r =
        gh_pg_query_what(db, "SELECT schema FROM view_schema", 0, NULL,
                         "read view_schema", errstr, errstr_size);
    if (!r) return gh_pg_failure(db);
    gh_err_t e = GH_OK;
    for (int i = 0; !e && i < PQntuples(r); i++)
        e = gh_schemas_add_json(tj->set, PQgetvalue(r, i, 0), 0, NULL, errstr,
                                errstr_size);
    PQclear(r);
    return e;
}

/* A header's decimal value as a JSON integer (null if absent, a string if
 * not a number: shown as sent rather than lost). */
static json_t *num_or_null(const char *s) {
    if (!s) return json_null();
    char *end;
    long long v = strtoll(s, &end, 10);
    return *s && !*end ? json_integer(v) : json_string(s);
}

/* The record of m into o, with its schema's name and fingerprint. */
static gh_err_t record_json(gh_topicjson_t *tj, PGconn *db,
                            const gh_topicjson_msg_t *m, json_t *o,
                            char *errstr, size_t errstr_size) {
    if (!m->value) {
        json_object_set_new(o, "schema", json_null());
        json_object_set_new(o, "schema_fingerprint", json_null());
        json_object_set_new(o, "record", json_null());
        return GH_OK;
    }
    avro_value_t v;
    const gh_schema_t *ws = NULL;
    gh_err_t e = gh_serde_decode(tj->serde, m->value, m->len, NULL, &v, &ws,
                                 errstr, errstr_size);
    if (e == GH_ERR_UNKNOWN_SCHEMA && db) {
        char err2[512];
        gh_err_t re = gh_topicjson_schemas_read(tj, db, err2, sizeof(err2));
        if (re)
            gh_log_warn(LOG, "re-reading view_schema: %s", err2);
        else
            e = gh_serde_decode(tj->serde, m->value, m->len, NULL, &v, &ws,
                                errstr, errstr_size);
    }
    if (e) return e;
    char fp[17];
    gh_schema_topic_key(gh_schema_fingerprint(ws), fp);
    json_object_set_new(o, "schema", json_string(gh_schema_fullname(ws)));
    json_object_set_new(o, "schema_fingerprint", json_string(fp));
    json_object_set_new(o, "record", gh_avro_to_json(ws, &v));
    avro_value_decref(&v);
    return GH_OK;
}

gh_err_t gh_topicjson_fill(gh_topicjson_t *tj, PGconn *db,
                           const gh_topicjson_msg_t *m, json_t *o, char *errstr,
                           size_t errstr_size) {
    json_object_set_new(o, "offset", json_integer(m->offset));
    json_object_set_new(o, "timestamp_ms",
                        m->timestamp_ms >= 0 ? json_integer(m->timestamp_ms)
                                             : json_null());
    json_object_set_new(o, "key", m->key ? json_string(m->key) : json_null());
    json_object_set_new(o, "outbox_id", num_or_null(m->outbox_id));
    json_object_set_new(o, "person_version", num_or_null(m->person_version));
    gh_err_t e = record_json(tj, db, m, o, errstr, errstr_size);
    if (e) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", errstr);
        gh_seterr(errstr, errstr_size, e, "partition %d offset %lld: %s",
                  (int)m->partition, (long long)m->offset, msg);
    }
    return e;
}
