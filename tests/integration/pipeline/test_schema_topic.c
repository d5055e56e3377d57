/*
 * The schemas topic end to end (gridhub/schema_topic.h): a connector
 * publishes the composed envelope before its first event, and a consumer
 * holding none of gridhub's files decodes the department topic:
 *
 *   - tests/tools/std_consume.py, nothing but the Debian packages
 *     python3-confluent-kafka and python3-avro (run with /usr/bin/python3),
 *     must decode every message and agree with `gridhub tail` message by
 *     message (same key, same value), in both framings;
 *   - `gridhub tail` with an empty schemas.dir, started before the
 *     connector published anything, decodes every event by reading the
 *     schemas topic again when it meets an unknown fingerprint;
 *   - with the broker down, the connector produces nothing and retries,
 *     stops at once when asked, and publishes its schema first once the
 *     broker is back.
 *
 * Missing Python packages fail the suite (with what to install): a skip
 * would hide that the standard-tooling contract is not being checked.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "events.h"
#include "gridhub/avro.h"
#include "gridhub/schema_topic.h"
#include "gridhub/util.h"
#include "harness.h"
#include "pipeline.h"
#include "stack.h"
#include "topics.h"

#define DDL GH_TEST_DATA_DIR "/dept/schema.sql"
#define MAPPING GH_TEST_DATA_DIR "/dept/mapping.properties"
#define TOPIC "gridhub.test.person"
#define SCHEMAS_TOPIC GH_SCHEMAS_TOPIC_DEFAULT
#define STD_CONSUME GH_SOURCE_DIR "/tests/tools/std_consume.py"
/* Debian's interpreter, where python3-avro and python3-confluent-kafka
 * live (the `python3` on PATH may be another one). */
#define STD_PYTHON "/usr/bin/python3"
#define TAIL_IDLE_MS 6000
#define WAIT_MS 60000

static gh_test_stack_t *g_stack;
static gh_test_proc_t *g_registry;

static void fini(void) {
    gh_test_stack_free(g_stack);
    g_stack = NULL;
    gh_test_proc_free(g_registry);
    g_registry = NULL;
}

TestSuite(schematopic, .timeout = 240, .fini = fini);

/* ---- helpers -------------------------------------------------------------
 */

/* A stack with its own slot name (slots are cluster-wide). */
static gh_test_stack_t *new_stack(void) {
    g_stack = gh_test_stack_new(DDL, MAPPING);
    cr_log_info("stack directory %s", g_stack->dir);
    return g_stack;
}

static void start_connector(gh_test_stack_t *s, const char *extra1) {
    static int n;
    char slot[64];
    snprintf(slot, sizeof(slot), "slot.name=gh_test_st_%d_%d", (int)getpid(),
             ++n);
    const char *const x[] = {slot, "retry.backoff.ms=200",
                             "retry.backoff.max.ms=1000", extra1, NULL};
    gh_test_stack_start_connector(s, x);
}

/* Fails the test, saying what to install, unless Debian's Python has the
 * two packages std_consume.py is allowed to use. */
static void require_std_tools(gh_test_stack_t *s) {
    char log[4096];
    snprintf(log, sizeof(log), "%s/python-check.log", s->dir);
    const char *const argv[] = {
        STD_PYTHON, "-c", "import avro.io, avro.schema, confluent_kafka", NULL};
    int rc = gh_test_run(argv, log, 30000);
    if (rc) {
        char *out = gh_test_file_tail(log, 2000);
        cr_assert_fail("the standard-tooling test needs the Debian packages "
                       "python3-avro and python3-confluent-kafka for %s "
                       "(ops/install-deps.sh installs them); importing them "
                       "failed (exit %d):\n%s",
                       STD_PYTHON, rc, out);
    }
}

/* The JSON lines (those starting with '{') of a file. New reference. */
static json_t *json_lines(const char *path) {
    json_t *arr = json_array();
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot read %s", path);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        if (line[0] != '{') continue; /* log lines share the file */
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        cr_assert_not_null(o, "%s: bad JSON line (%s): %s", path, je.text,
                           line);
        json_array_append_new(arr, o);
    }
    free(line);
    fclose(f);
    return arr;
}

