/* The schemas topic: ensure, publish, load (gridhub/schema_topic.h). */
#include "gridhub/schema_topic.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/kafka.h"
#include "gridhub/log.h"
#include "gridhub/shutdown.h"
#include "gridhub/util.h"

#define LOG "schemas"

/* Longest single wait, so that a stop request is noticed promptly. */
#define STEP_MS 100

void gh_schema_topic_key(uint64_t fp, char out[17]) {
    snprintf(out, 17, "%016" PRIx64, fp);
}

/* Milliseconds left until `deadline`, at most `cap`: 0 when time is up or a
 * stop was requested (the caller then says which). */
static int step_ms(int64_t deadline, int cap) {
    if (gh_shutdown_requested()) return 0;
    int64_t left = deadline - gh_now_ms();
    if (left <= 0) return 0;
    return left > cap ? cap : (int)left;
}

static gh_err_t stopped_or_timed_out(char *errstr, size_t errstr_size,
                                     const char *what, const char *topic,
                                     int timeout_ms) {
    if (gh_shutdown_requested())
        return gh_seterr(errstr, errstr_size, GH_ERR_STOPPED,
                         "stopped while %s schemas topic %s", what, topic);
    return gh_seterr(errstr, errstr_size, GH_ERR_KAFKA,
                     "%s schemas topic %s: no answer from Kafka within %d ms",
                     what, topic, timeout_ms);
}

/* The result event of the one admin request queued on `q`; NULL when the
 * deadline passed or a stop was requested. */
static rd_kafka_event_t *admin_wait(rd_kafka_queue_t *q, int64_t deadline) {
    int step;
    while ((step = step_ms(deadline, STEP_MS)) > 0) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, step);
        if (ev) return ev;
    }
    return NULL;
}

/* ---- ensure --------------------------------------------------------------
 */

/* After a request that failed at once: a short pause, so that retrying
 * until the deadline does not spin. */
static void pause_after_error(int64_t deadline) {
    gh_shutdown_sleep_ms(step_ms(deadline, STEP_MS));
}

/* The cluster's brokers and every topic this client may see, asked until
 * the deadline. Asking for all topics, not for `topic`, matters: a
 * cluster may create a topic someone merely asked about (librdkafka's
 * mock always does; Kafka with auto.create.topics.enable for clients that
 * cannot say otherwise), with its defaults, not compacted.
 * *md is the caller's (rd_kafka_metadata_destroy). */
static gh_err_t cluster_list(rd_kafka_t *rk, const char *topic,
                             const char *what, int64_t deadline, int timeout_ms,
                             const struct rd_kafka_metadata **md, char *errstr,
                             size_t errstr_size) {
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
    int step;
    /* Short attempts: a call under way cannot be interrupted by a stop. */
    while ((step = step_ms(deadline, 2000)) > 0) {
        err = rd_kafka_metadata(rk, 1, NULL, md, step);
        if (!err) return GH_OK;
        pause_after_error(deadline);
    }
    if (gh_shutdown_requested() || err == RD_KAFKA_RESP_ERR__TIMED_OUT)
        return stopped_or_timed_out(errstr, errstr_size, what, topic,
                                    timeout_ms);
    return gh_seterr(errstr, errstr_size, GH_ERR_KAFKA,
                     "%s schemas topic %s: metadata: %s", what, topic,
                     rd_kafka_err2str(err));
}

/* `topic` in a listing: its partition count, or -1 if it is not there. */
static int listed_partitions(const struct rd_kafka_metadata *md,
                             const char *topic) {
    for (int i = 0; i < md->topic_cnt; i++)
        if (!strcmp(md->topics[i].topic, topic) && !md->topics[i].err)
            return md->topics[i].partition_cnt;
    return -1;
}

/* Whether the listing's controller is one of its brokers. Every Kafka
 * cluster's is; librdkafka's mock cluster (2.0) names controller 0, which
 * is none of its brokers, and an admin request would wait for it until
 * it times out. */
