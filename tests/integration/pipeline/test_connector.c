/*
 * End-to-end tests of `gridhub connector` against a real PostgreSQL and the
 * embedded broker: snapshot + stream, truncate, TOAST, dead letters, kill -9,
 * heartbeats, an unreachable database, and a clean restart.
 *
 * Each test builds a stack (tests/lib/stack.h) on the test department
 * (tests/data/dept: table public.zz_syrk mapped to canonical person,
 * department "test", so events go to gridhub.test.person).
 *
 * Synchronisation never sleeps: after the last write a test waits until the
 * slot's confirmed_flush_lsn passes an LSN taken inside that last
 * transaction (the connector confirms only what Kafka acknowledged), then
 * reads the topic with `gridhub tail`, retrying if tail returned fewer
 * messages than the topic's high watermarks say it holds.
 *
 * GH_TEST_SEED=<n> replays the random choices of kill9_connector_midstream.
 */
#include "events.h"
#include "topics.h"
#include "stack.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gridhub/util.h"

#define DEPT_DDL GH_TEST_DATA_DIR "/dept/schema.sql"
#define DEPT_MAPPING GH_TEST_DATA_DIR "/dept/mapping.properties"
#define PERSON_TOPIC "gridhub.test.person"
#define DLQ_TOPIC "gridhub.dlq"
#define HEARTBEAT_TOPIC "gridhub.heartbeat"
/* The connector's default slot name, gridhub_<department>. */
#define DEFAULT_SLOT "gridhub_test"
#define TAIL_IDLE_MS 6000
#define STREAMING_TIMEOUT_MS 30000
#define CONFIRM_TIMEOUT_MS 60000

/* The stack of the running test, freed by the suite's fini even when an
 * assertion ended the test early (so processes and slots do not leak into
 * the next test). */
static gh_test_stack_t *cur;

static void teardown(void) {
    gh_test_stack_t *s = cur;
    cur = NULL;
    gh_test_stack_free(s);
}

TestSuite(connector, .fini = teardown, .timeout = 120);

/* ---- small helpers --------------------------------------------------------
 */

static uint64_t lsn_parse(const char *text) {
    unsigned hi, lo;
    cr_assert(text && sscanf(text, "%X/%X", &hi, &lo) == 2, "not an LSN: %s",
              text ? text : "(null)");
    return (uint64_t)hi << 32 | lo;
}

/* Slots are cluster-wide, and ops/test.sh runs two integration tests at a
 * time: each stack gets a slot of its own, gh_test_conn_<pid>_<n> (passed as
 * slot.name), except snapshot_then_stream's, which keeps the default name
 * (DEFAULT_SLOT) so that the default stays covered; no other test uses that
 * name. */
static char slot[64];
static char slot_opt[96]; /* "slot.name=..." or "" for the default */

/* A test killed by its timeout (fini does not run then) leaves its
 * department database and slot behind, which would make the next connector
 * on DEFAULT_SLOT refuse to start. Drop such leftovers. */
static void drop_stale_default_slot(void) {
    PGconn *admin = gh_test_pg_connect("postgres");
    char *db = gh_test_scalar(
        admin, "SELECT database FROM "
               "pg_replication_slots WHERE slot_name = '" DEFAULT_SLOT
               "' AND database LIKE 'ghdept\\_%%'");
    PQfinish(admin);
    if (db) cr_log_warn("dropping %s left behind by an earlier test", db);
    gh_test_drop_db(db);
    free(db);
}

/* A stack whose connectors use slot `slot` (default_slot: DEFAULT_SLOT). */
static gh_test_stack_t *new_stack_slot(int default_slot) {
    static int n;
    cr_assert_null(cur, "previous stack not freed");
    if (default_slot) {
        drop_stale_default_slot();
        snprintf(slot, sizeof slot, "%s", DEFAULT_SLOT);
        slot_opt[0] = '\0';
    } else {
        snprintf(slot, sizeof slot, "gh_test_conn_%d_%d", (int)getpid(), ++n);
        snprintf(slot_opt, sizeof slot_opt, "slot.name=%s", slot);
    }
    cur = gh_test_stack_new(DEPT_DDL, DEPT_MAPPING);
    cr_log_info("stack directory %s, department database %s, slot %s", cur->dir,
                cur->dept_db, slot);
    return cur;
}

static gh_test_stack_t *new_stack(void) {
    return new_stack_slot(0);
}

/* Starts the connector on the stack's slot with the extra properties (NULL
 * or NULL-terminated). */
static void start_connector(gh_test_stack_t *s, const char *const *extra) {
    const char *props[8];
    int n = 0;
    if (slot_opt[0]) props[n++] = slot_opt;
    for (int i = 0; extra && extra[i]; i++) {
        cr_assert_lt(n, 7, "too many connector properties");
        props[n++] = extra[i];
    }
    props[n] = NULL;
    gh_test_stack_start_connector(s, props);
}

static char *connector_log_tail(gh_test_stack_t *s) {
    return gh_test_file_tail(gh_test_stack_connector_log(s), 3000);
}

/* Waits for the current connector run to start streaming; returns the
 * consistent point from its "created slot <slot> at <lsn>" line, or
 * 0 when this run reused an existing slot. */
static uint64_t wait_streaming(gh_test_stack_t *s) {
    const char *log = gh_test_stack_connector_log(s);
    char *line = gh_test_wait_for_text(log, "connector: streaming ",
                                       STREAMING_TIMEOUT_MS);
    if (!line) {
        char *tail = connector_log_tail(s);
        cr_assert_fail("connector did not start streaming within %d ms; %s "
                       "ends:\n%s",
                       STREAMING_TIMEOUT_MS, log, tail);
    }
    free(line);
    char needle[128];
    snprintf(needle, sizeof needle, "created slot %s at ", slot);
    char *created = gh_test_wait_for_text(log, needle, 0);
    uint64_t cp = 0;
    if (created) {
        cp = lsn_parse(strstr(created, " at ") + 4);
        free(created);
    }
    return cp;
}

/* Runs `sql` in one transaction and returns an LSN taken inside it after
 * the statements, so that confirmed_flush_lsn > it means the connector has
 * read this transaction's commit and Kafka acknowledged it. If xid_out is
 * given it receives the transaction's xid (as pgoutput reports it). */
static uint64_t exec_marked(PGconn *c, long long *xid_out, const char *sql) {
    gh_test_exec(c, "BEGIN");
    gh_test_exec(c, "%s", sql);
    char *lsn = gh_test_scalar(c, "SELECT pg_current_wal_insert_lsn()");
    if (xid_out)
        *xid_out = gh_test_count(c, "SELECT txid_current() %% 4294967296");
    gh_test_exec(c, "COMMIT");
    uint64_t v = lsn_parse(lsn);
    free(lsn);
    return v;
}

static uint64_t slot_confirmed(PGconn *c) {
    char *v = gh_test_scalar(c,
                             "SELECT confirmed_flush_lsn FROM "
                             "pg_replication_slots WHERE slot_name = '%s'",
                             slot);
    uint64_t l = v ? lsn_parse(v) : 0;
    free(v);
    return l;
}

typedef struct past_arg {
    PGconn *c;
    uint64_t lsn;
} past_arg_t;

static int confirmed_past(void *arg) {
    past_arg_t *a = arg;
    return slot_confirmed(a->c) > a->lsn;
}