/* std_consume.py over `topic` (registry may be NULL); *rc its exit code,
 * *out (may be NULL) its output, stdout and stderr (caller frees). */
static json_t *std_run(gh_test_stack_t *s, const char *topic,
                       const char *registry, int *rc, char **out) {
    static int n;
    char log[4096];
    snprintf(log, sizeof(log), "%s/std_consume.%d.log", s->dir, ++n);
    const char *argv[10] = {STD_PYTHON, STD_CONSUME, "--bootstrap-servers",
                            s->bootstrap};
    int k = 4;
    if (registry) {
        argv[k++] = "--registry";
        argv[k++] = registry;
    }
    argv[k++] = topic;
    argv[k] = NULL;
    *rc = gh_test_run(argv, log, 120000);
    if (out) *out = gh_test_file_tail(log, 1 << 20);
    return json_lines(log);
}

/* std_consume.py over `topic`: every message must decode (exit 0). */
static json_t *std_consume(gh_test_stack_t *s, const char *topic,
                           const char *registry) {
    int rc;
    char *out;
    json_t *lines = std_run(s, topic, registry, &rc, &out);
    cr_assert_eq(rc, 0,
                 "std_consume.py exited %d: a message standard tools cannot "
                 "decode, or a topic it could not read; its output ends:\n%s",
                 rc, out);
    cr_assert(strstr(out, "1 schemas from " SCHEMAS_TOPIC),
              "std_consume.py should have found one schema:\n%s", out);
    free(out);
    return lines;
}

/* `gridhub tail` of `topic` with extra `--key value` arguments (NULL-
 * terminated pairs), until idle_ms without a message. */
static json_t *tail_with(gh_test_stack_t *s, const char *topic,
                         const char *const *extra, int idle_ms, char *log_out,
                         size_t log_size) {
    static int n;
    snprintf(log_out, log_size, "%s/tail-st.%d.log", s->dir, ++n);
    char idle[32];
    snprintf(idle, sizeof(idle), "%d", idle_ms);
    const char *argv[32] = {
        GH_BINARY,     "tail", "--bootstrap-servers", s->bootstrap,
        "--topic",     topic,  "--idle-timeout-ms",   idle,
        "--log-level", "info"};
    int k = 10;
    for (int i = 0; extra && extra[i] && k < 30; i++)
        argv[k++] = extra[i];
    argv[k] = NULL;
    int rc = gh_test_run(argv, log_out, 120000);
    cr_assert_eq(rc, 0, "gridhub tail exited %d (%s)", rc, log_out);
    return json_lines(log_out);
}

/* Equal as rendered by both: `gridhub tail` shows the Unchanged branch as
 * "__unchanged__", a generic Avro reader as its symbol. */
static void assert_same(const json_t *t, const json_t *p, const char *path,
                        const json_t *line) {
    if (json_is_string(t) && json_is_string(p) &&
        !strcmp(json_string_value(t), "__unchanged__") &&
        !strcmp(json_string_value(p), "UNCHANGED"))
        return;
    if (json_is_object(t) && json_is_object(p)) {
        cr_assert_eq(json_object_size(t), json_object_size(p),
                     "%s: tail and std_consume render different fields: "
                     "%s vs %s",
                     path, gh_test_json_dump(t), gh_test_json_dump(p));
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)t, k, v) {
            const json_t *pv = json_object_get(p, k);
            char sub[512];
            snprintf(sub, sizeof(sub), "%s.%s", path, k);
            cr_assert_not_null(pv, "%s: std_consume lacks it (%s)", sub,
                               gh_test_json_dump(line));
            assert_same(v, pv, sub, line);
        }
        return;
    }
    cr_assert(json_equal((json_t *)t, (json_t *)p),
              "%s differs: tail %s, std_consume %s (message %s)", path,
              gh_test_json_dump(t), gh_test_json_dump(p),
              gh_test_json_dump(line));
}

