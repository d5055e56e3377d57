/*
 * `gridhub webhook` (hub/webhook/) against real PostgreSQL, the embedded
 * broker and an HTTP receiver in this process (libmicrohttpd on port 0):
 * what the relay would publish to hub.view.test.person (Avro in a view
 * schema of view_schema, headers gh.outbox.id and gh.person.version,
 * tombstones) is produced here, and the receiver records every POST.
 *
 * The oracle is the topic: every offset of every partition arrives, in
 * order per partition (so per key), each POST's signature verifies with
 * OpenSSL's HMAC computed here, and webhook_offset ends at the high
 * watermarks. A receiver outage, a kill -9 and SIGTERM during a retry or a
 * POST are survived without losing or reordering anything (a repeat after
 * kill -9 is allowed: at least once).
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <inttypes.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gridhub/avro.h"
#include "gridhub/util.h"
#include "harness.h"
#include "migrate.h"

#define TOPIC "hub.view.test.person"
#define SECRET "whsec_integration_0123456789abcdef"
#define NPART 3

static const char *SCHEMA =
    "{\"type\":\"record\",\"name\":\"Person\",\"namespace\":"
    "\"gridhub.view.test\",\"fields\":[{\"name\":\"person_id\",\"type\":"
    "\"string\"},{\"name\":\"version\",\"type\":\"long\"},{\"name\":"
    "\"name\",\"type\":[\"null\",\"string\"]}]}";

/* ---- the receiver ------------------------------------------------------- */

typedef struct post {
    char *body, *ts, *sig;
    int64_t at_ms;
    unsigned status; /* what it was answered */
} post_t;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static post_t *g_posts;
static int g_nposts;
static atomic_uint g_answer = 200; /* status to answer */
static atomic_int g_hang;          /* hold each POST until cleared */
static atomic_int g_in_post;       /* a POST is being held */
static atomic_int g_delay_ms;      /* before answering */

typedef struct conn_body {
    gh_buf_t b;
} conn_body_t;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *data,
                                  size_t *size, void **state) {
    (void)cls;
    (void)url;
    (void)version;
    if (strcmp(method, "POST")) return MHD_NO;
    conn_body_t *cb = *state;
    if (!cb) {
        *state = gh_xcalloc(1, sizeof(conn_body_t));
        return MHD_YES;
    }
    if (*size) {
        gh_buf_append(&cb->b, data, *size);
        *size = 0;
        return MHD_YES;
    }
    g_in_post = 1;
    while (g_hang)
        usleep(10000);
    if (g_delay_ms) usleep((useconds_t)g_delay_ms * 1000);
    unsigned st = g_answer;
    const char *ts =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Gridhub-Timestamp");
    const char *sig =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Gridhub-Signature");
    pthread_mutex_lock(&g_mu);
    g_posts = gh_xrealloc(g_posts, (size_t)(g_nposts + 1) * sizeof(*g_posts));
    post_t *p = &g_posts[g_nposts++];
    gh_buf_append(&cb->b, "", 1);
    p->body = gh_xstrdup(cb->b.data);
    p->ts = gh_xstrdup(ts ? ts : "");
    p->sig = gh_xstrdup(sig ? sig : "");
    p->at_ms = gh_wallclock_us() / 1000;
    p->status = st;
    pthread_mutex_unlock(&g_mu);
    g_in_post = 0;
    const char *txt = st == 200 ? "ok" : "receiver says no";
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(txt), (void *)txt, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, st, r);
    MHD_destroy_response(r);
    return ret;
}

static void on_done(void *cls, struct MHD_Connection *c, void **state,
                    enum MHD_RequestTerminationCode code) {
    (void)cls;
    (void)c;
    (void)code;
    conn_body_t *cb = *state;
    if (cb) gh_buf_free(&cb->b);
    free(cb);
    *state = NULL;
}

/* Accepted POSTs so far. */
static int accepted(void) {
    pthread_mutex_lock(&g_mu);
    int n = 0;
    for (int i = 0; i < g_nposts; i++)
        n += g_posts[i].status == 200;
    pthread_mutex_unlock(&g_mu);
    return n;
}

