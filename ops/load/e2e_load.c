/* gh_e2e_load: commit-to-subscriber latency of the whole pipeline.
 *
 *   gh_e2e_load --conninfo "host=... dbname=zongzhi" --bootstrap HOST:PORT
 *               --topic hub.view.gongan.person [--rate 1000] [--seconds 20]
 *               [--grid LP-DT-01] [--wait 30]
 *
 * Commits new residents into 综治's register (zz_syrk) at a steady rate,
 * open loop: the rows due are inserted every 5 ms in one transaction,
 * whatever the pipeline does, and each row's clock starts when its
 * transaction's COMMIT returns. A plain librdkafka consumer (no group, every
 * partition from its end) reads the subscriber topic and stops each row's
 * clock at the first record that carries it. The subscriber must see the
 * phone in clear: each row's phone is a marker (17, a 3-digit tag of the
 * run, a 6-digit sequence number) found in the record's bytes, so no Avro
 * decoding and no schema is needed. Prints rows committed and seen, the
 * rate achieved and the latency percentiles; exit 1 if a row was never
 * seen within --wait seconds of the last commit.
 *
 * The names are 压测 and the sequence number in Chinese numerals: no two
 * alike, so identity resolution gives every row a person of its own. */
#include <inttypes.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

typedef struct run {
    char tag[6];        /* "17" + 3 digits */
    long n;             /* rows planned */
    int64_t *committed; /* per row, us; written and read by main only */
    int64_t *seen;      /* per row, us, 0 = not yet; written by the
                           consumer, read by main after joining it */
    atomic_long nseen;
    atomic_int stop;
    rd_kafka_t *rk;
} run_t;

static void die(const char *what, const char *why) {
    fprintf(stderr, "gh_e2e_load: %s: %s\n", what, why);
    exit(2);
}

/* Every partition of the topic, from its current end. */
static void assign_at_end(rd_kafka_t *rk, const char *topic) {
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, 10000);
    rd_kafka_topic_destroy(t);
    if (e || md->topic_cnt != 1 || md->topics[0].err)
        die(topic, rd_kafka_err2str(e ? e : md->topics[0].err));
    int np = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(np);
    for (int p = 0; p < np; p++) {
        int64_t lo = 0, hi = 0;
        e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000);
        if (e) die(topic, rd_kafka_err2str(e));
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = hi;
    }
    e = rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) die("assign", rd_kafka_err2str(e));
}

