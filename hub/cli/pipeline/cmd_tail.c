/* `gridhub tail`: what a subscriber receives, decoded to JSON lines. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "gridhub/avro.h"
#include "gridhub/kafka.h"
#include "gridhub/log.h"
#include "gridhub/metrics.h"
#include "gridhub/schema_topic.h"
#include "gridhub/shutdown.h"
#include "gridhub/util.h"

static const gh_conf_prop_t props[] = {
    GH_KAFKA_CONF_PROPS,
    {"topic", GH_CONF_LIST, NULL, 1, 0, 0, NULL, NULL, "Topic(s) to read."},
    GH_SCHEMAS_DIR_PROP,
    GH_SCHEMAS_TOPIC_PROP,
    {"schema.registry.url", GH_CONF_STR, "", 0, 0, 0, NULL, NULL,
     "Schema Registry for Confluent-framed values."},
    {"history", GH_CONF_ENUM, "complete", 0, 0, 0, "complete|available", NULL,
     "`complete`: a subscriber building its view needs every message, so "
     "stop with an error (exit 1) naming the topic, partition and how many "
     "messages are gone if the broker no longer holds some; `available`: "
     "start at the earliest message still held."},
    {"max.messages", GH_CONF_INT, "0", 0, 0, 1000000000, NULL, NULL,
     "Stop after this many messages (0: no limit)."},
    {"idle.timeout.ms", GH_CONF_INT, "0", 0, 0, 86400000, NULL, NULL,
     "Stop after this long without a message (0: never), counted from when "
     "the consumer group assigned the partitions (at most a minute more "
     "while it has none)."},
    GH_SHUTDOWN_TIMEOUT_PROP,
    GH_METRICS_PROPS,
    {"log.level", GH_CONF_ENUM, "warn", 0, 0, 0, "error|warn|info|debug", NULL,
     "Log level. When not set: GRIDHUB_LOG_LEVEL from the environment."},
    GH_CONF_LOG_FORMAT_PROP,
    GH_CONF_END};

/* Bound of one read of the schemas topic. */
#define SCHEMAS_READ_TIMEOUT_MS 10000
/* Shortest time between two reads of the schemas topic. */
#define SCHEMAS_READ_GAP_MS 500

static json_t *headers_json(const rd_kafka_message_t *m) {
    rd_kafka_headers_t *h = NULL;
    json_t *o = json_object();
    if (rd_kafka_message_headers(m, &h) || !h) return o;
    const char *name;
    const void *val;
    size_t sz;
    for (size_t i = 0; !rd_kafka_header_get_all(h, i, &name, &val, &sz); i++)
        json_object_set_new(o, name, val ? json_stringn(val, sz) : json_null());
    return o;
}

/* Schemas from the schemas topic, besides schemas.dir: read at start
 * and again when a message names an unknown fingerprint. */
typedef struct tail_schemas {
    const gh_conf_t *conf;
    gh_schemas_t *set;
    const char *topic;
    int64_t last_wall_ms; /* when the last read started (wall clock) */
    int64_t last_ms;      /* the same, monotonic */
} tail_schemas_t;

/* One read of the whole topic; a missing topic is fine (schemas.dir may
 * have everything), anything else is worth a warning, not a stop. */
static void schemas_read(tail_schemas_t *ts) {
    char err[1024];
    size_t added = 0;
    ts->last_wall_ms = gh_wallclock_us() / 1000;
    ts->last_ms = gh_now_ms();
    gh_err_t e =
        gh_schema_topic_load(ts->set, ts->conf, ts->topic,
                             SCHEMAS_READ_TIMEOUT_MS, &added, err, sizeof(err));
    if (e == GH_ERR_NOT_FOUND)
        gh_log_info("tail", "%s; decoding with schemas.dir only", err);
    else if (e && e != GH_ERR_STOPPED)
        gh_log_warn("tail", "%s (%zu schemas read)", err, added);
    else if (!e)
        gh_log_info("tail", "%zu schemas from %s", added, ts->topic);
}