/* Every message both printed: same key and value; std_consume must have
 * printed every message tail did. Returns how many were compared. */
static size_t assert_agree(const json_t *tail, const json_t *std) {
    json_t *by_pos = json_object();
    size_t i;
    json_t *l;
    json_array_foreach(std, i, l) {
        cr_assert_null(json_object_get(l, "error"),
                       "std_consume could not decode: %s",
                       gh_test_json_dump(l));
        char pos[64];
        snprintf(pos, sizeof(pos), "%lld/%lld",
                 (long long)json_integer_value(json_object_get(l, "partition")),
                 (long long)json_integer_value(json_object_get(l, "offset")));
        json_object_set(by_pos, pos, l);
    }
    size_t compared = 0;
    json_array_foreach(tail, i, l) {
        cr_assert_null(json_object_get(l, "error"),
                       "gridhub tail could not decode: %s",
                       gh_test_json_dump(l));
        char pos[64];
        snprintf(pos, sizeof(pos), "%lld/%lld",
                 (long long)json_integer_value(json_object_get(l, "partition")),
                 (long long)json_integer_value(json_object_get(l, "offset")));
        const json_t *p = json_object_get(by_pos, pos);
        cr_assert_not_null(p, "std_consume did not print message %s: %s", pos,
                           gh_test_json_dump(l));
        cr_assert(
            json_equal(json_object_get(l, "key"), json_object_get(p, "key")),
            "message %s: key %s vs %s", pos,
            gh_test_json_dump(json_object_get(l, "key")),
            gh_test_json_dump(json_object_get(p, "key")));
        assert_same(json_object_get(l, "value"), json_object_get(p, "value"),
                    "value", l);
        compared++;
    }
    json_decref(by_pos);
    return compared;
}

/* Rows with what makes decoding interesting: CJK text, NULL and pre-1970
 * dates, empty ID numbers (mapped to null), every sex code. */
static void insert_rows(PGconn *c, int first, int last) {
    gh_test_exec(c,
                 "INSERT INTO zz_syrk (rkbh, xm, gmsfhm, xb, csrq, lxdh, "
                 "jzdz, wgbm, bz) SELECT 'S' || lpad(i::text, 4, '0'), "
                 "'张 ' || i, CASE WHEN i %% 4 = 0 THEN '' ELSE '4301' || "
                 "lpad(i::text, 14, '0') END, (ARRAY['1','2','0','9'])[1 + i "
                 "%% 4], CASE WHEN i %% 5 = 0 THEN NULL ELSE date "
                 "'1940-02-29' + i * 211 END, '1380000' || lpad(i::text, 4, "
                 "'0'), '居住地址 ' || i, 'G' || (i %% 7), 'remark ' || i "
                 "FROM generate_series(%d, %d) i",
                 first, last);
}

/* Snapshot of 1..30, then streamed: 31..35 in one transaction, three
 * updates, two deletes (each with its tombstone). Returns how many
 * messages the topic then holds. */
static long write_history(gh_test_stack_t *s) {
    insert_rows(s->dept, 1, 30);
    gh_test_wait_streaming(s);
    gh_test_exec(s->dept, "BEGIN");
    insert_rows(s->dept, 31, 35);
    gh_test_exec(s->dept, "COMMIT");
    gh_test_exec(s->dept, "UPDATE zz_syrk SET xm = '李四', lxdh = NULL "
                          "WHERE rkbh = 'S0001'");
    gh_test_exec(s->dept, "UPDATE zz_syrk SET csrq = date '1969-12-31' "
                          "WHERE rkbh = 'S0032'");
    gh_test_exec(s->dept, "UPDATE zz_syrk SET wgbm = 'G99' WHERE rkbh = "
                          "'S0010'");
    gh_test_exec(s->dept, "DELETE FROM zz_syrk WHERE rkbh IN ('S0002', "
                          "'S0033')");
    rd_kafka_t *rk = gh_test_raw_consumer(s->bootstrap);
    int parts = gh_test_partitions(rk, TOPIC);
    rd_kafka_destroy(rk);
    long want = 30 + parts /* end-of-snapshot markers */ + 5 + 3 + 2 * 2;
    cr_assert(gh_test_wait_topics_size(s->bootstrap, TOPIC, want, WAIT_MS),
              "%s holds %ld messages, expected %ld", TOPIC,
              gh_test_topics_size(s->bootstrap, TOPIC), want);
    return want;
}

