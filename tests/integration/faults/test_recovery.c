/*
 * When the broker lost messages before they were read (docs/operations.md,
 * "When the broker lost messages"): the embedded broker keeps a bounded log
 * per partition (about 5 MiB), so a backlog larger than that evicts the
 * oldest messages, as retention does on a real cluster. The hub must stop
 * loudly rather than skip them; `gridhub resync department` plus the
 * connector's new snapshot (whose end-of-snapshot markers let the hub
 * delete what the department deleted meanwhile) bring it back exactly; and
 * `gridhub resync view` re-sends a subscriber's whole view.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gridhub/util.h"
#include "harness.h"
#include "oracle.h"
#include "pipeline.h"
#include "stack.h"
#include "topics.h"

#define DDL GH_TEST_DATA_DIR "/dept/schema.sql"
#define MAPPING GH_TEST_DATA_DIR "/dept/mapping.properties"
#define SRC_TOPIC "gridhub.test.person"
#define VIEW_TOPIC "hub.view.test.person"
#define SETTLE_MS 180000

static gh_test_stack_t *g_stack;
static PGconn *g_hub;

static void recovery_fini(void) {
    PQfinish(g_hub);
    g_hub = NULL;
    gh_test_stack_free(g_stack);
    g_stack = NULL;
}

TestSuite(recovery, .timeout = 400, .fini = recovery_fini);

static const char *slot_opt(void) {
    static char buf[64];
    if (!buf[0])
        snprintf(buf, sizeof(buf), "slot.name=gh_test_rec_%d", (int)getpid());
    return buf;
}

static void start_connector(gh_test_stack_t *s) {
    const char *const extra[] = {slot_opt(), NULL};
    gh_test_stack_start_connector(s, extra);
}

static void start_hub(gh_test_stack_t *s) {
    const char *const extra[] = {"kafka.session.timeout.ms=6000",
                                 "kafka.heartbeat.interval.ms=1000", NULL};
    gh_test_stack_start_hub(s, extra);
}

/* `gridhub <args...>` with the stack's hub properties; returns the exit
 * code, output in *out (caller frees). */
static int gridhub(gh_test_stack_t *s, const char *const *args, char **out) {
    static int n;
    char *ci = gh_test_conninfo(s->hub_db);
    char *bs = gh_xasprintf("bootstrap.servers=%s", s->bootstrap);
    char *cinfo = gh_xasprintf("database.conninfo=%s", ci);
    char *pf = gh_xasprintf("policy.file=%s", s->policy);
    char *kf = gh_xasprintf("policy.keys.file=%s", s->keys);
    char log[4096];
    snprintf(log, sizeof(log), "%s/cmd.%d.log", s->dir, ++n);
    const char *argv[32] = {GH_BINARY};
    int k = 1;
    for (int i = 0; args[i] && k < 24; i++)
        argv[k++] = args[i];
    const char *tail[] = {"-X", bs,   "-X", cinfo, "-X",
                          pf,   "-X", kf,   "-X",  "source.topics=" SRC_TOPIC,
                          NULL};
    for (int i = 0; tail[i]; i++)
        argv[k++] = tail[i];
    argv[k] = NULL;
    int rc = gh_test_run(argv, log, 120000);
    *out = gh_test_file_tail(log, 1 << 16);
    free(ci);
    free(bs);
    free(cinfo);
    free(pf);
    free(kf);
    return rc;
}

static int64_t low_watermark(const char *bootstrap) {
    rd_kafka_t *rk = gh_test_raw_consumer(bootstrap);
    int64_t lo = 0, hi = 0;
    gh_test_watermarks(rk, SRC_TOPIC, 0, &lo, &hi);
    rd_kafka_destroy(rk);
    return lo;
}

