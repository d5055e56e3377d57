/*
 * End-to-end tests of the hub (hub/core/hub.c, hub/apply/apply.c): a real
 * department database, the real connector and hub processes, the embedded
 * broker, and what a subscriber reads from hub.view.test.person.
 *
 * The oracle is always the department table itself: after the pipeline has
 * settled, the folded view must hold exactly one golden person per
 * normalized resident ID (a person of its own for a row without a valid ID)
 * whose values are those of the department rows. The expected persons are
 * computed here, independently of the hub (test-side ID normalization and
 * check characters; golden rule "per field, the most recently changed
 * non-null value" using gxsj, which every change in these tests sets).
 */
#include "churn.h"
#include "harness.h"
#include "pipeline.h"
#include "policy.h"
#include "stack.h"
#include "topics.h"
#include "oracle.h"

#include <criterion/criterion.h>

#include <dirent.h>
#include <inttypes.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gridhub/util.h"

#define DDL GH_TEST_DATA_DIR "/dept/schema.sql"
#define MAPPING GH_TEST_DATA_DIR "/dept/mapping.properties"
#define SRC_TOPIC "gridhub.test.person"
#define VIEW_TOPIC "hub.view.test.person"
#define DLQ_TOPIC "gridhub.dlq"
#define TAIL_IDLE_MS 6000
#define SETTLE_MS 120000

/* The current test's pipeline, torn down by the suite's fini even when an
 * assertion ended the test early (so that no database or replication slot
 * outlives a failed test). */
static gh_test_stack_t *g_stack;
static PGconn *g_hub;
static char g_slot_opt[64];

static void hub_fini(void) {
    PQfinish(g_hub);
    g_hub = NULL;
    gh_test_stack_free(g_stack);
    g_stack = NULL;
}

TestSuite(hub, .timeout = 240, .fini = hub_fini);

/* ---- raw Kafka access (bytes and headers, no decoding) ------------------
 */

typedef struct raw_msg {
    int32_t partition;
    int64_t offset;
    char *key; /* NUL-terminated copy, NULL if the key is null */
    unsigned char *value;
    size_t len;
    int null_value;
    json_t *headers; /* name -> string */
} raw_msg_t;

typedef struct raw_list {
    raw_msg_t *v;
    size_t n;
} raw_list_t;

static void raw_list_free(raw_list_t *l) {
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].key);
        free(l->v[i].value);
        json_decref(l->v[i].headers);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static rd_kafka_t *raw_consumer(const char *bootstrap, const char *group) {
    char err[512];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    const char *kv[] = {"bootstrap.servers",
                        bootstrap,
                        "group.id",
                        group,
                        "enable.auto.commit",
                        "false",
                        "enable.partition.eof",
                        "false",
                        "log_level",
                        "3",
                        NULL};
    for (int i = 0; kv[i]; i += 2)
        cr_assert_eq(rd_kafka_conf_set(kc, kv[i], kv[i + 1], err, sizeof(err)),
                     RD_KAFKA_CONF_OK, "%s: %s", kv[i], err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof(err));
    cr_assert_not_null(rk, "consumer: %s", err);
    return rk;
}

/* Reads every message now in `topic`, partition by partition, up to the
 * high watermarks taken at the start. */