/* The schemas topic holds the connector's envelope, keyed by the
 * fingerprint computed from the value, named in its header. */
static void assert_schema_record(gh_test_stack_t *s) {
    json_t *recs = gh_test_read_raw(s->bootstrap, SCHEMAS_TOPIC);
    cr_assert_geq(json_array_size(recs), 1, "%s is empty", SCHEMAS_TOPIC);
    size_t i;
    json_t *r;
    int envelope = 0;
    json_array_foreach(recs, i, r) {
        const char *text = json_string_value(json_object_get(r, "value"));
        const char *key = json_string_value(json_object_get(r, "key"));
        cr_assert(text && key, "%s", gh_test_json_dump(r));
        char err[512], *pcf = NULL, fp[17];
        cr_assert_eq(gh_avro_canonical_form(text, &pcf, err, sizeof err), GH_OK,
                     "%s", err);
        gh_schema_topic_key(gh_avro_crc64(pcf, strlen(pcf)), fp);
        free(pcf);
        cr_assert_str_eq(key, fp, "record key is not the value's fingerprint");
        const char *name = json_string_value(
            json_object_get(json_object_get(r, "headers"), "gh.schema.name"));
        cr_assert_not_null(name, "no gh.schema.name header: %s",
                           gh_test_json_dump(r));
        envelope += !strcmp(name, "gridhub.change.PersonEnvelope");
    }
    cr_assert_geq(envelope, 1, "no PersonEnvelope record: %s",
                  gh_test_json_dump(recs));
    json_decref(recs);
}

/* In the connector's log, the schema was acknowledged before the first
 * event was produced (the snapshot starts after it). */
static void assert_schema_first(gh_test_stack_t *s) {
    char *log = gh_read_file(gh_test_stack_connector_log(s), NULL);
    cr_assert_not_null(log);
    const char *pub = strstr(log, "published to " SCHEMAS_TOPIC);
    const char *snap = strstr(log, "snapshot of public.zz_syrk");
    cr_assert_not_null(pub, "the connector did not publish its schema:\n%s",
                       log);
    cr_assert(snap && pub < snap,
              "the snapshot started before the schema was published:\n%s", log);
    free(log);
}

/* ---- tests ---------------------------------------------------------------
 */

Test(schematopic, standard_tools_decode_the_department_topic) {
    gh_test_stack_t *s = new_stack();
    require_std_tools(s);
    start_connector(s, NULL);
    long held = write_history(s);
    assert_schema_first(s);
    assert_schema_record(s);

    json_t *tail = gh_test_tail_all(s, TOPIC, TAIL_IDLE_MS);
    json_t *std = std_consume(s, TOPIC, NULL);
    cr_assert_eq((long)json_array_size(std), held,
                 "std_consume printed %zu messages, the topic holds %ld",
                 json_array_size(std), held);
    size_t n = assert_agree(tail, std);
    rd_kafka_t *rk = gh_test_raw_consumer(s->bootstrap);
    long markers = gh_test_partitions(rk, TOPIC);
    rd_kafka_destroy(rk);
    /* tail_all leaves the markers out; everything else was compared. */
    cr_assert_eq((long)n, held - markers, "compared %zu of %ld", n,
                 held - markers);
    /* Spot checks that do not depend on gridhub's rendering. */
    size_t i;
    json_t *l;
    int dates = 0, nulls = 0;
    json_array_foreach(std, i, l) {
        const json_t *after =
            json_object_get(json_object_get(l, "value"), "after");
        const char *k = json_string_value(json_object_get(l, "key"));
        if (!after || !k) continue;
        if (!strcmp(k, "S0003")) {
            cr_assert_str_eq(json_string_value(json_object_get(after, "name")),
                             "张 3");
            cr_assert_str_eq(
                json_string_value(json_object_get(after, "birth_date")),
                "1941-11-23");
            dates++;
        }
        if (!strcmp(k, "S0005"))
            nulls += json_is_null(json_object_get(after, "birth_date"));
    }
    cr_assert_eq(dates, 1);
    cr_assert_eq(nulls, 1);
    json_decref(tail);
    json_decref(std);
    gh_test_stop_clean(s);
}