/* ---- the fixture -------------------------------------------------------- */

static char *g_dir, *g_db, *g_bootstrap, *g_conf, *g_secret;
static gh_test_proc_t *g_broker, *g_webhook;
static PGconn *g_pg;
static struct MHD_Daemon *g_mhd;
static int g_runs;
static char g_log[512];

static void teardown(void) {
    g_hang = 0;
    gh_test_proc_free(g_webhook);
    g_webhook = NULL;
    if (g_mhd) MHD_stop_daemon(g_mhd);
    g_mhd = NULL;
    for (int i = 0; i < g_nposts; i++) {
        free(g_posts[i].body);
        free(g_posts[i].ts);
        free(g_posts[i].sig);
    }
    free(g_posts);
    g_posts = NULL;
    g_nposts = 0;
    if (g_pg) PQfinish(g_pg);
    g_pg = NULL;
    if (g_broker) gh_test_stop(g_broker, 5000);
    gh_test_proc_free(g_broker);
    g_broker = NULL;
    gh_test_drop_db(g_db);
    gh_test_rmtree(g_dir);
    free(g_dir);
    free(g_db);
    free(g_bootstrap);
    free(g_conf);
    free(g_secret);
}

/* The broker, the hub database with its view schema, the receiver and
 * the properties; `extra` lines are appended to the properties file. */
static void setup_with(const char *extra) {
    g_answer = 200;
    g_hang = 0;
    g_delay_ms = 0;
    g_runs = 0;
    g_dir = gh_test_tmpdir();
    g_broker = gh_test_start_broker_with(g_dir, TOPIC ":3", &g_bootstrap);
    g_db = gh_test_create_db("webhook");
    g_pg = gh_test_pg_connect(g_db);
    char err[512];
    cr_assert_eq(gh_migrate_apply(g_pg, err, sizeof(err)), GH_OK, "%s", err);
    gh_schemas_t *set = gh_schemas_new();
    const gh_schema_t *s;
    cr_assert_eq(gh_schemas_add_json(set, SCHEMA, 1, &s, err, sizeof(err)),
                 GH_OK, "%s", err);
    gh_test_exec(g_pg,
                 "INSERT INTO view_schema (fingerprint, name, schema) VALUES "
                 "('%016" PRIx64 "', '%s', '%s')",
                 gh_schema_fingerprint(s), gh_schema_fullname(s), SCHEMA);
    gh_schemas_destroy(set);
    g_mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
        NULL, NULL, on_request, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_done,
        NULL, MHD_OPTION_END);
    cr_assert_not_null(g_mhd, "the test receiver did not start");
    int port = MHD_get_daemon_info(g_mhd, MHD_DAEMON_INFO_BIND_PORT)->port;
    g_secret = gh_xasprintf("%s/test.secret", g_dir);
    gh_test_write_file(g_secret, "%s\n", SECRET);
    chmod(g_secret, 0600);
    char *pol = gh_xasprintf("%s/unused.policy", g_dir);
    gh_test_write_file(pol, "# not read by gridhub webhook\n");
    char *ci = gh_test_conninfo(g_db);
    g_conf = gh_xasprintf("%s/hub.properties", g_dir);
    gh_test_write_file(g_conf,
                       "database.conninfo=%s\n"
                       "bootstrap.servers=%s\n"
                       "source.topics=gridhub.test.person\n"
                       "policy.file=%s\n"
                       "policy.keys.file=%s\n"
                       "webhook.test.url=http://127.0.0.1:%d/hook\n"
                       "webhook.test.secret.file=%s\n"
                       "webhook.retry.backoff.ms=100\n"
                       "webhook.retry.backoff.max.ms=800\n"
                       "webhook.partitions.refresh.ms=500\n"
                       "shutdown.timeout.ms=3000\n"
                       "%s",
                       ci, g_bootstrap, pol, pol, port, g_secret,
                       extra ? extra : "");
    free(ci);
    free(pol);
}

