#include "topics.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gridhub/util.h"

rd_kafka_t *gh_test_raw_consumer(const char *bootstrap) {
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *kv[][2] = {{"bootstrap.servers", bootstrap},
                           {"group.id", "gh-test-raw"},
                           {"enable.auto.commit", "false"},
                           {"enable.partition.eof", "true"},
                           {"log_level", "3"}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        cr_assert_eq(
            rd_kafka_conf_set(conf, kv[i][0], kv[i][1], err, sizeof err),
            RD_KAFKA_CONF_OK, "%s: %s", kv[i][0], err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    cr_assert_not_null(rk, "rd_kafka_new: %s", err);
    return rk;
}

int gh_test_partitions(rd_kafka_t *rk, const char *topic) {
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    /* A broker that was just restarted or brought back may answer late. */
    for (int attempt = 0; attempt < 20; attempt++) {
        e = rd_kafka_metadata(rk, 0, t, &md, 5000);
        if (!e) break;
        md = NULL;
        usleep(200 * 1000);
    }
    cr_assert_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "metadata of %s: %s", topic,
                 rd_kafka_err2str(e));
    int n = 0;
    if (md->topic_cnt == 1 && !md->topics[0].err)
        n = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    return n;
}

void gh_test_watermarks(rd_kafka_t *rk, const char *topic, int partition,
                        int64_t *lo, int64_t *hi) {
    rd_kafka_resp_err_t e =
        rd_kafka_query_watermark_offsets(rk, topic, partition, lo, hi, 10000);
    cr_assert_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "watermarks of %s [%d]: %s",
                 topic, partition, rd_kafka_err2str(e));
}

long gh_test_topics_size(const char *bootstrap, const char *topics) {
    rd_kafka_t *rk = gh_test_raw_consumer(bootstrap);
    char *copy = gh_xstrdup(topics), *save = NULL;
    long total = 0;
    for (char *t = strtok_r(copy, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        int n = gh_test_partitions(rk, t);
        for (int p = 0; p < n; p++) {
            int64_t lo, hi;
            gh_test_watermarks(rk, t, p, &lo, &hi);
            total += (long)(hi - lo);
        }
    }
    free(copy);
    rd_kafka_destroy(rk);
    return total;
}

int gh_test_wait_topics_size(const char *bootstrap, const char *topics, long n,
                             int timeout_ms) {
    int64_t deadline = gh_now_ms() + timeout_ms;
    for (;;) {
        if (gh_test_topics_size(bootstrap, topics) >= n) return 1;
        if (gh_now_ms() >= deadline) return 0;
        usleep(100 * 1000);
    }
}

json_t *gh_test_read_raw(const char *bootstrap, const char *topic) {
    rd_kafka_t *rk = gh_test_raw_consumer(bootstrap);
    json_t *out = json_array();
    int n = gh_test_partitions(rk, topic);
    int64_t *next = gh_xcalloc((size_t)n + 1, sizeof *next);
    int64_t *hi = gh_xcalloc((size_t)n + 1, sizeof *hi);
    rd_kafka_topic_partition_list_t *parts =
        rd_kafka_topic_partition_list_new(n > 0 ? n : 1);
    int pending = 0;
    for (int p = 0; p < n; p++) {
        gh_test_watermarks(rk, topic, p, &next[p], &hi[p]);
        if (next[p] < hi[p]) pending++;
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset = next[p];
    }
    if (pending) {
        rd_kafka_resp_err_t e = rd_kafka_assign(rk, parts);
        cr_assert_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "assign: %s",
                     rd_kafka_err2str(e));
    }
    int64_t deadline = gh_now_ms() + 30000;
    while (pending > 0) {
        cr_assert(gh_now_ms() < deadline,
                  "raw_read(%s): %d partition(s) not read to their high "
                  "watermark within 30 s",
                  topic, pending);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m) continue;
        if (m->err) {
            cr_assert(m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF,
                      "raw_read(%s): %s", topic, rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        json_t *o = json_object();
        json_object_set_new(o, "partition", json_integer(m->partition));
        json_object_set_new(o, "offset", json_integer(m->offset));
        json_object_set_new(
            o, "key", m->key ? json_stringn(m->key, m->key_len) : json_null());
        json_object_set_new(o, "value",
                            m->payload ? json_stringn(m->payload, m->len)
                                       : json_null());
        json_t *h = json_object();
        rd_kafka_headers_t *hdrs = NULL;
        if (!rd_kafka_message_headers(m, &hdrs) && hdrs) {
            const char *name;
            const void *v;
            size_t sz;
            for (size_t i = 0;
                 !rd_kafka_header_get_all(hdrs, i, &name, &v, &sz); i++)
                json_object_set_new(h, name,
                                    v ? json_stringn(v, sz) : json_null());
        }
        json_object_set_new(o, "headers", h);
        json_array_append_new(out, o);
        int p = m->partition;
        if (p >= 0 && p < n && next[p] < hi[p] && m->offset + 1 >= hi[p])
            pending--;
        if (p >= 0 && p < n && m->offset + 1 > next[p]) next[p] = m->offset + 1;
        rd_kafka_message_destroy(m);
    }
    rd_kafka_topic_partition_list_destroy(parts);
    free(next);
    free(hi);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return out;
}