Test(recovery, lost_messages_stop_the_hub_and_resync_restores_it) {
    gh_test_stack_t *s = g_stack = gh_test_stack_new(DDL, MAPPING);
    /* One partition, so that the backlog below overflows its bounded log. */
    cr_assert_eq(gh_test_stop(s->broker, 10000), 0);
    gh_test_proc_free(s->broker);
    free(s->bootstrap);
    s->broker =
        gh_test_start_broker_with(s->dir, SRC_TOPIC ":1", &s->bootstrap);

    gh_test_exec(
        s->dept,
        "INSERT INTO zz_syrk (rkbh, xm, gmsfhm, xb, csrq, lxdh, jzdz, "
        "wgbm) SELECT 'E' || g, '早' || g, NULL, '1', '1970-01-01'::date "
        "+ g, '1390000' || lpad(g::text, 4, '0'), '地址' || g, "
        "'LP-DT-01' FROM generate_series(1, 40) g");
    start_connector(s);
    start_hub(s);
    g_hub = gh_test_pg_connect(s->hub_db);
    gh_test_wait_settled(s, g_hub, SETTLE_MS);
    /* The first snapshot ended with a marker on the one partition. */
    json_t *raw = gh_test_read_raw(s->bootstrap, SRC_TOPIC);
    int markers = 0;
    size_t i;
    json_t *l;
    json_array_foreach(raw, i, l) {
        const char *k = json_string_value(json_object_get(l, "key"));
        const json_t *h = json_object_get(l, "headers");
        if (k && !strcmp(k, "__snapshot__:public.zz_syrk")) {
            markers++;
            cr_assert(json_is_null(json_object_get(l, "value")));
            cr_assert_str_eq(
                json_string_value(json_object_get(h, "gh.snapshot.partitions")),
                "1");
            cr_assert_str_eq(
                json_string_value(json_object_get(h, "gh.snapshot.table")),
                "public.zz_syrk");
        }
    }
    json_decref(raw);
    cr_assert_eq(markers, 1, "one end-of-snapshot marker per partition");

    /* The hub is away; the department deletes ten residents, then a large
     * backlog pushes those deletes out of the broker's log. */
    cr_assert_eq(gh_test_stop(s->hub, 20000), 0);
    gh_test_exec(s->dept, "DELETE FROM zz_syrk WHERE rkbh IN ('E1', 'E2', "
                          "'E3', 'E4', 'E5', 'E6', 'E7', 'E8', 'E9', 'E10')");
    gh_test_exec(s->dept,
                 "INSERT INTO zz_syrk (rkbh, xm, xb, bz) SELECT 'B' || g, '大' "
                 "|| g, '2', (SELECT string_agg(md5(g::text || x::text), '') "
                 "FROM generate_series(1, 250) x) FROM generate_series(1, "
                 "1500) g");
    char *lsn = gh_test_scalar(s->dept, "SELECT pg_current_wal_lsn()::text");
    char *sql = gh_xasprintf(
        "SELECT count(*) FROM pg_replication_slots WHERE slot_name = "
        "'gh_test_rec_%d' AND confirmed_flush_lsn >= '%s'",
        (int)getpid(), lsn);
    for (int t = 0; t < 600 && gh_test_count(s->dept, "%s", sql) == 0; t++)
        usleep(200 * 1000);
    free(sql);
    free(lsn);
    int64_t lo = low_watermark(s->bootstrap);
    cr_assert_gt(lo, 0,
                 "test set-up: the broker should have evicted old messages");

    /* The hub refuses to skip them. */
    start_hub(s);
    int rc = gh_test_proc_wait(s->hub, 60000);
    char *log = gh_test_file_tail(gh_test_stack_hub_log(s), 1 << 16);
    cr_assert_eq(rc, 1, "the hub must stop (exit 1), got %d; log:\n%s", rc,
                 log);
    cr_assert(strstr(log, SRC_TOPIC " [0]") && strstr(log, "messages are gone"),
              "the hub should name the topic, partition and loss:\n%s", log);
    free(log);
    cr_assert_eq(gh_test_count(g_hub, "SELECT count(*) FROM source_person "
                                      "WHERE NOT deleted"),
                 40, "nothing applied past the gap");

    /* Recovery: one command with the connector stopped, then both start.
     * (The remarks shrink first, unseen by the stopped connector, so that
     * the new snapshot fits what the embedded broker keeps.) */
    cr_assert_eq(gh_test_stop(s->connector, 20000), 0);
    gh_test_exec(s->dept, "UPDATE zz_syrk SET bz = NULL WHERE bz IS NOT NULL");
    char *conf = gh_xasprintf("%s/connector.properties", s->dir);
    char *ci = gh_test_conninfo(s->dept_db);
    gh_test_write_file(conf,
                       "name=test\nmapping.file=%s\ndatabase.conninfo=%s\n"
                       "bootstrap.servers=%s\n%s\n",
                       MAPPING, ci, s->bootstrap, slot_opt());
    free(ci);
    char *out = NULL;
    const char *const resync[] = {
        "resync", "department", "test", "--connector-config", conf, NULL};
    rc = gridhub(s, resync, &out);
    cr_assert_eq(rc, 0, "resync: %s", out);
    cr_assert(strstr(out, "skipping offsets") && strstr(out, "dropped slot"),
              "%s", out);
    cr_assert_eq(gh_test_count(g_hub, "SELECT count(*) FROM accepted_gap "
                                      "WHERE topic = '" SRC_TOPIC "'"),
                 1);
    free(out);
    free(conf);
    start_connector(s);
    start_hub(s);
    gh_test_wait_settled(s, g_hub, SETTLE_MS);
    cr_assert_eq(gh_test_count(g_hub, "SELECT count(*) FROM source_person "
                                      "WHERE deleted AND source_key IN ('E1', "
                                      "'E2', 'E3', 'E10')"),
                 4, "the snapshot's end deletes what the department deleted");
    json_t *lines = gh_test_tail_all(s, VIEW_TOPIC, 6000);
    json_t *fold = gh_test_fold(lines);
    json_decref(gh_test_check_view_equals_dept(s, fold));
    json_decref(fold);
    json_decref(lines);

    /* A subscriber that lost its view gets all of it again. */
    long persons = gh_test_count(g_hub, "SELECT count(*) FROM person");
    long before = gh_test_topics_size(s->bootstrap, VIEW_TOPIC);
    const char *const resend[] = {"resync", "view", "test", NULL};
    rc = gridhub(s, resend, &out);
    cr_assert_eq(rc, 0, "resync view exited %d: %s", rc, out);
    free(out);
    /* The running hub re-sends the view (a forced sweep) between batches:
     * wait for that, then for quiet, and count exactly. */
    gh_test_wait_topics_size(s->bootstrap, VIEW_TOPIC, before + persons,
                             SETTLE_MS);
    cr_assert_eq(gh_test_count(g_hub, "SELECT count(*) FROM feed_plan WHERE "
                                      "force OR NOT swept"),
                 0, "the re-send is recorded as done");
    gh_test_wait_settled(s, g_hub, SETTLE_MS);
    cr_assert_eq(gh_test_topics_size(s->bootstrap, VIEW_TOPIC) - before,
                 persons, "one record per person, retired ones included");
    lines = gh_test_tail_all(s, VIEW_TOPIC, 6000);
    fold = gh_test_fold(lines);
    json_decref(gh_test_check_view_equals_dept(s, fold));
    json_decref(fold);
    json_decref(lines);
    gh_test_stop_clean(s);
}