static int has_controller(rd_kafka_t *rk, const struct rd_kafka_metadata *md) {
    int32_t id = rd_kafka_controllerid(rk, 0); /* as of that listing */
    for (int i = 0; i < md->broker_cnt; i++)
        if (md->brokers[i].id == id) return 1;
    return 0;
}

/* A topic that was already there: if the cluster says how it is cleaned
 * and that is not compaction, retention will delete schemas that old
 * messages still need. Only a warning: the operator owns the topic. */
static void check_compacted(rd_kafka_t *rk, const char *topic,
                            int64_t deadline) {
    rd_kafka_ConfigResource_t *res =
        rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opt =
        rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    int left = step_ms(deadline, 10000);
    char why[256];
    if (left > 0)
        rd_kafka_AdminOptions_set_request_timeout(opt, left, why, sizeof(why));
    rd_kafka_DescribeConfigs(rk, &res, 1, opt, q);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_ConfigResource_destroy(res);
    rd_kafka_event_t *ev = admin_wait(q, deadline);
    const rd_kafka_DescribeConfigs_result_t *r =
        ev ? rd_kafka_event_DescribeConfigs_result(ev) : NULL;
    size_t nres = 0;
    const rd_kafka_ConfigResource_t **rs =
        r && !rd_kafka_event_error(ev)
            ? rd_kafka_DescribeConfigs_result_resources(r, &nres)
            : NULL;
    for (size_t i = 0; i < nres; i++) {
        if (rd_kafka_ConfigResource_error(rs[i])) continue;
        size_t nc = 0;
        const rd_kafka_ConfigEntry_t **cs =
            rd_kafka_ConfigResource_configs(rs[i], &nc);
        for (size_t k = 0; k < nc; k++) {
            const char *v = rd_kafka_ConfigEntry_value(cs[k]);
            if (strcmp(rd_kafka_ConfigEntry_name(cs[k]), "cleanup.policy") ||
                (v && strstr(v, "compact")))
                continue;
            gh_log_warn(LOG,
                        "schemas topic %s has cleanup.policy=%s, not compact: "
                        "retention will delete schemas that old messages "
                        "still need; make it compacted (docs/operations.md, "
                        "\"The schemas topic\")",
                        topic, v ? v : "(none)");
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    else
        gh_log_debug(LOG, "schemas topic %s: configuration not known", topic);
    rd_kafka_queue_destroy(q);
}

/* The cluster answers no CreateTopics (librdkafka's mock cluster; a Kafka
 * older than 2.4 for the default replication factor): the topic is
 * created on first use, where the cluster allows that. A metadata request
 * from a producer is such a use, so the topic exists before anything that
 * needs it is produced. */
static gh_err_t no_admin_api(rd_kafka_t *rk, const char *topic, const char *why,
                             int64_t deadline) {
    gh_log_info(LOG,
                "schemas topic %s: the cluster does not create topics on "
                "request (%s): relying on it creating the topic on first use, "
                "as the embedded broker does; on a production cluster create "
                "it compacted (docs/operations.md, \"The schemas topic\")",
                topic, why);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int step = step_ms(deadline, 2000);
    if (step && !rd_kafka_metadata(rk, 0, rkt, &md, step) && md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return GH_OK;
}

gh_err_t gh_schema_topic_ensure(rd_kafka_t *rk, const char *topic,
                                int timeout_ms, char *errstr,
                                size_t errstr_size) {
    int64_t deadline = gh_now_ms() + timeout_ms;
    const struct rd_kafka_metadata *md = NULL;
    gh_err_t e = cluster_list(rk, topic, "creating", deadline, timeout_ms, &md,
                              errstr, errstr_size);
    if (e) return e;
    int exists = listed_partitions(md, topic) >= 0;
    int controller = has_controller(rk, md);
    rd_kafka_metadata_destroy(md);
    if (exists) { /* the usual case: nothing to create */
        if (controller) check_compacted(rk, topic, deadline);
        return GH_OK;
    }
    if (!controller)
        return no_admin_api(rk, topic, "no controller among its brokers",
                            deadline);
    char why[512];
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(topic, 1, -1, why, sizeof(why));
    if (!nt)
        return gh_seterr(errstr, errstr_size, GH_ERR_KAFKA,
                         "schemas topic %s: %s", topic, why);
    rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    rd_kafka_AdminOptions_t *opt =
        rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(opt, timeout_ms, why,
                                              sizeof(why));
    rd_kafka_AdminOptions_set_operation_timeout(opt, timeout_ms, why,
                                                sizeof(why));
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, opt, q);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_event_t *ev = admin_wait(q, deadline);
    rd_kafka_queue_destroy(q); /* a late answer is dropped */
    if (!ev)
        return stopped_or_timed_out(errstr, errstr_size, "creating", topic,
                                    timeout_ms);

    rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
    snprintf(why, sizeof(why), "%s",
             err ? rd_kafka_event_error_string(ev) : "");
    if (!err) {
        size_t n = 0;
        const rd_kafka_topic_result_t **tr =
            rd_kafka_CreateTopics_result_topics(
                rd_kafka_event_CreateTopics_result(ev), &n);
        for (size_t i = 0; i < n; i++)
            if (!strcmp(rd_kafka_topic_result_name(tr[i]), topic)) {
                err = rd_kafka_topic_result_error(tr[i]);
                const char *s = rd_kafka_topic_result_error_string(tr[i]);
                snprintf(why, sizeof(why), "%s", s ? s : rd_kafka_err2str(err));
            }
    }
    rd_kafka_event_destroy(ev);

    switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        gh_log_info(LOG, "created schemas topic %s (compacted, 1 partition)",
                    topic);
        return GH_OK;
    case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
        check_compacted(rk, topic, deadline);
        return GH_OK;
    case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE:
        return no_admin_api(rk, topic, why, deadline);
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
        /* Writers need not be allowed to create topics: the operator
         * creates this one (docs/operations.md). */
        return gh_seterr(
            errstr, errstr_size, GH_ERR_KAFKA,
            "schemas topic %s does not exist and this client may not create "
            "it (%s): create it compacted (docs/operations.md, \"The schemas "
            "topic\")",
            topic, why);
    default:
        return gh_seterr(errstr, errstr_size, GH_ERR_KAFKA,
                         "cannot create schemas topic %s: %s (%s)", topic, why,
                         rd_kafka_err2name(err));
    }
}

/* ---- publish -------------------------------------------------------------
 */

gh_err_t gh_schema_topic_publish(rd_kafka_t *producer, const char *topic,
                                 const gh_schema_t *s, char *errstr,
                                 size_t errstr_size) {
    char key[17];
    gh_schema_topic_key(gh_schema_fingerprint(s), key);
    const char *json = gh_schema_json(s);
    rd_kafka_headers_t *h = rd_kafka_headers_new(1);
    rd_kafka_header_add(h, "gh.schema.name", -1, gh_schema_fullname(s), -1);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer, RD_KAFKA_V_TOPIC(topic),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, 16),
        RD_KAFKA_V_VALUE((void *)json, strlen(json)), RD_KAFKA_V_HEADERS(h),
        RD_KAFKA_V_OPAQUE(NULL), RD_KAFKA_V_END);
    if (err) {
        rd_kafka_headers_destroy(h);
        return gh_seterr(errstr, errstr_size, GH_ERR_KAFKA,
                         "cannot queue schema %s (%s) for schemas topic %s: %s",
                         gh_schema_fullname(s), key, topic,
                         rd_kafka_err2str(err));
    }
    return GH_OK;
}