static raw_list_t read_raw(const char *bootstrap, const char *topic) {
    raw_list_t out = {NULL, 0};
    rd_kafka_t *rk = raw_consumer(bootstrap, "gh-test-raw");
    int np = gh_test_partitions(rk, topic);
    int64_t *hi = gh_xcalloc((size_t)np + 1, sizeof(*hi));
    int64_t *next = gh_xcalloc((size_t)np + 1, sizeof(*next));
    rd_kafka_topic_partition_list_t *as = rd_kafka_topic_partition_list_new(np);
    for (int p = 0; p < np; p++) {
        int64_t lo = 0;
        rd_kafka_resp_err_t e =
            rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi[p], 10000);
        cr_assert_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "watermarks %s[%d]: %s",
                     topic, p, rd_kafka_err2str(e));
        next[p] = lo;
        if (hi[p] > lo)
            rd_kafka_topic_partition_list_add(as, topic, p)->offset = lo;
    }
    if (as->cnt > 0) cr_assert_eq(rd_kafka_assign(rk, as), 0);
    int64_t deadline = gh_now_ms() + 60000;
    for (;;) {
        int done = 1;
        for (int p = 0; p < np; p++)
            if (next[p] < hi[p]) done = 0;
        if (done) break;
        cr_assert(gh_now_ms() < deadline, "reading %s timed out", topic);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
        if (!m) continue;
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->partition < np && m->offset >= next[m->partition] &&
            m->offset < hi[m->partition]) {
            next[m->partition] = m->offset + 1;
            out.v = gh_xrealloc(out.v, (out.n + 1) * sizeof(*out.v));
            raw_msg_t *r = &out.v[out.n++];
            memset(r, 0, sizeof(*r));
            r->partition = m->partition;
            r->offset = m->offset;
            if (m->key) r->key = gh_xstrndup(m->key, m->key_len);
            r->null_value = m->payload == NULL;
            r->len = m->len;
            r->value = gh_xmalloc(m->len + 1);
            if (m->len) memcpy(r->value, m->payload, m->len);
            r->headers = json_object();
            rd_kafka_headers_t *h = NULL;
            if (!rd_kafka_message_headers(m, &h) && h) {
                const char *name;
                const void *val;
                size_t sz;
                for (size_t i = 0;
                     !rd_kafka_header_get_all(h, i, &name, &val, &sz); i++)
                    json_object_set_new(r->headers, name,
                                        val ? json_stringn(val, sz)
                                            : json_null());
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_topic_partition_list_destroy(as);
    free(hi);
    free(next);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return out;
}

static const char *hdr(const raw_msg_t *m, const char *name) {
    return json_string_value(json_object_get(m->headers, name));
}

/* A fresh pipeline, owned by the suite (hub_fini frees it). */
static gh_test_stack_t *new_stack(void) {
    static int n;
    cr_assert_null(g_stack);
    g_stack = gh_test_stack_new(DDL, MAPPING);
    /* Slots are cluster-wide: a name of our own per stack. */
    snprintf(g_slot_opt, sizeof(g_slot_opt), "slot.name=gh_test_hub_%d_%d",
             (int)getpid(), ++n);
    return g_stack;
}

/* A connection to the stack's hub database, closed by hub_fini. */
static PGconn *hub_conn(gh_test_stack_t *s) {
    cr_assert_null(g_hub);
    g_hub = gh_test_pg_connect(s->hub_db);
    return g_hub;
}

static void start_connector(gh_test_stack_t *s) {
    const char *const extra[] = {g_slot_opt, NULL};
    gh_test_stack_start_connector(s, extra);
}

static void start_pipeline(gh_test_stack_t *s) {
    start_connector(s);
    gh_test_stack_start_hub(s, NULL);
}

/* ---- 1. the view equals the department table ----------------------------
 */

/* Birth dates from 1971 on (legacy IDs need 19YY); births before 1970 have
 * a test of their own (birth_date_before_1970). */
static void birth_of(int i, int *y, int *m, int *d) {
    *y = 1971 + i % 29;
    *m = i % 12 + 1;
    *d = i % 28 + 1;
}

Test(hub, view_equals_department) {
    gh_test_stack_t *s = new_stack();
    /* 40 residents: valid IDs, four legacy 15-digit ones, one with a wrong
     * check character (a person of its own, without an id_number). */
    for (int i = 1; i <= 40; i++) {
        int y, m, d;
        birth_of(i, &y, &m, &d);
        char id[19], rk[16], name[32], birth[11], phone[16], addr[64], grid[8];
        if (i % 10 == 5)
            gh_test_make_id15(id, y, m, d, 100 + i);
        else
            gh_test_make_id18(id, y, m, d, 100 + i);
        if (i == 20) id[17] = id[17] == '0' ? '1' : '0';
        snprintf(rk, sizeof(rk), "R%03d", i);
        snprintf(name, sizeof(name), "居民%03d", i);
        snprintf(birth, sizeof(birth), "%04d-%02d-%02d", y, m, d);
        snprintf(phone, sizeof(phone), "138%08d", i);
        snprintf(addr, sizeof(addr), "东城区某街道%d号", i);
        snprintf(grid, sizeof(grid), "G%02d", i % 7);
        gh_test_insert_row(s->dept, rk, name, id, i % 2 ? 1 : 2, birth, phone,
                           addr, grid);
    }
    start_pipeline(s);
    PGconn *hub = hub_conn(s);
    gh_test_wait_settled(s, hub, SETTLE_MS);

    json_t *lines = gh_test_tail_all(s, VIEW_TOPIC, TAIL_IDLE_MS);
    gh_test_check_view_lines(lines);
    json_t *fold = gh_test_fold(lines);
    cr_assert_eq(json_object_size(fold), 40);
    json_t *pid1 = gh_test_check_view_equals_dept(s, fold);
    const char *k;
    json_t *pv;
    json_object_foreach(fold, k, pv)
        cr_assert_eq(gh_test_version_of(fold, k), 1,
                     "person %s: first version must be 1", k);
    /* The legacy IDs are published upgraded to 18 characters. */
    const char *p5 = json_string_value(json_object_get(pid1, "R005"));
    char want5[19];
    int y5, m5, d5;
    birth_of(5, &y5, &m5, &d5);
    gh_test_make_id18(want5, y5, m5, d5, 105);
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(fold, p5), "id_number")),
                     want5);
    const char *p20 = json_string_value(json_object_get(pid1, "R020"));
    cr_assert(
        json_is_null(json_object_get(json_object_get(fold, p20), "id_number")),
        "an invalid ID must not be published as an id_number");

    /* Updates (R001..R010, one of them legacy), a no-op update (R011), a
     * change of ID (R012: another person), deletes (R020..R025). */
    gh_test_exec(s->dept, "UPDATE zz_syrk SET xm = xm || '改', lxdh = '139' || "
                          "substr(lxdh, 4), gxsj = clock_timestamp() "
                          "WHERE rkbh BETWEEN 'R001' AND 'R010'");
    gh_test_exec(s->dept, "UPDATE zz_syrk SET xm = xm WHERE rkbh = 'R011'");
    char newid[19];
    gh_test_make_id18(newid, 1999, 12, 31, 777);
    /* The birth date changes with the number: a number whose date the
     * row contradicts would be someone else's (docs/identity.md). */
    gh_test_exec(s->dept,
                 "UPDATE zz_syrk SET gmsfhm = '%s', csrq = '1999-12-31', "
                 "gxsj = clock_timestamp() WHERE rkbh = 'R012'",
                 newid);
    gh_test_exec(s->dept,
                 "DELETE FROM zz_syrk WHERE rkbh BETWEEN 'R020' AND 'R025'");
    /* A new primary key: the connector sends delete + create; same ID,
     * so the same person. */
    gh_test_exec(s->dept,
                 "UPDATE zz_syrk SET rkbh = 'R913' WHERE rkbh = 'R013'");
    gh_test_wait_settled(s, hub, SETTLE_MS);

    json_t *lines2 = gh_test_tail_all(s, VIEW_TOPIC, TAIL_IDLE_MS);
    gh_test_check_view_lines(lines2);
    json_t *fold2 = gh_test_fold(lines2);
    json_t *pid2 = gh_test_check_view_equals_dept(s, fold2);
    cr_assert_eq(json_object_size(fold2), 34);
    for (int i = 1; i <= 40; i++) {
        char rk[16];
        snprintf(rk, sizeof(rk), "R%03d", i);
        const char *before = json_string_value(json_object_get(pid1, rk));
        const char *after = json_string_value(json_object_get(pid2, rk));
        if (i == 13) {
            cr_assert_null(after, "R013 is now R913");
            after = json_string_value(json_object_get(pid2, "R913"));
            cr_assert_not_null(after, "R913 must be in the view");
            cr_assert_str_eq(before, after,
                             "a new row key with the same ID number is the "
                             "same person");
            cr_assert(gh_test_version_of(fold2, after) >= 2);
        } else if (i >= 20 && i <= 25) {
            cr_assert_null(after, "%s was deleted", rk);
            cr_assert_null(json_object_get(fold2, before),
                           "person %s of deleted row %s must be tombstoned",
                           before, rk);
            json_t *hist = gh_test_lines_of(lines2, before);
            const json_t *last =
                json_array_get(hist, json_array_size(hist) - 1);
            cr_assert(json_is_null(json_object_get(last, "value")),
                      "last message of %s must be a tombstone", before);
            cr_assert_str_eq(
                json_string_value(json_object_get(
                    json_object_get(last, "headers"), "gh.person.version")),
                "2", "tombstone of %s carries version 2", before);
            json_decref(hist);
        } else if (i == 12) {
            /* A record whose ID is corrected is still the same record:
             * the person it was resolved to stays (the ID agrees with no
             * other record to link it elsewhere). */
            cr_assert_not_null(after);
            cr_assert_str_eq(before, after,
                             "a record keeps its person across an ID change");
            cr_assert_eq(gh_test_version_of(fold2, after), 2);
        } else {
            cr_assert_str_eq(before, after,
                             "person_id of %s changed across an update", rk);
            long long want = i <= 10 ? 2 : 1;
            cr_assert_eq(gh_test_version_of(fold2, after), want,
                         "%s (person %s): version %lld, expected %lld", rk,
                         after, gh_test_version_of(fold2, after), want);
        }
    }
    /* The hub's own record agrees with what subscribers see. */
    cr_assert_eq(gh_test_count(hub, "SELECT count(*) FROM person WHERE active"),
                 34);
    cr_assert_eq(gh_test_count(hub, "SELECT count(*) FROM outbox"), 0);
    gh_test_stop_clean(s);

    json_decref(lines);
    json_decref(lines2);
    json_decref(fold);
    json_decref(fold2);
    json_decref(pid1);
    json_decref(pid2);
}

/* ---- 2. two department rows of one resident -----------------------------
 */

typedef struct person_state {
    char *person_id, *sources, *phone, *id_number;
    int active;
    long long version;
} person_state_t;

/* The person of the record with source key `mk` (deleted records keep
 * their last person). */