static void *consume(void *arg) {
    run_t *r = arg;
    while (!atomic_load(&r->stop)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, 100);
        if (!m) continue;
        int64_t t = now_us();
        if (!m->err && m->payload) {
            const char *p = m->payload, *end = p + m->len;
            while ((p = memmem(p, (size_t)(end - p), r->tag, 5)) &&
                   end - p >= 11) {
                long seq = 0;
                int ok = 1;
                for (int i = 5; i < 11; i++) {
                    if (p[i] < '0' || p[i] > '9') ok = 0;
                    seq = seq * 10 + (p[i] - '0');
                }
                if (ok && seq < r->n && !r->seen[seq]) {
                    r->seen[seq] = t;
                    atomic_fetch_add(&r->nseen, 1);
                }
                p += 5;
            }
        }
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

static void numerals(long v, char *out, size_t size) {
    static const char *const d[] = {"〇", "一", "二", "三", "四",
                                    "五", "六", "七", "八", "九"};
    char tmp[8];
    snprintf(tmp, sizeof(tmp), "%06ld", v);
    out[0] = '\0';
    for (int i = 0; tmp[i]; i++)
        strncat(out, d[tmp[i] - '0'], size - strlen(out) - 1);
}

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    const char *conninfo = NULL, *bootstrap = NULL, *topic = NULL;
    const char *grid = "LP-DT-01";
    double rate = 1000, seconds = 20, wait = 30;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--conninfo"))
            conninfo = argv[i + 1];
        else if (!strcmp(argv[i], "--bootstrap"))
            bootstrap = argv[i + 1];
        else if (!strcmp(argv[i], "--topic"))
            topic = argv[i + 1];
        else if (!strcmp(argv[i], "--grid"))
            grid = argv[i + 1];
        else if (!strcmp(argv[i], "--rate"))
            rate = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds"))
            seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--wait"))
            wait = atof(argv[i + 1]);
        else
            die(argv[i], "unknown option");
    }
    if (!conninfo || !bootstrap || !topic || rate <= 0 || seconds <= 0 ||
        rate * seconds >= 1e6)
        die("usage", "--conninfo, --bootstrap and --topic are required; "
                     "rate x seconds below 1,000,000");
    run_t r;
    memset(&r, 0, sizeof(r));
    srand((unsigned)(time(NULL) ^ getpid()));
    snprintf(r.tag, sizeof(r.tag), "17%03u", (unsigned)rand() % 1000u);
    r.n = (long)(rate * seconds);
    r.committed = calloc((size_t)r.n, sizeof(int64_t));
    r.seen = calloc((size_t)r.n, sizeof(int64_t));

    char err[512];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    if (rd_kafka_conf_set(kc, "bootstrap.servers", bootstrap, err,
                          sizeof(err)) ||
        rd_kafka_conf_set(kc, "group.id", "gh-e2e-load", err, sizeof(err)) ||
        rd_kafka_conf_set(kc, "enable.auto.commit", "false", err,
                          sizeof(err)) ||
        rd_kafka_conf_set(kc, "fetch.wait.max.ms", "10", err, sizeof(err)))
        die("kafka", err);
    r.rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof(err));
    if (!r.rk) die("kafka", err);
    rd_kafka_poll_set_consumer(r.rk);
    assign_at_end(r.rk, topic);
    pthread_t th;
    pthread_create(&th, NULL, consume, &r);

    PGconn *db = PQconnectdb(conninfo);
    if (PQstatus(db) != CONNECTION_OK) die("database", PQerrorMessage(db));
    usleep(500 * 1000); /* the consumer's first fetch is on its way */

    size_t cap = 1 << 20;
    char *sql = malloc(cap);
    int64_t t0 = now_us(), last = t0;
    long next = 0;
    while (next < r.n) {
        int64_t now = now_us();
        long due = (long)((double)(now - t0) * rate / 1e6) + 1;
        if (due > r.n) due = r.n;
        if (due > next) {
            size_t len = (size_t)snprintf(
                sql, cap,
                "INSERT INTO zz_syrk (rkbh, xm, gmsfhm, xb, csrq, lxdh, jzdz, "
                "wgbm, gxsj) VALUES ");
            long s = next;
            for (; s < due && len + 512 < cap; s++) {
                char name[64];
                numerals(s, name, sizeof(name));
                len += (size_t)snprintf(
                    sql + len, cap - len,
                    "%s('E2E%s%06ld', '压测%s', NULL, '%d', date '1960-01-01' "
                    "+ %ld, '%s%06ld', NULL, '%s', clock_timestamp())",
                    s > next ? ", " : "", r.tag + 2, s, name, (int)(s % 2) + 1,
                    s % 20000, r.tag, s, grid);
            }
            due = s;
            PGresult *res = PQexec(db, sql);
            if (PQresultStatus(res) != PGRES_COMMAND_OK)
                die("insert", PQerrorMessage(db));
            PQclear(res);
            int64_t c = now_us();
            for (s = next; s < due; s++)
                r.committed[s] = c;
            next = due;
            last = c;
        } else {
            usleep(5000);
        }
    }
    double sent_s = (double)(last - t0) / 1e6;
    int64_t deadline = last + (int64_t)(wait * 1e6);
    while (atomic_load(&r.nseen) < r.n && now_us() < deadline)
        usleep(20000);
    atomic_store(&r.stop, 1);
    pthread_join(th, NULL);
    rd_kafka_consumer_close(r.rk);
    rd_kafka_destroy(r.rk);
    PQfinish(db);

    long k = 0;
    int64_t *lat = malloc((size_t)r.n * sizeof(int64_t));
    for (long s = 0; s < r.n; s++)
        if (r.seen[s]) lat[k++] = r.seen[s] - r.committed[s];
    qsort(lat, (size_t)k, sizeof(*lat), cmp64);
    printf("rows committed: %ld in %.1f s (%.0f/s offered, %.0f/s achieved)\n",
           r.n, sent_s, rate, sent_s > 0 ? (double)r.n / sent_s : 0);
    printf("rows seen on %s: %ld", topic, k);
    if (k < r.n)
        printf(" (%ld NOT seen within %.0f s of the last commit)", r.n - k,
               wait);
    printf("\n");
    if (k) {
        const double q[] = {0.5, 0.9, 0.99, 0.999};
        printf("latency commit -> subscriber topic (ms):");
        for (int i = 0; i < 4; i++) {
            long at = (long)(q[i] * (double)k);
            if (at >= k) at = k - 1;
            printf(" p%g %.1f", q[i] * 100, (double)lat[at] / 1000);
        }
        printf(" max %.1f\n", (double)lat[k - 1] / 1000);
    }
    free(lat);
    free(sql);
    free(r.committed);
    free(r.seen);
    return k == r.n ? 0 : 1;
}
