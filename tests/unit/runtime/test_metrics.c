/* gh_metrics_: the Prometheus text exposition (format 0.0.4), label and
 * help escaping, histograms, the health document, concurrent updates, and
 * the HTTP endpoint on a loopback port. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/metrics.h"
#include "gridhub/util.h"

static char *render(gh_metrics_t *m) {
    gh_buf_t b = {0};
    gh_metrics_render(m, &b);
    return gh_buf_detach(&b);
}

static void assert_has(const char *text, const char *needle) {
    cr_assert(strstr(text, needle), "missing:\n%s\nin:\n%s", needle, text);
}

/* Every line is a comment (# HELP / # TYPE) or `name{labels} value`. */
static void assert_exposition(const char *text) {
    regex_t sample, comment;
    cr_assert_eq(
        regcomp(&sample,
                "^[a-zA-Z_:][a-zA-Z0-9_:]*"
                "(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\""
                "(,[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\")*\\})?"
                " (NaN|[+-]Inf|-?[0-9]+(\\.[0-9]+)?(e[+-][0-9]+)?)$",
                REG_EXTENDED | REG_NOSUB),
        0);
    cr_assert_eq(regcomp(&comment,
                         "^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE "
                         "[a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram))$",
                         REG_EXTENDED | REG_NOSUB),
                 0);
    char *copy = gh_xstrdup(text), *save = NULL;
    cr_assert(strlen(text) > 0 && text[strlen(text) - 1] == '\n',
              "ends with a newline");
    for (char *l = strtok_r(copy, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        regex_t *re = l[0] == '#' ? &comment : &sample;
        cr_assert_eq(regexec(re, l, 0, NULL, 0), 0, "bad line: %s", l);
    }
    free(copy);
    regfree(&sample);
    regfree(&comment);
}

Test(metrics, counter_and_gauge) {
    gh_metrics_t *m = gh_metrics_new("test", NULL);
    gh_metrics_family_t *c =
        gh_metrics_counter(m, "gridhub_test_events_total", "Events.", NULL);
    gh_metrics_series_t *s = gh_metrics_series(c, NULL);
    gh_metrics_inc(s);
    gh_metrics_add(s, 2);
    gh_metrics_family_t *g =
        gh_metrics_gauge(m, "gridhub_test_lag_bytes", "Lag.", "slot");
    gh_metrics_set(gh_metrics_series1(g, "a"), 0.25);
    gh_metrics_set(gh_metrics_series1(g, "b"), 1e20);
    gh_metrics_set(gh_metrics_series1(g, "c"), 123456789012345.0);
    gh_metrics_set(gh_metrics_series1(g, "d"), -3);
    cr_assert_eq(gh_metrics_series1(g, "a"), gh_metrics_series1(g, "a"),
                 "the same labels give the same series");
    char *t = render(m);
    assert_has(t, "# HELP gridhub_test_events_total Events.\n"
                  "# TYPE gridhub_test_events_total counter\n"
                  "gridhub_test_events_total 3\n");
    assert_has(t, "# TYPE gridhub_test_lag_bytes gauge\n"
                  "gridhub_test_lag_bytes{slot=\"a\"} 0.25\n"
                  "gridhub_test_lag_bytes{slot=\"b\"} 1e+20\n"
                  "gridhub_test_lag_bytes{slot=\"c\"} 123456789012345\n"
                  "gridhub_test_lag_bytes{slot=\"d\"} -3\n");
    assert_exposition(t);
    cr_assert_eq(gh_metrics_value(s), 3);
    cr_assert_eq(gh_metrics_family_sum(g), 0.25 + 1e20 + 123456789012345.0 - 3);
    free(t);
    gh_metrics_destroy(m);
}

Test(metrics, label_values_and_help_are_escaped) {
    gh_metrics_t *m = gh_metrics_new("test", NULL);
    gh_metrics_family_t *f = gh_metrics_counter(
        m, "gridhub_test_dead_letters_total",
        "Dead letters\\by reason,\nsee \"docs\".", "reason,topic");
    const char *v[2] = {"say \"hi\"\\now\nthen", "bad\xff\xfe-\xe4\xb8\xad"};
    gh_metrics_inc(gh_metrics_series(f, v));
    char *t = render(m);
    /* HELP escapes backslash and newline only; label values also quotes. */
    assert_has(t, "# HELP gridhub_test_dead_letters_total Dead "
                  "letters\\\\by reason,\\nsee \"docs\".\n");
    assert_has(t, "gridhub_test_dead_letters_total{reason=\"say "
                  "\\\"hi\\\"\\\\now\\nthen\",topic=\"bad\xEF\xBF\xBD\xEF\xBF"
                  "\xBD-\xe4\xb8\xad\"} 1\n");
    assert_exposition(t);
    free(t);
    gh_metrics_destroy(m);
}

Test(metrics, histogram_buckets_are_cumulative) {
    gh_metrics_t *m = gh_metrics_new("test", NULL);
    static const double bounds[] = {0.1, 1};
    gh_metrics_family_t *h = gh_metrics_histogram(
        m, "gridhub_test_latency_seconds", "Latency.", "dept", bounds, 2);
    gh_metrics_series_t *s = gh_metrics_series1(h, "zz");
    gh_metrics_observe(s, 0.05);
    gh_metrics_observe(s, 0.1); /* le is inclusive */
    gh_metrics_observe(s, 0.5);
    gh_metrics_observe(s, 5);
    char *t = render(m);
    assert_has(t,
               "# TYPE gridhub_test_latency_seconds histogram\n"
               "gridhub_test_latency_seconds_bucket{dept=\"zz\",le=\"0.1\"} "
               "2\n"
               "gridhub_test_latency_seconds_bucket{dept=\"zz\",le=\"1\"} 3\n"
               "gridhub_test_latency_seconds_bucket{dept=\"zz\",le=\"+Inf\"}"
               " 4\n"
               "gridhub_test_latency_seconds_sum{dept=\"zz\"} 5.65\n"
               "gridhub_test_latency_seconds_count{dept=\"zz\"} 4\n");
    assert_exposition(t);
    cr_assert_eq(gh_metrics_value(s), 4, "a histogram's value is its count");
    free(t);
    gh_metrics_destroy(m);
}

Test(metrics, builtins_and_state) {
    gh_metrics_t *m = gh_metrics_new("hub", "hub-a");
    char *t = render(m);
    assert_has(t, "gridhub_hub_state{state=\"starting\"} 1\n"
                  "gridhub_hub_state{state=\"running\"} 0\n");
    assert_has(t, "# TYPE gridhub_hub_start_time_seconds gauge\n");
    assert_has(t, "# TYPE gridhub_hub_progress_age_seconds gauge\n");
    assert_has(t, "gridhub_hub_info{version=\"" GH_VERSION
                  "\",instance=\"hub-a\"} 1\n");
    assert_exposition(t);
    free(t);
    gh_metrics_set_state(m, GH_METRICS_RUNNING, NULL);
    gh_metrics_progress(m);
    t = render(m);
    assert_has(t, "gridhub_hub_state{state=\"starting\"} 0\n"
                  "gridhub_hub_state{state=\"running\"} 1\n"
                  "gridhub_hub_state{state=\"degraded\"} 0\n"
                  "gridhub_hub_state{state=\"stopping\"} 0\n");
    free(t);
    gh_metrics_destroy(m);
}

Test(metrics, health_document) {
    gh_metrics_t *m = gh_metrics_new("connector", "zongzhi");
    gh_metrics_family_t *dl = gh_metrics_counter(
        m, "gridhub_connector_dead_letters_total", "x", "reason");
    gh_metrics_add(gh_metrics_series1(dl, "mapping"), 2);
    gh_metrics_add(gh_metrics_series1(dl, "oversized"), 1);
    gh_metrics_figure(m, "dead_letters", dl);
    gh_metrics_set_state(m, GH_METRICS_DEGRADED,
                         "database \"zz\" refused: \xff\x01 bad bytes");
    gh_buf_t b = {0};
    cr_assert_eq(gh_metrics_health(m, &b), GH_METRICS_DEGRADED);
    json_error_t je;
    json_t *o = json_loads(b.data, 0, &je);
    cr_assert_not_null(o, "invalid JSON (%s): %s", je.text, b.data);
    cr_assert_str_eq(json_string_value(json_object_get(o, "component")),
                     "connector");
    cr_assert_str_eq(json_string_value(json_object_get(o, "instance")),
                     "zongzhi");
    cr_assert_str_eq(json_string_value(json_object_get(o, "state")),
                     "degraded");
    cr_assert_str_eq(json_string_value(json_object_get(o, "reason")),
                     "database \"zz\" refused: \xEF\xBF\xBD\x01 bad bytes");
    cr_assert_str_eq(json_string_value(json_object_get(o, "last_error")),
                     json_string_value(json_object_get(o, "reason")));
    cr_assert(json_is_string(json_object_get(o, "since")));
    cr_assert_eq(json_integer_value(json_object_get(
                     json_object_get(o, "figures"), "dead_letters")),
                 3);
    json_decref(o);
    /* Recovered: running again, the last error is kept, no reason. */
    gh_metrics_set_state(m, GH_METRICS_RUNNING, NULL);
    gh_metrics_progress(m);
    gh_buf_reset(&b);
    cr_assert_eq(gh_metrics_health(m, &b), GH_METRICS_RUNNING);
    o = json_loads(b.data, 0, &je);
    cr_assert_not_null(o, "%s", b.data);
    cr_assert(json_is_null(json_object_get(o, "reason")));
    cr_assert(json_is_string(json_object_get(o, "last_error")));
    cr_assert(json_number_value(json_object_get(o, "progress_age_seconds")) <
              5);
    json_decref(o);
    gh_buf_free(&b);
    gh_metrics_destroy(m);
}

Test(metrics, clear_removes_series) {
    gh_metrics_t *m = gh_metrics_new("test", NULL);
    gh_metrics_family_t *g = gh_metrics_gauge(
        m, "gridhub_test_consumer_lag_messages", "Lag.", "topic,partition");
    const char *a[2] = {"t", "0"}, *b[2] = {"t", "1"};
    gh_metrics_set(gh_metrics_series(g, a), 5);
    gh_metrics_set(gh_metrics_series(g, b), 7);
    cr_assert_eq(gh_metrics_family_sum(g), 12);
    gh_metrics_clear(g);
    cr_assert_eq(gh_metrics_family_sum(g), 0);
    gh_metrics_set(gh_metrics_series(g, b), 1);
    char *t = render(m);
    cr_assert_null(strstr(t, "partition=\"0\""), "%s", t);
    assert_has(t, "gridhub_test_consumer_lag_messages{topic=\"t\","
                  "partition=\"1\"} 1\n");
    free(t);
    gh_metrics_destroy(m);
}

Test(metrics, null_series_are_ignored) {
    gh_metrics_add(NULL, 1);
    gh_metrics_set(NULL, 1);
    gh_metrics_observe(NULL, 1);
    cr_assert_eq(gh_metrics_value(NULL), 0);
    gh_metrics_destroy(NULL);
}

typedef struct {
    gh_metrics_series_t *c, *h;
} hammer_t;

static void *hammer(void *arg) {
    hammer_t *x = arg;
    for (int i = 0; i < 200000; i++) {
        gh_metrics_inc(x->c);
        gh_metrics_observe(x->h, 0.5);
    }
    return NULL;
}

/* Updates from two threads while a third renders: nothing is lost. */
Test(metrics, concurrent_updates_and_renders) {
    gh_metrics_t *m = gh_metrics_new("test", NULL);
    static const double bounds[] = {1};
    hammer_t x = {
        gh_metrics_series(
            gh_metrics_counter(m, "gridhub_test_n_total", "n", NULL), NULL),
        gh_metrics_series(gh_metrics_histogram(m, "gridhub_test_h_seconds", "h",
                                               NULL, bounds, 1),
                          NULL)};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, hammer, &x);
    for (int i = 0; i < 50; i++)
        free(render(m));
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(gh_metrics_value(x.c), 400000);
    cr_assert_eq(gh_metrics_value(x.h), 400000);
    char *txt = render(m);
    assert_has(txt, "gridhub_test_h_seconds_sum 200000\n");
    free(txt);
    gh_metrics_destroy(m);
}