static person_state_t person_by_mk(PGconn *hub, const char *mk) {
    person_state_t p = {0};
    PGresult *r = PQexecParams(
        hub,
        "SELECT person_id, active, version, (SELECT "
        "string_agg(e->>'source_key', "
        "',' ORDER BY e->>'source_key') FROM jsonb_array_elements(sources) e), "
        "phone, id_number FROM person WHERE person_id = (SELECT person_id "
        "FROM source_person WHERE source_key = $1)",
        1, NULL, &mk, NULL, NULL, 0);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(hub));
    cr_assert_eq(PQntuples(r), 1, "one person for %s", mk);
    p.person_id = gh_xstrdup(PQgetvalue(r, 0, 0));
    p.active = PQgetvalue(r, 0, 1)[0] == 't';
    p.version = atoll(PQgetvalue(r, 0, 2));
    p.sources = gh_xstrdup(PQgetisnull(r, 0, 3) ? "" : PQgetvalue(r, 0, 3));
    p.phone = PQgetisnull(r, 0, 4) ? NULL : gh_xstrdup(PQgetvalue(r, 0, 4));
    p.id_number = PQgetisnull(r, 0, 5) ? NULL : gh_xstrdup(PQgetvalue(r, 0, 5));
    PQclear(r);
    return p;
}

static void person_state_free(person_state_t *p) {
    free(p->person_id);
    free(p->sources);
    free(p->phone);
    free(p->id_number);
}

Test(hub, two_rows_same_id) {
    /* One resident whose check character is X, known to the department
     * three times: canonical, typed with spaces and a lowercase x, and in
     * the legacy 15-digit form. */
    char id[19], id15[16];
    int seq = 0;
    for (seq = 1; seq < 1000; seq++) {
        gh_test_make_id18(id, 1980, 1, 1, seq);
        if (id[17] == 'X') break;
    }
    cr_assert_eq(id[17], 'X');
    gh_test_make_id15(id15, 1980, 1, 1, seq);
    char spaced[32];
    snprintf(spaced, sizeof(spaced), "%.6s %.8s %.3sx", id, id + 6, id + 14);
    const char *mk = "A1";

    gh_test_stack_t *s = new_stack();
    start_pipeline(s);
    gh_test_wait_streaming(s);
    PGconn *hub = hub_conn(s);
    gh_test_wait_settled(s, hub, SETTLE_MS);

    struct {
        const char *rk, *id, *phone;
    } rows[3] = {{"A1", id, "13800000001"},
                 {"B2", spaced, "13800000002"},
                 {"C3", id15, "13800000003"}};
    static const char *const want_sources[3] = {"A1", "A1,B2", "A1,B2,C3"};
    char *pid = NULL;
    for (int i = 0; i < 3; i++) {
        gh_test_insert_row(s->dept, rows[i].rk, "王小明", rows[i].id, 1,
                           "1980-01-01", rows[i].phone, "西城区", "G1");
        gh_test_wait_settled(s, hub, SETTLE_MS);
        person_state_t p = person_by_mk(hub, mk);
        cr_assert(p.active);
        cr_assert_str_eq(p.sources, want_sources[i]);
        cr_assert_str_eq(p.phone, rows[i].phone,
                         "the most recently changed record's phone wins");
        cr_assert_str_eq(p.id_number, id);
        cr_assert_eq(p.version, i + 1);
        if (!pid) pid = gh_xstrdup(p.person_id);
        cr_assert_str_eq(p.person_id, pid, "person_id must be stable");
        person_state_free(&p);
    }
    cr_assert_eq(gh_test_count(hub, "SELECT count(*) FROM person"), 1,
                 "three records of one resident are one person");

    /* Remove them newest first: the person keeps the remaining records and
     * falls back to their values, then is retired. */
    for (int i = 2; i >= 0; i--) {
        gh_test_exec(s->dept, "DELETE FROM zz_syrk WHERE rkbh = '%s'",
                     rows[i].rk);
        gh_test_wait_settled(s, hub, SETTLE_MS);
        person_state_t p = person_by_mk(hub, mk);
        cr_assert_str_eq(p.person_id, pid);
        cr_assert_eq(p.version, 3 + (3 - i));
        if (i > 0) {
            cr_assert(p.active);
            cr_assert_str_eq(p.sources, want_sources[i - 1]);
            cr_assert_str_eq(p.phone, rows[i - 1].phone);
        } else {
            cr_assert(!p.active, "no records left: the person is retired");
        }
        person_state_free(&p);
    }

    /* The resident comes back: same person_id, the version goes on. */
    gh_test_insert_row(s->dept, "A1", "王小明", id, 1, "1980-01-01",
                       "13800000001", "西城区", "G1");
    gh_test_wait_settled(s, hub, SETTLE_MS);
    person_state_t back = person_by_mk(hub, mk);
    cr_assert(back.active);
    cr_assert_str_eq(back.person_id, pid, "person_id is never reallocated");
    cr_assert_eq(back.version, 7);
    cr_assert_str_eq(back.sources, "A1");
    person_state_free(&back);

    /* What the subscriber saw: versions 1..5 with 1,2,3,2,1 sources, a
     * tombstone with version 6, and version 7. */
    json_t *lines = gh_test_tail_all(s, VIEW_TOPIC, TAIL_IDLE_MS);
    gh_test_check_view_lines(lines);
    json_t *hist = gh_test_lines_of(lines, pid);
    cr_assert_eq(json_array_size(hist), 7, "view history of %s: %s", pid,
                 json_dumps(hist, JSON_COMPACT));
    static const char *const seen_sources[5] = {"A1", "A1,B2", "A1,B2,C3",
                                                "A1,B2", "A1"};
    static const char *const seen_phone[5] = {"13800000001", "13800000002",
                                              "13800000003", "13800000002",
                                              "13800000001"};
    for (size_t i = 0; i < 5; i++) {
        const json_t *v = json_object_get(json_array_get(hist, i), "value");
        cr_assert_eq(json_integer_value(json_object_get(v, "version")),
                     (long long)i + 1);
        char *src = gh_test_sorted_keys(json_object_get(v, "sources"));
        cr_assert_str_eq(src, seen_sources[i], "version %zu", i + 1);
        free(src);
        cr_assert_str_eq(json_string_value(json_object_get(v, "id_number")),
                         id);
        cr_assert_str_eq(json_string_value(json_object_get(v, "phone")),
                         seen_phone[i]);
        cr_assert_str_eq(json_string_value(json_object_get(v, "sex")), "MALE");
        cr_assert_str_eq(json_string_value(json_object_get(v, "birth_date")),
                         "1980-01-01");
    }
    const json_t *tomb = json_array_get(hist, 5);
    cr_assert(json_is_null(json_object_get(tomb, "value")), "tombstone");
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(tomb, "headers"),
                                          "gh.person.version")),
        "6");
    json_t *fold = gh_test_fold(lines);
    cr_assert_eq(json_object_size(fold), 1);
    cr_assert_eq(gh_test_version_of(fold, pid), 7);
    json_decref(gh_test_check_view_equals_dept(s, fold));
    gh_test_stop_clean(s);

    json_decref(fold);
    json_decref(hist);
    json_decref(lines);
    free(pid);
}

