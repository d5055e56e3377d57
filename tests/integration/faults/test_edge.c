/*
 * Text at the edge (connectors/runtime/capture/encoding.h): department
 * databases in legacy encodings, raw bytes of a SQL_ASCII database with and
 * without a declared source.encoding, and dead letters of rows holding bytes
 * that are not UTF-8 (which used to crash the connector). Every valid row
 * around a bad one is delivered; the connector stays up.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "events.h"
#include "gridhub/util.h"
#include "harness.h"
#include "pipeline.h"
#include "stack.h"
#include "topics.h"

#define DDL GH_TEST_DATA_DIR "/dept/schema.sql"
#define MAPPING GH_TEST_DATA_DIR "/dept/mapping.properties"
#define PERSON_TOPIC "gridhub.test.person"
#define DLQ_TOPIC "gridhub.dlq"

static gh_test_stack_t *g_stack;

static void edge_fini(void) {
    gh_test_stack_free(g_stack);
    g_stack = NULL;
}

TestSuite(edge, .timeout = 180, .fini = edge_fini);

static void start(gh_test_stack_t *s, const char *encoding) {
    static int n;
    char slot[64], enc[64];
    snprintf(slot, sizeof(slot), "slot.name=gh_test_edge_%d_%d", (int)getpid(),
             ++n);
    snprintf(enc, sizeof(enc), "source.encoding=%s", encoding ? encoding : "");
    const char *const extra[] = {slot, enc, NULL};
    gh_test_stack_start_connector(s, extra);
    char *l = gh_test_wait_for_text(gh_test_stack_connector_log(s),
                                    "connector: streaming ", 60000);
    if (!l) {
        char *tail = gh_test_file_tail(gh_test_stack_connector_log(s), 3000);
        cr_assert_fail("connector did not stream; log ends:\n%s", tail);
    }
    free(l);
}

static void wait_topic(gh_test_stack_t *s, const char *topic, long n) {
    if (!gh_test_wait_topics_size(s->bootstrap, topic, n, 30000)) {
        char *tail = gh_test_file_tail(gh_test_stack_connector_log(s), 3000);
        cr_assert_fail("%s holds %ld messages, not %ld, after 30 s; the "
                       "connector's log ends:\n%s",
                       topic, gh_test_topics_size(s->bootstrap, topic), n,
                       tail);
    }
}

/* The person events by key: key -> after.name. */
static json_t *names(gh_test_stack_t *s) {
    json_t *lines = gh_test_tail_all(s, PERSON_TOPIC, 5000);
    json_t *out = json_object();
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l) {
        cr_assert_null(json_object_get(l, "error"), "undecodable: %s",
                       gh_test_json_dump(l));
        const json_t *after = json_object_get(gh_test_ev_value(l), "after");
        json_object_set(out, gh_test_ev_key(l), json_object_get(after, "name"));
    }
    json_decref(lines);
    return out;
}

/* The dead letter whose row has rkbh `key`: its parsed body; the reason
 * header in *reason (borrowed from dl). */
static json_t *dead_letter_of(const json_t *dl, const char *key,
                              const char **reason) {
    size_t i;
    json_t *l;
    json_array_foreach(dl, i, l) {
        const char *text = json_string_value(json_object_get(l, "value"));
        cr_assert_not_null(text, "dead letter without a UTF-8 body: %s",
                           gh_test_json_dump(l));
        json_error_t je;
        json_t *doc = json_loads(text, 0, &je);
        cr_assert_not_null(doc, "dead letter body is not JSON (%s): %s",
                           je.text, text);
        const char *rk = json_string_value(
            json_object_get(json_object_get(doc, "row"), "rkbh"));
        if (rk && !strcmp(rk, key)) {
            *reason = json_string_value(json_object_get(
                json_object_get(l, "headers"), "gh.error.reason"));
            return doc;
        }
        json_decref(doc);
    }
    cr_assert_fail("no dead letter for %s: %s", key, gh_test_json_dump(dl));
    return NULL;
}

/* An EUC_CN database (as older government systems have): the server
 * converts to UTF-8 for the snapshot and the stream because every
 * connection asks for it. Before, subscribers got the raw EUC_CN bytes. */
