/* The delivery loop: read each configured subscriber topic from the
 * offsets in the hub database, POST per partition in order, advance an
 * offset only after a 2xx, retry a failed batch with capped exponential
 * backoff and jitter until it is taken. One thread: a POST blocks the
 * other partitions for at most webhook.timeout.ms. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gridhub/kafka.h"
#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "gridhub/shutdown.h"
#include "migrate.h"
#include "webhook_int.h"

#define LOG "webhook"
/* Bound of one metadata request: the stop waits for it at most. */
#define METADATA_TIMEOUT_MS 2000
/* Longest one poll blocks, so that a stop is seen at once. */
#define POLL_MS 100
/* Messages taken from librdkafka per turn before delivering. */
#define DRAIN_MAX 5000

static char **split_list(const char *s) {
    char **v = gh_xcalloc(1, sizeof(char *));
    int n = 0;
    char *copy = gh_xstrdup(s), *save = NULL;
    for (char *t = strtok_r(copy, ", ", &save); t;
         t = strtok_r(NULL, ", ", &save)) {
        v = gh_xrealloc(v, (size_t)(n + 2) * sizeof(char *));
        v[n++] = gh_xstrdup(t);
        v[n] = NULL;
    }
    free(copy);
    return v;
}

gh_webhook_t *gh_webhook_new(const gh_conf_t *conf, gh_err_t *err, char *errstr,
                             size_t errstr_size) {
    gh_webhook_t *w = gh_xcalloc(1, sizeof(*w));
    w->conf = conf;
    w->backoff_ms = gh_conf_get_int(conf, "webhook.retry.backoff.ms");
    w->backoff_max_ms = gh_conf_get_int(conf, "webhook.retry.backoff.max.ms");
    w->timeout_ms = gh_conf_get_int(conf, "webhook.timeout.ms");
    w->batch_max = (int)gh_conf_get_int(conf, "webhook.batch.max");
    w->refresh_ms = gh_conf_get_int(conf, "webhook.partitions.refresh.ms");
    w->seed = (unsigned)getpid() ^ (unsigned)gh_now_us();
    w->entities = split_list(gh_conf_get(conf, "webhook.entities"));
    gh_err_t e = gh__webhook_targets_load(w, errstr, errstr_size);
    if (!e) {
        w->db = gh_pg_connect_retry(
            gh_conf_get(conf, "database.conninfo"), 0, "hub",
            (int)gh_conf_get_int(conf, "retry.backoff.ms"),
            (int)gh_conf_get_int(conf, "retry.backoff.max.ms"));
        if (!w->db)
            e = gh_seterr(errstr, errstr_size, GH_ERR_STOPPED,
                          "stopped while connecting to the hub database");
    }
    if (!e) e = gh_migrate_apply(w->db, errstr, errstr_size);
    if (!e) e = gh__webhook_store_lock(w, errstr, errstr_size);
    if (!e) {
        w->tj = gh_topicjson_new(gh_conf_get(conf, "schema.registry.url"));
        e = gh_topicjson_schemas_read(w->tj, w->db, errstr, errstr_size);
    }
    if (!e) {
        /* The group is never joined (assign(), not subscribe()) and
         * nothing is committed: the offsets are the database's. */
        w->rk =
            gh_kafka_consumer_new(conf, "gridhub-webhook", "gridhub-webhook", 1,
                                  NULL, NULL, errstr, errstr_size);
        if (!w->rk) e = GH_ERR_CONFIG;
    }
    if (err) *err = e;
    if (e) {
        gh_webhook_destroy(w);
        return NULL;
    }
    for (int i = 0; i < w->ntargets; i++)
        gh_log_info(LOG, "subscriber %s: its feed is POSTed to its webhook",
                    w->targets[i].subscriber);
    return w;
}

void gh_webhook_destroy(gh_webhook_t *w) {
    if (!w) return;
    if (w->rk) gh_kafka_consumer_close(w->rk, 2000);
    for (int i = 0; i < w->nparts; i++) {
        for (int j = 0; j < w->parts[i].nq; j++)
            gh_topicjson_msg_clear(&w->parts[i].q[j]);
        free(w->parts[i].q);
        free(w->parts[i].topic);
    }
    free(w->parts);
    gh_topicjson_destroy(w->tj);
    PQfinish(w->db);
    gh__webhook_targets_free(w);
    for (int i = 0; w->entities && w->entities[i]; i++)
        free(w->entities[i]);
    free(w->entities);
    free(w);
}

