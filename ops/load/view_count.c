/* gh_view_count: what a subscriber holds after folding its topics.
 *
 *   gh_view_count --bootstrap HOST:PORT --topics hub.view.gongan.person,...
 *
 * A plain librdkafka consumer, as a subscriber would run one: every
 * partition of every topic from offset 0, each record keeping the latest
 * value of its key (a tombstone removes the key). Started before the
 * hub publishes, it reads as the views are written, so the embedded
 * broker's bounded log (docs/operations.md) only loses messages it has not
 * read yet; that — offset 0 gone when it starts, or its position evicted
 * under it — is reported loudly and makes the exit status 1, never a
 * smaller count in silence.
 *
 * On SIGTERM or SIGINT it reads on to the high watermarks of that moment
 * and prints one line per topic, "TOPIC KEYS MESSAGES" (live keys after
 * folding, messages read), then exits 0, or 1 after a gap. If it cannot
 * get there (the cluster is gone, a partition does not move for
 * STALL_MS) or a second signal comes, it prints what it has and exits 1
 * saying so. */
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop_requested;
static void on_stop(int sig) {
    (void)sig;
    stop_requested++;
}

#define STALL_MS 60000

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *what, const char *why) {
    fprintf(stderr, "gh_view_count: %s: %s\n", what, why);
    exit(2);
}

/* One topic's keys: open addressing, a key's slot holds it with whether
 * its latest record is a value (live) or a tombstone. */
typedef struct topic {
    char *name;
    char **keys;
    unsigned char *live;
    size_t cap, used, nlive;
    long long msgs;
    int parts;
    int64_t *hi; /* per partition: the end to reach once stopping */
    int64_t *pos;
} topic_t;

static uint64_t hash(const void *k, size_t n) { /* FNV-1a */
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ ((const unsigned char *)k)[i]) * 1099511628211ULL;
    return h;
}

static void put(topic_t *t, const void *k, size_t n, int live);

static void grow(topic_t *t) {
    topic_t o = *t;
    t->cap = o.cap ? o.cap * 2 : 1 << 16;
    t->keys = calloc(t->cap, sizeof(char *));
    t->live = calloc(t->cap, 1);
    if (!t->keys || !t->live) die("memory", "out of memory");
    t->used = t->nlive = 0;
    for (size_t i = 0; i < o.cap; i++)
        if (o.keys[i]) {
            size_t kl;
            memcpy(&kl, o.keys[i], sizeof(kl));
            put(t, o.keys[i] + sizeof(kl), kl, o.live[i]);
            free(o.keys[i]);
        }
    free(o.keys);
    free(o.live);
}

/* Keys are stored as their length then their bytes: Kafka keys are
 * bytes, not strings. */
static void put(topic_t *t, const void *k, size_t n, int live) {
    if ((t->used + 1) * 10 > t->cap * 7) grow(t);
    size_t i = hash(k, n) & (t->cap - 1);
    for (; t->keys[i]; i = (i + 1) & (t->cap - 1)) {
        size_t kl;
        memcpy(&kl, t->keys[i], sizeof(kl));
        if (kl == n && !memcmp(t->keys[i] + sizeof(kl), k, n)) {
            t->nlive += (size_t)live - t->live[i];
            t->live[i] = (unsigned char)live;
            return;
        }
    }
    t->keys[i] = malloc(sizeof(n) + n);
    if (!t->keys[i]) die("memory", "out of memory");
    memcpy(t->keys[i], &n, sizeof(n));
    memcpy(t->keys[i] + sizeof(n), k, n);
    t->live[i] = (unsigned char)live;
    t->used++;
    t->nlive += (size_t)live;
}