Test(edge, euc_cn_database_arrives_as_utf8) {
    gh_test_stack_t *s = g_stack =
        gh_test_stack_new_encoded(DDL, MAPPING, "EUC_CN");
    gh_test_exec(s->dept, "INSERT INTO zz_syrk (rkbh, xm, xb) VALUES "
                          "('A1', '张伟', '1')");
    start(s, NULL);
    gh_test_exec(s->dept, "INSERT INTO zz_syrk (rkbh, xm, xb, jzdz) VALUES "
                          "('A2', '刘慧佳', '2', '乐坪街道童家社区')");
    wait_topic(s, PERSON_TOPIC, 2);
    json_t *n = names(s);
    cr_assert_str_eq(json_string_value(json_object_get(n, "A1")), "张伟");
    cr_assert_str_eq(json_string_value(json_object_get(n, "A2")), "刘慧佳");
    json_decref(n);
    cr_assert_eq(gh_test_topics_size(s->bootstrap, DLQ_TOPIC), 0);
    /* The connector's state is its own: a private directory and file. */
    char path[4096];
    struct stat st;
    snprintf(path, sizeof(path), "%s/state", s->dir);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700, "state.dir mode %o",
                 st.st_mode & 0777);
    snprintf(path, sizeof(path), "%s/state/test.state", s->dir);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600, "state file mode %o",
                 st.st_mode & 0777);
}

/* A SQL_ASCII database holding GBK bytes, no source.encoding: those rows
 * are dead letters naming the column, with the exact bytes in hex in a
 * JSON body — also when the row has a mapping error too, the combination that
 * used to crash the connector — and only mapped columns are copied. */
Test(edge, sql_ascii_bytes_are_checked) {
    gh_test_stack_t *s = g_stack =
        gh_test_stack_new_encoded(DDL, MAPPING, "SQL_ASCII");
    gh_test_exec(s->dept, "ALTER TABLE zz_syrk ADD COLUMN secret text");
    gh_test_exec(s->dept, "INSERT INTO zz_syrk (rkbh, xm, xb, secret) VALUES "
                          "('G0', E'\\xD5\\xC5\\xCE\\xB0', '1', 'not ours'), "
                          "('OK0', 'Zhang Wei', '1', 'not ours')");
    start(s, NULL);
    gh_test_exec(s->dept,
                 "INSERT INTO zz_syrk (rkbh, xm, xb, secret) VALUES "
                 "('G1', E'\\xC1\\xF5\\xBB\\xDB\\xBC\\xD1', '7', 'not ours')");
    gh_test_exec(s->dept, "INSERT INTO zz_syrk (rkbh, xm, xb) VALUES "
                          "('OK1', 'Liu Huijia', '2')");
    wait_topic(s, DLQ_TOPIC, 2);
    wait_topic(s, PERSON_TOPIC, 2);
    cr_assert(gh_test_proc_alive(s->connector), "the connector died");

    json_t *n = names(s);
    cr_assert_eq(json_object_size(n), 2, "%s", gh_test_json_dump(n));
    cr_assert_str_eq(json_string_value(json_object_get(n, "OK0")), "Zhang Wei");
    cr_assert_str_eq(json_string_value(json_object_get(n, "OK1")),
                     "Liu Huijia");
    json_decref(n);

    json_t *dl = gh_test_read_raw(s->bootstrap, DLQ_TOPIC);
    cr_assert_eq(json_array_size(dl), 2, "%s", gh_test_json_dump(dl));
    const char *keys[2] = {"G0", "G1"};
    const char *xm[2] = {"D5C5CEB0", "C1F5BBDBBCD1"};
    for (int i = 0; i < 2; i++) {
        const char *reason = NULL;
        json_t *doc = dead_letter_of(dl, keys[i], &reason);
        cr_assert(reason && strstr(reason, "column xm") &&
                      strstr(reason, "source.encoding"),
                  "reason: %s", reason ? reason : "(none)");
        const json_t *row = json_object_get(doc, "row");
        cr_assert_str_eq(json_string_value(json_object_get(
                             json_object_get(row, "xm"), "bytes_hex")),
                         xm[i], "%s", gh_test_json_dump(doc));
        cr_assert_null(json_object_get(row, "secret"),
                       "an unmapped column was copied: %s",
                       gh_test_json_dump(doc));
        json_decref(doc);
    }
    json_decref(dl);
}

/* The same database with source.encoding=GBK: names arrive as UTF-8, in
 * the snapshot and the stream; bytes that are not GBK are dead letters. */
Test(edge, sql_ascii_declared_gbk) {
    gh_test_stack_t *s = g_stack =
        gh_test_stack_new_encoded(DDL, MAPPING, "SQL_ASCII");
    gh_test_exec(s->dept, "INSERT INTO zz_syrk (rkbh, xm, xb, jzdz) VALUES "
                          "('G0', E'\\xD5\\xC5\\xCE\\xB0', '1', "
                          "E'\\xC2\\xA6\\xB5\\xD7')");
    start(s, "GBK");
    gh_test_exec(s->dept, "INSERT INTO zz_syrk (rkbh, xm, xb) VALUES "
                          "('G1', E'\\xC1\\xF5\\xBB\\xDB\\xBC\\xD1', '2'), "
                          "('BAD', E'\\xFF\\xFF', '1')");
    wait_topic(s, PERSON_TOPIC, 2);
    wait_topic(s, DLQ_TOPIC, 1);
    json_t *n = names(s);
    cr_assert_eq(json_object_size(n), 2, "%s", gh_test_json_dump(n));
    cr_assert_str_eq(json_string_value(json_object_get(n, "G0")), "张伟");
    cr_assert_str_eq(json_string_value(json_object_get(n, "G1")), "刘慧佳");
    json_decref(n);
    json_t *dl = gh_test_read_raw(s->bootstrap, DLQ_TOPIC);
    const char *reason = NULL;
    json_t *doc = dead_letter_of(dl, "BAD", &reason);
    cr_assert(reason && strstr(reason, "column xm") && strstr(reason, "GBK"),
              "reason: %s", reason ? reason : "(none)");
    json_decref(doc);
    json_decref(dl);
    cr_assert(gh_test_proc_alive(s->connector), "the connector died");
}