static wh_part_t *find_part(gh_webhook_t *w, const char *topic, int32_t p) {
    for (int i = 0; i < w->nparts; i++)
        if (w->parts[i].partition == p && !strcmp(w->parts[i].topic, topic))
            return &w->parts[i];
    return NULL;
}

/* The offset the consumer is to read p from next. */
static int64_t read_from(const wh_part_t *p) {
    return p->nq ? p->q[p->nq - 1].offset + 1 : p->next;
}

/* Partitions of `topic` as the cluster knows them now; 0 if the topic does
 * not exist yet (no change for that subscriber was published so far). */
static int partitions_of(gh_webhook_t *w, const char *topic) {
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(w->rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int n = 0;
    rd_kafka_resp_err_t e = rd_kafka_metadata(
        w->rk, 0, rkt, &md, gh_shutdown_clamp_ms(METADATA_TIMEOUT_MS));
    if (!e && md->topic_cnt == 1 && !md->topics[0].err)
        n = md->topics[0].partition_cnt;
    else if (e)
        gh_log_debug(LOG, "metadata of %s: %s", topic, rd_kafka_err2str(e));
    if (md) rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return n;
}

static void pause_part(gh_webhook_t *w, wh_part_t *p, int pause) {
    if (p->paused == pause) return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
    if (pause)
        rd_kafka_pause_partitions(w->rk, l);
    else
        rd_kafka_resume_partitions(w->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    p->paused = pause;
}

/* Looks for partitions not assigned yet and assigns everything again at
 * the positions delivery has reached (positions of the partitions already
 * read are unchanged). */
static gh_err_t refresh(gh_webhook_t *w, char *errstr, size_t errstr_size) {
    w->last_refresh_ms = gh_now_ms();
    int added = 0;
    for (int t = 0; t < w->ntargets; t++)
        for (int e = 0; w->entities[e]; e++) {
            char *topic = gh_xasprintf(
                "%s.%s.%s", gh_conf_get(w->conf, "view.topic.prefix"),
                w->targets[t].subscriber, w->entities[e]);
            int n = partitions_of(w, topic);
            for (int p = 0; p < n; p++) {
                if (find_part(w, topic, p)) continue;
                w->parts = gh_xrealloc(w->parts, (size_t)(w->nparts + 1) *
                                                     sizeof(*w->parts));
                wh_part_t *np = &w->parts[w->nparts];
                memset(np, 0, sizeof(*np));
                np->target = t;
                np->topic = gh_xstrdup(topic);
                np->partition = p;
                gh_err_t ge = gh__webhook_store_get(w, np, &np->next, errstr,
                                                    errstr_size);
                if (ge) {
                    free(np->topic);
                    free(topic);
                    return ge;
                }
                w->nparts++;
                added++;
                gh_log_info(LOG, "%s [%d] to %s from %s", topic, p,
                            w->targets[t].subscriber,
                            np->next < 0 ? "the beginning"
                                         : "its stored "
                                           "offset");
            }
            free(topic);
        }
    if (!added && !w->reassign) return GH_OK;
    w->reassign = 0;
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new(w->nparts);
    for (int i = 0; i < w->nparts; i++) {
        wh_part_t *p = &w->parts[i];
        int64_t from = read_from(p);
        rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset =
            from < 0 ? RD_KAFKA_OFFSET_BEGINNING : from;
    }
    rd_kafka_resp_err_t ke = rd_kafka_assign(w->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    /* Whether a re-assigned partition keeps its pause is librdkafka's
     * business: set each one's state again rather than trust the flag. */
    for (int i = 0; !ke && i < w->nparts; i++) {
        w->parts[i].paused = -1;
        pause_part(w, &w->parts[i], w->parts[i].nq >= w->batch_max);
    }
    if (ke)
        return gh_seterr(errstr, errstr_size, GH_ERR_KAFKA, "assign: %s",
                         rd_kafka_err2str(ke));
    return GH_OK;
}

/* The consumer was asked for an offset the broker no longer holds. */
static gh_err_t gap(gh_webhook_t *w, const rd_kafka_message_t *m, char *errstr,
                    size_t errstr_size) {
    const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "?";
    wh_part_t *p = find_part(w, topic, m->partition);
    int64_t lo = -1, hi = -1;
    rd_kafka_query_watermark_offsets(w->rk, topic, m->partition, &lo, &hi,
                                     gh_shutdown_clamp_ms(10000));
    if (!p || lo < 0 || read_from(p) >= lo) {
        /* Nothing lost (the log moved meanwhile): read again from there. */
        w->last_refresh_ms = 0;
        w->reassign = 1;
        return GH_OK;
    }
    return gh_seterr(
        errstr, errstr_size, GH_ERR_DATA_LOSS,
        "%s [%d]: the broker no longer holds offsets %" PRId64 "..%" PRId64
        " (%" PRId64 " messages) not yet delivered to %s's webhook; "
        "nothing is skipped by itself: re-send the view (gridhub resync "
        "view) and accept the gap with UPDATE webhook_offset SET "
        "next_offset = %" PRId64 " WHERE subscriber = '%s' AND topic = '%s' "
        "AND partition = %d (docs/operations.md, \"When the broker lost "
        "messages\")",
        topic, (int)m->partition, read_from(p), lo - 1, lo - read_from(p),
        w->targets[p->target].subscriber, lo, w->targets[p->target].subscriber,
        topic, (int)m->partition);
}

/* Takes one message (or event) from the consumer. */
static gh_err_t take(gh_webhook_t *w, rd_kafka_message_t *m, char *errstr,
                     size_t errstr_size) {
    gh_err_t e = GH_OK;
    if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
        e = gap(w, m, errstr, errstr_size);
    } else if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            gh_log_warn(LOG, "%s", rd_kafka_message_errstr(m));
    } else {
        wh_part_t *p = find_part(w, rd_kafka_topic_name(m->rkt), m->partition);
        /* A message from before a re-assignment is a repeat: dropped here,
         * so that a batch never holds one twice or out of order. */
        if (p && m->offset >= read_from(p)) {
            if (p->nq == p->capq) {
                p->capq = p->capq ? p->capq * 2 : 64;
                p->q = gh_xrealloc(p->q, (size_t)p->capq * sizeof(*p->q));
            }
            gh_topicjson_msg_copy(&p->q[p->nq++], m);
            if (p->nq >= w->batch_max) pause_part(w, p, 1);
        }
    }
    rd_kafka_message_destroy(m);
    return e;
}

/* The wait before attempt `attempts` + 1: doubling from the base, capped,
 * less a random part of up to half (so that many partitions failing
 * together do not retry in step), or the receiver's Retry-After. */
static int64_t backoff(gh_webhook_t *w, int attempts, int64_t retry_after) {
    int64_t d = w->backoff_ms;
    for (int i = 1; i < attempts && d < w->backoff_max_ms; i++)
        d *= 2;
    if (d > w->backoff_max_ms) d = w->backoff_max_ms;
    d -= (int64_t)(rand_r(&w->seed) % (unsigned)(d / 2 + 1));
    if (retry_after > d)
        d = retry_after < w->backoff_max_ms ? retry_after : w->backoff_max_ms;
    return d;
}

static void failed(gh_webhook_t *w, wh_part_t *p, long status,
                   int64_t retry_after, const char *why) {
    wh_target_t *t = &w->targets[p->target];
    p->attempts++;
    int64_t d = backoff(w, p->attempts, retry_after);
    p->due_ms = gh_now_ms() + d;
    char err[512];
    if (gh__webhook_store_failed(w, p, (int)status, why, err, sizeof(err)))
        gh_log_warn(LOG, "%s", err);
    /* A refusal other than "later" (408, 429) says the receiver is broken
     * or misconfigured; it is still retried, never dropped, because the
     * next batches depend on this one for each resident's order. */
    if (status >= 400 && status < 500 && status != 408 && status != 429)
        gh_log_error(LOG,
                     "%s [%d] offset %" PRId64 ": %s; the batch is NOT "
                     "skipped: retried in %" PRId64 " ms (attempt %d) until "
                     "%s's receiver takes it (docs/api.md, \"Webhooks\")",
                     p->topic, (int)p->partition, p->q[0].offset, why, d,
                     p->attempts + 1, t->subscriber);
    else
        gh_log_warn(
            LOG, "%s [%d] offset %" PRId64 ": %s; retry %d in %" PRId64 " ms",
            p->topic, (int)p->partition, p->next, why, p->attempts + 1, d);
}

/* Records a delivered batch, reconnecting as long as it takes: the
 * receiver has it, and the next start would send it again. */
static gh_err_t record(gh_webhook_t *w, wh_part_t *p, int64_t next, int n,
                       long status, char *errstr, size_t errstr_size) {
    for (;;) {
        gh_err_t e = gh__webhook_store_delivered(w, p, next, n, (int)status,
                                                 errstr, errstr_size);
        if (!e) return GH_OK;
        if (PQstatus(w->db) == CONNECTION_OK) return e;
        gh_log_warn(LOG, "%s", errstr);
        e = gh__webhook_store_reconnect(w, errstr, errstr_size);
        if (e) return e;
    }
}

/* One POST of the head of p's queue. */
static gh_err_t deliver(gh_webhook_t *w, wh_part_t *p, char *errstr,
                        size_t errstr_size) {
    wh_target_t *t = &w->targets[p->target];
    int n = p->nq < w->batch_max ? p->nq : w->batch_max;
    gh_buf_t body = {0};
    char why[1024];
    gh_err_t e = gh__webhook_body(w, p, n, &body, why, sizeof(why));
    if (e) {
        gh_buf_free(&body);
        failed(w, p, 0, -1, why);
        return GH_OK;
    }
    char id[512];
    snprintf(id, sizeof(id), "%s/%s/%d/%" PRId64 "-%" PRId64, t->subscriber,
             p->topic, (int)p->partition, p->q[0].offset, p->q[n - 1].offset);
    long status = 0;
    int64_t ra = -1;
    e = gh__webhook_post(w, t, body.data, body.len, id, &status, &ra, why,
                         sizeof(why));
    gh_buf_free(&body);
    if (e == GH_ERR_STOPPED) {
        w->cut_short = 1;
        gh_log_info(LOG, "%s", why);
        return GH_OK;
    }
    if (e) {
        failed(w, p, status, ra, why);
        return GH_OK;
    }
    int64_t next = p->q[n - 1].offset + 1;
    e = record(w, p, next, n, status, errstr, errstr_size);
    if (e == GH_ERR_STOPPED) {
        /* Delivered, not recorded: sent again at the next start. */
        w->cut_short = 1;
        return GH_OK;
    }
    if (e) return e;
    if (p->attempts)
        gh_log_info(LOG,
                    "%s [%d] offset %" PRId64 ": delivered after %d "
                    "failed attempts",
                    p->topic, (int)p->partition, p->q[0].offset, p->attempts);
    gh_log_debug(LOG, "%s [%d]: %d messages to %s, next %" PRId64, p->topic,
                 (int)p->partition, n, t->subscriber, next);
    for (int i = 0; i < n; i++)
        gh_topicjson_msg_clear(&p->q[i]);
    memmove(p->q, p->q + n, (size_t)(p->nq - n) * sizeof(*p->q));
    p->nq -= n;
    p->next = next;
    p->attempts = 0;
    p->due_ms = 0;
    if (p->nq < w->batch_max) pause_part(w, p, 0);
    return GH_OK;
}

gh_err_t gh_webhook_run(gh_webhook_t *w, char *errstr, size_t errstr_size) {
    gh_err_t e = GH_OK;
    while (!e && !gh_shutdown_requested() && !w->cut_short) {
        int64_t now = gh_now_ms();
        if (now - w->last_refresh_ms >= w->refresh_ms) {
            e = refresh(w, errstr, errstr_size);
            if (e == GH_ERR_PG_CONNECT) {
                gh_log_warn(LOG, "%s", errstr);
                e = gh__webhook_store_reconnect(w, errstr, errstr_size);
            }
            if (e) break;
        }
        /* Sleep in the poll until the earliest retry is due. */
        int64_t wait = POLL_MS;
        for (int i = 0; i < w->nparts; i++)
            if (w->parts[i].nq) {
                int64_t d = w->parts[i].due_ms - now;
                if (d < wait) wait = d < 0 ? 0 : d;
            }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(w->rk, (int)wait);
        for (int n = 0; m && !e; n++) {
            e = take(w, m, errstr, errstr_size);
            m = n < DRAIN_MAX ? rd_kafka_consumer_poll(w->rk, 0) : NULL;
        }
        if (m) rd_kafka_message_destroy(m);
        now = gh_now_ms();
        for (int i = 0; !e && i < w->nparts && !gh_shutdown_requested(); i++)
            if (w->parts[i].nq && w->parts[i].due_ms <= now)
                e = deliver(w, &w->parts[i], errstr, errstr_size);
    }
    if (!e && w->cut_short)
        e = gh_seterr(errstr, errstr_size, GH_ERR_TIMED_OUT,
                      "stopped during a POST: its batch is sent again at "
                      "the next start");
    return e;
}
