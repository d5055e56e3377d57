/* Internals of hub/webhook/ shared between its files. */
#ifndef GH_WEBHOOK_INT_H
#define GH_WEBHOOK_INT_H

#include <curl/curl.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

#include "gridhub/avro.h"
#include "gridhub/util.h"
#include "topicjson.h"
#include "webhook.h"

/* One configured receiver. */
typedef struct wh_target {
    char *subscriber;
    char *url;
    unsigned char *secret; /* the secret file's first line, as bytes */
    size_t secret_len;
    CURL *curl; /* kept between POSTs for keep-alive */
} wh_target_t;

/* One partition of one target's topic, delivered strictly in order. */
typedef struct wh_part {
    int target;
    char *topic;
    int32_t partition;
    int64_t next;          /* next offset to deliver (as stored) */
    gh_topicjson_msg_t *q; /* read, not yet delivered, in offset order */
    int nq, capq;
    int paused;     /* fetching paused (the queue is full); -1: unknown */
    int attempts;   /* failed POSTs in a row */
    int64_t due_ms; /* monotonic time of the next attempt */
} wh_part_t;

struct gh_webhook {
    const gh_conf_t *conf;
    wh_target_t *targets;
    int ntargets;
    char **entities; /* NULL-terminated */
    PGconn *db;
    rd_kafka_t *rk;
    gh_topicjson_t *tj; /* decodes what is POSTed */
    wh_part_t *parts;
    int nparts;
    int64_t backoff_ms, backoff_max_ms, timeout_ms;
    int batch_max;
    int64_t refresh_ms, last_refresh_ms;
    unsigned int seed; /* for jitter */
    int cut_short;     /* a POST was aborted by the stop */
    int reassign;      /* positions to be set again (after a reset) */
};

/* conf.c: webhook.<subscriber>.url / .secret.file into w->targets. */
gh_err_t gh__webhook_targets_load(gh_webhook_t *w, char *errstr,
                                  size_t errstr_size);
void gh__webhook_targets_free(gh_webhook_t *w);

/* store.c: the webhook_offset rows. */
/* The stored next offset of a partition, or -1 if it has none yet. */
gh_err_t gh__webhook_store_get(gh_webhook_t *w, const wh_part_t *p,
                               int64_t *next, char *errstr, size_t errstr_size);
/* Records a delivered batch: next_offset = next, attempts 0. */
gh_err_t gh__webhook_store_delivered(gh_webhook_t *w, const wh_part_t *p,
                                     int64_t next, int n, int status,
                                     char *errstr, size_t errstr_size);
/* Records a failed attempt (the offset stays). */
gh_err_t gh__webhook_store_failed(gh_webhook_t *w, const wh_part_t *p,
                                  int status, const char *why, char *errstr,
                                  size_t errstr_size);
/* Takes the advisory lock that keeps a second webhook process off the
 * database (GH_ERR_CONFIG if another holds it). */
gh_err_t gh__webhook_store_lock(gh_webhook_t *w, char *errstr,
                                size_t errstr_size);
/* Reconnects to the hub database after an error, until connected or
 * stopped (GH_ERR_STOPPED). */
gh_err_t gh__webhook_store_reconnect(gh_webhook_t *w, char *errstr,
                                     size_t errstr_size);

/* body.c: the JSON body of a batch of n messages of p (appended to out).
 * GH_ERR_UNKNOWN_SCHEMA / GH_ERR_SERDE when a value cannot be decoded even
 * after re-reading view_schema. */
gh_err_t gh__webhook_body(gh_webhook_t *w, const wh_part_t *p, int n,
                          gh_buf_t *out, char *errstr, size_t errstr_size);

/* post.c: one signed POST. *status receives the HTTP status (0 if none
 * came), *retry_after_ms the receiver's Retry-After (-1 if none).
 * GH_ERR_HTTP for a transport failure or a non-2xx answer,
 * GH_ERR_STOPPED when the stop cut the transfer short. */
gh_err_t gh__webhook_post(gh_webhook_t *w, wh_target_t *t, const char *body,
                          size_t len, const char *delivery_id, long *status,
                          int64_t *retry_after_ms, char *errstr,
                          size_t errstr_size);

#endif
