/*
 * The pull feed over `gridhub api` (GET /v1/feed/{entity}, issue 13):
 * department -> connector -> hub -> subscriber topic -> HTTP, real
 * PostgreSQL, the embedded broker, real HTTP.
 *
 * The oracle is the topic itself, read by `gridhub tail`: paging through
 * the feed with small pages gives every message of every partition exactly
 * once, in offset order, with the record tail decodes; an older cursor
 * gives the same messages again; a long poll returns as soon as a change
 * reaches the topic and not before; the cursor survives a restart of the
 * API, which stops within seconds of SIGTERM while a long poll waits.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gridhub/util.h"
#include "harness.h"
#include "http.h"
#include "pipeline.h"
#include "stack.h"
#include "token.h"

#define DDL GH_TEST_DATA_DIR "/dept/schema.sql"
#define MAPPING GH_TEST_DATA_DIR "/dept/mapping.properties"
#define SETTLE_MS 120000
#define NPEOPLE 7

static gh_test_stack_t *g_stack;
static PGconn *g_hub;
static gh_test_proc_t *g_api;

static void fini(void) {
    gh_test_proc_free(g_api);
    g_api = NULL;
    PQfinish(g_hub);
    g_hub = NULL;
    gh_test_stack_free(g_stack);
    g_stack = NULL;
}

TestSuite(api_feed, .timeout = 300, .fini = fini);

static int g_runs;

/* Starts `gridhub api` on the stack's hub database; returns its base URL
 * (caller frees). */
static char *start_api(gh_test_stack_t *s) {
    char *x[4];
    gh_test_stack_hub_props(s, x);
    char *ci = gh_test_conninfo(s->hub_db);
    char *dbx = gh_xasprintf("database.conninfo=%s", ci);
    free(ci);
    char *urlfile = gh_xasprintf("%s/api.%d.url", s->dir, ++g_runs);
    char *alog = gh_xasprintf("%s/api.%d.log", s->dir, g_runs);
    const char *argv[] = {
        GH_BINARY, "api", "-X",           dbx,           "-X",
        x[0],      "-X",  x[1],           "-X",          x[2],
        "-X",      x[3],  "--api-listen", "127.0.0.1:0", "--api-listen-file",
        urlfile,   NULL};
    g_api = gh_test_spawn(argv, alog);
    char *base = gh_test_listen_url(urlfile, alog, 30000);
    for (int i = 0; i < 4; i++)
        free(x[i]);
    free(dbx);
    free(urlfile);
    free(alog);
    return base;
}

static gh_test_http_t get(const char *base, const char *path, const char *token,
                          long timeout_ms) {
    char *url = gh_xasprintf("%s%s", base, path);
    gh_test_http_req_t q = {0};
    q.token = token;
    q.timeout_ms = timeout_ms;
    gh_test_http_t r = gh_test_http(url, &q);
    free(url);
    return r;
}

/* GET of the person feed from `cursor` (NULL: the beginning); asserts
 * 200 and returns the body (new reference). */
static json_t *feed(const char *base, const char *token, const char *cursor,
                    int max, int wait) {
    char path[512];
    snprintf(path, sizeof(path), "/v1/feed/person?max=%d&wait=%d%s%s", max,
             wait, cursor ? "&cursor=" : "", cursor ? cursor : "");
    gh_test_http_t r = get(base, path, token, (wait + 20) * 1000L);
    cr_assert_eq(r.status, 200, "%s: %ld %s", path, r.status,
                 r.body ? json_dumps(r.body, JSON_COMPACT) : "(not JSON)");
    json_t *b = json_incref(r.body);
    gh_test_http_clear(&r);
    cr_assert(json_is_array(json_object_get(b, "messages")) &&
                  json_is_string(json_object_get(b, "cursor")),
              "an answer with messages and a cursor");
    return b;
}

static const char *cursor_of(const json_t *b) {
    return json_string_value(json_object_get(b, "cursor"));
}

/* Reads the feed from `cursor` in pages of `max` until an empty answer
 * says there is no more: every message, in answer order (new reference);
 * *end (caller frees) the last cursor. */