/* ---- the HTTP endpoint ---------------------------------------------------
 */

static size_t collect(char *p, size_t size, size_t n, void *opaque) {
    gh_buf_append(opaque, p, size * n);
    return size * n;
}

static long get(const char *url, gh_buf_t *body, char *ctype, size_t ctsz) {
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    CURLcode rc = curl_easy_perform(c);
    cr_assert_eq(rc, CURLE_OK, "GET %s: %s", url, curl_easy_strerror(rc));
    long status = 0;
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    snprintf(ctype, ctsz, "%s", ct ? ct : "");
    curl_easy_cleanup(c);
    return status;
}

Test(metrics_http, listen_validation) {
    char err[256];
    const char *ok[] = {"",           "127.0.0.1:9464", "0.0.0.0:0",
                        "[::1]:9464", "localhost:80",   NULL};
    for (int i = 0; ok[i]; i++)
        cr_assert_eq(gh_metrics_validate_listen("metrics.listen", ok[i], err,
                                                sizeof(err)),
                     0, "%s: %s", ok[i], err);
    const char *bad[] = {"9464",           "127.0.0.1",       ":9464",
                         "127.0.0.1:",     "127.0.0.1:65536", "1.2.3:80",
                         "example.org:80", "[::zz]:80",       "::1:80",
                         "127.0.0.1:-1",   "127.0.0.1:80x",   NULL};
    for (int i = 0; bad[i]; i++)
        cr_assert_neq(gh_metrics_validate_listen("metrics.listen", bad[i], err,
                                                 sizeof(err)),
                      0, "%s accepted", bad[i]);
}