/* ---- 3. kill -9 of the hub under load -----------------------------------
 */

#define KILL_ROWS 2000
#define KILL_CHANGES 2000

Test(hub, kill9_hub_midbatch, .timeout = 300) {
    unsigned seed0 = (unsigned)time(NULL) ^ (unsigned)getpid();
    cr_log_info("kill9_hub_midbatch: seed %u", seed0);
    gh_test_stack_t *s = new_stack();
    /* 2000 residents, unique IDs, every 97th without a valid one. */
    gh_test_churn_t k;
    gh_test_churn_load(&k, s, KILL_ROWS, KILL_CHANGES, seed0);

    PGconn *hub = hub_conn(s);
    /* Small batches: a kill at a random moment lands inside a batch (or its
     * relay) rather than between two large ones. A short session timeout:
     * the killed hub's group member expires sooner, so that the restarted
     * one gets its partitions in seconds. */
    const char *const small[] = {"batch.max.messages=20",
                                 "kafka.session.timeout.ms=6000",
                                 "kafka.heartbeat.interval.ms=1000", NULL};
    start_connector(s);
    gh_test_stack_start_hub(s, small);
    char *started = gh_xstrdup("-infinity");
    gh_test_wait_streaming(s);

    /* Kill points: the first while the hub works through the snapshot, the
     * others while it catches up with the changes made while it was down.
     * Before each kill, wait until the current run has committed a batch,
     * then let it run on for a random moment. */
    int kill_at[3] = {(int)(rand_r(&k.seed) % 50),
                      600 + (int)(rand_r(&k.seed) % 300),
                      1300 + (int)(rand_r(&k.seed) % 300)};
    int kills = 0;
    for (int step = 0; step < KILL_CHANGES; step++) {
        gh_test_churn_step(&k, s, step);
        if (kills < 3 && step == kill_at[kills]) {
            gh_test_since_t w = {hub, started};
            if (!gh_test_wait_until(gh_test_applied_since, &w, 90000)) {
                char *tail = gh_test_file_tail(gh_test_stack_hub_log(s), 3000);
                cr_assert_fail("hub run %d applied nothing in 90 s (seed %u); "
                               "log ends:\n%s",
                               kills + 1, seed0, tail);
            }
            usleep((useconds_t)(rand_r(&k.seed) % 1500) * 1000);
            cr_assert(gh_test_proc_alive(s->hub), "hub died by itself");
            gh_test_kill9(s->hub);
            kills++;
            free(started);
            started = gh_test_scalar(hub, "SELECT clock_timestamp()::text");
            gh_test_stack_start_hub(s, small);
        }
    }
    cr_assert_eq(kills, 3);
    cr_log_info("kill9_hub_midbatch: %d rows now, %d alive, seed %u", k.n,
                k.nalive, seed0);
    gh_test_wait_settled(s, hub, 180000);
    json_t *lines = gh_test_check_views_exact(s, hub, VIEW_TOPIC, TAIL_IDLE_MS);

    /* For the record: how much the crashes made the last run redo. */
    gh_test_stop_clean(s);
    char *stats =
        gh_test_wait_for_text(gh_test_stack_hub_log(s), "stopping: ", 5000);
    cr_log_info("kill9_hub_midbatch: %zu view messages; last run: %s",
                json_array_size(lines), stats ? stats : "?");
    free(stats);
    json_decref(lines);
    free(started);
    gh_test_churn_free(&k);
}

/* ---- 4. undecodable messages go to the dead-letter topic ----------------
 */

typedef struct produced {
    int32_t partition;
    int64_t offset;
    rd_kafka_resp_err_t err;
    int done;
} produced_t;

static void produce_dr(rd_kafka_t *rk, const rd_kafka_message_t *m,
                       void *opaque) {
    (void)rk;
    (void)opaque;
    produced_t *p = m->_private;
    p->partition = m->partition;
    p->offset = m->offset;
    p->err = m->err;
    p->done = 1;
}

/* Produces one message (key, bytes) to `topic` and returns where it went. */
static produced_t produce_raw(const char *bootstrap, const char *topic,
                              const char *key, const void *val, size_t len) {
    char err[512];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    cr_assert_eq(
        rd_kafka_conf_set(kc, "bootstrap.servers", bootstrap, err, sizeof(err)),
        RD_KAFKA_CONF_OK);
    rd_kafka_conf_set_dr_msg_cb(kc, produce_dr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof(err));
    cr_assert_not_null(rk, "producer: %s", err);
    produced_t p = {0};
    rd_kafka_resp_err_t e = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE((void *)val, len),
        RD_KAFKA_V_OPAQUE(&p), RD_KAFKA_V_END);
    cr_assert_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "produce: %s",
                 rd_kafka_err2str(e));
    rd_kafka_flush(rk, 30000);
    rd_kafka_destroy(rk);
    cr_assert(p.done && !p.err, "delivery of %s: %s", key,
              rd_kafka_err2str(p.err));
    return p;
}

typedef struct dlq_wait {
    const char *bootstrap;
    long want;
} dlq_wait_t;

static int dlq_has(void *arg) {
    dlq_wait_t *w = arg;
    return gh_test_topics_size(w->bootstrap, DLQ_TOPIC) >= w->want;
}