/* Waits until the slot's confirmed position passes `lsn`. */
static void wait_confirmed_past(gh_test_stack_t *s, uint64_t lsn) {
    past_arg_t a = {s->dept, lsn};
    if (!gh_test_wait_until(confirmed_past, &a, CONFIRM_TIMEOUT_MS)) {
        uint64_t now = slot_confirmed(s->dept);
        char *tail = connector_log_tail(s);
        cr_assert_fail("slot %s confirmed_flush_lsn %X/%X did not pass "
                       "%X/%X within %d ms (connector not delivering?); "
                       "connector log ends:\n%s",
                       slot, (unsigned)(now >> 32), (unsigned)now,
                       (unsigned)(lsn >> 32), (unsigned)lsn, CONFIRM_TIMEOUT_MS,
                       tail);
    }
}

/* Inserts rows <prefix>0001.. numbered first..last with varied, mapped
 * values: names with spaces to trim and CJK characters, empty ID numbers
 * (nullif), every sex code, dates before 1970 and NULL dates. */
static const char *rows_sql(char *buf, size_t n, const char *prefix, int first,
                            int last) {
    snprintf(buf, n,
             "INSERT INTO zz_syrk (rkbh, xm, gmsfhm, xb, csrq, lxdh, jzdz, "
             "wgbm, bz) "
             "SELECT '%s' || lpad(i::text, 4, '0'), "
             "CASE WHEN i %% 3 = 0 THEN '  张' || i || '  ' "
             "ELSE 'Name ' || i END, "
             "CASE WHEN i %% 4 = 0 THEN '' "
             "ELSE '4301' || lpad(i::text, 14, '0') END, "
             "(ARRAY['1','2','0','9'])[1 + i %% 4], "
             "CASE WHEN i %% 5 = 0 THEN NULL "
             "ELSE date '1940-02-29' + i * 211 END, "
             "'1380000' || lpad(i::text, 4, '0'), '居住地址 ' || i, "
             "'G' || (i %% 7), 'remark ' || i "
             "FROM generate_series(%d, %d) i",
             prefix, first, last);
    return buf;
}

static void insert_rows(PGconn *c, const char *prefix, int first, int last) {
    char sql[2048];
    gh_test_exec(c, "%s", rows_sql(sql, sizeof sql, prefix, first, last));
}

/* What the connector must make of each row of zz_syrk under
 * tests/data/dept/mapping.properties, as the JSON `gridhub tail` prints:
 * an object source_key -> canonical person. */
static json_t *expected_rows(PGconn *c) {
    PGresult *r = PQexec(
        c, "SELECT btrim(rkbh), json_build_object("
           " 'source_key', btrim(rkbh),"
           " 'id_number', nullif(btrim(gmsfhm), ''),"
           " 'name', btrim(xm),"
           " 'sex', CASE btrim(xb) WHEN '1' THEN 'MALE' WHEN '2' THEN 'FEMALE'"
           "        WHEN '0' THEN 'UNKNOWN' WHEN '9' THEN 'UNKNOWN' END,"
           " 'birth_date', to_char(csrq, 'YYYY-MM-DD'),"
           " 'phone', nullif(btrim(lxdh), ''),"
           " 'address', jzdz,"
           " 'grid_code', wgbm,"
           " 'household_key', NULL,"
           " 'remark', bz,"
           " 'updated_at', to_char(gxsj AT TIME ZONE 'UTC',"
           "                       'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'))::text "
           "FROM zz_syrk");
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "expected_rows: %s",
                 PQerrorMessage(c));
    json_t *out = json_object();
    for (int i = 0; i < PQntuples(r); i++) {
        json_error_t je;
        json_t *row = json_loads(PQgetvalue(r, i, 1), 0, &je);
        cr_assert_not_null(row, "expected_rows: %s", je.text);
        json_object_set_new(out, PQgetvalue(r, i, 0), row);
    }
    PQclear(r);
    return out;
}

/* Fields the test mapping does not map must be null: a compatible schema
 * change adds nullable fields, which must not break the comparison. */
static int equal_but_unmapped_nulls(const json_t *got, const json_t *want) {
    if (!json_is_object(got) || !json_is_object(want)) return 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)got, k, v) {
        json_t *w = json_object_get(want, k);
        if (w ? !json_equal(v, w) : !json_is_null(v)) return 0;
    }
    json_object_foreach((json_t *)want, k,
                        v) if (!json_object_get(got, k)) return 0;
    return 1;
}

/* Asserts that `got` (an after row from the topic) equals `want`. */
static void assert_row(const json_t *got, const json_t *want, const char *what,
                       const char *key) {
    if (equal_but_unmapped_nulls(got, want)) return;
    char *g = gh_test_json_dump(got), *w = gh_test_json_dump(want);
    cr_assert_fail("%s of key %s differs from the database:\n  topic: %s\n"
                   "  want:  %s",
                   what, key, g, w);
}

/* ---- raw Kafka access (dead letters and heartbeats are JSON, not Avro;
 * watermarks tell how much a topic holds) ------------------------------- */

static json_t *raw_read(const char *bootstrap, const char *topic) {
    return gh_test_read_raw(bootstrap, topic);
}

/* `gridhub tail` of `topic`, all of it (gh_test_tail_all); asserts that
 * every line decoded. */
static json_t *tail_all(gh_test_stack_t *s, const char *topic) {
    json_t *lines = gh_test_tail_all(s, topic, TAIL_IDLE_MS);
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l) {
        cr_assert_null(json_object_get(l, "error"),
                       "undecodable message on %s: %s", topic,
                       gh_test_json_dump(l));
        cr_assert_not_null(gh_test_ev_key(l), "message without key on %s: %s",
                           topic, gh_test_json_dump(l));
    }
    return lines;
}

/* Events (not tombstones) of `lines` with op `op`. Borrowed refs. */
static json_t *events_with_op(const json_t *lines, const char *op) {
    json_t *out = json_array();
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l) {
        if (!gh_test_ev_is_tombstone(l) && gh_test_ev_op(l) &&
            !strcmp(gh_test_ev_op(l), op))
            json_array_append(out, l);
    }
    return out;
}

/* Asserts the source block names the test department's table. */
static void assert_source(gh_test_stack_t *s, const json_t *l) {
    cr_assert_str_eq(gh_test_ev_source_str(l, "department"), "test", "%s",
                     gh_test_json_dump(l));
    cr_assert_str_eq(gh_test_ev_source_str(l, "connector"), "test", "%s",
                     gh_test_json_dump(l));
    cr_assert_str_eq(gh_test_ev_source_str(l, "database"), s->dept_db, "%s",
                     gh_test_json_dump(l));
    cr_assert_str_eq(gh_test_ev_source_str(l, "schema"), "public", "%s",
                     gh_test_json_dump(l));
    cr_assert_str_eq(gh_test_ev_source_str(l, "table"), "zz_syrk", "%s",
                     gh_test_json_dump(l));
}

/* Asserts a streamed (non-snapshot) event's position fields. */
static void assert_streamed(const json_t *l) {
    cr_assert_str_eq(gh_test_ev_source_str(l, "snapshot"), "false", "%s",
                     gh_test_json_dump(l));
    cr_assert(json_is_integer(json_object_get(gh_test_ev_source(l), "txid")),
              "streamed event without txid: %s", gh_test_json_dump(l));
    cr_assert(
        json_is_string(json_object_get(gh_test_ev_source(l), "commit_time")),
        "streamed event without commit_time: %s", gh_test_json_dump(l));
    cr_assert_geq(gh_test_ev_source_int(l, "seq"), 1, "%s",
                  gh_test_json_dump(l));
}