static json_t *read_all(const char *base, const char *token, const char *cursor,
                        int max, char **end) {
    json_t *all = json_array();
    char *cur = cursor ? gh_xstrdup(cursor) : NULL;
    for (int page = 0; page < 1000; page++) {
        json_t *b = feed(base, token, cur, max, 0);
        json_t *m = json_object_get(b, "messages");
        cr_assert_leq(json_array_size(m), (size_t)max, "a page of at most %d",
                      max);
        json_array_extend(all, m);
        free(cur);
        cur = gh_xstrdup(cursor_of(b));
        int done =
            !json_array_size(m) && !json_is_true(json_object_get(b, "more"));
        json_decref(b);
        if (done) break;
    }
    *end = cur;
    return all;
}

/* The feed's messages are exactly the tail lines: same partitions and
 * offsets, each once, in offset order per partition, same keys and
 * records. */
static void same_as_topic(const json_t *msgs, const json_t *lines) {
    cr_assert_eq(json_array_size(msgs), json_array_size(lines),
                 "the feed gave %zu messages, the topic holds %zu",
                 json_array_size(msgs), json_array_size(lines));
    long long last[64];
    for (int i = 0; i < 64; i++)
        last[i] = -1;
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        long long p = json_integer_value(json_object_get(m, "partition"));
        long long off = json_integer_value(json_object_get(m, "offset"));
        cr_assert(p >= 0 && p < 64);
        cr_assert_gt(off, last[p], "partition %lld: offset %lld after %lld", p,
                     off, last[p]);
        last[p] = off;
        const json_t *line = NULL;
        size_t j;
        json_t *l;
        json_array_foreach(lines, j, l) {
            if (json_integer_value(json_object_get(l, "partition")) == p &&
                json_integer_value(json_object_get(l, "offset")) == off)
                line = l;
        }
        cr_assert_not_null(line,
                           "partition %lld offset %lld is not on the "
                           "topic",
                           p, off);
        cr_assert_str_eq(json_string_value(json_object_get(m, "key")),
                         json_string_value(json_object_get(line, "key")));
        char *a = json_dumps(json_object_get(m, "record"),
                             JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        char *b = json_dumps(json_object_get(line, "value"),
                             JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        cr_assert_str_eq(a, b, "partition %lld offset %lld", p, off);
        free(a);
        free(b);
    }
}

static void expect_error(const char *base, const char *path, const char *token,
                         long status, const char *code) {
    gh_test_http_t r = get(base, path, token, 20000);
    cr_assert_eq(r.status, status, "%s: %ld %s", path, r.status,
                 gh_test_http_message(&r));
    cr_assert_str_eq(gh_test_http_code(&r) ? gh_test_http_code(&r) : "", code,
                     "%s: %s", path, gh_test_http_message(&r));
    gh_test_http_clear(&r);
}

/* A long poll in a thread of its own. */
typedef struct poll_arg {
    const char *base, *token, *cursor;
    int wait;
    json_t *answer;
    long status;
    int64_t took_ms;
} poll_arg_t;

static void *long_poll(void *arg) {
    poll_arg_t *a = arg;
    char path[512];
    snprintf(path, sizeof(path), "/v1/feed/person?wait=%d&cursor=%s", a->wait,
             a->cursor);
    int64_t t0 = gh_now_ms();
    gh_test_http_t r = get(a->base, path, a->token, (a->wait + 20) * 1000L);
    a->took_ms = gh_now_ms() - t0;
    a->status = r.status;
    a->answer = json_incref(r.body);
    gh_test_http_clear(&r);
    return NULL;
}

static void person(gh_test_stack_t *s, int i) {
    char rk[16], name[32], idn[19], phone[16];
    snprintf(rk, sizeof(rk), "F%d", i);
    snprintf(name, sizeof(name), "刘%s",
             (const char *[]){"一", "二", "三", "四", "五", "六", "七", "八",
                              "九", "十"}[i % 10]);
    gh_test_make_id18(idn, 1960 + i, 1 + i % 12, 1 + i, 40 + i);
    snprintf(phone, sizeof(phone), "1370000%04d", i);
    gh_test_insert_row(s->dept, rk, name, idn, 1 + i % 2, "1960-01-01", phone,
                       "大塘小区1栋101", "G1");
}

Test(api_feed, pages_long_polls_and_resumes) {
    g_stack = gh_test_stack_new(DDL, MAPPING);
    gh_test_stack_t *s = g_stack;
    char slot[64];
    snprintf(slot, sizeof(slot), "slot.name=gh_test_apifeed_%d", (int)getpid());
    const char *const copts[] = {slot, NULL};
    gh_test_stack_start_connector(s, copts);
    gh_test_stack_start_hub(s, NULL);
    g_hub = gh_test_pg_connect(s->hub_db);
    gh_test_wait_streaming(s);
    for (int i = 0; i < NPEOPLE; i++)
        person(s, i);
    gh_test_wait_settled(s, g_hub, SETTLE_MS);

    char *t_sub = gh_test_stack_token(s, "test", "subscriber", NULL);
    char *t_grid = gh_test_stack_token(s, "test", "grid_worker", "G1");
    char *t_stew = gh_test_stack_token(s, "test", "steward", NULL);
    char sub_id[GH_TOKEN_ID_LEN + 1];
    snprintf(sub_id, sizeof(sub_id), "%.*s", GH_TOKEN_ID_LEN, t_sub + 3);
    char *base = start_api(s);

    /* Everything, in pages of 2, is what the topic holds. */
    json_t *first = feed(base, t_sub, NULL, 2, 0);
    const char *topic = json_string_value(json_object_get(first, "topic"));
    cr_assert_not_null(topic);
    char *topic_s = gh_xstrdup(topic);
    cr_assert_str_eq(json_string_value(json_object_get(first, "subscriber")),
                     "test");
    json_decref(first);
    json_t *lines = gh_test_tail_all(s, topic_s, 3000);
    cr_assert_geq(json_array_size(lines), (size_t)NPEOPLE,
                  "the topic holds every person");
    char *end = NULL;
    json_t *all = read_all(base, t_sub, NULL, 2, &end);
    same_as_topic(all, lines);

    /* Resumable: a cursor from the middle reads the rest again, the
     * same messages (a client that lost an answer loses nothing). */
    json_t *p1 = feed(base, t_sub, NULL, 3, 0);
    char *mid = gh_xstrdup(cursor_of(p1));
    json_t *again = json_object_get(p1, "messages");
    char *rest_end = NULL;
    json_t *rest = read_all(base, t_sub, mid, 1000, &rest_end);
    json_array_extend(again, rest);
    same_as_topic(again, lines);
    cr_assert_str_eq(rest_end, end, "both readings end at the same cursor");
    json_decref(rest);
    json_decref(p1);
    free(rest_end);

    /* Nothing new: a long poll waits its time out and keeps the cursor. */
    int64_t t0 = gh_now_ms();
    json_t *idle = feed(base, t_sub, end, 10, 1);
    int64_t took = gh_now_ms() - t0;
    cr_assert_eq(json_array_size(json_object_get(idle, "messages")), 0);
    cr_assert_str_eq(cursor_of(idle), end);
    cr_assert_geq(took, 900, "an empty long poll waited (%lld ms)",
                  (long long)took);
    json_decref(idle);

    /* A change while a long poll waits: it returns with it, early. */
    poll_arg_t pa = {base, t_sub, end, 25, NULL, 0, 0};
    pthread_t th;
    pthread_create(&th, NULL, long_poll, &pa);
    usleep(1500 * 1000);
    person(s, NPEOPLE);
    pthread_join(th, NULL);
    cr_assert_eq(pa.status, 200, "long poll: %ld", pa.status);
    json_t *nm = json_object_get(pa.answer, "messages");
    cr_assert_geq(json_array_size(nm), 1, "the long poll brought the change");
    cr_assert_lt(pa.took_ms, 20000, "and returned before its wait was over");
    cr_assert_geq(pa.took_ms, 1000, "not before the change (%lld ms)",
                  (long long)pa.took_ms);
    char *after = gh_xstrdup(cursor_of(pa.answer));
    size_t n_polled = json_array_size(nm);
    json_decref(pa.answer);

    /* Refusals. */
    expect_error(base, "/v1/feed/person", t_grid, 403, "forbidden_role");
    expect_error(base, "/v1/feed/person", t_stew, 403, "forbidden_role");
    expect_error(base, "/v1/feed/person", NULL, 401, "unauthenticated");
    expect_error(base, "/v1/feed/nosuch", t_sub, 404, "not_found");
    expect_error(base, "/v1/feed/person?cursor=garbage", t_sub, 400,
                 "bad_cursor");
    expect_error(base, "/v1/feed/person?cursor=v1.grid.0", t_sub, 400,
                 "bad_cursor");
    expect_error(base, "/v1/feed/person?cursor=v1.person.99999999", t_sub, 400,
                 "bad_cursor");
    expect_error(base,
                 "/v1/feed/person?cursor=v1.person.0-0-0-0-0-0-0-0-0-0-0-0-0-"
                 "0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0",
                 t_sub, 400, "bad_cursor");
    expect_error(base, "/v1/feed/person?wait=100000", t_sub, 400,
                 "invalid_parameter");
    expect_error(base, "/v1/feed/person?max=0", t_sub, 400,
                 "invalid_parameter");

    /* Each answer with messages is audited with the token; an empty one
     * discloses nothing and is not. */
    long reads = gh_test_count(g_hub,
                               "SELECT count(*) FROM audit_log WHERE kind = "
                               "'read' AND entity = 'person' AND "
                               "entry::jsonb ->> 'token' = '%s' AND "
                               "entry::jsonb ->> 'what' = '%s' AND "
                               "(entry::jsonb ->> 'messages')::int > 0",
                               sub_id, topic_s);
    cr_assert_geq(reads, 5, "the feed's reads are audited (%ld)", reads);
    cr_assert_eq(gh_test_count(g_hub,
                               "SELECT count(*) FROM audit_log WHERE kind = "
                               "'read' AND entry::jsonb ->> 'token' = '%s' "
                               "AND (entry::jsonb ->> 'messages')::int = 0",
                               sub_id),
                 0, "no entry for an empty answer");

    /* SIGTERM while a long poll waits: the API stops within seconds and
     * the poll is answered or cut, never left hanging. */
    poll_arg_t pb = {base, t_sub, after, 25, NULL, 0, 0};
    pthread_create(&th, NULL, long_poll, &pb);
    usleep(1000 * 1000);
    int64_t s0 = gh_now_ms();
    int rc = gh_test_stop(g_api, 10000);
    int64_t stop_ms = gh_now_ms() - s0;
    pthread_join(th, NULL);
    cr_assert_eq(rc, 0, "gridhub api exits 0 on SIGTERM (%d)", rc);
    cr_assert_lt(stop_ms, 5000, "and within seconds (%lld ms)",
                 (long long)stop_ms);
    cr_assert(pb.status == 503 || pb.status == 0, "the waiting poll: %ld",
              pb.status);
    cr_assert_lt(pb.took_ms, 10000);
    json_decref(pb.answer);
    gh_test_proc_free(g_api);
    g_api = NULL;

    /* A new API process reads on from the client's cursor: a change made
     * while it was down, and nothing before the cursor. */
    person(s, NPEOPLE + 1);
    gh_test_wait_settled(s, g_hub, SETTLE_MS);
    free(base);
    base = start_api(s);
    char *end2 = NULL;
    json_t *late = read_all(base, t_sub, after, 100, &end2);
    cr_assert_geq(json_array_size(late), 1,
                  "the change made while the API "
                  "was down");
    json_t *lines2 = gh_test_tail_all(s, topic_s, 3000);
    free(end);
    json_t *whole = read_all(base, t_sub, NULL, 1000, &end);
    same_as_topic(whole, lines2);
    cr_assert_str_eq(end, end2,
                     "the resumed reading ends where a full one "
                     "does");
    cr_assert_eq(json_array_size(whole),
                 json_array_size(all) + n_polled + json_array_size(late),
                 "before + long poll + after = everything, nothing twice");
    json_decref(whole);
    json_decref(lines2);
    json_decref(late);
    json_decref(all);
    json_decref(lines);
    cr_assert_eq(gh_test_stop(g_api, 10000), 0);
    gh_test_assert_no_sanitizer_reports(s->dir);
    free(end);
    free(end2);
    free(after);
    free(mid);
    free(topic_s);
    free(base);
    free(t_sub);
    free(t_grid);
    free(t_stew);
}
