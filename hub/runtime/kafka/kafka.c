#include "gridhub/kafka.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/log.h"
#include "gridhub/shutdown.h"
#include "gridhub/util.h"
#include "kafka_int.h"

int gh_kafka_validate_prop(const char *key, const char *value, char *errstr,
                           size_t errstr_size) {
    const char *name = key + strlen("kafka.");
    /* These are ours to set: letting them through would silently break the
     * delivery guarantees documented in docs/architecture.md. */
    static const char *const reserved[] = {
        "enable.idempotence", "enable.auto.commit", "enable.auto.offset.store",
        "bootstrap.servers", NULL};
    for (int i = 0; reserved[i]; i++)
        if (strcmp(name, reserved[i]) == 0) {
            snprintf(errstr, errstr_size,
                     "%s is managed by gridhub and cannot be overridden", name);
            return -1;
        }
    rd_kafka_conf_t *scratch = rd_kafka_conf_new();
    char why[512];
    rd_kafka_conf_res_t r =
        rd_kafka_conf_set(scratch, name, value, why, sizeof(why));
    rd_kafka_conf_destroy(scratch);
    if (r != RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "librdkafka rejects %s: %s", name, why);
        return -1;
    }
    return 0;
}

struct apply_ctx {
    rd_kafka_conf_t *kc;
    char *errstr;
    size_t errstr_size;
    int failed;
};

static void apply_one(const char *subkey, const char *value, void *opaque) {
    struct apply_ctx *a = opaque;
    char why[512];
    if (a->failed) return;
    if (rd_kafka_conf_set(a->kc, subkey, value, why, sizeof(why)) !=
        RD_KAFKA_CONF_OK) {
        snprintf(a->errstr, a->errstr_size, "kafka.%s: %s", subkey, why);
        a->failed = 1;
    }
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf) {
    gh_log_level_t l = level <= 2   ? GH_LOG_ERROR
                       : level <= 4 ? GH_LOG_WARN
                       : level <= 6 ? GH_LOG_INFO
                                    : GH_LOG_DEBUG;
    gh_log(l, "kafka", "%s %s: %s", rd_kafka_name(rk), fac, buf);
}

/* librdkafka retries by itself; this only makes an unreachable cluster
 * visible in our log, with what the client said. */
static void error_cb(rd_kafka_t *rk, int err, const char *reason,
                     void *opaque) {
    (void)opaque;
    rd_kafka_resp_err_t e = (rd_kafka_resp_err_t)err;
    if (e == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_fatal_error(rk, why, sizeof(why));
        gh_log_error("kafka", "%s: fatal: %s", rd_kafka_name(rk), why);
        return;
    }
    gh_log_warn("kafka", "%s: %s: %s (retrying)", rd_kafka_name(rk),
                rd_kafka_err2name(e), reason);
}

rd_kafka_conf_t *gh_kafka_conf_new(const gh_conf_t *conf,
                                   const char *const *defaults, char *errstr,
                                   size_t errstr_size) {
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    char why[512];
    if (rd_kafka_conf_set(kc, "bootstrap.servers",
                          gh_conf_get(conf, "bootstrap.servers"), why,
                          sizeof(why)) != RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "bootstrap.servers: %s", why);
        rd_kafka_conf_destroy(kc);
        return NULL;
    }
    for (int i = 0; defaults && defaults[i]; i += 2) {
        if (rd_kafka_conf_set(kc, defaults[i], defaults[i + 1], why,
                              sizeof(why)) != RD_KAFKA_CONF_OK) {
            snprintf(errstr, errstr_size, "%s: %s", defaults[i], why);
            rd_kafka_conf_destroy(kc);
            return NULL;
        }
    }
    struct apply_ctx a = {kc, errstr, errstr_size, 0};
    gh_conf_foreach_prefix(conf, "kafka.", apply_one, &a);
    if (a.failed) {
        rd_kafka_conf_destroy(kc);
        return NULL;
    }
    rd_kafka_conf_set_log_cb(kc, log_cb);
    rd_kafka_conf_set_error_cb(kc, error_cb);
    return kc;
}