/* Each delete must be immediately followed, in its partition, by a
 * tombstone with the same key. */
static void assert_tombstones_follow_deletes(const json_t *lines) {
    size_t n = json_array_size(lines);
    for (size_t i = 0; i < n; i++) {
        const json_t *d = json_array_get(lines, i);
        if (gh_test_ev_is_tombstone(d) || strcmp(gh_test_ev_op(d), "d") != 0)
            continue;
        json_int_t p = json_integer_value(json_object_get(d, "partition"));
        json_int_t off = json_integer_value(json_object_get(d, "offset"));
        const json_t *t = NULL;
        for (size_t k = 0; k < n && !t; k++) {
            const json_t *c = json_array_get(lines, k);
            if (json_integer_value(json_object_get(c, "partition")) == p &&
                json_integer_value(json_object_get(c, "offset")) == off + 1)
                t = c;
        }
        cr_assert_not_null(t, "delete without a following message: %s",
                           gh_test_json_dump(d));
        cr_assert(gh_test_ev_is_tombstone(t),
                  "delete not followed by a tombstone: %s "
                  "then %s",
                  gh_test_json_dump(d), gh_test_json_dump(t));
        cr_assert_str_eq(gh_test_ev_key(t), gh_test_ev_key(d), "tombstone key");
    }
}

/* Per key, the events (tombstones skipped) must come in commit order:
 * (source.lsn, source.seq) strictly increasing. */
static void assert_per_key_order(const json_t *lines) {
    json_t *last = json_object(); /* key -> [lsn, seq] */
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l) {
        if (gh_test_ev_is_tombstone(l) || !strcmp(gh_test_ev_op(l), "t"))
            continue;
        json_int_t lsn = gh_test_ev_source_int(l, "lsn"),
                   seq = gh_test_ev_source_int(l, "seq");
        const json_t *prev = json_object_get(last, gh_test_ev_key(l));
        if (prev) {
            json_int_t pl = json_integer_value(json_array_get(prev, 0));
            json_int_t ps = json_integer_value(json_array_get(prev, 1));
            cr_assert(
                lsn > pl || (lsn == pl && seq > ps),
                "key %s: event at (lsn %" JSON_INTEGER_FORMAT
                ", seq %" JSON_INTEGER_FORMAT
                ") after (lsn %" JSON_INTEGER_FORMAT
                ", seq %" JSON_INTEGER_FORMAT "): not in commit order: %s",
                gh_test_ev_key(l), lsn, seq, pl, ps, gh_test_json_dump(l));
        }
        json_object_set_new(last, gh_test_ev_key(l),
                            json_pack("[II]", lsn, seq));
    }
    json_decref(last);
}

/* The folded topic (key -> last value) must hold exactly the table's rows,
 * each equal to its mapping. */
static void assert_fold_equals_table(gh_test_stack_t *s, const json_t *lines) {
    json_t *fold = gh_test_fold(lines);
    json_t *want = expected_rows(s->dept);
    const char *k;
    json_t *v;
    json_object_foreach(want, k, v) {
        const json_t *got = json_object_get(fold, k);
        cr_assert_not_null(got,
                           "row %s is in the table but not in the "
                           "folded topic",
                           k);
        cr_assert_str_neq(json_string_value(json_object_get(got, "op")), "d",
                          "row %s: last event is a delete", k);
        assert_row(json_object_get(got, "after"), v, "folded row", k);
    }
    json_object_foreach(fold, k, v) {
        cr_assert_not_null(json_object_get(want, k),
                           "key %s is in the folded topic (%s) but not in "
                           "the table",
                           k, gh_test_json_dump(v));
    }
    cr_assert_eq(json_object_size(fold), json_object_size(want));
    json_decref(fold);
    json_decref(want);
}

/* ---- 1. snapshot, then stream -------------------------------------------- */