static void start_webhook(void) {
    snprintf(g_log, sizeof(g_log), "%s/webhook.%d.log", g_dir, ++g_runs);
    const char *argv[] = {GH_BINARY, "webhook", "-c", g_conf, NULL};
    g_webhook = gh_test_spawn(argv, g_log);
}

/* ---- producing what the relay would ------------------------------------- */

static rd_kafka_t *producer(void) {
    char err[256];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_conf_set(kc, "bootstrap.servers", g_bootstrap, err, sizeof(err));
    rd_kafka_conf_set(kc, "linger.ms", "0", err, sizeof(err));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof(err));
    cr_assert_not_null(rk, "%s", err);
    return rk;
}

/* Produces version `ver` of person `k` (a tombstone if tomb) and waits for
 * the acknowledgement; returns the wall-clock ms it was acknowledged at. */
static int64_t produce(rd_kafka_t *rk, int k, int ver, int tomb,
                       int64_t outbox_id) {
    static gh_schemas_t *set;
    static gh_serde_t *sd;
    static const gh_schema_t *s;
    char err[512];
    if (!set) {
        set = gh_schemas_new();
        gh_schemas_add_json(set, SCHEMA, 1, &s, err, sizeof(err));
        sd = gh_serde_new(set, NULL);
    }
    char key[32], pid[32], ob[32], vs[32];
    snprintf(key, sizeof(key), "pseud%03d", k);
    snprintf(pid, sizeof(pid), "P%09d", k);
    snprintf(ob, sizeof(ob), "%" PRId64, outbox_id);
    snprintf(vs, sizeof(vs), "%d", ver);
    gh_buf_t b = {0};
    if (!tomb) {
        avro_value_iface_t *iface =
            avro_generic_class_from_schema(gh_schema_avro(s));
        avro_value_t v, f, br;
        avro_generic_value_new(iface, &v);
        avro_value_get_by_name(&v, "person_id", &f, NULL);
        avro_value_set_string(&f, pid);
        avro_value_get_by_name(&v, "version", &f, NULL);
        avro_value_set_long(&f, ver);
        avro_value_get_by_name(&v, "name", &f, NULL);
        avro_value_set_branch(&f, 1, &br);
        char name[64];
        snprintf(name, sizeof(name), "王丽 %d v%d", k, ver);
        avro_value_set_string(&br, name);
        cr_assert_eq(gh_serde_encode(sd, TOPIC, s, &v, &b, err, sizeof(err)),
                     GH_OK, "%s", err);
        avro_value_decref(&v);
        avro_value_iface_decref(iface);
    }
    rd_kafka_headers_t *hd = rd_kafka_headers_new(2);
    rd_kafka_header_add(hd, "gh.outbox.id", -1, ob, -1);
    rd_kafka_header_add(hd, "gh.person.version", -1, vs, -1);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_KEY(key, strlen(key)),
        RD_KAFKA_V_VALUE(tomb ? NULL : b.data, tomb ? 0 : b.len),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hd),
        RD_KAFKA_V_END);
    cr_assert_eq(e, 0, "produce: %s", rd_kafka_err2str(e));
    gh_buf_free(&b);
    cr_assert_eq(rd_kafka_flush(rk, 10000), 0, "flush");
    return gh_wallclock_us() / 1000;
}

/* Versions 1..nver of persons 0..nkeys-1, interleaved; the last version of
 * person 0 is a tombstone when tomb. */
static void produce_all(int nkeys, int nver, int tomb) {
    rd_kafka_t *rk = producer();
    int64_t ob = 1;
    for (int v = 1; v <= nver; v++)
        for (int k = 0; k < nkeys; k++)
            produce(rk, k, v, tomb && k == 0 && v == nver, ob++);
    rd_kafka_destroy(rk);
}

/* ---- checking what arrived ---------------------------------------------- */

/* Every accepted POST verifies, and every message of the topic arrived:
 * first arrivals per partition are its offsets 0..n-1 in order, and per
 * person the versions 1..nver in order. Returns the messages accepted
 * (repeats counted). */
