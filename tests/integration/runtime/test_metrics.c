/*
 * Observability end to end: the connector and the hub serve /metrics and
 * /health on metrics.listen (port 0, the URL read from
 * metrics.listen.file), and an operator sees from them what happened:
 * events published equal the row changes made, a row that violates the
 * mapping and a message the hub cannot decode are counted as dead letters
 * by reason, the consumer lag rises while the hub catches up and returns
 * to 0, the replication slot's lag is there in bytes; `gridhub status`
 * names every component and fails when one is down; log.format=json
 * gives one JSON object per line.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gridhub/util.h"
#include "harness.h"
#include "pipeline.h"
#include "stack.h"

#define DDL GH_TEST_DATA_DIR "/dept/schema.sql"
#define MAPPING GH_TEST_DATA_DIR "/dept/mapping.properties"
#define SRC_TOPIC "gridhub.test.person"
#define SETTLE_MS 120000
#define WAIT_MS 30000

static gh_test_stack_t *g_stack;
static PGconn *g_hub;
static char g_slot_opt[64], g_cn_url_opt[600], g_hub_url_opt[600];
static char g_cn_url_file[512], g_hub_url_file[512];

static void metrics_fini(void) {
    PQfinish(g_hub);
    g_hub = NULL;
    gh_test_stack_free(g_stack);
    g_stack = NULL;
}

TestSuite(metrics, .timeout = 300, .fini = metrics_fini);

static gh_test_stack_t *new_stack(void) {
    static int n;
    g_stack = gh_test_stack_new(DDL, MAPPING);
    snprintf(g_slot_opt, sizeof(g_slot_opt), "slot.name=gh_test_obs_%d_%d",
             (int)getpid(), ++n);
    snprintf(g_cn_url_file, sizeof(g_cn_url_file), "%s/connector.url",
             g_stack->dir);
    snprintf(g_hub_url_file, sizeof(g_hub_url_file), "%s/hub.url",
             g_stack->dir);
    snprintf(g_cn_url_opt, sizeof(g_cn_url_opt), "metrics.listen.file=%s",
             g_cn_url_file);
    snprintf(g_hub_url_opt, sizeof(g_hub_url_opt), "metrics.listen.file=%s",
             g_hub_url_file);
    return g_stack;
}

static void start_connector(gh_test_stack_t *s) {
    const char *const extra[] = {
        g_slot_opt,        "metrics.listen=127.0.0.1:0",
        g_cn_url_opt,      "metrics.refresh.ms=200",
        "log.format=json", NULL};
    gh_test_stack_start_connector(s, extra);
}

static void start_hub(gh_test_stack_t *s, const char *batch) {
    const char *const extra[] = {"metrics.listen=127.0.0.1:0",
                                 g_hub_url_opt,
                                 "metrics.refresh.ms=200",
                                 "kafka.session.timeout.ms=6000",
                                 "kafka.heartbeat.interval.ms=1000",
                                 batch,
                                 NULL};
    gh_test_stack_start_hub(s, extra);
}

/* ---- scraping ------------------------------------------------------------
 */

/* The URL a component wrote to its metrics.listen.file (caller frees). */
static char *url_of(const char *file, const char *log) {
    char *url = gh_test_listen_url(file, log, WAIT_MS);
    cr_assert(!strncmp(url, "http://127.0.0.1:", 17), "url %s", url);
    return url;
}

static size_t collect(char *p, size_t size, size_t n, void *opaque) {
    gh_buf_append(opaque, p, size * n);
    return size * n;
}

/* GET base+path; the body (caller frees), or NULL if it did not answer. */
static char *get(const char *base, const char *path) {
    char url[1024];
    snprintf(url, sizeof(url), "%s%s", base, path);
    gh_buf_t b = {0};
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        gh_buf_free(&b);
        return NULL;
    }
    return gh_buf_detach(&b);
}

/* The sum of every sample of `name` whose labels contain `labels` (may be
 * NULL: all of them) in a Prometheus text exposition; NAN if none. */