/* A message named a fingerprint the set does not know: reads the topic
 * again if that can help, i.e. if the last read started before the
 * message was written (writers publish a schema before using it; a
 * second's margin for clocks), and no sooner than SCHEMAS_READ_GAP_MS
 * after the last read. Returns 1 if it read. */
static int schemas_reread(tail_schemas_t *ts, const rd_kafka_message_t *m) {
    int64_t written = rd_kafka_message_timestamp(m, NULL);
    if (written < 0) written = gh_wallclock_us() / 1000;
    if (ts->last_wall_ms >= written + 1000) return 0;
    int64_t since = gh_now_ms() - ts->last_ms;
    if (since < SCHEMAS_READ_GAP_MS)
        gh_shutdown_sleep_ms((int)(SCHEMAS_READ_GAP_MS - since));
    if (gh_shutdown_requested()) return 0;
    schemas_read(ts);
    return 1;
}

/* What a subscriber's reader shows the operator: how much it read and how
 * far behind it is. */
typedef struct tail_metrics {
    gh_metrics_t *m;
    gh_metrics_series_t *read;
    gh_metrics_family_t *lag;
    int64_t refresh_ms, last;
} tail_metrics_t;

static int tail_metrics_init(tail_metrics_t *tm, const gh_conf_t *conf,
                             char *err, size_t errsz) {
    tm->m = gh_metrics_start(conf, "tail", "tail", err, errsz);
    if (!tm->m) return -1;
    gh_metrics_family_t *read =
        gh_metrics_counter(tm->m, "gridhub_tail_messages_total",
                           "Messages read and printed.", NULL);
    tm->read = gh_metrics_series(read, NULL);
    tm->lag = gh_metrics_gauge(tm->m, "gridhub_tail_consumer_lag_messages",
                               "Messages of each partition not yet read.",
                               "topic,partition");
    tm->refresh_ms = gh_conf_get_int(conf, "metrics.refresh.ms");
    gh_metrics_figure(tm->m, "messages", read);
    gh_metrics_figure(tm->m, "consumer_lag_messages", tm->lag);
    return 0;
}

/* Each turn of the loop. */
static void tail_metrics_tick(tail_metrics_t *tm, rd_kafka_t *c) {
    gh_metrics_progress(tm->m);
    int64_t now = gh_now_ms();
    if (now - tm->last < tm->refresh_ms) return;
    tm->last = now;
    gh_metrics_set_state(tm->m, GH_METRICS_RUNNING, NULL);
    gh_kafka_consumer_lag(c, tm->lag);
}