int main(int argc, char **argv) {
    const char *bootstrap = NULL, *topics = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--bootstrap"))
            bootstrap = argv[i + 1];
        else if (!strcmp(argv[i], "--topics"))
            topics = argv[i + 1];
        else
            die(argv[i], "unknown option");
    }
    if (!bootstrap || !topics)
        die("usage", "gh_view_count --bootstrap HOST:PORT --topics T1,T2,...");
    signal(SIGTERM, on_stop);
    signal(SIGINT, on_stop);

    char err[512];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    /* auto.offset.reset=error: a position the broker no longer has is an
     * error message, not a silent jump. */
    if (rd_kafka_conf_set(kc, "bootstrap.servers", bootstrap, err,
                          sizeof(err)) ||
        rd_kafka_conf_set(kc, "group.id", "gh-view-count", err, sizeof(err)) ||
        rd_kafka_conf_set(kc, "enable.auto.commit", "false", err,
                          sizeof(err)) ||
        rd_kafka_conf_set(kc, "auto.offset.reset", "error", err, sizeof(err)) ||
        rd_kafka_conf_set(kc, "enable.partition.eof", "false", err,
                          sizeof(err)))
        die("kafka", err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof(err));
    if (!rk) die("kafka", err);
    rd_kafka_poll_set_consumer(rk);

    int nt = 1;
    for (const char *s = topics; *s; s++)
        nt += *s == ',';
    topic_t *ts = calloc((size_t)nt, sizeof(topic_t));
    char *list = strdup(topics), *save = NULL;
    nt = 0;
    rd_kafka_topic_partition_list_t *as = rd_kafka_topic_partition_list_new(64);
    for (char *name = strtok_r(list, ",", &save); name;
         name = strtok_r(NULL, ",", &save)) {
        topic_t *t = &ts[nt++];
        t->name = name;
        /* Asking creates the topic on the embedded broker, with the
         * partition count the hub's first record would give it. */
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *kt = rd_kafka_topic_new(rk, name, NULL);
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, kt, &md, 10000);
        rd_kafka_topic_destroy(kt);
        if (e || md->topics[0].err || md->topics[0].partition_cnt < 1)
            die(name, rd_kafka_err2str(e ? e : md->topics[0].err));
        t->parts = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
        t->hi = calloc((size_t)t->parts, sizeof(int64_t));
        t->pos = calloc((size_t)t->parts, sizeof(int64_t));
        for (int p = 0; p < t->parts; p++)
            rd_kafka_topic_partition_list_add(as, name, p)->offset = 0;
    }
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, as);
    rd_kafka_topic_partition_list_destroy(as);
    if (e) die("assign", rd_kafka_err2str(e));

    int gaps = 0, ending = 0, short_of_end = 0;
    int64_t last_progress = 0;
    for (;;) {
        if (stop_requested && !ending) {
            /* The end to reach: every partition's high watermark now. */
            for (int i = 0; i < nt; i++)
                for (int p = 0; p < ts[i].parts; p++) {
                    int64_t lo = 0;
                    e = rd_kafka_query_watermark_offsets(rk, ts[i].name, p, &lo,
                                                         &ts[i].hi[p], 10000);
                    if (e) {
                        fprintf(stderr,
                                "gh_view_count: %s [%d]: end not known: %s\n",
                                ts[i].name, p, rd_kafka_err2str(e));
                        short_of_end = 1;
                    }
                }
            ending = 1;
            last_progress = now_ms();
        }
        if (ending) {
            int behind = 0;
            for (int i = 0; i < nt && !behind; i++)
                for (int p = 0; p < ts[i].parts && !behind; p++)
                    behind = ts[i].pos[p] < ts[i].hi[p];
            if (!behind) break;
            if (short_of_end || stop_requested > 1 ||
                now_ms() - last_progress > STALL_MS) {
                fprintf(stderr, "gh_view_count: stopped short of the topics' "
                                "end: the counts below are incomplete\n");
                short_of_end = 1;
                break;
            }
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) continue;
        const char *tn = m->rkt ? rd_kafka_topic_name(m->rkt) : "?";
        if (m->err) {
            if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
                fprintf(stderr,
                        "gh_view_count: %s [%d]: messages lost: the broker "
                        "no longer has offset %lld (evicted before they were "
                        "read): %s\n",
                        tn, m->partition, (long long)m->offset,
                        rd_kafka_message_errstr(m));
                gaps++;
                /* Counting on past the gap would print a number that
                 * looks complete: stop here. */
                rd_kafka_message_destroy(m);
                break;
            }
            fprintf(stderr, "gh_view_count: %s: %s\n", tn,
                    rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        for (int i = 0; i < nt; i++)
            if (!strcmp(ts[i].name, tn)) {
                put(&ts[i], m->key ? m->key : "", m->key_len,
                    m->payload != NULL);
                ts[i].msgs++;
                ts[i].pos[m->partition] = m->offset + 1;
                last_progress = now_ms();
                break;
            }
        rd_kafka_message_destroy(m);
    }
    for (int i = 0; i < nt; i++)
        printf("%s %zu %lld\n", ts[i].name, ts[i].nlive, ts[i].msgs);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return gaps || short_of_end ? 1 : 0;
}