static double sample(const char *text, const char *name, const char *labels) {
    double sum = NAN;
    size_t nl = strlen(name);
    const char *line = text;
    while (line && *line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (line[0] != '#' && len > nl && !strncmp(line, name, nl) &&
            (line[nl] == ' ' || line[nl] == '{')) {
            char *l = gh_xstrndup(line, len);
            char *sp = strrchr(l, ' ');
            int match = !labels || (line[nl] == '{' && strstr(l, labels) &&
                                    strstr(l, labels) < sp);
            if (match) sum = (isnan(sum) ? 0 : sum) + strtod(sp + 1, NULL);
            free(l);
        }
        line = end ? end + 1 : NULL;
    }
    return sum;
}

/* Scrapes base/metrics until sample(name, labels) == want or WAIT_MS;
 * fails with the last scrape. */
static void wait_sample(const char *base, const char *name, const char *labels,
                        double want) {
    int64_t deadline = gh_now_ms() + WAIT_MS;
    char *text = NULL;
    double v = NAN;
    do {
        free(text);
        text = get(base, "/metrics");
        v = text ? sample(text, name, labels) : NAN;
        if (v == want) break;
        usleep(100 * 1000);
    } while (gh_now_ms() < deadline);
    if (v != want) {
        static char msg[65536];
        snprintf(msg, sizeof(msg), "%s{%s} is %g, want %g; %s/metrics:\n%s",
                 name, labels ? labels : "", v, want, base,
                 text ? text : "(no answer)");
        free(text);
        cr_assert_fail("%s", msg);
    }
    free(text);
}

static json_t *health(const char *base) {
    char *text = get(base, "/health");
    cr_assert_not_null(text, "%s/health did not answer", base);
    json_error_t je;
    json_t *o = json_loads(text, 0, &je);
    cr_assert_not_null(o, "%s/health: %s: %s", base, je.text, text);
    free(text);
    return o;
}

static double figure(const json_t *h, const char *name) {
    const json_t *v = json_object_get(json_object_get(h, "figures"), name);
    cr_assert(json_is_number(v), "figure %s missing", name);
    return json_number_value(v);
}

/* `gridhub status` over the given endpoints; its exit code, *out its
 * output (caller frees). */
static int status(gh_test_stack_t *s, const char *endpoints, char **out) {
    static int n;
    char log[1024];
    snprintf(log, sizeof(log), "%s/status.%d.log", s->dir, ++n);
    const char *argv[] = {GH_BINARY,      "status", "--endpoints", endpoints,
                          "--timeout-ms", "3000",   NULL};
    int rc = gh_test_run(argv, log, 30000);
    *out = gh_test_file_tail(log, 1 << 16);
    return rc;
}

/* Produces `len` bytes that are no change event to the source topic. */
static void produce_garbage(const char *bootstrap) {
    char err[512];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    cr_assert_eq(
        rd_kafka_conf_set(kc, "bootstrap.servers", bootstrap, err, sizeof(err)),
        RD_KAFKA_CONF_OK);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof(err));
    cr_assert_not_null(rk, "producer: %s", err);
    static const char junk[] = "\xC3\x01 this is not an Avro change event";
    rd_kafka_resp_err_t e = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(SRC_TOPIC), RD_KAFKA_V_KEY("JUNK", 4),
        RD_KAFKA_V_VALUE((void *)junk, sizeof(junk) - 1),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    cr_assert_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_err2str(e));
    cr_assert_eq(rd_kafka_flush(rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
}

static void insert_rows(gh_test_stack_t *s, int from, int n) {
    for (int i = from; i < from + n; i++) {
        char id[19], rk[32], phone[32], birth[32];
        gh_test_make_id18(id, 1950 + i % 50, i % 12 + 1, i % 28 + 1, i);
        snprintf(rk, sizeof(rk), "M%04d", i);
        snprintf(phone, sizeof(phone), "1390000%04d", i);
        snprintf(birth, sizeof(birth), "%d-%02d-%02d", 1950 + i % 50,
                 i % 12 + 1, i % 28 + 1);
        gh_test_insert_row(s->dept, rk, i % 2 ? "观测" : "指标", id, i % 2 + 1,
                           birth, phone, "娄星区乐坪街道", "LP-OB-01");
    }
}

/* Every line of a log written with log.format=json is one JSON object
 * with ts, level, component and msg. Returns how many lines. */
static int assert_json_log(const char *path) {
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    char *line = NULL;
    size_t cap = 0;
    int n = 0;
    while (getline(&line, &cap, f) > 0) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        cr_assert_not_null(o, "%s: not a JSON line (%s): %s", path, je.text,
                           line);
        static const char *const keys[] = {"ts", "level", "component", "msg"};
        for (int k = 0; k < 4; k++)
            cr_assert(json_is_string(json_object_get(o, keys[k])),
                      "%s: no %s in %s", path, keys[k], line);
        cr_assert_eq(json_object_size(o), 4, "%s", line);
        json_decref(o);
        n++;
    }
    free(line);
    fclose(f);
    return n;
}