static int run(gh_conf_t *conf) {
    char err[1024];
    gh_cli_install_shutdown(conf, "tail");
    tail_metrics_t tm = {0};
    if (tail_metrics_init(&tm, conf, err, sizeof(err))) {
        gh_log_error("tail", "%s", err);
        return 1;
    }
    gh_schemas_t *set = NULL;
    if (gh_schemas_load_dir(&set, gh_schemas_dir(conf), err, sizeof(err))) {
        gh_log_error("tail", "%s", err);
        gh_metrics_destroy(tm.m);
        return 1;
    }
    tail_schemas_t tsch = {conf, set, gh_conf_get(conf, "schemas.topic"), 0, 0};
    schemas_read(&tsch);
    gh_serde_t *sd =
        gh_serde_new(set, gh_conf_get(conf, "schema.registry.url"));
    char group[64];
    snprintf(group, sizeof(group), "gridhub-tail-%d-%" PRId64, (int)getpid(),
             gh_now_us());
    rd_kafka_t *c =
        gh_kafka_consumer_new(conf, group, "gridhub-tail",
                              !strcmp(gh_conf_get(conf, "history"), "complete"),
                              NULL, NULL, err, sizeof(err));
    if (!c) {
        gh_log_error("tail", "%s", err);
        gh_serde_destroy(sd);
        gh_schemas_destroy(set);
        gh_metrics_destroy(tm.m);
        return 1;
    }
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    char **topics = gh_conf_get_list(conf, "topic");
    for (int i = 0; topics[i]; i++)
        rd_kafka_topic_partition_list_add(sub, topics[i],
                                          RD_KAFKA_PARTITION_UA);
    gh_conf_list_free(topics);
    rd_kafka_subscribe(c, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    long long max = gh_conf_get_int(conf, "max.messages"), count = 0;
    long long idle = gh_conf_get_int(conf, "idle.timeout.ms");
    int rc = GH_EXIT_OK;
    int64_t last = gh_now_ms();
    int assigned = 0;
    while (!gh_shutdown_requested() && (!max || count < max)) {
        tail_metrics_tick(&tm, c);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        if (!assigned) {
            /* Idle time counts from when the group gave this consumer its
             * partitions: joining can take seconds on a busy cluster, and
             * a tail that gave up before reading anything would print an
             * empty topic. */
            rd_kafka_topic_partition_list_t *a = NULL;
            if (!rd_kafka_assignment(c, &a) && a && a->cnt) {
                assigned = 1;
                last = gh_now_ms();
            }
            if (a) rd_kafka_topic_partition_list_destroy(a);
        }
        if (!m) {
            if (idle && assigned && gh_now_ms() - last >= idle) break;
            if (idle && gh_now_ms() - last >= idle + 60000) break;
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
            gh_err_t ge = gh_kafka_check_gap(c, m, err, sizeof(err));
            rd_kafka_message_destroy(m);
            if (ge) {
                gh_log_error("tail", "%s", err);
                rc = GH_EXIT_FATAL;
                break;
            }
            continue;
        }
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                gh_log_warn("tail", "%s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        last = gh_now_ms();
        json_t *o = json_object();
        json_object_set_new(o, "topic",
                            json_string(rd_kafka_topic_name(m->rkt)));
        json_object_set_new(o, "partition", json_integer(m->partition));
        json_object_set_new(o, "offset", json_integer(m->offset));
        json_object_set_new(
            o, "key", m->key ? json_stringn(m->key, m->key_len) : json_null());
        json_object_set_new(o, "headers", headers_json(m));
        if (!m->payload) {
            json_object_set_new(o, "value", json_null());
        } else {
            avro_value_t v;
            const gh_schema_t *ws = NULL;
            gh_err_t de = gh_serde_decode(sd, m->payload, m->len, NULL, &v, &ws,
                                          err, sizeof(err));
            if (de == GH_ERR_UNKNOWN_SCHEMA && schemas_reread(&tsch, m))
                de = gh_serde_decode(sd, m->payload, m->len, NULL, &v, &ws, err,
                                     sizeof(err));
            if (de) {
                json_object_set_new(o, "error", json_string(err));
                json_object_set_new(o, "value_bytes",
                                    json_integer((json_int_t)m->len));
            } else {
                json_object_set_new(o, "schema",
                                    json_string(gh_schema_fullname(ws)));
                json_object_set_new(o, "value", gh_avro_to_json(ws, &v));
                avro_value_decref(&v);
            }
        }
        char *line = json_dumps(o, JSON_COMPACT);
        printf("%s\n", line);
        fflush(stdout);
        free(line);
        json_decref(o);
        rd_kafka_message_destroy(m);
        count++;
        gh_metrics_inc(tm.read);
    }
    gh_kafka_consumer_close(c, 10000);
    gh_serde_destroy(sd);
    gh_schemas_destroy(set);
    gh_metrics_destroy(tm.m);
    return rc;
}

const gh_cli_cmd_t gh_cli_tail = {
    "tail",
    "print what a topic carries, decoded from Avro to JSON lines",
    "Example: gridhub tail --bootstrap-servers 127.0.0.1:9092 --topic "
    "hub.view.demo.person --idle-timeout-ms 5000",
    props,
    run,
    1};
