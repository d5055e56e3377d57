/* What a receiver gets: a batch of one partition as JSON, each record
 * decoded with its writer schema. The writer schemas are the hub's own
 * view_schema rows, which the relay publishes before any record written
 * with them, so the table always has the schema of a record on the topic. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "gridhub/schema_topic.h"
#include "webhook_int.h"

#define LOG "webhook"

gh_err_t gh__webhook_schemas_read(gh_webhook_t *w, char *errstr,
                                  size_t errstr_size) {
    PGresult *r =
        gh_pg_query_what(w->db, "SELECT schema FROM view_schema", 0, NULL,
                         "read view_schema", errstr, errstr_size);
    if (!r)
        return PQstatus(w->db) == CONNECTION_OK ? GH_ERR_PG : GH_ERR_PG_CONNECT;
    gh_err_t e = GH_OK;
    for (int i = 0; !e && i < PQntuples(r); i++)
        e = gh_schemas_add_json(w->set, PQgetvalue(r, i, 0), 0, NULL, errstr,
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

/* The record of m as JSON, with its schema's name and fingerprint. */
static gh_err_t record_json(gh_webhook_t *w, const wh_msg_t *m, json_t *o,
                            char *errstr, size_t errstr_size) {
    if (!m->value) {
        json_object_set_new(o, "schema", json_null());
        json_object_set_new(o, "schema_fingerprint", json_null());
        json_object_set_new(o, "record", json_null());
        return GH_OK;
    }
    avro_value_t v;
    const gh_schema_t *ws = NULL;
    gh_err_t e = gh_serde_decode(w->serde, m->value, m->len, NULL, &v, &ws,
                                 errstr, errstr_size);
    if (e == GH_ERR_UNKNOWN_SCHEMA) {
        char err2[512];
        gh_err_t re = gh__webhook_schemas_read(w, err2, sizeof(err2));
        if (re)
            gh_log_warn(LOG, "re-reading view_schema: %s", err2);
        else
            e = gh_serde_decode(w->serde, m->value, m->len, NULL, &v, &ws,
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

gh_err_t gh__webhook_body(gh_webhook_t *w, const wh_part_t *p, int n,
                          gh_buf_t *out, char *errstr, size_t errstr_size) {
    json_t *b = json_object();
    json_object_set_new(b, "subscriber",
                        json_string(w->targets[p->target].subscriber));
    json_object_set_new(b, "topic", json_string(p->topic));
    json_object_set_new(b, "partition", json_integer(p->partition));
    json_t *arr = json_array();
    json_object_set_new(b, "messages", arr);
    gh_err_t e = GH_OK;
    for (int i = 0; !e && i < n; i++) {
        const wh_msg_t *m = &p->q[i];
        json_t *o = json_object();
        json_array_append_new(arr, o);
        json_object_set_new(o, "offset", json_integer(m->offset));
        json_object_set_new(o, "timestamp_ms",
                            m->timestamp_ms >= 0 ? json_integer(m->timestamp_ms)
                                                 : json_null());
        json_object_set_new(o, "key",
                            m->key ? json_string(m->key) : json_null());
        json_object_set_new(o, "outbox_id", num_or_null(m->outbox_id));
        json_object_set_new(o, "person_version",
                            num_or_null(m->person_version));
        e = record_json(w, m, o, errstr, errstr_size);
        if (e) {
            char msg[512];
            snprintf(msg, sizeof(msg), "%s", errstr);
            gh_seterr(errstr, errstr_size, e, "%s [%d] offset %lld: %s",
                      p->topic, (int)p->partition, (long long)m->offset, msg);
        }
    }
    if (!e) {
        char *s = json_dumps(b, JSON_COMPACT);
        if (!s)
            e = gh_seterr(errstr, errstr_size, GH_ERR_SERDE,
                          "%s [%d]: cannot serialize the batch as JSON "
                          "(a key that is not UTF-8?)",
                          p->topic, (int)p->partition);
        else {
            gh_buf_puts(out, s);
            free(s);
        }
    }
    json_decref(b);
    return e;
}