/* Row changes, a row that violates the mapping and a message the hub
 * cannot decode: the figures say exactly that. */
Test(metrics, pipeline_figures) {
    gh_test_stack_t *s = new_stack();
    start_connector(s);
    start_hub(s, "batch.max.messages=20000");
    g_hub = gh_test_pg_connect(s->hub_db);
    char *cn = url_of(g_cn_url_file, gh_test_stack_connector_log(s));
    char *hub = url_of(g_hub_url_file, gh_test_stack_hub_log(s));
    gh_test_wait_streaming(s);

    /* 30 inserts, 5 updates, 2 deletes: 37 events. */
    insert_rows(s, 0, 30);
    gh_test_exec(s->dept, "UPDATE zz_syrk SET lxdh = '13700000000', gxsj = "
                          "clock_timestamp() WHERE rkbh IN ('M0001', "
                          "'M0002', 'M0003', 'M0004', 'M0005')");
    gh_test_exec(s->dept, "DELETE FROM zz_syrk WHERE rkbh IN ('M0010', "
                          "'M0011')");
    /* Sex code 7 is in no code table: a dead letter, not an event; its
     * delete is an event again (only the key is needed): 38 events. */
    gh_test_exec(s->dept, "INSERT INTO zz_syrk (rkbh, xm, xb, lxdh) VALUES "
                          "('BAD1', 'Bad Code', '7', '100')");
    gh_test_exec(s->dept, "DELETE FROM zz_syrk WHERE rkbh = 'BAD1'");
    produce_garbage(s->bootstrap);
    gh_test_wait_settled(s, g_hub, SETTLE_MS);

    /* The connector: what it published and what it could not. */
    wait_sample(cn, "gridhub_connector_events_total", NULL, 38);
    wait_sample(cn, "gridhub_connector_dead_letters_total",
                "reason=\"mapping\"", 1);
    wait_sample(cn, "gridhub_connector_transactions_in_flight", NULL, 0);
    wait_sample(cn, "gridhub_connector_state", "state=\"running\"", 1);
    char *text = get(cn, "/metrics");
    cr_assert_not_null(text);
    double lag = sample(text, "gridhub_connector_slot_lag_bytes", "slot=");
    double retained =
        sample(text, "gridhub_connector_slot_retained_wal_bytes", NULL);
    double confirmed = sample(text, "gridhub_connector_confirmed_lsn_bytes",
                              "slot=\"gh_test_obs_");
    /* A plausible figure, not a small one: the cluster is shared with the
     * test running beside this one (ops/test.sh runs two at a time), and
     * the WAL it writes counts in this slot's lag until the connector
     * confirms past it (70 MB in one full run). */
    cr_assert(!isnan(lag) && lag >= 0 && lag < 1024.0 * 1024 * 1024,
              "slot lag %g bytes:\n%s", lag, text);
    cr_assert(retained > 0, "retained WAL %g:\n%s", retained, text);
    cr_assert(confirmed > 0, "confirmed LSN %g:\n%s", confirmed, text);
    cr_assert(sample(text, "gridhub_connector_commit_to_ack_seconds_count",
                     NULL) >= 5,
              "one latency per transaction:\n%s", text);
    free(text);

    /* The hub: every event applied once, the junk dead-lettered as
     * "decode", nothing left behind. */
    wait_sample(hub, "gridhub_hub_messages_applied_total", NULL, 38);
    wait_sample(hub, "gridhub_hub_messages_replayed_total", NULL, 0);
    wait_sample(hub, "gridhub_hub_dead_letters_total", "reason=\"decode\"", 1);
    wait_sample(hub, "gridhub_hub_dead_letters_total", "reason=\"apply\"", 0);
    wait_sample(hub, "gridhub_hub_consumer_lag_messages", NULL, 0);
    wait_sample(hub, "gridhub_hub_outbox_backlog_rows", NULL, 0);
    /* Resolution works per batch, so how many versions it wrote depends on
     * how the changes fell into batches: at least one per resident. */
    long residents =
        gh_test_count(g_hub, "SELECT count(*) FROM person WHERE active");
    cr_assert_eq(residents, 28);
    text = get(hub, "/metrics");
    cr_assert_not_null(text);
    cr_assert(sample(text, "gridhub_hub_persons_written_total", NULL) >=
                  residents,
              "%s", text);
    cr_assert(sample(text, "gridhub_hub_resolve_records_total", NULL) >=
                  residents,
              "%s", text);
    cr_assert(sample(text, "gridhub_hub_view_messages_published_total", NULL) >=
                  residents,
              "%s", text);
    cr_assert(sample(text, "gridhub_hub_batch_duration_seconds_count", NULL) >=
                  1,
              "%s", text);
    cr_assert(strstr(text,
                     "gridhub_hub_consumer_lag_messages{topic=\"" SRC_TOPIC
                     "\",partition=\""),
              "a lag series per partition:\n%s", text);
    free(text);

    /* /health carries the same figures. */
    json_t *h = health(cn);
    cr_assert_str_eq(json_string_value(json_object_get(h, "component")),
                     "connector");
    cr_assert_str_eq(json_string_value(json_object_get(h, "instance")), "test");
    cr_assert_str_eq(json_string_value(json_object_get(h, "state")), "running");
    cr_assert_eq(figure(h, "events"), 38);
    cr_assert_eq(figure(h, "dead_letters"), 1);
    json_decref(h);
    h = health(hub);
    cr_assert_str_eq(json_string_value(json_object_get(h, "state")), "running");
    cr_assert_eq(figure(h, "dead_letters"), 1);
    cr_assert_eq(figure(h, "consumer_lag_messages"), 0);
    cr_assert_eq(figure(h, "outbox_backlog_rows"), 0);
    json_decref(h);

    /* gridhub status: both up and running, then the hub down. */
    char *endpoints = gh_xasprintf("zongzhi=%s,hub=@%s", cn, g_hub_url_file);
    char *out = NULL;
    int rc = status(s, endpoints, &out);
    cr_assert_eq(rc, 0, "gridhub status exited %d:\n%s", rc, out);
    cr_assert(strstr(out, "zongzhi ") && strstr(out, "hub ") &&
                  strstr(out, "all 2 components up and running"),
              "%s", out);
    cr_assert(strstr(out, "events 38, dead letters 1"), "%s", out);
    free(out);
    int hrc = gh_test_stop(s->hub, 20000);
    cr_assert_eq(hrc, 0, "hub exited %d", hrc);
    cr_assert_eq(access(g_hub_url_file, F_OK), -1,
                 "the hub removes its URL file when it stops");
    char *down = gh_xasprintf("zongzhi=%s,hub=%s", cn, hub);
    rc = status(s, down, &out);
    cr_assert_eq(rc, 1, "gridhub status with the hub stopped exited %d:\n%s",
                 rc, out);
    cr_assert(strstr(out, "1 of 2 components not running: hub (down)"), "%s",
              out);
    free(out);
    free(down);
    free(endpoints);

    gh_test_stop_clean(s);
    cr_assert_gt(assert_json_log(gh_test_stack_connector_log(s)), 3);
    free(cn);
    free(hub);
}