Test(metrics_http, serves_metrics_and_health) {
    gh_metrics_t *m = gh_metrics_new("test", NULL);
    gh_metrics_inc(gh_metrics_series(
        gh_metrics_counter(m, "gridhub_test_events_total", "Events.", NULL),
        NULL));
    char err[256];
    cr_assert_eq(gh_metrics_serve(m, "127.0.0.1:0", err, sizeof(err)), GH_OK,
                 "%s", err);
    const char *base = gh_metrics_url(m);
    cr_assert(base && !strncmp(base, "http://127.0.0.1:", 17), "%s", base);
    cr_assert_neq(strcmp(base, "http://127.0.0.1:0"), 0, "the real port");

    char url[256], ct[128];
    gh_buf_t b = {0};
    snprintf(url, sizeof(url), "%s/metrics", base);
    cr_assert_eq(get(url, &b, ct, sizeof(ct)), 200);
    cr_assert_str_eq(ct, "text/plain; version=0.0.4; charset=utf-8");
    assert_has(b.data, "gridhub_test_events_total 1\n");
    assert_exposition(b.data);

    gh_buf_reset(&b);
    snprintf(url, sizeof(url), "%s/health", base);
    cr_assert_eq(get(url, &b, ct, sizeof(ct)), 503, "starting is not ready");
    cr_assert_str_eq(ct, "application/json");
    assert_has(b.data, "\"state\":\"starting\"");
    gh_metrics_set_state(m, GH_METRICS_RUNNING, NULL);
    gh_metrics_progress(m);
    gh_buf_reset(&b);
    cr_assert_eq(get(url, &b, ct, sizeof(ct)), 200);

    gh_buf_reset(&b);
    snprintf(url, sizeof(url), "%s/nothing", base);
    cr_assert_eq(get(url, &b, ct, sizeof(ct)), 404);
    gh_buf_free(&b);

    /* A second registry cannot take the same port. */
    gh_metrics_t *m2 = gh_metrics_new("test", NULL);
    char *taken = gh_xstrdup(base + strlen("http://"));
    cr_assert_eq(gh_metrics_serve(m2, taken, err, sizeof(err)), GH_ERR_IO);
    assert_has(err, "cannot listen");
    free(taken);
    gh_metrics_destroy(m2);

    int64_t t0 = gh_now_ms();
    gh_metrics_destroy(m);
    cr_assert_lt(gh_now_ms() - t0, 1000, "stopping the endpoint is prompt");
}