Test(hub, corrupt_message_dead_letter) {
    gh_test_stack_t *s = new_stack();
    char id[19];
    gh_test_make_id18(id, 1970, 3, 4, 11);
    gh_test_insert_row(s->dept, "V1", "赵一", id, 1, "1970-03-04",
                       "13812345678", "朝阳区", "G1");
    start_pipeline(s);
    PGconn *hub = hub_conn(s);
    gh_test_wait_settled(s, hub, SETTLE_MS);

    /* Real bytes to damage: a department event and a view record. */
    raw_list_t src = read_raw(s->bootstrap, SRC_TOPIC);
    raw_list_t view = read_raw(s->bootstrap, VIEW_TOPIC);
    const raw_msg_t *real = NULL;
    for (size_t i = 0; i < src.n && !real; i++)
        if (!src.v[i].null_value) real = &src.v[i];
    cr_assert_not_null(real, "no department event in %s", SRC_TOPIC);
    cr_assert(real->len > 20 && real->value[0] == 0xC3 &&
                  real->value[1] == 0x01,
              "department events are Avro single-object encoded");
    cr_assert_eq(view.n, 1);

    unsigned char rnd[64];
    unsigned seed = 12345;
    for (size_t i = 0; i < sizeof(rnd); i++)
        rnd[i] = (unsigned char)(rand_r(&seed) & 0xff);
    rnd[0] = 0x7b; /* not a framing byte */
    unsigned char unknown_fp[26] = {0xC3, 0x01, 0xde, 0xad, 0xbe, 0xef,
                                    0x01, 0x23, 0x45, 0x67, 2,    'x'};
    struct {
        const char *key;
        const unsigned char *val;
        size_t len;
        produced_t at;
    } bad[5] = {
        {"corrupt-random", rnd, sizeof(rnd), {0}},
        {"corrupt-unknown-fingerprint", unknown_fp, sizeof(unknown_fp), {0}},
        {"corrupt-truncated", real->value, real->len / 2, {0}},
        {"corrupt-header-only", real->value, 10, {0}},
        {"corrupt-wrong-schema", view.v[0].value, view.v[0].len, {0}},
    };
    long dlq_before = gh_test_topics_size(s->bootstrap, DLQ_TOPIC);
    for (int i = 0; i < 5; i++)
        bad[i].at = produce_raw(s->bootstrap, SRC_TOPIC, bad[i].key, bad[i].val,
                                bad[i].len);

    /* A valid change after them still reaches the view. */
    gh_test_make_id18(id, 1971, 5, 6, 22);
    gh_test_insert_row(s->dept, "V2", "钱二", id, 2, "1971-05-06",
                       "13887654321", "海淀区", "G2");
    gh_test_wait_settled(s, hub, SETTLE_MS);
    dlq_wait_t w = {s->bootstrap, dlq_before + 5};
    int got = gh_test_wait_until(dlq_has, &w, 60000);
    char *hublog = gh_test_file_tail(gh_test_stack_hub_log(s), 3000);
    cr_assert(got, "%ld dead letters, expected %ld; hub log ends:\n%s",
              gh_test_topics_size(s->bootstrap, DLQ_TOPIC), dlq_before + 5,
              hublog);
    cr_assert(gh_test_proc_alive(s->hub), "the hub died; log ends:\n%s",
              hublog);

    raw_list_t dlq = read_raw(s->bootstrap, DLQ_TOPIC);
    int from_hub = 0;
    for (size_t j = 0; j < dlq.n; j++) {
        const char *comp = hdr(&dlq.v[j], "gh.error.component");
        if (comp && !strcmp(comp, "hub")) from_hub++;
    }
    cr_assert_eq(from_hub, 5, "dead letters from the hub: %d", from_hub);
    for (int i = 0; i < 5; i++) {
        const raw_msg_t *d = NULL;
        char part[16], off[32];
        snprintf(part, sizeof(part), "%d", (int)bad[i].at.partition);
        snprintf(off, sizeof(off), "%" PRId64, bad[i].at.offset);
        for (size_t j = 0; j < dlq.n && !d; j++) {
            const char *c = hdr(&dlq.v[j], "gh.error.component");
            const char *t = hdr(&dlq.v[j], "gh.source.topic");
            const char *p = hdr(&dlq.v[j], "gh.source.partition");
            const char *o = hdr(&dlq.v[j], "gh.source.offset");
            if (c && t && p && o && !strcmp(c, "hub") &&
                !strcmp(t, SRC_TOPIC) && !strcmp(p, part) && !strcmp(o, off))
                d = &dlq.v[j];
        }
        cr_assert_not_null(d, "no dead letter for %s (%s[%s]@%s)", bad[i].key,
                           SRC_TOPIC, part, off);
        cr_assert_str_eq(d->key ? d->key : "(null)", bad[i].key);
        cr_assert_eq(d->len, bad[i].len, "%s: %zu bytes in the DLQ, %zu sent",
                     bad[i].key, d->len, bad[i].len);
        cr_assert(memcmp(d->value, bad[i].val, d->len) == 0,
                  "%s: the dead letter must carry the original bytes",
                  bad[i].key);
        const char *reason = hdr(d, "gh.error.reason");
        cr_assert(reason && *reason, "%s: gh.error.reason is empty",
                  bad[i].key);
        cr_log_info("%s -> %s", bad[i].key, reason);
    }

    json_t *lines = gh_test_tail_all(s, VIEW_TOPIC, TAIL_IDLE_MS);
    gh_test_check_view_lines(lines);
    json_t *fold = gh_test_fold(lines);
    json_t *pids = gh_test_check_view_equals_dept(s, fold);
    cr_assert_eq(json_object_size(fold), 2);
    cr_assert(gh_test_proc_alive(s->hub), "the hub died");
    gh_test_stop_clean(s);

    json_decref(pids);
    json_decref(fold);
    json_decref(lines);
    free(hublog);
    raw_list_free(&dlq);
    raw_list_free(&src);
    raw_list_free(&view);
}

/* ---- 5. re-reading every event changes nothing --------------------------
 */

#define PERSON_DIGEST_SQL                                                      \
    "SELECT string_agg(concat_ws('|', person_id, active, "                     \
    "version, id_number, name, sex, birth_date, phone, address, grid_code, "   \
    "sources::text, updated_at), ';' ORDER BY person_id) FROM person"
#define SOURCE_DIGEST_SQL                                                      \
    "SELECT string_agg(concat_ws('|', department, source_key, pos_lsn, "       \
    "pos_seq, deleted, person_id, name, applied_at), ';' ORDER BY "            \
    "source_key) FROM source_person"

typedef struct caught_up {
    rd_kafka_t *rk; /* a handle in the hub's group, for committed() */
    int np;
    const int64_t *hi;
} caught_up_t;

/* The group has committed the end of every non-empty partition. */
static int group_caught_up(void *arg) {
    caught_up_t *c = arg;
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new(c->np);
    for (int p = 0; p < c->np; p++)
        rd_kafka_topic_partition_list_add(l, SRC_TOPIC, p);
    int ok = rd_kafka_committed(c->rk, l, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int p = 0; ok && p < c->np; p++)
        if (c->hi[p] > 0 && l->elems[p].offset != c->hi[p]) ok = 0;
    rd_kafka_topic_partition_list_destroy(l);
    return ok;
}