rd_kafka_t *gh_kafka_producer_new(
    const gh_conf_t *conf, const char *client_id,
    void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *),
    void *opaque, char *errstr, size_t errstr_size) {
    static const char *const defaults[] = {
        "enable.idempotence", "true", "acks", "all",
        /* 0 = infinite: an unreachable cluster is retried, never dropped. */
        "message.timeout.ms", "0", "compression.codec", "lz4", "linger.ms", "5",
        "queue.buffering.max.messages", "1000000", NULL};
    rd_kafka_conf_t *kc =
        gh_kafka_conf_new(conf, defaults, errstr, errstr_size);
    if (!kc) return NULL;
    char why[512];
    rd_kafka_conf_set(kc, "client.id", client_id, why, sizeof(why));
    if (dr_cb) rd_kafka_conf_set_dr_msg_cb(kc, dr_cb);
    rd_kafka_conf_set_opaque(kc, opaque);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, why, sizeof(why));
    if (!rk) {
        snprintf(errstr, errstr_size, "cannot create Kafka producer: %s", why);
        rd_kafka_conf_destroy(kc);
        return NULL;
    }
    return rk;
}

/* Offsets are committed asynchronously (a cluster that is down must not
 * hold a batch loop or a shutdown); failures show up here. */
static void commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque) {
    (void)offsets;
    (void)opaque;
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        gh_log_warn("kafka",
                    "%s: offset commit failed (%s): the messages are read "
                    "again and skipped as replays unless a later commit "
                    "succeeds",
                    rd_kafka_name(rk), rd_kafka_err2str(err));
}

/* Assignment of a complete-history consumer: a partition the group never
 * committed starts at offset 0 when the broker still holds it from 0;
 * otherwise it is left to the offset reset, which (auto.offset.reset=error)
 * surfaces as RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET for gh_kafka_check_gap.
 * librdkafka's own "earliest" would silently start wherever the log now
 * begins. */
static void complete_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                  rd_kafka_topic_partition_list_t *parts,
                                  void *opaque) {
    gh__consumer_ctx_t *fl = opaque;
    int coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
    /* Who holds what, for an operator following a fail-over. */
    gh_log_info("kafka", "%s: %d partitions %s", rd_kafka_name(rk), parts->cnt,
                err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? "assigned"
                                                            : "revoked");
    if (err != RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (coop) {
            rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);
            if (e) rd_kafka_error_destroy(e);
        } else {
            rd_kafka_assign(rk, NULL);
        }
        return;
    }
    rd_kafka_resp_err_t ce = rd_kafka_committed(rk, parts, 10000);
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *p = &parts->elems[i];
        if (ce) { /* unknown: let the group's committed offset decide */
            p->offset = RD_KAFKA_OFFSET_STORED;
            continue;
        }
        int64_t floor = fl && fl->floor
                            ? fl->floor(fl->floor_ctx, p->topic, p->partition)
                            : -1;
        if (floor >= 0 && p->offset < floor) {
            gh_log_warn("kafka",
                        "%s [%d]: starting at offset %" PRId64
                        ", past a gap accepted with gridhub resync",
                        p->topic, (int)p->partition, floor);
            p->offset = floor;
            continue;
        }
        if (p->offset >= 0) continue;
        int64_t lo = 0, hi = 0;
        if (!rd_kafka_query_watermark_offsets(rk, p->topic, p->partition, &lo,
                                              &hi, 10000) &&
            lo == 0)
            p->offset = 0;
        else
            p->offset = RD_KAFKA_OFFSET_STORED;
    }
    if (coop) {
        rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, parts);
        if (e) {
            gh_log_error("kafka", "%s: assign: %s", rd_kafka_name(rk),
                         rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
    } else {
        rd_kafka_assign(rk, parts);
    }
}