Test(connector, snapshot_then_stream) {
    gh_test_stack_t *s = new_stack_slot(1);
    insert_rows(s->dept, "K", 1, 50);
    json_t *at_snapshot = expected_rows(s->dept);
    start_connector(s, NULL);
    uint64_t cp = wait_streaming(s);
    cr_assert_neq(cp, 0, "first run did not create the slot");

    /* 10 inserts in one transaction (seq 1..10), then one transaction per
     * update and per delete, touching snapshot rows and streamed rows. */
    char sql[2048];
    long long ins_xid;
    exec_marked(s->dept, &ins_xid, rows_sql(sql, sizeof sql, "K", 51, 60));
    json_t *after_insert = expected_rows(s->dept);
    static const char *const updates[][2] = {
        {"K0001", "xb = '2', lxdh = ' 13999990001 ', xm = '李四'"},
        {"K0010", "csrq = date '2000-02-29', jzdz = NULL"},
        {"K0020", "gmsfhm = '  ', wgbm = 'G99'"},
        {"K0052", "xb = '9', bz = 'changed'"},
        {"K0053", "lxdh = '', gxsj = timestamptz '1969-12-31 23:59:59.5+00'"},
    };
    json_t *after_update = json_object();
    for (size_t i = 0; i < 5; i++) {
        gh_test_exec(s->dept, "UPDATE zz_syrk SET %s WHERE rkbh = '%s'",
                     updates[i][1], updates[i][0]);
        json_t *now = expected_rows(s->dept);
        json_object_set(after_update, updates[i][0],
                        json_object_get(now, updates[i][0]));
        json_decref(now);
    }
    static const char *const deleted[] = {"K0030", "K0055", "K0001"};
    uint64_t mark = 0;
    for (size_t i = 0; i < 3; i++) {
        snprintf(sql, sizeof sql, "DELETE FROM zz_syrk WHERE rkbh = '%s'",
                 deleted[i]);
        mark = exec_marked(s->dept, NULL, sql);
    }
    wait_confirmed_past(s, mark);

    json_t *lines = tail_all(s, PERSON_TOPIC);
    json_t *r = events_with_op(lines, "r"), *c = events_with_op(lines, "c"),
           *u = events_with_op(lines, "u"), *d = events_with_op(lines, "d");
    size_t tombs = 0, i;
    json_t *l;
    json_array_foreach(lines, i, l) tombs += gh_test_ev_is_tombstone(l) ? 1 : 0;
    cr_assert_eq(json_array_size(r), 50, "r events: %zu", json_array_size(r));
    cr_assert_eq(json_array_size(c), 10, "c events: %zu", json_array_size(c));
    cr_assert_eq(json_array_size(u), 5, "u events: %zu", json_array_size(u));
    cr_assert_eq(json_array_size(d), 3, "d events: %zu", json_array_size(d));
    cr_assert_eq(tombs, 3, "tombstones: %zu", tombs);
    cr_assert_eq(json_array_size(lines), 71, "messages: %zu (unexpected ops?)",
                 json_array_size(lines));

    /* Snapshot: one r per initial row, all at the consistent point. */
    json_t *seen = json_object();
    json_array_foreach(r, i, l) {
        const char *k = gh_test_ev_key(l);
        cr_assert_null(json_object_get(seen, k), "two r events for %s", k);
        json_object_set_new(seen, k, json_true());
        cr_assert_not_null(json_object_get(at_snapshot, k),
                           "r event for unknown key %s", k);
        assert_source(s, l);
        cr_assert_str_eq(gh_test_ev_source_str(l, "snapshot"), "true", "%s",
                         gh_test_json_dump(l));
        cr_assert_eq(gh_test_ev_source_int(l, "seq"), 0, "%s",
                     gh_test_json_dump(l));
        cr_assert_eq((uint64_t)gh_test_ev_source_int(l, "lsn"), cp,
                     "r event lsn is not the slot's consistent point: %s",
                     gh_test_json_dump(l));
        cr_assert(json_is_null(json_object_get(gh_test_ev_source(l), "txid")),
                  "%s", gh_test_json_dump(l));
        cr_assert(
            json_is_null(json_object_get(gh_test_ev_source(l), "commit_time")),
            "%s", gh_test_json_dump(l));
        cr_assert(json_is_null(json_object_get(gh_test_ev_value(l), "before")),
                  "%s", gh_test_json_dump(l));
        assert_row(json_object_get(gh_test_ev_value(l), "after"),
                   json_object_get(at_snapshot, k), "r event", k);
    }
    json_decref(seen);
    /* Spot checks against literals, independent of expected_rows(). */
    const json_t *k4 = json_object_get(at_snapshot, "K0004");
    const json_t *k3 = json_object_get(at_snapshot, "K0003");
    cr_assert_str_eq(json_string_value(json_object_get(k4, "sex")), "MALE");
    cr_assert_str_eq(json_string_value(json_object_get(k4, "birth_date")),
                     "1942-06-22");
    cr_assert(json_is_null(json_object_get(k4, "id_number")));
    cr_assert_str_eq(json_string_value(json_object_get(k3, "name")), "张3");
    cr_assert_str_eq(json_string_value(json_object_get(k3, "sex")), "UNKNOWN");
    cr_assert_str_eq(json_string_value(json_object_get(k3, "birth_date")),
                     "1941-11-23");
    cr_assert_str_eq(json_string_value(json_object_get(k3, "id_number")),
                     "430100000000000003");

    /* The insert transaction: same txid and lsn, seq 1..10 once each. */
    int seqs[11] = {0};
    json_int_t ins_lsn = gh_test_ev_source_int(json_array_get(c, 0), "lsn");
    cr_assert_gt((uint64_t)ins_lsn, cp);
    json_array_foreach(c, i, l) {
        assert_source(s, l);
        assert_streamed(l);
        cr_assert_eq(gh_test_ev_source_int(l, "txid"), ins_xid, "%s",
                     gh_test_json_dump(l));
        cr_assert_eq(gh_test_ev_source_int(l, "lsn"), ins_lsn, "%s",
                     gh_test_json_dump(l));
        json_int_t q = gh_test_ev_source_int(l, "seq");
        cr_assert(q >= 1 && q <= 10 && !seqs[q],
                  "seq %" JSON_INTEGER_FORMAT " repeated or out of 1..10", q);
        seqs[q] = 1;
        cr_assert(json_is_null(json_object_get(gh_test_ev_value(l), "before")),
                  "%s", gh_test_json_dump(l));
        assert_row(json_object_get(gh_test_ev_value(l), "after"),
                   json_object_get(after_insert, gh_test_ev_key(l)), "c event",
                   gh_test_ev_key(l));
    }
    /* Updates: default replica identity, so no before; mapped after. */
    json_array_foreach(u, i, l) {
        assert_source(s, l);
        assert_streamed(l);
        cr_assert_neq(gh_test_ev_source_int(l, "txid"), ins_xid);
        const json_t *want = json_object_get(after_update, gh_test_ev_key(l));
        cr_assert_not_null(want, "u event for a key not updated: %s",
                           gh_test_json_dump(l));
        cr_assert(json_is_null(json_object_get(gh_test_ev_value(l), "before")),
                  "%s", gh_test_json_dump(l));
        assert_row(json_object_get(gh_test_ev_value(l), "after"), want,
                   "u event", gh_test_ev_key(l));
    }
    json_array_foreach(d, i, l) {
        assert_source(s, l);
        assert_streamed(l);
        int known = 0;
        for (size_t k = 0; k < 3; k++)
            known |= !strcmp(gh_test_ev_key(l), deleted[k]);
        cr_assert(known, "d event for a key not deleted: %s",
                  gh_test_json_dump(l));
        cr_assert(json_is_null(json_object_get(gh_test_ev_value(l), "after")),
                  "%s", gh_test_json_dump(l));
        const json_t *before = json_object_get(gh_test_ev_value(l), "before");
        if (!json_is_null(before))
            cr_assert_str_eq(
                json_string_value(json_object_get(before, "source_key")),
                gh_test_ev_key(l), "d event's before names another row: %s",
                gh_test_json_dump(l));
    }
    assert_tombstones_follow_deletes(lines);
    assert_per_key_order(lines);
    assert_fold_equals_table(s, lines);

    json_decref(r);
    json_decref(c);
    json_decref(u);
    json_decref(d);
    json_decref(lines);
    json_decref(at_snapshot);
    json_decref(after_insert);
    json_decref(after_update);
}

/* ---- 2. truncate ----------------------------------------------------------
 */

Test(connector, truncate) {
    gh_test_stack_t *s = new_stack();
    insert_rows(s->dept, "S", 1, 5);
    start_connector(s, NULL);
    wait_streaming(s);
    insert_rows(s->dept, "S", 6, 8);
    long long xid;
    exec_marked(s->dept, &xid, "TRUNCATE zz_syrk");
    char sql[2048];
    uint64_t mark =
        exec_marked(s->dept, NULL, rows_sql(sql, sizeof sql, "A", 1, 2));
    wait_confirmed_past(s, mark);

    json_t *lines = tail_all(s, PERSON_TOPIC);
    json_t *t = events_with_op(lines, "t");
    cr_assert_eq(json_array_size(t), 1, "t events: %zu", json_array_size(t));
    const json_t *te = json_array_get(t, 0);
    assert_source(s, te);
    assert_streamed(te);
    cr_assert_eq(gh_test_ev_source_int(te, "txid"), xid, "%s",
                 gh_test_json_dump(te));
    cr_assert(json_is_null(json_object_get(gh_test_ev_value(te), "before")),
              "%s", gh_test_json_dump(te));
    cr_assert(json_is_null(json_object_get(gh_test_ev_value(te), "after")),
              "%s", gh_test_json_dump(te));
    cr_assert(strstr(gh_test_ev_key(te), "zz_syrk") != NULL,
              "truncate key does not name the table: %s", gh_test_ev_key(te));

    /* Everything before the truncate precedes it in commit order, the rows
     * inserted after it follow it. */
    json_int_t tl = gh_test_ev_source_int(te, "lsn");
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l) {
        cr_assert(!gh_test_ev_is_tombstone(l), "tombstone without a delete: %s",
                  gh_test_json_dump(l));
        if (l == te) continue;
        const char *k = gh_test_ev_key(l);
        if (k[0] == 'S')
            cr_assert_lt(gh_test_ev_source_int(l, "lsn"), tl, "%s",
                         gh_test_json_dump(l));
        else
            cr_assert_gt(gh_test_ev_source_int(l, "lsn"), tl, "%s",
                         gh_test_json_dump(l));
    }
    cr_assert_eq(json_array_size(lines), 5 + 3 + 1 + 2, "messages: %zu",
                 json_array_size(lines));

    /* Applying the events in commit order, the truncate clearing the table,
     * gives the table: only what follows the truncate counts. */
    json_t *state = json_object();
    json_array_foreach(lines, i, l) {
        if (l == te || gh_test_ev_source_int(l, "lsn") < tl) continue;
        json_object_set(state, gh_test_ev_key(l),
                        json_object_get(gh_test_ev_value(l), "after"));
    }
    json_t *want = expected_rows(s->dept);
    cr_assert_eq(json_object_size(want), 2);
    const char *k;
    json_t *v;
    json_object_foreach(want, k, v) {
        assert_row(json_object_get(state, k), v, "row after truncate", k);
    }
    cr_assert_eq(json_object_size(state), 2, "rows after truncate: %s",
                 gh_test_json_dump(state));
    json_decref(want);
    json_decref(state);
    json_decref(t);
    json_decref(lines);
}