static int has_lag(void *arg) {
    char *text = get(arg, "/metrics");
    double v =
        text ? sample(text, "gridhub_hub_consumer_lag_messages", NULL) : NAN;
    free(text);
    return v > 0;
}

/* The hub was stopped while the department changed: once it is back its
 * lag shows what it has to catch up with, then returns to 0. */
Test(metrics, consumer_lag_rises_and_returns_to_zero) {
    gh_test_stack_t *s = new_stack();
    start_connector(s);
    start_hub(s, "batch.max.messages=20000");
    g_hub = gh_test_pg_connect(s->hub_db);
    char *cn = url_of(g_cn_url_file, gh_test_stack_connector_log(s));
    gh_test_wait_streaming(s);
    insert_rows(s, 0, 5);
    gh_test_wait_settled(s, g_hub, SETTLE_MS);
    cr_assert_eq(gh_test_stop(s->hub, 20000), 0);

    insert_rows(s, 100, 300);
    wait_sample(cn, "gridhub_connector_events_total", NULL, 305);
    wait_sample(cn, "gridhub_connector_transactions_in_flight", NULL, 0);
    /* One message per batch: catching up takes long enough to be seen. */
    start_hub(s, "batch.max.messages=1");
    char *hub = url_of(g_hub_url_file, gh_test_stack_hub_log(s));
    cr_assert(gh_test_wait_until(has_lag, hub, WAIT_MS),
              "the restarted hub never showed a consumer lag");
    char *text = get(hub, "/metrics");
    double lag =
        text ? sample(text, "gridhub_hub_consumer_lag_messages", NULL) : NAN;
    /* 300 new events, plus what the last run read but may not have had
     * committed (offsets are committed asynchronously): a handful. */
    cr_assert(lag > 0 && lag <= 320, "lag %g:\n%s", lag, text ? text : "");
    free(text);
    gh_test_wait_settled(s, g_hub, SETTLE_MS);
    wait_sample(hub, "gridhub_hub_consumer_lag_messages", NULL, 0);
    wait_sample(hub, "gridhub_hub_messages_applied_total", NULL, 300);
    gh_test_stop_clean(s);
    free(cn);
    free(hub);
}