rd_kafka_t *gh_kafka_consumer_new(const gh_conf_t *conf, const char *group_id,
                                  const char *client_id, int complete_history,
                                  gh_kafka_floor_cb *floor, void *floor_ctx,
                                  char *errstr, size_t errstr_size) {
    /* fetch.wait.max.ms: a broker answers a fetch as soon as data comes,
     * but the embedded one (rdkafka_mock) only when this wait runs out:
     * librdkafka's 500 ms was most of the latency of a hop.
     * session.timeout.ms: a member killed without leaving holds its
     * partitions this long: librdkafka's 45 s was most of a fail-over. */
    const char *const defaults[] = {"enable.auto.commit",
                                    "false",
                                    "enable.auto.offset.store",
                                    "false",
                                    "auto.offset.reset",
                                    complete_history ? "error" : "earliest",
                                    "enable.partition.eof",
                                    "false",
                                    "isolation.level",
                                    "read_committed",
                                    "fetch.wait.max.ms",
                                    "50",
                                    "session.timeout.ms",
                                    "10000",
                                    NULL};
    rd_kafka_conf_t *kc =
        gh_kafka_conf_new(conf, defaults, errstr, errstr_size);
    if (!kc) return NULL;
    char why[512];
    if (rd_kafka_conf_set(kc, "group.id", group_id, why, sizeof(why)) ||
        rd_kafka_conf_set(kc, "client.id", client_id, why, sizeof(why))) {
        snprintf(errstr, errstr_size, "group.id: %s", why);
        rd_kafka_conf_destroy(kc);
        return NULL;
    }
    rd_kafka_conf_set_offset_commit_cb(kc, commit_cb);
    gh__consumer_ctx_t *ctx = gh_xcalloc(1, sizeof(*ctx));
    if (complete_history) {
        rd_kafka_conf_set_rebalance_cb(kc, complete_rebalance_cb);
        ctx->floor = floor;
        ctx->floor_ctx = floor_ctx;
    }
    ctx->lag = gh__kafka_lag_attach(kc, conf);
    rd_kafka_conf_set_opaque(kc, ctx); /* freed by gh_kafka_consumer_close */
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, why, sizeof(why));
    if (!rk) {
        snprintf(errstr, errstr_size, "cannot create Kafka consumer: %s", why);
        rd_kafka_conf_destroy(kc);
        gh__kafka_lag_free(ctx->lag);
        free(ctx);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

size_t gh_kafka_max_message(rd_kafka_t *rk) {
    char v[32];
    size_t n = sizeof(v);
    long long max = 1000000;
    if (rd_kafka_conf_get(rd_kafka_conf(rk), "message.max.bytes", v, &n) ==
        RD_KAFKA_CONF_OK)
        max = atoll(v);
    /* Record batch and record framing, generously. */
    return max > 1024 ? (size_t)max - 512 : (size_t)max / 2;
}

gh_err_t gh_kafka_produce_dead_letter(rd_kafka_t *rk, const char *dlq_topic,
                                      const void *key, size_t key_len,
                                      const void *value, size_t value_len,
                                      const char *component, const char *reason,
                                      const char *src_topic, int32_t partition,
                                      int64_t offset, void *msg_opaque,
                                      char *errstr, size_t errstr_size) {
    rd_kafka_headers_t *h = rd_kafka_headers_new(5);
    rd_kafka_header_add(h, "gh.error.reason", -1, reason, -1);
    rd_kafka_header_add(h, "gh.error.component", -1, component, -1);
    if (src_topic) {
        char num[32];
        rd_kafka_header_add(h, "gh.source.topic", -1, src_topic, -1);
        snprintf(num, sizeof(num), "%d", (int)partition);
        rd_kafka_header_add(h, "gh.source.partition", -1, num, -1);
        snprintf(num, sizeof(num), "%lld", (long long)offset);
        rd_kafka_header_add(h, "gh.source.offset", -1, num, -1);
    }
    size_t room = gh_kafka_max_message(rk), used = key_len + 256;
    for (size_t i = 0; i < rd_kafka_header_cnt(h); i++) {
        const char *name;
        const void *hv;
        size_t hl;
        if (!rd_kafka_header_get_all(h, i, &name, &hv, &hl))
            used += strlen(name) + hl + 8;
    }
    if (key_len > room / 4) { /* a forged key can be a poison pill too */
        char num[32];
        snprintf(num, sizeof(num), "%zu", key_len);
        rd_kafka_header_add(h, "gh.error.key.truncated", -1, num, -1);
        used -= key_len - room / 4;
        key_len = room / 4;
    }
    if (used + value_len > room) {
        char num[32];
        snprintf(num, sizeof(num), "%zu", value_len);
        rd_kafka_header_add(h, "gh.error.truncated", -1, num, -1);
        value_len = used + 64 < room ? room - used - 64 : 0;
    }
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(dlq_topic),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, key_len),
        RD_KAFKA_V_VALUE((void *)value, value_len), RD_KAFKA_V_HEADERS(h),
        RD_KAFKA_V_OPAQUE(msg_opaque), RD_KAFKA_V_END);
    if (err) {
        rd_kafka_headers_destroy(h);
        return gh_seterr(errstr, errstr_size, GH_ERR_KAFKA,
                         "cannot queue dead letter to %s: %s", dlq_topic,
                         rd_kafka_err2str(err));
    }
    return GH_OK;
}