static int check_received(int nkeys, int nver, int tomb) {
    int next_off[NPART] = {0};
    int *next_ver = gh_xcalloc((size_t)nkeys, sizeof(int));
    int total = 0;
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < g_nposts; i++) {
        post_t *p = &g_posts[i];
        if (p->status != 200) continue;
        unsigned char mac[32];
        unsigned int ml = 0;
        char *signed_text = gh_xasprintf("%s.%s", p->ts, p->body);
        HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET),
             (const unsigned char *)signed_text, strlen(signed_text), mac, &ml);
        free(signed_text);
        char want[72] = "v1=";
        gh_hex_encode(mac, ml, want + 3);
        cr_assert_str_eq(p->sig, want, "POST %d: bad signature", i);
        cr_assert(llabs((long long)(p->at_ms / 1000) - atoll(p->ts)) < 60,
                  "timestamp %s far from now", p->ts);
        json_error_t je;
        json_t *b = json_loads(p->body, 0, &je);
        cr_assert_not_null(b, "POST %d: not JSON: %s", i, je.text);
        cr_assert_str_eq(json_string_value(json_object_get(b, "subscriber")),
                         "test");
        cr_assert_str_eq(json_string_value(json_object_get(b, "topic")), TOPIC);
        int part = (int)json_integer_value(json_object_get(b, "partition"));
        cr_assert(part >= 0 && part < NPART);
        size_t j;
        json_t *m;
        json_array_foreach(json_object_get(b, "messages"), j, m) {
            total++;
            int off = (int)json_integer_value(json_object_get(m, "offset"));
            if (off < next_off[part]) continue; /* a repeat */
            cr_assert_eq(off, next_off[part],
                         "partition %d: offset %d arrived before %d", part, off,
                         next_off[part]);
            next_off[part]++;
            int k = atoi(json_string_value(json_object_get(m, "key")) + 5);
            int ver =
                (int)json_integer_value(json_object_get(m, "person_version"));
            cr_assert(k >= 0 && k < nkeys);
            cr_assert_eq(ver, next_ver[k] + 1,
                         "person %d: version %d after %d (order lost)", k, ver,
                         next_ver[k]);
            next_ver[k] = ver;
            cr_assert(json_integer_value(json_object_get(m, "outbox_id")) > 0);
            json_t *rec = json_object_get(m, "record");
            if (tomb && k == 0 && ver == nver) {
                cr_assert(json_is_null(rec), "the tombstone has a record");
                continue;
            }
            cr_assert_eq(json_integer_value(json_object_get(rec, "version")),
                         ver);
            char name[64];
            snprintf(name, sizeof(name), "王丽 %d v%d", k, ver);
            cr_assert_str_eq(json_string_value(json_object_get(rec, "name")),
                             name);
            cr_assert_eq(strlen(json_string_value(
                             json_object_get(m, "schema_fingerprint"))),
                         16);
        }
        json_decref(b);
    }
    pthread_mutex_unlock(&g_mu);
    for (int k = 0; k < nkeys; k++)
        cr_assert_eq(next_ver[k], nver, "person %d: only %d of %d versions", k,
                     next_ver[k], nver);
    free(next_ver);
    int sum = 0;
    for (int p = 0; p < NPART; p++)
        sum += next_off[p];
    cr_assert_eq(sum, nkeys * nver, "%d of %d messages arrived", sum,
                 nkeys * nver);
    return total;
}

/* Distinct messages accepted (partition and offset), repeats left out. */
static int messages_accepted(void) {
    enum { MAXOFF = 4096 };
    static unsigned char seen[NPART][MAXOFF];
    memset(seen, 0, sizeof(seen));
    int n = 0;
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < g_nposts; i++) {
        if (g_posts[i].status != 200) continue;
        json_t *b = json_loads(g_posts[i].body, 0, NULL);
        int part = (int)json_integer_value(json_object_get(b, "partition"));
        size_t j;
        json_t *m;
        json_array_foreach(json_object_get(b, "messages"), j, m) {
            json_int_t off = json_integer_value(json_object_get(m, "offset"));
            if (part >= 0 && part < NPART && off >= 0 && off < MAXOFF &&
                !seen[part][off]) {
                seen[part][off] = 1;
                n++;
            }
        }
        json_decref(b);
    }
    pthread_mutex_unlock(&g_mu);
    return n;
}

