/* Consumer lag from librdkafka's statistics (its STATISTICS.md), chosen
 * over the two alternatives:
 * - rd_kafka_query_watermark_offsets() asks the broker and blocks up to
 *   its timeout, which would stall the loop while the cluster is down;
 * - rd_kafka_get_watermark_offsets() + rd_kafka_position() are local, but
 *   the position stays unknown until the application has read a message:
 *   a hub restarted while caught up would never show a lag of 0.
 * The statistics are built by librdkafka's own threads from state it has
 * anyway (high watermark and last stable offset from fetch responses, the
 * committed offsets fetched at assignment) and handed to the callback from
 * rd_kafka_consumer_poll() on the component's thread: no broker request,
 * no lock, at most as old as statistics.interval.ms. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/kafka.h"
#include "gridhub/log.h"
#include "gridhub/util.h"
#include "kafka_int.h"

typedef struct lag_part {
    char *topic;
    int32_t partition;
    int64_t lag;
} lag_part_t;

typedef struct lag_table {
    lag_part_t *parts;
    int n;
    int seen; /* statistics arrived at least once */
} lag_table_t;

static void table_reset(lag_table_t *t) {
    for (int i = 0; i < t->n; i++)
        free(t->parts[i].topic);
    free(t->parts);
    t->parts = NULL;
    t->n = 0;
}

static int64_t int_of(const json_t *p, const char *key) {
    const json_t *v = json_object_get(p, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

/* The lag of one partition the application consumes, from its position
 * to the last stable offset (what read_committed can reach; the high
 * watermark when there is none); -1 when not known yet. The position is
 * what was read (app_offset); before anything was read since the
 * partition was assigned, the committed offset, else where the fetcher
 * stands (next_offset: the hub assigns explicit offsets, so librdkafka
 * fetches no committed offset of its own, and a partition another
 * instance had read to its end gives nothing to read — without this it
 * showed its whole length as lag after every rebalance), else the low
 * watermark (a partition read from its start). The fetcher may be a
 * prefetch ahead of the application: at most one fetch of lag unshown,
 * and only until the first message is read. */
int64_t gh__kafka_partition_lag(const json_t *p) {
    if (!json_is_true(json_object_get(p, "desired"))) return -1;
    int64_t end = int_of(p, "ls_offset");
    if (end < 0) end = int_of(p, "hi_offset");
    int64_t pos = int_of(p, "app_offset");
    int64_t committed = int_of(p, "committed_offset");
    if (committed > pos) pos = committed;
    if (pos < 0) pos = int_of(p, "next_offset");
    if (pos < 0) pos = int_of(p, "lo_offset");
    if (end < 0 || pos < 0) return -1;
    return end > pos ? end - pos : 0;
}

static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque) {
    (void)rk;
    gh__consumer_ctx_t *ctx = opaque;
    lag_table_t *t = ctx ? ctx->lag : NULL;
    json_error_t je;
    json_t *root = json_loadb(json, len, 0, &je);
    if (!root) {
        gh_log_debug("kafka", "statistics not parsed: %s", je.text);
        return 0;
    }
    table_reset(t);
    const char *topic;
    json_t *tv;
    json_object_foreach(json_object_get(root, "topics"), topic, tv) {
        const char *pk;
        json_t *pv;
        json_object_foreach(json_object_get(tv, "partitions"), pk, pv) {
            int64_t lag = gh__kafka_partition_lag(pv);
            if (lag < 0 || !strcmp(pk, "-1")) continue;
            t->parts =
                gh_xrealloc(t->parts, (size_t)(t->n + 1) * sizeof(*t->parts));
            t->parts[t->n++] =
                (lag_part_t){gh_xstrdup(topic), (int32_t)atoi(pk), lag};
        }
    }
    t->seen = 1;
    json_decref(root);
    return 0; /* librdkafka frees json */
}

void *gh__kafka_lag_attach(rd_kafka_conf_t *kc, const gh_conf_t *conf) {
    const char *every = gh_conf_get(conf, "metrics.refresh.ms");
    if (!every) return NULL;
    char why[256];
    if (!gh_conf_is_set(conf, "kafka.statistics.interval.ms") &&
        rd_kafka_conf_set(kc, "statistics.interval.ms", every, why,
                          sizeof(why)) != RD_KAFKA_CONF_OK) {
        gh_log_warn("kafka", "statistics.interval.ms=%s: %s (no consumer lag)",
                    every, why);
        return NULL;
    }
    lag_table_t *t = gh_xcalloc(1, sizeof(*t));
    rd_kafka_conf_set_stats_cb(kc, stats_cb);
    return t;
}

void gh__kafka_lag_free(void *lag) {
    lag_table_t *t = lag;
    if (!t) return;
    table_reset(t);
    free(t);
}

long long gh_kafka_consumer_lag(rd_kafka_t *rk, gh_metrics_family_t *f) {
    gh__consumer_ctx_t *ctx = rk ? rd_kafka_opaque(rk) : NULL;
    lag_table_t *t = ctx ? ctx->lag : NULL;
    if (!t || !t->seen) return -1;
    gh_metrics_clear(f);
    long long total = 0;
    for (int i = 0; i < t->n; i++) {
        char part[16];
        snprintf(part, sizeof(part), "%d", (int)t->parts[i].partition);
        const char *labels[2] = {t->parts[i].topic, part};
        gh_metrics_set(gh_metrics_series(f, labels), (double)t->parts[i].lag);
        total += t->parts[i].lag;
    }
    return total;
}