/* ---- 3. unchanged TOAST values ------------------------------------------- */

Test(connector, toast) {
    gh_test_stack_t *s = new_stack();
    start_connector(s, NULL);
    wait_streaming(s);
    /* 20480 characters of md5 hex: too random for pglz, so stored out of
     * line. */
    gh_test_exec(s->dept, "INSERT INTO zz_syrk (rkbh, xm, xb, lxdh, bz) "
                          "SELECT 'T1', 'Toast', '1', '111', "
                          "string_agg(md5(random()::text), '') "
                          "FROM generate_series(1, 640)");
    char *toast = gh_test_scalar(s->dept, "SELECT reltoastrelid::regclass "
                                          "FROM pg_class "
                                          "WHERE oid = 'zz_syrk'::regclass");
    cr_assert_gt(gh_test_count(s->dept, "SELECT count(*) FROM %s", toast), 0,
                 "precondition: bz should be TOASTed out of line");
    free(toast);
    char *bz = gh_test_scalar(s->dept, "SELECT bz FROM zz_syrk");
    cr_assert_eq(strlen(bz), 20480);
    uint64_t mark = exec_marked(
        s->dept, NULL, "UPDATE zz_syrk SET lxdh = '222' WHERE rkbh = 'T1'");
    wait_confirmed_past(s, mark);

    json_t *lines = tail_all(s, PERSON_TOPIC);
    if (json_array_size(lines) < 2) {
        json_t *dl = raw_read(s->bootstrap, DLQ_TOPIC);
        cr_assert_fail("the UPDATE that left the TOASTed bz alone produced no "
                       "u event (%zu message(s) on " PERSON_TOPIC
                       "); dead letters: %s",
                       json_array_size(lines), gh_test_json_dump(dl));
    }
    cr_assert_eq(json_array_size(lines), 2, "messages: %s",
                 gh_test_json_dump(lines));
    const json_t *c = json_array_get(lines, 0), *u = json_array_get(lines, 1);
    cr_assert_str_eq(gh_test_ev_op(c), "c", "%s", gh_test_json_dump(c));
    cr_assert_str_eq(gh_test_ev_op(u), "u", "%s", gh_test_json_dump(u));
    const json_t *ca = json_object_get(gh_test_ev_value(c), "after");
    const json_t *ua = json_object_get(gh_test_ev_value(u), "after");
    const char *full = json_string_value(json_object_get(ca, "remark"));
    cr_assert_not_null(full, "c event without remark");
    cr_assert_eq(strlen(full), 20480, "c event's remark has %zu characters",
                 strlen(full));
    cr_assert_str_eq(full, bz, "c event's remark differs from the row");
    cr_assert_str_eq(json_string_value(json_object_get(ca, "phone")), "111");

    const json_t *rem = json_object_get(ua, "remark");
    cr_assert(json_is_string(rem) &&
                  !strcmp(json_string_value(rem), "__unchanged__"),
              "u event's remark must be \"__unchanged__\" (TOAST value not "
              "sent), got %s",
              gh_test_json_dump(rem));
    cr_assert_str_eq(json_string_value(json_object_get(ua, "phone")), "222");
    /* The other fields are complete. */
    json_t *want = expected_rows(s->dept);
    json_t *w = json_deep_copy(json_object_get(want, "T1"));
    json_object_set_new(w, "remark", json_string("__unchanged__"));
    assert_row(ua, w, "u event", "T1");
    json_decref(w);
    json_decref(want);
    free(bz);
    json_decref(lines);
}

/* ---- 4. mapping errors go to the dead-letter topic ----------------------- */

typedef struct topic_arg {
    const char *bootstrap, *topic;
    long min;
} topic_arg_t;

static int topic_has(void *arg) {
    topic_arg_t *a = arg;
    return gh_test_topics_size(a->bootstrap, a->topic) >= a->min;
}

/* Checks one dead letter of the connector for row `key` with sex code
 * `code`, read from the snapshot (`phase` "snapshot") or the stream. */
static void assert_dead_letter(const json_t *dl, const char *key,
                               const char *code, const char *phase) {
    const json_t *m = NULL;
    size_t i;
    json_t *l;
    json_array_foreach(dl, i, l) {
        if (gh_test_ev_key(l) && !strcmp(gh_test_ev_key(l), key)) {
            cr_assert_null(m, "two dead letters for %s: %s", key,
                           gh_test_json_dump(dl));
            m = l;
        }
    }
    cr_assert_not_null(m, "no dead letter with key %s (%s): %s", key, phase,
                       gh_test_json_dump(dl));
    const json_t *h = json_object_get(m, "headers");
    const char *reason =
        json_string_value(json_object_get(h, "gh.error.reason"));
    cr_assert_not_null(reason, "no gh.error.reason header: %s",
                       gh_test_json_dump(m));
    char quoted[16];
    snprintf(quoted, sizeof quoted, "\"%s\"", code);
    /* Reasons go to logs and headers: they name where, never the value
     * (which may be an ID number); the body below carries the row. */
    cr_assert(strstr(reason, "xb") && strstr(reason, "sex") &&
                  !strstr(reason, quoted),
              "reason should name column xb and field sex but not quote the "
              "value %s: %s",
              quoted, reason);
    const char *comp =
        json_string_value(json_object_get(h, "gh.error.component"));
    cr_assert(comp && strstr(comp, "connector"), "gh.error.component: %s",
              comp ? comp : "(none)");

    json_error_t je;
    const char *text = json_string_value(json_object_get(m, "value"));
    cr_assert_not_null(text, "dead letter without value: %s",
                       gh_test_json_dump(m));
    json_t *doc = json_loads(text, 0, &je);
    cr_assert_not_null(doc, "dead letter value is not JSON (%s): %s", je.text,
                       text);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "department")),
                     "test", "%s", text);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "schema")),
                     "public", "%s", text);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "table")),
                     "zz_syrk", "%s", text);
    cr_assert_not_null(json_string_value(json_object_get(doc, "reason")), "%s",
                       text);
    /* The raw row, by column name, so that a steward can read and replay
     * it. */
    const json_t *row = json_object_get(doc, "row");
    cr_assert_str_eq(json_string_value(json_object_get(row, "rkbh")), key,
                     "%s dead letter: row must carry the key under its column "
                     "name rkbh (and every column by name): %s",
                     phase, text);
    cr_assert_str_eq(json_string_value(json_object_get(row, "xb")), code, "%s",
                     text);
    json_decref(doc);
}