/* metrics.listen is checked when the configuration is loaded, and a port
 * that is taken stops the component at start with a message saying so. */
Test(metrics, listen_errors) {
    char *dir = gh_test_tmpdir();
    char log[1024];
    snprintf(log, sizeof(log), "%s/bad.log", dir);
    const char *bad[] = {GH_BINARY,
                         "hub",
                         "--bootstrap-servers",
                         "127.0.0.1:9",
                         "--database-conninfo",
                         "dbname=none",
                         "--source-topics",
                         "a",
                         "--policy-file",
                         "b",
                         "--policy-keys-file",
                         "c",
                         "--metrics-listen",
                         "localhost",
                         NULL};
    cr_assert_eq(gh_test_run(bad, log, 20000), 2);
    char *text = gh_test_file_tail(log, 4096);
    cr_assert(strstr(text, "metrics.listen") && strstr(text, "host:port"), "%s",
              text);
    free(text);

    /* The broker's endpoint takes a port; a second broker asking for the
     * same one exits 1 naming it. */
    char urlfile[1024], opt[1100];
    snprintf(urlfile, sizeof(urlfile), "%s/broker.url", dir);
    snprintf(opt, sizeof(opt), "metrics.listen.file=%s", urlfile);
    const char *first[] = {
        GH_BINARY, "broker", "-X", "metrics.listen=127.0.0.1:0",
        "-X",      opt,      NULL};
    snprintf(log, sizeof(log), "%s/broker1.log", dir);
    gh_test_proc_t *b1 = gh_test_spawn(first, log);
    char *url = url_of(urlfile, log);
    char listen[128];
    snprintf(listen, sizeof(listen), "metrics.listen=%s",
             url + strlen("http://"));
    const char *second[] = {GH_BINARY, "broker", "-X", listen, NULL};
    snprintf(log, sizeof(log), "%s/broker2.log", dir);
    cr_assert_eq(gh_test_run(second, log, 20000), 1);
    text = gh_test_file_tail(log, 4096);
    cr_assert(strstr(text, "cannot listen"), "%s", text);
    free(text);
    json_t *h = health(url);
    cr_assert_str_eq(json_string_value(json_object_get(h, "component")),
                     "broker");
    cr_assert_str_eq(json_string_value(json_object_get(h, "state")), "running");
    json_decref(h);
    cr_assert_eq(gh_test_stop(b1, 10000), 0);
    gh_test_proc_free(b1);
    free(url);
    gh_test_rmtree(dir);
    free(dir);
}