/* A mapped column dropped under the connector: its rows become dead
 * letters naming the column while the connector streams on (it used to
 * exit and leave the slot holding WAL); once the column is back, rows
 * flow again. */
Test(edge, dropped_mapped_column) {
    gh_test_stack_t *s = g_stack = gh_test_stack_new(DDL, MAPPING);
    gh_test_exec(s->dept, "INSERT INTO zz_syrk (rkbh, xm, xb) VALUES "
                          "('D0', 'before', '1')");
    start(s, NULL);
    gh_test_exec(s->dept, "ALTER TABLE zz_syrk DROP COLUMN jzdz");
    gh_test_exec(s->dept, "INSERT INTO zz_syrk (rkbh, xm, xb) VALUES "
                          "('D1', 'during', '2')");
    wait_topic(s, DLQ_TOPIC, 1);
    cr_assert(gh_test_proc_alive(s->connector), "the connector exited");
    json_t *dl = gh_test_read_raw(s->bootstrap, DLQ_TOPIC);
    const char *reason = NULL;
    json_t *doc = dead_letter_of(dl, "D1", &reason);
    cr_assert(reason && strstr(reason, "jzdz") && strstr(reason, "dropped"),
              "reason: %s", reason ? reason : "(none)");
    json_decref(doc);
    json_decref(dl);
    gh_test_exec(s->dept, "ALTER TABLE zz_syrk ADD COLUMN jzdz varchar(200)");
    gh_test_exec(s->dept, "INSERT INTO zz_syrk (rkbh, xm, xb, jzdz) VALUES "
                          "('D2', 'after', '1', '乐坪街道')");
    wait_topic(s, PERSON_TOPIC, 2);
    json_t *n = names(s);
    cr_assert_str_eq(json_string_value(json_object_get(n, "D0")), "before");
    cr_assert_str_eq(json_string_value(json_object_get(n, "D2")), "after");
    cr_assert_null(json_object_get(n, "D1"), "%s", gh_test_json_dump(n));
    json_decref(n);
}

/* A row whose event is larger than Kafka accepts would fail for good and
 * stop the connector at every restart: it is set aside as a dead letter
 * (its big value cut from the body) and the rows after it flow. */
Test(edge, oversized_row_is_set_aside) {
    gh_test_stack_t *s = g_stack = gh_test_stack_new(DDL, MAPPING);
    static int n;
    char slot[64];
    snprintf(slot, sizeof(slot), "slot.name=gh_test_edge_big_%d_%d",
             (int)getpid(), ++n);
    const char *const extra[] = {slot, "kafka.message.max.bytes=100000", NULL};
    gh_test_stack_start_connector(s, extra);
    gh_test_wait_streaming(s);
    gh_test_exec(s->dept, "INSERT INTO zz_syrk (rkbh, xm, xb, bz) VALUES "
                          "('BIG', '大', '1', repeat('大', 60000))");
    gh_test_exec(s->dept, "INSERT INTO zz_syrk (rkbh, xm, xb) VALUES "
                          "('SMALL', '小', '2')");
    wait_topic(s, DLQ_TOPIC, 1);
    wait_topic(s, PERSON_TOPIC, 1);
    cr_assert(gh_test_proc_alive(s->connector), "the connector exited");
    json_t *n2 = names(s);
    cr_assert_str_eq(json_string_value(json_object_get(n2, "SMALL")), "小");
    cr_assert_null(json_object_get(n2, "BIG"));
    json_decref(n2);
    json_t *dl = gh_test_read_raw(s->bootstrap, DLQ_TOPIC);
    const char *reason = NULL;
    json_t *doc = dead_letter_of(dl, "BIG", &reason);
    cr_assert(reason && strstr(reason, "oversized"), "reason: %s",
              reason ? reason : "(none)");
    cr_assert_eq(json_integer_value(json_object_get(
                     json_object_get(json_object_get(doc, "row"), "bz"),
                     "truncated_from_bytes")),
                 180000, "%s", gh_test_json_dump(doc));
    json_decref(doc);
    json_decref(dl);
}