gh_err_t gh_kafka_check_gap(rd_kafka_t *rk, const rd_kafka_message_t *m,
                            char *errstr, size_t errstr_size) {
    const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "?";
    int32_t part = m->partition;
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rk, topic, part, &lo, &hi, 10000);
    if (err)
        return gh_seterr(errstr, errstr_size, GH_ERR_KAFKA,
                         "%s [%d]: the consumer cannot resume (%s) and the "
                         "broker's watermarks are unknown: %s",
                         topic, (int)part, rd_kafka_message_errstr(m),
                         rd_kafka_err2str(err));
    int64_t want = m->offset < 0 ? 0 : m->offset; /* < 0: never read */
    if (want > hi)
        return gh_seterr(
            errstr, errstr_size, GH_ERR_DATA_LOSS,
            "%s [%d]: this consumer has read up to offset %lld but the "
            "broker's log ends at %lld: the topic was deleted and created "
            "again, or the broker lost its data; what it held is not known "
            "to be complete (recovery: docs/operations.md, \"When the broker "
            "lost messages\")",
            topic, (int)part, (long long)want, (long long)hi);
    if (lo > want)
        return gh_seterr(
            errstr, errstr_size, GH_ERR_DATA_LOSS,
            "%s [%d]: %lld messages are gone: this consumer needs offset %lld "
            "next, but the broker holds only %lld..%lld (retention or a "
            "bounded log removed them before they were read). Stopping "
            "rather than skipping them; recovery: docs/operations.md, \"When "
            "the broker lost messages\"",
            topic, (int)part, (long long)(lo - want), (long long)want,
            (long long)lo, (long long)hi);
    /* Nothing is gone (the log moved while the position was being set):
     * a new consumer will start at the committed offset. */
    return gh_seterr(errstr, errstr_size, GH_ERR_KAFKA,
                     "%s [%d]: the consumer could not resume at offset %lld "
                     "(%s), although the broker holds it: starting again",
                     topic, (int)part, (long long)want,
                     rd_kafka_message_errstr(m));
}

/* The next wait of a bounded close: up to 100 ms, never past `deadline`
 * nor past the shutdown budget; 0 when time is up. */
static int close_step(int64_t deadline) {
    int64_t left = deadline - gh_now_ms();
    if (left <= 0) return 0;
    return gh_shutdown_clamp_ms(left > 100 ? 100 : (int)left);
}