/* ---- load ----------------------------------------------------------------
 */

static int is_fingerprint_key(const void *key, size_t len) {
    if (!key || len != 16) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = ((const char *)key)[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return 0;
    }
    return 1;
}

/* One record of the topic: added to `set` if its key is the fingerprint
 * computed from its value. Returns 1 if the set gained a schema. */
static int accept_record(gh_schemas_t *set, const rd_kafka_message_t *m) {
    const char *topic = rd_kafka_topic_name(m->rkt);
    long long off = (long long)m->offset;
    int part = (int)m->partition;
    if (!m->payload) {
        gh_log_debug(LOG, "%s [%d] offset %lld: tombstone, skipped", topic,
                     part, off);
        return 0;
    }
    if (!is_fingerprint_key(m->key, m->key_len)) {
        gh_log_warn(LOG,
                    "%s [%d] offset %lld: key is not a fingerprint (16 "
                    "lowercase hex digits); record skipped",
                    topic, part, off);
        return 0;
    }
    char key[17];
    memcpy(key, m->key, 16);
    key[16] = '\0';
    char *text = gh_xstrndup(m->payload, m->len);
    char why[512], *pcf = NULL;
    int gained = 0;
    if (strlen(text) != m->len) {
        gh_log_warn(LOG,
                    "%s [%d] offset %lld (key %s): value holds a NUL byte, "
                    "not a schema; record skipped",
                    topic, part, off, key);
    } else if (gh_avro_canonical_form(text, &pcf, why, sizeof(why))) {
        gh_log_warn(LOG,
                    "%s [%d] offset %lld (key %s): value is not an Avro "
                    "schema (%s); record skipped",
                    topic, part, off, key, why);
    } else {
        char fp[17];
        gh_schema_topic_key(gh_avro_crc64(pcf, strlen(pcf)), fp);
        size_t before = gh_schemas_count(set);
        if (strcmp(fp, key)) {
            gh_log_warn(LOG,
                        "%s [%d] offset %lld: key %s is not the fingerprint "
                        "of the schema in the value (%s): forged or corrupt; "
                        "record skipped",
                        topic, part, off, key, fp);
        } else if (gh_schemas_add_json(set, text, 0, NULL, why, sizeof(why))) {
            gh_log_warn(LOG,
                        "%s [%d] offset %lld (key %s): schema rejected (%s); "
                        "record skipped",
                        topic, part, off, key, why);
        } else {
            gained = gh_schemas_count(set) > before;
        }
    }
    free(pcf);
    free(text);
    return gained;
}