Test(schematopic, tail_without_schema_files_reads_the_topic_again) {
    gh_test_stack_t *s = new_stack();
    /* No .avsc at all: the envelope can only come from the schemas topic,
     * which is still empty when tail starts (it reads it at once). */
    char *empty = gh_xasprintf("%s/no-schemas", s->dir);
    cr_assert_eq(mkdir(empty, 0700), 0, "mkdir %s", empty);
    char log[4096];
    snprintf(log, sizeof(log), "%s/tail-early.log", s->dir);
    const char *const argv[] = {GH_BINARY,
                                "tail",
                                "--bootstrap-servers",
                                s->bootstrap,
                                "--topic",
                                TOPIC,
                                "--idle-timeout-ms",
                                "20000",
                                "--schemas-dir",
                                empty,
                                "--log-level",
                                "info",
                                NULL};
    gh_test_proc_t *t = gh_test_spawn(argv, log);
    /* Its first read found the topic the broker made, still empty. */
    char *first = gh_test_wait_for_text(log, "0 schemas from", 30000);
    cr_assert_not_null(first, "tail did not read the schemas topic (%s)", log);
    free(first);
    start_connector(s, NULL);
    long held = write_history(s);
    int rc = gh_test_proc_wait(t, 90000);
    gh_test_proc_free(t);
    cr_assert_eq(rc, 0, "tail exited %d (%s)", rc, log);
    json_t *lines = json_lines(log);
    cr_assert_eq((long)json_array_size(lines), held,
                 "tail printed %zu messages, the topic holds %ld (%s)",
                 json_array_size(lines), held, log);
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l) {
        cr_assert_null(json_object_get(l, "error"),
                       "tail without schema files could not decode: %s",
                       gh_test_json_dump(l));
        cr_assert_not_null(json_object_get(l, "value"), "%s",
                           gh_test_json_dump(l));
    }
    char *read = gh_test_wait_for_text(log, "1 schemas from " SCHEMAS_TOPIC, 0);
    cr_assert_not_null(read, "tail should say it read the schema (%s)", log);
    free(read);
    /* And the same messages as a tail with the schema files. */
    json_t *with_files = gh_test_tail_all(s, TOPIC, TAIL_IDLE_MS);
    json_array_foreach(with_files, i, l) {
        const json_t *m = NULL;
        size_t k;
        json_t *o;
        json_array_foreach(lines, k, o) {
            if (json_equal(json_object_get(o, "partition"),
                           json_object_get(l, "partition")) &&
                json_equal(json_object_get(o, "offset"),
                           json_object_get(l, "offset")))
                m = o;
        }
        cr_assert_not_null(m, "%s", gh_test_json_dump(l));
        cr_assert(json_equal(json_object_get(m, "value"),
                             json_object_get(l, "value")),
                  "%s vs %s", gh_test_json_dump(m), gh_test_json_dump(l));
    }
    json_decref(with_files);
    json_decref(lines);
    free(empty);
    gh_test_stop_clean(s);
}