long gh_kafka_producer_close(rd_kafka_t *rk, int timeout_ms) {
    if (!rk) return 0;
    int64_t deadline = gh_now_ms() + timeout_ms;
    if (gh_shutdown_requested()) {
        /* Stopping: flush for at most three quarters of what is left of
         * the budget. With the brokers down, rd_kafka_destroy takes a
         * while to end its broker threads, and a flush that used the whole
         * budget left the watchdog to end the process before its closing
         * line. */
        int64_t stop_by = gh_now_ms() + gh_shutdown_left_ms() * 3 / 4;
        if (stop_by < deadline) deadline = stop_by;
    }
    int step;
    while (rd_kafka_outq_len(rk) > 0 && (step = close_step(deadline)) > 0)
        rd_kafka_flush(rk, step);
    long left = rd_kafka_outq_len(rk);
    if (left > 0) {
        rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(rk, 0); /* serve the purged messages' reports */
    }
    rd_kafka_destroy(rk);
    return left;
}

/* Applies a rebalance event met while closing: leaving the group revokes
 * the assignment, and with the queue form of close the application must
 * apply that itself. */
static void close_serve(rd_kafka_t *rk, rd_kafka_event_t *ev) {
    if (rd_kafka_event_type(ev) != RD_KAFKA_EVENT_REBALANCE ||
        rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
        return;
    if (!strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE")) {
        rd_kafka_error_t *e2 = rd_kafka_incremental_unassign(
            rk, rd_kafka_event_topic_partition_list(ev));
        if (e2) rd_kafka_error_destroy(e2);
    } else {
        rd_kafka_assign(rk, NULL);
    }
}

static int has_assignment(rd_kafka_t *rk) {
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(rk, &parts)) return 0;
    int n = parts->cnt;
    rd_kafka_topic_partition_list_destroy(parts);
    return n > 0;
}

/* How long a close whose time is up still waits for the revoke of the
 * assignment. Until the application answers it, librdkafka does not let
 * the group terminate, and destroying the client blocks indefinitely (seen
 * as the watchdog ending a hub whose brokers were down). */
#define CLOSE_REVOKE_MS 500

int gh_kafka_consumer_close(rd_kafka_t *rk, int timeout_ms) {
    if (!rk) return 0;
    int64_t deadline = gh_now_ms() + timeout_ms;
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_error_t *err = rd_kafka_consumer_close_queue(rk, q);
    int closed = 0;
    if (err) {
        gh_log_warn("kafka", "%s: consumer close: %s", rd_kafka_name(rk),
                    rd_kafka_error_string(err));
        rd_kafka_error_destroy(err);
    } else {
        int step;
        rd_kafka_event_t *ev;
        while (!(closed = rd_kafka_consumer_closed(rk)) &&
               (step = close_step(deadline)) > 0) {
            if (!(ev = rd_kafka_queue_poll(q, step))) continue;
            close_serve(rk, ev);
            rd_kafka_event_destroy(ev);
        }
        int64_t until = gh_now_ms() + CLOSE_REVOKE_MS;
        while (!closed && has_assignment(rk) && gh_now_ms() < until) {
            if (!(ev = rd_kafka_queue_poll(q, 50))) continue;
            close_serve(rk, ev);
            rd_kafka_event_destroy(ev);
        }
    }
    rd_kafka_queue_destroy(q);
    if (!closed)
        gh_log_warn("kafka",
                    "%s: left the consumer group without waiting for the "
                    "cluster (unreachable?); it notices when the session "
                    "times out",
                    rd_kafka_name(rk));
    gh__consumer_ctx_t *ctx = rd_kafka_opaque(rk); /* gh_kafka_consumer_new */
    rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    if (ctx) gh__kafka_lag_free(ctx->lag);
    free(ctx);
    return closed ? 0 : -1;
}