/* The reading consumer: no group (the legacy per-partition API needs
 * none), nothing committed. A consumer's allow.auto.create.topics is
 * false already (setting it only makes librdkafka warn on clusters that
 * cannot obey, such as the mock). */
static gh_err_t loader_new(const gh_conf_t *conf, rd_kafka_t **out,
                           char *errstr, size_t errstr_size) {
    static const char *const defaults[] = {"client.id",
                                           "gridhub-schemas",
                                           "enable.auto.commit",
                                           "false",
                                           "enable.partition.eof",
                                           "true",
                                           "auto.offset.reset",
                                           "earliest",
                                           NULL};
    char why[512];
    rd_kafka_conf_t *kc = gh_kafka_conf_new(conf, defaults, why, sizeof(why));
    if (!kc) return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG, "%s", why);
    *out = rd_kafka_new(RD_KAFKA_CONSUMER, kc, why, sizeof(why));
    if (*out) return GH_OK;
    rd_kafka_conf_destroy(kc);
    return gh_seterr(errstr, errstr_size, GH_ERR_KAFKA,
                     "cannot create the schemas topic reader: %s", why);
}

/* Reads partitions [0, n) of rkt to the high watermarks `hi` through `q`.
 */
static gh_err_t read_to_ends(gh_schemas_t *set, rd_kafka_topic_t *rkt,
                             rd_kafka_queue_t *q, int n, const int64_t *hi,
                             int pending, int64_t deadline, int timeout_ms,
                             size_t *added, char *errstr, size_t errstr_size) {
    const char *topic = rd_kafka_topic_name(rkt);
    char *done = gh_xcalloc((size_t)n, 1);
    for (int p = 0; p < n; p++)
        done[p] = hi[p] <= 0;
    int step;
    while (pending > 0 && (step = step_ms(deadline, STEP_MS)) > 0) {
        rd_kafka_message_t *m = rd_kafka_consume_queue(q, step);
        if (!m) continue;
        int p = m->partition;
        if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            gh_log_debug(LOG, "%s [%d]: %s (retrying)", topic, p,
                         rd_kafka_message_errstr(m));
        } else if (p >= 0 && p < n && !done[p]) {
            if (!m->err && accept_record(set, m) && added) (*added)++;
            /* EOF reports the next offset; a record its own. Either way,
             * past the high watermark taken at the start is done (a
             * transaction marker may hold the last offset). */
            int64_t next = m->err ? m->offset : m->offset + 1;
            if (next >= hi[p]) {
                done[p] = 1;
                pending--;
            }
        }
        rd_kafka_message_destroy(m);
    }
    free(done);
    if (!pending) return GH_OK;
    return stopped_or_timed_out(errstr, errstr_size, "reading", topic,
                                timeout_ms);
}