static int g_want;
static int all_arrived(void *arg) {
    (void)arg;
    return messages_accepted() >= g_want;
}

static void wait_messages(int n, int timeout_ms) {
    g_want = n;
    if (!gh_test_wait_until(all_arrived, NULL, timeout_ms)) {
        char *t = gh_test_file_tail(g_log, 4000);
        cr_assert_fail("%d of %d messages arrived; log:\n%s",
                       messages_accepted(), n, t);
    }
}

static void stored_offsets_are_the_end(int n) {
    cr_assert_eq(gh_test_count(g_pg, "SELECT coalesce(sum(next_offset), 0) "
                                     "FROM webhook_offset WHERE subscriber "
                                     "= 'test' AND attempts = 0"),
                 n, "webhook_offset is not at the end of the topic");
}

TestSuite(webhook, .fini = teardown, .timeout = 180);

Test(webhook, delivers_signed_in_order) {
    setup_with("webhook.batch.max=7\n");
    produce_all(6, 10, 1);
    start_webhook();
    wait_messages(60, 60000);
    cr_assert_eq(check_received(6, 10, 1), 60, "a message arrived twice");
    stored_offsets_are_the_end(60);

    /* Latency from the topic to the receiver, one change at a time. */
    rd_kafka_t *rk = producer();
    int64_t lat[20], sum = 0, max = 0;
    for (int i = 0; i < 20; i++) {
        int before = messages_accepted();
        int64_t at = produce(rk, 100 + i, 1, 0, 1000 + i);
        wait_messages(before + 1, 10000);
        pthread_mutex_lock(&g_mu);
        lat[i] = g_posts[g_nposts - 1].at_ms - at;
        pthread_mutex_unlock(&g_mu);
        sum += lat[i];
        if (lat[i] > max) max = lat[i];
    }
    rd_kafka_destroy(rk);
    cr_log_info("webhook latency, topic acknowledged -> receiver: mean "
                "%" PRId64 " ms, max %" PRId64 " ms over 20 changes",
                sum / 20, max);
    cr_assert(max < 1000, "a change took %" PRId64 " ms (target 1 s)", max);
    cr_assert_eq(gh_test_stop(g_webhook, 10000), 0, "%s",
                 gh_test_file_tail(g_log, 2000));
}

Test(webhook, receiver_outage_loses_and_reorders_nothing) {
    setup_with("webhook.batch.max=4\n");
    g_answer = 503;
    start_webhook();
    produce_all(5, 6, 0);
    /* Failed attempts, recorded, and the offsets stay. */
    for (int i = 0; i < 100 && gh_test_count(g_pg, "SELECT count(*) FROM "
                                                   "webhook_offset WHERE "
                                                   "attempts >= 3") == 0;
         i++)
        usleep(100000);
    cr_assert(gh_test_count(g_pg, "SELECT count(*) FROM webhook_offset WHERE "
                                  "attempts >= 3 AND last_status = 503 AND "
                                  "last_error LIKE '%%answered 503%%' AND "
                                  "next_offset = 0") > 0,
              "no failed attempts recorded: %s",
              gh_test_file_tail(g_log, 2000));
    /* A refusal is retried too, and said loudly. */
    g_answer = 400;
    char *l = gh_test_wait_for_text(g_log, "NOT skipped", 10000);
    cr_assert_not_null(l, "a 400 was not logged as an error");
    free(l);
    cr_assert_eq(accepted(), 0);
    g_answer = 200;
    wait_messages(30, 30000);
    cr_assert_eq(check_received(5, 6, 0), 30, "a message arrived twice");
    stored_offsets_are_the_end(30);
    cr_assert_eq(gh_test_stop(g_webhook, 10000), 0);
}