Test(connector, mapping_error_dead_letter) {
    gh_test_stack_t *s = new_stack();
    /* One bad and one good row read by the snapshot... */
    gh_test_exec(s->dept, "INSERT INTO zz_syrk (rkbh, xm, xb, lxdh) "
                          "VALUES ('BAD0', 'Bad Snap', '5', '010'), "
                          "('GOOD0', 'Good Snap', '1', '020')");
    start_connector(s, NULL);
    wait_streaming(s);
    /* ...and one bad and one good row streamed. */
    gh_test_exec(s->dept, "INSERT INTO zz_syrk (rkbh, xm, xb, lxdh) "
                          "VALUES ('BAD1', 'Bad Code', '7', '100')");
    uint64_t mark = exec_marked(s->dept, NULL,
                                "INSERT INTO zz_syrk (rkbh, xm, xb, lxdh) "
                                "VALUES ('GOOD1', 'Good', '2', '200')");
    wait_confirmed_past(s, mark);
    topic_arg_t ta = {s->bootstrap, DLQ_TOPIC, 2};
    cr_assert(gh_test_wait_until(topic_has, &ta, 20000),
              "fewer than 2 dead letters on " DLQ_TOPIC " within 20 s");

    /* The connector goes on: the good rows arrive, the bad ones do not. */
    json_t *lines = tail_all(s, PERSON_TOPIC);
    cr_assert_eq(json_array_size(lines), 2, "person events: %s",
                 gh_test_json_dump(lines));
    json_t *fold = gh_test_fold(lines);
    cr_assert_eq(json_object_size(fold), 2, "%s", gh_test_json_dump(fold));
    const json_t *g0 = json_object_get(fold, "GOOD0");
    const json_t *g1 = json_object_get(fold, "GOOD1");
    cr_assert(g0 && g1, "good rows missing: %s", gh_test_json_dump(fold));
    cr_assert_str_eq(json_string_value(json_object_get(g0, "op")), "r");
    cr_assert_str_eq(json_string_value(json_object_get(g1, "op")), "c");
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(g1, "after"), "sex")),
        "FEMALE");
    json_decref(fold);
    json_decref(lines);
    cr_assert(gh_test_proc_alive(s->connector),
              "connector exited after a dead letter; log:\n%s",
              connector_log_tail(s));

    json_t *dl = raw_read(s->bootstrap, DLQ_TOPIC);
    cr_assert_eq(json_array_size(dl), 2, "dead letters: %s",
                 gh_test_json_dump(dl));
    assert_dead_letter(dl, "BAD0", "5", "snapshot");
    assert_dead_letter(dl, "BAD1", "7", "streamed");
    json_decref(dl);
}

/* ---- 5. kill -9 while a writer runs ---------------------------------------
 */

static uint64_t rng_next(uint64_t *x) {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

#define KS_KEYS 500
#define KS_TXNS 3000
#define KS_KILLS 3
#define KS_INITIAL 200

static void ks_exec(PGconn *c, const char *sql, const char *a, const char *b,
                    const char *k) {
    const char *params[3] = {a, b, k};
    int n = a ? 3 : 1;
    const char *const *pp = a ? params : params + 2;
    PGresult *r = PQexecParams(c, sql, n, NULL, pp, NULL, NULL, 0);
    cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s: %s", sql,
                 PQresultErrorMessage(r));
    cr_assert_str_eq(PQcmdTuples(r), "1", "%s (%s) changed %s rows", sql, k,
                     PQcmdTuples(r));
    PQclear(r);
}

static void remember(json_t *written, const char *key, const char *phone) {
    char *pair = gh_xasprintf("%s|%s", key, phone);
    json_object_set_new(written, pair, json_true());
    free(pair);
}