Test(schematopic, confluent_framing_decodes_with_a_registry) {
    gh_test_stack_t *s = new_stack();
    require_std_tools(s);
    char log[4096];
    snprintf(log, sizeof(log), "%s/registry.log", s->dir);
    const char *const rargv[] = {
        "python3",    GH_SOURCE_DIR "/tests/tools/fake_schema_registry.py",
        "--no-stdin", "--lifetime",
        "300",        NULL};
    g_registry = gh_test_spawn(rargv, log);
    char *port = gh_test_wait_for_line(log, "PORT ", 15000);
    cr_assert_not_null(port, "the fake registry did not start");
    char url[96], prop[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%s", port);
    snprintf(prop, sizeof(prop), "schema.registry.url=%s", url);
    free(port);
    start_connector(s, prop);
    long held = write_history(s);
    /* The schema is on the schemas topic in this framing too. */
    assert_schema_record(s);
    const char *const x[] = {"--schema-registry-url", url, NULL};
    char tlog[4096];
    json_t *tail = tail_with(s, TOPIC, x, TAIL_IDLE_MS, tlog, sizeof tlog);
    cr_assert_geq((long)json_array_size(tail), held, "%s", tlog);
    json_t *std = std_consume(s, TOPIC, url);
    cr_assert_eq((long)json_array_size(std), held);
    size_t n = assert_agree(tail, std);
    cr_assert_eq((long)n, held);
    /* Confluent-framed indeed: without the registry, the schemas topic
     * cannot help (the messages carry registry ids, not fingerprints). */
    int rc;
    char *out;
    json_t *blind = std_run(s, TOPIC, NULL, &rc, &out);
    cr_assert_eq(rc, 1, "std_consume without --registry exited %d:\n%s", rc,
                 out);
    cr_assert(strstr(out, "no --registry given"), "%s", out);
    free(out);
    json_decref(blind);
    json_decref(tail);
    json_decref(std);
    gh_test_stop_clean(s);
}

Test(schematopic, no_event_before_its_schema_when_the_broker_is_down) {
    gh_test_stack_t *s = new_stack();
    insert_rows(s->dept, 1, 5);
    char blog[4096];
    snprintf(blog, sizeof(blog), "%s/broker.log", s->dir);
    pid_t broker = gh_test_proc_pid(s->broker);
    cr_assert_eq(kill(broker, SIGUSR1), 0);
    char *l = gh_test_wait_for_text(blog, "outage drill: brokers down", 10000);
    cr_assert_not_null(l, "the broker did not go down");
    free(l);

    /* First run: it cannot reach the cluster, says so and retries; a stop
     * ends it at once, cleanly (nothing of PostgreSQL's was taken). */
    start_connector(s, NULL);
    const char *clog = gh_test_stack_connector_log(s);
    l = gh_test_wait_for_text(clog, "retrying in", 40000);
    cr_assert_not_null(l, "the connector should say it retries; log:\n%s",
                       gh_test_file_tail(clog, 3000));
    free(l);
    cr_assert_null(gh_test_wait_for_text(clog, "snapshot of", 0),
                   "an event before the schema was published");
    int64_t t0 = gh_now_ms();
    int rc = gh_test_stop(s->connector, 10000);
    cr_assert_eq(rc, 0, "stopping while waiting for the broker: exit %d", rc);
    cr_assert_lt(gh_now_ms() - t0, 5000, "the stop took %lld ms",
                 (long long)(gh_now_ms() - t0));

    /* Second run: waits, and once the broker is back the schema goes
     * first, then the snapshot. */
    start_connector(s, NULL);
    clog = gh_test_stack_connector_log(s);
    l = gh_test_wait_for_text(clog, "retrying in", 40000);
    cr_assert_not_null(l);
    free(l);
    cr_assert_eq(kill(broker, SIGUSR2), 0);
    gh_test_wait_streaming(s);
    assert_schema_first(s);
    assert_schema_record(s);
    rd_kafka_t *rk = gh_test_raw_consumer(s->bootstrap);
    int parts = gh_test_partitions(rk, TOPIC);
    rd_kafka_destroy(rk);
    cr_assert(
        gh_test_wait_topics_size(s->bootstrap, TOPIC, 5 + parts, WAIT_MS));
    gh_test_stop_clean(s);
}