Test(webhook, kill9_and_restart_lose_nothing, .timeout = 240) {
    setup_with("webhook.batch.max=3\n");
    g_delay_ms = 50;
    produce_all(10, 20, 1);
    start_webhook();
    wait_messages(60, 60000);
    gh_test_kill9(g_webhook);
    gh_test_proc_free(g_webhook);
    g_webhook = NULL;
    int before = messages_accepted();
    cr_assert(before < 200, "everything arrived before the kill");
    start_webhook();
    wait_messages(200, 120000);
    int total = check_received(10, 20, 1);
    cr_log_info("kill -9 after %d messages: %d accepted in all, %d repeats",
                before, total, total - 200);
    cr_assert(total - 200 <= 3 * NPART,
              "more repeats than a batch a "
              "partition: %d",
              total - 200);
    stored_offsets_are_the_end(200);
    cr_assert_eq(gh_test_stop(g_webhook, 10000), 0);
}

Test(webhook, sigterm_during_retry_and_post) {
    setup_with("webhook.batch.max=5\nwebhook.timeout.ms=60000\n");
    /* Waiting between attempts. */
    g_answer = 500;
    produce_all(3, 3, 0);
    start_webhook();
    char *l = gh_test_wait_for_text(g_log, "retry 3 in", 20000);
    cr_assert_not_null(l, "%s", gh_test_file_tail(g_log, 2000));
    free(l);
    int64_t t0 = gh_now_ms();
    int rc = gh_test_stop(g_webhook, 10000);
    int64_t took = gh_now_ms() - t0;
    /* 0, or 3 if the signal came during one of the (short) POSTs. */
    cr_assert(rc == 0 || rc == 3, "exit %d: %s", rc,
              gh_test_file_tail(g_log, 2000));
    cr_assert(took < 3000, "stopping took %" PRId64 " ms", took);
    gh_test_proc_free(g_webhook);
    g_webhook = NULL;

    /* In the middle of a POST the receiver holds. */
    g_answer = 200;
    g_hang = 1;
    start_webhook();
    for (int i = 0; i < 200 && !g_in_post; i++)
        usleep(50000);
    cr_assert(g_in_post, "no POST came");
    t0 = gh_now_ms();
    rc = gh_test_stop(g_webhook, 10000);
    took = gh_now_ms() - t0;
    cr_assert_eq(rc, 3, "exit %d (want 3: a batch cut short): %s", rc,
                 gh_test_file_tail(g_log, 2000));
    cr_assert(took < 3000, "stopping took %" PRId64 " ms", took);
    gh_test_proc_free(g_webhook);
    g_webhook = NULL;
    g_hang = 0;
    usleep(100000);

    /* Nothing was recorded as delivered: all of it comes now. */
    start_webhook();
    wait_messages(9, 30000);
    check_received(3, 3, 0);
    stored_offsets_are_the_end(9);
    cr_assert_eq(gh_test_stop(g_webhook, 10000), 0);
}

Test(webhook, refuses_a_readable_secret_and_a_url_without_secret) {
    setup_with(NULL);
    chmod(g_secret, 0644);
    start_webhook();
    int rc = gh_test_proc_wait(g_webhook, 20000);
    cr_assert_eq(rc, 2, "exit %d", rc);
    char *l = gh_test_wait_for_text(g_log, "chmod 600", 1000);
    cr_assert_not_null(l, "%s", gh_test_file_tail(g_log, 2000));
    free(l);
    gh_test_proc_free(g_webhook);
    g_webhook = NULL;
    chmod(g_secret, 0600);
    FILE *f = fopen(g_conf, "a");
    fprintf(f, "webhook.other.url=http://127.0.0.1:9/x\n");
    fclose(f);
    start_webhook();
    rc = gh_test_proc_wait(g_webhook, 20000);
    cr_assert_eq(rc, 2, "exit %d", rc);
    l = gh_test_wait_for_text(g_log, "webhook.other.url needs", 1000);
    cr_assert_not_null(l, "%s", gh_test_file_tail(g_log, 2000));
    free(l);
}