/*
 * A re-send while the departments keep changing (issue 15, "re-snapshot
 * on request"): the running hub sends the view again page by page between
 * its batches, so a page may carry a person's version older or newer than
 * a live change around it. What the subscriber folds must still end equal
 * to the department: the last record of every key is its current one.
 */
Test(recovery, resend_during_live_changes_ends_exact) {
    gh_test_stack_t *s = g_stack = gh_test_stack_new(DDL, MAPPING);
    gh_test_exec(
        s->dept,
        "INSERT INTO zz_syrk (rkbh, xm, gmsfhm, xb, csrq, lxdh, jzdz, "
        "wgbm) SELECT 'L' || g, '林' || g, NULL, '1', '1960-01-01'::date "
        "+ g * 7, '1370000' || lpad(g::text, 4, '0'), '童家社区' || g || "
        "'号', 'LP-DT-01' FROM generate_series(1, 400) g");
    start_connector(s);
    /* Small pages: the re-send takes many turns between batches. */
    const char *const extra[] = {"kafka.session.timeout.ms=6000",
                                 "kafka.heartbeat.interval.ms=1000",
                                 "policy.sweep.page=10", NULL};
    gh_test_stack_start_hub(s, extra);
    g_hub = gh_test_pg_connect(s->hub_db);
    gh_test_wait_settled(s, g_hub, SETTLE_MS);
    long before = gh_test_topics_size(s->bootstrap, VIEW_TOPIC);

    /* The spelling of `resync view`: the same re-send. */
    char *out = NULL;
    const char *const resend[] = {"hub", "resnapshot", "--subscriber", "test",
                                  NULL};
    int rc = gridhub(s, resend, &out);
    cr_assert_eq(rc, 0, "hub resnapshot exited %d: %s", rc, out);
    cr_assert(strstr(out, "queued a full re-send of test's view"), "%s", out);
    free(out);
    /* Live changes while the pages go out: updates, deletes, inserts, one
     * transaction each, over the whole key range. */
    for (int k = 0; k < 40; k++) {
        gh_test_exec(s->dept,
                     "UPDATE zz_syrk SET lxdh = '1380000' || lpad((%d * 10 + "
                     "substr(rkbh, 2)::int)::text, 4, '0'), gxsj = "
                     "clock_timestamp() WHERE rkbh IN ('L%d', 'L%d', 'L%d')",
                     k, 1 + k * 10, 5 + k * 10, 9 + k * 10);
        if (k % 4 == 0)
            gh_test_exec(s->dept, "DELETE FROM zz_syrk WHERE rkbh = 'L%d'",
                         3 + k * 10);
        if (k % 5 == 0)
            gh_test_exec(s->dept,
                         "INSERT INTO zz_syrk (rkbh, xm, gmsfhm, xb, csrq, "
                         "lxdh, jzdz, wgbm) VALUES ('N%d', '聂%d', NULL, '2', "
                         "'1990-05-05'::date + %d, NULL, '新星社区%d号', "
                         "'LP-DT-01')",
                         k, k, k, k);
        usleep(50 * 1000);
    }
    gh_test_wait_settled(s, g_hub, SETTLE_MS);
    cr_assert_eq(gh_test_count(g_hub, "SELECT count(*) FROM feed_plan WHERE "
                                      "force OR NOT swept"),
                 0, "the re-send is recorded as done");
    long persons = gh_test_count(g_hub, "SELECT count(*) FROM person");
    cr_assert_geq(gh_test_topics_size(s->bootstrap, VIEW_TOPIC) - before,
                  persons, "every person sent again, changes on top");
    json_t *lines = gh_test_tail_all(s, VIEW_TOPIC, 6000);
    json_t *fold = gh_test_fold(lines);
    json_decref(gh_test_check_view_equals_dept(s, fold));
    json_decref(fold);
    json_decref(lines);
    gh_test_stop_clean(s);
}