gh_err_t gh_schema_topic_load(gh_schemas_t *set, const gh_conf_t *conf,
                              const char *topic, int timeout_ms, size_t *added,
                              char *errstr, size_t errstr_size) {
    if (added) *added = 0;
    int64_t deadline = gh_now_ms() + timeout_ms;
    rd_kafka_t *rk = NULL;
    gh_err_t e = loader_new(conf, &rk, errstr, errstr_size);
    if (e) return e;
    const struct rd_kafka_metadata *md = NULL;
    e = cluster_list(rk, topic, "reading", deadline, timeout_ms, &md, errstr,
                     errstr_size);
    int n = e ? 0 : listed_partitions(md, topic);
    if (md) rd_kafka_metadata_destroy(md);
    if (!e && n < 0)
        e = gh_seterr(errstr, errstr_size, GH_ERR_NOT_FOUND,
                      "schemas topic %s does not exist", topic);
    if (e) {
        rd_kafka_destroy(rk);
        return e;
    }
    /* Known to exist: asking for its leaders cannot create it. */
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    int64_t *hi = gh_xcalloc((size_t)n + 1, sizeof(*hi));
    int pending = 0;
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    char *started = gh_xcalloc((size_t)n + 1, 1);
    for (int p = 0; p < n && !e; p++) {
        int64_t lo = 0;
        rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
        int step;
        while (err && (step = step_ms(deadline, 1000)) > 0) {
            err = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi[p],
                                                   step);
            if (err) pause_after_error(deadline);
        }
        if (err) {
            e = stopped_or_timed_out(errstr, errstr_size, "reading", topic,
                                     timeout_ms);
        } else if (hi[p] > lo) {
            if (rd_kafka_consume_start_queue(rkt, p, RD_KAFKA_OFFSET_BEGINNING,
                                             q) == -1) {
                e = gh_seterr(errstr, errstr_size, GH_ERR_KAFKA,
                              "schemas topic %s [%d]: cannot start reading: "
                              "%s",
                              topic, p,
                              rd_kafka_err2str(rd_kafka_last_error()));
            } else {
                started[p] = 1;
                pending++;
            }
        } else {
            hi[p] = 0; /* empty: nothing to wait for */
        }
    }
    if (!e)
        e = read_to_ends(set, rkt, q, n, hi, pending, deadline, timeout_ms,
                         added, errstr, errstr_size);
    for (int p = 0; p < n; p++)
        if (started[p]) rd_kafka_consume_stop(rkt, p);
    free(started);
    free(hi);
    rd_kafka_queue_destroy(q);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return e;
}