Test(connector, kill9_connector_midstream, .timeout = 200) {
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    const char *env = getenv("GH_TEST_SEED");
    if (env && *env) seed = strtoull(env, NULL, 10);
    if (!seed) seed = 1;
    cr_log_info("kill9_connector_midstream: GH_TEST_SEED=%" PRIu64, seed);
    uint64_t rng = seed;

    /* Events wait up to 200 ms in the producer before they are sent: a
     * kill then always finds some produced but unacknowledged, which the
     * connector must not have confirmed to PostgreSQL. */
    const char *slow[] = {"kafka.linger.ms=200", NULL};
    gh_test_stack_t *s = new_stack();
    json_t *written = json_object(); /* "key|phone" every value committed */
    int present[KS_KEYS] = {0}, deletes[KS_KEYS] = {0};
    gh_test_exec(s->dept,
                 "INSERT INTO zz_syrk (rkbh, xm, xb, lxdh) "
                 "SELECT 'W' || lpad(i::text, 4, '0'), 'init ' || i, '1', "
                 "'init-' || i FROM generate_series(0, %d) i",
                 KS_INITIAL - 1);
    for (int i = 0; i < KS_INITIAL; i++) {
        char k[16], p[32];
        snprintf(k, sizeof k, "W%04d", i);
        snprintf(p, sizeof p, "init-%d", i);
        remember(written, k, p);
        present[i] = 1;
    }
    start_connector(s, slow);
    wait_streaming(s);

    /* Kill points spread over the run, at least 400 transactions apart.
     * The writer is much faster than the connector, so a kill at a bare
     * transaction count could land before the connector confirmed anything
     * of its run. Instead, 1..100 transactions before each kill the writer
     * notes the WAL position, and the kill waits until the connector has
     * confirmed that far: it then dies with the last transactions read,
     * produced or in flight. */
    int kill_at[KS_KILLS], mark_at[KS_KILLS];
    for (int i = 0; i < KS_KILLS; i++) {
        kill_at[i] = 200 + i * 900 + (int)(rng_next(&rng) % 500);
        mark_at[i] = kill_at[i] - 1 - (int)(rng_next(&rng) % 100);
    }
    int next_kill = 0, restart_at = -1;
    uint64_t mark_lsn = 0;

    PGconn *w = gh_test_pg_connect(s->dept_db);
    gh_test_exec(w, "SET synchronous_commit = off");
    for (int t = 0; t < KS_TXNS; t++) {
        if (next_kill < KS_KILLS && t == kill_at[next_kill]) {
            cr_assert(gh_test_proc_alive(s->connector),
                      "connector died by itself before kill %d; log:\n%s",
                      next_kill + 1, connector_log_tail(s));
            wait_confirmed_past(s, mark_lsn - 1);
            gh_test_kill9(s->connector);
            /* Down for a while (the writer goes on), or back at once. */
            restart_at = t + (int)(rng_next(&rng) % 150);
            cr_log_info("kill -9 #%d at transaction %d (confirmed up to "
                        "transaction %d or later), restart at %d",
                        next_kill + 1, t, mark_at[next_kill], restart_at);
            next_kill++;
        }
        if (t == restart_at) {
            start_connector(s, slow);
            wait_streaming(s);
            restart_at = -1;
        }
        int ki = (int)(rng_next(&rng) % KS_KEYS);
        char k[16], name[32], phone[32];
        snprintf(k, sizeof k, "W%04d", ki);
        snprintf(name, sizeof name, "name %d", t);
        snprintf(phone, sizeof phone, "p%d", t);
        if (!present[ki]) {
            ks_exec(w,
                    "INSERT INTO zz_syrk (rkbh, xm, xb, lxdh) "
                    "VALUES ($3, $1, '2', $2)",
                    name, phone, k);
            remember(written, k, phone);
            present[ki] = 1;
        } else if (rng_next(&rng) % 10 < 7) {
            ks_exec(w,
                    "UPDATE zz_syrk SET xm = $1, lxdh = $2, gxsj = now() "
                    "WHERE rkbh = $3",
                    name, phone, k);
            remember(written, k, phone);
        } else {
            ks_exec(w, "DELETE FROM zz_syrk WHERE rkbh = $1", NULL, NULL, k);
            present[ki] = 0;
            deletes[ki]++;
        }
        if (next_kill < KS_KILLS && t == mark_at[next_kill]) {
            char *l = gh_test_scalar(w, "SELECT pg_current_wal_lsn()");
            mark_lsn = lsn_parse(l);
            free(l);
        }
    }
    if (restart_at >= 0 || !gh_test_proc_alive(s->connector)) {
        start_connector(s, slow);
        wait_streaming(s);
    }
    PQfinish(w);
    cr_assert_eq(s->connector_runs, KS_KILLS + 1);
    uint64_t mark = exec_marked(s->dept, NULL,
                                "INSERT INTO zz_syrk (rkbh, xm, xb, lxdh) "
                                "VALUES ('WEND', 'end', '1', 'p-end')");
    remember(written, "WEND", "p-end");
    wait_confirmed_past(s, mark);

    /* A kill -9 after the snapshot never causes a second one. */
    for (int run = 2; run <= s->connector_runs; run++) {
        char log[4096];
        snprintf(log, sizeof log, "%s/connector.%d.log", s->dir, run);
        char *again = gh_test_wait_for_text(log, "created slot", 0);
        cr_assert_null(again, "run %d created the slot again: %s", run, again);
    }

    json_t *lines = tail_all(s, PERSON_TOPIC);
    cr_log_info("kill9_connector_midstream: %zu messages",
                json_array_size(lines));
    size_t i, snapshot_rows = 0;
    json_t *l;
    json_t *published = json_object();  /* "key|phone" seen in c/u/r */
    json_t *deleted_at = json_object(); /* "key@lsn" of d events */
    json_array_foreach(lines, i, l) {
        if (gh_test_ev_is_tombstone(l)) continue;
        const char *op = gh_test_ev_op(l);
        if (!strcmp(op, "r")) snapshot_rows++;
        if (strcmp(op, "d") == 0) {
            char *at =
                gh_xasprintf("%s@%" JSON_INTEGER_FORMAT, gh_test_ev_key(l),
                             gh_test_ev_source_int(l, "lsn"));
            json_object_set_new(deleted_at, at, json_true());
            free(at);
            continue;
        }
        const json_t *a = json_object_get(gh_test_ev_value(l), "after");
        const char *phone = json_string_value(json_object_get(a, "phone"));
        char *pair =
            gh_xasprintf("%s|%s", gh_test_ev_key(l), phone ? phone : "");
        cr_assert_not_null(json_object_get(written, pair),
                           "event with a value never committed (%s): %s "
                           "(GH_TEST_SEED=%" PRIu64 ")",
                           pair, gh_test_json_dump(l), seed);
        json_object_set_new(published, pair, json_true());
        free(pair);
    }
    /* At least once: every committed insert/update and every delete has
     * its event, even when later writes hide the loss from the fold. */
    const char *pk;
    json_t *pv;
    json_object_foreach(written, pk, pv) {
        cr_assert_not_null(json_object_get(published, pk),
                           "committed write %s was never published "
                           "(lost across a kill -9?) (GH_TEST_SEED=%" PRIu64
                           ")",
                           pk, seed);
    }
    for (int ki = 0; ki < KS_KEYS; ki++) {
        char prefix[16];
        int n = 0;
        snprintf(prefix, sizeof prefix, "W%04d@", ki);
        json_object_foreach(deleted_at, pk, pv) n +=
            strncmp(pk, prefix, strlen(prefix)) == 0;
        cr_assert_eq(n, deletes[ki],
                     "W%04d: %d delete(s) committed, %d published "
                     "(GH_TEST_SEED=%" PRIu64 ")",
                     ki, deletes[ki], n, seed);
    }
    json_decref(published);
    json_decref(deleted_at);
    cr_assert_eq(snapshot_rows, KS_INITIAL,
                 "r events: %zu (a second snapshot?)", snapshot_rows);
    /* Replays after a kill are at-least-once: a repeated (key, lsn, seq)
     * must be the same event again. */
    json_t *by_pos = json_object();
    size_t replays = 0;
    json_array_foreach(lines, i, l) {
        if (gh_test_ev_is_tombstone(l)) continue;
        char *pos =
            gh_xasprintf("%s@%" JSON_INTEGER_FORMAT ".%" JSON_INTEGER_FORMAT,
                         gh_test_ev_key(l), gh_test_ev_source_int(l, "lsn"),
                         gh_test_ev_source_int(l, "seq"));
        json_t *v = json_deep_copy(gh_test_ev_value(l));
        json_object_del(v, "ts");
        const json_t *prev = json_object_get(by_pos, pos);
        if (prev) {
            replays++;
            if (!json_equal((json_t *)prev, v)) {
                char *a = gh_test_json_dump(prev), *b = gh_test_json_dump(v);
                cr_assert_fail("two different events at %s:\n  %s\n  %s "
                               "(GH_TEST_SEED=%" PRIu64 ")",
                               pos, a, b, seed);
            }
            json_decref(v);
        } else {
            json_object_set_new(by_pos, pos, v);
        }
        free(pos);
    }
    cr_log_info("kill9_connector_midstream: %zu replayed events", replays);
    json_decref(by_pos);
    assert_tombstones_follow_deletes(lines);
    assert_fold_equals_table(s, lines);
    json_decref(lines);
    json_decref(written);
}

/* ---- 6. heartbeats move an idle slot --------------------------------------
 */

typedef struct slot_arg {
    PGconn *c;
    uint64_t target;
} slot_arg_t;

static int slot_reached(void *arg) {
    slot_arg_t *a = arg;
    return slot_confirmed(a->c) >= a->target;
}

typedef struct hb_arg {
    const char *bootstrap;
    uint64_t after;
    char *found; /* OUT: the heartbeat's value */
} hb_arg_t;

static int heartbeat_after(void *arg) {
    hb_arg_t *a = arg;
    json_t *msgs = raw_read(a->bootstrap, HEARTBEAT_TOPIC);
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        const char *v = json_string_value(json_object_get(m, "value"));
        json_t *doc = v ? json_loads(v, 0, NULL) : NULL;
        const char *lsn = json_string_value(json_object_get(doc, "lsn"));
        if (lsn && lsn_parse(lsn) > a->after && !a->found) {
            char *k = gh_test_json_dump(json_object_get(m, "key"));
            a->found = gh_xasprintf("key %s value %s", k, v);
            free(k);
            cr_assert_str_eq(gh_test_ev_key(m), "test", "heartbeat key: %s",
                             a->found);
            cr_assert_str_eq(
                json_string_value(json_object_get(doc, "connector")), "test");
            cr_assert_str_eq(
                json_string_value(json_object_get(doc, "department")), "test");
            cr_assert(json_is_integer(json_object_get(doc, "ts_us")), "%s", v);
        }
        json_decref(doc);
    }
    json_decref(msgs);
    return a->found != NULL;
}