Test(hub, replay_is_idempotent) {
    gh_test_stack_t *s = new_stack();
    for (int i = 1; i <= 30; i++) {
        int y, m, d;
        birth_of(i, &y, &m, &d);
        char id[19], rk[16], name[32], birth[11], phone[16];
        /* Rows 21..30 repeat the IDs of rows 1..10: merged persons. */
        int j = i > 20 ? i - 20 : i;
        birth_of(j, &y, &m, &d);
        if (i % 10 == 5)
            gh_test_make_id15(id, y, m, d, j);
        else
            gh_test_make_id18(id, y, m, d, j);
        snprintf(rk, sizeof(rk), "P%03d", i);
        snprintf(name, sizeof(name), "重放%03d", i);
        snprintf(birth, sizeof(birth), "%04d-%02d-%02d", y, m, d);
        snprintf(phone, sizeof(phone), "150%08d", i);
        gh_test_insert_row(s->dept, rk, name, id, 1 + i % 2, birth, phone,
                           "通州区", "G3");
    }
    start_pipeline(s);
    gh_test_wait_streaming(s);
    /* Streamed changes too: updates, a delete that retires a person, a
     * delete that leaves a merged person with one record, a truncate-free
     * re-insert. */
    gh_test_exec(s->dept, "UPDATE zz_syrk SET lxdh = '151' || substr(lxdh, 4), "
                          "gxsj = clock_timestamp() WHERE rkbh <= 'P010'");
    gh_test_exec(s->dept, "DELETE FROM zz_syrk WHERE rkbh IN ('P015', 'P022')");
    char id99[19];
    gh_test_make_id18(id99, 1990, 1, 1, 99);
    gh_test_insert_row(s->dept, "P099", "再来", id99, 1, "1990-01-01",
                       "15000000099", "通州区", "G3");
    gh_test_exec(s->dept, "DELETE FROM zz_syrk WHERE rkbh = 'P099'");
    PGconn *hub = hub_conn(s);
    gh_test_wait_settled(s, hub, SETTLE_MS);

    json_t *lines = gh_test_tail_all(s, VIEW_TOPIC, TAIL_IDLE_MS);
    gh_test_check_view_lines(lines);
    json_t *fold = gh_test_fold(lines);
    json_t *pids = gh_test_check_view_equals_dept(s, fold);
    long view_before = (long)json_array_size(lines);
    char *persons_before = gh_test_scalar(hub, PERSON_DIGEST_SQL);
    char *sources_before = gh_test_scalar(hub, SOURCE_DIGEST_SQL);

    /* A hub in a new consumer group re-reads the topic from the start. */
    const char *const other[] = {"group.id=gh-test-replay", NULL};
    gh_test_stack_start_hub(s, other);
    rd_kafka_t *rk = raw_consumer(s->bootstrap, "gh-test-replay");
    int np = gh_test_partitions(rk, SRC_TOPIC);
    int64_t *hi = gh_xcalloc((size_t)np + 1, sizeof(*hi));
    for (int p = 0; p < np; p++) {
        int64_t lo;
        cr_assert_eq(rd_kafka_query_watermark_offsets(rk, SRC_TOPIC, p, &lo,
                                                      &hi[p], 10000),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    caught_up_t cu = {rk, np, hi};
    if (!gh_test_wait_until(group_caught_up, &cu, 90000)) {
        char *tail = gh_test_file_tail(gh_test_stack_hub_log(s), 3000);
        cr_assert_fail("the replaying hub did not commit the end of %s; log "
                       "ends:\n%s",
                       SRC_TOPIC, tail);
    }
    rd_kafka_destroy(rk);
    free(hi);
    cr_assert_eq(gh_test_stop(s->hub, 20000), 0, "graceful stop");
    char *stats =
        gh_test_wait_for_text(gh_test_stack_hub_log(s), "stopping: ", 5000);
    cr_assert_not_null(stats);
    cr_assert(strstr(stats, "stopping: 0 applied"),
              "a replay must apply nothing: %s", stats);
    free(stats);

    char *persons_after = gh_test_scalar(hub, PERSON_DIGEST_SQL);
    char *sources_after = gh_test_scalar(hub, SOURCE_DIGEST_SQL);
    cr_assert_str_eq(persons_after, persons_before,
                     "person table changed by a replay");
    cr_assert_str_eq(sources_after, sources_before,
                     "source records changed by a replay");
    cr_assert_eq(gh_test_count(hub, "SELECT count(*) FROM outbox"), 0);
    cr_assert_eq(gh_test_topics_size(s->bootstrap, VIEW_TOPIC), view_before,
                 "a replay must publish nothing to the view");
    gh_test_stop_clean(s);

    json_decref(pids);
    json_decref(fold);
    json_decref(lines);
    free(persons_before);
    free(persons_after);
    free(sources_before);
    free(sources_after);
}

/* ---- 6. configuration errors and an unreachable database ----------------
 */

static char *run_binary(const char *dir, const char *const argv[], int *rc) {
    static int n;
    char log[4096];
    snprintf(log, sizeof(log), "%s/run.%d.log", dir, ++n);
    *rc = gh_test_run(argv, log, 30000);
    return gh_test_file_tail(log, 4000);
}

Test(hub, config_errors) {
    char *dir = gh_test_tmpdir();
    int rc;

    const char *a1[] = {GH_BINARY, "hub", "-X", "nosuch.key=1", NULL};
    char *out = run_binary(dir, a1, &rc);
    cr_assert_eq(rc, 2, "unknown key: exit %d, output:\n%s", rc, out);
    cr_assert(strstr(out, "nosuch.key"), "%s", out);
    cr_assert(strstr(out, "unknown property"), "%s", out);
    free(out);

    char file[4200];
    snprintf(file, sizeof(file), "%s/hub.properties", dir);
    gh_test_write_file(file, "# hub\n"
                             "database.conninfo=host=127.0.0.1 port=1\n"
                             "bootstrap.servers=127.0.0.1:1\n"
                             "\n"
                             "batch.max.messages=lots\n");
    const char *a2[] = {GH_BINARY, "hub", "-c", file, NULL};
    out = run_binary(dir, a2, &rc);
    cr_assert_eq(rc, 2, "bad int: exit %d, output:\n%s", rc, out);
    char want[4300];
    snprintf(want, sizeof(want), "%s:5: batch.max.messages", file);
    cr_assert(strstr(out, want), "should name %s:\n%s", want, out);
    free(out);

    gh_test_write_file(file, "policy.fil=test\n");
    out = run_binary(dir, a2, &rc);
    cr_assert_eq(rc, 2, "typo: exit %d, output:\n%s", rc, out);
    snprintf(want, sizeof(want), "%s:1: policy.fil", file);
    cr_assert(strstr(out, want), "should name %s:\n%s", want, out);
    cr_assert(strstr(out, "did you mean policy.file"), "%s", out);
    free(out);

    gh_test_write_file(file, "source.topics=a\nsource.topics=b\n");
    out = run_binary(dir, a2, &rc);
    cr_assert_eq(rc, 2, "duplicate: exit %d, output:\n%s", rc, out);
    snprintf(want, sizeof(want), "%s:2: source.topics", file);
    cr_assert(strstr(out, want), "should name %s:\n%s", want, out);
    free(out);

    const char *a3[] = {GH_BINARY, "hub", "-X",
                        "kafka.enable.idempotence=false", NULL};
    out = run_binary(dir, a3, &rc);
    cr_assert_eq(rc, 2, "managed kafka property: exit %d:\n%s", rc, out);
    cr_assert(strstr(out, "enable.idempotence"), "%s", out);
    free(out);

    const char *a4[] = {GH_BINARY, "hub", "-X", "bootstrap.servers=h:1", NULL};
    out = run_binary(dir, a4, &rc);
    cr_assert_eq(rc, 2, "missing required: exit %d:\n%s", rc, out);
    cr_assert(strstr(out, "database.conninfo"), "%s", out);
    free(out);

    /* A hub whose database is unreachable keeps retrying and stops cleanly
     * on SIGTERM. */
    char *bootstrap = NULL;
    gh_test_proc_t *broker = gh_test_start_broker(dir, &bootstrap);
    char bs[512], pf[4200], kf[4200];
    snprintf(bs, sizeof(bs), "bootstrap.servers=%s", bootstrap);
    char *pol, *keys;
    gh_test_policy_write(dir, GH_TEST_POLICY, &pol, &keys);
    snprintf(pf, sizeof(pf), "policy.file=%s", pol);
    snprintf(kf, sizeof(kf), "policy.keys.file=%s", keys);
    free(pol);
    free(keys);
    const char *a5[] = {GH_BINARY,
                        "hub",
                        "-X",
                        "database.conninfo=host=127.0.0.1 port=1 dbname=none "
                        "connect_timeout=2",
                        "-X",
                        bs,
                        "-X",
                        "source.topics=" SRC_TOPIC,
                        "-X",
                        pf,
                        "-X",
                        kf,
                        "-X",
                        "retry.backoff.ms=100",
                        "-X",
                        "retry.backoff.max.ms=400",
                        NULL};
    /* The re-snapshot's words (gridhub hub resnapshot --subscriber S): a
     * mistake in them is a usage error naming it, never a hub started. */
    struct {
        const char *words[3], *want;
    } bad[] = {
        {{"resnapshot", NULL}, "needs --subscriber S"},
        {{"--subscriber", "test", NULL}, "--subscriber is for"},
        {{"resnaphot", "--subscriber", "test"}, "unexpected `resnaphot`"},
        {{"resnapshot", "now", NULL}, "unexpected `resnapshot now`"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *av[24];
        int n = 0;
        for (int j = 0; a5[j]; j++)
            av[n++] = a5[j];
        for (int j = 0; j < 3 && bad[i].words[j]; j++)
            av[n++] = bad[i].words[j];
        av[n] = NULL;
        out = run_binary(dir, av, &rc);
        cr_assert_eq(rc, 2, "hub %s: exit %d:\n%s", bad[i].words[0], rc, out);
        cr_assert(strstr(out, bad[i].want), "should say %s:\n%s", bad[i].want,
                  out);
        free(out);
    }

    char log[4200];
    snprintf(log, sizeof(log), "%s/hub-unreachable.log", dir);
    gh_test_proc_t *hubp = gh_test_spawn(a5, log);
    char *line =
        gh_test_wait_for_text(log, "hub database: cannot connect", 15000);
    char *retry = gh_test_wait_for_text(log, "retrying in", 5000);
    char *tail = gh_test_file_tail(log, 3000);
    cr_assert_not_null(line, "no connection error logged; log:\n%s", tail);
    cr_assert_not_null(retry, "no retry logged; log:\n%s", tail);
    free(line);
    free(retry);
    free(tail);
    usleep(1500 * 1000);
    cr_assert(gh_test_proc_alive(hubp), "the hub gave up on its database");
    char *second = gh_test_wait_for_text(log, "retrying in 400 ms", 10000);
    cr_assert_not_null(second, "the backoff must grow to its maximum");
    free(second);
    cr_assert_eq(gh_test_stop(hubp, 10000), 0, "exit status on SIGTERM");
    gh_test_proc_free(hubp);
    cr_assert_eq(gh_test_stop(broker, 10000), 0);
    gh_test_proc_free(broker);
    gh_test_assert_no_sanitizer_reports(dir);
    free(bootstrap);
    gh_test_rmtree(dir);
    free(dir);
}

/* Connection errors are logged on every retry: they must not carry the
 * password of database.conninfo (which ${env:...} keeps out of files). */
Test(hub, unreachable_database_log_has_no_password) {
    char *dir = gh_test_tmpdir();
    char *bootstrap = NULL;
    gh_test_proc_t *broker = gh_test_start_broker(dir, &bootstrap);
    char bs[512], pf[4200], kf[4200];
    snprintf(bs, sizeof(bs), "bootstrap.servers=%s", bootstrap);
    char *pol, *keys;
    gh_test_policy_write(dir, GH_TEST_POLICY, &pol, &keys);
    snprintf(pf, sizeof(pf), "policy.file=%s", pol);
    snprintf(kf, sizeof(kf), "policy.keys.file=%s", keys);
    free(pol);
    free(keys);
    const char *argv[] = {
        GH_BINARY,
        "hub",
        "-X",
        "database.conninfo=host=127.0.0.1 port=1 dbname=none "
        "user=gh password=gh-test-secret-pw connect_timeout=2",
        "-X",
        bs,
        "-X",
        "source.topics=" SRC_TOPIC,
        "-X",
        pf,
        "-X",
        kf,
        "-X",
        "retry.backoff.ms=100",
        NULL};
    char log[4200];
    snprintf(log, sizeof(log), "%s/hub.log", dir);
    gh_test_proc_t *hubp = gh_test_spawn(argv, log);
    char *retry = gh_test_wait_for_text(log, "retrying in", 15000);
    cr_assert_not_null(retry, "no retry logged");
    free(retry);
    cr_assert_eq(gh_test_stop(hubp, 10000), 0);
    gh_test_proc_free(hubp);
    gh_test_stop(broker, 10000);
    gh_test_proc_free(broker);
    gh_test_assert_no_sanitizer_reports(dir);
    char *all = gh_test_file_tail(log, 100000);
    const char *leak = strstr(all, "gh-test-secret-pw");
    static char msg[4096];
    if (leak) {
        const char *bol = leak;
        while (bol > all && bol[-1] != '\n')
            bol--;
        const char *eol = strchr(leak, '\n');
        snprintf(msg, sizeof(msg), "%.*s", (int)(eol ? eol - bol : 1000), bol);
    }
    free(all);
    free(bootstrap);
    gh_test_rmtree(dir);
    free(dir);
    cr_assert(!leak, "the hub logged the database password:\n%s", msg);
}

typedef struct settle_dlq {
    gh_test_settle_t st;
    long dead;
} settle_dlq_t;

static int settled_or_dead_letter(void *arg) {
    settle_dlq_t *w = arg;
    w->dead = gh_test_topics_size(w->st.s->bootstrap, DLQ_TOPIC);
    return w->dead > 0 || gh_test_settled(&w->st);
}

/* Fails listing every dead letter (component, source offset, reason). */
static void assert_no_dead_letters(gh_test_stack_t *s) {
    if (gh_test_topics_size(s->bootstrap, DLQ_TOPIC) == 0) return;
    raw_list_t dlq = read_raw(s->bootstrap, DLQ_TOPIC);
    static char msg[8192];
    size_t n = 0;
    for (size_t i = 0; i < dlq.n && n < sizeof(msg) - 1; i++) {
        const char *c = hdr(&dlq.v[i], "gh.error.component");
        const char *p = hdr(&dlq.v[i], "gh.source.partition");
        const char *o = hdr(&dlq.v[i], "gh.source.offset");
        const char *r = hdr(&dlq.v[i], "gh.error.reason");
        n += (size_t)snprintf(msg + n, sizeof(msg) - n,
                              "\n  %s, key %s, %s[%s]@%s: %s", c ? c : "?",
                              dlq.v[i].key ? dlq.v[i].key : "-", SRC_TOPIC,
                              p ? p : "?", o ? o : "?", r ? r : "?");
    }
    size_t count = dlq.n;
    raw_list_free(&dlq);
    cr_assert_fail("%zu valid department rows were dead-lettered:%s", count,
                   msg);
}

/* Residents born before 1970: the Avro date is a negative day count. */
Test(hub, birth_date_before_1970) {
    gh_test_stack_t *s = new_stack();
    static const struct {
        int y, m, d;
    } births[] = {{1969, 12, 31}, {1950, 6, 15}, {1970, 1, 1}, {1985, 7, 20}};
    for (int i = 0; i < 4; i++) {
        char id[19], rk[8], birth[11];
        gh_test_make_id18(id, births[i].y, births[i].m, births[i].d, 10 + i);
        snprintf(rk, sizeof(rk), "B%d", i);
        snprintf(birth, sizeof(birth), "%04d-%02d-%02d", births[i].y,
                 births[i].m, births[i].d);
        gh_test_insert_row(s->dept, rk, "老人", id, 1, birth, "13900000000",
                           "东城区", "G1");
    }
    start_pipeline(s);
    PGconn *hub = hub_conn(s);
    settle_dlq_t w = {{s, hub, NULL, NULL, 0}, 0};
    gh_test_wait_until(settled_or_dead_letter, &w, 30000);
    free(w.st.dept_digest);
    free(w.st.hub_digest);
    assert_no_dead_letters(s);
    gh_test_wait_settled(s, hub, 30000);
    json_t *lines = gh_test_tail_all(s, VIEW_TOPIC, TAIL_IDLE_MS);
    json_t *fold = gh_test_fold(lines);
    json_t *pids = gh_test_check_view_equals_dept(s, fold);
    cr_assert_eq(json_object_size(fold), 4);
    gh_test_stop_clean(s);
    json_decref(pids);
    json_decref(fold);
    json_decref(lines);
}

/* A TRUNCATE retires every person of the table; rows inserted after it
 * come back (a re-inserted resident under the same person_id). */
Test(hub, truncate_tombstones_all) {
    gh_test_stack_t *s = new_stack();
    char ids[6][19];
    for (int i = 0; i < 6; i++) {
        gh_test_make_id18(ids[i], 1975 + i, 1 + i, 10 + i, 300 + i);
        if (i == 5) break; /* T6 comes after the truncate */
        char rk[8], birth[11];
        snprintf(rk, sizeof(rk), "T%d", i + 1);
        /* Each its own number and the birth date in it (a date the number
         * contradicts would make it someone else's: docs/identity.md). */
        snprintf(birth, sizeof(birth), "%04d-%02d-%02d", 1975 + i, 1 + i,
                 10 + i);
        gh_test_insert_row(s->dept, rk, "截断", ids[i], 2, birth, "13700000000",
                           "丰台区", "G5");
    }
    start_pipeline(s);
    PGconn *hub = hub_conn(s);
    gh_test_wait_settled(s, hub, SETTLE_MS);
    json_t *lines = gh_test_tail_all(s, VIEW_TOPIC, TAIL_IDLE_MS);
    json_t *fold = gh_test_fold(lines);
    json_t *pid1 = gh_test_check_view_equals_dept(s, fold);
    cr_assert_eq(json_object_size(fold), 5);

    gh_test_exec(s->dept, "TRUNCATE zz_syrk");
    gh_test_wait_settled(s, hub, SETTLE_MS);
    cr_assert_eq(gh_test_count(hub, "SELECT count(*) FROM person WHERE active"),
                 0, "a truncate retires every person of the table");
    gh_test_insert_row(s->dept, "T1", "截断", ids[0], 2, "1975-01-10",
                       "13700000001", "丰台区", "G5");
    gh_test_insert_row(s->dept, "T6", "新人", ids[5], 1, "1980-06-15",
                       "13700000006", "丰台区", "G5");
    gh_test_wait_settled(s, hub, SETTLE_MS);

    json_t *lines2 = gh_test_tail_all(s, VIEW_TOPIC, TAIL_IDLE_MS);
    gh_test_check_view_lines(lines2);
    json_t *fold2 = gh_test_fold(lines2);
    json_t *pid2 = gh_test_check_view_equals_dept(s, fold2);
    cr_assert_eq(json_object_size(fold2), 2, "%s",
                 json_dumps(fold2, JSON_COMPACT));
    cr_assert_str_eq(json_string_value(json_object_get(pid2, "T1")),
                     json_string_value(json_object_get(pid1, "T1")),
                     "the re-inserted resident keeps their person_id");
    for (int i = 2; i <= 5; i++) {
        char rk[8];
        snprintf(rk, sizeof(rk), "T%d", i);
        const char *old = json_string_value(json_object_get(pid1, rk));
        cr_assert_null(json_object_get(fold2, old), "%s (%s) not tombstoned",
                       old, rk);
    }
    gh_test_stop_clean(s);
    json_decref(pid1);
    json_decref(pid2);
    json_decref(fold);
    json_decref(fold2);
    json_decref(lines);
    json_decref(lines2);
}

/* The hub's database connection is cut while it runs: the hub reconnects
 * and what was produced meanwhile still reaches the view, once. */
Test(hub, reconnects_after_database_connection_loss) {
    gh_test_stack_t *s = new_stack();
    char id[19];
    gh_test_make_id18(id, 1988, 8, 8, 1);
    gh_test_insert_row(s->dept, "D1", "断线", id, 1, "1988-08-08",
                       "13600000001", "昌平区", "G9");
    /* Each reconnect also recreates the hub's consumer; with the embedded
     * broker the rejoin waits out the session timeout (45 s by default). */
    const char *const fast[] = {"retry.backoff.ms=100",
                                "kafka.session.timeout.ms=6000",
                                "kafka.heartbeat.interval.ms=1000", NULL};
    start_connector(s);
    gh_test_stack_start_hub(s, fast);
    PGconn *hub = hub_conn(s);
    gh_test_wait_settled(s, hub, SETTLE_MS);

    /* Cut every session of the hub but ours. */
    for (int round = 0; round < 2; round++) {
        PGconn *admin = gh_test_pg_connect("postgres");
        cr_assert(gh_test_count(admin,
                                "SELECT count(*) FROM (SELECT "
                                "pg_terminate_backend(pid) FROM "
                                "pg_stat_activity WHERE datname = '%s' AND "
                                "pid <> %d) t",
                                s->hub_db, PQbackendPID(hub)) >= 1,
                  "the hub holds a database session");
        PQfinish(admin);
        char rk[8];
        snprintf(rk, sizeof(rk), "D%d", round + 2);
        gh_test_make_id18(id, 1988, 8, 9 + round, 2 + round);
        gh_test_insert_row(s->dept, rk, "断线后", id, 2, "1988-08-09",
                           "13600000002", "昌平区", "G9");
        gh_test_exec(s->dept,
                     "UPDATE zz_syrk SET lxdh = '1360000010%d', gxsj = "
                     "clock_timestamp() WHERE rkbh = 'D1'",
                     round);
        gh_test_wait_settled(s, hub, SETTLE_MS);
    }
    cr_assert(gh_test_proc_alive(s->hub), "the hub exited");
    char *again =
        gh_test_wait_for_text(gh_test_stack_hub_log(s), "restarting in", 1000);
    cr_assert_not_null(again, "the hub should log its restart");
    free(again);

    json_t *lines = gh_test_tail_all(s, VIEW_TOPIC, TAIL_IDLE_MS);
    cr_assert_eq(gh_test_check_view_lines(lines), 0, "nothing was republished");
    json_t *fold = gh_test_fold(lines);
    json_t *pids = gh_test_check_view_equals_dept(s, fold);
    cr_assert_eq(json_object_size(fold), 3);
    const char *p1 = json_string_value(json_object_get(pids, "D1"));
    cr_assert_eq(gh_test_version_of(fold, p1), 3);
    gh_test_stop_clean(s);
    json_decref(pids);
    json_decref(fold);
    json_decref(lines);
}