Test(connector, heartbeat_advances_slot) {
    gh_test_stack_t *s = new_stack();
    start_connector(s, NULL);
    wait_streaming(s);

    PGconn *admin = gh_test_pg_connect("postgres");
    char *before_txt = gh_test_scalar(admin, "SELECT pg_current_wal_lsn()");
    uint64_t before = lsn_parse(before_txt);

    char *scratch = gh_test_create_db("ghscratch");
    PGconn *sc = gh_test_pg_connect(scratch);
    gh_test_exec(sc, "CREATE TABLE t (id int PRIMARY KEY, v text)");
    for (int i = 0; i < 20; i++)
        gh_test_exec(sc,
                     "INSERT INTO t SELECT g, md5(g::text) "
                     "FROM generate_series(%d, %d) g",
                     i * 100, i * 100 + 99);
    char *after_txt = gh_test_scalar(admin, "SELECT pg_current_wal_lsn()");
    uint64_t after = lsn_parse(after_txt);
    cr_assert_gt(after, before);

    slot_arg_t sa = {s->dept, after};
    if (!gh_test_wait_until(slot_reached, &sa, 20000)) {
        uint64_t now = slot_confirmed(s->dept);
        cr_assert_fail("idle department database: slot %s"
                       " confirmed_flush_lsn stayed at %X/%X, WAL of another "
                       "database went from %s to %s (heartbeats should "
                       "confirm it); connector log:\n%s",
                       slot, (unsigned)(now >> 32), (unsigned)now, before_txt,
                       after_txt, connector_log_tail(s));
    }
    hb_arg_t ha = {s->bootstrap, before, NULL};
    cr_assert(gh_test_wait_until(heartbeat_after, &ha, 10000),
              "no heartbeat on " HEARTBEAT_TOPIC " with an lsn past %s",
              before_txt);
    cr_log_info("heartbeat: %s", ha.found);
    /* (The topic holds the end markers of the empty table's snapshot.) */
    json_t *events = tail_all(s, PERSON_TOPIC);
    cr_assert_eq(json_array_size(events), 0,
                 "another database's writes produced person events: %s",
                 gh_test_json_dump(events));
    json_decref(events);
    cr_assert(gh_test_proc_alive(s->connector));

    free(ha.found);
    PQfinish(sc);
    gh_test_drop_db(scratch);
    free(scratch);
    free(before_txt);
    free(after_txt);
    PQfinish(admin);
}

/* ---- 7. unreachable PostgreSQL --------------------------------------------
 */

static int count_lines_with(const char *path, const char *needle) {
    char *all = gh_test_file_tail(path, 1 << 20);
    int n = 0;
    for (char *p = all; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    free(all);
    return n;
}

Test(connector, unreachable_postgres) {
    gh_test_stack_t *s = new_stack();
    const char *extra[] = {"database.conninfo=host=127.0.0.1 port=1 dbname=x",
                           NULL};
    start_connector(s, extra);
    const char *log = gh_test_stack_connector_log(s);
    char *line = gh_test_wait_for_text(log, "retrying", 10000);
    cr_assert_not_null(line, "no retry line within 10 s; log:\n%s",
                       connector_log_tail(s));
    free(line);
    /* The warning names what failed and why; libpq's message may continue
     * on the next line, so look at the whole entry. */
    char *all = gh_test_file_tail(log, 1 << 20);
    char *entry = strstr(all, "cannot connect");
    cr_assert_not_null(entry, "no \"cannot connect\" in the log:\n%s", all);
    char *end = strstr(entry, "retrying");
    cr_assert_not_null(end, "no \"retrying\" after \"cannot connect\":\n%s",
                       all);
    end[0] = '\0';
    cr_assert(strstr(entry, "port=1") && strstr(entry, "refused"),
              "retry warning does not say what failed and why: %s", entry);
    free(all);
    /* Still trying 3 s after start: it must neither exit nor give up. */
    int st = gh_test_proc_wait(s->connector, 3000);
    cr_assert_eq(st, -1,
                 "connector exited (status %d) instead of retrying; "
                 "log:\n%s",
                 st, connector_log_tail(s));
    cr_assert_geq(count_lines_with(log, "retrying"), 2,
                  "expected several attempts; log:\n%s", connector_log_tail(s));
    int64_t t0 = gh_now_ms();
    int rc = gh_test_stop(s->connector, 10000);
    int64_t took = gh_now_ms() - t0;
    cr_assert_eq(rc, 0, "SIGTERM while retrying: exit status %d; log:\n%s", rc,
                 connector_log_tail(s));
    cr_assert_lt(took, 10000, "took %lld ms to stop", (long long)took);
}

/* ---- 8. a clean restart resumes without a new snapshot --------------------
 */

typedef struct size_arg {
    const char *bootstrap;
    long want;
} size_arg_t;

static int person_size_at_least(void *arg) {
    size_arg_t *a = arg;
    return gh_test_topics_size(a->bootstrap, PERSON_TOPIC) >= a->want;
}

Test(connector, restart_resumes_without_resnapshot) {
    gh_test_stack_t *s = new_stack();
    insert_rows(s->dept, "R", 1, 20);
    start_connector(s, NULL);
    uint64_t cp = wait_streaming(s);
    cr_assert_neq(cp, 0);
    /* Streamed rows that are in Kafka but maybe not yet confirmed when the
     * stop comes: the stop must confirm them. */
    for (int i = 21; i <= 23; i++)
        insert_rows(s->dept, "R", i, i);
    size_arg_t sz = {s->bootstrap, 23};
    cr_assert(gh_test_wait_until(person_size_at_least, &sz, 20000),
              "streamed rows did not reach Kafka");
    int rc = gh_test_stop(s->connector, 15000);
    cr_assert_eq(rc, 0, "SIGTERM: exit status %d; log:\n%s", rc,
                 connector_log_tail(s));

    char sql[2048];
    for (int i = 1; i <= 4; i++)
        insert_rows(s->dept, "N", i, i);
    uint64_t mark =
        exec_marked(s->dept, NULL, rows_sql(sql, sizeof sql, "N", 5, 5));
    start_connector(s, NULL);
    uint64_t cp2 = wait_streaming(s);
    cr_assert_eq(cp2, 0, "the restart created the slot again");
    char *snap =
        gh_test_wait_for_text(gh_test_stack_connector_log(s), "snapshot", 0);
    cr_assert_null(snap, "the restart took a snapshot: %s", snap);
    wait_confirmed_past(s, mark);

    json_t *lines = tail_all(s, PERSON_TOPIC);
    json_t *seen = json_object(); /* key -> op */
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l) {
        const char *k = gh_test_ev_key(l), *op = gh_test_ev_op(l);
        cr_assert(!gh_test_ev_is_tombstone(l), "unexpected tombstone: %s",
                  gh_test_json_dump(l));
        cr_assert_null(json_object_get(seen, k),
                       "key %s delivered twice (%s then %s); a clean stop "
                       "must not cause duplicates: %s",
                       k, json_string_value(json_object_get(seen, k)), op,
                       gh_test_json_dump(l));
        json_object_set_new(seen, k, json_string(op));
        int snap_row = k[0] == 'R' && atoi(k + 1) <= 20;
        cr_assert_str_eq(op, snap_row ? "r" : "c", "%s", gh_test_json_dump(l));
    }
    cr_assert_eq(json_array_size(lines), 28, "messages: %zu",
                 json_array_size(lines));
    assert_fold_equals_table(s, lines);
    json_decref(seen);
    json_decref(lines);
}
